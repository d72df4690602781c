package unpickle

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	gopickle "github.com/nlpodyssey/gopickle/pickle"
)

// maxMarkDepth bounds how many MARKs may be open at once. Real pickles nest
// a handful deep; a pickle that opens a thousand is not a model. (Upstream
// gopickle allocated a stack per MARK, which made the bound matter more;
// third_party/gopickle keeps one stack.)
const maxMarkDepth = 1000

// guard is the reader gopickle decodes from. It validates every opcode
// before gopickle reads it, so that gopickle only ever runs well-formed
// input:
//
//   - every counted argument (BINBYTES8, FRAME, ...) must fit in the bytes
//     actually present: gopickle allocates the stated length before reading;
//   - a shadow of the pickle machine's stack (item kinds, known strings, the
//     memo, marks) is kept, so that stack underflows, odd DICT/SETITEMS item
//     counts and unhashable set items (where gopickle would index out of
//     range or panic hashing) are errors here;
//   - every global (GLOBAL, INST, STACK_GLOBAL) is checked against the
//     allowlist from the literal names, before gopickle resolves it, and
//     STACK_GLOBAL must take its names from string literals.
//
// It walks the opcode stream in step with gopickle: bytes up to checked have
// been validated as whole opcodes (a FRAME with its whole contents, since
// gopickle reads a frame in one go). The shadow sees opcodes in the order
// gopickle executes them.
type guard struct {
	data    []byte
	pos     int // next byte gopickle will read
	checked int // bytes before this offset belong to validated opcodes
	err     error

	// checkGlobal is the allowlist.
	checkGlobal func(module, name string) error

	// stack is the shadow stack, marks and all: base is where the items
	// since the innermost open MARK start, marks the bases of the marks
	// around it.
	stack []slot
	base  int
	marks []int
	// memo shadows gopickle's, kept by the same code: both agree on
	// which indices are set and on the index MEMOIZE uses next.
	memo gopickle.Memo[slot]
	// memoHint is the memo size to make room for, for gopickle too.
	memoHint int
}

// slot is the shadow of one stack item: what kind of value gopickle holds.
type slot struct {
	kind slotKind
	// lo and hi locate a string literal's bytes in data (its raw
	// bytes: what gopickle decodes them to is only compared to names).
	lo, hi int
}

// str returns a string literal's bytes as a string.
func (g *guard) str(s slot) string { return string(g.data[s.lo:s.hi]) }

type slotKind uint8

const (
	kindOther slotKind = iota
	kindString
	kindBytes // a Go []byte: unhashable
)

// newGuard starts a guard at the beginning of data. memoHint is how many
// memo entries to make room for ahead (gopickle's too): an estimate, or 0.
func newGuard(data []byte, check func(module, name string) error, memoHint int) *guard {
	g := &guard{data: data, checkGlobal: check, memoHint: memoHint, stack: make([]slot, 0, 64)}
	g.memo.Grow(memoHint)
	return g
}

// memoHintFor estimates the memo entries of a pickle of n bytes: Python
// memoizes about one value per 50 bytes of a model's pickle; a large
// pickle's bulk is array data, so the estimate stops at 4096.
func memoHintFor(n int) int { return min(n/64, 1<<12) }

// Read implements io.Reader for gopickle.
func (g *guard) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := g.need(); err != nil {
		return 0, err
	}
	n := copy(p, g.data[g.pos:g.checked])
	g.pos += n
	return n, nil
}

// ReadInPlace implements gopickle's InPlaceReader: an opcode's arguments
// (numbers, strings, the bytes of arrays) are handed over as views of data,
// not copies. Nothing modifies data once decoding starts.
func (g *guard) ReadInPlace(n int) ([]byte, error) {
	if n == 0 {
		// An empty argument ends its opcode: the next one is validated
		// when gopickle reads it, not before this one has run.
		return g.data[g.pos:g.pos:g.pos], nil
	}
	if err := g.need(); err != nil {
		return nil, err
	}
	if n < 0 || n > g.checked-g.pos {
		// Arguments always lie within the opcode the guard validated;
		// should gopickle ever read past it, it reads as before.
		b := make([]byte, max(n, 0))
		_, err := io.ReadFull(g, b)
		return b, err
	}
	b := g.data[g.pos : g.pos+n : g.pos+n]
	g.pos += n
	return b, nil
}

