// Package api speaks the AWS wire protocols on one endpoint: KMS's JSON 1.1
// (HTTP POST, operation named by X-Amz-Target) and, for IAM and STS, the
// query protocol (form-encoded Action=..., XML responses; see query.go),
// told apart by the target header and the service of the SigV4 scope. It
// holds explicit route tables, body limits, authentication of every
// request, decoding, model validation and error rendering, and no business
// rules; those are in packages service and identity.
package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/jsonenc"
	"github.com/openkms/kms/internal/service"
	"github.com/openkms/kms/internal/sigv4"
)

// MaxBodyBytes caps a request body. AWS accepts at least 512 KiB (an
// attestation document may be 256 KiB before base64).
const MaxBodyBytes = 1 << 20

const targetPrefix = "TrentService."

// handlerFunc runs one operation on a raw JSON body. It returns the decoded
// request (nil if it did not decode) for the audit record, and the result.
type handlerFunc func(ctx context.Context, s *service.Service, c *service.Caller, body []byte) (in, out any, err error)

// routes is the table of implemented operations, by X-Amz-Target suffix.
var routes = map[string]handlerFunc{
	"CreateKey":                           op((*service.Service).CreateKey),
	"DescribeKey":                         op((*service.Service).DescribeKey),
	"ListKeys":                            op((*service.Service).ListKeys),
	"UpdateKeyDescription":                op((*service.Service).UpdateKeyDescription),
	"EnableKey":                           op((*service.Service).EnableKey),
	"DisableKey":                          op((*service.Service).DisableKey),
	"ScheduleKeyDeletion":                 op((*service.Service).ScheduleKeyDeletion),
	"CancelKeyDeletion":                   op((*service.Service).CancelKeyDeletion),
	"Encrypt":                             op((*service.Service).Encrypt),
	"Decrypt":                             op((*service.Service).Decrypt),
	"ReEncrypt":                           op((*service.Service).ReEncrypt),
	"GenerateDataKey":                     op((*service.Service).GenerateDataKey),
	"GenerateDataKeyWithoutPlaintext":     op((*service.Service).GenerateDataKeyWithoutPlaintext),
	"GenerateRandom":                      op((*service.Service).GenerateRandom),
	"CreateAlias":                         op((*service.Service).CreateAlias),
	"UpdateAlias":                         op((*service.Service).UpdateAlias),
	"DeleteAlias":                         op((*service.Service).DeleteAlias),
	"ListAliases":                         op((*service.Service).ListAliases),
	"TagResource":                         op((*service.Service).TagResource),
	"UntagResource":                       op((*service.Service).UntagResource),
	"ListResourceTags":                    op((*service.Service).ListResourceTags),
	"GetKeyPolicy":                        op((*service.Service).GetKeyPolicy),
	"PutKeyPolicy":                        op((*service.Service).PutKeyPolicy),
	"ListKeyPolicies":                     op((*service.Service).ListKeyPolicies),
	"CreateGrant":                         op((*service.Service).CreateGrant),
	"ListGrants":                          op((*service.Service).ListGrants),
	"ListRetirableGrants":                 op((*service.Service).ListRetirableGrants),
	"RetireGrant":                         op((*service.Service).RetireGrant),
	"RevokeGrant":                         op((*service.Service).RevokeGrant),
	"EnableKeyRotation":                   op((*service.Service).EnableKeyRotation),
	"DisableKeyRotation":                  op((*service.Service).DisableKeyRotation),
	"GetKeyRotationStatus":                op((*service.Service).GetKeyRotationStatus),
	"RotateKeyOnDemand":                   op((*service.Service).RotateKeyOnDemand),
	"ListKeyRotations":                    op((*service.Service).ListKeyRotations),
	"GetParametersForImport":              op((*service.Service).GetParametersForImport),
	"ImportKeyMaterial":                   op((*service.Service).ImportKeyMaterial),
	"DeleteImportedKeyMaterial":           op((*service.Service).DeleteImportedKeyMaterial),
	"Sign":                                op((*service.Service).Sign),
	"Verify":                              op((*service.Service).Verify),
	"GetPublicKey":                        op((*service.Service).GetPublicKey),
	"GenerateMac":                         op((*service.Service).GenerateMac),
	"VerifyMac":                           op((*service.Service).VerifyMac),
	"DeriveSharedSecret":                  op((*service.Service).DeriveSharedSecret),
	"GenerateDataKeyPair":                 op((*service.Service).GenerateDataKeyPair),
	"GenerateDataKeyPairWithoutPlaintext": op((*service.Service).GenerateDataKeyPairWithoutPlaintext),
	"GetKeyLastUsage":                     op((*service.Service).GetKeyLastUsage),
	"DescribeCustomKeyStores":             op((*service.Service).DescribeCustomKeyStores),
	"ReplicateKey":                        op((*service.Service).ReplicateKey),
	"UpdatePrimaryRegion":                 op((*service.Service).UpdatePrimaryRegion),
}

