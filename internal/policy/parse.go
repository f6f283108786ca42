package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openkms/kms"
)

// statement is one compiled Statement element.
type statement struct {
	sid  string
	deny bool

	// hasPrincipal is false in identity policies, whose statements apply to
	// whoever the policy is attached to.
	hasPrincipal bool
	notPrincipal bool
	principals   principals

	hasAction bool
	notAction bool
	actions   []string // lower-cased glob patterns

	hasResource bool
	notResource bool
	resources   []string // raw text; may hold policy variables

	conditions []condition
}

// principals is the value of a Principal or NotPrincipal element.
type principals struct {
	anyone    bool
	aws       []string // ARNs; account ids are stored as arn:aws:iam::ID:root
	service   []string
	federated []string
}

func parseErr(format string, args ...any) error {
	return &ParseError{Message: fmt.Sprintf(format, args...)}
}

var errSyntax = &ParseError{Message: "Syntax errors in policy."}

// Parse checks doc against the policy grammar for kind and compiles it. The
// error, if any, is a *ParseError.
func Parse(doc string, kind Kind) (*Document, error) {
	if kind < KeyPolicy || kind > TrustPolicy {
		return nil, errors.New("policy: unknown document kind")
	}
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	if root.kind != jObject {
		return nil, errSyntax
	}
	d := &Document{kind: kind}
	var stmts *jvalue
	for i := range root.obj {
		f := &root.obj[i]
		switch f.name {
		case "Version":
			if f.val.kind != jString || (f.val.str != "2012-10-17" && f.val.str != "2008-10-17") {
				return nil, parseErr("The policy must use version 2012-10-17 or 2008-10-17.")
			}
			d.version = f.val.str
		case "Id":
			if f.val.kind != jString {
				return nil, errSyntax
			}
			d.id = f.val.str
		case "Statement":
			stmts = &f.val
		default:
			return nil, parseErr("Policy document contains an unsupported element: %s", f.name)
		}
	}
	d.vars = d.version == "2012-10-17"
	if stmts == nil {
		return nil, parseErr("Missing required field Statement")
	}
	list := []jvalue{*stmts}
	if stmts.kind == jArray {
		list = stmts.arr
	}
	if len(list) == 0 {
		return nil, parseErr("Missing required field Statement")
	}
	sids := map[string]bool{}
	for i := range list {
		s, err := parseStatement(&list[i], kind)
		if err != nil {
			return nil, err
		}
		// IAM (not KMS) requires unique, alphanumeric statement ids.
		if kind != KeyPolicy && s.sid != "" {
			if sids[s.sid] {
				return nil, parseErr("Statement IDs (SID) in a single policy must be unique.")
			}
			sids[s.sid] = true
		}
		d.statements = append(d.statements, s)
	}
	d.usesContext = d.readsContext()
	return d, nil
}

func parseStatement(v *jvalue, kind Kind) (statement, error) {
	var s statement
	if v.kind != jObject {
		return s, errSyntax
	}
	var effect, principal, notPrincipal, action, notAction, resource, notResource, cond *jvalue
	for i := range v.obj {
		f := &v.obj[i]
		switch f.name {
		case "Sid":
			if f.val.kind != jString {
				return s, errSyntax
			}
			s.sid = f.val.str
		case "Effect":
			effect = &f.val
		case "Principal":
			principal = &f.val
		case "NotPrincipal":
			notPrincipal = &f.val
		case "Action":
			action = &f.val
		case "NotAction":
			notAction = &f.val
		case "Resource":
			resource = &f.val
		case "NotResource":
			notResource = &f.val
		case "Condition":
			cond = &f.val
		default:
			return s, parseErr("Statement contains an unsupported element: %s", f.name)
		}
	}
	if kind != KeyPolicy && !alnum(s.sid) {
		return s, parseErr("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")
	}

	if effect == nil {
		return s, parseErr("Missing required field Effect")
	}
	if effect.kind != jString || (effect.str != "Allow" && effect.str != "Deny") {
		return s, parseErr("Invalid effect: %s", effect.str)
	}
	s.deny = effect.str == "Deny"

	if err := s.parsePrincipals(principal, notPrincipal, kind); err != nil {
		return s, err
	}
	if err := s.parseActions(action, notAction, kind); err != nil {
		return s, err
	}
	if err := s.parseResources(resource, notResource, kind); err != nil {
		return s, err
	}
	if cond != nil {
		cs, err := parseConditions(cond)
		if err != nil {
			return s, err
		}
		s.conditions = cs
	}
	return s, nil
}

func (s *statement) parsePrincipals(principal, notPrincipal *jvalue, kind Kind) error {
	switch {
	case kind == IdentityPolicy:
		if principal != nil || notPrincipal != nil {
			return parseErr("Policy document should not specify a principal.")
		}
		return nil
	case principal != nil && notPrincipal != nil:
		return parseErr("Statement cannot have both Principal and NotPrincipal.")
	case principal == nil && notPrincipal == nil:
		return parseErr("Missing required field Principal")
	case notPrincipal != nil && kind == TrustPolicy:
		return parseErr("Has prohibited field NotPrincipal")
	case notPrincipal != nil && !s.deny:
		// AWS no longer supports NotPrincipal with Allow: it grants to
		// everyone else, anonymous callers included.
		return parseErr("NotPrincipal must be used with \"Effect\":\"Deny\".")
	}
	v := principal
	if notPrincipal != nil {
		v, s.notPrincipal = notPrincipal, true
	}
	p, bad := parsePrincipalValue(v)
	if bad != "" {
		if kind == KeyPolicy {
			return parseErr(MsgInvalidPrincipals)
		}
		return parseErr("Invalid principal in policy: %s", bad)
	}
	s.hasPrincipal, s.principals = true, p
	return nil
}