// ReadByte implements io.ByteReader for gopickle.
func (g *guard) ReadByte() (byte, error) {
	if err := g.need(); err != nil {
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
		return nil, fmt.Errorf("truncated: array data needs %d bytes at byte %d, %d left", n, g.pos, len(g.data)-g.pos)
	}
	b := g.data[g.pos : g.pos+n : g.pos+n]
	g.pos += n
	g.checked = g.pos
	return b, nil
}

// need makes sure the byte at pos has been validated. Errors are sticky:
// gopickle retries a failed ReadByte with Read.
//
// A frame only groups opcodes for buffered reading, and gopickle would
// copy each one whole into a buffer of its own: need validates a frame's
// opcodes and then hands gopickle the opcodes inside straight from data,
// past the frame's header. An empty frame holds none, so need goes on to
// the opcode after it: the loop.
func (g *guard) need() error {
	for {
		if g.err != nil {
			return g.err
		}
		if g.pos < g.checked {
			return nil
		}
		if g.pos >= len(g.data) {
			return io.EOF
		}
		end, err := g.scan(g.pos, len(g.data), false)
		if err != nil {
			g.err = err
			return err
		}
		g.checked = end
		if g.data[g.pos] != opFrame {
			return nil
		}
		g.pos += frameHeader
	}
}

// opFrame is the FRAME opcode: its 8-byte length, then that many bytes of
// opcodes.
const (
	opFrame     = 0x95
	frameHeader = 1 + 8
)

// Bounds on the pickle machine's stack and memo. Each item costs gopickle
// and the shadow about 40 bytes, so without them a few megabytes of DUP or
// MEMOIZE opcodes (a few kilobytes compressed) would take gigabytes. Real
// pickles batch a container's items a thousand per MARK, and the largest
// supported models memoize some hundred thousand values.
// (Variables, so that tests can lower them.)
var (
	maxStackItems  = 1 << 20
	maxMemoEntries = 1 << 23
)

// scan validates the opcode at p, whose arguments must end by limit, applies
// it to the shadow stack, and returns the offset after it (after the whole
// frame for FRAME).
func (g *guard) scan(p, limit int, inFrame bool) (int, error) {
	end, err := g.scanOp(p, limit, inFrame)
	switch {
	case err != nil:
		return 0, err
	case len(g.stack) > maxStackItems:
		return 0, fmt.Errorf("opcode %s at byte %d: more than %d items on the pickle stack", opName(g.data[p]), p, maxStackItems)
	case g.memo.Len() > maxMemoEntries:
		return 0, fmt.Errorf("opcode %s at byte %d: more than %d values memoized", opName(g.data[p]), p, maxMemoEntries)
	}
	return end, nil
}

