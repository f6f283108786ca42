package identity

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openkms/kms"
)

// Request and response shapes of the IAM and STS operations. Inputs name
// their query parameters in `query` tags (package api decodes them and
// refuses parameters an input does not declare); outputs are rendered as
// the <OpResult> element of AWS's XML responses.

// Error codes of the IAM and STS query APIs.
const (
	ErrNoSuchEntity            = "NoSuchEntity"
	ErrEntityAlreadyExists     = "EntityAlreadyExists"
	ErrDeleteConflict          = "DeleteConflict"
	ErrLimitExceeded           = "LimitExceeded"
	ErrMalformedPolicyDocument = "MalformedPolicyDocument"
	ErrValidation              = "ValidationError"
	ErrAccessDenied            = "AccessDenied"
	ErrInvalidInput            = "InvalidInput"
)

// Time renders as ISO 8601 in UTC, to the second, as IAM does.
type Time time.Time

// MarshalText implements encoding.TextMarshaler.
func (t Time) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format("2006-01-02T15:04:05Z")), nil
}

// List is a query-protocol list: <Name><member>...</member></Name>. An
// empty one still renders its element, as AWS's responses do.
type List[T any] struct {
	Members []T `xml:"member"`
}

// --- users ---

// User is an IAM user (or, from GetUser, the account root).
type User struct {
	Path       string `xml:"Path,omitempty"`
	UserName   string `xml:"UserName,omitempty"`
	UserID     string `xml:"UserId"`
	Arn        string `xml:"Arn"`
	CreateDate Time   `xml:"CreateDate"`
}

// CreateUserInput is the request of CreateUser.
type CreateUserInput struct {
	UserName string `query:"UserName"`
	Path     string `query:"Path"`
}

// CreateUserOutput is the response of CreateUser.
type CreateUserOutput struct {
	User User `xml:"User"`
}

// GetUserInput is the request of GetUser.
type GetUserInput struct {
	UserName string `query:"UserName"`
}

// GetUserOutput is the response of GetUser.
type GetUserOutput struct {
	User User `xml:"User"`
}

// ListUsersInput is the request of ListUsers.
type ListUsersInput struct {
	PathPrefix string `query:"PathPrefix"`
	Marker     string `query:"Marker"`
	MaxItems   *int   `query:"MaxItems"`
}

// ListUsersOutput is the response of ListUsers.
type ListUsersOutput struct {
	Users       List[User] `xml:"Users"`
	IsTruncated bool       `xml:"IsTruncated"`
	Marker      string     `xml:"Marker,omitempty"`
}

// DeleteUserInput is the request of DeleteUser.
type DeleteUserInput struct {
	UserName string `query:"UserName"`
}

// --- access keys ---

