package unpickle

import (
	"fmt"
	"math/big"

	"github.com/nlpodyssey/gopickle/types"
)

// Attributes is an object's attributes as BUILD set them: its state dict,
// and the slot state when BUILD got a (dict, slots) pair. It reads them in
// place: models have a few dozen attributes per estimator, and a forest
// hundreds of estimators, so a lookup by scanning beats building a map.
type Attributes struct {
	dict, slots types.Dict
}

// Attributes checks that o's state is attributes keyed by name and returns
// them.
func (o *Object) Attributes() (Attributes, error) {
	var a Attributes
	state := o.State
	if t, ok := state.(*types.Tuple); ok && t.Len() == 2 {
		slots, err := attrDict(t.Get(1))
		if err != nil {
			return Attributes{}, err
		}
		a.slots = slots
		state = t.Get(0)
	}
	dict, err := attrDict(state)
	if err != nil {
		return Attributes{}, err
	}
	a.dict = dict
	return a, nil
}

// Get returns the attribute name. As Python's BUILD sets them, slot state
// wins over the state dict (it is set after the dict is updated), and a
// name set twice has the value set last.
func (a Attributes) Get(name string) (any, bool) {
	for _, d := range [2]types.Dict{a.slots, a.dict} {
		for i := len(d) - 1; i >= 0; i-- {
			if d[i].Key == name {
				return d[i].Value, true
			}
		}
	}
	return nil, false
}

// Attrs returns an object's attributes as a map keyed by name.
func (o *Object) Attrs() (map[string]any, error) {
	a, err := o.Attributes()
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, len(a.dict)+len(a.slots))
	for _, d := range [2]types.Dict{a.dict, a.slots} {
		for _, e := range d {
			m[e.Key.(string)] = e.Value
		}
	}
	return m, nil
}

// attrDict checks that state is nil or a dict keyed by strings.
func attrDict(state any) (types.Dict, error) {
	switch t := state.(type) {
	case nil:
		return nil, nil
	case *types.Dict:
		for _, e := range *t {
			if _, ok := e.Key.(string); !ok {
				return nil, fmt.Errorf("attribute name %s is not a string", describe(e.Key))
			}
		}
		return *t, nil
	}
	return nil, fmt.Errorf("object state %s is not a dict", describe(state))
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
