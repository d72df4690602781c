package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/docker/go-units"
)

// newTable returns a tabwriter laid out as Docker's tables are.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
}

// since is Docker's "2 weeks ago".
func since(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// humanSize is Docker's size column: "4.26MB".
func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// truncate shortens s to n runes with Docker's ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"println": fmt.Sprintln,
}

// formatter writes values with a --format flag's Go template, executed (as
// Docker does) over the value's JSON form, so templates name JSON fields:
// {{.Id}}, {{.Config.Cmd}}.
type formatter struct {
	tmpl *template.Template
}

func newFormatter(format string) (*formatter, error) {
	t, err := template.New("format").Funcs(templateFuncs).Option("missingkey=error").Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return &formatter{tmpl: t}, nil
}

func (f *formatter) write(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&generic); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := f.tmpl.Execute(&buf, generic); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// writeJSONLine writes v as one line of JSON, the form --format json takes
// for lists.
func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// writeFormatted writes rows as --format asks: "json" gives one JSON
// object a line, any other value but "" and "table" is a Go template run
// on each row. It reports false when the format is a table, for the
// caller to print.
func writeFormatted[T any](w io.Writer, format string, rows []T) (bool, error) {
	switch format {
	case "", "table":
		return false, nil
	case "json":
		for _, r := range rows {
			if err := writeJSONLine(w, r); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	f, err := newFormatter(format)
	if err != nil {
		return true, err
	}
	for _, r := range rows {
		if err := f.write(w, r); err != nil {
			return true, err
		}
	}
	return true, nil
}
