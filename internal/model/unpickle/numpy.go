package unpickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/types"
)

// Dtype is a numpy dtype rebuilt from a pickle.
type Dtype struct {
	// Kind is numpy's kind character: 'f' float, 'i' signed, 'u' unsigned,
	// 'b' bool, 'U' unicode, 'S' bytes, 'O' object, 'V' void (structured).
	Kind byte
	// ItemSize is the size of one element in bytes.
	ItemSize int
	// BigEndian is true for '>' byte order.
	BigEndian bool
	// Fields are the fields of a structured dtype, in declaration order.
	Fields []Field

	// frozen is set once the dtype has its state or describes data: a
	// pickle cannot change a dtype under an array already checked
	// against it.
	frozen bool
}

// Field is one named field of a structured dtype.
type Field struct {
	Name   string
	Dtype  *Dtype
	Offset int
}

// String renders the dtype the way numpy's dtype.str does ("<f8").
func (d *Dtype) String() string {
	if d == nil {
		return "<nil dtype>"
	}
	order := "<"
	if d.BigEndian {
		order = ">"
	}
	if d.ItemSize <= 1 || d.Kind == 'O' || d.Kind == 'V' || d.Kind == 'S' {
		order = "|"
	}
	s := order + string(d.Kind) + strconv.Itoa(d.ItemSize)
	if len(d.Fields) > 0 {
		s += "{"
		for i, f := range d.Fields {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf("%s:%s@%d", f.Name, f.Dtype, f.Offset)
		}
		s += "}"
	}
	return s
}

// Field returns the named field of a structured dtype.
func (d *Dtype) Field(name string) (Field, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// newDtype implements numpy.dtype(obj, align, copy) for the type strings
// numpy pickles ("f8", "V56", "U7", "O8", "b1").
func newDtype(args []any) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("dtype needs a type string")
	}
	s, ok := args[0].(string)
	if !ok || len(s) == 0 {
		return nil, fmt.Errorf("dtype type %v is not a type string", describe(args[0]))
	}
	d := &Dtype{Kind: s[0]}
	switch d.Kind {
	case 'f', 'i', 'u', 'b', 'U', 'S', 'O', 'V', 'c':
	default:
		return nil, fmt.Errorf("dtype %q is not one strata reads", s)
	}
	if len(s) > 1 {
		n, err := strconv.Atoi(s[1:])
		if err != nil || n < 0 || n > 1<<20 {
			return nil, fmt.Errorf("dtype %q has a bad size", s)
		}
		d.ItemSize = n
		if d.Kind == 'U' {
			d.ItemSize = 4 * n
		}
	}
	switch d.Kind {
	case 'f':
		if d.ItemSize != 4 && d.ItemSize != 8 {
			return nil, fmt.Errorf("dtype %q: only float32 and float64 are read", s)
		}
	case 'i', 'u':
		if d.ItemSize != 1 && d.ItemSize != 2 && d.ItemSize != 4 && d.ItemSize != 8 {
			return nil, fmt.Errorf("dtype %q has a bad integer size", s)
		}
	case 'b':
		d.ItemSize = 1
	case 'O':
		d.ItemSize = 8
	}
	return d, nil
}