// pending maps the KMS operations that exist in AWS but not here to why:
// they answer UnsupportedOperationException rather than UnknownOperation.
var pending = map[string]string{
	"ConnectCustomKeyStore":    errNoCustomKeyStores,
	"CreateCustomKeyStore":     errNoCustomKeyStores,
	"DeleteCustomKeyStore":     errNoCustomKeyStores,
	"DisconnectCustomKeyStore": errNoCustomKeyStores,
	"UpdateCustomKeyStore":     errNoCustomKeyStores,
}

const errNoCustomKeyStores = "Custom key stores (AWS CloudHSM key stores and external key stores) are not supported by " +
	"this server: its keys are protected by its own root key (see kms server --seal-key-file)."

// input is what every request shape implements.
type input[T any] interface {
	*T
	Validate() error
}

// op adapts a service method to a handlerFunc: decode, validate, run.
// Operations without output return a nil *Out and get an empty body.
func op[In any, Out any, P input[In]](f func(*service.Service, context.Context, *service.Caller, P) (*Out, error)) handlerFunc {
	return func(ctx context.Context, s *service.Service, c *service.Caller, body []byte) (any, any, error) {
		in := P(new(In))
		if err := decode(body, in); err != nil {
			return nil, nil, err
		}
		if err := in.Validate(); err != nil {
			return in, nil, err
		}
		out, err := f(s, ctx, c, in)
		if err != nil || out == nil {
			return in, nil, err
		}
		return in, out, nil
	}
}

func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil // an empty body means {}
	}
	if decodeFast(body, v) || len(body) >= blobMin && decodeBlob(body, v) {
		return nil
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return kms.Errorf(kms.ErrSerialization, "Unexpected value for member %s: expected %s.", te.Field, te.Type)
	}
	var be base64Error
	if errors.As(err, &be) {
		return kms.Errorf(kms.ErrSerialization, "A blob member is not valid base64.")
	}
	return kms.Errorf(kms.ErrSerialization, "The request body is not a valid JSON object.")
}

// base64Error matches the error encoding/json returns for bad blob members.
type base64Error interface{ CorruptInputError() }

// Handler serves the KMS API and, when Identity is set, IAM and STS.
type Handler struct {
	Service  *service.Service
	Identity *identity.Identity
	Verifier *sigv4.Verifier
	// Region, when set, restricts the regions of KMS and STS requests. IAM
	// is global and takes any region, so the restriction is applied here
	// rather than by Verifier.
	Region func(region string) bool
	Log    *slog.Logger
	// Audit receives one record per request; nil records nothing (tests
	// of the protocol alone).
	Audit Auditor
	// Now is the clock of audit records; nil means time.Now.
	Now func() time.Time
	// Quotas, when set, throttles KMS requests over their account's
	// request-rate quotas (quota.go); nil throttles none.
	Quotas *Quotas
	// Observer, if set, is told of every request (metrics).
	Observer Observer
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
		return
	}
	start := time.Now()
	reqID := kms.NewUUID()
	w.Header().Set("x-amzn-RequestId", reqID)
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		code := h.writeError(w, r, reqID, kms.Errorf(kms.ErrUnknownOperation, "Only POST / is served."), "")
		h.done(r, reqID, "", code, start)
		return
	}
	if r.Header.Get("X-Amz-Target") == "" && h.Identity != nil {
		if svc := queryService(r); svc != "" {
			action, code := h.serveQuery(w, r, reqID, svc)
			h.done(r, reqID, action, code, start)
			return
		}
	}
	if isLookupEvents(r.Header.Get("X-Amz-Target")) {
		code := h.serveLookupEvents(w, r, reqID) // CloudTrail: see cloudtrail.go
		h.done(r, reqID, lookupEventsName, code, start)
		return
	}
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	run, known := routes[name]
	if !ok || !known && !isPending(name) {
		code := h.writeError(w, r, reqID, kms.Errorf(kms.ErrUnknownOperation, "Unknown operation %q.", r.Header.Get("X-Amz-Target")), "")
		h.done(r, reqID, "", code, start)
		return
	}
	code := h.serveKMS(w, r, reqID, name, run)
	h.done(r, reqID, name, code, start)
}

