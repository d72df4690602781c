package asynchash

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// The sum is the synchronous hash's for any sequence of writes: small,
// larger than a buffer, and empty.
func TestSumMatchesSynchronousHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	for _, chunk := range []int{1, 100, 4096, 1 << 20, 3 << 20} {
		a := New(sha256.New(), 64<<10, 3)
		for p := data; len(p) > 0; {
			k := min(len(p), chunk)
			if n, err := a.Write(p[:k]); n != k || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			p = p[k:]
		}
		a.Write(nil)
		want := sha256.Sum256(data)
		if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("chunks of %d: sum %x, want %x", chunk, got, want)
		}
		a.Close() // after Sum: harmless
	}
}

// The caller may reuse its buffer as soon as Write returns.
func TestWriteCopies(t *testing.T) {
	a := New(sha256.New(), 8, 2)
	buf := []byte("abcdefgh")
	a.Write(buf)
	copy(buf, "XXXXXXXX")
	want := sha256.Sum256([]byte("abcdefgh"))
	if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatalf("sum %x, want %x", got, want)
	}
}

// Close alone (an abandoned stream) ends the goroutine.
func TestCloseWithoutSum(t *testing.T) {
	a := New(sha256.New(), 8, 2)
	a.Write([]byte("partial"))
	a.Close()
	a.Close()
}
