package model

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// node13 is one node in sklearn 1.3's layout, written below at offsets of
// our choosing: the reader must go by the dtype's field names and offsets.
type node13 struct {
	left, right, feature int64
	threshold            float64
	missingLeft          uint8
}

// hand13Tree builds a pickled-Tree-shaped object whose node dtype lists the
// 1.3 fields in a scrambled order, at scrambled offsets, in a 64-byte record.
func hand13Tree(t *testing.T, nodes []node13, values []float64, width int) *unpickle.Object {
	t.Helper()
	f8 := &unpickle.Dtype{Kind: 'f', ItemSize: 8}
	i8 := &unpickle.Dtype{Kind: 'i', ItemSize: 8}
	u1 := &unpickle.Dtype{Kind: 'u', ItemSize: 1}
	off := map[string]int{
		"threshold": 0, "missing_go_to_left": 8, "feature": 16, "right_child": 24,
		"left_child": 32, "impurity": 40, "n_node_samples": 48, "weighted_n_node_samples": 56,
	}
	dt := &unpickle.Dtype{Kind: 'V', ItemSize: 64, Fields: []unpickle.Field{
		{Name: "left_child", Dtype: i8, Offset: off["left_child"]},
		{Name: "right_child", Dtype: i8, Offset: off["right_child"]},
		{Name: "feature", Dtype: i8, Offset: off["feature"]},
		{Name: "threshold", Dtype: f8, Offset: off["threshold"]},
		{Name: "impurity", Dtype: f8, Offset: off["impurity"]},
		{Name: "n_node_samples", Dtype: i8, Offset: off["n_node_samples"]},
		{Name: "weighted_n_node_samples", Dtype: f8, Offset: off["weighted_n_node_samples"]},
		{Name: "missing_go_to_left", Dtype: u1, Offset: off["missing_go_to_left"]},
	}}
	data := make([]byte, 64*len(nodes))
	le := binary.LittleEndian
	for i, n := range nodes {
		rec := data[64*i:]
		le.PutUint64(rec[off["left_child"]:], uint64(n.left))
		le.PutUint64(rec[off["right_child"]:], uint64(n.right))
		le.PutUint64(rec[off["feature"]:], uint64(n.feature))
		le.PutUint64(rec[off["threshold"]:], math.Float64bits(n.threshold))
		rec[off["missing_go_to_left"]] = n.missingLeft
	}
	vals := make([]byte, 8*len(values))
	for i, v := range values {
		le.PutUint64(vals[8*i:], math.Float64bits(v))
	}
	state := types.NewDict()
	state.Set("max_depth", 2)
	state.Set("node_count", len(nodes))
	state.Set("nodes", &unpickle.Array{Dtype: dt, Shape: []int{len(nodes)}, Data: data})
	state.Set("values", &unpickle.Array{Dtype: f8, Shape: []int{len(nodes), 1, width}, Data: vals})
	return &unpickle.Object{
		Class: &unpickle.Class{Module: "sklearn.tree._tree", Name: "Tree"},
		Args:  []any{2, &unpickle.Array{Dtype: i8, Shape: []int{1}, Data: make([]byte, 8)}, 1},
		State: state,
	}
}