// PySetState implements gopickle's types.PyStateSettable with numpy's dtype
// state: (version, byteorder, subarray, names, fields, elsize, alignment,
// flags[, metadata]).
func (d *Dtype) PySetState(state any) error {
	if d.frozen {
		return errors.New("dtype state set after the dtype was used")
	}
	d.frozen = true
	t, ok := state.(*types.Tuple)
	if !ok || t.Len() < 8 {
		return fmt.Errorf("dtype state %s is not numpy's 8- or 9-tuple", describe(state))
	}
	if v, ok := t.Get(0).(int); !ok || (v != 3 && v != 4) {
		return fmt.Errorf("dtype state version %s is not 3 or 4", describe(t.Get(0)))
	}
	switch t.Get(1) {
	case ">":
		d.BigEndian = true
	case "<", "|", "=":
		d.BigEndian = false
	default:
		return fmt.Errorf("dtype byte order %s is unknown", describe(t.Get(1)))
	}
	if t.Get(2) != nil {
		return errors.New("subarray dtypes are not read")
	}
	if size, ok := t.Get(5).(int); ok && size > 0 {
		if size > 1<<20 {
			return fmt.Errorf("dtype item size %d is too large", size)
		}
		if d.Kind == 'U' || d.Kind == 'S' || d.Kind == 'V' {
			d.ItemSize = size
		}
	}
	if d.Kind == 'U' && d.ItemSize%4 != 0 {
		return fmt.Errorf("unicode dtype item size %d is not a multiple of 4", d.ItemSize)
	}
	names, fields := t.Get(3), t.Get(4)
	if names == nil || fields == nil {
		return nil
	}
	if d.Kind != 'V' {
		return fmt.Errorf("dtype kind %q has fields", d.Kind)
	}
	nameList, ok := names.(*types.Tuple)
	if !ok {
		return fmt.Errorf("dtype field names %s are not a tuple", describe(names))
	}
	fieldDict, ok := fields.(*types.Dict)
	if !ok {
		return fmt.Errorf("dtype fields %s are not a dict", describe(fields))
	}
	specs := make(map[string]any, len(*fieldDict))
	for _, e := range *fieldDict {
		if k, ok := e.Key.(string); ok {
			specs[k] = e.Value
		}
	}
	d.Fields = d.Fields[:0]
	for _, n := range *nameList {
		name, ok := n.(string)
		if !ok {
			return fmt.Errorf("dtype field name %s is not a string", describe(n))
		}
		st, ok := specs[name].(*types.Tuple)
		if !ok || st.Len() < 2 {
			return fmt.Errorf("dtype field %q has no (dtype, offset) entry", name)
		}
		fd, ok := st.Get(0).(*Dtype)
		if !ok {
			return fmt.Errorf("dtype field %q: %s is not a dtype", name, describe(st.Get(0)))
		}
		off, ok := st.Get(1).(int)
		if !ok || off < 0 || fd.ItemSize <= 0 || off+fd.ItemSize > d.ItemSize || fd.Kind == 'O' || len(fd.Fields) > 0 {
			return fmt.Errorf("dtype field %q (%s at %s) does not fit the %d-byte record", name, fd, describe(st.Get(1)), d.ItemSize)
		}
		fd.frozen = true
		d.Fields = append(d.Fields, Field{Name: name, Dtype: fd, Offset: off})
	}
	return nil
}

// Array is a numpy ndarray rebuilt from a pickle. Data holds the elements in
// C order for every dtype but object; Objects holds them for object arrays.
type Array struct {
	Dtype   *Dtype
	Shape   []int
	Data    []byte
	Objects []any

	// joblib: set while this is a joblib NumpyArrayWrapper awaiting its data.
	joblib *decoder
}

// Len is the number of elements.
func (a *Array) Len() int {
	n := 1
	for _, s := range a.Shape {
		n *= s
	}
	return n
}

// reconstruct implements numpy.core.multiarray._reconstruct(ndarray, shape,
// typecode): an empty array whose contents BUILD sets.
func reconstruct(args []any) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("takes 3 arguments, got %d", len(args))
	}
	if t, ok := args[0].(*typeRef); !ok || t.name != "ndarray" {
		return nil, fmt.Errorf("can only rebuild numpy.ndarray, not %s", describe(args[0]))
	}
	return &Array{}, nil
}

// PySetState implements gopickle's types.PyStateSettable with numpy's
// ndarray state (version, shape, dtype, is_fortran, data), or joblib's
// NumpyArrayWrapper attributes.
func (a *Array) PySetState(state any) error {
	if a.Dtype != nil {
		return errors.New("ndarray state set twice")
	}
	if a.joblib != nil {
		return a.setJoblibState(state)
	}
	t, ok := state.(*types.Tuple)
	if !ok {
		return fmt.Errorf("ndarray state %s is not a tuple", describe(state))
	}
	items := []any(*t)
	if len(items) == 5 {
		items = items[1:] // drop the version
	}
	if len(items) != 4 {
		return fmt.Errorf("ndarray state has %d items, want 5", t.Len())
	}
	dtype, ok := items[1].(*Dtype)
	if !ok {
		return fmt.Errorf("ndarray dtype %s is not a dtype", describe(items[1]))
	}
	fortran, ok := items[2].(bool)
	if !ok {
		return fmt.Errorf("ndarray fortran flag %s is not a bool", describe(items[2]))
	}
	shape, err := shapeOf(items[0])
	if err != nil {
		return err
	}
	dtype.frozen = true
	a.Dtype, a.Shape = dtype, shape
	if dtype.Kind == 'O' {
		list, ok := items[3].(*types.List)
		if !ok {
			return fmt.Errorf("object ndarray data %s is not a list", describe(items[3]))
		}
		n, err := count(shape, 1, len(*list))
		if err != nil {
			return err
		}
		if n != len(*list) {
			return fmt.Errorf("object ndarray of shape %v holds %d items", shape, len(*list))
		}
		a.Objects = []any(*list)
		return nil
	}
	data, err := bytesOf(items[3])
	if err != nil {
		return fmt.Errorf("ndarray data: %w", err)
	}
	return a.setData(data, fortran)
}

