package unpickle

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/nlpodyssey/gopickle/types"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Limits on how far a compressed joblib file may expand: 1000 times its
// size, but at least 64 MiB and at most 2 GiB. LZMA turns a few dozen bytes
// into gigabytes; no model compresses that well.
const (
	maxRatio        = 1000
	minDecompressed = 64 << 20
	maxDecompressed = 2 << 30
	// maxDict bounds the dictionary an LZMA-alone header may ask for: it is
	// allocated before any data is read. 64 MiB is what xz -9 uses.
	maxDict = 64 << 20
)

// decompress undoes joblib's compress= option, recognised by the prefixes
// joblib itself checks (joblib/compressor.py). Anything else is returned
// unchanged.
func decompress(data []byte) ([]byte, error) {
	var (
		r    io.Reader
		err  error
		kind string
	)
	switch {
	case bytes.HasPrefix(data, []byte{0x78}):
		kind = "zlib"
		r, err = zlib.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		kind = "gzip"
		r, err = gzip.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("BZ")):
		kind = "bz2"
		r = bzip2.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z'}):
		kind = "xz"
		// ulikunitz/xz accepts a stream cut off right after a block; a
		// complete stream ends with the footer magic (then zero padding).
		if !bytes.HasSuffix(bytes.TrimRight(data, "\x00"), []byte("YZ")) {
			return nil, errors.New("joblib xz stream: truncated (no stream footer)")
		}
		// The xz library takes DictCap as a minimum, not a limit, and
		// allocates the dictionary the block header states; check it.
		if d, ok := xzDict(data); !ok || d > maxDict {
			return nil, fmt.Errorf("joblib xz stream: first block asks for a %d-byte dictionary (at most %d)", d, maxDict)
		}
		r, err = xz.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0x5d, 0x00}):
		kind = "lzma"
		r, err = lzma.ReaderConfig{DictCap: maxDict}.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0x04, 0x22, 0x4d, 0x18}):
		return nil, errors.New("joblib lz4 compression is not supported; re-save with compress=('zlib', 3)")
	case bytes.HasPrefix(data, []byte("ZF")):
		return nil, errors.New("joblib files from before version 0.10 are not supported")
	default:
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("joblib %s stream: %w", kind, err)
	}
	limit := int64(min(max(maxRatio*int64(len(data)), minDecompressed), maxDecompressed))
	// A pickle starts with PROTO 2-5; stop at once on anything else.
	var head [2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("joblib %s stream: %w", kind, err)
	}
	if head[0] != 0x80 || head[1] < 2 || head[1] > 5 {
		return nil, fmt.Errorf("joblib %s stream does not hold a pickle (starts %#x %#x)", kind, head[0], head[1])
	}
	out, err := io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(head[:]), r), limit+1))
	if err != nil {
		return nil, fmt.Errorf("joblib %s stream: %w", kind, err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("joblib %s stream expands beyond %d bytes (%d times its size)", kind, limit, limit/int64(len(data)))
	}
	return out, nil
}

// wrapperClass is joblib.numpy_pickle.NumpyArrayWrapper. joblib pickles the
// wrapper's attributes and writes the array's bytes right after the BUILD
// opcode that sets them; the wrapper is rebuilt as an *Array that reads those
// bytes when BUILD gives it its state.
type wrapperClass struct{ d *decoder }

// PyNew implements gopickle's types.PyNewable.
func (w *wrapperClass) PyNew(args ...any) (any, error) {
	return &Array{joblib: w.d}, nil
}

