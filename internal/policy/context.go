package policy

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openkms/kms"
)

// Principal is the caller of a request as policies see it.
type Principal struct {
	// ARN is the caller's own ARN: an account root, an IAM user, or an
	// assumed-role session (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION).
	ARN     string
	Account string
	Type    kms.PrincipalType
	// RoleARN is the ARN of the role behind an assumed-role session, path
	// included. Policies name roles, not sessions; a session whose RoleARN
	// is empty is matched only by its own session ARN.
	RoleARN string
	// UserID is the value of aws:userid.
	UserID string
}

// Principal types for callers that are not IAM identities. They only make
// "Service" and "Federated" principal entries match; ARN then holds the
// service name or the identity provider.
const (
	PrincipalService   kms.PrincipalType = "Service"
	PrincipalFederated kms.PrincipalType = "Federated"
)

// NewPrincipal returns the policy view of an authenticated caller. roleARN
// is the role behind an assumed-role session and empty otherwise.
func NewPrincipal(p kms.Principal, roleARN string) Principal {
	return Principal{ARN: p.ARN, Account: p.Account, Type: p.Type, RoleARN: roleARN, UserID: p.UserID}
}

// IsRoot reports whether the principal is the root user of its account.
func (p *Principal) IsRoot() bool { return p.Account != "" && p.ARN == kms.RootARN(p.Account) }

// Context holds the condition keys of one request, keyed by lower-cased key
// name (condition key names are case-insensitive). A key with no values is
// absent. Use the methods to fill it; the zero value of a Request may leave
// it nil, which means no keys.
type Context map[string][]string

// Condition keys the service fills (spec §7.4). Names are as AWS documents
// them; lookups ignore case.
const (
	KeyPrincipalArn       = "aws:PrincipalArn"
	KeyPrincipalAccount   = "aws:PrincipalAccount"
	KeyPrincipalType      = "aws:PrincipalType"
	KeyUsername           = "aws:username"
	KeyUserID             = "aws:userid"
	KeySourceIP           = "aws:SourceIp"
	KeyCurrentTime        = "aws:CurrentTime"
	KeyEpochTime          = "aws:EpochTime"
	KeySecureTransport    = "aws:SecureTransport"
	KeyRequestedRegion    = "aws:RequestedRegion"
	KeyRequestTagPrefix   = "aws:RequestTag/"
	KeyResourceTagPrefix  = "aws:ResourceTag/"
	KeyPrincipalTagPrefix = "aws:PrincipalTag/"
	KeyTagKeys            = "aws:TagKeys"
	KeySourceArn          = "aws:SourceArn"
	KeySourceAccount      = "aws:SourceAccount"

	KeyBypassPolicyLockoutSafetyCheck = "kms:BypassPolicyLockoutSafetyCheck"
	KeyCallerAccount                  = "kms:CallerAccount"
	KeyKeySpec                        = "kms:KeySpec"
	KeyKeyUsage                       = "kms:KeyUsage"
	KeyKeyOrigin                      = "kms:KeyOrigin"
	KeyMultiRegion                    = "kms:MultiRegion"
	KeyMultiRegionKeyType             = "kms:MultiRegionKeyType"
	KeyPrimaryRegion                  = "kms:PrimaryRegion"
	KeyReplicaRegion                  = "kms:ReplicaRegion"
	KeyEncryptionAlgorithm            = "kms:EncryptionAlgorithm"
	KeyEncryptionContextPrefix        = "kms:EncryptionContext:"
	KeyEncryptionContextKeys          = "kms:EncryptionContextKeys"
	KeyRequestAlias                   = "kms:RequestAlias"
	KeyResourceAliases                = "kms:ResourceAliases"
	KeyGrantOperations                = "kms:GrantOperations"
	KeyGranteePrincipal               = "kms:GranteePrincipal"
	KeyRetiringPrincipal              = "kms:RetiringPrincipal"
	KeyGrantConstraintType            = "kms:GrantConstraintType"
	KeyGranteeServicePrincipal        = "kms:GranteeServicePrincipal"
	KeyRetiringServicePrincipal       = "kms:RetiringServicePrincipal"
	KeyGrantConstraintSourceArn       = "kms:GrantConstraintSourceArn"
	KeyGrantIsForAWSResource          = "kms:GrantIsForAWSResource"
	KeyReEncryptOnSameKey             = "kms:ReEncryptOnSameKey"
	KeyRotationPeriodInDays           = "kms:RotationPeriodInDays"
	KeyScheduleKeyDeletionWindow      = "kms:ScheduleKeyDeletionPendingWindowInDays"
	KeySigningAlgorithm               = "kms:SigningAlgorithm"
	KeyMacAlgorithm                   = "kms:MacAlgorithm"
	KeyMessageType                    = "kms:MessageType"
	KeyKeyAgreementAlgorithm          = "kms:KeyAgreementAlgorithm"
	KeyDataKeyPairSpec                = "kms:DataKeyPairSpec"
	KeyViaService                     = "kms:ViaService"
)