// setData checks data against the shape and dtype and stores it in C order.
func (a *Array) setData(data []byte, fortran bool) error {
	if a.Dtype.ItemSize <= 0 {
		return fmt.Errorf("dtype %s has no item size", a.Dtype)
	}
	n, err := count(a.Shape, a.Dtype.ItemSize, len(data))
	if err != nil {
		return err
	}
	if n*a.Dtype.ItemSize != len(data) {
		return fmt.Errorf("ndarray of shape %v and dtype %s needs %d bytes, has %d", a.Shape, a.Dtype, n*a.Dtype.ItemSize, len(data))
	}
	if fortran && len(a.Shape) > 1 {
		data = fortranToC(data, a.Shape, a.Dtype.ItemSize)
	}
	a.Data = data
	return nil
}

// count is the number of elements in shape, checked to fit in limit bytes of
// itemSize each (so no product can overflow).
func count(shape []int, itemSize, limit int) (int, error) {
	n := 1
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("ndarray shape %v has a negative dimension", shape)
		}
		if s == 0 {
			n = 0
		}
		if n == 0 {
			continue
		}
		if s > limit/(n*itemSize) {
			return 0, fmt.Errorf("ndarray shape %v is larger than its data", shape)
		}
		n *= s
	}
	return n, nil
}

// fortranToC reorders column-major element bytes into row-major order.
func fortranToC(data []byte, shape []int, size int) []byte {
	out := make([]byte, len(data))
	nd := len(shape)
	fstride := make([]int, nd) // element strides of the Fortran layout
	st := 1
	for i := 0; i < nd; i++ {
		fstride[i] = st
		st *= shape[i]
	}
	idx := make([]int, nd)
	total := len(data) / size
	for c := 0; c < total; c++ {
		f := 0
		for i := 0; i < nd; i++ {
			f += idx[i] * fstride[i]
		}
		copy(out[c*size:(c+1)*size], data[f*size:(f+1)*size])
		for i := nd - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// shapeOf reads an ndarray shape tuple.
func shapeOf(v any) ([]int, error) {
	var items []any
	switch t := v.(type) {
	case *types.Tuple:
		items = *t
	case *types.List:
		items = *t
	case int:
		items = []any{t}
	default:
		return nil, fmt.Errorf("ndarray shape %s is not a tuple", describe(v))
	}
	if len(items) > 32 {
		return nil, fmt.Errorf("ndarray has %d dimensions", len(items))
	}
	shape := make([]int, len(items))
	for i, x := range items {
		n, ok := x.(int)
		if !ok || n < 0 {
			return nil, fmt.Errorf("ndarray shape %s has a bad dimension", describe(v))
		}
		shape[i] = n
	}
	return shape, nil
}

// bytesOf accepts the byte-like values a pickle carries array data in.
func bytesOf(v any) ([]byte, error) {
	switch t := v.(type) {
	case []byte:
		return t, nil
	case *types.ByteArray:
		return []byte(*t), nil
	case string:
		// Protocol 2 without _codecs: latin-1 text.
		return latin1(t)
	}
	return nil, fmt.Errorf("%s is not bytes", describe(v))
}

// latin1 encodes text whose code points are all below 256 as bytes.
func latin1(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r > 255 || (r == utf8.RuneError && n == 1) {
			return nil, fmt.Errorf("text at byte %d is not latin-1", i)
		}
		out = append(out, byte(r))
		i += n
	}
	return out, nil
}

// codecsEncode implements _codecs.encode(text, "latin1"), which protocol 2
// uses to carry bytes.
func codecsEncode(args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("takes 2 arguments, got %d", len(args))
	}
	s, ok := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok || !ok2 || (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1") {
		return nil, fmt.Errorf("only encodes text as latin1, got (%s, %s)", describe(args[0]), describe(args[1]))
	}
	return latin1(s)
}

// emptyBytes implements bytes() with no arguments (protocol 2's empty bytes).
func emptyBytes(args []any) (any, error) {
	if len(args) != 0 {
		return nil, errors.New("only bytes() with no arguments is allowed")
	}
	return []byte{}, nil
}

