package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Disk is a Store in a directory, laid out as an OCI image layout's blobs:
// DIR/blobs/sha256/HEX, with writes in progress under DIR/ingest.
type Disk struct {
	root string
}

var _ Store = (*Disk)(nil)

// NewDisk opens (creating if needed) a blob store under dir.
func NewDisk(dir string) (*Disk, error) {
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "ingest")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open blob store: %w", err)
		}
	}
	return &Disk{root: dir}, nil
}

// Path is where blob d lives (whether or not it is there).
func (s *Disk) Path(d v1.Hash) string {
	return filepath.Join(s.root, "blobs", d.Algorithm, d.Hex)
}

// IngestDir holds blobs being written; files there are never referenced.
func (s *Disk) IngestDir() string { return filepath.Join(s.root, "ingest") }

func checkDigest(d v1.Hash) error {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 {
		return fmt.Errorf("invalid digest %q", d.String())
	}
	return nil
}

// Info implements Store.
func (s *Disk) Info(ctx context.Context, d v1.Hash) (Info, error) {
	if err := checkDigest(d); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return Info{}, err
	}
	return Info{Digest: d, Size: fi.Size()}, nil
}

// Open implements Store.
func (s *Disk) Open(ctx context.Context, d v1.Hash) (io.ReadCloser, error) {
	if err := checkDigest(d); err != nil {
		return nil, err
	}
	f, err := OpenFile(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return NewVerifier(f, d), nil
}

// Writer implements Store.
func (s *Disk) Writer(ctx context.Context) (Writer, error) {
	f, err := os.CreateTemp(s.IngestDir(), "blob-")
	if err != nil {
		return nil, fmt.Errorf("start blob: %w", err)
	}
	return &diskWriter{s: s, f: f, d: newDigester()}, nil
}

// Delete implements Store.
func (s *Disk) Delete(ctx context.Context, d v1.Hash) error {
	if err := checkDigest(d); err != nil {
		return err
	}
	if err := os.Remove(s.Path(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Walk implements Store.
func (s *Disk) Walk(ctx context.Context, fn func(Info) error) error {
	dir := filepath.Join(s.root, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if !e.Type().IsRegular() || checkDigest(d) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed while walking
		}
		if err := fn(Info{Digest: d, Size: fi.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// diskWriter hashes in the caller's goroutine while a second goroutine
// writes full buffers to the file, so hashing and disk I/O overlap.
type diskWriter struct {
	s    *Disk
	f    *os.File
	d    digester
	done bool

	buf     []byte        // the buffer being filled
	full    chan []byte   // buffers for the flusher to write
	free    chan []byte   // buffers the flusher has written
	flushed chan struct{} // closed when the flusher has stopped
	err     error         // the flusher's first error, read after flushed
}

const writeBuffer = 4 << 20

func (w *diskWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write to a closed blob")
	}
	w.d.add(p)
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = w.getBuffer(len(p))
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			if err := w.send(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// getBuffer returns an empty buffer: a recycled one, or a new one sized to
// the first write (small blobs stay small), then writeBuffer once the
// flusher runs.
func (w *diskWriter) getBuffer(first int) []byte {
	if w.free != nil {
		select {
		case b := <-w.free:
			return b[:0]
		default:
		}
		return make([]byte, 0, writeBuffer)
	}
	return make([]byte, 0, min(max(first, 64<<10), writeBuffer))
}

// send hands the current buffer to the flusher, starting it on first use.
func (w *diskWriter) send() error {
	if w.full == nil {
		w.full = make(chan []byte, 2)
		w.free = make(chan []byte, 3)
		w.flushed = make(chan struct{})
		go w.flush()
	}
	select {
	case <-w.flushed:
		return w.err
	case w.full <- w.buf:
	}
	w.buf = nil
	return nil
}

func (w *diskWriter) flush() {
	defer close(w.flushed)
	var written, started int64
	for b := range w.full {
		if _, err := w.f.Write(b); err != nil {
			w.err = err
			return
		}
		written += int64(len(b))
		if written-started >= writebackChunk {
			// Start writing back what is written so far, without waiting
			// for it: the kernel would otherwise hold a large blob in
			// dirty pages (up to 10% of memory) until Commit's fsync, and
			// write it all only then. A hint: errors change nothing.
			_ = unix.SyncFileRange(int(w.f.Fd()), started, written-started, unix.SYNC_FILE_RANGE_WRITE)
			started = written
		}
		select {
		case w.free <- b:
		default:
		}
	}
}

// writebackChunk is how much of a blob is written before the flusher asks
// the kernel to start writing it to the disk.
const writebackChunk = 16 << 20

// finish writes what is buffered and stops the flusher.
func (w *diskWriter) finish() error {
	if w.full != nil {
		close(w.full)
		<-w.flushed
		w.full = nil
		if w.err != nil {
			return w.err
		}
	}
	if len(w.buf) > 0 {
		if _, err := w.f.Write(w.buf); err != nil {
			return err
		}
	}
	w.buf = nil
	return nil
}

func (w *diskWriter) Digest() v1.Hash { return w.d.digest() }
func (w *diskWriter) Size() int64     { return w.d.size }

// Commit fsyncs the temporary file and renames it into place, then fsyncs
// the directory so the name survives a crash too.
func (w *diskWriter) Commit(ctx context.Context, expected v1.Hash) (Info, error) {
	if w.done {
		return Info{}, errors.New("blob already committed")
	}
	got := w.d.digest()
	if expected != (v1.Hash{}) && expected != got {
		w.Close()
		return Info{}, &MismatchError{Expected: expected, Got: got}
	}
	if err := w.finish(); err != nil {
		w.Close()
		return Info{}, fmt.Errorf("commit blob %s: %w", got, err)
	}
	if err := w.f.Sync(); err != nil {
		w.Close()
		return Info{}, fmt.Errorf("commit blob %s: %w", got, err)
	}
	w.done = true
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return Info{}, fmt.Errorf("commit blob %s: %w", got, err)
	}
	dst := w.s.Path(got)
	if err := os.Rename(w.f.Name(), dst); err != nil {
		os.Remove(w.f.Name())
		return Info{}, fmt.Errorf("commit blob %s: %w", got, err)
	}
	if err := SyncDir(filepath.Dir(dst)); err != nil {
		return Info{}, fmt.Errorf("commit blob %s: %w", got, err)
	}
	return Info{Digest: got, Size: w.d.size}, nil
}

func (w *diskWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.full != nil {
		close(w.full)
		<-w.flushed
	}
	w.f.Close()
	return os.Remove(w.f.Name())
}

// SyncDir fsyncs a directory so renames into it are durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// WriteFileAtomic writes data to path by way of a temporary file in the same
// directory, fsynced and renamed, so readers see the old or the new file
// and never a torn one, and the new one survives a crash.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, true)
}

// ReplaceFile is WriteFileAtomic without the fsyncs: readers still never
// see a torn file, but after a crash the file may be old, empty or
// missing. For data that is only a hint, like the build cache's records,
// whose readers treat anything unreadable as absent.
func ReplaceFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, false)
}

func writeFile(path string, data []byte, perm fs.FileMode, durable bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if !durable {
		return nil
	}
	return SyncDir(filepath.Dir(path))
}
