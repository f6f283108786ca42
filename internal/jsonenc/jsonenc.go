// Package jsonenc appends JSON values to byte slices exactly as
// encoding/json's Marshal writes them, for the few shapes that every
// request encodes, without reflection.
package jsonenc

import (
	"encoding/base64"
	"encoding/json"
)

// String appends s as a JSON string. Printable ASCII other than the quote,
// the backslash and the characters Marshal escapes for HTML (<, >, &) goes
// as is; a string with anything else is left to json.Marshal.
func String(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always encodes
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Bytes appends p as Marshal writes a []byte: standard base64 in a string,
// null for a nil slice.
func Bytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}
