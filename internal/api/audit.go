package api

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/service"
)

// Auditor takes the record of every request (package audit's Log). Append
// returns once the record is durable; Healthy reports a store known to be
// failing, so that requests are refused before they act.
type Auditor interface {
	Append(ctx context.Context, r *audit.Record) error
	Healthy() error
}

// errAuditUnavailable is what a request gets when its record cannot be
// written: nothing happens unaudited.
var errAuditUnavailable = errors.New("audit log unavailable")

// newRecord starts the record of a request.
func newRecord(r *http.Request, reqID, source, name string, now time.Time) *audit.Record {
	return &audit.Record{
		EventVersion: audit.EventVersion,
		EventTime:    now.UTC(),
		EventSource:  source,
		EventName:    clipParam(name),
		// Replaced by the signed region once known; requests that never
		// get that far are filed where CloudTrail files global events.
		AWSRegion:       "us-east-1",
		SourceIPAddress: sourceIP(r),
		UserAgent:       clipParam(r.UserAgent()),
		RequestID:       reqID,
		EventID:         audit.NewEventID(), // time-ordered: cheap to index
		ReadOnly:        readOnly(name),
		EventType:       audit.EventTypeAPICall,
		ManagementEvent: true,
		EventCategory:   audit.CategoryMgmt,
	}
}

// setCaller fills the record's identity and region from the authenticated
// principal.
func setCaller(rec *audit.Record, p kms.Principal, region string) {
	rec.UserIdentity = userIdentity(p)
	rec.AWSRegion = region
	rec.RecipientAccountID = p.Account
}

// userIdentity renders a principal as CloudTrail does (spec §12.1).
func userIdentity(p kms.Principal) *audit.UserIdentity {
	u := &audit.UserIdentity{PrincipalID: p.UserID, ARN: p.ARN, AccountID: p.Account, AccessKeyID: p.AccessKeyID}
	switch p.Type {
	case kms.PrincipalRoot:
		u.Type = "Root"
	case kms.PrincipalUser:
		u.Type, u.UserName = "IAMUser", p.Name
	case kms.PrincipalAssumedRole:
		u.Type = "AssumedRole"
		roleID, _, _ := strings.Cut(p.UserID, ":")
		u.SessionContext = &audit.SessionContext{SessionIssuer: &audit.SessionIssuer{
			Type: "Role", PrincipalID: roleID, ARN: p.RoleARN, AccountID: p.Account,
			UserName: p.RoleARN[strings.LastIndexByte(p.RoleARN, '/')+1:],
		}}
		if !p.SessionCreated.IsZero() {
			// This server has no MFA: no session is MFA-authenticated.
			u.SessionContext.Attributes = &audit.SessionAttributes{CreationDate: p.SessionCreated}
		}
	default:
		u.Type = string(p.Type)
	}
	return u
}

// setOutcome fills in the result of a request.
func setOutcome(rec *audit.Record, err error) {
	if err == nil {
		return
	}
	var ke *kms.Error
	if !errors.As(err, &ke) {
		ke = kms.Internal(err)
	}
	rec.ErrorCode, rec.ErrorMessage = ke.Code, ke.Message
}

// setKeys names the keys a request touched (each once, in the order the
// service resolved them) as its resources; the record is filed with the
// account that owns the first.
func setKeys(rec *audit.Record, arns []string) {
	for _, arn := range arns {
		rec.Resources = append(rec.Resources, audit.Resource{AccountID: arnAccount(arn), Type: audit.ResourceTypeKey, ARN: arn})
	}
	if len(rec.Resources) > 0 {
		rec.RecipientAccountID = rec.Resources[0].AccountID
	}
}

func arnAccount(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 5 {
		return ""
	}
	return p[4]
}

