// Package audit keeps the audit trail: one CloudTrail-shaped [Record] per
// request and per server action, in a SQLite file of its own, chained and
// signed so that changes to it can be found.
//
// # Durability and group commit
//
// [Log.Append] returns once its record is durable: appended to the current
// segment file, which has been synced (see segment.go for the format). One
// writer goroutine owns the segment; records that arrive while it syncs
// wait and go into the next write together, so concurrent requests share
// one fdatasync and auditing does not cap throughput. A second goroutine,
// the indexer, takes the written records into the SQLite database (WAL),
// where the chain is built and lookups find them, in large transactions
// that need no fsync of their own: the segment already made them durable,
// and after a crash [Open] takes in whatever the database lacks. Reads
// through a [Log] first wait for the records acknowledged so far to be
// indexed, so a caller reads its own writes.
//
// If a segment write fails, every Append in that batch gets the error
// (callers fail closed) and the next batch tries again. While the segment
// or the database is known to be failing, [Log.Healthy] reports it, so that
// callers can refuse a request before acting on it; both goroutines retry
// in the background and Healthy turns nil once writes succeed again.
//
// # Hash chain
//
// Records form one chain per region. The record with sequence number seq
// (1, 2, ... within its region) is stored as the exact JSON bytes body that
// Append produced, together with
//
//	prev = hash of the region's record seq-1 (32 zero bytes for seq 1)
//	hash = SHA-256(prev || uint64 big-endian seq || body)
//
// Only body is hashed; the indexed columns stored beside it are derived from
// it and are not evidence.
//
// # Checkpoints
//
// Like CloudTrail digest files, the log signs checkpoints with the Ed25519
// key in [Config.Signer]: for a region, every [Config.CheckpointEvery]
// records, every [Config.CheckpointInterval] when records were added, before
// a prune and at Close. A checkpoint is a JSON object (see [Checkpoint])
// naming the region, the sequence number and hash of the last record it
// covers, the time, and the SHA-256 of the region's previous checkpoint
// signature, so checkpoints form a chain too. The signature is Ed25519 over
// "openkms-audit-checkpoint-v1\n" followed by the stored JSON bytes.
//
// The records after a region's last checkpoint (the unsigned tail) are
// protected only by the chain: anyone able to write the file can rewrite them
// consistently. [Verify] reports their number.
//
// # Retention
//
// [Log.Prune] deletes a prefix of each region's chain. It first signs a
// checkpoint covering everything written so far, then stores a signed anchor
// (see [Anchor]) naming the first remaining record and the hash it chains
// to, so Verify starts there and can still tell whether anything after it
// was changed.
//
// # What callers must not log
//
// Callers build requestParameters and responseElements; this package stores
// what it is given. They must leave out plaintext, ciphertext blobs, key
// material (plain or wrapped), secret access keys, session tokens,
// signatures and MACs, grant tokens and import tokens; see spec §12.2.
// [CheckNoSecrets] helps tests prove it.
package audit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TimeFormat is how CloudTrail writes eventTime: UTC, to the second.
const TimeFormat = "2006-01-02T15:04:05Z"

// Values of Record fields used by the server.
const (
	EventVersion      = "1.08"
	EventSourceKMS    = "kms.amazonaws.com"
	EventSourceIAM    = "iam.amazonaws.com"
	EventSourceSTS    = "sts.amazonaws.com"
	EventTypeAPICall  = "AwsApiCall"
	EventTypeService  = "AwsServiceEvent"
	CategoryMgmt      = "Management"
	ResourceTypeKey   = "AWS::KMS::Key"
	InvokedByInternal = "AWS Internal"
)

// Record is one CloudTrail event record (spec §12.1). Its JSON encoding uses
// CloudTrail's member names and writes eventTime as [TimeFormat].
type Record struct {
	EventVersion        string
	UserIdentity        *UserIdentity
	EventTime           time.Time
	EventSource         string
	EventName           string
	AWSRegion           string
	SourceIPAddress     string
	UserAgent           string
	ErrorCode           string // only on failure
	ErrorMessage        string // only on failure
	RequestParameters   any    // null when nil
	ResponseElements    any    // null when nil
	AdditionalEventData any    // omitted when nil
	RequestID           string
	EventID             string
	ReadOnly            bool
	Resources           []Resource
	EventType           string
	ManagementEvent     bool
	RecipientAccountID  string
	ServiceEventDetails any // omitted when nil
	EventCategory       string
	TLSDetails          *TLSDetails
}

