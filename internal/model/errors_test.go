package model

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// marker is the file the hostile pickles' payloads would create
// (make_fixtures.py's MARKER).
const marker = "/tmp/strata-model-hostile-pickle-ran"

func TestHostilePicklesRefused(t *testing.T) {
	if err := os.Remove(marker); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	cases := map[string]string{
		"os_system.p4.pkl":               "posix.system",
		"os_system.p2.pkl":               "posix.system",
		"subprocess_check_output.p5.pkl": "subprocess.check_output",
		"builtins_eval.p4.pkl":           "builtins.eval",
		"nested_in_dict.p4.pkl":          "posix.system",
		"nested_in_estimator.p5.pkl":     "posix.system",
		"nested_in_estimator.joblib":     "posix.system",
	}
	for file, global := range cases {
		m, err := Load(filepath.Join("testdata", "hostile", file))
		if m != nil || err == nil {
			t.Errorf("%s: loaded, want refusal", file)
			continue
		}
		want := file + ": refusing to load " + global + ": not a model class strata knows"
		if err.Error() != want {
			t.Errorf("%s: error %q, want %q", file, err, want)
		}
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a hostile payload ran: %s exists (%v)", marker, err)
	}
}

func TestRefusalMessage(t *testing.T) {
	data, err := os.ReadFile("testdata/hostile/os_system.p4.pkl")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Read("model.pkl", data)
	if err == nil || err.Error() != "model.pkl: refusing to load posix.system: not a model class strata knows" {
		t.Fatalf("error %v", err)
	}
}

// Hand-written pickles naming globals that are not on the allowlist.
func TestRefusesUnknownGlobals(t *testing.T) {
	cases := map[string]string{
		// An sklearn estimator strata does not serve.
		"\x80\x02csklearn.svm._classes\nSVC\nq\x00)\x81q\x01.": "sklearn.svm._classes.SVC",
		// Protocol 4 STACK_GLOBAL spelling.
		"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R.": "os.system",
		// gopickle resolves OrderedDict itself; the result check refuses it.
		"\x80\x02ccollections\nOrderedDict\n)R.": "collections.OrderedDict",
		// numpy names outside the allowlist.
		"\x80\x02cnumpy\nload\n)R.": "numpy.load",
		// A name inside an allowed module.
		"\x80\x02cnumpy.core.multiarray\nexecute\n)R.": "numpy.core.multiarray.execute",
		// Python 2 spellings map nowhere special.
		"\x80\x02c__builtin__\neval\nU\x011\x85R.": "__builtin__.eval",
	}
	for data, global := range cases {
		_, err := Read("x.pkl", []byte(data))
		want := "x.pkl: refusing to load " + global + ": not a model class strata knows"
		if err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %q", data, err, want)
		}
	}
}

func TestTruncatedAndCorrupted(t *testing.T) {
	for _, file := range []string{"dtc_wine.p2.pkl", "dtc_wine.p4.pkl", "dtc_wine.p5.pkl", "dtc_wine.joblib", "gbc_bc_zero.joblib", "lr_iris_ovr_str.joblib", "dtc_wine.joblib.z", "dtc_wine.joblib.xz"} {
		data, err := os.ReadFile(filepath.Join("testdata", "models", file))
		if err != nil {
			t.Fatal(err)
		}
		step := max(1, len(data)/150)
		if strings.HasSuffix(file, ".xz") {
			// Each xz attempt allocates the stream's 4 MiB dictionary.
			step = max(1, len(data)/40)
		}
		for n := 0; n < len(data); n += step {
			_, err := Read(file, data[:n])
			if err == nil {
				t.Fatalf("%s truncated to %d bytes: loaded", file, n)
			}
			if !strings.HasPrefix(err.Error(), file+": ") || strings.Contains(err.Error(), "panicked") {
				t.Fatalf("%s truncated to %d bytes: error %q", file, n, err)
			}
		}
		for i := 0; i < len(data); i += step {
			for _, b := range []byte{0x00, 0xff, 0x80, '(', 'h', 'J'} {
				bad := append([]byte(nil), data...)
				bad[i] = b
				m, err := Read(file, bad)
				if err != nil {
					if strings.Contains(err.Error(), "panicked") {
						t.Fatalf("%s with byte %d set to %#x: %v", file, i, b, err)
					}
					continue
				}
				// A byte that still decodes must give a model that predicts
				// without panicking.
				row := make([]float64, m.NumFeatures())
				if _, err := m.Predict([][]float64{row}); err != nil && strings.Contains(err.Error(), "panicked") {
					t.Fatalf("%s with byte %d set to %#x: %v", file, i, b, err)
				}
			}
		}
	}
}

