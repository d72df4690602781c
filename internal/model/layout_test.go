package model

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// TestFloat32Threshold checks the prediction layout's comparison against
// sklearn's: float64(x) <= t for float32 x and float64 t must be exactly
// orderKey(x) <= orderKey(float32Threshold(t)).
func TestFloat32Threshold(t *testing.T) {
	inf := math.Inf(1)
	ts := []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, -0.1, 2.5, 1e-300, -1e-300,
		math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
		float64(math.SmallestNonzeroFloat32), -float64(math.SmallestNonzeroFloat32),
		float64(math.SmallestNonzeroFloat32) / 2, float64(math.SmallestNonzeroFloat32) * 1.5,
		math.MaxFloat32, -math.MaxFloat32, math.MaxFloat64, -math.MaxFloat64,
		math.Nextafter(math.MaxFloat32, inf), math.Nextafter(-math.MaxFloat32, -inf),
		inf, -inf, 1e39, -1e39, 3.4028235677973366e+38,
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		f := float64(math.Float32frombits(r.Uint32()))
		if math.IsNaN(f) {
			continue
		}
		// The float32 itself, its neighbours in float64, and the midpoint
		// to the next float32 (sklearn's thresholds are midpoints).
		up := float64(math.Nextafter32(float32(f), float32(inf)))
		ts = append(ts, f, math.Nextafter(f, inf), math.Nextafter(f, -inf), f+(up-f)/2, r.NormFloat64()*math.Pow(10, float64(r.Intn(20)-10)))
	}
	for _, th := range ts {
		tk := orderKey(float32Threshold(th))
		if tk == nanKey || tk == -1 {
			t.Fatalf("threshold %v: key %d", th, tk)
		}
		c := float32(th)
		xs := []float32{c, float32(math.NaN()), float32(inf), float32(-inf), 0, float32(math.Copysign(0, -1)),
			math.Float32frombits(0x80000001), math.Float32frombits(1), math.MaxFloat32, -math.MaxFloat32}
		x := c
		for k := 0; k < 3; k++ {
			x = math.Nextafter32(x, float32(inf))
			xs = append(xs, x)
		}
		x = c
		for k := 0; k < 3; k++ {
			x = math.Nextafter32(x, float32(-inf))
			xs = append(xs, x)
		}
		for _, x := range xs {
			want := float64(x) <= th
			if got := orderKey(x) <= tk; got != want {
				t.Errorf("x=%v (%#x) t=%v: layout says %v, sklearn %v", x, math.Float32bits(x), th, got, want)
			}
			if got := goRight(orderKey(x), tk) == 0; got != want {
				t.Errorf("x=%v t=%v: goRight says left=%v, sklearn %v", x, th, got, want)
			}
		}
	}
}

// refTree is a Tree as sklearn stores it, walked as sklearn's
// _apply_dense does: float64(float32(x)) <= threshold.
type refTree struct {
	left, right, feature []int64
	missing              []int64
	threshold            []float64
	values               []float64
	stride               int
}