// AccessKey is a new access key, secret included.
type AccessKey struct {
	UserName        string `xml:"UserName,omitempty"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	CreateDate      Time   `xml:"CreateDate"`
}

// AccessKeyMetadata describes an access key without its secret.
type AccessKeyMetadata struct {
	UserName    string `xml:"UserName,omitempty"`
	AccessKeyID string `xml:"AccessKeyId"`
	Status      string `xml:"Status"`
	CreateDate  Time   `xml:"CreateDate"`
}

// Access key statuses.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// CreateAccessKeyInput is the request of CreateAccessKey.
type CreateAccessKeyInput struct {
	UserName string `query:"UserName"`
}

// CreateAccessKeyOutput is the response of CreateAccessKey.
type CreateAccessKeyOutput struct {
	AccessKey AccessKey `xml:"AccessKey"`
}

// ListAccessKeysInput is the request of ListAccessKeys.
type ListAccessKeysInput struct {
	UserName string `query:"UserName"`
	Marker   string `query:"Marker"`
	MaxItems *int   `query:"MaxItems"`
}

// ListAccessKeysOutput is the response of ListAccessKeys.
type ListAccessKeysOutput struct {
	AccessKeyMetadata List[AccessKeyMetadata] `xml:"AccessKeyMetadata"`
	IsTruncated       bool                    `xml:"IsTruncated"`
	Marker            string                  `xml:"Marker,omitempty"`
}

// UpdateAccessKeyInput is the request of UpdateAccessKey.
type UpdateAccessKeyInput struct {
	UserName    string `query:"UserName"`
	AccessKeyID string `query:"AccessKeyId"`
	Status      string `query:"Status"`
}

// DeleteAccessKeyInput is the request of DeleteAccessKey.
type DeleteAccessKeyInput struct {
	UserName    string `query:"UserName"`
	AccessKeyID string `query:"AccessKeyId"`
}

// --- inline policies ---

// PutUserPolicyInput is the request of PutUserPolicy.
type PutUserPolicyInput struct {
	UserName       string `query:"UserName"`
	PolicyName     string `query:"PolicyName"`
	PolicyDocument string `query:"PolicyDocument"`
}

// GetUserPolicyInput is the request of GetUserPolicy.
type GetUserPolicyInput struct {
	UserName   string `query:"UserName"`
	PolicyName string `query:"PolicyName"`
}

// GetUserPolicyOutput is the response of GetUserPolicy. The document is
// URL-encoded, as AWS returns it.
type GetUserPolicyOutput struct {
	UserName       string `xml:"UserName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

// ListUserPoliciesInput is the request of ListUserPolicies.
type ListUserPoliciesInput struct {
	UserName string `query:"UserName"`
	Marker   string `query:"Marker"`
	MaxItems *int   `query:"MaxItems"`
}

// ListPoliciesOutput is the response of ListUserPolicies and
// ListRolePolicies.
type ListPoliciesOutput struct {
	PolicyNames List[string] `xml:"PolicyNames"`
	IsTruncated bool         `xml:"IsTruncated"`
	Marker      string       `xml:"Marker,omitempty"`
}

// DeleteUserPolicyInput is the request of DeleteUserPolicy.
type DeleteUserPolicyInput struct {
	UserName   string `query:"UserName"`
	PolicyName string `query:"PolicyName"`
}

// PutRolePolicyInput is the request of PutRolePolicy.
type PutRolePolicyInput struct {
	RoleName       string `query:"RoleName"`
	PolicyName     string `query:"PolicyName"`
	PolicyDocument string `query:"PolicyDocument"`
}

// GetRolePolicyInput is the request of GetRolePolicy.
type GetRolePolicyInput struct {
	RoleName   string `query:"RoleName"`
	PolicyName string `query:"PolicyName"`
}

// GetRolePolicyOutput is the response of GetRolePolicy.
type GetRolePolicyOutput struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

// ListRolePoliciesInput is the request of ListRolePolicies.
type ListRolePoliciesInput struct {
	RoleName string `query:"RoleName"`
	Marker   string `query:"Marker"`
	MaxItems *int   `query:"MaxItems"`
}

// DeleteRolePolicyInput is the request of DeleteRolePolicy.
type DeleteRolePolicyInput struct {
	RoleName   string `query:"RoleName"`
	PolicyName string `query:"PolicyName"`
}

// --- roles ---

// Role is an IAM role. Its trust policy is URL-encoded, as AWS returns it.
type Role struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               Time   `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	Description              string `xml:"Description,omitempty"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

// CreateRoleInput is the request of CreateRole.
type CreateRoleInput struct {
	RoleName                 string `query:"RoleName"`
	Path                     string `query:"Path"`
	AssumeRolePolicyDocument string `query:"AssumeRolePolicyDocument"`
	Description              string `query:"Description"`
	MaxSessionDuration       *int   `query:"MaxSessionDuration"`
}

// CreateRoleOutput is the response of CreateRole.
type CreateRoleOutput struct {
	Role Role `xml:"Role"`
}

// GetRoleInput is the request of GetRole.
type GetRoleInput struct {
	RoleName string `query:"RoleName"`
}

// GetRoleOutput is the response of GetRole.
type GetRoleOutput struct {
	Role Role `xml:"Role"`
}

// ListRolesInput is the request of ListRoles.
type ListRolesInput struct {
	PathPrefix string `query:"PathPrefix"`
	Marker     string `query:"Marker"`
	MaxItems   *int   `query:"MaxItems"`
}

// ListRolesOutput is the response of ListRoles.
type ListRolesOutput struct {
	Roles       List[Role] `xml:"Roles"`
	IsTruncated bool       `xml:"IsTruncated"`
	Marker      string     `xml:"Marker,omitempty"`
}

// DeleteRoleInput is the request of DeleteRole.
type DeleteRoleInput struct {
	RoleName string `query:"RoleName"`
}

// UpdateAssumeRolePolicyInput is the request of UpdateAssumeRolePolicy.
type UpdateAssumeRolePolicyInput struct {
	RoleName       string `query:"RoleName"`
	PolicyDocument string `query:"PolicyDocument"`
}

// --- STS ---

// GetCallerIdentityInput is the (empty) request of GetCallerIdentity.
type GetCallerIdentityInput struct{}

// GetCallerIdentityOutput is the response of GetCallerIdentity.
type GetCallerIdentityOutput struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

// AssumeRoleInput is the request of AssumeRole. Session policies, tags,
// source identity and MFA are not supported: an input that carries them is
// refused rather than served with more permissions than the caller asked
// for.
type AssumeRoleInput struct {
	RoleArn         string `query:"RoleArn"`
	RoleSessionName string `query:"RoleSessionName"`
	DurationSeconds *int   `query:"DurationSeconds"`
	ExternalID      string `query:"ExternalId"`
}

// Credentials are temporary credentials.
type Credentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      Time   `xml:"Expiration"`
}