func TestTreeSklearn13Layout(t *testing.T) {
	// Root splits feature 0 at 0.1 (NaN goes left); node 2 splits feature 1
	// at 2.5 (NaN goes right).
	nodes := []node13{
		{left: 1, right: 2, feature: 0, threshold: 0.1, missingLeft: 1},
		{left: -1, right: -1, feature: -2, threshold: -2},
		{left: 3, right: 4, feature: 1, threshold: 2.5, missingLeft: 0},
		{left: -1, right: -1, feature: -2, threshold: -2},
		{left: -1, right: -1, feature: -2, threshold: -2},
	}
	values := []float64{10, 20, 30, 40, 50}
	tr, err := parseTree(hand13Tree(t, nodes, values, 1), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.missing {
		t.Fatal("missing_go_to_left not detected")
	}
	f32below := float64(math.Nextafter32(float32(0.1), 0))
	cases := []struct {
		x    []float64
		leaf int
	}{
		{[]float64{0, 0}, 1},
		{[]float64{math.NaN(), 0}, 1},             // NaN follows missing_go_to_left=1
		{[]float64{1, math.NaN()}, 4},             // NaN follows missing_go_to_left=0: right
		{[]float64{1, 2.5}, 3},                    // on the threshold: left
		{[]float64{1, math.Nextafter(2.5, 3)}, 3}, // rounds to 2.5 in float32
		{[]float64{1, float64(math.Nextafter32(2.5, 3))}, 4},
		// 0.1 as float32 is 0.100000001490116..., above the float64 0.1:
		// sklearn's float32 cast sends it right, then 0 <= 2.5: node 3.
		{[]float64{0.1, 0}, 3},
		{[]float64{f32below, 0}, 1},
	}
	for _, c := range cases {
		x := []float32{float32(c.x[0]), float32(c.x[1])}
		got := tr.leaf(x)
		if got != c.leaf {
			t.Errorf("x=%v: leaf %d, want %d", c.x, got, c.leaf)
		}
	}
}

func TestTreeRejectsLoops(t *testing.T) {
	nodes := []node13{
		{left: 1, right: 2, feature: 0, threshold: 0.5},
		{left: 0, right: 2, feature: 0, threshold: 0.5}, // points back at the root
		{left: -1, right: -1, feature: -2, threshold: -2},
	}
	_, err := parseTree(hand13Tree(t, nodes, make([]float64, 3), 1), 2, 1)
	if err == nil || !strings.Contains(err.Error(), "not later nodes") {
		t.Fatalf("looping tree: %v", err)
	}
	nodes[1] = node13{left: 2, right: 2, feature: 7, threshold: 0.5}
	_, err = parseTree(hand13Tree(t, nodes, make([]float64, 3), 1), 2, 1)
	if err == nil || !strings.Contains(err.Error(), "feature 7 out of range") {
		t.Fatalf("bad feature: %v", err)
	}
}

// obj makes a decoded sklearn object with the given attributes.
func obj(module, name string, attrs map[string]any) *unpickle.Object {
	d := types.NewDict()
	for k, v := range attrs {
		d.Set(k, v)
	}
	return &unpickle.Object{Class: &unpickle.Class{Module: module, Name: name}, State: d}
}

func TestErrorsNameTheField(t *testing.T) {
	good := []node13{
		{left: 1, right: 2, feature: 0, threshold: 0.5},
		{left: -1, right: -1, feature: -2, threshold: -2},
		{left: -1, right: -1, feature: -2, threshold: -2},
	}
	bad := append([]node13(nil), good...)
	bad[0].feature = 7
	classes := &unpickle.Array{Dtype: &unpickle.Dtype{Kind: 'i', ItemSize: 8}, Shape: []int{1}, Data: make([]byte, 8)}
	tree := func(nodes []node13) *unpickle.Object {
		return obj("sklearn.tree._classes", "DecisionTreeClassifier", map[string]any{
			"n_features_in_": 2, "n_outputs_": 1, "classes_": classes,
			"tree_": hand13Tree(t, nodes, make([]float64, 3), 1),
		})
	}
	forest := obj("sklearn.ensemble._forest", "RandomForestClassifier", map[string]any{
		"n_features_in_": 2, "n_outputs_": 1, "classes_": classes,
		"estimators_": types.NewListFromSlice([]any{tree(good), tree(good), tree(good), tree(bad)}),
	})
	_, err := (&builder{}).build(forest)
	want := "RandomForestClassifier.estimators_[3]: DecisionTreeClassifier.tree_: nodes[0]: feature 7 out of range for 2 features"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant  %s", err, want)
	}
	// A pipeline that contains itself stops at the nesting bound.
	loop := obj("sklearn.pipeline", "Pipeline", nil)
	loop.State.(*types.Dict).Set("steps", types.NewListFromSlice([]any{types.NewTupleFromSlice([]any{"again", loop})}))
	if _, err := (&builder{}).build(loop); err == nil || !strings.Contains(err.Error(), "nest more than") {
		t.Fatalf("self-containing pipeline: %v", err)
	}
}
