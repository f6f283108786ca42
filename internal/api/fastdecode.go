package api

import (
	"bytes"
	"reflect"
	"unicode/utf8"

	"github.com/openkms/kms/internal/service"
)

// The requests of Encrypt, Decrypt and GenerateDataKey carry most of the
// traffic, and their members are few and plain: a key id, an algorithm, an
// encryption context of short strings, a blob. decodeFast reads such a body
// without encoding/json (whose reflection, after decodeBlob, was still half
// the decoding of a 4 KiB Encrypt), and gives up, leaving it to the other
// ways, on anything where the two could differ: a member it does not know or
// knows only case-insensitively or twice, a null, an escape or a control or
// non-UTF-8 byte in a string, a number that is not a plain int32, bad
// base64. FuzzDecodeBlob checks that whatever it decodes, encoding/json
// decodes the same.

// fastSetter decodes the value raw (its whole span in the body) into a
// member of v, or reports false.
type fastSetter func(v any, raw []byte) bool

// fastFields are the members decodeFast reads, by request type and exact
// name.
var fastFields = map[reflect.Type]map[string]fastSetter{
	reflect.TypeFor[*service.EncryptInput](): {
		"KeyId":               str(func(v any) **string { return &v.(*service.EncryptInput).KeyId }),
		"Plaintext":           blob(func(v any) *[]byte { return &v.(*service.EncryptInput).Plaintext }),
		"EncryptionContext":   strMap(func(v any) *map[string]string { return &v.(*service.EncryptInput).EncryptionContext }),
		"GrantTokens":         strList(func(v any) *[]string { return &v.(*service.EncryptInput).GrantTokens }),
		"EncryptionAlgorithm": str(func(v any) **string { return &v.(*service.EncryptInput).EncryptionAlgorithm }),
		"DryRun":              boolean(func(v any) *bool { return &v.(*service.EncryptInput).DryRun }),
	},
	reflect.TypeFor[*service.DecryptInput](): {
		"CiphertextBlob":      blob(func(v any) *[]byte { return &v.(*service.DecryptInput).CiphertextBlob }),
		"EncryptionContext":   strMap(func(v any) *map[string]string { return &v.(*service.DecryptInput).EncryptionContext }),
		"GrantTokens":         strList(func(v any) *[]string { return &v.(*service.DecryptInput).GrantTokens }),
		"KeyId":               str(func(v any) **string { return &v.(*service.DecryptInput).KeyId }),
		"EncryptionAlgorithm": str(func(v any) **string { return &v.(*service.DecryptInput).EncryptionAlgorithm }),
		"DryRun":              boolean(func(v any) *bool { return &v.(*service.DecryptInput).DryRun }),
	},
	reflect.TypeFor[*service.GenerateDataKeyInput](): {
		"KeyId":             str(func(v any) **string { return &v.(*service.GenerateDataKeyInput).KeyId }),
		"EncryptionContext": strMap(func(v any) *map[string]string { return &v.(*service.GenerateDataKeyInput).EncryptionContext }),
		"NumberOfBytes":     int32Ptr(func(v any) **int32 { return &v.(*service.GenerateDataKeyInput).NumberOfBytes }),
		"KeySpec":           str(func(v any) **string { return &v.(*service.GenerateDataKeyInput).KeySpec }),
		"GrantTokens":       strList(func(v any) *[]string { return &v.(*service.GenerateDataKeyInput).GrantTokens }),
		"DryRun":            boolean(func(v any) *bool { return &v.(*service.GenerateDataKeyInput).DryRun }),
	},
}

// decodeFast decodes body into v if v is a request type it knows and it
// can do so exactly as json.Unmarshal would; ok is false if it did nothing
// (v is left as it was: zero).
func decodeFast(body []byte, v any) (ok bool) {
	fields := fastFields[reflect.TypeOf(v)]
	if fields == nil {
		return false
	}
	defer func() {
		if !ok {
			reflect.ValueOf(v).Elem().SetZero() // what it set before giving up
		}
	}()
	members, ok := scanObject(body)
	if !ok || len(members) > len(fields) {
		return false
	}
	for i, m := range members {
		set := fields[string(m.name)]
		if set == nil {
			return false
		}
		for _, o := range members[:i] {
			if bytes.Equal(o.name, m.name) {
				return false
			}
		}
		if !set(v, body[m.start:m.end]) {
			return false
		}
	}
	return true
}

// plainString returns the contents of raw, a JSON string, if encoding/json
// would decode it to exactly those bytes: no escapes, no control bytes,
// valid UTF-8.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	for _, c := range s {
		if c < 0x20 || c == '\\' || c == '"' {
			return nil, false
		}
	}
	return s, utf8.Valid(s)
}

func str(field func(any) **string) fastSetter {
	return func(v any, raw []byte) bool {
		s, ok := plainString(raw)
		if ok {
			p := string(s)
			*field(v) = &p
		}
		return ok
	}
}

func blob(field func(any) *[]byte) fastSetter {
	return func(v any, raw []byte) bool {
		if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
			return false
		}
		data, ok := decodeBase64(raw[1 : len(raw)-1])
		if !ok {
			return false
		}
		*field(v) = data
		return true
	}
}

func boolean(field func(any) *bool) fastSetter {
	return func(v any, raw []byte) bool {
		switch string(raw) {
		case "true":
			*field(v) = true
		case "false":
			*field(v) = false
		default:
			return false
		}
		return true
	}
}

// int32Ptr takes 0 or a positive integer without sign, fraction or
// exponent that fits an int32; anything else is left to encoding/json.
func int32Ptr(field func(any) **int32) fastSetter {
	return func(v any, raw []byte) bool {
		if len(raw) == 0 || len(raw) > 10 || raw[0] == '0' && len(raw) > 1 {
			return false
		}
		var n int64
		for _, c := range raw {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int64(c-'0')
		}
		if n > 1<<31-1 {
			return false
		}
		i := int32(n)
		*field(v) = &i
		return true
	}
}

// strMap reads an object of plain strings. Like encoding/json, a repeated
// name keeps its last value.
func strMap(field func(any) *map[string]string) fastSetter {
	return func(v any, raw []byte) bool {
		members, ok := scanObject(raw)
		if !ok {
			return false
		}
		m := make(map[string]string, len(members))
		for _, e := range members {
			val, ok := plainString(raw[e.start:e.end])
			if !ok || !utf8.Valid(e.name) || bytes.IndexByte(e.name, '\\') >= 0 || hasControl(e.name) {
				return false
			}
			m[string(e.name)] = string(val)
		}
		*field(v) = m
		return true
	}
}

// strList reads an array of plain strings.
func strList(field func(any) *[]string) fastSetter {
	return func(v any, raw []byte) bool {
		if len(raw) < 2 || raw[0] != '[' || raw[len(raw)-1] != ']' {
			return false
		}
		list := []string{}
		i := skipSpace(raw, 1)
		for i < len(raw)-1 {
			if raw[i] != '"' {
				return false
			}
			end, ok := skipString(raw, i)
			if !ok || end > len(raw)-1 {
				return false
			}
			s, ok := plainString(raw[i:end])
			if !ok {
				return false
			}
			list = append(list, string(s))
			i = skipSpace(raw, end)
			if i < len(raw)-1 {
				if raw[i] != ',' {
					return false
				}
				if i = skipSpace(raw, i+1); i >= len(raw)-1 {
					return false // a trailing comma
				}
			}
		}
		*field(v) = list
		return true
	}
}

func hasControl(s []byte) bool {
	for _, c := range s {
		if c < 0x20 {
			return true
		}
	}
	return false
}