func TestTruncatedMessages(t *testing.T) {
	data, err := os.ReadFile("testdata/models/dtc_wine.p5.pkl")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Read("m.pkl", data[:len(data)/2])
	if err == nil || !strings.Contains(err.Error(), "truncated pickle") {
		t.Errorf("half a pickle: %v", err)
	}
	_, err = Read("m.pkl", nil)
	if err == nil || !strings.Contains(err.Error(), "m.pkl: truncated pickle") {
		t.Errorf("empty file: %v", err)
	}
	_, err = Read("m.joblib.gz", []byte{0x1f, 0x8b, 1, 2, 3})
	if err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("corrupt gzip: %v", err)
	}
	_, err = Read("m.pkl", []byte("\x80\x05\x95\xff\xff\xff\xff\xff\xff\xff\x7f."))
	if err == nil || !strings.Contains(err.Error(), "declares") {
		t.Errorf("huge frame: %v", err)
	}
	_, err = Read("m.pkl", []byte("\x80\x04\x8e\xff\xff\xff\xff\xff\x00\x00\x00."))
	if err == nil || !strings.Contains(err.Error(), "declares") {
		t.Errorf("huge BINBYTES8: %v", err)
	}
	_, err = Read("m.pkl", []byte("\x80\x02K\x01."))
	if err == nil || err.Error() != "m.pkl: file holds 1, not a scikit-learn estimator" {
		t.Errorf("an int: %v", err)
	}
}

func TestFeatureCountAndValues(t *testing.T) {
	for _, file := range []string{"rfc_iris.p5.pkl", "pipe_std_lr_bc.p5.pkl", "linreg_diabetes.p5.pkl", "gbr_diabetes.p5.pkl"} {
		m, err := Load(filepath.Join("testdata", "models", file))
		if err != nil {
			t.Fatal(err)
		}
		n := m.NumFeatures()
		_, err = m.Predict([][]float64{make([]float64, n), make([]float64, n+1)})
		want := "row 1 has " + itoa(n+1) + " features, " + m.Info().Estimator + " expects " + itoa(n)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", file, err, want)
		}
		if c, ok := m.(Classifier); ok {
			if _, err := c.PredictProba([][]float64{make([]float64, n-1)}); err == nil || !strings.Contains(err.Error(), "expects "+itoa(n)) {
				t.Errorf("%s: PredictProba error %v", file, err)
			}
		}
		row := make([]float64, n)
		row[0] = math.NaN()
		if _, err := m.Predict([][]float64{row}); err == nil || !strings.Contains(err.Error(), "NaN") {
			t.Errorf("%s: NaN: %v", file, err)
		}
		row[0] = math.Inf(1)
		if _, err := m.Predict([][]float64{row}); err == nil || !strings.Contains(err.Error(), "infinite") {
			t.Errorf("%s: Inf: %v", file, err)
		}
		if _, err := m.Predict(nil); err == nil {
			t.Errorf("%s: no rows: no error", file)
		}
	}
	// Trees cast to float32: a float64 beyond float32's range is infinite.
	m, err := Load("testdata/models/rfc_iris.p5.pkl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Predict([][]float64{{1e39, 0, 0, 0}}); err == nil || !strings.Contains(err.Error(), "float32") {
		t.Errorf("1e39: %v", err)
	}
}

func TestTransformerAlone(t *testing.T) {
	// A pipeline's scaler on its own is not a model.
	_, err := Read("s.pkl", []byte("\x80\x02csklearn.preprocessing._data\nStandardScaler\n)\x81}(U\x0en_features_in_K\x02U\twith_mean\x89U\x08with_std\x89ub."))
	if err == nil || !strings.Contains(err.Error(), "transformer") {
		t.Errorf("scaler: %v", err)
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune(0x30 + n))
	}
	return itoa(n/10) + string(rune(0x30+n%10))
}
