package layer

import (
	"archive/tar"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileWriter writes the contents and metadata of the regular files the
// extraction has created, in a goroutine of its own, so that the kernel's
// work of creating files (in the extracting goroutine) and of filling
// them (here) runs on two cores. It works on file descriptors only, so
// later entries that rename or replace paths cannot redirect it.
type fileWriter struct {
	jobs chan fileJob
	done sync.WaitGroup
	err  atomic.Pointer[error]
	size atomic.Int64
}

// fileJob is a piece of one file's content; the last piece of a file
// carries its header, and closes it.
type fileJob struct {
	fd   int
	data []byte // a block from the pool, or nil
	hdr  *tar.Header
	last bool
	// abort closes the file without finishing it (the extraction failed).
	abort bool
	meta  fileMeta
}

// fileMeta says which of a new file's owner and mode differ from what
// creating it gave it.
type fileMeta struct{ chown, chmod bool }

func newFileWriter() *fileWriter {
	w := &fileWriter{jobs: make(chan fileJob, 32)}
	w.done.Add(1)
	go w.run()
	return w
}

func (w *fileWriter) run() {
	defer w.done.Done()
	for j := range w.jobs {
		if w.err.Load() == nil && !j.abort {
			if err := w.do(j); err != nil {
				w.fail(&EntryError{Name: j.hdr.Name, Err: err})
			}
		}
		if j.last {
			unix.Close(j.fd)
		}
		putBlock(j.data)
	}
}

func (w *fileWriter) fail(err error) { w.err.CompareAndSwap(nil, &err) }

// Err is the first error the writer met, or nil.
func (w *fileWriter) Err() error {
	if p := w.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (w *fileWriter) do(j fileJob) error {
	for b := j.data; len(b) > 0; {
		n, err := unix.Write(j.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		b = b[n:]
		w.size.Add(int64(n))
	}
	if !j.last {
		return nil
	}
	if err := setFileMeta(j.fd, j.hdr, j.meta); err != nil {
		return err
	}
	return futimens(j.fd, j.hdr)
}

// send queues a job; it fails once the writer has failed.
func (w *fileWriter) send(j fileJob) error {
	if err := w.Err(); err != nil {
		if j.last {
			unix.Close(j.fd)
		}
		putBlock(j.data)
		return err
	}
	w.jobs <- j
	return nil
}

// Close waits for the queued jobs and returns the first error.
func (w *fileWriter) Close() error {
	close(w.jobs)
	w.done.Wait()
	return w.Err()
}

// setFileMeta sets an open file's owner and mode (where meta says they
// differ from the entry's) and extended attributes, in that order (a
// change of owner clears setuid bits and capabilities).
func setFileMeta(fd int, hdr *tar.Header, meta fileMeta) error {
	if meta.chown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
		}
	}
	mode := uint32(hdr.Mode & 0o7777)
	if meta.chmod || meta.chown && mode&0o6000 != 0 {
		if err := unix.Fchmod(fd, mode); err != nil {
			return fmt.Errorf("chmod %o: %w", mode, err)
		}
	}
	for key, value := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(key, paxXattr)
		if !ok || strings.HasPrefix(attr, overlayXattrPrefix) {
			continue
		}
		if err := unix.Fsetxattr(fd, attr, []byte(value), 0); err != nil && !ignorableXattrError(attr, err) {
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	return nil
}

// futimens sets an open file's access and modification times.
func futimens(fd int, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := [2]unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("set times: %w", errno)
	}
	return nil
}
