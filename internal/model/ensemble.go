package model

import (
	"runtime"
	"sync"
)

// ensemble adds up, for each row, one run of width values per tree (the leaf
// the row reaches), trees in order: the sums a forest averages. It works
// tree-major over blocks of rows, so a tree's nodes stay in cache while every
// row of the block goes through it, and each row's features are cast to
// float32 and mapped to order keys once. Large batches are split across
// goroutines by rows; a row's sum is always formed by one goroutine, tree by
// tree in order from zero, so results do not depend on the split.
type ensemble struct {
	trees []*tree
	// vals are per tree the leaf values to add: the tree's own values, or
	// for classifiers its normalised class probabilities.
	vals     [][]float64
	width    int
	features int
}

// Work sizes, in row-tree visits.
const (
	// parallelWork is the least work split across goroutines: below it a
	// goroutine's start and the wait cost more than they save.
	parallelWork = 1 << 15
	// blockFloats bounds a block's features (64 KiB).
	blockFloats = 1 << 14
	// maxBlock bounds a block's rows.
	maxBlock = 256
)

// blockRows is how many rows a block holds.
func (e *ensemble) blockRows() int {
	return max(1, min(maxBlock, blockFloats/e.features))
}

// scratch is one goroutine's block buffers.
type scratch struct {
	x   []int32
	acc []float64
}

var scratchPool sync.Pool

func (e *ensemble) getScratch() *scratch {
	s, _ := scratchPool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	b := e.blockRows()
	if cap(s.x) < b*e.features {
		s.x = make([]int32, b*e.features)
	}
	if cap(s.acc) < b*e.width {
		s.acc = make([]float64, b*e.width)
	}
	return s
}

// run computes the sums for rows, block by block: for each block it calls
// finish with the index of the block's first row and the block's sums, width
// per row (finish may change them). Blocks of a large batch are handled by
// several goroutines at once, so finish must only write what belongs to its
// rows. rows must have been checked.
func (e *ensemble) run(rows [][]float64, finish func(lo int, sums []float64)) {
	n := len(rows)
	workers := 1
	if work := n * len(e.trees); work >= parallelWork {
		workers = min(runtime.GOMAXPROCS(0), work/(parallelWork/2), n)
	}
	if workers <= 1 {
		s := e.getScratch()
		e.span(rows, 0, n, s, finish)
		scratchPool.Put(s)
		return
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		panicked any
	)
	for w := 0; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A panic here would end the process; hand it to the
			// caller, as the one-goroutine path would.
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					panicked = r
					mu.Unlock()
				}
			}()
			s := e.getScratch()
			e.span(rows, lo, hi, s, finish)
			scratchPool.Put(s)
		}()
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}

// span runs rows[lo:hi] block by block.
func (e *ensemble) span(rows [][]float64, lo, hi int, s *scratch, finish func(lo int, sums []float64)) {
	b := e.blockRows()
	for start := lo; start < hi; start += b {
		end := min(start+b, hi)
		sums := s.acc[:(end-start)*e.width]
		e.block(rows[start:end], s.x[:(end-start)*e.features], sums)
		finish(start, sums)
	}
}

