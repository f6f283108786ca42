package api

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/identity"
)

// The AWS query protocol of IAM and STS: POST / with a form-encoded body
// (Action=CreateUser&Version=2010-05-08&UserName=...), no X-Amz-Target, and
// XML responses. The service is the one the request is signed for.

// queryFunc runs one query operation on the request's parameters.
type queryFunc func(ctx context.Context, id *identity.Identity, c *identity.Caller, params url.Values) (any, error)

// queryAPI is one query-protocol service.
type queryAPI struct {
	version   string
	namespace string
	// internalCode is the code of an internal failure.
	internalCode string
	routes       map[string]queryFunc
}

var iamAPI = &queryAPI{
	version:      "2010-05-08",
	namespace:    "https://iam.amazonaws.com/doc/2010-05-08/",
	internalCode: "ServiceFailure",
	routes: map[string]queryFunc{
		"CreateUser":             qop((*identity.Identity).CreateUser),
		"GetUser":                qop((*identity.Identity).GetUser),
		"ListUsers":              qop((*identity.Identity).ListUsers),
		"DeleteUser":             qexec((*identity.Identity).DeleteUser),
		"CreateAccessKey":        qop((*identity.Identity).CreateAccessKey),
		"ListAccessKeys":         qop((*identity.Identity).ListAccessKeys),
		"UpdateAccessKey":        qexec((*identity.Identity).UpdateAccessKey),
		"DeleteAccessKey":        qexec((*identity.Identity).DeleteAccessKey),
		"PutUserPolicy":          qexec((*identity.Identity).PutUserPolicy),
		"GetUserPolicy":          qop((*identity.Identity).GetUserPolicy),
		"ListUserPolicies":       qop((*identity.Identity).ListUserPolicies),
		"DeleteUserPolicy":       qexec((*identity.Identity).DeleteUserPolicy),
		"CreateRole":             qop((*identity.Identity).CreateRole),
		"GetRole":                qop((*identity.Identity).GetRole),
		"ListRoles":              qop((*identity.Identity).ListRoles),
		"DeleteRole":             qexec((*identity.Identity).DeleteRole),
		"UpdateAssumeRolePolicy": qexec((*identity.Identity).UpdateAssumeRolePolicy),
		// Service-linked roles: how a principal acts as an AWS service.
		"CreateServiceLinkedRole": qop((*identity.Identity).CreateServiceLinkedRole),
		"DeleteServiceLinkedRole": qop((*identity.Identity).DeleteServiceLinkedRole),
		"PutRolePolicy":           qexec((*identity.Identity).PutRolePolicy),
		"GetRolePolicy":           qop((*identity.Identity).GetRolePolicy),
		"ListRolePolicies":        qop((*identity.Identity).ListRolePolicies),
		"DeleteRolePolicy":        qexec((*identity.Identity).DeleteRolePolicy),
		// Customer managed policies and their attachments.
		"CreatePolicy":             qop((*identity.Identity).CreatePolicy),
		"GetPolicy":                qop((*identity.Identity).GetPolicy),
		"DeletePolicy":             qexec((*identity.Identity).DeletePolicy),
		"ListPolicies":             qop((*identity.Identity).ListPolicies),
		"CreatePolicyVersion":      qop((*identity.Identity).CreatePolicyVersion),
		"GetPolicyVersion":         qop((*identity.Identity).GetPolicyVersion),
		"DeletePolicyVersion":      qexec((*identity.Identity).DeletePolicyVersion),
		"ListPolicyVersions":       qop((*identity.Identity).ListPolicyVersions),
		"SetDefaultPolicyVersion":  qexec((*identity.Identity).SetDefaultPolicyVersion),
		"AttachUserPolicy":         qexec((*identity.Identity).AttachUserPolicy),
		"DetachUserPolicy":         qexec((*identity.Identity).DetachUserPolicy),
		"AttachRolePolicy":         qexec((*identity.Identity).AttachRolePolicy),
		"DetachRolePolicy":         qexec((*identity.Identity).DetachRolePolicy),
		"ListAttachedUserPolicies": qop((*identity.Identity).ListAttachedUserPolicies),
		"ListAttachedRolePolicies": qop((*identity.Identity).ListAttachedRolePolicies),
		"ListEntitiesForPolicy":    qop((*identity.Identity).ListEntitiesForPolicy),
		"ListPolicyTags":           qop((*identity.Identity).ListPolicyTags),
		// Reads of what the server does not have, which tools such as
		// Terraform make on refresh and destroy: empty lists.
		"ListGroupsForUser":              qop((*identity.Identity).ListGroupsForUser),
		"ListUserTags":                   qop((*identity.Identity).ListUserTags),
		"ListSSHPublicKeys":              qop((*identity.Identity).ListSSHPublicKeys),
		"ListMFADevices":                 qop((*identity.Identity).ListMFADevices),
		"ListVirtualMFADevices":          qop((*identity.Identity).ListVirtualMFADevices),
		"ListSigningCertificates":        qop((*identity.Identity).ListSigningCertificates),
		"ListServiceSpecificCredentials": qop((*identity.Identity).ListServiceSpecificCredentials),
		"DeleteLoginProfile":             qexec((*identity.Identity).DeleteLoginProfile),
		"ListInstanceProfilesForRole":    qop((*identity.Identity).ListInstanceProfilesForRole),
		"ListRoleTags":                   qop((*identity.Identity).ListRoleTags),
	},
}

