package pickle

// Tests of strata's patches to gopickle (see ../PATCHES.md): one stack
// with mark positions, the memo as a slice with a map for far indices,
// and arguments read in place from an InPlaceReader.

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/nlpodyssey/gopickle/types"
)

// nested is pickle.dumps(v, protocol=P) in Python 3.11 for
//
//	shared = [1, 2]
//	v = {"a": (shared, [3, (4, 5)]), "b": shared,
//	     "c": [(6,), (7, 8, 9, 10)], "d": b"xyz" * 10}
//
// MARKs nest three deep, and "b" is a memo reference to "a"[0].
var nested = map[int]string{
	3: "\x80\x03}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02e]q\x03(K\x03K\x04K\x05\x86q\x04e\x86q\x05X\x01\x00\x00\x00bq\x06h\x02X\x01\x00\x00\x00cq\x07]q\x08(K\x06\x85q\t(K\x07K\x08K\tK\ntq\neX\x01\x00\x00\x00dq\x0bC\x1exyzxyzxyzxyzxyzxyzxyzxyzxyzxyzq\x0cu.",
	5: "\x80\x05\x95a\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01K\x02e]\x94(K\x03K\x04K\x05\x86\x94e\x86\x94\x8c\x01b\x94h\x02\x8c\x01c\x94]\x94(K\x06\x85\x94(K\x07K\x08K\tK\nt\x94e\x8c\x01d\x94C\x1exyzxyzxyzxyzxyzxyzxyzxyzxyzxyz\x94u.",
}

// inPlace is an input that implements InPlaceReader.
type inPlace struct {
	data []byte
	pos  int
}

func (r *inPlace) Read(p []byte) (int, error) {
	if r.pos == len(r.data) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.pos:])
	r.pos += n
	return n, nil
}

func (r *inPlace) ReadByte() (byte, error) {
	if r.pos == len(r.data) {
		return 0, io.EOF
	}
	r.pos++
	return r.data[r.pos-1], nil
}

func (r *inPlace) ReadInPlace(n int) ([]byte, error) {
	if n > len(r.data)-r.pos {
		return nil, io.ErrUnexpectedEOF
	}
	r.pos += n
	return r.data[r.pos-n : r.pos], nil
}

func checkNested(t *testing.T, got interface{}) {
	t.Helper()
	d, ok := got.(*types.Dict)
	if !ok {
		t.Fatalf("got %T, want *types.Dict", got)
	}
	get := func(k string) interface{} {
		v, ok := d.Get(k)
		if !ok {
			t.Fatalf("no key %q in %v", k, d)
		}
		return v
	}
	list := func(items ...interface{}) *types.List { return types.NewListFromSlice(items) }
	tuple := func(items ...interface{}) *types.Tuple { return types.NewTupleFromSlice(items) }
	want := map[string]interface{}{
		"a": tuple(list(1, 2), list(3, tuple(4, 5))),
		"b": list(1, 2),
		"c": list(tuple(6), tuple(7, 8, 9, 10)),
		"d": []byte(strings.Repeat("xyz", 10)),
	}
	for k, w := range want {
		if g := get(k); !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %#v, want %#v", k, g, w)
		}
	}
	if a := get("a").(*types.Tuple); a.Get(0) != get("b") {
		t.Errorf(`"b" is not the list "a"[0] refers to: the memo reference was lost`)
	}
	if len(*d) != 4 {
		t.Errorf("dict has %d entries, want 4", len(*d))
	}
}

// TestNestedMarks: items gathered since a MARK keep their values once the
// stack below them is pushed onto again.
func TestNestedMarks(t *testing.T) {
	for proto, p := range nested {
		got, err := Loads(p)
		if err != nil {
			t.Fatalf("protocol %d: %v", proto, err)
		}
		checkNested(t, got)

		u := NewUnpickler(&inPlace{data: []byte(p)})
		got, err = u.Load()
		if err != nil {
			t.Fatalf("protocol %d in place: %v", proto, err)
		}
		checkNested(t, got)
	}
}

// TestReadInPlace: with an InPlaceReader, bytes are views of the input,
// not copies.
func TestReadInPlace(t *testing.T) {
	in := []byte(nested[3])
	u := NewUnpickler(&inPlace{data: in})
	got, err := u.Load()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := got.(*types.Dict).Get("d")
	start := uintptr(unsafe.Pointer(&in[0]))
	if p := uintptr(unsafe.Pointer(&b.([]byte)[0])); p < start || p >= start+uintptr(len(in)) {
		t.Error("the bytes were copied out of the input")
	}
}

// TestMarkStack: POP with nothing above the innermost MARK discards the
// MARK, as in Python; an opcode cannot take items from below a MARK.
func TestMarkStack(t *testing.T) {
	got, err := Loads("K\x01(0.") // 1, MARK, POP (the mark)
	if err != nil || got != 1 {
		t.Errorf("got %v, %v; want 1", got, err)
	}
	// MARK 1 2 MARK 3 TUPLE1 LIST TUPLE2 TUPLE: (1, (2, [(3,)]))
	got, err = Loads("(K\x01K\x02(K\x03\x85l\x86t.")
	if err != nil {
		t.Fatal(err)
	}
	tuple := func(items ...interface{}) *types.Tuple { return types.NewTupleFromSlice(items) }
	want := tuple(1, tuple(2, types.NewListFromSlice([]interface{}{tuple(3)})))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	if _, err := Loads("K\x01(\x85."); err == nil { // TUPLE1 with only a MARK above 1
		t.Error("TUPLE1 took an item from below a MARK")
	}
	if _, err := Loads("1."); err == nil { // POP_MARK without a MARK
		t.Error("POP_MARK without a MARK succeeded")
	}
}

// TestMemo: indices as Python writes them (0, 1, ...) and far ones (a
// hand-made pickle's) read back; MEMOIZE numbers by how many are set.
func TestMemo(t *testing.T) {
	p := "\x80\x04" +
		"K\x07r\xff\xff\xff\xff0" + // memo[4294967295] = 7
		"K\x08\x940" + // MEMOIZE: memo[1] = 8 (one index set so far)
		"K\x09q\x000" + // memo[0] = 9
		"K\x0aq\x010" + // memo[1] = 10, overwriting 8
		"K\x0b\x940" + // MEMOIZE: memo[3] = 11 (three indices set)
		"(j\xff\xff\xff\xffh\x00h\x01h\x03t."
	got, err := Loads(p)
	if err != nil {
		t.Fatal(err)
	}
	want := types.NewTupleFromSlice([]interface{}{7, 9, 10, 11})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	u := NewUnpickler(strings.NewReader(p))
	if _, err := u.Load(); err != nil {
		t.Fatal(err)
	}
	if len(u.memo.near) != 2 || len(u.memo.far) != 2 {
		t.Errorf("memo holds %d indices in the slice and %d in the map, want 2 and 2", len(u.memo.near), len(u.memo.far))
	}
}
