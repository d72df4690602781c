package serve

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unsafe"
)

// This file is the JSON scanner under the decoders: whitespace, literals,
// numbers, strings and the validating skip of any value, by RFC 8259.

func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// syntax is an invalid JSON error at the current position.
func (d *decoder) syntax(msg string) error {
	if d.pos >= len(d.data) {
		return badInput("invalid JSON: unexpected end of input (%s)", msg)
	}
	return badInput("invalid JSON at byte %d (%s): %s", d.pos, quoteByte(d.data[d.pos]), msg)
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("0x%02x", c)
}

func (d *decoder) literal(lit string) error {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return d.syntax("invalid literal")
	}
	d.pos += len(lit)
	return nil
}

// number scans a JSON number and converts it to float64.
func (d *decoder) number() (float64, error) {
	start := d.pos
	if err := d.scanNumber(); err != nil {
		return 0, err
	}
	b := d.data[start:d.pos]
	if v, ok := fastFloat(b); ok {
		return v, nil
	}
	// strconv.ParseFloat accepts a superset of JSON numbers; scanNumber
	// has checked the grammar. The string does not outlive the call.
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		d.pos = start
		return 0, badInput("number %s at byte %d is out of range for a float64", string(b), start)
	}
	return v, nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastFloat converts the common short decimals (-12.345, 0.2, 7) exactly,
// by Clinger's fast path: an integer mantissa below 2^53 divided or
// multiplied by an exactly representable power of ten is correctly
// rounded. It reports false for anything else (exponents, long mantissas),
// which strconv.ParseFloat then handles.
func fastFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if b[0] == '-' {
		neg = true
		i++
	}
	var mant uint64
	digits := 0
	frac := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		mant = mant*10 + uint64(b[i]-'0')
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			mant = mant*10 + uint64(b[i]-'0')
			digits++
			frac++
		}
	}
	if i != len(b) || digits > 15 || frac > 22 {
		return 0, false
	}
	v := float64(mant) / pow10[frac]
	if neg {
		v = -v
	}
	return v, true
}

// scanNumber checks a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *decoder) scanNumber() error {
	if d.peek() == '-' {
		d.pos++
	}
	switch c := d.peek(); {
	case c == '0':
		d.pos++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return d.syntax("invalid number")
	}
	if d.peek() == '.' {
		d.pos++
		if !d.digits() {
			return d.syntax("expected a digit after the decimal point")
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.pos++
		if c := d.peek(); c == '+' || c == '-' {
			d.pos++
		}
		if !d.digits() {
			return d.syntax("expected a digit in the exponent")
		}
	}
	return nil
}

// digits skips [0-9]* and reports whether there was at least one.
func (d *decoder) digits() bool {
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}

// key scans an object key and returns it unescaped.
func (d *decoder) key() (string, error) {
	if d.peek() != '"' {
		return "", d.syntax("expected a string for an object key")
	}
	start := d.pos
	escaped, err := d.scanString()
	if err != nil {
		return "", err
	}
	raw := d.data[start:d.pos]
	if !escaped {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badInput("invalid JSON string at byte %d: %v", start, err)
	}
	return s, nil
}

// scanString skips a string, positioned on its opening quote, checking its
// escapes. It reports whether it had any.
func (d *decoder) scanString() (escaped bool, err error) {
	d.pos++
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return escaped, nil
		case c == '\\':
			escaped = true
			d.pos++
			switch d.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.pos++
			case 'u':
				d.pos++
				for range 4 {
					if !isHex(d.peek()) {
						return false, d.syntax(`invalid \u escape in a string`)
					}
					d.pos++
				}
			default:
				return false, d.syntax("invalid escape in a string")
			}
		case c < 0x20:
			return false, d.syntax("control character in a string")
		default:
			d.pos++
		}
	}
	return false, d.syntax("unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// skipValue checks and skips any JSON value, iteratively, so that deep
// nesting cannot exhaust the stack.
func (d *decoder) skipValue() error {
	var stack []byte // open containers: '[' or '{'
	for {
		// A value.
		d.ws()
		switch c := d.peek(); {
		case c == '"':
			if _, err := d.scanString(); err != nil {
				return err
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if err := d.scanNumber(); err != nil {
				return err
			}
		case c == 't':
			if err := d.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := d.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := d.literal("null"); err != nil {
				return err
			}
		case c == '[' || c == '{':
			if len(stack) >= maxDepth {
				return d.syntax("nested too deeply")
			}
			d.pos++
			stack = append(stack, c)
			d.ws()
			if c == '[' && d.peek() == ']' {
				d.pos++
				stack = stack[:len(stack)-1]
				break
			}
			if c == '{' {
				if d.peek() == '}' {
					d.pos++
					stack = stack[:len(stack)-1]
					break
				}
				if err := d.memberKey(); err != nil {
					return err
				}
			}
			continue // the container's first value
		default:
			return d.syntax("expected a JSON value")
		}
		// After a value: close containers or move to the next value.
		for {
			if len(stack) == 0 {
				return nil
			}
			d.ws()
			top := stack[len(stack)-1]
			c := d.peek()
			if c == ',' {
				d.pos++
				if top == '{' {
					d.ws()
					if err := d.memberKey(); err != nil {
						return err
					}
				}
				break
			}
			if (top == '[' && c == ']') || (top == '{' && c == '}') {
				d.pos++
				stack = stack[:len(stack)-1]
				continue
			}
			return d.syntax("expected ',' or the end of an array or object")
		}
	}
}

// memberKey skips an object member's key and its colon.
func (d *decoder) memberKey() error {
	if d.peek() != '"' {
		return d.syntax("expected a string for an object key")
	}
	if _, err := d.scanString(); err != nil {
		return err
	}
	d.ws()
	if d.peek() != ':' {
		return d.syntax("expected ':' after object key")
	}
	d.pos++
	return nil
}