// UserIdentity is a record's userIdentity; empty members are left out.
type UserIdentity struct {
	Type           string          `json:"type,omitempty"`
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"`
}

// SessionContext describes the role session of an AssumedRole identity.
type SessionContext struct {
	SessionIssuer *SessionIssuer     `json:"sessionIssuer,omitempty"`
	Attributes    *SessionAttributes `json:"attributes,omitempty"`
}

// SessionIssuer is the role a session was assumed from.
type SessionIssuer struct {
	Type        string `json:"type,omitempty"` // "Role"
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	UserName    string `json:"userName,omitempty"` // the role name
}

// SessionAttributes are the session's creation date and whether it was
// MFA-authenticated; CloudTrail writes the latter as a string.
type SessionAttributes struct {
	CreationDate     time.Time
	MFAAuthenticated bool
}

type sessionAttributesJSON struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}

// MarshalJSON implements [json.Marshaler].
func (a SessionAttributes) MarshalJSON() ([]byte, error) {
	return json.Marshal(sessionAttributesJSON{
		CreationDate:     formatTime(a.CreationDate),
		MFAAuthenticated: fmt.Sprint(a.MFAAuthenticated),
	})
}

// UnmarshalJSON implements [json.Unmarshaler].
func (a *SessionAttributes) UnmarshalJSON(b []byte) error {
	var j sessionAttributesJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := parseTime(j.CreationDate)
	if err != nil {
		return err
	}
	*a = SessionAttributes{CreationDate: t, MFAAuthenticated: j.MFAAuthenticated == "true"}
	return nil
}

// Resource is one entry of a record's resources.
type Resource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// TLSDetails describes the connection a request came over.
type TLSDetails struct {
	TLSVersion               string `json:"tlsVersion,omitempty"`
	CipherSuite              string `json:"cipherSuite,omitempty"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader,omitempty"`
}

// recordJSON fixes the member names and their order, which follows
// CloudTrail's own records.
type recordJSON struct {
	EventVersion        string        `json:"eventVersion"`
	UserIdentity        *UserIdentity `json:"userIdentity"`
	EventTime           string        `json:"eventTime"`
	EventSource         string        `json:"eventSource"`
	EventName           string        `json:"eventName"`
	AWSRegion           string        `json:"awsRegion"`
	SourceIPAddress     string        `json:"sourceIPAddress"`
	UserAgent           string        `json:"userAgent"`
	ErrorCode           string        `json:"errorCode,omitempty"`
	ErrorMessage        string        `json:"errorMessage,omitempty"`
	RequestParameters   any           `json:"requestParameters"`
	ResponseElements    any           `json:"responseElements"`
	AdditionalEventData any           `json:"additionalEventData,omitempty"`
	RequestID           string        `json:"requestID,omitempty"`
	EventID             string        `json:"eventID"`
	ReadOnly            bool          `json:"readOnly"`
	Resources           []Resource    `json:"resources,omitempty"`
	EventType           string        `json:"eventType"`
	ManagementEvent     bool          `json:"managementEvent"`
	RecipientAccountID  string        `json:"recipientAccountId"`
	ServiceEventDetails any           `json:"serviceEventDetails,omitempty"`
	EventCategory       string        `json:"eventCategory"`
	TLSDetails          *TLSDetails   `json:"tlsDetails,omitempty"`
}

// MarshalJSON implements [json.Marshaler]. Its output is what Append stores
// and hashes; json.Marshal of a Record gives the same bytes, and so does
// json.Marshal of its recordJSON (see appendRecord).
func (r Record) MarshalJSON() ([]byte, error) {
	return appendRecord(make([]byte, 0, 2048), &r)
}

// recordJSON returns r in the shape of its JSON, the reference for
// appendRecord.
func (r *Record) recordJSON() *recordJSON {
	return &recordJSON{
		EventVersion:        r.EventVersion,
		UserIdentity:        r.UserIdentity,
		EventTime:           formatTime(r.EventTime),
		EventSource:         r.EventSource,
		EventName:           r.EventName,
		AWSRegion:           r.AWSRegion,
		SourceIPAddress:     r.SourceIPAddress,
		UserAgent:           r.UserAgent,
		ErrorCode:           r.ErrorCode,
		ErrorMessage:        r.ErrorMessage,
		RequestParameters:   r.RequestParameters,
		ResponseElements:    r.ResponseElements,
		AdditionalEventData: r.AdditionalEventData,
		RequestID:           r.RequestID,
		EventID:             r.EventID,
		ReadOnly:            r.ReadOnly,
		Resources:           r.Resources,
		EventType:           r.EventType,
		ManagementEvent:     r.ManagementEvent,
		RecipientAccountID:  r.RecipientAccountID,
		ServiceEventDetails: r.ServiceEventDetails,
		EventCategory:       r.EventCategory,
		TLSDetails:          r.TLSDetails,
	}
}

