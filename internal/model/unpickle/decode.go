// Package unpickle decodes Python pickle streams (protocols 2 to 5) and joblib
// files into inert Go values without executing anything in them.
//
// gopickle (github.com/nlpodyssey/gopickle) runs the opcodes, reading through
// a guard that validates each opcode first: argument lengths against the
// bytes present, stack shapes on a shadow of the pickle machine, and every
// global the stream names against Decode's allowlist, from the literal names,
// before gopickle resolves anything. gopickle's FindClass hook applies the
// same allowlist again. Allowed numpy names rebuild arrays, dtypes and
// scalars as Go data (Array, Dtype, int64/float64/...); allowed classes
// become *Object values that only record their constructor arguments and
// BUILD state. Anything else is refused with a *RefusedError naming the
// global. No Python code, and no code named by the file, ever runs.
package unpickle

import (
	"errors"
	"fmt"

	gopickle "github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// RefusedError reports a global the stream names that is not on the allowlist.
type RefusedError struct {
	Module, Name string
}

// Error names the refused global.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to load %s.%s: not a model class strata knows", e.Module, e.Name)
}

// Allow decides whether a class (module.name) may be rebuilt as an *Object.
type Allow func(module, name string) bool

// Class is an allowed Python class. Calling it (REDUCE, NEWOBJ) makes an
// *Object that records the arguments; nothing else happens.
type Class struct {
	Module, Name string
}

// String returns module.name.
func (c *Class) String() string { return c.Module + "." + c.Name }

// Call implements gopickle's types.Callable.
func (c *Class) Call(args ...any) (any, error) { return &Object{Class: c, Args: args}, nil }

// PyNew implements gopickle's types.PyNewable.
func (c *Class) PyNew(args ...any) (any, error) { return &Object{Class: c, Args: args}, nil }

// Object is an instance of an allowed class, kept as inert data.
type Object struct {
	Class *Class
	// Args are the values the pickle passed to the class.
	Args []any
	// State is what BUILD set (usually a *types.Dict of attributes), or nil.
	State any
}

// PySetState implements gopickle's types.PyStateSettable.
func (o *Object) PySetState(state any) error {
	o.State = state
	return nil
}

// function is an allowed Python function, implemented in Go as pure data
// conversion.
type function struct {
	module, name string
	call         func(args []any) (any, error)
}

// Call implements gopickle's types.Callable. Bytes come back as a
// *types.ByteArray: the guard's shadow stack takes every call result to be
// hashable (gopickle keys Go maps with set members), and a []byte is not.
func (f *function) Call(args ...any) (any, error) {
	v, err := f.call(args)
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", f.module, f.name, err)
	}
	if b, ok := v.([]byte); ok {
		return types.NewByteArrayFromSlice(b), nil
	}
	return v, nil
}

// typeRef is a class the pickle may name as an argument (numpy.ndarray) but
// never call.
type typeRef struct{ module, name string }

// decoder holds the state of one Decode call.
type decoder struct {
	allow Allow
	g     *guard
	depth int // pickles nested in a joblib file
}

// Decode decodes one pickle stream, or a joblib file (plain or compressed),
// into inert Go values. allow says which classes beyond the built-in numpy
// names may be rebuilt as *Object. Errors do not name the file; callers add
// it. Bytes, bytearrays and array data in the result are views of data (or
// of its decompressed copy): data must not change while they are used.
func Decode(data []byte, allow Allow) (v any, err error) {
	data, err = decompress(data)
	if err != nil {
		return nil, err
	}
	// Belt and braces: the guard checks every argument and stack shape
	// gopickle relies on, so this should never fire.
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("malformed pickle (decoder panicked: %v)", r)
		}
	}()
	d := &decoder{allow: allow}
	d.g = newGuard(data, d.checkGlobal, memoHintFor(len(data)))
	v, err = d.load()
	if err != nil {
		return nil, err
	}
	if err := checkResult(v); err != nil {
		return nil, err
	}
	return v, nil
}

// maxNesting bounds joblib's pickles nested inside pickles.
const maxNesting = 8

// load runs gopickle over the guard from its current position to STOP.
func (d *decoder) load() (any, error) {
	u := gopickle.NewUnpickler(d.g)
	u.FindClass = d.findClass
	u.MemoSizeHint = d.g.memoHint
	u.PersistentLoad = func(any) (any, error) {
		return nil, errors.New("pickle uses persistent IDs, which model files never do")
	}
	u.GetExtension = func(code int) (any, error) {
		return nil, fmt.Errorf("pickle uses extension code %d, which model files never do", code)
	}
	u.NextBuffer = func() (any, error) {
		return nil, errors.New("pickle refers to an out-of-band buffer, which a file cannot carry")
	}
	v, err := u.Load()
	if err != nil {
		return nil, d.wrap(err)
	}
	return v, nil
}