// Lower-cased names for the helpers below, which run on every request.
var (
	lkPrincipalArn     = strings.ToLower(KeyPrincipalArn)
	lkPrincipalAccount = strings.ToLower(KeyPrincipalAccount)
	lkPrincipalType    = strings.ToLower(KeyPrincipalType)
	lkUsername         = strings.ToLower(KeyUsername)
	lkUserID           = strings.ToLower(KeyUserID)
	lkCurrentTime      = strings.ToLower(KeyCurrentTime)
	lkEpochTime        = strings.ToLower(KeyEpochTime)
	lkCallerAccount    = strings.ToLower(KeyCallerAccount)
)

// Set sets a single-valued key.
func (c Context) Set(key, value string) { c[strings.ToLower(key)] = []string{value} }

// SetMulti sets a multi-valued key; no values makes the key absent, which
// is how AWS treats an empty set.
func (c Context) SetMulti(key string, values []string) {
	k := strings.ToLower(key)
	if len(values) == 0 {
		delete(c, k)
		return
	}
	c[k] = slices.Clone(values)
}

// Get returns the values of a key, nil if absent.
func (c Context) Get(key string) []string { return c[strings.ToLower(key)] }

// SetBool sets a Bool key to "true" or "false".
func (c Context) SetBool(key string, v bool) { c.Set(key, strconv.FormatBool(v)) }

// SetInt sets a Numeric key.
func (c Context) SetInt(key string, n int64) { c.Set(key, strconv.FormatInt(n, 10)) }

// SetTime sets aws:CurrentTime and aws:EpochTime from the request's time.
func (c Context) SetTime(t time.Time) {
	c[lkCurrentTime] = []string{t.UTC().Format(time.RFC3339)}
	c[lkEpochTime] = []string{strconv.FormatInt(t.Unix(), 10)}
}

// SetPrincipal sets the keys that describe the caller: aws:PrincipalArn
// (the role, for a role session, as AWS does), aws:PrincipalAccount,
// aws:PrincipalType, aws:userid, aws:username (IAM users only) and
// kms:CallerAccount.
func (c Context) SetPrincipal(p Principal) {
	arn := p.ARN
	if p.RoleARN != "" {
		arn = p.RoleARN
	}
	c[lkPrincipalArn] = []string{arn}
	c[lkPrincipalAccount] = []string{p.Account}
	c[lkCallerAccount] = []string{p.Account}
	if p.Type != "" {
		c[lkPrincipalType] = []string{string(p.Type)}
	}
	if p.UserID != "" {
		c[lkUserID] = []string{p.UserID}
	}
	if p.Type == kms.PrincipalUser {
		c[lkUsername] = []string{p.ARN[strings.LastIndexByte(p.ARN, '/')+1:]}
	}
}

// EncryptionContextKey returns the condition key for one encryption context
// pair. Its key part is case-insensitive, like the rest of the name (§6).
func EncryptionContextKey(k string) string { return strings.ToLower(KeyEncryptionContextPrefix + k) }

// SetEncryptionContext sets kms:EncryptionContext:<k> for every pair and
// kms:EncryptionContextKeys. Keys that differ only in case share a condition
// key, which then holds several values; conditions on it resolve towards
// denial. An empty context sets nothing.
func (c Context) SetEncryptionContext(ec map[string]string) {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		delete(c, EncryptionContextKey(k)) // replace, never merge with an earlier call
	}
	for _, k := range keys {
		ck := EncryptionContextKey(k)
		c[ck] = append(c[ck], ec[k])
	}
	c.SetMulti(KeyEncryptionContextKeys, keys)
}

// SetRequestTags sets aws:RequestTag/<k> for every tag of the request and
// aws:TagKeys (CreateKey, TagResource).
func (c Context) SetRequestTags(tags []kms.Tag) {
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		delete(c, strings.ToLower(KeyRequestTagPrefix+t.Key))
		keys = append(keys, t.Key)
	}
	for _, t := range tags {
		k := strings.ToLower(KeyRequestTagPrefix + t.Key)
		c[k] = append(c[k], t.Value)
	}
	c.SetMulti(KeyTagKeys, keys)
}

// SetResourceTags sets aws:ResourceTag/<k> for every tag the key has now.
func (c Context) SetResourceTags(tags []kms.Tag) {
	for _, t := range tags {
		delete(c, strings.ToLower(KeyResourceTagPrefix+t.Key))
	}
	for _, t := range tags {
		k := strings.ToLower(KeyResourceTagPrefix + t.Key)
		c[k] = append(c[k], t.Value)
	}
}
