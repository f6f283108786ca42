package sigv4

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// appendCanonicalRequest appends the SigV4 canonical request of r to buf:
// method, URI, query, headers, signed header list and payload hash, one
// per line.
func appendCanonicalRequest(buf []byte, r *http.Request, signedHeaders string, payloadHash []byte) []byte {
	buf = append(buf, r.Method...)
	buf = append(buf, '\n')

	// The path as the client escaped it. AWS escapes it once more for
	// services other than S3, but KMS (and every SDK call to it) uses "/".
	path, query := "/", ""
	if r.URL != nil {
		if p := r.URL.EscapedPath(); p != "" {
			path = p
		}
		query = r.URL.RawQuery
	}
	buf = append(buf, path...)
	buf = append(buf, '\n')
	buf = appendCanonicalQuery(buf, query)
	buf = append(buf, '\n')

	// The headers in the order the client listed them: that order is what
	// it signed, and SDKs list them sorted.
	for rest := signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		buf = append(buf, name...)
		buf = append(buf, ':')
		buf = appendHeaderValue(buf, r, name)
		buf = append(buf, '\n')
	}
	buf = append(buf, '\n')
	buf = append(buf, signedHeaders...)
	buf = append(buf, '\n')
	return append(buf, payloadHash...)
}

// appendHeaderValue appends the canonical value of the signed header name.
// Go's server moves Host into r.Host and may drop Content-Length in favour
// of r.ContentLength, so those two are rebuilt from the request.
func appendHeaderValue(buf []byte, r *http.Request, name string) []byte {
	if name == "host" {
		return appendTrimmed(buf, r.Host)
	}
	vals := headerValues(r.Header, name)
	if len(vals) == 0 && name == "content-length" && r.ContentLength >= 0 {
		return strconv.AppendInt(buf, r.ContentLength, 10)
	}
	for i, v := range vals {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendTrimmed(buf, v)
	}
	return buf
}

// headerValues returns h's values for a lower-case header name. It
// canonicalizes the name on the stack because http.CanonicalHeaderKey
// allocates for every lower-case name, and signed names are lower-case.
func headerValues(h http.Header, name string) []string {
	var b [64]byte
	if len(name) > len(b) {
		return h[http.CanonicalHeaderKey(name)]
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
		case 'A' <= c && c <= 'Z':
			if !upper {
				c += 'a' - 'A'
			}
		case c == '-' || '0' <= c && c <= '9':
		default:
			// Rare bytes: leave the exact rules to net/textproto.
			return h[http.CanonicalHeaderKey(name)]
		}
		b[i] = c
		upper = c == '-'
	}
	return h[string(b[:len(name)])] // no allocation for a map index
}

// appendTrimmed appends v with leading and trailing blanks removed and each
// run of inner spaces collapsed to one, as the SigV4 "Trimall" rule and the
// SDK signers do (tabs inside a value are kept, as they keep them).
func appendTrimmed(buf []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	if !strings.Contains(v, "  ") {
		return append(buf, v...)
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' && space {
			continue
		}
		space = c == ' '
		buf = append(buf, c)
	}
	return buf
}

// appendCanonicalQuery appends the canonical form of a raw query string:
// every name and value decoded, re-encoded per RFC 3986 and the pairs
// sorted after encoding. KMS requests carry no query, so this costs
// nothing on the common path.
func appendCanonicalQuery(buf []byte, raw string) []byte {
	if raw == "" {
		return buf
	}
	type pair struct{ k, v string }
	var pairs []pair
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		pairs = append(pairs, pair{encodeQueryComponent(k), encodeQueryComponent(v)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	for i, p := range pairs {
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = append(buf, p.k...)
		buf = append(buf, '=')
		buf = append(buf, p.v...)
	}
	return buf
}

// encodeQueryComponent re-encodes one query name or value. Decoding
// follows url.ParseQuery ('+' is a space), as the Go SDK signer does; an
// undecodable component is encoded as it is, so it can only mismatch.
func encodeQueryComponent(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		s = d
	}
	// QueryEscape leaves exactly the RFC 3986 unreserved set alone, but
	// writes a space as '+'; a literal '+' became "%2B", so this is safe.
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
