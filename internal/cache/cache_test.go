package cache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-ml/strata/internal/content"
)

func TestKeyDependsOnEveryInputButNothingElse(t *testing.T) {
	base := Inputs{Parent: "sha256:p", Instruction: "COPY . .", Args: map[string]string{"A": "1"}, Files: map[string]string{"app.py": "d1"}, Extra: []string{"x"}}
	k := base.Key()
	same := Inputs{Parent: "sha256:p", Instruction: "COPY . .", Args: map[string]string{"A": "1"}, Files: map[string]string{"app.py": "d1"}, Extra: []string{"x"}}
	if same.Key() != k {
		t.Fatal("equal inputs gave different keys")
	}
	for name, in := range map[string]Inputs{
		"parent":      {Parent: "sha256:q", Instruction: base.Instruction, Args: base.Args, Files: base.Files, Extra: base.Extra},
		"instruction": {Parent: base.Parent, Instruction: "COPY . /app", Args: base.Args, Files: base.Files, Extra: base.Extra},
		"arg":         {Parent: base.Parent, Instruction: base.Instruction, Args: map[string]string{"A": "2"}, Files: base.Files, Extra: base.Extra},
		"file":        {Parent: base.Parent, Instruction: base.Instruction, Args: base.Args, Files: map[string]string{"app.py": "d2"}, Extra: base.Extra},
		"extra":       {Parent: base.Parent, Instruction: base.Instruction, Args: base.Args, Files: base.Files, Extra: []string{"y"}},
	} {
		if in.Key() == k {
			t.Errorf("changing the %s kept the key", name)
		}
	}
}

func TestExplain(t *testing.T) {
	last := &Inputs{Instruction: "COPY . .", Args: map[string]string{"V": "1"}, Files: map[string]string{"app.py": "a", "util.py": "u", "old.py": "o"}}
	for _, tc := range []struct {
		now  Inputs
		last *Inputs
		want string
	}{
		{Inputs{Instruction: "COPY . ."}, nil, "not in cache"},
		{Inputs{Instruction: "COPY . .", Args: last.Args, Files: map[string]string{"app.py": "b", "util.py": "u", "old.py": "o"}}, last, "app.py changed"},
		{Inputs{Instruction: "COPY . .", Args: last.Args, Files: map[string]string{"app.py": "a", "util.py": "u", "old.py": "o", "new.py": "n"}}, last, "new.py added"},
		{Inputs{Instruction: "COPY . .", Args: last.Args, Files: map[string]string{"app.py": "a", "util.py": "u"}}, last, "old.py removed"},
		{Inputs{Instruction: "COPY . .", Args: map[string]string{"V": "2"}, Files: last.Files}, last, "--build-arg V changed"},
		{Inputs{Instruction: "COPY . /app", Args: last.Args, Files: last.Files}, last, "instruction changed"},
		{Inputs{Instruction: "COPY . .", Args: last.Args, Files: map[string]string{"app.py": "1", "util.py": "2", "old.py": "3", "x.py": "4", "y.py": "5"}}, last, "app.py, old.py, util.py changed, x.py, y.py added"},
	} {
		if got := Explain(tc.now, tc.last); got != tc.want {
			t.Errorf("Explain = %q, want %q", got, tc.want)
		}
	}
}

func TestRecordsSurviveReopenAndMissWithoutTheirLayer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cs, err := content.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir, cs)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := content.PutBytes(ctx, cs, []byte("layer"))
	desc := v1.Descriptor{Digest: info.Digest, Size: info.Size}
	k := Inputs{Instruction: "RUN x"}.Key()
	if err := c.Put(&Record{Key: k, Layer: &desc, DiffID: &info.Digest, Created: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	c2, _ := Open(dir, cs)
	if r, ok := c2.Get(ctx, k); !ok || r.Layer.Digest != info.Digest {
		t.Fatalf("record lost on reopen: %v %v", r, ok)
	}
	// Prune keeps records whose layers are live, drops the others.
	if n, err := c2.Prune(ctx, map[v1.Hash]bool{info.Digest: true}); err != nil || n != 0 {
		t.Fatalf("Prune with the layer live removed %d (%v)", n, err)
	}
	cs.Delete(ctx, info.Digest)
	if _, ok := c2.Get(ctx, k); ok {
		t.Fatal("a record whose layer is gone was a hit")
	}
	if n, _ := c2.Prune(ctx, nil); n != 1 {
		t.Fatalf("Prune removed %d records, want 1", n)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "buildcache", "records")); len(entries) != 0 {
		t.Fatalf("%d records left", len(entries))
	}
}