// frombuffer implements numpy.core.numeric._frombuffer(buf, dtype, shape,
// order), protocol 5's array reconstruction.
func frombuffer(args []any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("takes 4 arguments, got %d", len(args))
	}
	data, err := bytesOf(args[0])
	if err != nil {
		return nil, err
	}
	dtype, ok := args[1].(*Dtype)
	if !ok || dtype.Kind == 'O' {
		return nil, fmt.Errorf("dtype %s cannot come from a buffer", describe(args[1]))
	}
	shape, err := shapeOf(args[2])
	if err != nil {
		return nil, err
	}
	order, _ := args[3].(string)
	if order != "C" && order != "F" {
		return nil, fmt.Errorf("order %s is not C or F", describe(args[3]))
	}
	dtype.frozen = true
	a := &Array{Dtype: dtype, Shape: shape}
	if err := a.setData(data, order == "F"); err != nil {
		return nil, err
	}
	return a, nil
}

// scalar implements numpy.core.multiarray.scalar(dtype, data): a numpy scalar
// decoded to int64, uint64, float64, bool or string.
func scalar(args []any) (any, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("takes 1 or 2 arguments, got %d", len(args))
	}
	dtype, ok := args[0].(*Dtype)
	if !ok {
		return nil, fmt.Errorf("%s is not a dtype", describe(args[0]))
	}
	if dtype.Kind == 'O' {
		if len(args) != 2 {
			return nil, errors.New("object scalar without a value")
		}
		return args[1], nil
	}
	if len(args) != 2 {
		return nil, errors.New("scalar without data")
	}
	data, err := bytesOf(args[1])
	if err != nil {
		return nil, err
	}
	dtype.frozen = true
	if len(data) != dtype.ItemSize || len(dtype.Fields) > 0 {
		return nil, fmt.Errorf("scalar of dtype %s has %d bytes", dtype, len(data))
	}
	return element(dtype, data)
}

// element decodes one element of a non-object, non-structured dtype.
func element(d *Dtype, b []byte) (any, error) {
	var order binary.ByteOrder = binary.LittleEndian
	if d.BigEndian {
		order = binary.BigEndian
	}
	switch d.Kind {
	case 'f':
		if d.ItemSize == 4 {
			return float64(math.Float32frombits(order.Uint32(b))), nil
		}
		return math.Float64frombits(order.Uint64(b)), nil
	case 'i':
		switch d.ItemSize {
		case 1:
			return int64(int8(b[0])), nil
		case 2:
			return int64(int16(order.Uint16(b))), nil
		case 4:
			return int64(int32(order.Uint32(b))), nil
		}
		return int64(order.Uint64(b)), nil
	case 'u':
		switch d.ItemSize {
		case 1:
			return int64(b[0]), nil
		case 2:
			return int64(order.Uint16(b)), nil
		case 4:
			return int64(order.Uint32(b)), nil
		}
		u := order.Uint64(b)
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case 'b':
		return b[0] != 0, nil
	case 'S':
		n := len(b)
		for n > 0 && b[n-1] == 0 {
			n--
		}
		return string(b[:n]), nil
	case 'U':
		rs := make([]rune, 0, len(b)/4)
		for i := 0; i+4 <= len(b); i += 4 {
			r := rune(order.Uint32(b[i:]))
			if r == 0 {
				break
			}
			if !utf8.ValidRune(r) {
				return nil, fmt.Errorf("unicode element holds invalid code point %#x", uint32(r))
			}
			rs = append(rs, r)
		}
		return string(rs), nil
	}
	return nil, fmt.Errorf("elements of dtype %s are not read", d)
}

