package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/strata-ml/strata/internal/model"
	"github.com/strata-ml/strata/internal/serve"
)

func newPredictCmd(o *options) *cobra.Command {
	var (
		input  string
		format string
		proba  bool
		chunk  int
	)
	cmd := &cobra.Command{
		Use:   "predict [OPTIONS] MODEL",
		Short: "Score rows from a CSV or JSON file with a scikit-learn model",
		Long: `Score rows with a pickled or joblib-dumped scikit-learn model, with no
Python, and write one prediction per row to stdout.

The rows come from --input, or stdin when it is "-" or not given:
  CSV         one row per line, an optional header line; an empty field, NA
              or NaN is a missing value (for models that accept NaN)
  JSON        an array of rows [[5.1, 3.5, 1.4, 0.2], ...], or JSON lines of
              rows, or of objects {"features": [...]} (one row or a batch)
The format is chosen by the file's extension (.csv; .json, .jsonl, .ndjson),
or else by the input's first character.

The output is CSV (a header, then one line per row) or JSON lines
({"prediction": 0} per row), by default in the format of the input. With
--proba it holds the class probabilities, one column per class.

Rows are read, predicted and written in chunks, so inputs larger than memory
stream through.`,
		Example: `  strata predict model.pkl --input rows.csv
  strata predict model.pkl --input rows.json --proba --format csv
  cat rows.csv | strata predict model.pkl > predictions.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "csv" && format != "json" {
				return fmt.Errorf("invalid --format %q: use csv or json", format)
			}
			if chunk <= 0 {
				return fmt.Errorf("invalid --chunk-size %d: it must be positive", chunk)
			}
			m, err := model.Load(args[0])
			if err != nil {
				return fmt.Errorf("loading the model: %w", err)
			}
			var clf model.Classifier
			if proba {
				var ok bool
				if clf, ok = m.(model.Classifier); !ok {
					return fmt.Errorf("--proba: %s is not a classifier: it has no class probabilities", m.Info().Estimator)
				}
			}

			var in io.Reader = o.stdin
			name := "stdin"
			if input != "" && input != "-" {
				f, err := os.Open(input)
				if err != nil {
					return fmt.Errorf("opening the input: %w", err)
				}
				defer f.Close()
				in, name = f, input
			}
			br := bufio.NewReaderSize(in, 256<<10)
			kind := inputFormat(input, br)
			if format == "" {
				format = kind
			}
			info := m.Info()
			var src rowSource
			if kind == "csv" {
				src = newCSVSource(br, name, m.NumFeatures(), info.AllowsNaN)
			} else {
				src = newJSONSource(br, name, m.NumFeatures(), info.AllowsNaN)
			}
			p := &predictor{m: m, clf: clf, csv: format == "csv"}
			return p.run(src, bufio.NewWriterSize(o.stdout, 256<<10), chunk, runtime.GOMAXPROCS(0))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&input, "input", "i", "-", `the rows to score: a CSV or JSON file, or "-" for stdin`)
	f.StringVar(&format, "format", "", "the output format: csv or json (default: the input's)")
	f.BoolVar(&proba, "proba", false, "write class probabilities instead of predictions")
	f.IntVar(&chunk, "chunk-size", 2048, "how many rows to predict at a time")
	return cmd
}

// inputFormat is "csv" or "json", by the file's extension or else by the
// first character of the input.
func inputFormat(path string, br *bufio.Reader) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".txt":
		return "csv"
	case ".json", ".jsonl", ".ndjson":
		return "json"
	}
	if c, ok := firstByte(br, 0); ok && (c == '[' || c == '{') {
		return "json"
	}
	return "csv"
}

// firstByte peeks at the first non-space byte after skip bytes of br,
// without consuming anything.
func firstByte(br *bufio.Reader, skip int) (byte, bool) {
	for n := 64; ; n *= 4 {
		b, err := br.Peek(n)
		for _, c := range b[min(skip, len(b)):] {
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				return c, true
			}
		}
		if err != nil || n >= br.Size() {
			return 0, false
		}
	}
}

// rowSource reads rows in chunks.
type rowSource interface {
	// next reads up to n more rows into c, which it resets, and returns
	// them, with io.EOF after the last ones.
	next(c *chunk, n int) ([][]float64, error)
}

// chunk is the buffers of a chunk of rows of nf features, and of their
// predictions written out.
type chunk struct {
	nf   int
	flat []float64
	rows [][]float64
	out  []byte
}

func (c *chunk) len() int { return len(c.flat) / c.nf }

// slice returns the chunk's rows.
func (c *chunk) slice() [][]float64 {
	c.rows = c.rows[:0]
	for i := 0; i < len(c.flat); i += c.nf {
		c.rows = append(c.rows, c.flat[i:i+c.nf:i+c.nf])
	}
	return c.rows
}

// csvSource reads rows from CSV.
type csvSource struct {
	r        *csv.Reader
	name     string
	allowNaN bool
	first    bool
	c        *chunk
}

func newCSVSource(r io.Reader, name string, nf int, allowNaN bool) *csvSource {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // checked against the model instead
	cr.TrimLeadingSpace = true
	return &csvSource{r: cr, name: name, allowNaN: allowNaN, first: true}
}

func (s *csvSource) next(c *chunk, n int) ([][]float64, error) {
	s.c = c
	c.flat = c.flat[:0]
	for s.c.len() < n {
		rec, err := s.r.Read()
		if err == io.EOF {
			return s.c.slice(), io.EOF
		}
		if err != nil {
			return s.c.slice(), fmt.Errorf("reading %s: %w", s.name, err)
		}
		line, _ := s.r.FieldPos(0)
		if s.first {
			s.first = false
			if isHeader(rec) {
				continue
			}
		}
		if len(rec) != s.c.nf {
			return s.c.slice(), fmt.Errorf("%s:%d: the row has %d features, the model expects %d", s.name, line, len(rec), s.c.nf)
		}
		for i, field := range rec {
			v, err := parseField(field, s.allowNaN)
			if err != nil {
				return s.c.slice(), fmt.Errorf("%s:%d: feature %d: %w", s.name, line, i+1, err)
			}
			s.c.flat = append(s.c.flat, v)
		}
	}
	return s.c.slice(), nil
}

// isHeader reports whether a first CSV record is a header: one of its
// fields is neither a number nor a missing value.
func isHeader(rec []string) bool {
	for _, f := range rec {
		f = strings.TrimSpace(f)
		if _, err := strconv.ParseFloat(f, 64); err != nil && !errors.Is(err, strconv.ErrRange) && !isMissing(f) {
			return true
		}
	}
	return false
}

// isMissing reports whether a CSV field is a missing value: empty, NA,
// NaN, null or N/A.
func isMissing(f string) bool {
	switch strings.ToLower(f) {
	case "", "na", "nan", "null", "n/a":
		return true
	}
	return false
}

// parseField parses a CSV field: a number, or a missing value (empty, NA,
// NaN, null) when allowNaN.
func parseField(f string, allowNaN bool) (float64, error) {
	f = strings.TrimSpace(f)
	if isMissing(f) {
		if !allowNaN {
			return 0, fmt.Errorf("%q is a missing value, and this model does not accept missing values (NaN)", f)
		}
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(f, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is not a number", f)
	}
	if math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is infinite", f)
	}
	return v, nil
}

// jsonSource reads rows from JSON: an array of rows or objects, or a
// stream of them (JSON lines).
type jsonSource struct {
	br       *bufio.Reader
	dec      *json.Decoder
	name     string
	allowNaN bool
	started  bool
	inArray  bool        // streaming the elements of a top-level array
	pending  [][]float64 // rows of a batch object not yet returned
	value    int         // values read, for error messages
	nf       int
	c        *chunk
}

func newJSONSource(br *bufio.Reader, name string, nf int, allowNaN bool) *jsonSource {
	return &jsonSource{br: br, dec: json.NewDecoder(br), name: name, allowNaN: allowNaN, nf: nf}
}

func (s *jsonSource) next(c *chunk, n int) ([][]float64, error) {
	s.c = c
	c.flat = c.flat[:0]
	if !s.started {
		s.started = true
		// A top-level array of rows or objects is streamed element by
		// element; anything else is a stream of values.
		if c, _ := firstByte(s.br, 0); c == '[' {
			if b, err := s.br.Peek(s.br.Buffered()); err == nil {
				i := bytes.IndexByte(b, '[')
				if c2, ok := firstByte(s.br, i+1); ok && (c2 == '[' || c2 == '{' || c2 == ']') {
					if _, err := s.dec.Token(); err != nil {
						return nil, s.errorf(err)
					}
					s.inArray = true
				}
			}
		}
	}
	for s.c.len() < n {
		if len(s.pending) > 0 {
			k := min(n-s.c.len(), len(s.pending))
			for _, r := range s.pending[:k] {
				s.c.flat = append(s.c.flat, r...)
			}
			s.pending = s.pending[k:]
			continue
		}
		if s.inArray && !s.dec.More() {
			if _, err := s.dec.Token(); err != nil { // the closing ']'
				return s.c.slice(), s.errorf(err)
			}
			s.inArray = false
			continue
		}
		var raw json.RawMessage
		if err := s.dec.Decode(&raw); err != nil {
			if err == io.EOF && !s.inArray {
				return s.c.slice(), io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return s.c.slice(), s.errorf(err)
		}
		s.value++
		if err := s.add(raw); err != nil {
			return s.c.slice(), fmt.Errorf("%s: value %d: %w", s.name, s.value, err)
		}
	}
	return s.c.slice(), nil
}

// add takes the rows of one JSON value: a row, or an object with features.
func (s *jsonSource) add(raw json.RawMessage) error {
	switch raw[0] {
	case '[':
		flat, err := serve.ParseRow(raw, s.nf, s.allowNaN, s.c.flat)
		if err != nil {
			return err
		}
		s.c.flat = flat
		return nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return err
		}
		features, ok := obj["features"]
		if !ok {
			return errors.New(`the object has no "features"`)
		}
		rows, err := serve.ParseFeatures(features, s.nf, s.allowNaN)
		if err != nil {
			return err
		}
		s.pending = rows
		return nil
	default:
		return fmt.Errorf("%.20s is not a row (an array of numbers) or an object with features", raw)
	}
}

func (s *jsonSource) errorf(err error) error {
	return fmt.Errorf("reading %s: invalid JSON near byte %d: %w", s.name, s.dec.InputOffset(), err)
}

// predictor predicts chunks of rows, several at once, and writes the
// results in order.
type predictor struct {
	m   model.Model
	clf model.Classifier // for --proba
	csv bool
}

// run reads chunks of size rows from src, predicts them on up to workers
// goroutines, and writes the results to w in the order of the rows. At most
// workers+2 chunks are in memory at once. Rows read before an error are
// predicted and written before run returns it.
func (p *predictor) run(src rowSource, w *bufio.Writer, size, workers int) error {
	if err := p.header(w); err != nil {
		return fmt.Errorf("writing the predictions: %w", err)
	}
	type job struct {
		c    *chunk
		done chan error
	}
	jobs := make(chan *job, workers)
	free := make(chan *chunk, workers+2)
	for range workers + 2 {
		free <- &chunk{nf: p.m.NumFeatures()}
	}
	var (
		werr   error // the first prediction or write error, set by the writer
		failed atomic.Bool
		wdone  = make(chan struct{})
	)
	go func() {
		defer close(wdone)
		for j := range jobs {
			err := <-j.done
			if err == nil && werr == nil {
				if _, err = w.Write(j.c.out); err != nil {
					err = fmt.Errorf("writing the predictions: %w", err)
				}
			}
			if err != nil && werr == nil {
				werr = err
				failed.Store(true)
			}
			free <- j.c
		}
	}()
	var rerr error
	for !failed.Load() {
		c := <-free
		rows, err := src.next(c, size)
		if len(rows) > 0 {
			j := &job{c: c, done: make(chan error, 1)}
			jobs <- j
			go func() { j.done <- p.predict(j.c, rows) }()
		} else {
			free <- c
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(jobs)
	<-wdone
	if werr != nil {
		return werr
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the predictions: %w", err)
	}
	return rerr
}

func (p *predictor) header(w io.Writer) error {
	if !p.csv {
		return nil
	}
	var b []byte
	if p.clf == nil {
		b = append(b, "prediction\n"...)
	} else {
		for i, c := range p.clf.Classes() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCSVLabel(b, c)
		}
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}

// predict predicts rows and writes the results into c.out.
func (p *predictor) predict(c *chunk, rows [][]float64) error {
	b := c.out[:0]
	if p.clf != nil {
		proba, err := p.clf.PredictProba(rows)
		if err != nil {
			return fmt.Errorf("predicting probabilities: %w", err)
		}
		for _, row := range proba {
			if !p.csv {
				b = append(b, `{"probabilities":[`...)
			}
			for i, v := range row {
				if i > 0 {
					b = append(b, ',')
				}
				b = serve.AppendFloat(b, v)
			}
			if !p.csv {
				b = append(b, "]}"...)
			}
			b = append(b, '\n')
		}
	} else {
		pred, err := p.m.Predict(rows)
		if err != nil {
			return fmt.Errorf("predicting: %w", err)
		}
		for _, l := range pred {
			if p.csv {
				b = appendCSVLabel(b, l)
			} else {
				b = append(b, `{"prediction":`...)
				b = serve.AppendLabel(b, l)
				b = append(b, '}')
			}
			b = append(b, '\n')
		}
	}
	c.out = b
	return nil
}

// appendCSVLabel writes a label as a CSV field: strings quoted when they
// need it, bools as pandas writes them (True, False), numbers as in JSON.
func appendCSVLabel(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		if v == "" || strings.ContainsAny(v, ",\"\r\n") || v[0] == ' ' {
			return append(append(b, '"'), strings.ReplaceAll(v, `"`, `""`)+`"`...)
		}
		return append(b, v...)
	case bool:
		if v {
			return append(b, "True"...)
		}
		return append(b, "False"...)
	case float64:
		if math.IsNaN(v) {
			return b // pandas writes NaN as an empty field
		}
	}
	return serve.AppendLabel(b, v)
}
