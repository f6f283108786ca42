// Package kms holds the domain types shared by every layer of the server:
// key metadata, aliases, tags, the authenticated principal and the one API
// error type. It depends on the standard library only.
//
// # Layers
//
// A request flows api (wire protocol) -> sigv4 (who is calling) -> service
// (one method per operation) -> keys (cryptography) and store (persistence,
// with secrets sealed by seal). See README.md for the picture.
package kms

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Partition is the ARN partition this server uses for every resource.
const Partition = "aws"

// KeyState is the lifecycle state of a KMS key (spec §4).
type KeyState string

// Key states.
const (
	KeyStateCreating        KeyState = "Creating"
	KeyStateEnabled         KeyState = "Enabled"
	KeyStateDisabled        KeyState = "Disabled"
	KeyStatePendingDeletion KeyState = "PendingDeletion"
	KeyStatePendingImport   KeyState = "PendingImport"
	KeyStateUnavailable     KeyState = "Unavailable"
	KeyStateUpdating        KeyState = "Updating"
	// KeyStatePendingReplicaDeletion: a multi-Region primary scheduled for
	// deletion that waits for its replicas to be deleted first.
	KeyStatePendingReplicaDeletion KeyState = "PendingReplicaDeletion"
)

// KeySpec says what kind of key material a key holds.
type KeySpec string

// Key specs (spec §5.1).
const (
	KeySpecSymmetricDefault KeySpec = "SYMMETRIC_DEFAULT"
	KeySpecRSA2048          KeySpec = "RSA_2048"
	KeySpecRSA3072          KeySpec = "RSA_3072"
	KeySpecRSA4096          KeySpec = "RSA_4096"
	KeySpecECCNISTP256      KeySpec = "ECC_NIST_P256"
	KeySpecECCNISTP384      KeySpec = "ECC_NIST_P384"
	KeySpecECCNISTP521      KeySpec = "ECC_NIST_P521"
	KeySpecECCSECGP256K1    KeySpec = "ECC_SECG_P256K1"
	KeySpecEd25519          KeySpec = "ECC_NIST_EDWARDS25519"
	KeySpecMLDSA44          KeySpec = "ML_DSA_44"
	KeySpecMLDSA65          KeySpec = "ML_DSA_65"
	KeySpecMLDSA87          KeySpec = "ML_DSA_87"
	KeySpecHMAC224          KeySpec = "HMAC_224"
	KeySpecHMAC256          KeySpec = "HMAC_256"
	KeySpecHMAC384          KeySpec = "HMAC_384"
	KeySpecHMAC512          KeySpec = "HMAC_512"
	KeySpecSM2              KeySpec = "SM2"
)

// KeyUsage says which operations a key may be used for.
type KeyUsage string

// Key usages.
const (
	KeyUsageEncryptDecrypt    KeyUsage = "ENCRYPT_DECRYPT"
	KeyUsageSignVerify        KeyUsage = "SIGN_VERIFY"
	KeyUsageGenerateVerifyMAC KeyUsage = "GENERATE_VERIFY_MAC"
	KeyUsageKeyAgreement      KeyUsage = "KEY_AGREEMENT"
)

// Origin says where a key's material came from.
type Origin string

// Key origins.
const (
	OriginAWSKMS   Origin = "AWS_KMS"
	OriginExternal Origin = "EXTERNAL"
)

// KeyManager tells customer managed keys from AWS managed ones.
type KeyManager string

// Key managers.
const (
	KeyManagerCustomer KeyManager = "CUSTOMER"
	KeyManagerAWS      KeyManager = "AWS"
)

// Key is the stored metadata of one KMS key. Key material lives apart from
// it (store.Material), always sealed.
type Key struct {
	// ID is the id the store keeps the key under: the key id (a lowercase
	// UUID) for a single-Region key; for a multi-Region key, whose copies
	// in several regions share one key id (mrk-…), RowID's key id@region.
	// KeyID returns the key id clients see.
	ID           string
	Account      string // owning account, 12 digits
	Region       string
	Description  string
	Spec         KeySpec
	Usage        KeyUsage
	Origin       Origin
	Manager      KeyManager
	State        KeyState
	CreationDate time.Time
	// DeletionDate is set only while State is PendingDeletion.
	DeletionDate time.Time
	Policy       string
	// CurrentMaterialID is the hex id of the material new ciphertexts use.
	CurrentMaterialID string
	Tags              []Tag

	// Automatic rotation (spec §9): on when RotationEnabled, every
	// RotationPeriodDays; NextRotationDate is when the next one is due.
	RotationEnabled    bool
	RotationPeriodDays int
	NextRotationDate   time.Time

	// Imported material (Origin EXTERNAL, spec §10): ExpirationModel is
	// "" until the first import, then KEY_MATERIAL_EXPIRES (with ValidTo)
	// or KEY_MATERIAL_DOES_NOT_EXPIRE.
	ExpirationModel string
	ValidTo         time.Time

	// PrimaryRegion is "" for a single-Region key; for a multi-Region key
	// it is the region of its primary, the same in every copy.
	PrimaryRegion string
	// PendingWindowDays is the waiting period of a multi-Region primary in
	// PendingReplicaDeletion: its deletion is scheduled that many days
	// after its last replica is gone.
	PendingWindowDays int

	// Revision counts the changes to the key's row, as the store read it:
	// UpdateKey writes only over the revision the key was read at, so that
	// of two changes made at once from the same reading (by two nodes of a
	// cluster) the second fails rather than undoes the first.
	Revision int64
}

