package serve

import (
	"fmt"
	"math"
)

// This file is the fast path for request bodies: a single-pass JSON scanner
// that finds the "features" member of a /predict body and parses its numbers
// straight into one flat []float64, without building any intermediate
// values. It validates the whole body as strict JSON (RFC 8259), so that it
// accepts exactly what encoding/json accepts (FuzzDecodeFeatures checks this
// against encoding/json); BenchmarkDecodeFeatures compares the two.

// inputError is a client mistake in a request: it becomes a 400 whose
// {"error": ...} is the message.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// maxDepth bounds the nesting of arrays and objects in a body, as
// encoding/json does.
const maxDepth = 10000

// features is a decoded /predict body.
type features struct {
	rows   [][]float64 // the rows, slices of flat
	flat   []float64   // all values, row after row
	single bool        // the body held one row ([...]) rather than a batch ([[...], ...])
}

// decodeFeatures parses a /predict body: a JSON object whose "features"
// member is one row (an array of numbers) or a batch (an array of rows).
// Every row must have nf values (when nf > 0; otherwise as many as the
// first row). null stands for a missing value (NaN) and is accepted only
// when allowNaN. Other members of the object are checked to be valid JSON
// and ignored. flat, if not nil, is reused for the values.
func decodeFeatures(body []byte, nf int, allowNaN bool, flat []float64) (features, error) {
	d := decoder{data: body, nf: nf, allowNaN: allowNaN, flat: flat[:0]}
	return d.body()
}

type decoder struct {
	data     []byte
	pos      int
	nf       int
	allowNaN bool
	flat     []float64
}

const example = `{"features": [5.1, 3.5, 1.4, 0.2]}`

func (d *decoder) body() (features, error) {
	d.ws()
	if d.pos == len(d.data) {
		return features{}, badInput("empty body: send a JSON object such as %s", example)
	}
	if d.data[d.pos] != '{' {
		if err := d.skipValue(); err != nil {
			return features{}, err
		}
		if err := d.end(); err != nil {
			return features{}, err
		}
		return features{}, badInput("the body must be a JSON object such as %s", example)
	}
	d.pos++
	var (
		f     features
		found bool
	)
	d.ws()
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			d.ws()
			key, err := d.key()
			if err != nil {
				return features{}, err
			}
			d.ws()
			if d.peek() != ':' {
				return features{}, d.syntax("expected ':' after object key")
			}
			d.pos++
			d.ws()
			if key == "features" {
				d.flat = d.flat[:0]
				if f, err = d.features(); err != nil {
					return features{}, err
				}
				found = true
			} else if err := d.skipValue(); err != nil {
				return features{}, err
			}
			d.ws()
			c := d.peek()
			d.pos++
			if c == '}' {
				break
			}
			if c != ',' {
				d.pos--
				return features{}, d.syntax("expected ',' or '}' after object member")
			}
		}
	}
	if err := d.end(); err != nil {
		return features{}, err
	}
	if !found {
		return features{}, badInput(`missing "features": send a JSON object such as %s`, example)
	}
	return f, nil
}

// end checks that only whitespace follows the top-level value.
func (d *decoder) end() error {
	d.ws()
	if d.pos != len(d.data) {
		return d.syntax("unexpected data after the JSON value")
	}
	return nil
}

// features parses the value of "features".
func (d *decoder) features() (features, error) {
	switch d.peek() {
	case '[':
	case 'n':
		if err := d.literal("null"); err != nil {
			return features{}, err
		}
		return features{}, badInput(`"features" is null: it must be an array of numbers (one row) or of rows`)
	default:
		kind, err := d.kindAndSkip()
		if err != nil {
			return features{}, err
		}
		return features{}, badInput(`"features" is %s: it must be an array of numbers (one row) or of rows`, kind)
	}
	d.pos++
	d.ws()
	switch d.peek() {
	case ']':
		d.pos++
		return features{}, badInput(`"features" is empty: send at least one row`)
	case '[':
		return d.batch()
	default:
		n, err := d.row(-1)
		if err != nil {
			return features{}, err
		}
		if err := d.checkWidth(n, -1); err != nil {
			return features{}, err
		}
		return features{rows: [][]float64{d.flat}, flat: d.flat, single: true}, nil
	}
}

