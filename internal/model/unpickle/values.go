package unpickle

import (
	"fmt"
	"math/big"

	"github.com/nlpodyssey/gopickle/types"
)

// Attrs returns an object's attributes: its BUILD state dict (merged with the
// slot state when BUILD got a (dict, slots) pair), keyed by attribute name.
func (o *Object) Attrs() (map[string]any, error) {
	n := 0
	if d, ok := o.State.(*types.Dict); ok {
		n = len(*d)
	}
	attrs := make(map[string]any, n)
	state := o.State
	if t, ok := state.(*types.Tuple); ok && t.Len() == 2 {
		if err := addAttrs(attrs, t.Get(1)); err != nil {
			return nil, err
		}
		state = t.Get(0)
	}
	if err := addAttrs(attrs, state); err != nil {
		return nil, err
	}
	return attrs, nil
}

func addAttrs(attrs map[string]any, state any) error {
	switch t := state.(type) {
	case nil:
		return nil
	case *types.Dict:
		for _, e := range *t {
			k, ok := e.Key.(string)
			if !ok {
				return fmt.Errorf("attribute name %s is not a string", describe(e.Key))
			}
			attrs[k] = e.Value
		}
		return nil
	}
	return fmt.Errorf("object state %s is not a dict", describe(state))
}

// Seq returns the items of a tuple or list.
func Seq(v any) ([]any, bool) {
	switch t := v.(type) {
	case *types.Tuple:
		return *t, true
	case *types.List:
		return *t, true
	}
	return nil, false
}

// Int returns an integer value (Python int, numpy integer scalar, bool).
func Int(v any) (int64, bool) {
	switch t := v.(type) {
	case int:
		return int64(t), true
	case int64:
		return t, true
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	case *big.Int:
		if t.IsInt64() {
			return t.Int64(), true
		}
	}
	return 0, false
}

// Float returns a numeric value as float64.
func Float(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint64:
		return float64(t), true
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
