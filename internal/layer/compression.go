// Package layer reads and writes image layers: tar streams of a root
// filesystem or of the changes to one, compressed or not.
package layer

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	gzip "github.com/klauspost/pgzip"
)

// Compression is how a stream is compressed.
type Compression string

// The compressions strata recognises by their magic numbers.
const (
	None  Compression = "none"
	Gzip  Compression = "gzip"
	Zstd  Compression = "zstd"
	Bzip2 Compression = "bzip2"
	Xz    Compression = "xz"
)

var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Bzip2, []byte{'B', 'Z', 'h'}},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
}

// Detect peeks at the start of r and says how it is compressed. The
// returned reader yields the stream from its first byte.
func Detect(r io.Reader) (Compression, io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return None, br, err
	}
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c, br, nil
		}
	}
	return None, br, nil
}

// Decompress detects r's compression and returns the decompressed stream.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	c, br, err := Detect(r)
	if err != nil {
		return nil, c, err
	}
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("gzip: %w", err)
		}
		return zr, c, nil
	case Zstd:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), c, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	case Xz:
		return nil, c, errors.New("xz-compressed archives are not supported: decompress with xz -d first")
	}
	return io.NopCloser(br), c, nil
}