// batch parses an array of rows, positioned on the first row's '['.
func (d *decoder) batch() (features, error) {
	nrows := 0
	width := d.nf
	for {
		d.ws()
		if d.peek() != '[' {
			kind, err := d.kindAndSkip()
			if err != nil {
				return features{}, err
			}
			return features{}, badInput("row %d (features[%d]) is %s, not a row (an array of numbers)", nrows+1, nrows, kind)
		}
		d.pos++
		n, err := d.row(nrows)
		if err != nil {
			return features{}, err
		}
		if width <= 0 {
			width = n
		}
		if err := d.checkWidth(n, nrows); err != nil {
			return features{}, err
		}
		if n != width {
			return features{}, badInput("row %d (features[%d]) has %d features, the first row has %d", nrows+1, nrows, n, width)
		}
		nrows++
		d.ws()
		c := d.peek()
		d.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			d.pos--
			return features{}, d.syntax("expected ',' or ']' after a row")
		}
	}
	rows := make([][]float64, nrows)
	for i := range rows {
		rows[i] = d.flat[i*width : (i+1)*width : (i+1)*width]
	}
	return features{rows: rows, flat: d.flat}, nil
}

// checkWidth checks a row's number of values against the model's.
func (d *decoder) checkWidth(n, row int) error {
	if n == 0 {
		if row < 0 {
			return badInput(`"features" is empty: send at least one row`)
		}
		return badInput("row %d (features[%d]) is empty", row+1, row)
	}
	if d.nf <= 0 || n == d.nf {
		return nil
	}
	if row < 0 {
		return badInput(`"features" has %d values, the model expects %d`, n, d.nf)
	}
	return badInput("row %d (features[%d]) has %d features, the model expects %d", row+1, row, n, d.nf)
}

// row parses the numbers of one row, positioned after its '[', appending
// them to d.flat, and returns how many there were. row is the row's index
// in a batch, or -1 for a single row.
func (d *decoder) row(row int) (int, error) {
	n := 0
	d.ws()
	if d.peek() == ']' {
		d.pos++
		return 0, nil
	}
	for {
		d.ws()
		c := d.peek()
		switch {
		case c == '-' || (c >= '0' && c <= '9'):
			v, err := d.number()
			if err != nil {
				return 0, err
			}
			d.flat = append(d.flat, v)
		case c == 'n':
			if err := d.literal("null"); err != nil {
				return 0, err
			}
			if !d.allowNaN {
				return 0, badInput("%s is null, and this model does not accept missing values (NaN)", where(row, n))
			}
			d.flat = append(d.flat, math.NaN())
		default:
			kind, err := d.kindAndSkip()
			if err != nil {
				return 0, err
			}
			if row < 0 && kind == "an array" {
				return 0, badInput("%s is an array: send either one row of numbers or an array of rows, not both", where(row, n))
			}
			return 0, badInput("%s is %s, not a number", where(row, n), kind)
		}
		n++
		d.ws()
		c = d.peek()
		d.pos++
		if c == ']' {
			return n, nil
		}
		if c != ',' {
			d.pos--
			return 0, d.syntax("expected ',' or ']' after a number")
		}
	}
}

// where names value i of a row for error messages.
func where(row, i int) string {
	if row < 0 {
		return fmt.Sprintf("features[%d]", i)
	}
	return fmt.Sprintf("row %d, feature %d (features[%d][%d])", row+1, i+1, row, i)
}

// kindAndSkip names the JSON value at d.pos ("a string") and skips it.
func (d *decoder) kindAndSkip() (string, error) {
	var kind string
	switch d.peek() {
	case '"':
		kind = "a string"
	case '{':
		kind = "an object"
	case '[':
		kind = "an array"
	case 't', 'f':
		kind = "a boolean"
	case 'n':
		kind = "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		kind = "a number"
	default:
		return "", d.syntax("expected a JSON value")
	}
	if err := d.skipValue(); err != nil {
		return "", err
	}
	return kind, nil
}