// record appends rec, and turns a failure to do so into the request's error.
func (h *Handler) record(ctx context.Context, rec *audit.Record) error {
	if h.Audit == nil {
		return nil
	}
	// The request is answered whatever the client does now; its record
	// must not be lost because the client went away.
	ctx = context.WithoutCancel(ctx)
	copies := []*audit.Record{rec}
	if c := callerCopy(rec); c != nil {
		copies = append(copies, c)
	}
	for _, r := range copies {
		if err := h.Audit.Append(ctx, r); err != nil {
			h.Log.Error("audit record not written; failing the request", "request_id", rec.RequestID, "err", err)
			return kms.Internal(errors.Join(errAuditUnavailable, err))
		}
	}
	return nil
}

// callerCopy handles a request on another account's key as CloudTrail does
// (spec §12): both accounts get the event (same eventID, each its own
// recipientAccountId), except that a denied call goes to the caller's
// account only. It returns the caller's copy, or nil.
func callerCopy(rec *audit.Record) *audit.Record {
	u := rec.UserIdentity
	if u == nil || u.Type == "Unknown" || u.AccountID == "" || u.AccountID == rec.RecipientAccountID {
		return nil
	}
	if rec.ErrorCode == kms.ErrAccessDenied {
		rec.RecipientAccountID = u.AccountID
		return nil
	}
	c := *rec
	c.RecipientAccountID = u.AccountID
	return &c
}

// auditHealthy refuses a request up front while the audit store is failing.
func (h *Handler) auditHealthy() error {
	if h.Audit == nil {
		return nil
	}
	if err := h.Audit.Healthy(); err != nil {
		return kms.Internal(errors.Join(errAuditUnavailable, err))
	}
	return nil
}

// readOnly says whether an operation changes nothing: reads and the
// cryptographic operations (spec §12.1).
func readOnly(name string) bool {
	switch name {
	case "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
		"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateRandom", "Sign", "Verify",
		"GenerateMac", "VerifyMac", "DeriveSharedSecret", "GetCallerIdentity", "LookupEvents":
		return true
	}
	for _, p := range []string{"Describe", "Get", "List"} {
		if strings.HasPrefix(name, p) {
			return name != "GetParametersForImport" // it makes an import token
		}
	}
	return false
}

// secretMembers are request members never logged (spec §12.2): data,
// ciphertexts, signatures, MACs, tokens and key material. Grant tokens are
// bearer capabilities, so they stay out too.
var secretMembers = map[string]bool{
	"Plaintext": true, "CiphertextBlob": true, "Message": true, "Signature": true, "Mac": true,
	"PublicKey": true, "ImportToken": true, "EncryptedKeyMaterial": true, "GrantTokens": true,
	"GrantToken": true, "Recipient": true,
}