// Values returns every element as a Go value: int64, uint64, float64, bool or
// string, or for object arrays the objects themselves (Python ints as int64).
func (a *Array) Values() ([]any, error) {
	if a.Dtype == nil {
		return nil, errors.New("array has no dtype")
	}
	if a.Dtype.Kind == 'O' {
		out := make([]any, len(a.Objects))
		for i, o := range a.Objects {
			switch t := o.(type) {
			case int:
				out[i] = int64(t)
			case *big.Int:
				return nil, fmt.Errorf("element %d is an integer too large for int64", i)
			default:
				out[i] = o
			}
		}
		return out, nil
	}
	if len(a.Dtype.Fields) > 0 {
		return nil, errors.New("structured array has no plain values")
	}
	size := a.Dtype.ItemSize
	out := make([]any, 0, len(a.Data)/size)
	for i := 0; i+size <= len(a.Data); i += size {
		v, err := element(a.Dtype, a.Data[i:i+size])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Float64s returns the elements of a numeric array as float64.
func (a *Array) Float64s() ([]float64, error) {
	return a.fieldFloat64s(a.Dtype, 0, a.itemSize())
}

// Int64s returns the elements of an integer or bool array as int64.
func (a *Array) Int64s() ([]int64, error) {
	return a.fieldInt64s(a.Dtype, 0, a.itemSize())
}

func (a *Array) itemSize() int {
	if a.Dtype == nil {
		return 0
	}
	return a.Dtype.ItemSize
}

// FieldFloat64s returns one field of a structured array as float64.
func (a *Array) FieldFloat64s(name string) ([]float64, error) {
	f, err := a.field(name)
	if err != nil {
		return nil, err
	}
	return a.fieldFloat64s(f.Dtype, f.Offset, a.Dtype.ItemSize)
}

// FieldInt64s returns one integer field of a structured array as int64.
func (a *Array) FieldInt64s(name string) ([]int64, error) {
	f, err := a.field(name)
	if err != nil {
		return nil, err
	}
	return a.fieldInt64s(f.Dtype, f.Offset, a.Dtype.ItemSize)
}

// HasField reports whether a structured array has the named field.
func (a *Array) HasField(name string) bool {
	if a.Dtype == nil {
		return false
	}
	_, ok := a.Dtype.Field(name)
	return ok
}

func (a *Array) field(name string) (Field, error) {
	if a.Dtype == nil || len(a.Dtype.Fields) == 0 {
		return Field{}, fmt.Errorf("array of dtype %s has no fields", a.Dtype)
	}
	f, ok := a.Dtype.Field(name)
	if !ok {
		return Field{}, fmt.Errorf("array of dtype %s has no field %q", a.Dtype, name)
	}
	return f, nil
}

func (a *Array) fieldFloat64s(d *Dtype, off, stride int) ([]float64, error) {
	if d == nil || stride <= 0 || a.Dtype.Kind == 'O' {
		return nil, fmt.Errorf("array of dtype %s is not numeric", a.Dtype)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if d.BigEndian {
		order = binary.BigEndian
	}
	n := len(a.Data) / stride
	out := make([]float64, n)
	for i := range out {
		b := a.Data[i*stride+off : i*stride+off+d.ItemSize]
		switch {
		case d.Kind == 'f' && d.ItemSize == 8:
			out[i] = math.Float64frombits(order.Uint64(b))
		case d.Kind == 'f' && d.ItemSize == 4:
			out[i] = float64(math.Float32frombits(order.Uint32(b)))
		case d.Kind == 'i' || d.Kind == 'u' || d.Kind == 'b':
			v, err := element(d, b)
			if err != nil {
				return nil, err
			}
			switch t := v.(type) {
			case int64:
				out[i] = float64(t)
			case uint64:
				out[i] = float64(t)
			case bool:
				if t {
					out[i] = 1
				}
			}
		default:
			return nil, fmt.Errorf("array of dtype %s is not numeric", d)
		}
	}
	return out, nil
}

func (a *Array) fieldInt64s(d *Dtype, off, stride int) ([]int64, error) {
	if d == nil || stride <= 0 || (d.Kind != 'i' && d.Kind != 'u' && d.Kind != 'b') {
		return nil, fmt.Errorf("array of dtype %s is not integer", d)
	}
	n := len(a.Data) / stride
	out := make([]int64, n)
	if d.Kind == 'i' && d.ItemSize == 8 {
		var order binary.ByteOrder = binary.LittleEndian
		if d.BigEndian {
			order = binary.BigEndian
		}
		for i := range out {
			out[i] = int64(order.Uint64(a.Data[i*stride+off:]))
		}
		return out, nil
	}
	for i := range out {
		v, err := element(d, a.Data[i*stride+off:i*stride+off+d.ItemSize])
		if err != nil {
			return nil, err
		}
		switch t := v.(type) {
		case int64:
			out[i] = t
		case uint64:
			return nil, fmt.Errorf("element %d (%d) does not fit int64", i, t)
		case bool:
			if t {
				out[i] = 1
			}
		}
	}
	return out, nil
}

// describe names a decoded value's type for error messages.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case *Object:
		return t.Class.String() + " object"
	case *Class:
		return "class " + t.String()
	case string:
		if len(t) > 40 {
			t = t[:40] + "..."
		}
		return strconv.Quote(t)
	case int, int64, float64, bool:
		return fmt.Sprint(t)
	}
	return fmt.Sprintf("%T", v)
}

// Describe names a decoded value's type for error messages.
func Describe(v any) string { return describe(v) }