// decodeTensor parses the data of an Open Inference Protocol tensor: numbers
// (or, when bools, true and false as 1 and 0), flat or nested in arrays to
// any depth, appended to flat in row-major order. null is NaN when
// allowNaN.
func decodeTensor(data []byte, bools, allowNaN bool, flat []float64) ([]float64, error) {
	d := decoder{data: data, allowNaN: allowNaN, flat: flat[:0]}
	d.ws()
	if d.peek() != '[' {
		if d.pos == len(d.data) {
			return nil, badInput(`the input has no "data"`)
		}
		kind, err := d.kindAndSkip()
		if err != nil {
			return nil, err
		}
		return nil, badInput(`the input's "data" is %s, not an array`, kind)
	}
	depth := 0
	for {
		d.ws()
		c := d.peek()
		switch {
		case c == '[':
			if depth >= 32 {
				return nil, badInput(`the input's "data" is nested too deeply`)
			}
			d.pos++
			depth++
			d.ws()
			if d.peek() == ']' {
				d.pos++
				depth--
				break
			}
			continue
		case c == '-' || (c >= '0' && c <= '9'):
			v, err := d.number()
			if err != nil {
				return nil, err
			}
			d.flat = append(d.flat, v)
		case bools && (c == 't' || c == 'f'):
			lit, v := "true", 1.0
			if c == 'f' {
				lit, v = "false", 0
			}
			if err := d.literal(lit); err != nil {
				return nil, err
			}
			d.flat = append(d.flat, v)
		case c == 'n' && d.allowNaN:
			if err := d.literal("null"); err != nil {
				return nil, err
			}
			d.flat = append(d.flat, math.NaN())
		default:
			at := len(d.flat)
			kind, err := d.kindAndSkip()
			if err != nil {
				return nil, err
			}
			if kind == "null" {
				return nil, badInput(`value %d of the input's "data" is null, and this model does not accept missing values (NaN)`, at)
			}
			return nil, badInput(`value %d of the input's "data" is %s, not a number`, at, kind)
		}
		// After a value: close arrays or go on to the next value.
		for {
			if depth == 0 {
				if err := d.end(); err != nil {
					return nil, err
				}
				return d.flat, nil
			}
			d.ws()
			c := d.peek()
			d.pos++
			if c == ']' {
				depth--
				continue
			}
			if c != ',' {
				d.pos--
				return nil, d.syntax("expected ',' or ']' in an array")
			}
			break
		}
	}
}

// ParseRow parses one row of features, a JSON array of nf numbers (null
// for NaN when allowNaN), appending the values to dst. Its errors are
// client mistakes, worded for the user.
func ParseRow(data []byte, nf int, allowNaN bool, dst []float64) ([]float64, error) {
	d := decoder{data: data, nf: nf, allowNaN: allowNaN, flat: dst}
	d.ws()
	if d.peek() != '[' {
		if d.pos == len(d.data) {
			return dst, badInput("expected a row, an array of numbers, and got nothing")
		}
		kind, err := d.kindAndSkip()
		if err != nil {
			return dst, err
		}
		return dst, badInput("the row is %s, not an array of numbers", kind)
	}
	d.pos++
	start := len(d.flat)
	n, err := d.row(-1)
	if err != nil {
		return dst, err
	}
	if err := d.end(); err != nil {
		return dst, err
	}
	if n == 0 {
		return dst, badInput("the row is empty")
	}
	if nf > 0 && n != nf {
		return dst, badInput("the row has %d features, the model expects %d", n, nf)
	}
	return d.flat[:start+n], nil
}

// ParseFeatures parses the value of a "features" member: one row (an
// array of numbers) or a batch (an array of rows), each of nf numbers.
func ParseFeatures(data []byte, nf int, allowNaN bool) ([][]float64, error) {
	d := decoder{data: data, nf: nf, allowNaN: allowNaN}
	d.ws()
	f, err := d.features()
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return f.rows, nil
}
