package policy

// A random-policy property test: thousands of generated documents and
// requests, each decided by the engine and by refEval, a deliberately naive
// reference written from the spec's wording: regular expressions instead of
// the glob matcher, package net instead of net/netip, token replacement
// instead of the variable parser, and the decision procedure spelled out
// case by case. Agreement on every Result and Decision shows that no
// document grants more (or less) than its statements say.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// --- the generated model ---

type gDoc struct {
	kind    Kind
	version string // "", "2008-10-17" or "2012-10-17"
	stmts   []gStmt
}

type gStmt struct {
	deny         bool
	notPrincipal bool
	principals   []string // nil in identity policies
	notAction    bool
	actions      []string // nil: element missing
	notResource  bool
	resources    []string // nil: element missing
	conds        []gCond
}

type gCond struct {
	set      string // "", "ForAnyValue:", "ForAllValues:"
	op       string // base operator name
	ifExists bool
	key      string // as written in the document
	values   []string
}

func (c gCond) name() string {
	n := c.set + c.op
	if c.ifExists {
		n += "IfExists"
	}
	return n
}

// --- generator ---

var (
	gPrincipals = []string{"*", acct, other, "arn:aws:iam::111122223333:root",
		"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob",
		"arn:aws:iam::111122223333:role/app", "arn:aws:sts::111122223333:assumed-role/app/s1",
		"arn:aws:iam::444455556666:user/eve"}
	gActions      = []string{"kms:*", "kms:Encrypt", "kms:Decrypt", "kms:Gen*", "KMS:ENCRYPT", "kms:?ncrypt", "*", "kms:PutKeyPolicy", "kms:Create*"}
	gTrustActions = []string{"sts:AssumeRole", "sts:*", "STS:assumerole", "sts:Tag*"}
	gResources    = []string{"*", keyARN, otherKey, "arn:aws:kms:us-east-1:111122223333:key/*",
		"arn:aws:kms:*:*:alias/${aws:username}", "arn:aws:kms:us-east-1:111122223333:alias/a?ice",
		"arn:aws:kms:us-east-1:111122223333:alias/alice", "arn:aws:kms:*:444455556666:*"}
	gOps = []string{"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
		"StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
		"NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
		"DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
		"Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals",
		"ArnNotLike", "Null"}
	gStringKeys   = []string{"kms:EncryptionContext:tenant", "kms:EncryptionContext:TENANT", "kms:EncryptionContextKeys", "aws:username", "AWS:UserName", "aws:PrincipalTag/team", "kms:CallerAccount", "aws:TagKeys"}
	gStringValues = []string{"acme", "globex", "ACME", "tenant", "Tenant", "app", "alice", "a*", "*me", "?cme", "${aws:username}", "${aws:PrincipalTag/team}", "${aws:PrincipalTag/team, 'blue'}", "blue", "111122223333", "${*}"}
	gNumKeys      = []string{"kms:RotationPeriodInDays", "x:n"}
	gNums         = []string{"30", "90", "365", "7.5", "-1"}
	gDateKeys     = []string{"aws:CurrentTime", "aws:EpochTime"}
	gDates        = []string{"2024-01-01T00:00:00Z", "2024-06-01T12:00:00Z", "2024-06-01T14:00:00+02:00", "2025-01-01T00:00:00Z", "1717243200", "1700000000"}
	gBins         = []string{"aGVsbG8=", "d29ybGQ=", ""}
	gIPs          = []string{"10.0.0.0/8", "10.1.0.0/16", "192.0.2.1", "2001:db8::/32", "0.0.0.0/0"}
	gArnValues    = []string{"arn:aws:iam::111122223333:role/app", "arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:user/${aws:username}", "arn:aws:iam::*:*", "arn:aws:iam::444455556666:root"}
	gTimes        = []time.Time{time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC), time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func pickN(r *rand.Rand, s []string, min, max int) []string {
	n := min + r.IntN(max-min+1)
	out := make([]string, n)
	for i := range out {
		out[i] = pick(r, s)
	}
	return out
}

func genDoc(r *rand.Rand) gDoc {
	d := gDoc{kind: pick(r, []Kind{KeyPolicy, KeyPolicy, IdentityPolicy, IdentityPolicy, TrustPolicy})}
	d.version = pick(r, []string{"2012-10-17", "2012-10-17", "2012-10-17", "2008-10-17", ""})
	for range 1 + r.IntN(3) {
		d.stmts = append(d.stmts, genStmt(r, d.kind))
	}
	return d
}

func genStmt(r *rand.Rand, kind Kind) gStmt {
	s := gStmt{deny: r.IntN(10) < 3}
	if kind != IdentityPolicy {
		s.notPrincipal = kind == KeyPolicy && s.deny && r.IntN(3) == 0
		s.principals = pickN(r, gPrincipals, 1, 3)
	}
	switch {
	case kind == TrustPolicy:
		s.actions = pickN(r, gTrustActions, 1, 2)
	case kind == KeyPolicy && r.IntN(10) == 0:
		// Action missing: accepted, never applies.
	default:
		s.notAction = r.IntN(5) == 0
		s.actions = pickN(r, gActions, 1, 3)
	}
	if kind != TrustPolicy && !(kind == KeyPolicy && r.IntN(10) == 0) {
		s.notResource = r.IntN(5) == 0
		s.resources = pickN(r, gResources, 1, 3)
	}
	seen := map[string]bool{}
	for range r.IntN(4) {
		c := genCond(r)
		// A document cannot hold one key twice under one operator.
		if id := c.name() + "\x00" + c.key; !seen[id] {
			seen[id] = true
			s.conds = append(s.conds, c)
		}
	}
	return s
}

func genCond(r *rand.Rand) gCond {
	c := gCond{op: pick(r, gOps)}
	if c.op != "Null" {
		c.set = pick(r, []string{"", "", "", "ForAnyValue:", "ForAllValues:"})
		c.ifExists = r.IntN(4) == 0
	}
	var keys, values []string
	switch {
	case c.op == "Null":
		keys = append(append(append([]string{}, gStringKeys...), gNumKeys...), "aws:SourceIp", "x:bin")
		values = []string{"true", "false", "TRUE"}
	case strings.HasPrefix(c.op, "String"):
		keys, values = gStringKeys, gStringValues
	case strings.HasPrefix(c.op, "Numeric"):
		keys, values = gNumKeys, gNums
	case strings.HasPrefix(c.op, "Date"):
		keys, values = gDateKeys, gDates
	case c.op == "Bool":
		keys, values = []string{"aws:SecureTransport"}, []string{"true", "false", "False"}
	case c.op == "BinaryEquals":
		keys, values = []string{"x:bin"}, gBins
	case strings.HasSuffix(c.op, "IpAddress"):
		keys, values = []string{"aws:SourceIp"}, gIPs
	default:
		keys, values = []string{"aws:PrincipalArn"}, gArnValues
	}
	c.key = pick(r, keys)
	if strings.HasPrefix(strings.ToLower(c.key), "kms:encryptioncontext:") {
		c.set = "" // rejected by Parse; covered in TestParseErrors
	}
	c.values = pickN(r, values, 0, 3)
	return c
}

// render writes the model as JSON, choosing randomly among equivalent forms.
func (d gDoc) render(r *rand.Rand) string {
	list := func(vals []string) any {
		if len(vals) == 1 && r.IntN(2) == 0 {
			return vals[0]
		}
		return vals
	}
	var stmts []any
	for _, s := range d.stmts {
		m := map[string]any{"Effect": map[bool]string{false: "Allow", true: "Deny"}[s.deny]}
		if s.principals != nil {
			var p any = map[string]any{"AWS": list(s.principals)}
			if len(s.principals) == 1 && s.principals[0] == "*" && r.IntN(2) == 0 {
				p = "*"
			}
			m[map[bool]string{false: "Principal", true: "NotPrincipal"}[s.notPrincipal]] = p
		}
		if s.actions != nil {
			m[map[bool]string{false: "Action", true: "NotAction"}[s.notAction]] = list(s.actions)
		}
		if s.resources != nil {
			m[map[bool]string{false: "Resource", true: "NotResource"}[s.notResource]] = list(s.resources)
		}
		if len(s.conds) > 0 {
			cm := map[string]map[string]any{}
			for _, c := range s.conds {
				if cm[c.name()] == nil {
					cm[c.name()] = map[string]any{}
				}
				if len(c.values) == 0 {
					cm[c.name()][c.key] = []string{}
				} else {
					cm[c.name()][c.key] = list(c.values)
				}
			}
			m["Condition"] = cm
		}
		stmts = append(stmts, m)
	}
	top := map[string]any{"Statement": stmts}
	if len(stmts) == 1 && r.IntN(2) == 0 {
		top["Statement"] = stmts[0]
	}
	if d.version != "" {
		top["Version"] = d.version
	}
	b, err := json.Marshal(top)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func genRequest(r *rand.Rand) *Request {
	principals := []Principal{rootOf(acct), rootOf(other), userOf(acct, "alice"), userOf(acct, "bob"),
		sessionOf(acct, "", "app", "s1"), sessionOf(acct, "", "app", "s2"), userOf(other, "eve"), {}}
	noRole := sessionOf(acct, "", "app", "s1")
	noRole.RoleARN = ""
	principals = append(principals, noRole)

	ctx := Context{}
	maybe := func(key string, values ...string) {
		if r.IntN(2) == 0 {
			ctx.Set(key, pick(r, values))
		}
	}
	ec := map[string]string{}
	for _, k := range []string{"tenant", "Tenant", "app"} {
		if r.IntN(3) == 0 {
			ec[k] = pick(r, []string{"acme", "globex", "ACME", "alice"})
		}
	}
	ctx.SetEncryptionContext(ec)
	maybe("aws:username", "alice", "bob", "acme")
	maybe("aws:PrincipalTag/team", "blue", "acme", "a*")
	maybe("kms:CallerAccount", acct, other)
	if r.IntN(2) == 0 {
		ctx.SetMulti("aws:TagKeys", pickN(r, []string{"Env", "Team", "tenant", "app"}, 0, 3))
	}
	maybe("kms:RotationPeriodInDays", "30", "90", "365", "7.5", "abc")
	if r.IntN(2) == 0 {
		ctx.SetMulti("x:n", pickN(r, gNums, 1, 2))
	}
	if r.IntN(3) != 0 {
		ctx.SetTime(pick(r, gTimes))
	}
	maybe("aws:SecureTransport", "true", "false")
	maybe("x:bin", "aGVsbG8=", "d29ybGQ=", "")
	maybe("aws:SourceIp", "10.1.2.3", "10.2.0.1", "192.0.2.1", "2001:db8::1", "::ffff:10.1.2.3")
	maybe("aws:PrincipalArn", "arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::444455556666:root")

	return &Request{
		Action:    pick(r, []string{"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:PutKeyPolicy", "kms:CreateKey", "sts:AssumeRole", "sts:TagSession"}),
		Resource:  pick(r, []string{keyARN, otherKey, "*", "arn:aws:kms:us-east-1:111122223333:alias/alice", "arn:aws:kms:us-east-1:111122223333:alias/bob"}),
		Principal: pick(r, principals),
		Context:   ctx,
	}
}

// --- reference evaluator ---

var refVariables = []string{"${aws:username}", "${aws:PrincipalTag/team, 'blue'}", "${aws:PrincipalTag/team}", "${*}"}

// refSubst replaces each known variable token by its value, calling emit for
// literal text and value for substituted text. ok is false when a variable
// has no value.
func refSubst(s string, ctx Context, vars bool, emitLiteral func(rune), emitValue func(string)) bool {
	for len(s) > 0 {
		found := false
		if vars {
			for _, tok := range refVariables {
				if !strings.HasPrefix(s, tok) {
					continue
				}
				var val string
				switch tok {
				case "${*}":
					val = "*"
				case "${aws:username}":
					v := ctx["aws:username"]
					if len(v) != 1 {
						return false
					}
					val = v[0]
				default:
					v := ctx["aws:principaltag/team"]
					switch {
					case len(v) == 1:
						val = v[0]
					case len(v) == 0 && strings.Contains(tok, "'blue'"):
						val = "blue"
					default:
						return false
					}
				}
				emitValue(val)
				s = s[len(tok):]
				found = true
				break
			}
		}
		if !found {
			c, n := utf8.DecodeRuneInString(s)
			emitLiteral(c)
			s = s[n:]
		}
	}
	return true
}

// refRegexp turns a wildcard pattern into an anchored regular expression.
func refRegexp(pattern string, ctx Context, vars, fold bool) (*regexp.Regexp, bool) {
	var b strings.Builder
	b.WriteString("^")
	ok := refSubst(pattern, ctx, vars, func(c rune) {
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}, func(v string) { b.WriteString(regexp.QuoteMeta(v)) })
	if !ok {
		return nil, false
	}
	b.WriteString("$")
	expr := "(?s)" + b.String()
	if fold {
		expr = "(?i)" + expr
	}
	refMu.Lock()
	defer refMu.Unlock()
	re := refCache[expr]
	if re == nil {
		re = regexp.MustCompile(expr)
		refCache[expr] = re
	}
	return re, true
}

// refCache keeps compiled expressions: compiling dominates the test's time.
var (
	refMu    sync.Mutex
	refCache = map[string]*regexp.Regexp{}
)

func refPlain(s string, ctx Context, vars bool) (string, bool) {
	var b strings.Builder
	ok := refSubst(s, ctx, vars, func(c rune) { b.WriteRune(c) }, func(v string) { b.WriteString(v) })
	return b.String(), ok
}

func refLike(pattern, s string, ctx Context, vars bool) (bool, bool) {
	re, ok := refRegexp(pattern, ctx, vars, false)
	if !ok {
		return false, false
	}
	return re.MatchString(s), true
}

func refTime(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// refCompare applies a base (positive) operator to one request and one
// policy value. ok is false when a policy variable has no value.
func refCompare(op, req, pol string, ctx Context, vars bool) (match, ok bool) {
	switch strings.Replace(op, "Not", "", 1) {
	case "StringEquals":
		p, ok := refPlain(pol, ctx, vars)
		return ok && req == p, ok
	case "StringEqualsIgnoreCase":
		p, ok := refPlain(pol, ctx, vars)
		return ok && strings.EqualFold(req, p), ok
	case "StringLike":
		return refLike(pol, req, ctx, vars)
	case "ArnEquals", "ArnLike":
		pp, rp := strings.SplitN(pol, ":", 6), strings.SplitN(req, ":", 6)
		if len(pp) != 6 {
			// Still resolve variables, so a missing one fails the condition.
			_, ok := refPlain(pol, ctx, vars)
			return false, ok
		}
		all := len(rp) == 6
		for i := range pp {
			var m bool
			var r string
			if i < len(rp) {
				r = rp[i]
			}
			m, ok = refLike(pp[i], r, ctx, vars)
			if !ok {
				return false, false
			}
			all = all && m
		}
		return all, true
	}
	switch {
	case strings.HasPrefix(op, "Numeric"):
		a, err1 := strconv.ParseFloat(req, 64)
		b, err2 := strconv.ParseFloat(pol, 64)
		if err1 != nil || err2 != nil {
			return false, true
		}
		return map[string]bool{
			"NumericEquals": a == b, "NumericNotEquals": a == b, "NumericLessThan": a < b,
			"NumericLessThanEquals": a <= b, "NumericGreaterThan": a > b, "NumericGreaterThanEquals": a >= b,
		}[op], true
	case strings.HasPrefix(op, "Date"):
		a, ok1 := refTime(req)
		b, ok2 := refTime(pol)
		if !ok1 || !ok2 {
			return false, true
		}
		return map[string]bool{
			"DateEquals": a.Equal(b), "DateNotEquals": a.Equal(b), "DateLessThan": a.Before(b),
			"DateLessThanEquals": !a.After(b), "DateGreaterThan": a.After(b), "DateGreaterThanEquals": !a.Before(b),
		}[op], true
	case op == "Bool":
		return strings.EqualFold(req, pol) && (strings.EqualFold(req, "true") || strings.EqualFold(req, "false")), true
	case op == "BinaryEquals":
		a, err1 := base64.StdEncoding.DecodeString(req)
		b, err2 := base64.StdEncoding.DecodeString(pol)
		return err1 == nil && err2 == nil && bytes.Equal(a, b), true
	case op == "IpAddress" || op == "NotIpAddress":
		ip := net.ParseIP(req)
		var block *net.IPNet
		if strings.Contains(pol, "/") {
			_, block, _ = net.ParseCIDR(pol)
		} else if pip := net.ParseIP(pol); pip != nil {
			if v4 := pip.To4(); v4 != nil {
				pip = v4
			}
			block = &net.IPNet{IP: pip, Mask: net.CIDRMask(len(pip)*8, len(pip)*8)}
		}
		return ip != nil && block != nil && block.Contains(ip), true
	}
	panic("reference: unknown operator " + op)
}

func refNegated(op string) bool { return strings.Contains(op, "Not") }

func refCond(c gCond, ctx Context, vars, deny bool) bool {
	var got []string
	for k, v := range ctx {
		if strings.EqualFold(k, c.key) {
			got = v
		}
	}
	if c.op == "Null" {
		for _, v := range c.values {
			if strings.EqualFold(v, "true") && len(got) == 0 || strings.EqualFold(v, "false") && len(got) > 0 {
				return true
			}
		}
		return false
	}
	if len(got) == 0 {
		if c.ifExists || c.set == "ForAllValues:" {
			return true
		}
		if c.set == "ForAnyValue:" {
			return false
		}
		return refNegated(c.op)
	}
	// matrix[i][j]: request value i matches policy value j.
	matrix := make([][]bool, len(got))
	for i, rv := range got {
		matrix[i] = make([]bool, len(c.values))
		for j, pv := range c.values {
			m, ok := refCompare(c.op, rv, pv, ctx, vars)
			if !ok {
				return false
			}
			matrix[i][j] = m
		}
	}
	passes := make([]bool, len(got))
	for i, row := range matrix {
		hit := false
		for _, m := range row {
			hit = hit || m
		}
		passes[i] = hit != refNegated(c.op)
	}
	countPass := 0
	for _, p := range passes {
		if p {
			countPass++
		}
	}
	switch {
	case c.set == "ForAnyValue:":
		return countPass > 0
	case c.set == "ForAllValues:":
		return countPass == len(passes)
	case deny:
		return countPass > 0
	}
	return countPass == len(passes)
}

type refResult struct{ deny, direct, account bool }

func refRoot(account string) string { return "arn:aws:iam::" + account + ":root" }

func refEval(d gDoc, req *Request) refResult {
	var out refResult
	vars := d.version == "2012-10-17"
	p := req.Principal
	for _, s := range d.stmts {
		how := "direct"
		if s.principals != nil {
			listed := map[string]bool{}
			for _, v := range s.principals {
				if len(v) == 12 && !strings.Contains(v, ":") {
					v = refRoot(v)
				}
				listed[v] = true
			}
			isRoot := p.Account != "" && p.ARN == refRoot(p.Account)
			nameListed := !isRoot && p.ARN != "" && listed[p.ARN] || p.RoleARN != "" && listed[p.RoleARN]
			acctListed := p.Account != "" && listed[refRoot(p.Account)]
			if s.notPrincipal {
				ids := 0
				unlisted := 0
				for _, id := range []string{p.ARN, p.RoleARN, func() string {
					if p.Account == "" {
						return ""
					}
					return refRoot(p.Account)
				}()} {
					if id != "" {
						ids++
						if !listed[id] {
							unlisted++
						}
					}
				}
				if listed["*"] || ids > 0 && unlisted == 0 {
					continue
				}
			} else {
				switch {
				case listed["*"] || nameListed:
				case acctListed:
					how = "account"
				default:
					continue
				}
			}
		}
		if s.actions == nil {
			continue
		}
		actionHit := false
		for _, a := range s.actions {
			re, _ := refRegexp(a, nil, false, true)
			actionHit = actionHit || re.MatchString(req.Action)
		}
		if actionHit == s.notAction {
			continue
		}
		if d.kind != TrustPolicy {
			if s.resources == nil {
				continue
			}
			hit, unreadable := false, false
			for _, res := range s.resources {
				re, ok := refRegexp(res, req.Context, vars, false)
				if !ok {
					unreadable = true
					continue
				}
				hit = hit || re.MatchString(req.Resource)
			}
			if s.notResource && (hit || unreadable) || !s.notResource && !hit {
				continue
			}
		}
		condsHold := true
		for _, c := range s.conds {
			condsHold = condsHold && refCond(c, req.Context, vars, s.deny)
		}
		if !condsHold {
			continue
		}
		switch {
		case s.deny:
			out.deny = true
		case how == "direct":
			out.direct = true
		default:
			out.account = true
		}
	}
	return out
}

// refAuthorize spells out spec §7.2.
func refAuthorize(req *Request, key *gDoc, ids []gDoc, owner string, grant bool) (bool, Reason) {
	var kr refResult
	if key != nil {
		kr = refEval(*key, req)
	}
	iamAllow, iamDeny := false, false
	for _, d := range ids {
		r := refEval(d, req)
		iamAllow = iamAllow || r.direct
		iamDeny = iamDeny || r.deny
	}
	if kr.deny {
		return false, ResourcePolicyDenies
	}
	if iamDeny {
		return false, IdentityPolicyDenies
	}
	p := req.Principal
	if p.Account != "" && p.ARN == refRoot(p.Account) {
		iamAllow = true
	}
	if key == nil {
		if iamAllow {
			return true, 0
		}
		return false, NoIdentityPolicyAllows
	}
	if grant {
		return true, 0
	}
	sameAccount := p.Account != "" && p.Account == owner
	if sameAccount && kr.direct {
		return true, 0
	}
	if sameAccount && kr.account && iamAllow {
		return true, 0
	}
	if sameAccount && kr.account {
		return false, NoIdentityPolicyAllows
	}
	if sameAccount {
		return false, NoResourcePolicyAllows
	}
	if (kr.direct || kr.account) && iamAllow {
		return true, 0
	}
	if kr.direct || kr.account {
		return false, NoIdentityPolicyAllows
	}
	return false, NoResourcePolicyAllows
}

// --- the properties ---

func TestRandomPoliciesAgreeWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(2024, 6))
	docs, requests := 3000, 20
	if testing.Short() {
		docs = 500
	}
	stats := map[string]int{}
	for i := range docs {
		g := genDoc(r)
		text := g.render(r)
		d, err := Parse(text, g.kind)
		if err != nil {
			t.Fatalf("generated document rejected: %v\n%s", err, text)
		}
		for range requests {
			req := genRequest(r)
			got := d.Evaluate(req)
			want := refEval(g, req)
			if got.Deny != want.deny || got.Allow != want.direct || got.AccountAllow != want.account {
				t.Fatalf("doc %d (%v): engine %+v, reference %+v\n%s\nrequest %s", i, g.kind, got, want, text, describe(req))
			}
			switch {
			case got.Deny:
				stats["deny"]++
			case got.Allow:
				stats["allow"]++
			case got.AccountAllow:
				stats["account"]++
			default:
				stats["none"]++
			}
		}
	}
	// The generator must exercise every outcome, or the test proves little.
	for _, k := range []string{"deny", "allow", "account", "none"} {
		if stats[k] < docs/20 {
			t.Errorf("outcome %q seen only %d times: %v", k, stats[k], stats)
		}
	}
}

func TestRandomAuthorizeAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 17))
	rounds := 12000
	if testing.Short() {
		rounds = 2000
	}
	allowed := 0
	for i := range rounds {
		in := &Inputs{ResourceAccount: pick(r, []string{acct, acct, other}), GrantAllows: r.IntN(10) == 0}
		var key *gDoc
		var texts []string
		if r.IntN(5) != 0 {
			g := genDoc(r)
			g.kind = KeyPolicy
			for j := range g.stmts {
				if g.stmts[j].principals == nil {
					g.stmts[j].principals = pickN(r, gPrincipals, 1, 2)
				}
				if g.stmts[j].actions == nil || strings.HasPrefix(g.stmts[j].actions[0], "sts") {
					g.stmts[j].actions = pickN(r, gActions, 1, 2)
				}
			}
			key = &g
			text := g.render(r)
			texts = append(texts, text)
			in.ResourcePolicy = mustParse(t, text, KeyPolicy)
		}
		var ids []gDoc
		for range r.IntN(3) {
			g := genDoc(r)
			g.kind = IdentityPolicy
			for j := range g.stmts {
				g.stmts[j].principals, g.stmts[j].notPrincipal = nil, false
				if g.stmts[j].actions == nil || strings.HasPrefix(g.stmts[j].actions[0], "sts") {
					g.stmts[j].actions = pickN(r, gActions, 1, 2)
				}
				if g.stmts[j].resources == nil {
					g.stmts[j].resources = pickN(r, gResources, 1, 2)
				}
			}
			ids = append(ids, g)
			text := g.render(r)
			texts = append(texts, text)
			in.IdentityPolicies = append(in.IdentityPolicies, mustParse(t, text, IdentityPolicy))
		}
		req := genRequest(r)
		got := Authorize(req, in)
		wantAllowed, wantReason := refAuthorize(req, key, ids, in.ResourceAccount, in.GrantAllows)
		if got.Allowed != wantAllowed || got.Reason != wantReason {
			t.Fatalf("round %d: engine %+v, reference allowed=%v reason=%d\nrequest %s\ninputs owner=%s grant=%v\n%s",
				i, got, wantAllowed, wantReason, describe(req), in.ResourceAccount, in.GrantAllows, strings.Join(texts, "\n"))
		}
		if got.Allowed {
			allowed++
		}
	}
	if allowed < rounds/20 || allowed > rounds*19/20 {
		t.Errorf("allowed %d of %d: the generator is too lopsided to test much", allowed, rounds)
	}
}