// scanOp is scan without the bounds.
func (g *guard) scanOp(p, limit int, inFrame bool) (int, error) {
	op := g.data[p]
	at := p
	p++
	left := limit - p
	fail := func(format string, args ...any) (int, error) {
		return 0, fmt.Errorf("opcode %s at byte %d: %s", opName(op), at, fmt.Sprintf(format, args...))
	}
	truncated := func(need int) (int, error) {
		return 0, fmt.Errorf("truncated pickle: opcode %s at byte %d needs %d bytes, %d left", opName(op), at, need, left)
	}
	// counted reads a length of width bytes and returns the payload.
	counted := func(width int, signed bool) ([]byte, int, error) {
		if width > left {
			_, err := truncated(width)
			return nil, 0, err
		}
		var n uint64
		switch width {
		case 1:
			n = uint64(g.data[p])
		case 4:
			u := binary.LittleEndian.Uint32(g.data[p:])
			if signed && int32(u) < 0 {
				_, err := fail("negative length %d", int32(u))
				return nil, 0, err
			}
			n = uint64(u)
		case 8:
			n = binary.LittleEndian.Uint64(g.data[p:])
		}
		if n > uint64(left-width) {
			return nil, 0, fmt.Errorf("truncated pickle: opcode %s at byte %d declares %d bytes, %d left", opName(op), at, n, left-width)
		}
		start := p + width
		return g.data[start : start+int(n)], start + int(n), nil
	}
	// line reads a newline-terminated argument, without the newline.
	line := func(from int) (string, int, error) {
		for i := from; i < limit; i++ {
			if g.data[i] == '\n' {
				return string(g.data[from:i]), i + 1, nil
			}
		}
		_, err := fail("no end of line (truncated pickle)")
		return "", 0, err
	}
	fixed := func(n int) (int, error) {
		if n > left {
			return truncated(n)
		}
		return p + n, nil
	}

	switch op {
	case '(': // MARK
		if len(g.marks) >= maxMarkDepth {
			return fail("more than %d marks open", maxMarkDepth)
		}
		g.marks = append(g.marks, g.base)
		g.base = len(g.stack)
		return p, nil
	case '.': // STOP
		return p, g.pop(op, at, 1)
	case '0': // POP: gopickle pops the mark when the stack is empty
		if g.size() == 0 {
			_, err := g.popMark(op, at)
			return p, err
		}
		return p, g.pop(op, at, 1)
	case '1': // POP_MARK
		_, err := g.popMark(op, at)
		return p, err
	case '2': // DUP
		if g.size() == 0 {
			return fail("stack is empty")
		}
		g.push(g.stack[len(g.stack)-1])
		return p, nil
	case 'N', 0x88, 0x89, '}', ']', ')', 0x8f: // None, True, False, empty containers
		g.push(slot{})
		return p, nil
	case 'K':
		return g.pushed(fixed(1))
	case 'M':
		return g.pushed(fixed(2))
	case 'J':
		return g.pushed(fixed(4))
	case 'G':
		return g.pushed(fixed(8))
	case 'I', 'L', 'F':
		_, end, err := line(p)
		return g.pushed(end, err)
	case 0x8a, 0x8b: // LONG1, LONG4
		width := 1
		if op == 0x8b {
			width = 4
		}
		b, end, err := counted(width, true)
		if err != nil {
			return 0, err
		}
		if len(b) == 0 {
			// gopickle indexes the last byte of the number unchecked.
			return fail("integer encoded in zero bytes")
		}
		g.push(slot{})
		return end, nil
	case 'U', 0x8c: // SHORT_BINSTRING, SHORT_BINUNICODE
		return g.pushString(counted(1, false))
	case 'T': // BINSTRING
		return g.pushString(counted(4, true))
	case 'X': // BINUNICODE
		return g.pushString(counted(4, false))
	case 0x8d: // BINUNICODE8
		return g.pushString(counted(8, false))
	case 'S': // STRING: quoted
		s, end, err := line(p)
		if err != nil {
			return 0, err
		}
		if len(s) < 2 || s[0] != s[len(s)-1] || (s[0] != '\'' && s[0] != '"') {
			return fail("argument is not quoted")
		}
		g.push(slot{kind: kindString, lo: p + 1, hi: end - 2})
		return end, nil
	case 'V': // UNICODE
		_, end, err := line(p)
		if err != nil {
			return 0, err
		}
		g.push(slot{kind: kindString, lo: p, hi: end - 1})
		return end, nil
	case 'C': // SHORT_BINBYTES
		_, end, err := counted(1, false)
		return g.pushedBytes(end, err)
	case 'B': // BINBYTES
		_, end, err := counted(4, false)
		return g.pushedBytes(end, err)
	case 0x8e: // BINBYTES8
		_, end, err := counted(8, false)
		return g.pushedBytes(end, err)
	case 0x96: // BYTEARRAY8: a *types.ByteArray, hashable
		_, end, err := counted(8, false)
		return g.pushed(end, err)
	case 'P': // PERSID: refused by the decoder's hook
		_, end, err := line(p)
		return g.pushed(end, err)
	case 'Q', 0x97: // BINPERSID (pops its id), NEXT_BUFFER: refused by hooks
		if op == 'Q' {
			if err := g.pop(op, at, 1); err != nil {
				return 0, err
			}
		}
		g.push(slot{})
		return p, nil
	case 0x98: // READONLY_BUFFER: a no-op for gopickle without MakeReadOnly
		return p, nil
	case 0x82, 0x83, 0x84: // EXT1/2/4: refused by the decoder's hook
		end, err := fixed(1 << (op - 0x82))
		return g.pushed(end, err)
	case 'R', 0x81: // REDUCE, NEWOBJ
		return g.replace(op, at, 2, p)
	case 0x92: // NEWOBJ_EX
		return g.replace(op, at, 3, p)
	case 0x85, 0x86, 0x87: // TUPLE1/2/3
		return g.replace(op, at, int(op-0x84), p)
	case 'a': // APPEND: value popped, list stays
		return p, g.popKeep(op, at, 1)
	case 'b': // BUILD: state popped, object stays
		return p, g.popKeep(op, at, 1)
	case 's': // SETITEM: key and value popped, dict stays
		return p, g.popKeep(op, at, 2)
	case 't', 'l', 0x91: // TUPLE, LIST, FROZENSET
		items, err := g.popMark(op, at)
		if err != nil {
			return 0, err
		}
		if op == 0x91 {
			if err := hashable(items); err != nil {
				return fail("%v", err)
			}
		}
		g.push(slot{})
		return p, nil
	case 'd': // DICT
		items, err := g.popMark(op, at)
		if err != nil {
			return 0, err
		}
		if len(items)%2 != 0 {
			return fail("%d items do not make key/value pairs", len(items))
		}
		g.push(slot{})
		return p, nil
	case 'e', 'u', 0x90: // APPENDS, SETITEMS, ADDITEMS: container stays
		items, err := g.popMark(op, at)
		if err != nil {
			return 0, err
		}
		if op == 'u' && len(items)%2 != 0 {
			return fail("%d items do not make key/value pairs", len(items))
		}
		if op == 0x90 {
			if err := hashable(items); err != nil {
				return fail("%v", err)
			}
		}
		if g.size() == 0 {
			return fail("no container below the mark")
		}
		return p, nil
	case 'o': // OBJ: class and arguments since the mark
		items, err := g.popMark(op, at)
		if err != nil {
			return 0, err
		}
		if len(items) == 0 {
			return fail("no class")
		}
		g.push(slot{})
		return p, nil
	case 'c', 'i': // GLOBAL, INST
		module, end, err := line(p)
		if err != nil {
			return 0, err
		}
		name, end, err := line(end)
		if err != nil {
			return 0, err
		}
		if err := g.checkGlobal(module, name); err != nil {
			return 0, err
		}
		if op == 'i' {
			if _, err := g.popMark(op, at); err != nil {
				return 0, err
			}
		}
		g.push(slot{})
		return end, nil
	case 0x93: // STACK_GLOBAL
		if g.size() < 2 {
			return fail("needs module and name on the stack")
		}
		m, n := g.stack[len(g.stack)-2], g.stack[len(g.stack)-1]
		if m.kind != kindString || n.kind != kindString {
			return fail("module and name are not string literals")
		}
		if err := g.checkGlobal(g.str(m), g.str(n)); err != nil {
			return 0, err
		}
		return g.replace(op, at, 2, p)
	case 'g': // GET
		s, end, err := line(p)
		if err != nil {
			return 0, err
		}
		i, err := strconv.Atoi(s)
		if err != nil {
			return fail("bad memo index %q", s)
		}
		g.push(g.memo.Get(i))
		return end, nil
	case 'h', 'j': // BINGET, LONG_BINGET
		end, err := fixed(indexWidth(op))
		if err != nil {
			return 0, err
		}
		g.push(g.memo.Get(g.index(op, p)))
		return end, nil
	case 'p': // PUT
		s, end, err := line(p)
		if err != nil {
			return 0, err
		}
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 {
			return fail("bad memo index %q", s)
		}
		return end, g.put(op, at, i)
	case 'q', 'r': // BINPUT, LONG_BINPUT
		end, err := fixed(indexWidth(op))
		if err != nil {
			return 0, err
		}
		return end, g.put(op, at, g.index(op, p))
	case 0x94: // MEMOIZE: gopickle stores at len(memo)
		return p, g.put(op, at, g.memo.Len())
	case 0x80: // PROTO
		end, err := fixed(1)
		if err == nil && g.data[p] > 5 {
			return fail("protocol %d is newer than 5", g.data[p])
		}
		return end, err
	case opFrame:
		if inFrame {
			return fail("frame starts inside another frame")
		}
		_, end, err := counted(8, false)
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

// indexWidth is the size of a memo index argument.
func indexWidth(op byte) int {
	if op == 'h' || op == 'q' {
		return 1
	}
	return 4
}

// index decodes a BINGET/BINPUT (1 byte) or LONG_ variant (4 bytes) index.
func (g *guard) index(op byte, p int) int {
	if op == 'h' || op == 'q' {
		return int(g.data[p])
	}
	return int(binary.LittleEndian.Uint32(g.data[p:]))
}

func (g *guard) push(s slot) { g.stack = append(g.stack, s) }

// size is the number of items since the innermost open MARK: all gopickle's
// current stack holds.
func (g *guard) size() int { return len(g.stack) - g.base }

// pushed pushes an opaque item after a successful argument read.
func (g *guard) pushed(end int, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	g.push(slot{})
	return end, nil
}

func (g *guard) pushedBytes(end int, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	g.push(slot{kind: kindBytes})
	return end, nil
}

func (g *guard) pushString(b []byte, end int, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	g.push(slot{kind: kindString, lo: end - len(b), hi: end})
	return end, nil
}

func (g *guard) pop(op byte, at, n int) error {
	if g.size() < n {
		return fmt.Errorf("opcode %s at byte %d: needs %d stack items, has %d", opName(op), at, n, g.size())
	}
	g.stack = g.stack[:len(g.stack)-n]
	return nil
}

// popKeep pops n items above an item that must stay.
func (g *guard) popKeep(op byte, at, n int) error {
	if g.size() < n+1 {
		return fmt.Errorf("opcode %s at byte %d: needs %d stack items, has %d", opName(op), at, n+1, g.size())
	}
	g.stack = g.stack[:len(g.stack)-n]
	return nil
}

// replace pops n items and pushes one opaque result.
func (g *guard) replace(op byte, at, n, end int) (int, error) {
	if err := g.pop(op, at, n); err != nil {
		return 0, err
	}
	g.push(slot{})
	return end, nil
}

func (g *guard) popMark(op byte, at int) ([]slot, error) {
	if len(g.marks) == 0 {
		return nil, fmt.Errorf("opcode %s at byte %d: no MARK to pop to", opName(op), at)
	}
	// items stays valid until the next push.
	items := g.stack[g.base:]
	g.stack = g.stack[:g.base]
	g.base = g.marks[len(g.marks)-1]
	g.marks = g.marks[:len(g.marks)-1]
	return items, nil
}

func (g *guard) put(op byte, at, i int) error {
	if g.size() == 0 {
		return fmt.Errorf("opcode %s at byte %d: stack is empty", opName(op), at)
	}
	g.memo.Put(i, g.stack[len(g.stack)-1])
	return nil
}

// hashable refuses bytes as set members: gopickle keys a Go map with them,
// which panics for a []byte.
func hashable(items []slot) error {
	for _, s := range items {
		if s.kind == kindBytes {
			return fmt.Errorf("bytes as a set member")
		}
	}
	return nil
}

// opName renders an opcode for messages.
func opName(op byte) string {
	if op >= 0x20 && op < 0x7f {
		return strconv.QuoteRune(rune(op))
	}
	return fmt.Sprintf("0x%02x", op)
}
