package unpickle

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
)

func allowSklearn(module, name string) bool { return strings.HasPrefix(module, "sklearn.") }

func TestDecodeFixtures(t *testing.T) {
	files, err := filepath.Glob("../testdata/models/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Decode(data, allowSklearn)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		o, ok := v.(*Object)
		if !ok {
			t.Errorf("%s: decoded %s, want an estimator object", filepath.Base(f), describe(v))
			continue
		}
		if _, err := o.Attrs(); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

func TestGuardRefusesMalformedStacks(t *testing.T) {
	cases := map[string]string{
		"\x80\x02(K\x01d.":              "key/value pairs",     // DICT with a key and no value
		"\x80\x02}(K\x01K\x02K\x03u.":   "key/value pairs",     // SETITEMS, odd
		"\x80\x04(C\x01a\x91.":          "bytes as a set",      // FROZENSET of bytes
		"\x80\x04\x8f(C\x01a\x90.":      "bytes as a set",      // ADDITEMS of bytes
		"\x80\x02\x8a\x00.":             "zero bytes",          // LONG1 0
		"\x80\x04\x8c\x02osh\x05\x93.":  "not string literals", // STACK_GLOBAL name from nowhere
		"\x80\x02R.":                    "needs 2 stack items", // REDUCE on an empty stack
		"\x80\x02t.":                    "no MARK",             // TUPLE without MARK
		"\x80\x06.":                     "protocol 6",
		"\x80\x02\xff":                  "unknown pickle opcode 0xff",
		"\x80\x02X\xff\xff\xff\x00abc.": "declares 16777215 bytes",
	}
	for data, want := range cases {
		_, err := Decode([]byte(data), allowSklearn)
		if want == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to mention %q", data, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "panicked") {
			t.Errorf("%q: %v", data, err)
		}
	}
}

func TestGuardRefusesGlobalsBeforeGopickle(t *testing.T) {
	// gopickle would resolve these itself without asking FindClass.
	for data, global := range map[string]string{
		"\x80\x02ccollections\nOrderedDict\n)R.":                                "collections.OrderedDict",
		"\x80\x04\x8c\x0bcollections\x8c\x0bOrderedDict\x93.":                   "collections.OrderedDict",
		"\x80\x04\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94h\x00h\x01\x93.": "collections.OrderedDict",
	} {
		_, err := Decode([]byte(data), allowSklearn)
		var refused *RefusedError
		if !errors.As(err, &refused) || refused.Module+"."+refused.Name != global {
			t.Errorf("%q: error %v, want refusal of %s", data, err, global)
		}
	}
}

func TestNumpyLayouts(t *testing.T) {
	// A 2x3 float64 array in Fortran order, big-endian.
	d := &Dtype{Kind: 'f', ItemSize: 8, BigEndian: true}
	col := []float64{1, 4, 2, 5, 3, 6} // columns of [[1 2 3] [4 5 6]]
	data := make([]byte, 48)
	for i, v := range col {
		binary.BigEndian.PutUint64(data[8*i:], math.Float64bits(v))
	}
	a := &Array{Dtype: d, Shape: []int{2, 3}}
	if err := a.setData(data, true); err != nil {
		t.Fatal(err)
	}
	got, err := a.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1, 2, 3, 4, 5, 6} {
		if got[i] != want {
			t.Fatalf("Float64s() = %v", got)
		}
	}
	if err := (&Array{Dtype: d, Shape: []int{1 << 62, 4}}).setData(data, false); err == nil {
		t.Fatal("shape larger than data accepted")
	}
	// '<U3' holding "ab".
	u := &Array{Dtype: &Dtype{Kind: 'U', ItemSize: 12}, Shape: []int{1}, Data: []byte{'a', 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0}}
	vs, err := u.Values()
	if err != nil || len(vs) != 1 || vs[0] != "ab" {
		t.Fatalf("unicode values %v, %v", vs, err)
	}
}

// Regression (found by FuzzRead): _codecs.encode made a Go []byte, which
// the guard took for hashable; gopickle then panicked putting it in a set.
func TestBytesFromCallsAreHashable(t *testing.T) {
	data := "\x80\x04(c_codecs\nencode\n\x8c\x01a\x8c\x06latin1\x86R\x91."
	v, err := Decode([]byte(data), allowSklearn)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(*types.FrozenSet); !ok {
		t.Fatalf("decoded %T", v)
	}
}

// A dtype or array cannot be changed after arrays were checked against it.
func TestStateCannotChangeTwice(t *testing.T) {
	state := "(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"
	dtype := "cnumpy\ndtype\nU\x02f8\x89\x88\x87R" + state + "b"
	_, err := Decode([]byte("\x80\x02"+dtype+"."), allowSklearn)
	if err != nil {
		t.Fatalf("one BUILD: %v", err)
	}
	_, err = Decode([]byte("\x80\x02"+dtype+state+"b."), allowSklearn)
	if err == nil || !strings.Contains(err.Error(), "after the dtype was used") {
		t.Fatalf("second BUILD: %v", err)
	}
}