// wrap gives a decoding error the position it happened at.
func (d *decoder) wrap(err error) error {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return refused
	}
	if d.g.pos >= len(d.g.data) {
		return fmt.Errorf("truncated pickle (ends at byte %d without STOP): %w", len(d.g.data), err)
	}
	return fmt.Errorf("bad pickle near byte %d: %w", d.g.pos, err)
}

// findClass is gopickle's FindClass hook: the allowlist.
func (d *decoder) findClass(module, name string) (any, error) {
	switch module {
	case "numpy.core.multiarray", "numpy._core.multiarray":
		switch name {
		case "_reconstruct":
			return &function{module, name, reconstruct}, nil
		case "scalar":
			return &function{module, name, scalar}, nil
		}
	case "numpy.core.numeric", "numpy._core.numeric":
		if name == "_frombuffer" {
			return &function{module, name, frombuffer}, nil
		}
	case "numpy":
		switch name {
		case "dtype":
			return &function{module, name, newDtype}, nil
		case "ndarray":
			return &typeRef{module, name}, nil
		}
	case "_codecs":
		if name == "encode" {
			return &function{module, name, codecsEncode}, nil
		}
	case "copyreg", "copy_reg":
		// gopickle resolves the Python 2 spelling copy_reg itself.
		if name == "_reconstructor" {
			return &types.Reconstructor{}, nil
		}
	case "builtins", "__builtin__":
		switch name {
		case "object":
			return &types.ObjectClass{}, nil
		case "bytes":
			return &function{module, name, emptyBytes}, nil
		}
	case "numpy.random._pickle":
		switch name {
		case "__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor":
			// Random state is kept as inert data: a model never draws from it.
			return &Class{module, name}, nil
		}
	case "numpy.random.mtrand":
		if name == "RandomState" {
			return &Class{module, name}, nil
		}
	case "numpy.random._mt19937":
		if name == "MT19937" {
			return &Class{module, name}, nil
		}
	case "joblib.numpy_pickle":
		if name == "NumpyArrayWrapper" {
			return &wrapperClass{d: d}, nil
		}
	}
	if d.allow != nil && d.allow(module, name) {
		return &Class{module, name}, nil
	}
	return nil, &RefusedError{module, name}
}

// checkGlobal is the guard's allowlist check, made from the literal names
// before gopickle sees the opcode.
func (d *decoder) checkGlobal(module, name string) error {
	_, err := d.findClass(module, name)
	return err
}

// checkResult is a second line behind the guard: gopickle resolves three
// Python 2 names (collections.OrderedDict, __builtin__.object,
// copy_reg._reconstructor) without asking findClass. The guard refuses
// OrderedDict from its literal name before gopickle runs; should anything
// slip through, the values gopickle makes for these names are refused here.
func checkResult(v any) error {
	seen := map[any]bool{}
	stack := []any{v}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch t := x.(type) {
		case *types.OrderedDict, *types.OrderedDictClass:
			return &RefusedError{"collections", "OrderedDict"}
		case *types.ObjectClass:
			return &RefusedError{"__builtin__", "object"}
		case *types.Reconstructor:
			return &RefusedError{"copy_reg", "_reconstructor"}
		case *types.List:
			if !seen[t] {
				seen[t] = true
				stack = append(stack, []any(*t)...)
			}
		case *types.Tuple:
			if !seen[t] {
				seen[t] = true
				stack = append(stack, []any(*t)...)
			}
		case *types.Dict:
			if !seen[t] {
				seen[t] = true
				for _, e := range *t {
					stack = append(stack, e.Key, e.Value)
				}
			}
		case *types.Set:
			if !seen[t] {
				seen[t] = true
				for k := range *t {
					stack = append(stack, k)
				}
			}
		case *types.FrozenSet:
			if !seen[t] {
				seen[t] = true
				for k := range *t {
					stack = append(stack, k)
				}
			}
		case *Object:
			if !seen[t] {
				seen[t] = true
				stack = append(stack, t.Args...)
				stack = append(stack, t.State)
			}
		case *Array:
			if !seen[t] {
				seen[t] = true
				stack = append(stack, t.Objects...)
			}
		}
	}
	return nil
}