// serveKMS runs the KMS operation name and records it. It returns the
// error code answered, "" on success.
func (h *Handler) serveKMS(w http.ResponseWriter, r *http.Request, reqID, name string, run handlerFunc) (code string) {
	rec := newRecord(r, reqID, audit.EventSourceKMS, name, h.now())
	in, out, err := h.runKMS(w, r, reqID, rec, "kms", name, run)
	defer wipe(in, out)
	if err == nil {
		rec.ResponseElements = responseElements(name, out)
	}
	rec.RequestParameters = requestParameters(name, in)
	setOutcome(rec, err)
	if aerr := h.record(r.Context(), rec); aerr != nil && err == nil {
		out, err = nil, aerr
	}
	if err != nil {
		return h.writeError(w, r, reqID, err, name)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if out == nil {
		w.Header().Set("Content-Length", "0")
		return ""
	}
	buf := getBuf(0)
	defer putBuf(buf)
	b, err := appendOutput(*buf, out)
	*buf = b // the grown buffer goes back to the pool
	if err != nil {
		return h.writeError(w, r, reqID, kms.Internal(err), name)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	writeBody(w, r, b)
	return ""
}

// An Observer is told of every answered API request (not /healthz): its
// operation ("" when the request named none this server knows, a KMS
// operation, or an IAM, STS or CloudTrail action), the error code answered
// ("" on success) and when it arrived. Observe runs on the request's
// goroutine before ServeHTTP returns, so it must be quick.
type Observer interface {
	Observe(op, code string, start time.Time)
}

// done ends a request: it tells the Observer and, at debug level, logs a
// line for a success (writeError logged the failures, each with its
// request id).
func (h *Handler) done(r *http.Request, reqID, op, code string, start time.Time) {
	if h.Observer != nil {
		h.Observer.Observe(op, code, start)
	}
	if code == "" && h.Log.Enabled(r.Context(), slog.LevelDebug) {
		h.Log.LogAttrs(r.Context(), slog.LevelDebug, "request served",
			slog.String("op", op), slog.String("request_id", reqID), slog.Duration("duration", time.Since(start)))
	}
}

// Operations returns the name of every operation and action the API
// serves or answers as unsupported, each once: the values Observe is
// given other than "".
func Operations() []string {
	var ops []string
	for name := range routes {
		ops = append(ops, name)
	}
	for name := range pending {
		ops = append(ops, name)
	}
	ops = append(ops, lookupEventsName)
	for _, api := range queryAPIs {
		for name := range api.routes {
			ops = append(ops, name)
		}
	}
	slices.Sort(ops)
	return slices.Compact(ops)
}

// A Corker holds back a connection's writes (Cork) and sends them in one
// (Uncork). The server puts one in each request's context (WithCorker).
type Corker interface {
	Cork()
	Uncork()
}

type corkerKey struct{}

// WithCorker returns ctx with c, for the requests of c's connection.
func WithCorker(ctx context.Context, c Corker) context.Context {
	return context.WithValue(ctx, corkerKey{}, c)
}

// corkOver is the body size from which writeBody corks: net/http writes
// a response through a 4 KiB buffer, so a larger one leaves in two writes.
const corkOver = 3 << 10

// writeBody writes the body b of a response whose headers are set, in one
// write to the connection when the server can do that: the response is
// flushed while the connection is corked. net/http copies b or writes it
// out before Write returns, so b may be reused after.
func writeBody(w http.ResponseWriter, r *http.Request, b []byte) {
	c, _ := r.Context().Value(corkerKey{}).(Corker)
	if c == nil || len(b) <= corkOver {
		w.Write(b)
		return
	}
	c.Cork()
	defer c.Uncork()
	w.Write(b)
	http.NewResponseController(w).Flush()
}

// appendOutput appends json.Marshal(out) to b, without reflection for the
// outputs of the operations that carry most of the traffic (TestMarshalOutput
// holds the two equal).
func appendOutput(b []byte, out any) ([]byte, error) {
	switch o := out.(type) {
	case *service.EncryptOutput:
		if o == nil {
			break
		}
		b = slices.Grow(b, 96+base64.StdEncoding.EncodedLen(len(o.CiphertextBlob))+len(o.KeyId))
		b = jsonenc.Bytes(append(b, `{"CiphertextBlob":`...), o.CiphertextBlob)
		b = jsonenc.String(append(b, `,"KeyId":`...), o.KeyId)
		b = jsonenc.String(append(b, `,"EncryptionAlgorithm":`...), o.EncryptionAlgorithm)
		return append(b, '}'), nil
	case *service.DecryptOutput:
		if o == nil {
			break
		}
		b = slices.Grow(b, 128+base64.StdEncoding.EncodedLen(len(o.Plaintext))+len(o.KeyId))
		b = jsonenc.String(append(b, `{"KeyId":`...), o.KeyId)
		b = jsonenc.Bytes(append(b, `,"Plaintext":`...), o.Plaintext)
		b = jsonenc.String(append(b, `,"EncryptionAlgorithm":`...), o.EncryptionAlgorithm)
		if o.KeyMaterialId != "" {
			b = jsonenc.String(append(b, `,"KeyMaterialId":`...), o.KeyMaterialId)
		}
		return append(b, '}'), nil
	case *service.GenerateDataKeyOutput:
		if o == nil {
			break
		}
		b = slices.Grow(b, 160+base64.StdEncoding.EncodedLen(len(o.CiphertextBlob)+len(o.Plaintext))+len(o.KeyId))
		b = jsonenc.Bytes(append(b, `{"CiphertextBlob":`...), o.CiphertextBlob)
		if len(o.Plaintext) > 0 {
			b = jsonenc.Bytes(append(b, `,"Plaintext":`...), o.Plaintext)
		}
		b = jsonenc.String(append(b, `,"KeyId":`...), o.KeyId)
		b = jsonenc.String(append(b, `,"KeyMaterialId":`...), o.KeyMaterialId)
		return append(b, '}'), nil
	}
	j, err := json.Marshal(out)
	b = append(b, j...)
	clear(j) // it may hold a private key or a shared secret, in base64
	return b, err
}

// wipe clears the secrets a request or its response carried, once the
// response is written: plaintext data, data keys, private keys and shared
// secrets do not wait in memory for the garbage collector to reuse it.
func wipe(in, out any) {
	if v, ok := in.(*service.EncryptInput); ok {
		clear(v.Plaintext)
	}
	switch v := out.(type) {
	case *service.DecryptOutput:
		clear(v.Plaintext)
	case *service.GenerateDataKeyOutput:
		clear(v.Plaintext)
	case *service.GenerateDataKeyPairOutput:
		clear(v.PrivateKeyPlaintext)
	case *service.DeriveSharedSecretOutput:
		clear(v.SharedSecret)
	case *service.GenerateRandomOutput:
		clear(v.Plaintext)
	}
}

// Request and response buffers of the calls that carry data are reused: a
// 4 KiB Encrypt or Decrypt otherwise allocates two of about 6 KiB, which
// with their zeroing and collection cost more than the rest of its
// allocations together. They are cleared before reuse, as they hold
// plaintext in base64.
var bufPool sync.Pool // of *[]byte

// maxPooledBuf is the largest buffer kept for reuse; larger requests and
// responses are rare and would pin memory.
const maxPooledBuf = 64 << 10

// getBuf returns a buffer of length n from the pool, or a new one.
func getBuf(n int) *[]byte {
	p, _ := bufPool.Get().(*[]byte)
	if p == nil || cap(*p) < n {
		b := make([]byte, n, max(n, 8<<10))
		p = &b
	}
	*p = (*p)[:n]
	return p
}

// putBuf clears b and returns it to the pool if it is small enough.
func putBuf(p *[]byte) {
	if cap(*p) > maxPooledBuf {
		return
	}
	clear((*p)[:cap(*p)])
	*p = (*p)[:0]
	bufPool.Put(p)
}

// readBody reads a request body of at most MaxBodyBytes. A body of known
// length is read into one buffer of that size; growing one as io.ReadAll
// does cost a 4 KiB Encrypt a tenth of its decoding time.
// Call release once nothing refers to the body any more: a small one is
// a pooled buffer.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, release func(), err error) {
	rd := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if n := r.ContentLength; n > 0 && n <= maxPooledBuf {
		// net/http ends the body after Content-Length bytes, and fails a
		// read of one that ends sooner.
		p := getBuf(int(n))
		if _, err := io.ReadFull(rd, *p); err != nil {
			putBuf(p)
			return nil, func() {}, err
		}
		return *p, func() { putBuf(p) }, nil
	}
	if n := r.ContentLength; n > 0 && n <= MaxBodyBytes {
		b := make([]byte, n)
		_, err := io.ReadFull(rd, b)
		return b, func() {}, err
	}
	b, err := io.ReadAll(rd)
	return b, func() {}, err
}

// runKMS authenticates a KMS request (or, with scope "cloudtrail", a
// LookupEvents request) and runs its operation, filling in the caller and
// keys of its audit record as they become known.
func (h *Handler) runKMS(w http.ResponseWriter, r *http.Request, reqID string, rec *audit.Record, scope, name string, run handlerFunc) (in, out any, err error) {
	body, release, err := readBody(w, r)
	// What the operation keeps of its input (its decoded request, the
	// audit record's parameters) encoding/json copied out of the body.
	defer release()
	if err != nil {
		return nil, nil, kms.Errorf(kms.ErrValidation, "The request body must be at most %d bytes.", MaxBodyBytes)
	}
	auth, err := h.authenticate(r, body, rec, scope, true)
	if err != nil {
		return nil, nil, err
	}
	if run == nil {
		return nil, nil, kms.Errorf(kms.ErrUnsupportedOperation, "%s", pending[name])
	}
	var charge func(string) error
	if h.Quotas != nil {
		// Before the body is decoded: a throttled request costs its
		// authentication and little more.
		if quota, ok := opQuota[name]; ok {
			if err := h.Quotas.Take(auth.Principal.Account, auth.Region, quota); err != nil {
				return nil, nil, err
			}
		}
		charge = h.Quotas.charger(auth.Principal.Account, auth.Region, name)
	}
	if err := h.auditHealthy(); err != nil {
		return nil, nil, err
	}
	c := &service.Caller{
		Quota:     charge,
		Principal: auth.Principal,
		Region:    auth.Region,
		RequestID: reqID,
		SourceIP:  sourceIP(r),
		// aws:SecureTransport; set only when this server terminates TLS.
		SecureTransport: r.TLS != nil,
		UserAgent:       r.UserAgent(),
		SourceArn:       sourceArn(r, &auth),
	}
	in, out, err = run(r.Context(), h.Service, c, body)
	setKeys(rec, c.Keys())
	return in, out, err
}

// authenticate verifies a request's SigV4 signature, its service scope and,
// if regional, its region, and fills in who the audit record is of: the
// caller, or for a request that failed what its credential claims. A key id
// that exists files such a record with its account, so that the owner sees
// attempts with a wrong secret.
func (h *Handler) authenticate(r *http.Request, body []byte, rec *audit.Record, scope string, regional bool) (sigv4.Result, error) {
	auth, err := h.Verifier.Verify(r, body)
	if err != nil {
		id, region := sigv4.Claimed(r)
		rec.UserIdentity = &audit.UserIdentity{Type: "Unknown", AccessKeyID: id}
		if region != "" {
			rec.AWSRegion = region
		}
		// Only the principal is used; the secret (the lookup's cached
		// copy, which must not be changed) is left alone.
		if id != "" {
			if cred, lerr := h.Verifier.Lookup(r.Context(), id, r.Header.Get("X-Amz-Security-Token")); lerr == nil {
				rec.UserIdentity.AccountID = cred.Principal.Account
				rec.RecipientAccountID = cred.Principal.Account
			}
		}
		return auth, err
	}
	setCaller(rec, auth.Principal, auth.Region)
	if auth.Service != scope {
		return auth, kms.Errorf(kms.ErrInvalidSignature, "Credential should be scoped to correct service: '%s'. ", scope)
	}
	if regional && h.Region != nil && !h.Region(auth.Region) {
		return auth, kms.Errorf(kms.ErrInvalidSignature, "Credential should be scoped to a valid region, not '%s'. ", auth.Region)
	}
	return auth, nil
}

func isPending(name string) bool {
	_, ok := pending[name]
	return ok
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// writeError answers err and returns its error code.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error, op string) string {
	var ke *kms.Error
	if !errors.As(err, &ke) {
		ke = kms.Internal(err)
	}
	if ke.Status() >= 500 {
		// The cause may name internals but never secrets: no layer wraps key
		// material, plaintext or credentials into an error.
		h.Log.Error("request failed", "op", op, "request_id", reqID, "err", err)
	} else {
		h.Log.Debug("request rejected", "op", op, "request_id", reqID, "code", ke.Code)
	}
	b, _ := json.Marshal(errorBody{Type: ke.Code, Message: ke.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-ErrorType", ke.Code)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(ke.Status())
	w.Write(b)
	return ke.Code
}

// SourceArnHeader names the resource a service principal acts for (the
// grant constraint SourceArn, aws:SourceArn). It counts only when signed:
// an unsigned header could be added by anyone on the way.
const SourceArnHeader = "X-Amz-Source-Arn"

// sourceArn returns the request's signed X-Amz-Source-Arn, or "" when it
// is absent, unsigned or given more than once.
func sourceArn(r *http.Request, auth *sigv4.Result) string {
	v := r.Header.Values(SourceArnHeader)
	if len(v) != 1 || !auth.Signed(SourceArnHeader) {
		return ""
	}
	return strings.TrimSpace(v[0])
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
