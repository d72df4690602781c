// Package prefault maps strata's code and its young heap into the process
// in two system calls when the process starts, instead of one page fault at
// a time as the code runs.
//
// On the virtual machines strata is made for (Firecracker guests, whose
// page tables are shadowed by the host), a page fault costs tens of
// microseconds: a third of the time `strata version` takes went to the few
// hundred faults of touching the binary's code and the first megabytes of
// heap. madvise(MADV_POPULATE_READ/WRITE) (Linux 5.14) maps the same pages
// in one call each. Importing this package for its side effect is all there
// is to it; on older kernels the calls fail and nothing changes.
//
// Only the code segment is mapped, not the read-only data: the code is what
// every command runs through, and mapping it all costs a serving process
// only a few megabytes of resident memory shared with the page cache.
package prefault

import (
	"bytes"
	"syscall"
	"unsafe"
)

// Linux madvise advice values (golang.org/x/sys has them, but this package
// must initialize before almost everything else, so it imports only syscall).
const (
	madvPopulateRead  = 22
	madvPopulateWrite = 23
)

// heapProbe is a heap object whose address says which mapping is the heap.
var heapProbe *[16]byte

func init() {
	if v, _ := syscall.Getenv("STRATA_PREFAULT"); v == "0" {
		return
	}
	maps, err := readMaps()
	if err != nil {
		return
	}
	heapProbe = new([16]byte)
	heap := uintptr(unsafe.Pointer(heapProbe))
	exe := executable(maps)
	forEachMapping(maps, func(start, end uintptr, perms, path []byte) {
		switch {
		case start <= heap && heap < end && len(path) == 0:
			start, end = heapWindow(start, end, heap)
			madvise(start, end-start, madvPopulateWrite)
		case exe != nil && bytes.Equal(path, exe) && len(perms) > 2 && perms[2] == 'x':
			madvise(start, end-start, madvPopulateRead)
		}
	})
}

// heapWindow is the part of the heap mapping [start, end) to populate:
// the 2 MiB from the page of probe, a fresh object, up. The Go heap grows
// from low addresses to high, and a page mapped and never used costs
// about as much as a fault saved (on these guests every page table write
// goes through the host): 2 MiB measured faster than 1 or 4 for a no-op
// `strata build`.
func heapWindow(start, end, probe uintptr) (uintptr, uintptr) {
	const window = 2 << 20
	lo := max(probe&^(4<<10-1), start)
	return lo, min(lo+window, end)
}

// readMaps returns /proc/self/maps.
func readMaps() ([]byte, error) {
	fd, err := syscall.Open("/proc/self/maps", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	buf := make([]byte, 0, 16<<10)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// executable is the path of the first file mapping: the binary itself,
// which the kernel maps before anything else.
func executable(maps []byte) []byte {
	var exe []byte
	forEachMapping(maps, func(_, _ uintptr, _, path []byte) {
		if exe == nil && len(path) > 0 && path[0] == '/' {
			exe = path
		}
	})
	return exe
}

// forEachMapping calls fn with each line of maps: "start-end perms offset
// dev inode path".
func forEachMapping(maps []byte, fn func(start, end uintptr, perms, path []byte)) {
	for len(maps) > 0 {
		line := maps
		if i := bytes.IndexByte(maps, '\n'); i >= 0 {
			line, maps = maps[:i], maps[i+1:]
		} else {
			maps = nil
		}
		f := bytes.Fields(line)
		if len(f) < 5 {
			continue
		}
		dash := bytes.IndexByte(f[0], '-')
		if dash < 0 {
			continue
		}
		start, ok1 := parseHex(f[0][:dash])
		end, ok2 := parseHex(f[0][dash+1:])
		if !ok1 || !ok2 || end <= start {
			continue
		}
		var path []byte
		if len(f) > 5 {
			path = f[5]
		}
		fn(start, end, f[1], path)
	}
}

func parseHex(b []byte) (uintptr, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uintptr
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uintptr(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uintptr(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func madvise(start, length uintptr, advice int) {
	syscall.Syscall(syscall.SYS_MADVISE, start, length, uintptr(advice))
}