// UnmarshalJSON implements [json.Unmarshaler]. The free-form members
// (requestParameters and so on) decode as generic JSON values.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := parseTime(j.EventTime)
	if err != nil {
		return err
	}
	*r = Record{
		EventVersion:        j.EventVersion,
		UserIdentity:        j.UserIdentity,
		EventTime:           t,
		EventSource:         j.EventSource,
		EventName:           j.EventName,
		AWSRegion:           j.AWSRegion,
		SourceIPAddress:     j.SourceIPAddress,
		UserAgent:           j.UserAgent,
		ErrorCode:           j.ErrorCode,
		ErrorMessage:        j.ErrorMessage,
		RequestParameters:   j.RequestParameters,
		ResponseElements:    j.ResponseElements,
		AdditionalEventData: j.AdditionalEventData,
		RequestID:           j.RequestID,
		EventID:             j.EventID,
		ReadOnly:            j.ReadOnly,
		Resources:           j.Resources,
		EventType:           j.EventType,
		ManagementEvent:     j.ManagementEvent,
		RecipientAccountID:  j.RecipientAccountID,
		ServiceEventDetails: j.ServiceEventDetails,
		EventCategory:       j.EventCategory,
		TLSDetails:          j.TLSDetails,
	}
	return nil
}

func formatTime(t time.Time) string {
	return t.UTC().Format(TimeFormat)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: time %q: %w", s, err)
	}
	return t, nil
}

// Username is what a lookup by user name matches for an identity: the IAM
// user name; for a role session, the role's name; for an account's root,
// "root".
func Username(u *UserIdentity) string {
	switch {
	case u == nil:
		return ""
	case u.Type == "Root":
		return "root"
	case u.UserName != "":
		return u.UserName
	case u.SessionContext != nil && u.SessionContext.SessionIssuer != nil:
		return u.SessionContext.SessionIssuer.UserName
	}
	return ""
}

// cryptoOps are the operations that count as a key's use for
// GetKeyLastUsage (spec: GetKeyLastUsage, Operation).
var cryptoOps = map[string]bool{
	"Decrypt": true, "DeriveSharedSecret": true, "Encrypt": true,
	"GenerateDataKey": true, "GenerateDataKeyPair": true,
	"GenerateDataKeyPairWithoutPlaintext": true, "GenerateDataKeyWithoutPlaintext": true,
	"GenerateMac": true, "ReEncrypt": true, "Sign": true, "Verify": true, "VerifyMac": true,
}

// IsKeyUse reports whether a record counts as a use of the keys in its
// resources for [Reader.LastUsage]: a successful cryptographic KMS operation.
func IsKeyUse(r *Record) bool {
	return r.EventSource == EventSourceKMS && r.ErrorCode == "" && cryptoOps[r.EventName]
}

// NewEventID returns a fresh eventID: a UUID of version 7 (RFC 9562), whose
// first 48 bits are the time in milliseconds and the rest random. Any UUID
// would do for CloudTrail; time-ordered ones are appended at the end of the
// eventID index instead of at random places in it, which keeps each group
// commit's writes small. Append uses it for records without an eventID.
func NewEventID() string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
}

// fillIn checks what Append needs of r and fills in what it may leave out:
// an event id, the event version, and the event time (now), in whole
// seconds of UTC as CloudTrail writes it.
func (r *Record) fillIn(now func() time.Time) error {
	if r.AWSRegion == "" {
		return errors.New("audit: record has no awsRegion")
	}
	if r.EventID == "" {
		r.EventID = NewEventID()
	}
	if r.EventVersion == "" {
		r.EventVersion = EventVersion
	}
	if r.EventTime.IsZero() {
		r.EventTime = now()
	}
	r.EventTime = r.EventTime.UTC().Truncate(time.Second)
	return nil
}
