package runtime

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// fileWatch reports when a file appears in a directory (created or renamed
// into it), without polling: runc writes the pid file once the container's
// process runs.
type fileWatch struct {
	f *os.File
	C chan struct{}
}

func watchFile(dir, name string) (*fileWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify %s: %w", dir, err)
	}
	w := &fileWatch{f: os.NewFile(uintptr(fd), "inotify"), C: make(chan struct{})}
	go w.read(name)
	return w, nil
}

func (w *fileWatch) read(name string) {
	buf := make([]byte, 4096)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafePointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			if strings.TrimRight(string(nameBytes), "\x00") == name {
				close(w.C)
				return
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

func (w *fileWatch) close() { w.f.Close() }
