package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"github.com/segmentio/asm/base64"
)

// Requests that carry data (Encrypt's Plaintext, Decrypt's CiphertextBlob)
// are mostly one long base64 string, and encoding/json spends most of its
// time on it: a validation pass, a decoding pass, unquoting, UTF-8 checks,
// then base64. decodeBlob takes that string out first: it finds the
// top-level member by a structural scan, base64-decodes it straight from
// the body, and lets encoding/json decode the rest with an empty string in
// its place. It gives up (and decode does it the plain way) on anything
// where the two could differ: escapes or control characters in the string,
// a member name matching the field only case-insensitively or more than
// once, bad base64, a body that does not scan. FuzzDecodeBlob checks that
// whatever it decodes, encoding/json decodes the same.
//
// The base64 decoder is segmentio/asm's: AVX2 where the CPU has it (about
// 12 times encoding/base64's speed on a 4 KiB blob here), encoding/base64
// for what is left and on other CPUs.

// blobMin is the smallest body worth the fast path.
const blobMin = 1024

// decodeBlob decodes body into v (a pointer to a struct) if it can do so
// exactly as json.Unmarshal would; ok is false if it did nothing.
func decodeBlob(body []byte, v any) (ok bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	fields := blobFields(rv.Elem().Type())
	if len(fields) == 0 {
		return false
	}
	members, ok := scanObject(body)
	if !ok {
		return false
	}
	// The longest string member that names a blob field exactly.
	best := -1
	for i, m := range members {
		if _, isBlob := fields[string(m.name)]; isBlob && body[m.start] == '"' &&
			(best < 0 || m.end-m.start > members[best].end-members[best].start) {
			best = i
		}
	}
	if best < 0 {
		return false
	}
	m := members[best]
	for i, o := range members {
		// encoding/json matches names case-insensitively; the last wins.
		if i != best && strings.EqualFold(string(o.name), string(m.name)) {
			return false
		}
	}
	raw := body[m.start+1 : m.end-1]
	data, ok := decodeBase64(raw)
	if !ok {
		return false
	}
	rest := make([]byte, 0, len(body)-len(raw))
	rest = append(append(append(rest, body[:m.start]...), `""`...), body[m.end:]...)
	if json.Unmarshal(rest, v) != nil {
		rv.Elem().SetZero() // what it set before failing
		return false        // the plain way gives the error
	}
	rv.Elem().Field(fields[string(m.name)]).SetBytes(data)
	return true
}

// decodeBase64 decodes s, the contents of a JSON string, if it holds
// base64 as encoding/json would decode it. The decoder skips CR and LF,
// which JSON does not allow raw in a string, and fails on any other byte
// outside its alphabet: a search for those two and for escapes is all the
// checking the string needs.
func decodeBase64(s []byte) ([]byte, bool) {
	if bytes.IndexByte(s, '\\') >= 0 || bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0 {
		return nil, false
	}
	data := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(data, s)
	if err != nil {
		return nil, false
	}
	return data[:n], true
}

// blobFieldCache maps struct types to their []byte fields by name.
var blobFieldCache sync.Map // reflect.Type -> map[string]int

// blobFields lists t's exported []byte fields whose JSON name is the Go
// name (no tag renames them), by name.
func blobFields(t reflect.Type) map[string]int {
	if f, ok := blobFieldCache.Load(t); ok {
		return f.(map[string]int)
	}
	fields := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Type == reflect.TypeFor[[]byte]() && f.Tag.Get("json") == "" && !f.Anonymous {
			fields[f.Name] = i
		}
	}
	blobFieldCache.Store(t, fields)
	return fields
}

// member is a top-level member of a JSON object: its name (raw, without
// quotes) and the span of its value in the body.
type member struct {
	name       []byte
	start, end int
}

// scanObject finds the members of the JSON object body. It checks
// structure only (strings, nesting, separators), not the literals and
// numbers encoding/json validates later; names with escapes make it give
// up.
func scanObject(b []byte) ([]member, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	var members []member
	if i < len(b) && b[i] == '}' {
		return members, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		end, ok := skipString(b, i)
		if !ok || bytes.IndexByte(b[i:end], '\\') >= 0 {
			return nil, false
		}
		name := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		start := skipSpace(b, i+1)
		vend, ok := skipValue(b, start)
		if !ok {
			return nil, false
		}
		members = append(members, member{name: name, start: start, end: vend})
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return members, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) (int, bool) {
	// Most strings have no escapes: two fast searches find the end.
	if q := bytes.IndexByte(b[i+1:], '"'); q >= 0 && bytes.IndexByte(b[i+1:i+1+q], '\\') < 0 {
		return i + 2 + q, true
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i++ // the escaped character is not the end
		}
	}
	return 0, false
}

// skipValue returns the index after the value starting at b[i]: a string,
// or an object or array (strings inside skipped whole), or anything else up
// to the next separator.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	}
	start := i
	for i < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[i])) {
		i++
	}
	return i, i > start
}