// setJoblibState reads the array a NumpyArrayWrapper stands for.
func (a *Array) setJoblibState(state any) error {
	d := a.joblib
	a.joblib = nil
	if a.Dtype != nil {
		return errors.New("joblib array state set twice")
	}
	st, ok := state.(*types.Dict)
	if !ok {
		return fmt.Errorf("joblib NumpyArrayWrapper state %s is not a dict", describe(state))
	}
	attrs := map[string]any{}
	for _, e := range *st {
		if k, ok := e.Key.(string); ok {
			attrs[k] = e.Value
		}
	}
	if t, ok := attrs["subclass"].(*typeRef); !ok || t.name != "ndarray" {
		return fmt.Errorf("joblib array subclass %s is not numpy.ndarray", describe(attrs["subclass"]))
	}
	dtype, ok := attrs["dtype"].(*Dtype)
	if !ok {
		return fmt.Errorf("joblib array dtype %s is not a dtype", describe(attrs["dtype"]))
	}
	shape, err := shapeOf(attrs["shape"])
	if err != nil {
		return err
	}
	if dtype.Kind == 'O' {
		return a.readNested(d, shape)
	}
	order, _ := attrs["order"].(string)
	if order != "C" && order != "F" {
		return fmt.Errorf("joblib array order %s is not C or F", describe(attrs["order"]))
	}
	dtype.frozen = true
	a.Dtype, a.Shape = dtype, shape
	if align, ok := attrs["numpy_array_alignment_bytes"]; ok && align != nil {
		pad, err := d.g.raw(1)
		if err != nil {
			return fmt.Errorf("joblib array padding: %w", err)
		}
		if _, err := d.g.raw(int(pad[0])); err != nil {
			return fmt.Errorf("joblib array padding: %w", err)
		}
	}
	if dtype.ItemSize <= 0 {
		return fmt.Errorf("joblib array dtype %s has no item size", dtype)
	}
	n, err := count(shape, dtype.ItemSize, len(d.g.data))
	if err != nil {
		return err
	}
	data, err := d.g.raw(n * dtype.ItemSize)
	if err != nil {
		return fmt.Errorf("joblib array of shape %v: %w", shape, err)
	}
	return a.setData(data, order == "F")
}

// readNested reads an object array, which joblib writes as a complete
// protocol 2 pickle right after the wrapper.
func (a *Array) readNested(d *decoder, shape []int) error {
	if d.depth >= maxNesting {
		return fmt.Errorf("joblib pickles nest more than %d deep", maxNesting)
	}
	if d.g.pos != d.g.checked {
		return fmt.Errorf("joblib object array at byte %d lies inside a pickle frame", d.g.pos)
	}
	sub := &decoder{allow: d.allow, depth: d.depth + 1}
	// An object array's pickle is small, and where it ends is not known
	// ahead: nothing to make room for.
	sub.g = newGuard(d.g.data, sub.checkGlobal, 0)
	sub.g.pos, sub.g.checked = d.g.pos, d.g.pos
	v, err := sub.load()
	if err != nil {
		return fmt.Errorf("joblib object array: %w", err)
	}
	d.g.pos, d.g.checked = sub.g.pos, sub.g.pos
	arr, ok := v.(*Array)
	if !ok || arr.Dtype == nil || arr.Dtype.Kind != 'O' {
		return fmt.Errorf("joblib object array holds %s, not an object ndarray", describe(v))
	}
	if len(arr.Shape) != len(shape) {
		return fmt.Errorf("joblib object array has shape %v, wrapper says %v", arr.Shape, shape)
	}
	for i := range shape {
		if arr.Shape[i] != shape[i] {
			return fmt.Errorf("joblib object array has shape %v, wrapper says %v", arr.Shape, shape)
		}
	}
	a.Dtype, a.Shape, a.Objects = arr.Dtype, arr.Shape, arr.Objects
	return nil
}

// xzDict reads the LZMA2 dictionary size from an xz stream's first block
// header (xz file format 1.0.4, sections 3.1 and 5.3.1). joblib's xz files
// hold one block. ok is false when the header cannot be read.
func xzDict(data []byte) (size uint64, ok bool) {
	const start = 12 // stream header
	if len(data) < start+2 {
		return 0, false
	}
	if data[start] == 0 {
		return 0, true // no block, only the index
	}
	end := start + (int(data[start])+1)*4
	if end > len(data) {
		return 0, false
	}
	flags := data[start+1]
	p := start + 2
	varint := func() (uint64, bool) {
		var v uint64
		for i := 0; i < 9 && p < end; i++ {
			b := data[p]
			p++
			v |= uint64(b&0x7f) << (7 * i)
			if b&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	for _, bit := range []byte{0x40, 0x80} { // compressed, uncompressed size
		if flags&bit != 0 {
			if _, ok := varint(); !ok {
				return 0, false
			}
		}
	}
	for f := 0; f <= int(flags&3); f++ {
		id, ok1 := varint()
		n, ok2 := varint()
		if !ok1 || !ok2 || n > uint64(end-p) {
			return 0, false
		}
		props := data[p : p+int(n)]
		p += int(n)
		if id == 0x21 { // LZMA2
			if len(props) != 1 || props[0] > 40 {
				return 0, false
			}
			d := props[0]
			if d == 40 {
				return 1<<32 - 1, true
			}
			return uint64(2|d&1) << (d/2 + 11), true
		}
	}
	return 0, false
}