// ARN returns the key's ARN.
func (k *Key) ARN() string { return KeyARN(k.Region, k.Account, k.KeyID()) }

// KeyID returns the key id clients see, without the region a multi-Region
// key's ID carries.
func (k *Key) KeyID() string { return KeyIDOf(k.ID) }

// MultiRegion reports whether k is a multi-Region key.
func (k *Key) MultiRegion() bool { return k.PrimaryRegion != "" }

// IsPrimary reports whether k is a multi-Region primary key.
func (k *Key) IsPrimary() bool { return k.PrimaryRegion != "" && k.PrimaryRegion == k.Region }

// MultiRegionPrefix starts the id of every multi-Region key.
const MultiRegionPrefix = "mrk-"

// RowID returns the id the store keeps the copy in region of key id under:
// id itself for a single-Region key, id@region for a multi-Region one.
func RowID(region, id string) string {
	if strings.HasPrefix(id, MultiRegionPrefix) {
		return id + "@" + region
	}
	return id
}

// KeyIDOf returns the key id of a store id made by RowID.
func KeyIDOf(rowID string) string {
	id, _, _ := strings.Cut(rowID, "@")
	return id
}

// KeyARN builds a key ARN.
func KeyARN(region, account, id string) string {
	return "arn:" + Partition + ":kms:" + region + ":" + account + ":key/" + id
}

// AliasARN builds an alias ARN from a full alias name ("alias/...").
func AliasARN(region, account, name string) string {
	return "arn:" + Partition + ":kms:" + region + ":" + account + ":" + name
}

// Alias is a friendly name for a key, unique per account and region.
type Alias struct {
	Name            string // "alias/..."
	Account         string
	Region          string
	TargetKeyID     string
	CreationDate    time.Time
	LastUpdatedDate time.Time
}

// ARN returns the alias ARN.
func (a *Alias) ARN() string { return AliasARN(a.Region, a.Account, a.Name) }

// Tag is a key/value label on a key.
type Tag struct {
	Key   string `json:"TagKey"`
	Value string `json:"TagValue"`
}

// PrincipalType is the kind of identity that signed a request.
type PrincipalType string

// Principal types, as aws:PrincipalType names them.
const (
	PrincipalRoot        PrincipalType = "Account"
	PrincipalUser        PrincipalType = "User"
	PrincipalAssumedRole PrincipalType = "AssumedRole"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Account     string
	ARN         string
	Type        PrincipalType
	UserID      string // aws:userid: account id, user id, or role id:session
	AccessKeyID string
	// Name is the IAM user name (aws:username); empty for root and roles.
	Name string
	// RoleARN is the role of an assumed-role session: key policies that
	// name the role match all of its sessions.
	RoleARN string
	// SessionCreated is when an assumed-role session was issued.
	SessionCreated time.Time
	// ServicePrincipal is the AWS service (such as "s3.amazonaws.com")
	// that a session of a service-linked role acts as; "" otherwise. Grants
	// to that service principal on keys of Account apply to the session.
	ServicePrincipal string
}

// ServiceLinkedRolePath is the path prefix of service-linked roles:
// /aws-service-role/SERVICE-PRINCIPAL/. Only CreateServiceLinkedRole makes
// roles under it, so a role's path says which service it stands for.
const ServiceLinkedRolePath = "/aws-service-role/"