func newRefTree(t *testing.T, v any) *refTree {
	t.Helper()
	o := v.(*unpickle.Object)
	a, err := o.Attrs()
	if err != nil {
		t.Fatal(err)
	}
	nodes := a["nodes"].(*unpickle.Array)
	r := &refTree{}
	must := func(x []int64, err error) []int64 {
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	r.left = must(nodes.FieldInt64s("left_child"))
	r.right = must(nodes.FieldInt64s("right_child"))
	r.feature = must(nodes.FieldInt64s("feature"))
	if nodes.HasField("missing_go_to_left") {
		r.missing = must(nodes.FieldInt64s("missing_go_to_left"))
	}
	if r.threshold, err = nodes.FieldFloat64s("threshold"); err != nil {
		t.Fatal(err)
	}
	vals := a["values"].(*unpickle.Array)
	if r.values, err = vals.Float64s(); err != nil {
		t.Fatal(err)
	}
	r.stride = vals.Shape[2]
	return r
}

func (r *refTree) value(row []float64, width int) []float64 {
	i := int64(0)
	for r.left[i] != -1 {
		x := float32(row[r.feature[i]])
		switch {
		case x != x:
			if r.missing != nil && r.missing[i] != 0 {
				i = r.left[i]
			} else {
				i = r.right[i]
			}
		case float64(x) <= r.threshold[i]:
			i = r.left[i]
		default:
			i = r.right[i]
		}
	}
	return r.values[int(i)*r.stride : int(i)*r.stride+width]
}

// refEstimator predicts as the code before the prediction layout did:
// row by row, tree by tree.
type refEstimator struct {
	trees      []*refTree
	classes    int // 0 for regressors
	classifier bool
	forest     bool
}

func newRefEstimator(t *testing.T, path string) *refEstimator {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := unpickle.Decode(data, allowed)
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*unpickle.Object)
	a, _ := o.Attrs()
	e := &refEstimator{forest: a["estimators_"] != nil}
	if c, ok := a["classes_"].(*unpickle.Array); ok {
		e.classifier, e.classes = true, c.Len()
	}
	if !e.forest {
		e.trees = []*refTree{newRefTree(t, a["tree_"])}
		return e
	}
	items, _ := unpickle.Seq(a["estimators_"])
	for _, it := range items {
		ta, _ := it.(*unpickle.Object).Attrs()
		e.trees = append(e.trees, newRefTree(t, ta["tree_"]))
	}
	return e
}

// proba is the forest's (or tree's) probabilities, or for regressors the
// prediction as a 1-vector.
func (e *refEstimator) proba(row []float64) []float64 {
	if !e.classifier {
		s := 0.0
		for _, tr := range e.trees {
			s += tr.value(row, 1)[0]
		}
		if e.forest {
			s /= float64(len(e.trees))
		}
		return []float64{s}
	}
	p := make([]float64, e.classes)
	tmp := make([]float64, e.classes)
	for _, tr := range e.trees {
		treeProba(tr.value(row, e.classes), tmp)
		for j := range p {
			p[j] += tmp[j]
		}
	}
	for j := range p {
		p[j] /= float64(len(e.trees))
	}
	return p
}

// TestLayoutMatchesReference runs every tree and forest fixture over random
// rows, rows on and next to every threshold, and NaN where the model takes
// it, in batches of several sizes (so the four-row walks, their remainder and
// the parallel split all run), against the reference.
func TestLayoutMatchesReference(t *testing.T) {
	files, _ := filepath.Glob("testdata/models/*.p5.pkl")
	tested := 0
	for _, f := range files {
		base := filepath.Base(f)
		if !strings.HasPrefix(base, "dt") && !strings.HasPrefix(base, "rf") && !strings.HasPrefix(base, "et") {
			continue
		}
		m, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		ref := newRefEstimator(t, f)
		rows := referenceRows(ref, m.NumFeatures(), m.Info().AllowsNaN)
		tested++
		for _, n := range []int{1, 3, 4, 7, 300, len(rows)} {
			batch := rows[:n]
			pred, err := m.Predict(batch)
			if err != nil {
				t.Fatalf("%s: %v", base, err)
			}
			var proba [][]float64
			if c, ok := m.(Classifier); ok {
				if proba, err = c.PredictProba(batch); err != nil {
					t.Fatal(err)
				}
			}
			for i, row := range batch {
				want := ref.proba(row)
				if !ref.classifier {
					if got := pred[i].(float64); math.Float64bits(got) != math.Float64bits(want[0]) {
						t.Fatalf("%s row %d %v: %v, want %v", base, i, row, got, want[0])
					}
					continue
				}
				for j := range want {
					if math.Float64bits(proba[i][j]) != math.Float64bits(want[j]) {
						t.Fatalf("%s row %d %v: proba %v, want %v", base, i, row, proba[i], want)
					}
				}
				if ref.forest {
					if want := m.(Classifier).Classes()[argmax(want)]; pred[i] != want {
						t.Fatalf("%s row %d: %v, want %v", base, i, pred[i], want)
					}
				}
			}
		}
	}
	if tested < 5 {
		t.Fatalf("only %d tree models tested", tested)
	}
}

