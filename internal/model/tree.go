package model

import (
	"fmt"
	"math"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// treeNode is one node of a fitted tree. left < 0 marks a leaf.
type treeNode struct {
	threshold   float64
	left, right int32
	feature     int32
	missingLeft bool
}

// tree is sklearn.tree._tree.Tree as flat slices: nodes, and per node a run
// of width values (class weights or the regression value).
type tree struct {
	nodes  []treeNode
	values []float64
	width  int
	// missing is true when the nodes carry sklearn 1.3's missing_go_to_left.
	missing bool
}

// leaf returns the leaf x reaches, comparing as sklearn does: the feature
// cast to float32 (x is already float32) against the float64 threshold, NaN
// following missing_go_to_left (or going right, as NaN <= t is false, when
// the tree predates missing-value support).
func (t *tree) leaf(x []float32) int {
	nodes := t.nodes
	i := int32(0)
	for {
		n := &nodes[i]
		if n.left < 0 {
			return int(i)
		}
		v := x[n.feature]
		switch {
		case float64(v) <= n.threshold:
			i = n.left
		case v != v && n.missingLeft:
			i = n.left
		default:
			i = n.right
		}
	}
}

// value returns the values of the leaf x reaches.
func (t *tree) value(x []float32) []float64 {
	l := t.leaf(x)
	return t.values[l*t.width : (l+1)*t.width]
}

// parseTree reads a pickled sklearn.tree._tree.Tree, checking every index
// so that traversal can neither leave the slices nor loop.
func parseTree(v any, nFeatures, width int) (*tree, error) {
	o, ok := v.(*unpickle.Object)
	if !ok || o.Class.Name != "Tree" {
		return nil, fmt.Errorf("%s is not a sklearn Tree", unpickle.Describe(v))
	}
	if len(o.Args) != 3 {
		return nil, fmt.Errorf("Tree has %d constructor arguments, want 3", len(o.Args))
	}
	if n, ok := unpickle.Int(o.Args[0]); !ok || int(n) != nFeatures {
		return nil, fmt.Errorf("Tree has %s features, estimator has %d", unpickle.Describe(o.Args[0]), nFeatures)
	}
	if n, ok := unpickle.Int(o.Args[2]); !ok || n != 1 {
		return nil, fmt.Errorf("Tree has %s outputs; only single-output trees are supported", unpickle.Describe(o.Args[2]))
	}
	a, err := newAttrs(o)
	if err != nil {
		return nil, err
	}
	count, err := a.int("node_count")
	if err != nil {
		return nil, err
	}
	nodes, err := a.array("nodes")
	if err != nil {
		return nil, err
	}
	if len(nodes.Shape) != 1 || nodes.Shape[0] != count || count <= 0 {
		return nil, fmt.Errorf("nodes: shape %v, want (%d,)", nodes.Shape, count)
	}
	left, err := nodes.FieldInt64s("left_child")
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	right, err := nodes.FieldInt64s("right_child")
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	feature, err := nodes.FieldInt64s("feature")
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	threshold, err := nodes.FieldFloat64s("threshold")
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	if len(left) != count || len(right) != count || len(feature) != count || len(threshold) != count {
		return nil, fmt.Errorf("nodes: %d records for %d nodes", len(left), count)
	}
	t := &tree{nodes: make([]treeNode, count), width: width}
	var missing []int64
	if nodes.HasField("missing_go_to_left") {
		t.missing = true
		if missing, err = nodes.FieldInt64s("missing_go_to_left"); err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
		if len(missing) != count {
			return nil, fmt.Errorf("nodes: %d missing_go_to_left values for %d nodes", len(missing), count)
		}
	}
	for i := range t.nodes {
		n := &t.nodes[i]
		l, r := left[i], right[i]
		if l == -1 && r == -1 {
			n.left, n.right = -1, -1
			continue
		}
		// sklearn adds children after their parent, so indices only grow:
		// that keeps traversal finite.
		if l <= int64(i) || r <= int64(i) || l >= int64(count) || r >= int64(count) {
			return nil, fmt.Errorf("nodes[%d]: children %d and %d are not later nodes of %d", i, l, r, count)
		}
		if feature[i] < 0 || feature[i] >= int64(nFeatures) {
			return nil, fmt.Errorf("nodes[%d]: feature %d out of range for %d features", i, feature[i], nFeatures)
		}
		if math.IsNaN(threshold[i]) {
			return nil, fmt.Errorf("nodes[%d]: threshold is NaN", i)
		}
		n.left, n.right, n.feature, n.threshold = int32(l), int32(r), int32(feature[i]), threshold[i]
		n.missingLeft = missing != nil && missing[i] != 0
	}
	values, shape, err := a.floats("values")
	if err != nil {
		return nil, err
	}
	if len(shape) != 3 || shape[0] != count || shape[1] != 1 || shape[2] < width || len(values) != count*shape[2] {
		return nil, fmt.Errorf("values: shape %v (%d values), want (%d, 1, %d)", shape, len(values), count, width)
	}
	if shape[2] == width {
		t.values = values
	} else {
		t.values = make([]float64, count*width)
		for i := 0; i < count; i++ {
			copy(t.values[i*width:(i+1)*width], values[i*shape[2]:])
		}
	}
	return t, nil
}

// treeAllowsNaN says whether a fitted tree accepts NaN at predict time:
// sklearn 1.3 added it for the best splitter with gini/entropy/log_loss and
// squared_error/friedman_mse/poisson criteria, 1.6 for the random splitter.
func treeAllowsNaN(t *tree, a attrs, v version) bool {
	if !t.missing {
		return false
	}
	splitter, _ := a.m["splitter"].(string)
	criterion, _ := a.m["criterion"].(string)
	if splitter != "best" && !(splitter == "random" && v.atLeast(1, 6)) {
		return false
	}
	if mc, ok := a.m["monotonic_cst"]; ok && mc != nil {
		return false
	}
	switch criterion {
	case "gini", "entropy", "log_loss", "squared_error", "friedman_mse", "poisson":
		return true
	}
	return false
}

// float32Row casts a row to float32 as sklearn's trees do.
func float32Row(row []float64, buf []float32) []float32 {
	buf = buf[:len(row)]
	for j, x := range row {
		buf[j] = float32(x)
	}
	return buf
}

// treeClassifier is DecisionTreeClassifier or ExtraTreeClassifier.
type treeClassifier struct {
	meta    Info
	rule    inputRule
	classes []any
	tree    *tree
}

func buildTreeClassifier(_ *builder, o *unpickle.Object, a attrs) (estimator, error) {
	c := &treeClassifier{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	if c.classes, err = a.labels("classes_"); err != nil {
		return nil, err
	}
	if outs, err := a.int("n_outputs_"); err != nil || outs != 1 {
		return nil, fmt.Errorf("n_outputs_: only single-output classifiers are supported (%v)", err)
	}
	tv, err := a.get("tree_")
	if err != nil {
		return nil, err
	}
	if c.tree, err = parseTree(tv, n, len(c.classes)); err != nil {
		return nil, fmt.Errorf("tree_: %w", err)
	}
	c.meta.AllowsNaN = treeAllowsNaN(c.tree, a, parseVersion(c.meta.SklearnVersion))
	c.rule = inputRule{name: c.meta.Estimator, features: n, allowNaN: c.meta.AllowsNaN, float32In: true}
	return c, nil
}

func (c *treeClassifier) info() Info { return c.meta }

// Info implements Model.
func (c *treeClassifier) Info() Info { return c.meta }

// NumFeatures implements Model.
func (c *treeClassifier) NumFeatures() int { return c.rule.features }

// Classes implements Classifier.
func (c *treeClassifier) Classes() []any { return append([]any(nil), c.classes...) }

// Predict implements Model.
func (c *treeClassifier) Predict(rows [][]float64) ([]any, error) {
	if err := c.rule.check(rows); err != nil {
		return nil, err
	}
	out := make([]any, len(rows))
	buf := make([]float32, c.rule.features)
	for i, row := range rows {
		// sklearn takes argmax of the unnormalised leaf weights.
		out[i] = c.classes[argmax(c.tree.value(float32Row(row, buf)))]
	}
	return out, nil
}

// PredictProba implements Classifier.
func (c *treeClassifier) PredictProba(rows [][]float64) ([][]float64, error) {
	if err := c.rule.check(rows); err != nil {
		return nil, err
	}
	k := len(c.classes)
	out := make([][]float64, len(rows))
	flat := make([]float64, len(rows)*k)
	buf := make([]float32, c.rule.features)
	for i, row := range rows {
		p := flat[i*k : (i+1)*k : (i+1)*k]
		treeProba(c.tree.value(float32Row(row, buf)), p)
		out[i] = p
	}
	return out, nil
}

// treeProba normalises leaf class weights into p as
// DecisionTreeClassifier.predict_proba does.
func treeProba(v, p []float64) {
	norm := pairwiseSum(v)
	if norm == 0 {
		norm = 1
	}
	for j, x := range v {
		p[j] = x / norm
	}
}

// treeRegressor is DecisionTreeRegressor or ExtraTreeRegressor.
type treeRegressor struct {
	meta Info
	rule inputRule
	tree *tree
}

func buildTreeRegressor(_ *builder, o *unpickle.Object, a attrs) (estimator, error) {
	r := &treeRegressor{meta: newInfo(o, a)}
	n, err := a.nFeatures()
	if err != nil {
		return nil, err
	}
	if outs, err := a.int("n_outputs_"); err != nil || outs != 1 {
		return nil, fmt.Errorf("n_outputs_: only single-output regressors are supported (%v)", err)
	}
	tv, err := a.get("tree_")
	if err != nil {
		return nil, err
	}
	if r.tree, err = parseTree(tv, n, 1); err != nil {
		return nil, fmt.Errorf("tree_: %w", err)
	}
	r.meta.AllowsNaN = treeAllowsNaN(r.tree, a, parseVersion(r.meta.SklearnVersion))
	r.rule = inputRule{name: r.meta.Estimator, features: n, allowNaN: r.meta.AllowsNaN, float32In: true}
	return r, nil
}

func (r *treeRegressor) info() Info { return r.meta }

// Info implements Model.
func (r *treeRegressor) Info() Info { return r.meta }

// NumFeatures implements Model.
func (r *treeRegressor) NumFeatures() int { return r.rule.features }

// Predict implements Model.
func (r *treeRegressor) Predict(rows [][]float64) ([]any, error) {
	if err := r.rule.check(rows); err != nil {
		return nil, err
	}
	out := make([]any, len(rows))
	buf := make([]float32, r.rule.features)
	for i, row := range rows {
		out[i] = r.tree.value(float32Row(row, buf))[0]
	}
	return out, nil
}
