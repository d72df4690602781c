package unpickle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func allowSklearn(module, name string) bool { return strings.HasPrefix(module, "sklearn.") }

func TestDecodeFixtures(t *testing.T) {
	files, err := filepath.Glob("../testdata/models/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Decode(data, allowSklearn)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		o, ok := v.(*Object)
		if !ok {
			t.Errorf("%s: decoded %s, want an estimator object", filepath.Base(f), describe(v))
			continue
		}
		if _, err := o.Attrs(); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}