// parsePrincipalValue returns the principals, or a description of the first
// invalid one.
func parsePrincipalValue(v *jvalue) (principals, string) {
	var p principals
	if v.kind == jString {
		if v.str != "*" {
			return p, quote(v.str)
		}
		p.anyone = true
		return p, ""
	}
	if v.kind != jObject || len(v.obj) == 0 {
		return p, "Principal"
	}
	for i := range v.obj {
		f := &v.obj[i]
		vals, ok := stringList(&f.val)
		if !ok || len(vals) == 0 {
			return p, quote(f.name)
		}
		for _, s := range vals {
			bad := quote(f.name) + ":" + quote(s)
			switch f.name {
			case "AWS":
				switch {
				case s == "*":
					p.anyone = true
				case isAccountID(s):
					p.aws = append(p.aws, kms.RootARN(s))
				case validPrincipalARN(s):
					p.aws = append(p.aws, s)
				default:
					return p, bad
				}
			case "Service":
				if !validName(s) {
					return p, bad
				}
				p.service = append(p.service, s)
			case "Federated":
				if !validName(s) {
					return p, bad
				}
				p.federated = append(p.federated, s)
			default:
				return p, bad
			}
		}
	}
	return p, ""
}

func quote(s string) string { return `"` + s + `"` }

// validName accepts a service or identity provider name: no wildcards,
// spaces or control characters.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == '*' || c == '?' || c == 0x7f {
			return false
		}
	}
	return true
}

// validPrincipalARN accepts the IAM and STS identity ARNs a policy may name.
// Wildcards are not allowed: AWS resolves principals to identities when it
// stores a policy.
func validPrincipalARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != kms.Partition || parts[3] != "" || !isAccountID(parts[4]) {
		return false
	}
	res := parts[5]
	switch parts[2] {
	case "iam":
		if res == "root" {
			return true
		}
		for _, prefix := range []string{"user/", "role/"} {
			if rest, ok := strings.CutPrefix(res, prefix); ok {
				return validPath(rest)
			}
		}
	case "sts":
		if rest, ok := strings.CutPrefix(res, "assumed-role/"); ok {
			role, session, ok := strings.Cut(rest, "/")
			return ok && validIAMName(role) && validIAMName(session)
		}
		if rest, ok := strings.CutPrefix(res, "federated-user/"); ok {
			return validIAMName(rest)
		}
	}
	return false
}

// validPath accepts "name" or "path/to/name" with IAM name characters.
func validPath(s string) bool {
	for seg := range strings.SplitSeq(s, "/") {
		if !validIAMName(seg) {
			return false
		}
	}
	return true
}

func validIAMName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("+=,.@_-", rune(c)) {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

func (s *statement) parseActions(action, notAction *jvalue, kind Kind) error {
	if action != nil && notAction != nil {
		return parseErr("Statement cannot have both Action and NotAction.")
	}
	v := action
	if notAction != nil {
		v, s.notAction = notAction, true
	}
	var vals []string
	if v != nil {
		var ok bool
		if vals, ok = stringList(v); !ok {
			return errSyntax
		}
	}
	if len(vals) == 0 {
		if kind == KeyPolicy {
			return nil // accepted, never applies (spec §7.3)
		}
		return parseErr("Policy statement must contain actions.")
	}
	if kind == TrustPolicy && s.notAction {
		return parseErr("AssumeRole policy may only specify STS AssumeRole actions.")
	}
	for _, a := range vals {
		vendor, name, ok := strings.Cut(a, ":")
		if a == "*" {
			vendor, name, ok = "*", "*", true
		}
		if !ok || vendor == "" || name == "" {
			return parseErr("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
		}
		if vendor != "*" && !validVendor(vendor) {
			return parseErr("Action vendors must not contain wildcards: %s", a)
		}
		if kind == TrustPolicy && !strings.EqualFold(vendor, "sts") {
			return parseErr("AssumeRole policy may only specify STS AssumeRole actions.")
		}
		s.actions = append(s.actions, escapeBackslash(strings.ToLower(a)))
	}
	s.hasAction = true
	return nil
}

func validVendor(v string) bool {
	for i := 0; i < len(v); i++ {
		if !isAlnum(v[i]) && v[i] != '-' {
			return false
		}
	}
	return true
}

func (s *statement) parseResources(resource, notResource *jvalue, kind Kind) error {
	if resource != nil && notResource != nil {
		return parseErr("Statement cannot have both Resource and NotResource.")
	}
	if kind == TrustPolicy {
		if resource != nil {
			return parseErr("Has prohibited field Resource")
		}
		if notResource != nil {
			return parseErr("Has prohibited field NotResource")
		}
		return nil
	}
	v := resource
	if notResource != nil {
		v, s.notResource = notResource, true
	}
	var vals []string
	if v != nil {
		var ok bool
		if vals, ok = stringList(v); !ok {
			return errSyntax
		}
	}
	if len(vals) == 0 {
		if kind == KeyPolicy {
			return nil
		}
		return parseErr("Policy statement must contain resources.")
	}
	for _, r := range vals {
		if r != "*" && (!strings.HasPrefix(r, "arn:") || strings.Count(r, ":") < 5) {
			return parseErr("Resource %s must be in ARN format or \"*\".", r)
		}
	}
	s.hasResource, s.resources = true, vals
	return nil
}

// stringList accepts a string or an array of strings.
func stringList(v *jvalue) ([]string, bool) {
	switch v.kind {
	case jString:
		return []string{v.str}, true
	case jArray:
		out := make([]string, 0, len(v.arr))
		for i := range v.arr {
			if v.arr[i].kind != jString {
				return nil, false
			}
			out = append(out, v.arr[i].str)
		}
		return out, true
	}
	return nil, false
}
