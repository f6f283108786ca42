// Package sigv4 authenticates requests signed with AWS Signature Version 4
// in its Authorization-header form (spec §1.6):
//
//	Authorization: AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms/aws4_request,
//	    SignedHeaders=content-type;host;x-amz-date, Signature=<64 hex>
//
// # Order of checks
//
// [Verifier.Verify] checks, in this order: the header's shape and the
// request date (IncompleteSignatureException), the algorithm, the clock
// skew, the credential scope, that host is signed, the payload hash header
// (InvalidSignatureException), the access key (UnrecognizedClientException)
// and last the signature itself, compared in constant time. Everything
// that needs no secret is checked before the key is looked up.
//
// # Not supported
//
// Presigned query-string requests (SDKs never presign KMS calls) and
// SigV4a. Session tokens are checked by the Lookup, which receives them.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/openkms/kms"
)

// Credential is what the server knows about an access key.
type Credential struct {
	Secret    []byte // the secret access key (unsealed, in memory only)
	Principal kms.Principal
}

// Errors a Lookup returns for credentials it refuses.
var (
	// ErrUnknownAccessKey: unknown or inactive key id, or a session token
	// that is invalid or does not belong to the key id.
	ErrUnknownAccessKey = errors.New("sigv4: unknown access key")
	// ErrExpiredToken: a session token past its expiry.
	ErrExpiredToken = errors.New("sigv4: expired session token")
)

// Lookup finds the credential of an access key id, given the request's
// X-Amz-Security-Token ("" when absent) for temporary credentials. It runs
// on every request, so it should be fast; Verify caches only derived keys.
type Lookup func(ctx context.Context, accessKeyID, sessionToken string) (Credential, error)

// Verifier authenticates SigV4-signed requests. Service and Lookup must be
// set. A Verifier is safe for concurrent use and must not be copied after
// first use (it holds the signing-key cache).
type Verifier struct {
	Service string // expected service in the scope, e.g. "kms"
	// Services, when set, replaces Service: any of them is accepted and
	// Result.Service says which one the request was signed for.
	Services []string
	Lookup   Lookup                   // finds the secret of an access key
	Region   func(region string) bool // nil accepts any non-empty region
	Now      func() time.Time         // nil = time.Now
	MaxSkew  time.Duration            // 0 = 5 minutes

	keys keyCache
}

// Result is the authenticated caller of a request.
type Result struct {
	Principal   kms.Principal
	Region      string // from the credential scope
	Service     string // from the credential scope
	AccessKeyID string
	// SignedHeaders is the signature's list of signed header names:
	// lower-case, separated by ";". See [Result.Signed].
	SignedHeaders string
}