var stsAPI = &queryAPI{
	version:      "2011-06-15",
	namespace:    "https://sts.amazonaws.com/doc/2011-06-15/",
	internalCode: "InternalFailure",
	routes: map[string]queryFunc{
		"GetCallerIdentity": qop((*identity.Identity).GetCallerIdentity),
		"AssumeRole":        qop((*identity.Identity).AssumeRole),
	},
}

// queryAPIs are the query services, by the service of the SigV4 scope.
var queryAPIs = map[string]*queryAPI{"iam": iamAPI, "sts": stsAPI}

// qop adapts an identity method with a result.
func qop[In any, Out any](f func(*identity.Identity, context.Context, *identity.Caller, *In) (*Out, error)) queryFunc {
	return func(ctx context.Context, id *identity.Identity, c *identity.Caller, params url.Values) (any, error) {
		in := new(In)
		if err := decodeParams(params, in); err != nil {
			return nil, err
		}
		out, err := f(id, ctx, c, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// qexec adapts an identity method without a result.
func qexec[In any](f func(*identity.Identity, context.Context, *identity.Caller, *In) error) queryFunc {
	return func(ctx context.Context, id *identity.Identity, c *identity.Caller, params url.Values) (any, error) {
		in := new(In)
		if err := decodeParams(params, in); err != nil {
			return nil, err
		}
		return nil, f(id, ctx, c, in)
	}
}

// decodeParams fills the `query`-tagged fields of the struct v points to:
// strings, and *int for optional numbers. A parameter the input does not
// declare is refused: silently ignoring one (a session policy, a
// permissions boundary) could grant more than the caller asked for.
func decodeParams(params url.Values, v any) error {
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	known := make(map[string]int, rt.NumField())
	for j := 0; j < rt.NumField(); j++ {
		if name := rt.Field(j).Tag.Get("query"); name != "" {
			known[name] = j
		}
	}
	for name, vals := range params {
		if name == "Action" || name == "Version" {
			continue
		}
		j, ok := known[name]
		if !ok {
			top, _, _ := strings.Cut(name, ".")
			return kms.Errorf(identity.ErrValidation, "The parameter %s is not supported by this server.", clipParam(top))
		}
		if len(vals) != 1 {
			return kms.Errorf(identity.ErrValidation, "The parameter %s may be given only once.", name)
		}
		f := rv.Field(j)
		switch f.Kind() {
		case reflect.String:
			f.SetString(vals[0])
		case reflect.Pointer:
			n, err := strconv.Atoi(vals[0])
			if err != nil {
				return kms.Errorf(identity.ErrValidation, "Value '%s' for parameter %s is not a valid integer.", clipParam(vals[0]), name)
			}
			f.Set(reflect.ValueOf(&n))
		}
	}
	return nil
}

func clipParam(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}

// queryService returns the service a query-protocol request is meant for:
// one without X-Amz-Target, form-encoded, whose SigV4 scope names iam or
// sts. Anything else is "".
func queryService(r *http.Request) string {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return ""
	}
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	if _, ok := queryAPIs[parts[3]]; !ok {
		return ""
	}
	return parts[3]
}

// serveQuery serves an IAM or STS request: authenticate, find the action,
// decode, run, render. It returns the action ("" when the request named
// none) and the error code answered ("" on success).
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, reqID, service string) (action, code string) {
	api := queryAPIs[service]
	source := audit.EventSourceIAM
	if service == "sts" {
		source = audit.EventSourceSTS
	}
	rec := newRecord(r, reqID, source, "", h.now())
	action, out, err := h.runQuery(w, r, reqID, rec, api, service)
	if action == "" {
		// Not an operation of the API (no or unknown Action): nothing
		// happened to record.
		return "", h.writeQueryError(w, api, reqID, err, "")
	}
	setOutcome(rec, err)
	if aerr := h.record(r.Context(), rec); aerr != nil && err == nil {
		out, err = nil, aerr
	}
	if err != nil {
		return action, h.writeQueryError(w, api, reqID, err, action)
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: api.namespace}}}
	err = enc.EncodeToken(start)
	if err == nil && out != nil {
		err = enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	if err == nil {
		err = enc.Encode(responseMetadata{RequestID: reqID})
	}
	if err == nil {
		err = enc.EncodeToken(start.End())
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		return action, h.writeQueryError(w, api, reqID, kms.Internal(err), action)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	writeBody(w, r, buf.Bytes())
	return action, ""
}

// runQuery authenticates an IAM or STS request and runs its action, filling
// in its audit record. It returns the action ("" when the request names no
// known one).
func (h *Handler) runQuery(w http.ResponseWriter, r *http.Request, reqID string, rec *audit.Record, api *queryAPI, service string) (string, any, error) {
	body, release, err := readBody(w, r)
	defer release() // the parameters are parsed from a copy
	if err != nil {
		return "", nil, kms.Errorf(identity.ErrValidation, "The request body must be at most %d bytes.", MaxBodyBytes)
	}
	params, perr := url.ParseQuery(string(body))
	action := params.Get("Action")
	run, ok := api.routes[action]
	if v := params.Get("Version"); perr == nil && ok && (v == "" || v == api.version) {
		rec.EventName = action
		rec.ReadOnly = readOnly(action)
		rec.RequestParameters = queryParameters(params)
	} else {
		action = ""
	}
	// IAM is global; STS, like KMS, serves the configured regions.
	auth, err := h.authenticate(r, body, rec, service, service != "iam")
	switch {
	case err != nil:
		return action, nil, err
	case perr != nil:
		return "", nil, kms.Errorf("MalformedQueryString", "The request body is not a valid form-encoded query string.")
	case params.Get("Action") == "":
		return "", nil, kms.Errorf("MissingAction", "Missing Action")
	case action == "":
		return "", nil, kms.Errorf("InvalidAction", "Could not find operation %s for version %s", clipParam(params.Get("Action")), clipParam(params.Get("Version")))
	}
	if err := h.auditHealthy(); err != nil {
		return action, nil, err
	}
	c := &identity.Caller{
		Principal:       auth.Principal,
		Region:          auth.Region,
		RequestID:       reqID,
		SourceIP:        sourceIP(r),
		SecureTransport: r.TLS != nil,
	}
	out, err := run(r.Context(), h.Identity, c, params)
	return action, out, err
}

// queryParameters renders the parameters of an IAM or STS request as
// CloudTrail does (lowerCamelCase, without Action and Version). No IAM or
// STS request carries a secret.
func queryParameters(params url.Values) any {
	m := map[string]any{}
	for k, v := range params {
		if k == "Action" || k == "Version" || len(v) == 0 {
			continue
		}
		m[lowerCamel(clipParam(k))] = v[0]
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

type responseMetadata struct {
	XMLName   xml.Name `xml:"ResponseMetadata"`
	RequestID string   `xml:"RequestId"`
}

type queryErrorBody struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// queryCodes renames the authentication errors of package sigv4, which
// uses KMS's codes, to the query protocol's.
var queryCodes = map[string]string{
	kms.ErrMissingAuthToken:    "MissingAuthenticationToken",
	kms.ErrIncompleteSignature: "IncompleteSignature",
	kms.ErrInvalidSignature:    "SignatureDoesNotMatch",
	kms.ErrUnrecognizedClient:  "InvalidClientTokenId",
	kms.ErrExpiredToken:        "ExpiredToken",
	kms.ErrValidation:          identity.ErrValidation,
}

// queryStatus is the HTTP status of each query error code; 400 otherwise.
var queryStatus = map[string]int{
	identity.ErrNoSuchEntity:        http.StatusNotFound,
	identity.ErrEntityAlreadyExists: http.StatusConflict,
	identity.ErrDeleteConflict:      http.StatusConflict,
	identity.ErrLimitExceeded:       http.StatusConflict,
	identity.ErrAccessDenied:        http.StatusForbidden,
	"MissingAuthenticationToken":    http.StatusForbidden,
	"SignatureDoesNotMatch":         http.StatusForbidden,
	"InvalidClientTokenId":          http.StatusForbidden,
	"ExpiredToken":                  http.StatusForbidden,
	"ServiceFailure":                http.StatusInternalServerError,
	"InternalFailure":               http.StatusInternalServerError,
}

// writeQueryError answers err and returns its error code.
func (h *Handler) writeQueryError(w http.ResponseWriter, api *queryAPI, reqID string, err error, op string) string {
	var ke *kms.Error
	if !errors.As(err, &ke) {
		ke = kms.Internal(err)
	}
	code, msg := ke.Code, ke.Message
	if ke.Status() >= 500 {
		code = api.internalCode
		h.Log.Error("request failed", "op", op, "request_id", reqID, "err", err)
	} else {
		if c, ok := queryCodes[code]; ok {
			code = c
		}
		h.Log.Debug("request rejected", "op", op, "request_id", reqID, "code", code)
	}
	status, ok := queryStatus[code]
	if !ok {
		status = http.StatusBadRequest
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	b, _ := xml.Marshal(queryErrorBody{Xmlns: api.namespace, Type: typ, Code: code, Message: msg, RequestID: reqID})
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
	return code
}
