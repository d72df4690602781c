package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"
)

// This file writes JSON responses by appending to pooled byte slices: the
// labels and probabilities of a prediction are the hot path, and encoding
// them by hand avoids reflection and the []any boxing of encoding/json.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 { // do not keep the buffers of huge batches
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// AppendFloat writes f as a JSON number that parses back to exactly f (the
// shortest such decimal), keeping a ".0" on integral values as Python's
// json does, so a float label stays distinguishable from an int one. NaN
// and infinities, which JSON cannot hold, become null.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	start := len(b)
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		// Shorten e-07 to e-7, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, ".0"...)
}

// AppendLabel writes a prediction as JSON of its own type: ints as ints,
// floats as floats, strings as strings, bools as bools.
func AppendLabel(b []byte, v any) []byte {
	switch v := v.(type) {
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case float64:
		return AppendFloat(b, v)
	case float32:
		return AppendFloat(b, float64(v))
	case string:
		return appendString(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case nil:
		return append(b, "null"...)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return appendString(b, fmt.Sprint(v))
		}
		return append(b, j...)
	}
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendLabels writes a JSON array of labels.
func appendLabels(b []byte, labels []any) []byte {
	b = append(b, '[')
	for i, l := range labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendLabel(b, l)
	}
	return append(b, ']')
}

// appendFloats writes a JSON array of floats.
func appendFloats(b []byte, fs []float64) []byte {
	b = append(b, '[')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendFloat(b, f)
	}
	return append(b, ']')
}

// writeBytes sends a JSON body.
func writeBytes(ctx *fasthttp.RequestCtx, code int, body []byte) {
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// writeJSON sends v as JSON.
func writeJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(ctx, http.StatusInternalServerError, fmt.Errorf("encoding the response: %w", err))
		return
	}
	writeBytes(ctx, code, append(body, '\n'))
}

// writeError sends {"error": "..."}.
func writeError(ctx *fasthttp.RequestCtx, code int, err error) {
	b := append(appendString([]byte(`{"error":`), err.Error()), "}\n"...)
	writeBytes(ctx, code, b)
}
