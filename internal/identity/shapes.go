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

// CreateServiceLinkedRoleInput is the request of CreateServiceLinkedRole.
type CreateServiceLinkedRoleInput struct {
	AWSServiceName string `query:"AWSServiceName"`
	Description    string `query:"Description"`
	CustomSuffix   string `query:"CustomSuffix"`
}

// CreateServiceLinkedRoleOutput is the response of CreateServiceLinkedRole.
type CreateServiceLinkedRoleOutput struct {
	Role Role `xml:"Role"`
}

// DeleteServiceLinkedRoleInput is the request of DeleteServiceLinkedRole.
type DeleteServiceLinkedRoleInput struct {
	RoleName string `query:"RoleName"`
}

// DeleteServiceLinkedRoleOutput is the response of DeleteServiceLinkedRole.
type DeleteServiceLinkedRoleOutput struct {
	DeletionTaskID string `xml:"DeletionTaskId"`
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

// --- managed policies ---

// ManagedPolicy is a customer managed policy (AWS's Policy shape). The
// description is rendered by CreatePolicy and GetPolicy only, as on AWS.
type ManagedPolicy struct {
	PolicyName                    string `xml:"PolicyName"`
	PolicyID                      string `xml:"PolicyId"`
	Arn                           string `xml:"Arn"`
	Path                          string `xml:"Path"`
	DefaultVersionID              string `xml:"DefaultVersionId"`
	AttachmentCount               int    `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int    `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool   `xml:"IsAttachable"`
	Description                   string `xml:"Description,omitempty"`
	CreateDate                    Time   `xml:"CreateDate"`
	UpdateDate                    Time   `xml:"UpdateDate"`
}

// PolicyVersion is a version of a managed policy. Its document, URL-encoded,
// is rendered by GetPolicyVersion only.
type PolicyVersion struct {
	Document         string `xml:"Document,omitempty"`
	VersionID        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       Time   `xml:"CreateDate"`
}

// AttachedPolicy names a managed policy attached to a user or role.
type AttachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

// CreatePolicyInput is the request of CreatePolicy. Tags are not supported.
type CreatePolicyInput struct {
	PolicyName     string `query:"PolicyName"`
	Path           string `query:"Path"`
	PolicyDocument string `query:"PolicyDocument"`
	Description    string `query:"Description"`
}

// PolicyOutput is the response of CreatePolicy and GetPolicy.
type PolicyOutput struct {
	Policy ManagedPolicy `xml:"Policy"`
}

// PolicyArnInput is the request of GetPolicy and DeletePolicy.
type PolicyArnInput struct {
	PolicyArn string `query:"PolicyArn"`
}

// ListPolicyTagsInput is the request of ListPolicyTags.
type ListPolicyTagsInput struct {
	PolicyArn string `query:"PolicyArn"`
	Marker    string `query:"Marker"`
	MaxItems  *int   `query:"MaxItems"`
}

// ListManagedPoliciesInput is the request of ListPolicies. OnlyAttached is
// "true" or "false".
type ListManagedPoliciesInput struct {
	Scope             string `query:"Scope"`
	OnlyAttached      string `query:"OnlyAttached"`
	PathPrefix        string `query:"PathPrefix"`
	PolicyUsageFilter string `query:"PolicyUsageFilter"`
	Marker            string `query:"Marker"`
	MaxItems          *int   `query:"MaxItems"`
}

// ListManagedPoliciesOutput is the response of ListPolicies.
type ListManagedPoliciesOutput struct {
	Policies    List[ManagedPolicy] `xml:"Policies"`
	IsTruncated bool                `xml:"IsTruncated"`
	Marker      string              `xml:"Marker,omitempty"`
}

// CreatePolicyVersionInput is the request of CreatePolicyVersion.
// SetAsDefault is "true" or "false".
type CreatePolicyVersionInput struct {
	PolicyArn      string `query:"PolicyArn"`
	PolicyDocument string `query:"PolicyDocument"`
	SetAsDefault   string `query:"SetAsDefault"`
}

// PolicyVersionOutput is the response of CreatePolicyVersion and
// GetPolicyVersion.
type PolicyVersionOutput struct {
	PolicyVersion PolicyVersion `xml:"PolicyVersion"`
}

// PolicyVersionInput is the request of GetPolicyVersion,
// DeletePolicyVersion and SetDefaultPolicyVersion.
type PolicyVersionInput struct {
	PolicyArn string `query:"PolicyArn"`
	VersionID string `query:"VersionId"`
}

// ListPolicyVersionsInput is the request of ListPolicyVersions.
type ListPolicyVersionsInput struct {
	PolicyArn string `query:"PolicyArn"`
	Marker    string `query:"Marker"`
	MaxItems  *int   `query:"MaxItems"`
}

// ListPolicyVersionsOutput is the response of ListPolicyVersions.
type ListPolicyVersionsOutput struct {
	Versions    List[PolicyVersion] `xml:"Versions"`
	IsTruncated bool                `xml:"IsTruncated"`
	Marker      string              `xml:"Marker,omitempty"`
}

// UserPolicyInput is the request of AttachUserPolicy and DetachUserPolicy.
type UserPolicyInput struct {
	UserName  string `query:"UserName"`
	PolicyArn string `query:"PolicyArn"`
}

// RolePolicyInput is the request of AttachRolePolicy and DetachRolePolicy.
type RolePolicyInput struct {
	RoleName  string `query:"RoleName"`
	PolicyArn string `query:"PolicyArn"`
}

// ListAttachedUserPoliciesInput is the request of ListAttachedUserPolicies.
type ListAttachedUserPoliciesInput struct {
	UserName   string `query:"UserName"`
	PathPrefix string `query:"PathPrefix"`
	Marker     string `query:"Marker"`
	MaxItems   *int   `query:"MaxItems"`
}

// ListAttachedRolePoliciesInput is the request of ListAttachedRolePolicies.
type ListAttachedRolePoliciesInput struct {
	RoleName   string `query:"RoleName"`
	PathPrefix string `query:"PathPrefix"`
	Marker     string `query:"Marker"`
	MaxItems   *int   `query:"MaxItems"`
}

// ListAttachedPoliciesOutput is the response of ListAttachedUserPolicies
// and ListAttachedRolePolicies.
type ListAttachedPoliciesOutput struct {
	AttachedPolicies List[AttachedPolicy] `xml:"AttachedPolicies"`
	IsTruncated      bool                 `xml:"IsTruncated"`
	Marker           string               `xml:"Marker,omitempty"`
}

// ListEntitiesForPolicyInput is the request of ListEntitiesForPolicy.
type ListEntitiesForPolicyInput struct {
	PolicyArn         string `query:"PolicyArn"`
	EntityFilter      string `query:"EntityFilter"`
	PathPrefix        string `query:"PathPrefix"`
	PolicyUsageFilter string `query:"PolicyUsageFilter"`
	Marker            string `query:"Marker"`
	MaxItems          *int   `query:"MaxItems"`
}

// PolicyUser is a user a managed policy is attached to.
type PolicyUser struct {
	UserName string `xml:"UserName"`
	UserID   string `xml:"UserId"`
}

// PolicyRole is a role a managed policy is attached to.
type PolicyRole struct {
	RoleName string `xml:"RoleName"`
	RoleID   string `xml:"RoleId"`
}

// ListEntitiesForPolicyOutput is the response of ListEntitiesForPolicy.
// There are no groups.
type ListEntitiesForPolicyOutput struct {
	PolicyGroups List[struct{}]   `xml:"PolicyGroups"`
	PolicyUsers  List[PolicyUser] `xml:"PolicyUsers"`
	PolicyRoles  List[PolicyRole] `xml:"PolicyRoles"`
	IsTruncated  bool             `xml:"IsTruncated"`
	Marker       string           `xml:"Marker,omitempty"`
}

// --- reads that always answer an empty list ---

// Tag is an IAM tag; nothing here has any.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// UserListInput is the request of the per-user lists that are always
// empty here: ListGroupsForUser, ListUserTags, ListSSHPublicKeys,
// ListMFADevices and ListSigningCertificates.
type UserListInput struct {
	UserName string `query:"UserName"`
	Marker   string `query:"Marker"`
	MaxItems *int   `query:"MaxItems"`
}

// RoleListInput is the request of ListInstanceProfilesForRole and
// ListRoleTags.
type RoleListInput struct {
	RoleName string `query:"RoleName"`
	Marker   string `query:"Marker"`
	MaxItems *int   `query:"MaxItems"`
}

// ListGroupsForUserOutput is the response of ListGroupsForUser.
type ListGroupsForUserOutput struct {
	Groups      List[struct{}] `xml:"Groups"`
	IsTruncated bool           `xml:"IsTruncated"`
}

// ListInstanceProfilesForRoleOutput is the response of
// ListInstanceProfilesForRole.
type ListInstanceProfilesForRoleOutput struct {
	InstanceProfiles List[struct{}] `xml:"InstanceProfiles"`
	IsTruncated      bool           `xml:"IsTruncated"`
}

// ListTagsOutput is the response of ListUserTags, ListRoleTags and
// ListPolicyTags.
type ListTagsOutput struct {
	Tags        List[Tag] `xml:"Tags"`
	IsTruncated bool      `xml:"IsTruncated"`
}

// ListSSHPublicKeysOutput is the response of ListSSHPublicKeys.
type ListSSHPublicKeysOutput struct {
	SSHPublicKeys List[struct{}] `xml:"SSHPublicKeys"`
	IsTruncated   bool           `xml:"IsTruncated"`
}

// ListMFADevicesOutput is the response of ListMFADevices.
type ListMFADevicesOutput struct {
	MFADevices  List[struct{}] `xml:"MFADevices"`
	IsTruncated bool           `xml:"IsTruncated"`
}

// ListSigningCertificatesOutput is the response of ListSigningCertificates.
type ListSigningCertificatesOutput struct {
	Certificates List[struct{}] `xml:"Certificates"`
	IsTruncated  bool           `xml:"IsTruncated"`
}

// ListVirtualMFADevicesInput is the request of ListVirtualMFADevices.
type ListVirtualMFADevicesInput struct {
	AssignmentStatus string `query:"AssignmentStatus"`
	Marker           string `query:"Marker"`
	MaxItems         *int   `query:"MaxItems"`
}

// ListVirtualMFADevicesOutput is the response of ListVirtualMFADevices.
type ListVirtualMFADevicesOutput struct {
	VirtualMFADevices List[struct{}] `xml:"VirtualMFADevices"`
	IsTruncated       bool           `xml:"IsTruncated"`
}

// ListServiceSpecificCredentialsInput is the request of
// ListServiceSpecificCredentials.
type ListServiceSpecificCredentialsInput struct {
	UserName    string `query:"UserName"`
	ServiceName string `query:"ServiceName"`
}

// ListServiceSpecificCredentialsOutput is the response of
// ListServiceSpecificCredentials.
type ListServiceSpecificCredentialsOutput struct {
	ServiceSpecificCredentials List[struct{}] `xml:"ServiceSpecificCredentials"`
}

// DeleteLoginProfileInput is the request of DeleteLoginProfile.
type DeleteLoginProfileInput struct {
	UserName string `query:"UserName"`
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
	policyPathPattern  = newPattern(`^((/[A-Za-z0-9.,+@=_-]+)*)/$`, `((/[A-Za-z0-9\.,\+@=_-]+)*)/`)
	versionIDPattern   = newPattern(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`)
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