// ValidServicePrincipal accepts the form of AWS service principals: DNS
// labels of lower-case letters, digits and hyphens ending in
// ".amazonaws.com", such as "s3.amazonaws.com" or
// "logs.us-east-1.amazonaws.com". Anything else (an ARN, an account id, a
// wildcard) is not a service principal.
func ValidServicePrincipal(s string) bool {
	name, ok := strings.CutSuffix(s, ".amazonaws.com")
	if !ok || name == "" || len(s) > 256 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// RootARN returns the ARN of an account's root user.
func RootARN(account string) string { return "arn:" + Partition + ":iam::" + account + ":root" }

// RootPrincipal returns the root principal of an account.
func RootPrincipal(account, accessKeyID string) Principal {
	return Principal{
		Account:     account,
		ARN:         RootARN(account),
		Type:        PrincipalRoot,
		UserID:      account,
		AccessKeyID: accessKeyID,
	}
}

// Error is the one API error type: an AWS error code, a message that is
// safe to show the client, and an internal cause that is never shown.
type Error struct {
	Code    string
	Message string
	cause   error
}

// Errorf returns an API error with a formatted client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrUnavailable marks a cause that is a dependency not answering (the
// database of a cluster): Internal makes it a DependencyTimeoutException
// (HTTP 503), which the SDKs retry, rather than a KMSInternalException.
var ErrUnavailable = errors.New("a dependency is unavailable")

// unavailableMessage is what a client is told while the database is
// unreachable; the cause stays in server logs.
const unavailableMessage = "The service is temporarily unavailable. Try again later."

// Internal wraps an unexpected failure. The client sees only a generic
// KMSInternalException (DependencyTimeoutException if the cause is
// ErrUnavailable); the cause stays in server logs.
func Internal(cause error) *Error {
	if errors.Is(cause, ErrUnavailable) {
		return &Error{Code: ErrDependencyTimeout, Message: unavailableMessage, cause: cause}
	}
	return &Error{Code: ErrInternal, Message: "An internal error occurred.", cause: cause}
}

// InternalFailure is Internal for services other than KMS (CloudTrail's
// LookupEvents), whose generic server error is AWS's common InternalFailure
// (ServiceUnavailable, HTTP 503, when the cause is ErrUnavailable).
func InternalFailure(cause error) *Error {
	if errors.Is(cause, ErrUnavailable) {
		return &Error{Code: ErrServiceUnavailable, Message: unavailableMessage, cause: cause}
	}
	return &Error{Code: ErrInternalFailure, Message: "An internal error occurred.", cause: cause}
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Message + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// Status returns the HTTP status AWS uses for the error (spec §1.4).
func (e *Error) Status() int {
	switch e.Code {
	case ErrInternal, ErrInternalFailure, ErrKeyUnavailable:
		return 500
	case ErrDependencyTimeout, ErrServiceUnavailable:
		return 503
	}
	return 400
}

// Error codes, as sent in the "__type" member of error responses.
const (
	ErrAccessDenied         = "AccessDeniedException"
	ErrAlreadyExists        = "AlreadyExistsException"
	ErrDependencyTimeout    = "DependencyTimeoutException"
	ErrDisabled             = "DisabledException"
	ErrIncompleteSignature  = "IncompleteSignatureException"
	ErrIncorrectKey         = "IncorrectKeyException"
	ErrInternal             = "KMSInternalException"
	ErrInternalFailure      = "InternalFailure"    // AWS's common code, for CloudTrail
	ErrServiceUnavailable   = "ServiceUnavailable" // AWS's common code (IAM, STS, CloudTrail), HTTP 503
	ErrInvalidAliasName     = "InvalidAliasNameException"
	ErrInvalidArn           = "InvalidArnException"
	ErrInvalidCiphertext    = "InvalidCiphertextException"
	ErrInvalidGrantToken    = "InvalidGrantTokenException"
	ErrInvalidKeyUsage      = "InvalidKeyUsageException"
	ErrInvalidMarker        = "InvalidMarkerException"
	ErrInvalidSignature     = "InvalidSignatureException"
	ErrInvalidState         = "KMSInvalidStateException"
	ErrKeyUnavailable       = "KeyUnavailableException"
	ErrLimitExceeded        = "LimitExceededException"
	ErrMalformedPolicy      = "MalformedPolicyDocumentException"
	ErrMissingAuthToken     = "MissingAuthenticationTokenException"
	ErrNotFound             = "NotFoundException"
	ErrSerialization        = "SerializationException"
	ErrTag                  = "TagException"
	ErrUnknownOperation     = "UnknownOperationException"
	ErrUnrecognizedClient   = "UnrecognizedClientException"
	ErrUnsupportedOperation = "UnsupportedOperationException"
	ErrValidation           = "ValidationException"
	ErrExpiredToken         = "ExpiredTokenException"
	ErrDryRunOperation      = "DryRunOperationException"
	ErrThrottling           = "ThrottlingException"
	ErrKMSInvalidSignature  = "KMSInvalidSignatureException"
	ErrKMSInvalidMac        = "KMSInvalidMacException"

	// Import of key material (spec §10).
	ErrExpiredImportToken   = "ExpiredImportTokenException"
	ErrInvalidImportToken   = "InvalidImportTokenException"
	ErrIncorrectKeyMaterial = "IncorrectKeyMaterialException"

	// Custom key stores, of which this server has none.
	ErrCustomKeyStoreNotFound = "CustomKeyStoreNotFoundException"
)

// NewUUID returns a random (version 4) UUID in lowercase, the form of key
// ids and request ids.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewMultiRegionID returns a fresh multi-Region key id: mrk- and 32
// lowercase hex digits.
func NewMultiRegionID() string {
	var b [16]byte
	rand.Read(b[:])
	return MultiRegionPrefix + hex.EncodeToString(b[:])
}
