// Package policy parses AWS IAM-style policy documents and decides requests
// against them: key policies, IAM identity policies and role trust policies.
// It is pure: no I/O and no clock reads. Everything a decision depends on,
// including the time, arrives in the [Request].
//
// # Documents
//
// [Parse] checks a document against the grammar of the spec (§7.3, §7.5) for
// its [Kind] and compiles it. Failures are [*ParseError] values whose message
// is safe to show the client, for MalformedPolicyDocumentException.
//
// # Decisions
//
// [Authorize] implements the decision procedure of spec §7.2: an explicit
// deny anywhere wins; a key policy statement that names the caller allows by
// itself; one that names the caller's account delegates to IAM, so an
// identity policy allow counts only then; cross-account use needs both
// sides. [Document.Evaluate] says what one document alone says about a
// request. [LockoutSafe] is the check of §7.6.
//
// # Request context
//
// Condition keys are looked up in a [Context] that the caller fills per
// request, with helpers for the keys that are easy to get wrong: the
// principal keys, the time, encryption context and tags.
//
// # Fail-safe choices
//
// Where AWS leaves behaviour open, this package resolves towards denial: a
// policy variable without a value fails its condition or resource; a
// single-valued operator applied to a key with several values (for example
// two encryption context keys that differ only in case) must hold for every
// value in an Allow statement and for any value in a Deny statement; a role
// session matches its role only if the caller supplies the role's ARN.
package policy

import (
	"fmt"
	"strings"

	"github.com/openkms/kms"
)

// Kind says where a document is attached, which decides its grammar.
type Kind uint8

// Document kinds.
const (
	// KeyPolicy is the resource policy of a KMS key. Every statement names
	// principals; a statement without Action or Resource is accepted but
	// never applies.
	KeyPolicy Kind = iota + 1
	// IdentityPolicy is an IAM user or role inline policy. Statements name
	// no principals and must have actions and resources.
	IdentityPolicy
	// TrustPolicy is a role's assume-role policy: the role's resource policy
	// for sts:AssumeRole. Statements name principals and no resources.
	TrustPolicy
)

func (k Kind) String() string {
	switch k {
	case KeyPolicy:
		return "KeyPolicy"
	case IdentityPolicy:
		return "IdentityPolicy"
	case TrustPolicy:
		return "TrustPolicy"
	}
	return "Kind(?)"
}

// Document is a parsed, validated policy document. It is immutable and safe
// for concurrent use.
type Document struct {
	kind       Kind
	id         string
	version    string
	vars       bool // policy variables are substituted only in 2012-10-17 documents
	statements []statement
	// usesContext: some statement has a condition or a resource with a
	// policy variable (see UsesContext).
	usesContext bool
}

// UsesContext says whether evaluating the document can read the request's
// Context: it has a condition, or a resource with a policy variable. A
// request that only documents without them see needs no Context, and
// building one costs more than evaluating a plain key policy.
func (d *Document) UsesContext() bool { return d.usesContext }

func (d *Document) readsContext() bool {
	for i := range d.statements {
		s := &d.statements[i]
		if len(s.conditions) > 0 {
			return true
		}
		for _, r := range s.resources {
			if d.vars && strings.Contains(r, "${") {
				return true
			}
		}
	}
	return false
}

// CheckNewKeyPolicy applies the rules AWS enforces on the key policies it
// is given (CreateKey, PutKeyPolicy, ReplicateKey) since August 18, 2025:
// every statement has an Action or NotAction element, and a Resource
// element whose only value is "*". Policies stored before are evaluated as
// ever: such a statement never applies. The error is a *ParseError.
func (d *Document) CheckNewKeyPolicy() error {
	for i, s := range d.statements {
		name := s.sid
		if name == "" {
			name = fmt.Sprint(i + 1)
		}
		if !s.hasAction {
			return parseErr("Statement %s has no Action or NotAction element.", name)
		}
		if !s.hasResource || s.notResource || len(s.resources) != 1 || s.resources[0] != "*" {
			return parseErr(`Statement %s must have a Resource element of "*", the only resource a key policy names.`, name)
		}
	}
	return nil
}

// Kind returns the kind the document was parsed as.
func (d *Document) Kind() Kind { return d.kind }

// ID returns the document's Id element, or "".
func (d *Document) ID() string { return d.id }

// Version returns the document's Version element, or "" when it had none
// (AWS then applies 2008-10-17 rules: no policy variables).
func (d *Document) Version() string { return d.version }

// ParseError says why a document was rejected. Its message is in AWS's
// style and safe to show the client that sent the document.
type ParseError struct {
	Message string
}

func (e *ParseError) Error() string { return e.Message }

// Client-visible messages AWS uses for key policies (spec §7.5).
const (
	MsgInvalidPrincipals = "Policy contains a statement with one or more invalid principals."
	MsgLockout           = "The new key policy will not allow you to update the key policy in the future."
)

// DefaultKeyPolicy returns the key policy CreateKey installs when given none
// (spec §7.1), byte for byte as AWS prints it.
func DefaultKeyPolicy(account string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:` + kms.Partition + `:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}