// AssumedRoleUser names a role session.
type AssumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

// AssumeRoleOutput is the response of AssumeRole.
type AssumeRoleOutput struct {
	Credentials     Credentials     `xml:"Credentials"`
	AssumedRoleUser AssumedRoleUser `xml:"AssumedRoleUser"`
}

// --- validation ---

// validator collects model-constraint failures and renders them as AWS
// does: "N validation error(s) detected: Value 'x' at 'member' failed to
// satisfy constraint: ...; ...".
type validator struct{ errs []string }

func (v *validator) add(value *string, member, constraint string) {
	var b strings.Builder
	switch {
	case value == nil:
		b.WriteString("Value null")
	default:
		b.WriteString("Value '")
		b.WriteString(*value)
		b.WriteString("'")
	}
	b.WriteString(" at '")
	b.WriteString(member)
	b.WriteString("' failed to satisfy constraint: ")
	b.WriteString(constraint)
	v.errs = append(v.errs, b.String())
}

// pattern is a model pattern: the Go regexp that checks it and the text
// AWS prints in its message.
type pattern struct {
	re   *regexp.Regexp
	text string
}

func newPattern(re, text string) *pattern { return &pattern{regexp.MustCompile(re), text} }

var (
	namePattern        = newPattern(`^[\w+=,.@-]+$`, `[\w+=,.@-]+`)
	sessionNamePattern = newPattern(`^[\w+=,.@-]*$`, `[\w+=,.@-]*`)
	pathPattern        = newPattern(`^(/|/[\x21-\x7E]+/)$`, `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`)
	pathPrefixPattern  = newPattern(`^/[\x21-\x7F]*$`, `\u002F[\u0021-\u007F]*`)
	accessKeyIDPattern = newPattern(`^\w+$`, `[\w]+`)
	markerPattern      = newPattern(`^[\x20-\x{FF}]+$`, `[\u0020-\u00FF]+`)
	policyDocPattern   = newPattern(`^[\t\n\r\x20-\x{FF}]+$`, `[\u0009\u000A\u000D\u0020-\u00FF]+`)
	descriptionPattern = newPattern(`^[\t\n\r\x20-\x7E\x{A1}-\x{FF}]*$`, `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`)
	externalIDPattern  = newPattern(`^[\w+=,.@:/-]*$`, `[\w+=,.@:\/-]*`)
)

// str checks a string member's length and pattern. An empty string counts
// as absent: required says whether that is an error.
func (v *validator) str(member, s string, required bool, min, max int, p *pattern) {
	v.strShown(member, s, s, required, min, max, p)
}

// doc checks a policy document without echoing it.
func (v *validator) doc(member, s string) {
	v.strShown(member, s, "", true, 1, 131072, policyDocPattern)
}

func (v *validator) strShown(member, s, shown string, required bool, min, max int, p *pattern) {
	if s == "" {
		if required {
			v.add(nil, member, "Member must not be null")
		}
		return
	}
	n := utf8.RuneCountInString(s)
	if len(shown) > 256 {
		shown = shown[:256] + "..."
	}
	sp := &shown
	if shown == "" {
		sp = nil
	}
	switch {
	case n < min:
		v.add(sp, member, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case n > max:
		v.add(sp, member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	case p != nil && !p.re.MatchString(s):
		v.add(sp, member, "Member must satisfy regular expression pattern: "+p.text)
	}
}

// num checks an optional integer member's range.
func (v *validator) num(member string, n *int, min, max int) {
	if n == nil {
		return
	}
	s := strconv.Itoa(*n)
	switch {
	case *n < min:
		v.add(&s, member, fmt.Sprintf("Member must have value greater than or equal to %d", min))
	case *n > max:
		v.add(&s, member, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

func (v *validator) enum(member, s string, required bool, values ...string) {
	if s == "" {
		if required {
			v.add(nil, member, "Member must not be null")
		}
		return
	}
	for _, ok := range values {
		if s == ok {
			return
		}
	}
	v.add(&s, member, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return kms.Errorf(ErrValidation, "1 validation error detected: %s", v.errs[0])
	}
	return kms.Errorf(ErrValidation, "%d validation errors detected: %s", len(v.errs), strings.Join(v.errs, "; "))
}

// pagination checks the Marker and MaxItems of a list request.
func (v *validator) pagination(marker string, maxItems *int) {
	v.str("marker", marker, false, 1, 320, markerPattern)
	v.num("maxItems", maxItems, 1, 1000)
}

// pageSize returns MaxItems or its default of 100.
func pageSize(maxItems *int) int {
	if maxItems == nil {
		return 100
	}
	return *maxItems
}

// encodeDocument URL-encodes a policy document the way IAM returns them:
// every byte but the RFC 3986 unreserved characters as %XX.
func encodeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}