// referenceRows makes test rows: random ones spread over the thresholds'
// range, then for thresholds of the first tree rows at the threshold, the
// float32s either side and the float64s either side.
func referenceRows(ref *refEstimator, nf int, nan bool) [][]float64 {
	r := rand.New(rand.NewSource(2))
	lo, hi := make([]float64, nf), make([]float64, nf)
	var ths [][2]float64 // feature, threshold
	for _, tr := range ref.trees {
		for i, f := range tr.feature {
			if tr.left[i] == -1 {
				continue
			}
			th := tr.threshold[i]
			lo[f], hi[f] = math.Min(lo[f], th), math.Max(hi[f], th)
			ths = append(ths, [2]float64{float64(f), th})
		}
	}
	var rows [][]float64
	random := func() []float64 {
		row := make([]float64, nf)
		for j := range row {
			row[j] = lo[j] + (hi[j]-lo[j])*(r.Float64()*1.2-0.1)
			if nan && r.Intn(8) == 0 {
				row[j] = math.NaN()
			}
		}
		return row
	}
	for i := 0; i < 2000; i++ {
		rows = append(rows, random())
	}
	r.Shuffle(len(ths), func(i, j int) { ths[i], ths[j] = ths[j], ths[i] })
	for _, ft := range ths[:min(len(ths), 400)] {
		f, th := int(ft[0]), ft[1]
		c := float32(th)
		for _, x := range []float64{th, math.Nextafter(th, math.Inf(1)), math.Nextafter(th, math.Inf(-1)),
			float64(c), float64(math.Nextafter32(c, float32(math.Inf(1)))), float64(math.Nextafter32(c, float32(math.Inf(-1))))} {
			row := random()
			row[f] = x
			rows = append(rows, row)
		}
	}
	return rows
}

// TestEnsembleNaNLeft runs the batch walk over trees whose nodes send NaN
// left (sklearn 1.3's missing_go_to_left), with and without NaN in a block,
// against walking each tree on its own.
func TestEnsembleNaNLeft(t *testing.T) {
	nodes := []node13{
		{left: 1, right: 2, feature: 0, threshold: 0.1, missingLeft: 1},
		{left: -1, right: -1, feature: -2, threshold: -2},
		{left: 3, right: 4, feature: 1, threshold: 2.5, missingLeft: 0},
		{left: -1, right: -1, feature: -2, threshold: -2},
		{left: -1, right: -1, feature: -2, threshold: -2},
	}
	var e ensemble
	e.width, e.features = 1, 2
	// Six trees: one group of four walked in step, two alone.
	for k := 0; k < 6; k++ {
		tr, err := parseTree(hand13Tree(t, nodes, []float64{10, 20 + float64(k), 30, 40 + float64(k), 50}, 1), 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if tr.nanLeft == nil {
			t.Fatal("no NaN-left nodes")
		}
		e.trees, e.vals = append(e.trees, tr), append(e.vals, tr.values)
	}
	nan := math.NaN()
	base := [][]float64{{0, 0}, {nan, 0}, {1, nan}, {1, 2.5}, {1, 3}, {0.1, 0}, {nan, nan}, {-1, 7}, {5, -5}}
	for _, withNaN := range []bool{true, false} {
		var rows [][]float64
		// Not a multiple of eight: the last rows take the one-row path.
		for i := 0; i < 605; i++ {
			row := base[i%len(base)]
			if !withNaN && (row[0] != row[0] || row[1] != row[1]) {
				continue
			}
			rows = append(rows, row)
		}
		got := make([]float64, len(rows))
		e.run(rows, func(lo int, sums []float64) { copy(got[lo:], sums) })
		for i := range 3 { // and one row at a time
			e.run(rows[i:i+1], func(_ int, sums []float64) {
				if sums[0] != got[i] {
					t.Errorf("row %d alone: %v, in a batch %v", i, sums[0], got[i])
				}
			})
		}
		for i, row := range rows {
			x := []float32{float32(row[0]), float32(row[1])}
			want := 0.0
			for _, tr := range e.trees {
				want += tr.value(x)[0]
			}
			if got[i] != want {
				t.Fatalf("row %d %v: %v, want %v", i, row, got[i], want)
			}
		}
	}
}
