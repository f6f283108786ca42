package policy

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A strict JSON reader producing a generic tree that keeps member order and
// rejects duplicate member names, so no two readers of a policy can disagree
// on what it says. It accepts exactly what encoding/json accepts (strings
// decode the same way, invalid UTF-8 included) apart from duplicates and
// nesting deeper than maxDepth; json_test.go checks that differentially.
// It exists because json.Decoder.Token costs several times more.

type jkind uint8

const (
	jString jkind = iota
	jNumber
	jBool
	jNull
	jObject
	jArray
)

type jvalue struct {
	kind jkind
	str  string // string value, number text, or "true"/"false"
	obj  []jfield
	arr  []jvalue
}

type jfield struct {
	name string
	val  jvalue
}

// maxDepth bounds nesting; real policies nest at most six levels.
const maxDepth = 32

type jreader struct {
	s string
	i int
}

func decodeJSON(doc string) (jvalue, error) {
	r := jreader{s: doc}
	v, ok := r.value(0)
	if r.space(); !ok || r.i != len(r.s) {
		return jvalue{}, errSyntax
	}
	return v, nil
}

func (r *jreader) space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// next skips space and consumes c if it comes next.
func (r *jreader) next(c byte) bool {
	r.space()
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *jreader) value(depth int) (jvalue, bool) {
	if depth > maxDepth {
		return jvalue{}, false
	}
	r.space()
	if r.i >= len(r.s) {
		return jvalue{}, false
	}
	switch c := r.s[r.i]; {
	case c == '{':
		return r.object(depth)
	case c == '[':
		return r.array(depth)
	case c == '"':
		s, ok := r.str()
		return jvalue{kind: jString, str: s}, ok
	case c == 't':
		return jvalue{kind: jBool, str: "true"}, r.literal("true")
	case c == 'f':
		return jvalue{kind: jBool, str: "false"}, r.literal("false")
	case c == 'n':
		return jvalue{kind: jNull}, r.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return r.number()
	}
	return jvalue{}, false
}

func (r *jreader) literal(word string) bool {
	if strings.HasPrefix(r.s[r.i:], word) {
		r.i += len(word)
		return true
	}
	return false
}

func (r *jreader) object(depth int) (jvalue, bool) {
	r.i++ // '{'
	v := jvalue{kind: jObject}
	if r.next('}') {
		return v, true
	}
	var seen map[string]bool // only for objects too large to scan
	for {
		r.space()
		if r.i >= len(r.s) || r.s[r.i] != '"' {
			return v, false
		}
		name, ok := r.str()
		if !ok || !r.next(':') {
			return v, false
		}
		if len(v.obj) >= 16 && seen == nil {
			seen = make(map[string]bool, 2*len(v.obj))
			for _, f := range v.obj {
				seen[f.name] = true
			}
		}
		if seen != nil {
			if seen[name] {
				return v, false
			}
			seen[name] = true
		} else {
			for _, f := range v.obj {
				if f.name == name {
					return v, false
				}
			}
		}
		val, ok := r.value(depth + 1)
		if !ok {
			return v, false
		}
		v.obj = append(v.obj, jfield{name, val})
		if r.next('}') {
			return v, true
		}
		if !r.next(',') {
			return v, false
		}
	}
}

func (r *jreader) array(depth int) (jvalue, bool) {
	r.i++ // '['
	v := jvalue{kind: jArray}
	if r.next(']') {
		return v, true
	}
	for {
		val, ok := r.value(depth + 1)
		if !ok {
			return v, false
		}
		v.arr = append(v.arr, val)
		if r.next(']') {
			return v, true
		}
		if !r.next(',') {
			return v, false
		}
	}
}

// number accepts the JSON number grammar and keeps its text.
func (r *jreader) number() (jvalue, bool) {
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.s) && '0' <= r.s[r.i] && r.s[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.s[r.i] == '-' {
		r.i++
	}
	if r.i < len(r.s) && r.s[r.i] == '0' {
		r.i++
	} else if digits() == 0 {
		return jvalue{}, false
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return jvalue{}, false
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return jvalue{}, false
		}
	}
	return jvalue{kind: jNumber, str: r.s[start:r.i]}, true
}

// str reads a string literal, decoding it as encoding/json does: invalid
// UTF-8 and unpaired surrogates become U+FFFD.
func (r *jreader) str() (string, bool) {
	r.i++ // '"'
	start := r.i
	// Fast path: plain ASCII without escapes.
	for r.i < len(r.s) {
		c := r.s[r.i]
		if c == '"' {
			r.i++
			return r.s[start : r.i-1], true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		r.i++
	}
	var b strings.Builder
	b.WriteString(r.s[start:r.i])
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return b.String(), true
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ru, n := utf8.DecodeRuneInString(r.s[r.i:])
			b.WriteRune(ru) // RuneError for invalid bytes, as encoding/json
			r.i += n
		case c != '\\':
			b.WriteByte(c)
			r.i++
		default:
			if r.i+1 >= len(r.s) {
				return "", false
			}
			e := r.s[r.i+1]
			r.i += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				ru, ok := r.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(ru) {
					// Take the next \uXXXX only if it completes a pair.
					save := r.i
					if strings.HasPrefix(r.s[r.i:], `\u`) {
						r.i += 2
						if lo, ok := r.hex4(); ok {
							if dec := utf16.DecodeRune(ru, lo); dec != utf8.RuneError {
								b.WriteRune(dec)
								continue
							}
						}
					}
					r.i = save
					ru = utf8.RuneError
				}
				b.WriteRune(ru)
			default:
				return "", false
			}
		}
	}
	return "", false
}

func (r *jreader) hex4() (rune, bool) {
	if r.i+4 > len(r.s) {
		return 0, false
	}
	var v rune
	for _, c := range []byte(r.s[r.i : r.i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	r.i += 4
	return v, true
}