// block writes the sums for a block of rows into sums, using x for the
// rows' features as order keys.
func (e *ensemble) block(rows [][]float64, x []int32, sums []float64) {
	nf, w := e.features, e.width
	nan := false
	for r, row := range rows {
		xr := x[r*nf : (r+1)*nf]
		for j, v := range row[:nf] {
			k := orderKey(float32(v))
			nan = nan || k == nanKey
			xr[j] = k
		}
	}
	clear(sums)
	for t, tr := range e.trees {
		vals := e.vals[t]
		if nan && tr.nanLeft != nil {
			// Rare: NaN features and nodes that send NaN left.
			for r := range len(rows) &^ 7 {
				l := tr.leafKeys(x[r*nf : (r+1)*nf])
				addTo(sums[r*w:(r+1)*w], vals[l*w:(l+1)*w])
			}
			continue
		}
		nodes := tr.nodes
		r := 0
		// Eight rows at a time: their walks are independent chains of
		// loads, which the CPU overlaps (eight measured about a fifth
		// faster than four, sixteen no faster than eight). A row at a leaf
		// stays there (the leaf points to itself) until all eight are at
		// leaves. The AND of the keys is leafKey (MaxInt32) only when all
		// are leaves: it has bits 0 to 30 set only if every key does, which
		// among int32s only MaxInt32 and -1 do, and a split node's key is
		// neither (-1 would be the key of -0, which orderKey maps to 0;
		// MaxInt32 is nanKey, and thresholds are not NaN).
		for ; r+8 <= len(rows); r += 8 {
			x0 := x[(r+0)*nf : (r+1)*nf]
			x1 := x[(r+1)*nf : (r+2)*nf]
			x2 := x[(r+2)*nf : (r+3)*nf]
			x3 := x[(r+3)*nf : (r+4)*nf]
			x4 := x[(r+4)*nf : (r+5)*nf]
			x5 := x[(r+5)*nf : (r+6)*nf]
			x6 := x[(r+6)*nf : (r+7)*nf]
			x7 := x[(r+7)*nf : (r+8)*nf]
			var i0, i1, i2, i3, i4, i5, i6, i7 int32
			for {
				n0 := &nodes[i0]
				n1 := &nodes[i1]
				n2 := &nodes[i2]
				n3 := &nodes[i3]
				n4 := &nodes[i4]
				n5 := &nodes[i5]
				n6 := &nodes[i6]
				n7 := &nodes[i7]
				if n0.key&n1.key&n2.key&n3.key&n4.key&n5.key&n6.key&n7.key == leafKey {
					break
				}
				i0 = n0.left + int32(goRight(x0[n0.feature], n0.key))
				i1 = n1.left + int32(goRight(x1[n1.feature], n1.key))
				i2 = n2.left + int32(goRight(x2[n2.feature], n2.key))
				i3 = n3.left + int32(goRight(x3[n3.feature], n3.key))
				i4 = n4.left + int32(goRight(x4[n4.feature], n4.key))
				i5 = n5.left + int32(goRight(x5[n5.feature], n5.key))
				i6 = n6.left + int32(goRight(x6[n6.feature], n6.key))
				i7 = n7.left + int32(goRight(x7[n7.feature], n7.key))
			}
			addTo(sums[(r+0)*w:(r+1)*w], vals[int(i0)*w:int(i0+1)*w])
			addTo(sums[(r+1)*w:(r+2)*w], vals[int(i1)*w:int(i1+1)*w])
			addTo(sums[(r+2)*w:(r+3)*w], vals[int(i2)*w:int(i2+1)*w])
			addTo(sums[(r+3)*w:(r+4)*w], vals[int(i3)*w:int(i3+1)*w])
			addTo(sums[(r+4)*w:(r+5)*w], vals[int(i4)*w:int(i4+1)*w])
			addTo(sums[(r+5)*w:(r+6)*w], vals[int(i5)*w:int(i5+1)*w])
			addTo(sums[(r+6)*w:(r+7)*w], vals[int(i6)*w:int(i6+1)*w])
			addTo(sums[(r+7)*w:(r+8)*w], vals[int(i7)*w:int(i7+1)*w])
		}
	}
	// The rows left over, fewer than eight (a one-row call is all
	// leftovers), each walk four trees at a time instead; each row's sum
	// still takes the trees in order.
	for r := len(rows) &^ 7; r < len(rows); r++ {
		e.row(x[r*nf:(r+1)*nf], sums[r*w:(r+1)*w])
	}
}

// row adds one row's leaf values, tree by tree, to sum, walking four trees
// at once.
func (e *ensemble) row(x []int32, sum []float64) {
	w := e.width
	nan := false
	for _, k := range x {
		nan = nan || k == nanKey
	}
	t := 0
	for ; t+4 <= len(e.trees); t += 4 {
		t0, t1, t2, t3 := e.trees[t], e.trees[t+1], e.trees[t+2], e.trees[t+3]
		var i0, i1, i2, i3 int
		if nan && (t0.nanLeft != nil || t1.nanLeft != nil || t2.nanLeft != nil || t3.nanLeft != nil) {
			i0, i1, i2, i3 = t0.leafKeys(x), t1.leafKeys(x), t2.leafKeys(x), t3.leafKeys(x)
		} else {
			nodes0, nodes1, nodes2, nodes3 := t0.nodes, t1.nodes, t2.nodes, t3.nodes
			var j0, j1, j2, j3 int32
			for {
				n0, n1, n2, n3 := &nodes0[j0], &nodes1[j1], &nodes2[j2], &nodes3[j3]
				// All four at leaves: see block.
				if n0.key&n1.key&n2.key&n3.key == leafKey {
					break
				}
				j0 = n0.left + int32(goRight(x[n0.feature], n0.key))
				j1 = n1.left + int32(goRight(x[n1.feature], n1.key))
				j2 = n2.left + int32(goRight(x[n2.feature], n2.key))
				j3 = n3.left + int32(goRight(x[n3.feature], n3.key))
			}
			i0, i1, i2, i3 = int(j0), int(j1), int(j2), int(j3)
		}
		addTo(sum, e.vals[t][i0*w:(i0+1)*w])
		addTo(sum, e.vals[t+1][i1*w:(i1+1)*w])
		addTo(sum, e.vals[t+2][i2*w:(i2+1)*w])
		addTo(sum, e.vals[t+3][i3*w:(i3+1)*w])
	}
	for ; t < len(e.trees); t++ {
		l := e.trees[t].leafKeys(x)
		addTo(sum, e.vals[t][l*w:(l+1)*w])
	}
}

// addTo adds v to a element by element.
func addTo(a, v []float64) {
	v = v[:len(a)]
	for j := range a {
		a[j] += v[j]
	}
}