// TestRandomDenyStatementsWin: adding a Deny statement that applies can
// only take permissions away, and adding an Allow can only add them.
func TestRandomDenyStatementsWin(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 1))
	for range 2000 {
		g := genDoc(r)
		g.kind = IdentityPolicy
		for j := range g.stmts {
			g.stmts[j].principals, g.stmts[j].notPrincipal = nil, false
			g.stmts[j].actions = pickN(r, gActions, 1, 2)
			g.stmts[j].resources = pickN(r, gResources, 1, 2)
		}
		req := genRequest(r)
		base := Authorize(req, &Inputs{IdentityPolicies: []*Document{mustParse(t, g.render(r), IdentityPolicy)}})

		withDeny := g
		withDeny.stmts = append(append([]gStmt{}, g.stmts...), gStmt{deny: true, actions: []string{"*"}, resources: []string{"*"}})
		if d := Authorize(req, &Inputs{IdentityPolicies: []*Document{mustParse(t, withDeny.render(r), IdentityPolicy)}}); d.Allowed || d.Reason != IdentityPolicyDenies {
			t.Fatalf("a matching Deny did not win: %+v", d)
		}
		withAllow := g
		withAllow.stmts = append(append([]gStmt{}, g.stmts...), gStmt{actions: []string{"*"}, resources: []string{"*"}})
		d := Authorize(req, &Inputs{IdentityPolicies: []*Document{mustParse(t, withAllow.render(r), IdentityPolicy)}})
		if base.Allowed && !d.Allowed {
			t.Fatalf("adding an Allow took a permission away: %+v", d)
		}
		if !d.Allowed && d.Reason != IdentityPolicyDenies {
			t.Fatalf("an Allow for everything did not allow: %+v", d)
		}
	}
}

func describe(req *Request) string {
	b, _ := json.Marshal(req.Context)
	return fmt.Sprintf("%s on %s by %+v, context %s", req.Action, req.Resource, req.Principal, b)
}
