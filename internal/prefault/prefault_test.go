package prefault

import (
	"os"
	"path/filepath"
	"testing"
)

const sampleMaps = `00400000-00b1c000 r-xp 00000000 fe:00 1234                               /usr/local/bin/strata
00b1c000-012e2000 r--p 0071c000 fe:00 1234                               /usr/local/bin/strata
012e2000-0134f000 rw-p 00ee2000 fe:00 1234                               /usr/local/bin/strata
0134f000-0339b000 rw-p 00000000 00:00 0
1b2e00000000-1b2e00400000 rw-p 00000000 00:00 0
7ffd1c6f2000-7ffd1c713000 rw-p 00000000 00:00 0                          [stack]
garbage line
`

func TestForEachMapping(t *testing.T) {
	type mapping struct {
		start, end  uintptr
		perms, path string
	}
	var got []mapping
	forEachMapping([]byte(sampleMaps), func(start, end uintptr, perms, path []byte) {
		got = append(got, mapping{start, end, string(perms), string(path)})
	})
	want := []mapping{
		{0x400000, 0xb1c000, "r-xp", "/usr/local/bin/strata"},
		{0xb1c000, 0x12e2000, "r--p", "/usr/local/bin/strata"},
		{0x12e2000, 0x134f000, "rw-p", "/usr/local/bin/strata"},
		{0x134f000, 0x339b000, "rw-p", ""},
		{0x1b2e00000000, 0x1b2e00400000, "rw-p", ""},
		{0x7ffd1c6f2000, 0x7ffd1c713000, "rw-p", "[stack]"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d mappings, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if exe := string(executable([]byte(sampleMaps))); exe != "/usr/local/bin/strata" {
		t.Errorf("executable = %q", exe)
	}
}

func TestParseHex(t *testing.T) {
	for in, want := range map[string]uintptr{"0": 0, "ff": 255, "7ffd1c6f2000": 0x7ffd1c6f2000} {
		if got, ok := parseHex([]byte(in)); !ok || got != want {
			t.Errorf("parseHex(%q) = %x, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "xyz", "FF", "12345678901234567"} {
		if _, ok := parseHex([]byte(bad)); ok {
			t.Errorf("parseHex(%q) accepted", bad)
		}
	}
}

func TestHeapWindow(t *testing.T) {
	const mb = 1 << 20
	start, end := uintptr(0x10000000), uintptr(0x10000000+64*mb)
	// From the probe's page up, 2 MiB.
	probe := start + 30*mb + 12345
	if lo, hi := heapWindow(start, end, probe); lo != probe&^4095 || hi != lo+2*mb {
		t.Errorf("window %x-%x for probe %x", lo, hi, probe)
	}
	// Never past the mapping's end.
	if lo, hi := heapWindow(start, end, end-100); lo != end-4096 || hi != end {
		t.Errorf("window at the end %x-%x leaves the mapping %x-%x", lo, hi, start, end)
	}
}

// The test binary imports this package too: its own maps name it, and its
// code mapping was found.
func TestThisProcess(t *testing.T) {
	maps, err := readMaps()
	if err != nil {
		t.Skip("no /proc/self/maps:", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := string(executable(maps))
	if a, b := resolve(exe), resolve(self); a != b {
		t.Errorf("executable from maps = %q, os.Executable = %q", a, b)
	}
	if heapProbe == nil {
		t.Error("init did not run")
	}
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
