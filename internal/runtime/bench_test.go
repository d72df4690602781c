package runtime

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
)

// BenchmarkSpec is the cost of building a container's spec, seccomp
// profile included, and encoding it as config.json.
func BenchmarkSpec(b *testing.B) {
	for b.Loop() {
		s, err := Spec(SpecConfig{ID: "x", Hostname: "x", Root: "rootfs", Args: []string{"true"}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateRemove is the cost of a container's files on disk: its
// directories, /etc files, bundle and state, then their removal.
func BenchmarkCreateRemove(b *testing.B) {
	r, err := New(filepath.Join(b.TempDir(), "containers"))
	if err != nil {
		b.Fatal(err)
	}
	lower := b.TempDir()
	ctx := context.Background()
	for b.Loop() {
		st, err := r.Create(ctx, CreateOptions{Image: "x", Lowers: []string{lower}, Cmd: []string{"true"}})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Remove(ctx, st, RemoveOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
