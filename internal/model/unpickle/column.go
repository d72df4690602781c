package unpickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Column reads the elements of a numeric array, or one numeric field of a
// structured array, in place: nothing is copied or boxed. Its zero value is
// an empty column.
type Column struct {
	data   []byte
	dtype  *Dtype
	off    int // byte offset of the field in a record
	stride int // bytes per record
	n      int // records
}

// Column returns a view of the named field of a structured array, or with
// name "" of the elements of a plain (non-structured, non-object) array.
func (a *Array) Column(name string) (Column, error) {
	if a.Dtype == nil || a.Dtype.ItemSize <= 0 || a.Dtype.Kind == 'O' {
		return Column{}, fmt.Errorf("array of dtype %s has no numeric data", a.Dtype)
	}
	c := Column{data: a.Data, dtype: a.Dtype, stride: a.Dtype.ItemSize}
	if name == "" {
		if len(a.Dtype.Fields) > 0 {
			return Column{}, errors.New("structured array has no plain values")
		}
	} else {
		f, err := a.field(name)
		if err != nil {
			return Column{}, err
		}
		if f.Dtype == nil || f.Offset < 0 || f.Dtype.ItemSize <= 0 || f.Offset+f.Dtype.ItemSize > c.stride {
			return Column{}, fmt.Errorf("field %q does not fit the %d-byte record", name, c.stride)
		}
		c.dtype, c.off = f.Dtype, f.Offset
	}
	c.n = len(a.Data) / c.stride
	return c, nil
}

// Len is the number of elements (records).
func (c Column) Len() int { return c.n }

// Dtype is the element (field) dtype.
func (c Column) Dtype() *Dtype { return c.dtype }

// Integer reports whether the elements are integers or bools.
func (c Column) Integer() bool {
	if c.dtype == nil {
		return false
	}
	switch c.dtype.Kind {
	case 'i', 'u':
		return c.dtype.ItemSize == 1 || c.dtype.ItemSize == 2 || c.dtype.ItemSize == 4 || c.dtype.ItemSize == 8
	case 'b':
		return c.dtype.ItemSize == 1
	}
	return false
}

// Numeric reports whether the elements are floats, integers or bools.
func (c Column) Numeric() bool {
	if c.dtype != nil && c.dtype.Kind == 'f' {
		return c.dtype.ItemSize == 4 || c.dtype.ItemSize == 8
	}
	return c.Integer()
}

// bits returns the raw bits of element i, zero-extended.
func (c Column) bits(i int) uint64 {
	b := c.data[i*c.stride+c.off : i*c.stride+c.off+c.dtype.ItemSize]
	big := c.dtype.BigEndian
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		if big {
			return uint64(binary.BigEndian.Uint16(b))
		}
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		if big {
			return uint64(binary.BigEndian.Uint32(b))
		}
		return uint64(binary.LittleEndian.Uint32(b))
	}
	if big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// Int64 returns element i of an Integer column as int64; an unsigned value
// beyond int64 saturates at math.MaxInt64, a bool is 0 or 1. i must be in
// [0, Len()).
func (c Column) Int64(i int) int64 {
	u := c.bits(i)
	switch c.dtype.Kind {
	case 'i':
		shift := 64 - 8*uint(c.dtype.ItemSize)
		return int64(u<<shift) >> shift // sign-extend
	case 'b':
		if u != 0 {
			return 1
		}
		return 0
	}
	if u > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(u)
}

// Float64 returns element i of a Numeric column as float64. i must be in
// [0, Len()).
func (c Column) Float64(i int) float64 {
	if c.dtype.Kind == 'f' {
		u := c.bits(i)
		if c.dtype.ItemSize == 4 {
			return float64(math.Float32frombits(uint32(u)))
		}
		return math.Float64frombits(u)
	}
	if c.dtype.Kind == 'u' {
		return float64(c.bits(i))
	}
	return float64(c.Int64(i))
}
