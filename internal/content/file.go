package content

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// OpenFile opens a regular file for reading, as os.Open does but without
// its attempt to register the file with the network poller: for a regular
// file that attempt is four fcntl calls and an epoll_ctl that fails. A
// no-op build opens some thirty store files (index, manifests, configs,
// cache records), a COPY every file of its context (buildctx), and on a
// virtual machine every system call costs microseconds.
func OpenFile(name string) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		switch err {
		case nil:
			return os.NewFile(uintptr(fd), name), nil
		case syscall.EINTR:
			continue
		default:
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
}

// ReadFile reads a whole file, as os.ReadFile does, through OpenFile.
func ReadFile(name string) ([]byte, error) {
	f, err := OpenFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := 512
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size() < 1<<30 {
		size = int(fi.Size()) + 1 // +1 to see EOF without growing
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
