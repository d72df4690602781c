package model

import (
	"fmt"
	"math"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// node is one node of a fitted tree in prediction layout: 12 bytes. Nodes
// are numbered breadth first, so that a node's two children are neighbours:
// a walk steps to left+goRight(...), and loading the next index is not part
// of the chain of dependent loads. A leaf has leafKey as its key and itself
// as its left child, so that a walk that reaches it stays there: walks need
// no leaf test per step, and several rows can be walked in step.
type node struct {
	// key is orderKey(float32Threshold(sklearn's threshold)): a row goes
	// left when orderKey(float32(x[feature])) <= key, which is exactly
	// sklearn's float32(x) <= float64 threshold (NaN aside, see nanLeft).
	key     int32
	feature int32
	// left is the left child; the right child is left+1.
	left int32
}

// leafKey is a leaf's key: every row key is <= it, so a row goes "left".
const leafKey = math.MaxInt32

// tree is sklearn.tree._tree.Tree in prediction layout: the nodes, and per
// node a run of width values (class weights or the regression value).
type tree struct {
	nodes  []node
	values []float64
	width  int
	// sklearnIndex is each node's index in sklearn's numbering.
	sklearnIndex []int32
	// nanLeft says, per node, that NaN goes left (sklearn 1.3's
	// missing_go_to_left); nil when no node sends NaN left, which is then
	// the plain comparison's routing (NaN <= t is false: right).
	nanLeft []bool
	// missing is true when the nodes carry sklearn 1.3's missing_go_to_left.
	missing bool
}

// float32Threshold returns the largest float32 (or infinity) not above t.
// For every float32 x, float64(x) <= t exactly when x <= float32Threshold(t):
// if float64(x) <= t then x is a float32 not above t, so x <= the largest
// one; conversely x <= float32Threshold(t) <= t. NaN compares false both
// ways. t must not be NaN.
func float32Threshold(t float64) float32 {
	f := float32(t) // rounds to nearest: may land above t
	if float64(f) > t {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

// nanKey is orderKey's key for NaN: above every other key.
const nanKey = math.MaxInt32

// orderKey maps a float32 to an int32 that orders as the float compares:
// for non-NaN a and b, a <= b exactly when orderKey(a) <= orderKey(b). The
// float's bits order positive floats already; negative ones are ordered by
// flipping their magnitude bits. -0 and +0 (equal as floats) both map to 0,
// NaN to nanKey, above +Inf's key, so that NaN <= threshold stays false.
func orderKey(f float32) int32 {
	if f != f {
		return nanKey
	}
	if f == 0 {
		return 0
	}
	b := int32(math.Float32bits(f))
	return b ^ (b >> 31 & 0x7fffffff)
}

// goRight is 1 when a row's key x goes right at a node with key t
// (x > t), else 0: branch-free, as the direction is unpredictable.
func goRight(x, t int32) int {
	return int(uint64(int64(t)-int64(x)) >> 63)
}

// walk returns the leaf (in prediction numbering) x reaches, comparing as
// sklearn does: the feature cast to float32 (x is already float32) against
// the float64 threshold, NaN following missing_go_to_left (or going right,
// as NaN <= t is false, when the tree predates missing-value support).
func (t *tree) walk(x []float32) int {
	nodes := t.nodes
	i := int32(0)
	for {
		n := &nodes[i]
		k := orderKey(x[n.feature])
		j := n.left
		if k != nanKey || t.nanLeft == nil || !t.nanLeft[i] {
			j += int32(goRight(k, n.key))
		}
		if j == i {
			return int(i)
		}
		i = j
	}
}

// leaf returns the sklearn node index of the leaf x reaches.
func (t *tree) leaf(x []float32) int {
	return int(t.sklearnIndex[t.walk(x)])
}

// leafKeys is walk for a row already mapped through orderKey.
func (t *tree) leafKeys(x []int32) int {
	nodes := t.nodes
	i := int32(0)
	for {
		n := &nodes[i]
		k := x[n.feature]
		j := n.left
		if k != nanKey || t.nanLeft == nil || !t.nanLeft[i] {
			j += int32(goRight(k, n.key))
		}
		if j == i {
			return int(i)
		}
		i = j
	}
}

// value returns the values of the leaf x reaches.
func (t *tree) value(x []float32) []float64 {
	l := t.walk(x)
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
	var missing unpickle.Column
	left, err := nodes.Column("left_child")
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	right, err := nodes.Column("right_child")
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	feature, err := nodes.Column("feature")
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	threshold, err := nodes.Column("threshold")
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	if !threshold.Numeric() {
		return nil, fmt.Errorf("nodes: threshold of dtype %s is not numeric", threshold.Dtype())
	}
	for _, c := range [...]*unpickle.Column{&left, &right, &feature} {
		if !c.Integer() {
			return nil, fmt.Errorf("nodes: array of dtype %s is not integer", c.Dtype())
		}
	}
	if left.Len() != count {
		return nil, fmt.Errorf("nodes: %d records for %d nodes", left.Len(), count)
	}
	t := &tree{width: width}
	if nodes.HasField("missing_go_to_left") {
		t.missing = true
		if missing, err = nodes.Column("missing_go_to_left"); err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
		if !missing.Integer() {
			return nil, fmt.Errorf("nodes: array of dtype %s is not integer", missing.Dtype())
		}
	}
	// Check the nodes in sklearn's numbering, then lay them out breadth
	// first.
	type skNode struct {
		node        // left is the sklearn index of the left child
		right int32 // and this the right one's
		seen  bool  // reached from the root
	}
	sk := make([]skNode, count)
	for i := range sk {
		l, r := left.Int64(i), right.Int64(i)
		if l == -1 && r == -1 {
			sk[i].node = node{key: leafKey, left: -1}
			continue
		}
		// sklearn adds children after their parent, so indices only grow:
		// that keeps traversal finite.
		if l <= int64(i) || r <= int64(i) || l >= int64(count) || r >= int64(count) {
			return nil, fmt.Errorf("nodes[%d]: children %d and %d are not later nodes of %d", i, l, r, count)
		}
		f := feature.Int64(i)
		if f < 0 || f >= int64(nFeatures) {
			return nil, fmt.Errorf("nodes[%d]: feature %d out of range for %d features", i, f, nFeatures)
		}
		th := threshold.Float64(i)
		if math.IsNaN(th) {
			return nil, fmt.Errorf("nodes[%d]: threshold is NaN", i)
		}
		sk[i].node = node{key: orderKey(float32Threshold(th)), feature: int32(f), left: int32(l)}
		sk[i].right = int32(r)
	}
	// Breadth first from the root: order[k] is the sklearn index of node k.
	// A node reached twice would be laid out twice: sklearn's nodes form a
	// tree, so refuse that.
	order := make([]int32, 1, count)
	sk[0].seen = true
	t.nodes = make([]node, 0, count)
	for k := 0; k < len(order); k++ {
		i := order[k]
		n := sk[i]
		if n.key == leafKey {
			t.nodes = append(t.nodes, node{key: leafKey, left: int32(k)})
			continue
		}
		for _, c := range [2]int32{n.left, n.right} {
			if sk[c].seen {
				return nil, fmt.Errorf("nodes[%d]: child %d has another parent", i, c)
			}
			sk[c].seen = true
		}
		t.nodes = append(t.nodes, node{key: n.key, feature: n.feature, left: int32(len(order))})
		order = append(order, n.left, n.right)
	}
	t.sklearnIndex = order
	if t.missing {
		for k, i := range order {
			if t.nodes[k].key != leafKey && missing.Int64(int(i)) != 0 {
				if t.nanLeft == nil {
					t.nanLeft = make([]bool, len(order))
				}
				t.nanLeft[k] = true
			}
		}
	}
	vals, err := a.array("values")
	if err != nil {
		return nil, err
	}
	shape := vals.Shape
	if len(shape) != 3 || shape[0] != count || shape[1] != 1 || shape[2] < width || vals.Len() != count*shape[2] {
		return nil, fmt.Errorf("values: shape %v (%d values), want (%d, 1, %d)", shape, vals.Len(), count, width)
	}
	vc, err := vals.Column("")
	if err != nil || !vc.Numeric() || vc.Len() != count*shape[2] {
		return nil, fmt.Errorf("values: array of dtype %s is not numeric", vals.Dtype)
	}
	t.values = make([]float64, len(order)*width)
	for k, i := range order {
		for j := 0; j < width; j++ {
			t.values[k*width+j] = vc.Float64(int(i)*shape[2] + j)
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
	splitter, _ := a.lookup("splitter").(string)
	criterion, _ := a.lookup("criterion").(string)
	if splitter != "best" && !(splitter == "random" && v.atLeast(1, 6)) {
		return false
	}
	if mc := a.lookup("monotonic_cst"); mc != nil {
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
