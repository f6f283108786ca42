package policy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// toAny converts a tree to what encoding/json (with UseNumber) produces.
func toAny(v jvalue) any {
	switch v.kind {
	case jString:
		return v.str
	case jNumber:
		return json.Number(v.str)
	case jBool:
		return v.str == "true"
	case jObject:
		m := map[string]any{}
		for _, f := range v.obj {
			m[f.name] = toAny(f.val)
		}
		return m
	case jArray:
		a := []any{}
		for _, e := range v.arr {
			a = append(a, toAny(e))
		}
		return a
	}
	return nil
}

// dupOrDeep reports, using json.Decoder's tokens, whether a valid document
// has a duplicate member name or nests deeper than maxDepth: the only valid
// JSON that decodeJSON may refuse.
func dupOrDeep(doc string) bool {
	dec := json.NewDecoder(strings.NewReader(doc))
	type frame struct {
		obj   bool
		names map[string]bool
		key   bool // next token in an object is a name
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1].obj {
			f := &stack[n-1]
			if f.key {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:n-1]
					continue
				}
				name := tok.(string)
				if f.names[name] {
					return true
				}
				f.names[name] = true
				f.key = false
				continue
			}
			f.key = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, names: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > maxDepth+1 {
			return true
		}
	}
}

func checkJSON(t *testing.T, doc string) {
	t.Helper()
	v, err := decodeJSON(doc)
	valid := json.Valid([]byte(doc))
	if err != nil {
		if valid && !dupOrDeep(doc) {
			t.Fatalf("decodeJSON refused valid JSON %q", doc)
		}
		return
	}
	if !valid {
		t.Fatalf("decodeJSON accepted invalid JSON %q", doc)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.UseNumber()
	var want any
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if got := toAny(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeJSON(%q) = %#v, encoding/json gives %#v", doc, got, want)
	}
}

var jsonSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `-12.0E-2`, `true`, `false`, `null`,
	` { "a" : [ 1 , "x" , { } ] } `,
	`{"a":1,"a":2}`, `{"a":{"b":1},"b":{"b":2}}`,
	`"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\"`,
	`"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`, `"\ud83dx"`, `"\ud83d\ud83d\ude00"`,
	"\"\xff\xfe\"", "\"caf\xc3\xa9\"", "\"\xed\xa0\x80\"",
	`"\u12"`, `"\x"`, "\"a\nb\"", `"abc`, `01`, `1.`, `.5`, `-`, `1e`, `+1`, `tru`, `nul`,
	`{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1}x`, `{1:2}`, ``, ` `,
	strings.Repeat("[", 33) + strings.Repeat("]", 33),
	strings.Repeat("[", 34) + strings.Repeat("]", 34),
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k3":3}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17}`,
}

func TestDecodeJSON(t *testing.T) {
	for _, doc := range jsonSeeds {
		checkJSON(t, doc)
	}
	for _, doc := range []string{`{"a":1,"a":2}`, strings.Repeat("[", 34) + strings.Repeat("]", 34)} {
		if _, err := decodeJSON(doc); err == nil {
			t.Errorf("decodeJSON accepted %q", doc)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(checkJSON)
}
