package unpickle

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxMarkDepth bounds how many MARKs may be open at once. gopickle allocates
// a fresh stack per MARK, so an unbounded run of MARK bytes would cost far
// more memory than the input. Real pickles nest a handful deep.
const maxMarkDepth = 10000

// guard is the reader gopickle decodes from. gopickle allocates every counted
// argument (BINBYTES8, FRAME, ...) at the length the file states before
// reading it, and panics on a few malformed arguments, so the guard checks
// each opcode's argument against the bytes actually present before gopickle
// sees the opcode. It walks the opcode stream in step with gopickle: bytes up
// to checked have been validated as whole opcodes (a FRAME is validated with
// its whole contents, since gopickle reads a frame in one go).
type guard struct {
	data      []byte
	pos       int // next byte gopickle will read
	checked   int // bytes before this offset belong to validated opcodes
	markDepth int
}

func newGuard(data []byte) *guard { return &guard{data: data} }

// Read implements io.Reader for gopickle.
func (g *guard) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if g.pos >= len(g.data) {
		return 0, io.EOF
	}
	if err := g.need(1); err != nil {
		return 0, err
	}
	n := copy(p, g.data[g.pos:g.checked])
	g.pos += n
	return n, nil
}

// ReadByte implements io.ByteReader for gopickle.
func (g *guard) ReadByte() (byte, error) {
	if g.pos >= len(g.data) {
		return 0, io.EOF
	}
	if err := g.need(1); err != nil {
		return 0, err
	}
	b := g.data[g.pos]
	g.pos++
	return b, nil
}

// raw returns the next n bytes as data that is not pickle opcodes (joblib
// writes array bytes right after the opcode that built the array wrapper).
func (g *guard) raw(n int) ([]byte, error) {
	if g.pos != g.checked {
		return nil, fmt.Errorf("array data at byte %d lies inside a pickle frame", g.pos)
	}
	if n < 0 || n > len(g.data)-g.pos {
		return nil, fmt.Errorf("array data needs %d bytes at byte %d, %d left: %w", n, g.pos, len(g.data)-g.pos, io.ErrUnexpectedEOF)
	}
	b := g.data[g.pos : g.pos+n]
	g.pos += n
	g.checked = g.pos
	return b, nil
}

// need validates opcodes until n bytes from pos are covered.
func (g *guard) need(n int) error {
	for g.pos+n > g.checked {
		if g.checked >= len(g.data) {
			return io.ErrUnexpectedEOF
		}
		if g.pos > g.checked {
			return fmt.Errorf("read past validated data at byte %d", g.pos)
		}
		end, err := g.scan(g.checked, len(g.data), false)
		if err != nil {
			return err
		}
		g.checked = end
	}
	return nil
}

// scan validates the opcode at p, whose arguments must end by limit, and
// returns the offset after it (after the whole frame for FRAME).
func (g *guard) scan(p, limit int, inFrame bool) (int, error) {
	op := g.data[p]
	at := p
	p++
	left := limit - p
	fixed := func(n int) (int, error) {
		if n > left {
			return 0, fmt.Errorf("truncated pickle: opcode 0x%02x at byte %d needs %d bytes, %d left", op, at, n, left)
		}
		return p + n, nil
	}
	counted := func(width int, signed bool) (int, error) {
		if width > left {
			return 0, fmt.Errorf("truncated pickle: opcode 0x%02x at byte %d needs a %d-byte length, %d bytes left", op, at, width, left)
		}
		var n uint64
		switch width {
		case 1:
			n = uint64(g.data[p])
		case 4:
			u := binary.LittleEndian.Uint32(g.data[p:])
			if signed && int32(u) < 0 {
				return 0, fmt.Errorf("opcode 0x%02x at byte %d has negative length %d", op, at, int32(u))
			}
			n = uint64(u)
		case 8:
			n = binary.LittleEndian.Uint64(g.data[p:])
		}
		if n > uint64(left-width) {
			return 0, fmt.Errorf("truncated pickle: opcode 0x%02x at byte %d declares %d bytes, %d left", op, at, n, left-width)
		}
		return p + width + int(n), nil
	}
	line := func(from int) (int, error) {
		for i := from; i < limit; i++ {
			if g.data[i] == '\n' {
				return i + 1, nil
			}
		}
		return 0, fmt.Errorf("truncated pickle: opcode %q at byte %d has no end of line", op, at)
	}
	switch op {
	case '(':
		g.markDepth++
		if g.markDepth > maxMarkDepth {
			return 0, fmt.Errorf("pickle nests more than %d marks at byte %d", maxMarkDepth, at)
		}
		return p, nil
	case 't', 'l', 'd', 'e', 'u', '1', 'o', 0x90, 0x91:
		if g.markDepth > 0 {
			g.markDepth--
		}
		return p, nil
	case '.', '0', '2', 'N', 'R', 'a', 'b', '}', ']', 's', ')', 'Q',
		0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x92, 0x93, 0x94, 0x97, 0x98:
		return p, nil
	case 'K', 'h', 'q', 0x80, 0x82:
		return fixed(1)
	case 'M', 0x83:
		return fixed(2)
	case 'J', 'j', 'r', 0x84:
		return fixed(4)
	case 'G':
		return fixed(8)
	case 0x8a, 0x8b: // LONG1, LONG4
		width := 1
		if op == 0x8b {
			width = 4
		}
		end, err := counted(width, true)
		if err == nil && end == p+width {
			// gopickle indexes the last byte of the number without checking.
			return 0, fmt.Errorf("opcode 0x%02x at byte %d encodes an integer in zero bytes", op, at)
		}
		return end, err
	case 'U', 'C', 0x8c:
		return counted(1, false)
	case 'T':
		return counted(4, true)
	case 'B', 'X':
		return counted(4, false)
	case 0x8d, 0x8e, 0x96:
		return counted(8, false)
	case 'I', 'L', 'F', 'S', 'V', 'g', 'p', 'P':
		return line(p)
	case 'c', 'i':
		end, err := line(p)
		if err != nil {
			return 0, err
		}
		if op == 'i' {
			if g.markDepth > 0 {
				g.markDepth--
			}
		}
		return line(end)
	case 0x95: // FRAME
		if inFrame {
			return 0, fmt.Errorf("pickle frame at byte %d starts inside another frame", at)
		}
		end, err := counted(8, false)
		if err != nil {
			return 0, err
		}
		for q := p + 8; q < end; {
			if q, err = g.scan(q, end, true); err != nil {
				return 0, err
			}
		}
		return end, nil
	}
	return 0, fmt.Errorf("unknown pickle opcode 0x%02x at byte %d", op, at)
}
