package pickle

// strata's additions to gopickle (see ../PATCHES.md): the interface for
// reading arguments in place, and the memo as a type of its own. Kept in a
// file of their own so that pickle.go stays close to upstream's.

import "slices"

// InPlaceReader is an input that can return its next n bytes without
// copying them. When the Unpickler's input implements it, the arguments of
// opcodes are read in place, not copied: the bytes and bytearrays the
// Unpickler builds are then views of the input, which must stay unchanged
// as long as they are used.
type InPlaceReader interface {
	// ReadInPlace returns the next n bytes, or an error (io.EOF or
	// io.ErrUnexpectedEOF) if fewer remain.
	ReadInPlace(n int) ([]byte, error)
}

// Memo is the pickle machine's memo, holding values of type T: the
// Unpickler's holds the values themselves, a checker running beside it
// can hold what it knows of them. Python numbers memo entries densely from
// 0, so those live in a slice that grows one entry at a time; any other
// index (a hand-made pickle's) lives in a map, so that no small input can
// make the slice large. The zero value is an empty memo.
type Memo[T any] struct {
	near []T
	far  map[int]T
	n    int
}

// Grow makes room for n more dense entries.
func (m *Memo[T]) Grow(n int) { m.near = slices.Grow(m.near, n) }

// Len is how many indices are set: the index MEMOIZE uses next.
func (m *Memo[T]) Len() int { return m.n }

// Get returns the value at i, or T's zero value if none is set.
func (m *Memo[T]) Get(i int) T {
	if i >= 0 && i < len(m.near) {
		return m.near[i]
	}
	return m.far[i]
}

// Put sets the value at i.
func (m *Memo[T]) Put(i int, v T) {
	switch {
	case i >= 0 && i < len(m.near):
		m.near[i] = v
	case i == len(m.near):
		if _, ok := m.far[i]; ok {
			delete(m.far, i)
		} else {
			m.n++
		}
		m.near = append(m.near, v)
	default:
		if m.far == nil {
			m.far = map[int]T{}
		}
		if _, ok := m.far[i]; !ok {
			m.n++
		}
		m.far[i] = v
	}
}