// Signed reports whether the signature covers the header name, so that
// its value is as the signer sent it. name is matched without regard to
// case.
func (r *Result) Signed(name string) bool {
	for rest := r.SignedHeaders; rest != ""; {
		var h string
		h, rest, _ = strings.Cut(rest, ";")
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

const (
	algorithm      = "AWS4-HMAC-SHA256"
	terminator     = "aws4_request"
	amzDateFormat  = "20060102T150405Z"
	defaultMaxSkew = 5 * time.Minute

	msgMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Verify authenticates r, whose body has already been read into body.
// Every error is a *kms.Error.
//
// An X-Amz-Security-Token header, signed or not, is handed to the Lookup,
// which decides whether the key id and token belong together.
func (v *Verifier) Verify(r *http.Request, body []byte) (Result, error) {
	authz := r.Header["Authorization"]
	if len(authz) == 0 || authz[0] == "" {
		return Result{}, kms.Errorf(kms.ErrMissingAuthToken, "Missing Authentication Token")
	}
	if len(authz) > 1 {
		return Result{}, kms.Errorf(kms.ErrIncompleteSignature, "Authorization header must appear only once.")
	}
	a, err := parseAuthorization(authz[0])
	if err != nil {
		return Result{}, err
	}

	amzDate, reqTime, usedAmzDate, err := requestTime(r)
	if err != nil {
		return Result{}, err
	}
	if a.credential == "" || a.signedHeaders == "" || a.signature == "" || amzDate == "" {
		return Result{}, incomplete(a, authz[0], amzDate != "")
	}
	if a.algorithm != algorithm {
		return Result{}, kms.Errorf(kms.ErrIncompleteSignature, "Unsupported AWS 'algorithm': '%s'.", clip(a.algorithm))
	}
	if err := v.checkSkew(amzDate, reqTime); err != nil {
		return Result{}, err
	}

	akid, sc, err := v.checkScope(a.credential, amzDate)
	if err != nil {
		return Result{}, err
	}

	host, xAmzDate := signsHostAndDate(a.signedHeaders)
	if !host {
		return Result{}, kms.Errorf(kms.ErrInvalidSignature,
			"'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if usedAmzDate && !xAmzDate {
		// The date is in the string to sign anyway; AWS still insists on it.
		return Result{}, kms.Errorf(kms.ErrInvalidSignature,
			"'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}

	sum := sha256.Sum256(body)
	var payloadHash [2 * sha256.Size]byte
	hex.Encode(payloadHash[:], sum[:])
	if h, ok := r.Header["X-Amz-Content-Sha256"]; ok && (len(h) != 1 || h[0] != string(payloadHash[:])) {
		return Result{}, kms.Errorf(kms.ErrInvalidSignature,
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	if v.Lookup == nil {
		return Result{}, kms.Internal(errors.New("sigv4: Verifier.Lookup is nil"))
	}
	cred, err := v.Lookup(r.Context(), akid, r.Header.Get("X-Amz-Security-Token"))
	if errors.Is(err, ErrUnknownAccessKey) {
		return Result{}, kms.Errorf(kms.ErrUnrecognizedClient, "The security token included in the request is invalid.")
	}
	if errors.Is(err, ErrExpiredToken) {
		return Result{}, kms.Errorf(kms.ErrExpiredToken, "The security token included in the request is expired")
	}
	if err != nil {
		return Result{}, kms.Internal(err)
	}
	if len(cred.Secret) == 0 {
		return Result{}, kms.Internal(errors.New("sigv4: empty secret for access key"))
	}

	var got [sha256.Size]byte
	if !decodeHex(got[:], a.signature) {
		return Result{}, kms.Errorf(kms.ErrInvalidSignature, msgMismatch)
	}
	want := v.signature(r, a.signedHeaders, payloadHash[:], amzDate, akid, sc, cred.Secret)
	if !hmac.Equal(got[:], want[:]) {
		return Result{}, kms.Errorf(kms.ErrInvalidSignature, msgMismatch)
	}

	p := cred.Principal
	if p.AccessKeyID == "" {
		p.AccessKeyID = akid
	}
	return Result{Principal: p, Region: sc.region, Service: sc.service, AccessKeyID: akid, SignedHeaders: a.signedHeaders}, nil
}

// authorization holds the components of an Authorization header, as
// substrings of it.
type authorization struct {
	algorithm     string
	credential    string
	signedHeaders string
	signature     string
}

// parseAuthorization splits h into its algorithm and comma-separated
// key=value components. Unknown components are ignored;
// missing ones are left empty for the caller to report together.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest := ""
	a.algorithm, rest, _ = strings.Cut(h, " ")
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.Trim(part, " \t")
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return a, kms.Errorf(kms.ErrIncompleteSignature,
				"Invalid key=value pair (missing equal-sign) in Authorization header "+
					"(hashed with SHA-256 and encoded with Base64): '%s'.", hashed(h))
		}
		switch k {
		case "Credential":
			a.credential = val
		case "SignedHeaders":
			a.signedHeaders = val
		case "Signature":
			a.signature = val
		}
	}
	return a, nil
}

// incomplete builds AWS's message listing everything that is missing.
func incomplete(a authorization, header string, haveDate bool) error {
	var b strings.Builder
	if a.credential == "" {
		b.WriteString("Authorization header requires 'Credential' parameter. ")
	}
	if a.signature == "" {
		b.WriteString("Authorization header requires 'Signature' parameter. ")
	}
	if a.signedHeaders == "" {
		b.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
	}
	if !haveDate {
		b.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	b.WriteString("Authorization header (hashed with SHA-256 and encoded with Base64): '")
	b.WriteString(hashed(header))
	b.WriteString("'.")
	return kms.Errorf(kms.ErrIncompleteSignature, "%s", b.String())
}

// hashed names a malformed Authorization header by its hash, as AWS does
// now: the header may hold another scheme's secret (a bearer token, Basic
// credentials) that must not be echoed into responses and logs.
func hashed(header string) string {
	sum := sha256.Sum256([]byte(header))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// clip bounds client-supplied text echoed in messages so that a huge header
// cannot bloat responses and logs.
func clip(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// requestTime returns the request time from X-Amz-Date or, failing that,
// Date, with the timestamp as the string to sign spells it. amzDate is
// empty when neither header is present. fromAmzDate says which one it was.
func requestTime(r *http.Request) (amzDate string, t time.Time, fromAmzDate bool, err error) {
	if d := r.Header["X-Amz-Date"]; len(d) > 0 && d[0] != "" {
		t, err = time.Parse(amzDateFormat, d[0])
		if err != nil || len(d[0]) != len(amzDateFormat) {
			return "", time.Time{}, true, kms.Errorf(kms.ErrIncompleteSignature,
				"Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", clip(d[0]))
		}
		return d[0], t, true, nil
	}
	if d := r.Header["Date"]; len(d) > 0 && d[0] != "" {
		t, err = http.ParseTime(d[0])
		if err != nil {
			return "", time.Time{}, false, kms.Errorf(kms.ErrIncompleteSignature,
				"Date must be in RFC 1123 format. Got '%s'.", clip(d[0]))
		}
		t = t.UTC()
		return t.Format(amzDateFormat), t, false, nil
	}
	return "", time.Time{}, false, nil
}

func (v *Verifier) checkSkew(amzDate string, t time.Time) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	n := now().UTC()
	if lo := n.Add(-skew); t.Before(lo) {
		return kms.Errorf(kms.ErrInvalidSignature, "Signature expired: %s is now earlier than %s (%s - %s.)",
			amzDate, lo.Format(amzDateFormat), n.Format(amzDateFormat), skewString(skew))
	}
	if hi := n.Add(skew); t.After(hi) {
		return kms.Errorf(kms.ErrInvalidSignature, "Signature not yet current: %s is still later than %s (%s + %s.)",
			amzDate, hi.Format(amzDateFormat), n.Format(amzDateFormat), skewString(skew))
	}
	return nil
}

func skewString(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

// scope is the credential scope, minus the access key and terminator.
type scope struct {
	date, region, service string
}

// checkScope splits a Credential value and checks its scope against the
// request date and the verifier's configuration.
func (v *Verifier) checkScope(cred, amzDate string) (akid string, s scope, err error) {
	var rest, term string
	var ok [4]bool
	akid, rest, ok[0] = strings.Cut(cred, "/")
	s.date, rest, ok[1] = strings.Cut(rest, "/")
	s.region, rest, ok[2] = strings.Cut(rest, "/")
	s.service, term, ok[3] = strings.Cut(rest, "/")
	if ok != [4]bool{true, true, true, true} || strings.Contains(term, "/") {
		return "", s, kms.Errorf(kms.ErrIncompleteSignature,
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", clip(cred))
	}
	if s.date != amzDate[:8] {
		return "", s, kms.Errorf(kms.ErrInvalidSignature,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			clip(s.date), amzDate[:8], amzDate)
	}
	if !v.serviceOK(s.service) {
		return "", s, kms.Errorf(kms.ErrInvalidSignature, "Credential should be scoped to correct service: '%s'. ", v.Service)
	}
	if !validRegion(s.region) || (v.Region != nil && !v.Region(s.region)) {
		return "", s, kms.Errorf(kms.ErrInvalidSignature, "Credential should be scoped to a valid region, not '%s'. ", clip(s.region))
	}
	if term != terminator {
		return "", s, kms.Errorf(kms.ErrInvalidSignature,
			"Credential should be scoped with a valid terminator: '%s', not '%s'.", terminator, clip(term))
	}
	return akid, s, nil
}

// signsHostAndDate reports whether host and x-amz-date are signed headers.
func signsHostAndDate(signed string) (host, date bool) {
	for signed != "" {
		var name string
		name, signed, _ = strings.Cut(signed, ";")
		switch name {
		case "host":
			host = true
		case "x-amz-date":
			date = true
		}
	}
	return host, date
}

// signature computes the expected signature of r.
func (v *Verifier) signature(r *http.Request, signedHeaders string, payloadHash []byte, amzDate, akid string, s scope, secret []byte) [sha256.Size]byte {
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledBuf {
			bufPool.Put(bp)
		}
	}()
	buf := appendCanonicalRequest((*bp)[:0], r, signedHeaders, payloadHash)
	*bp = buf
	crHash := sha256.Sum256(buf)

	buf = append(buf[:0], algorithm...)
	buf = append(buf, '\n')
	buf = append(buf, amzDate...)
	buf = append(buf, '\n')
	buf = append(buf, s.date...)
	buf = append(buf, '/')
	buf = append(buf, s.region...)
	buf = append(buf, '/')
	buf = append(buf, s.service...)
	buf = append(buf, "/"+terminator+"\n"...)
	buf = hex.AppendEncode(buf, crHash[:])

	key := v.keys.signingKey(akid, secret, s)
	var sig [sha256.Size]byte
	mac := hmac.New(sha256.New, key[:])
	mac.Write(buf)
	mac.Sum(sig[:0])
	return sig
}

// bufPool holds buffers for the canonical request and string to sign,
// which hold nothing secret. Most KMS requests fit in 1 KiB.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf keeps a request with huge headers from pinning its buffer.
const maxPooledBuf = 16 << 10

// hmacSHA256 is one step of the signing-key derivation.
func hmacSHA256(key []byte, data string) [sha256.Size]byte {
	var out [sha256.Size]byte
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, data)
	mac.Sum(out[:0])
	return out
}

// decodeHex decodes exactly len(dst) bytes of lower- or upper-case hex
// from s, without the allocation hex.DecodeString would make.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Claimed returns the access key id and region a request's credential
// scope claims (AKID/date/region/service/aws4_request), without checking
// anything else: for the audit record of a request that failed
// authentication. region is "" unless it is shaped like a region.
func Claimed(r *http.Request) (accessKeyID, region string) {
	a, _ := parseAuthorization(r.Header.Get("Authorization"))
	cred := a.credential
	if cred == "" {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	p := strings.Split(cred, "/")
	if len(p) == 5 && validRegion(p[2]) {
		region = p[2]
	}
	return clip(p[0]), region
}

// validRegion accepts region names shaped like AWS's (us-east-1,
// us-gov-west-1): the region ends up in ARNs and ciphertext headers, so it
// must not carry colons, spaces or anything else an ARN cannot hold.
func validRegion(r string) bool {
	if r == "" || len(r) > 32 || r[0] == '-' || r[len(r)-1] == '-' {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (v *Verifier) serviceOK(s string) bool {
	if v.Services == nil {
		return s == v.Service
	}
	for _, ok := range v.Services {
		if s == ok {
			return true
		}
	}
	return false
}