func TestXZDictionaryBound(t *testing.T) {
	data, err := os.ReadFile("../testdata/models/dtc_wine.joblib.xz")
	if err != nil {
		t.Fatal(err)
	}
	d, ok := xzDict(data)
	if !ok || d == 0 || d > maxDict {
		t.Fatalf("fixture dictionary %d, %v", d, ok)
	}
	// Ask for a 4 GiB dictionary: refused before the xz library allocates it.
	bad := append([]byte(nil), data...)
	found := false
	for i := 14; i < 12+(int(bad[12])+1)*4-1; i++ {
		if bad[i] == 0x21 && bad[i+1] == 1 {
			bad[i+2] = 40
			found = true
			break
		}
	}
	if !found {
		t.Fatal("no LZMA2 filter in the first block header")
	}
	if _, err := Decode(bad, allowSklearn); err == nil || !strings.Contains(err.Error(), "dictionary") {
		t.Fatalf("4 GiB dictionary: %v", err)
	}
}

// TestAttributes reads attributes as Python's BUILD sets them: the slots
// over the state dict, and a name set twice with its last value.
func TestAttributes(t *testing.T) {
	dict, slots := types.NewDict(), types.NewDict()
	dict.Set("a", int64(1))
	dict.Set("b", int64(2))
	dict.Set("a", int64(3))
	slots.Set("b", int64(20))
	slots.Set("c", int64(30))
	o := &Object{Class: &Class{"m", "C"}, State: types.NewTupleFromSlice([]any{dict, slots})}
	a, err := o.Attributes()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{"a": int64(3), "b": int64(20), "c": int64(30)} {
		if v, ok := a.Get(name); !ok || v != want {
			t.Errorf("Get(%q) = %v, %v; want %v", name, v, ok, want)
		}
	}
	if v, ok := a.Get("d"); ok {
		t.Errorf("Get(\"d\") = %v, want missing", v)
	}
	m, err := o.Attrs()
	if err != nil || len(m) != 3 || m["a"] != int64(3) || m["b"] != int64(20) || m["c"] != int64(30) {
		t.Errorf("Attrs() = %v, %v", m, err)
	}

	bad := types.NewDict()
	bad.Set(int64(1), "x")
	if _, err := (&Object{State: bad}).Attributes(); err == nil || !strings.Contains(err.Error(), "attribute name") {
		t.Errorf("a dict keyed by an int: %v", err)
	}
	if _, err := (&Object{State: "x"}).Attributes(); err == nil || !strings.Contains(err.Error(), "is not a dict") {
		t.Errorf("a string state: %v", err)
	}
}

// TestEmptyFrames: an empty FRAME holds no opcodes; the guard validates
// the opcode after it before gopickle reads it, so it neither reads past
// the data nor runs an unchecked opcode (here a BINBYTES8 declaring 16
// TiB, which unchecked would make gopickle allocate it).
func TestEmptyFrames(t *testing.T) {
	empty := "\x95\x00\x00\x00\x00\x00\x00\x00\x00"
	cases := map[string]string{
		"\x80\x04" + empty:         "truncated pickle",
		"\x80\x04N" + empty:        "truncated pickle",
		"\x80\x04" + empty + empty: "truncated pickle",
		"\x80\x04" + empty + "\x8eG\x00\x00\x00\x00\x10\x00\x00N.": "declares",
	}
	for in, want := range cases {
		_, err := Decode([]byte(in), nil)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "panicked") {
			t.Errorf("%q: %v, want an error saying %q", in, err, want)
		}
	}
	for _, in := range []string{"\x80\x04" + empty + "N.", "\x80\x04" + empty + empty + "N."} {
		if v, err := Decode([]byte(in), nil); err != nil || v != nil {
			t.Errorf("%q: %v, %v; want None", in, v, err)
		}
	}
}

// TestHostileSizes: small inputs cannot make the decoder's memory large.
func TestHostileSizes(t *testing.T) {
	// One LONG_BINPUT far past the memo's entries, in a 1 MB pickle: the
	// index goes in a map, not a slice filled up to it.
	far := "\x80\x02" + strings.Repeat("N0", 500_000) + "Nr" + string(binary.LittleEndian.AppendUint32(nil, 900_000)) + "0N."
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Decode([]byte(far), nil); err != nil {
		t.Fatalf("far LONG_BINPUT: %v", err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("a 1 MB pickle with one far memo index allocated %d MB", n>>20)
	}

	defer func(s, m int) { maxStackItems, maxMemoEntries = s, m }(maxStackItems, maxMemoEntries)
	maxStackItems, maxMemoEntries = 1000, 1000
	cases := map[string]string{
		"\x80\x02N" + strings.Repeat("2", 999) + ".":      "", // DUP up to the bound
		"\x80\x02N" + strings.Repeat("2", 1000) + ".":     "more than 1000 items on the pickle stack",
		"\x80\x04N" + strings.Repeat("\x94", 1000) + ".":  "",
		"\x80\x04N" + strings.Repeat("\x94", 1001) + ".":  "more than 1000 values memoized",
		"\x80\x04" + frame(strings.Repeat("N", 1001)+"."): "more than 1000 items on the pickle stack",
	}
	for in, want := range cases {
		_, err := Decode([]byte(in), nil)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%d bytes: %v, want %q", len(in), err, want)
		}
	}
}

// frame wraps opcodes in a FRAME.
func frame(ops string) string {
	return "\x95" + string(binary.LittleEndian.AppendUint64(nil, uint64(len(ops)))) + ops
}
