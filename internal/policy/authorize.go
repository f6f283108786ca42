package policy

import "strings"

// Request is one authorization question: may Principal perform Action on
// Resource, given Context?
type Request struct {
	// Action is the full action name, e.g. "kms:Encrypt" or "sts:AssumeRole".
	Action string
	// Resource is the ARN the action is on: a key ARN, an alias ARN for the
	// alias side of alias operations, a role ARN for AssumeRole, or "*" for
	// operations on no resource (CreateKey, ListKeys, ...).
	Resource  string
	Principal Principal
	Context   Context
}

// Inputs are the policies that bear on a Request.
type Inputs struct {
	// ResourcePolicy is the key policy (or a role's trust policy for
	// sts:AssumeRole). nil means an IAM-only operation, decided by the
	// identity policies alone.
	ResourcePolicy *Document
	// ResourceAccount owns the resource. A caller from another account needs
	// both sides to allow; the service must only get this far for
	// operations that may be used across accounts.
	ResourceAccount string
	// IdentityPolicies are the caller's IAM policies. The account root has
	// none and needs none: it holds every permission in its own account.
	IdentityPolicies []*Document
	// GrantAllows is the hook for grants (spec §8): set it when a grant on
	// the key names the caller, covers the operation, and its constraints
	// are met. A grant allows by itself, but an explicit deny still wins.
	GrantAllows bool
}

// Result is what one document alone says about a request.
type Result struct {
	// Deny: some Deny statement applies.
	Deny bool
	// Allow: some Allow statement applies and names the caller itself, its
	// role, or anyone. Identity policy statements name nobody and count here.
	Allow bool
	// AccountAllow: some Allow statement applies through the caller's
	// account only: the resource delegates the decision to that account's
	// IAM policies.
	AccountAllow bool
}

// Evaluate says which of the document's statements apply to req.
func (d *Document) Evaluate(req *Request) Result {
	var r Result
	action := strings.ToLower(req.Action)
	for i := range d.statements {
		s := &d.statements[i]
		m := s.principalMatch(&req.Principal)
		if m == matchNone || !s.actionMatch(action) ||
			d.kind != TrustPolicy && !s.resourceMatch(req.Resource, req.Context, d.vars) ||
			!s.conditionsHold(req.Context, d.vars) {
			continue
		}
		switch {
		case s.deny:
			r.Deny = true
		case m == matchDirect:
			r.Allow = true
		default:
			r.AccountAllow = true
		}
	}
	return r
}

func (s *statement) principalMatch(p *Principal) principalMatch {
	switch {
	case !s.hasPrincipal:
		return matchDirect
	case s.notPrincipal:
		if s.principals.excludes(p) {
			return matchNone
		}
		return matchDirect
	}
	return s.principals.match(p)
}

// actionMatch takes the lower-cased request action: actions are
// case-insensitive.
func (s *statement) actionMatch(action string) bool {
	if !s.hasAction {
		return false
	}
	for _, p := range s.actions {
		if glob(p, action) {
			return !s.notAction
		}
	}
	return s.notAction
}

func (s *statement) resourceMatch(res string, ctx Context, vars bool) bool {
	if !s.hasResource {
		return false
	}
	for _, r := range s.resources {
		p, ok := expand(r, ctx, vars, true)
		if !ok {
			if s.notResource {
				return false // an exception we cannot read voids the statement
			}
			continue
		}
		if glob(p, res) {
			return !s.notResource
		}
	}
	return s.notResource
}

func (s *statement) conditionsHold(ctx Context, vars bool) bool {
	for i := range s.conditions {
		if !s.conditions[i].eval(ctx, vars, s.deny) {
			return false
		}
	}
	return true
}

// Reason says why a request was denied.
type Reason uint8

// Denial reasons, in AWS's words (spec §7.2).
const (
	NoIdentityPolicyAllows Reason = iota + 1
	NoResourcePolicyAllows
	ResourcePolicyDenies
	IdentityPolicyDenies
)

// Decision is the outcome of Authorize.
type Decision struct {
	Allowed bool
	Reason  Reason // zero when allowed
}

// Message renders the AccessDeniedException message for a denied request.
func (d Decision) Message(req *Request) string {
	head := "User: " + req.Principal.ARN + " is not authorized to perform: " + req.Action + " on resource: " + req.Resource
	switch d.Reason {
	case ResourcePolicyDenies:
		return head + " with an explicit deny in a resource-based policy"
	case IdentityPolicyDenies:
		return head + " with an explicit deny in an identity-based policy"
	case NoResourcePolicyAllows:
		return head + " because no resource-based policy allows the " + req.Action + " action"
	}
	return head + " because no identity-based policy allows the " + req.Action + " action"
}

// Authorize decides a request by the procedure of spec §7.2.
func Authorize(req *Request, in *Inputs) Decision {
	var res Result
	if in.ResourcePolicy != nil {
		res = in.ResourcePolicy.Evaluate(req)
	}
	identity := false
	identityDeny := false
	for _, d := range in.IdentityPolicies {
		r := d.Evaluate(req)
		identity = identity || r.Allow
		identityDeny = identityDeny || r.Deny
	}
	switch {
	case res.Deny:
		return Decision{Reason: ResourcePolicyDenies}
	case identityDeny:
		return Decision{Reason: IdentityPolicyDenies}
	}
	identity = identity || req.Principal.IsRoot()
	allow := Decision{Allowed: true}

	if in.ResourcePolicy == nil {
		if identity {
			return allow
		}
		return Decision{Reason: NoIdentityPolicyAllows}
	}
	if in.GrantAllows {
		return allow
	}
	if req.Principal.Account != "" && req.Principal.Account == in.ResourceAccount {
		switch {
		case res.Allow, res.AccountAllow && identity:
			return allow
		case res.AccountAllow:
			return Decision{Reason: NoIdentityPolicyAllows}
		}
		return Decision{Reason: NoResourcePolicyAllows}
	}
	// Across accounts the resource must trust the caller (or its account)
	// and the caller's own account must allow the call.
	switch {
	case !res.Allow && !res.AccountAllow:
		return Decision{Reason: NoResourcePolicyAllows}
	case !identity:
		return Decision{Reason: NoIdentityPolicyAllows}
	}
	return allow
}

// LockoutSafe is the policy lockout safety check (spec §7.6): would the
// caller of req still be allowed kms:PutKeyPolicy on keyARN if in held the
// new key policy? req is the CreateKey or PutKeyPolicy request, whose
// context the check reuses. When it fails, reject with
// MalformedPolicyDocumentException and MsgLockout.
func LockoutSafe(req *Request, keyARN string, in *Inputs) bool {
	r := *req
	r.Action, r.Resource = "kms:PutKeyPolicy", keyARN
	return Authorize(&r, in).Allowed
}
