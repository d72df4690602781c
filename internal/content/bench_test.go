package content_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/content"
)

// BenchmarkDiskPut measures storing a 64 MiB blob: hash, write, fsync,
// rename. Compare with the disk's own write speed (dd conv=fsync).
func BenchmarkDiskPut(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.Read(data)
	s, err := content.NewDisk(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		data[0] = byte(i) // a new blob each time
		if _, err := content.Put(context.Background(), s, bytes.NewReader(data), v1.Hash{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiskOpen measures reading a 64 MiB blob back, verified.
func BenchmarkDiskOpen(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.Read(data)
	s, err := content.NewDisk(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	info, err := content.PutBytes(context.Background(), s, data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		rc, err := s.Open(context.Background(), info.Digest)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, rc, make([]byte, 1<<20)); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}