// requestParameters renders a request shape as CloudTrail does: members in
// lowerCamelCase, absent ones left out, secret ones never included, and the
// algorithms the operation defaulted filled in; nil when nothing is left.
func requestParameters(name string, in any) any {
	m, ok := hotParameters(in)
	if !ok {
		m = members(reflect.ValueOf(in), secretMembers)
	}
	if m == nil {
		return nil
	}
	hideKeyMaterial(m)
	for _, d := range paramDefaults[name] {
		if _, ok := m[d.member]; !ok {
			m[d.member] = d.value
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// hideKeyMaterial hides the value of a LocalStack _custom_key_material_
// tag, which is key material, as CloudTrail hides secret members.
func hideKeyMaterial(m map[string]any) {
	tags, _ := m["tags"].([]any)
	for _, t := range tags {
		if t, ok := t.(map[string]any); ok && t["tagKey"] == service.CustomKeyMaterialTag {
			t["tagValue"] = "HIDDEN_DUE_TO_SECURITY_REASONS"
		}
	}
}

// hotParameters is members(in, secretMembers) for the shapes of the
// operations that carry most of the traffic, without reflection.
// TestHotParameters holds the two equal.
func hotParameters(in any) (map[string]any, bool) {
	var m map[string]any
	str := func(name string, p *string) {
		if p != nil {
			m[name] = *p
		}
	}
	ctx := func(ec map[string]string) {
		if ec != nil {
			m["encryptionContext"] = ec
		}
	}
	dry := func(b bool) {
		if b {
			m["dryRun"] = true
		}
	}
	switch in := in.(type) {
	case *service.EncryptInput:
		if in == nil {
			return nil, true
		}
		m = make(map[string]any, 4)
		str("keyId", in.KeyId)
		ctx(in.EncryptionContext)
		str("encryptionAlgorithm", in.EncryptionAlgorithm)
		dry(in.DryRun)
	case *service.DecryptInput:
		if in == nil {
			return nil, true
		}
		m = make(map[string]any, 4)
		ctx(in.EncryptionContext)
		str("keyId", in.KeyId)
		str("encryptionAlgorithm", in.EncryptionAlgorithm)
		dry(in.DryRun)
		if in.DryRunModifiers != nil {
			m["dryRunModifiers"] = in.DryRunModifiers
		}
	case *service.GenerateDataKeyInput:
		if in == nil {
			return nil, true
		}
		m = make(map[string]any, 4)
		str("keyId", in.KeyId)
		ctx(in.EncryptionContext)
		if in.NumberOfBytes != nil {
			m["numberOfBytes"] = *in.NumberOfBytes
		}
		str("keySpec", in.KeySpec)
		dry(in.DryRun)
	default:
		return nil, false
	}
	return m, true
}

// paramDefaults are the members CloudTrail logs with their default when the
// request left them out.
var paramDefaults = map[string][]struct{ member, value string }{
	"Encrypt":   {{"encryptionAlgorithm", "SYMMETRIC_DEFAULT"}},
	"Decrypt":   {{"encryptionAlgorithm", "SYMMETRIC_DEFAULT"}},
	"ReEncrypt": {{"sourceEncryptionAlgorithm", "SYMMETRIC_DEFAULT"}, {"destinationEncryptionAlgorithm", "SYMMETRIC_DEFAULT"}},
	"Sign":      {{"messageType", "RAW"}},
	"Verify":    {{"messageType", "RAW"}},
}

// responseElements is what CloudTrail logs of a KMS response: nothing for
// reads and cryptographic operations, a subset for some changes.
func responseElements(name string, out any) any {
	switch o := out.(type) {
	case *service.CreateKeyOutput:
		return members(reflect.ValueOf(o), nil)
	case *service.CreateGrantOutput:
		return map[string]any{"grantId": o.GrantId}
	case *service.ScheduleKeyDeletionOutput:
		return members(reflect.ValueOf(o), nil)
	}
	return nil
}

// members walks a struct (through pointers), keeping the non-zero exported
// fields under lowerCamelCase names. Map keys (encryption contexts, tags)
// are data and keep their case.
func members(v reflect.Value, skip map[string]bool) map[string]any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	m := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || skip[f.Name] || f.Tag.Get("json") == "-" {
			continue
		}
		fv := v.Field(i)
		if f.Anonymous {
			for k, x := range members(fv, skip) {
				m[k] = x
			}
			continue
		}
		if fv.IsZero() {
			continue
		}
		name := f.Name
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" {
			name = tag // kms.Tag's TagKey and TagValue
		}
		m[lowerCamel(name)] = value(fv)
	}
	return m
}

var timestampType = reflect.TypeFor[service.Timestamp]()

// value renders one field: nested shapes as members, the rest as is (JSON
// encoding takes it from there).
func value(v reflect.Value) any {
	switch {
	case v.Type() == timestampType:
		return time.Time(v.Interface().(service.Timestamp)).UTC().Format(audit.TimeFormat)
	case v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct && v.Elem().Type() != timestampType,
		v.Kind() == reflect.Struct:
		return members(v, nil)
	case v.Kind() == reflect.Pointer:
		return value(v.Elem())
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		s := make([]any, v.Len())
		for i := range s {
			s[i] = members(v.Index(i), nil)
		}
		return s
	}
	return v.Interface()
}

// lowerCamel lowers the first letter: KeyId -> keyId, AWSAccountId ->
// aWSAccountId (as CloudTrail writes it).
func lowerCamel(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}
