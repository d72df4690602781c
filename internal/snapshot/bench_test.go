package snapshot

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/image"
)

// TestUnpackImage is bench/unpack.sh's timer. With STRATA_BENCH_IMAGE
// set, it removes the snapshots of that image in the store at
// STRATA_ROOT, prepares it again (first-run unpack), and prints the time
// taken; with STRATA_BENCH_FLUSH=1 it then flushes the new snapshots to
// disk (what strata flush-snapshots does after a first run) and prints the
// time until they were on disk.
func TestUnpackImage(t *testing.T) {
	name := os.Getenv("STRATA_BENCH_IMAGE")
	if name == "" {
		t.Skip("bench/unpack.sh sets STRATA_BENCH_IMAGE and STRATA_ROOT")
	}
	ctx := context.Background()
	is, err := image.Open(os.Getenv("STRATA_ROOT"))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Open(is.Root())
	if err != nil {
		t.Fatal(err)
	}
	img, err := is.Lookup(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cf, _, err := is.ConfigFile(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ChainIDs(cf.RootFS.DiffIDs) {
		if err := os.RemoveAll(ss.Path(c)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	lowers, err := ss.Prepare(ctx, is, img)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("unpacked %d layers in %.3f s\n", len(lowers), time.Since(start).Seconds())
	if os.Getenv("STRATA_BENCH_FLUSH") != "" {
		if err := ss.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("on disk after %.3f s\n", time.Since(start).Seconds())
	}
}

// BenchmarkPrepare unpacks a 3-layer image of 64 MiB (gzip), 2,000
// small files and 8 large ones per layer.
func BenchmarkPrepare(b *testing.B) {
	needRoot(b)
	is, ss := stores(b)
	var layers [][]byte
	for _, p := range []string{"x", "y", "z"} {
		entries := []entry{dir(p + "/")}
		for i := range 2000 {
			entries = append(entries, file(fmt.Sprintf("%s/small%04d", p, i), fmt.Sprintf("%0*d", 1000+i%4000, i)))
		}
		for i := range 8 {
			entries = append(entries, file(fmt.Sprintf("%s/large%d", p, i), string(randomBytes(2<<20))))
		}
		layers = append(layers, tarOf(b, entries...))
	}
	img := testImage(b, is, "bench/prepare:1", "gzip", layers...)
	cf, _, err := is.ConfigFile(b.Context(), img)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, l := range layers {
		size += int64(len(l))
	}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for _, c := range ChainIDs(cf.RootFS.DiffIDs) {
			os.RemoveAll(ss.Path(c))
		}
		b.StartTimer()
		if _, err := ss.Prepare(b.Context(), is, img); err != nil {
			b.Fatal(err)
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}
