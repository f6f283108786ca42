package policy

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/openkms/kms"
)

// glob reports whether s matches pattern, where * matches any run of
// characters (possibly empty), ? exactly one character, and a backslash
// makes the next pattern character literal. Literal pattern text is built
// with escapeBackslash; substituted variable values with escapeGlob.
func glob(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0 // where to resume after the last *
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				if px+1 == len(pattern) {
					return true // a trailing * takes the rest
				}
				starP, starS = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px, sx = px+1, sx+n
					continue
				}
			default:
				n := 1
				if c == '\\' && px+1 < len(pattern) {
					c, n = pattern[px+1], 2
				}
				if sx < len(s) && s[sx] == c {
					px, sx = px+n, sx+1
					continue
				}
			}
		}
		if starP >= 0 && starS < len(s) {
			_, n := utf8.DecodeRuneInString(s[starS:])
			starS += n
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	return true
}

// escapeBackslash turns literal policy text into a glob pattern that keeps
// its own * and ? as wildcards.
func escapeBackslash(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }

var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)

// escapeGlob makes every character of s literal in a glob pattern.
func escapeGlob(s string) string { return globEscaper.Replace(s) }

// arnMatch compares an ARN with a pattern the way ArnLike does: each of the
// six colon-separated parts separately, so a wildcard never spans a colon
// except in the final resource part.
func arnMatch(pattern, arn string) bool {
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false
	}
	for i := range pp {
		if !glob(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

// expand substitutes policy variables (${aws:username}, ${aws:PrincipalTag/k,
// 'default'}, ${*}, ${?}, ${$}) in s. With pattern set, the result is a glob
// pattern in which s's own * and ? stay wildcards and substituted text is
// literal. ok is false when a variable has no single value and no default.
// Without vars (documents older than 2012-10-17) s is taken literally.
func expand(s string, ctx Context, vars, pattern bool) (string, bool) {
	if !vars || !strings.Contains(s, "${") {
		if pattern {
			return escapeBackslash(s), true
		}
		return s, true
	}
	var b strings.Builder
	text := func(t string) {
		if pattern {
			t = escapeBackslash(t)
		}
		b.WriteString(t)
	}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			break
		}
		val, ok := variable(s[i+2:i+2+j], ctx)
		if !ok {
			return "", false
		}
		text(s[:i])
		if pattern {
			val = escapeGlob(val)
		}
		b.WriteString(val)
		s = s[i+3+j:]
	}
	text(s)
	return b.String(), true
}

// variable resolves the inside of one ${...}.
func variable(name string, ctx Context) (string, bool) {
	switch name {
	case "*", "?", "$":
		return name, true
	}
	key, def, hasDef := name, "", false
	if k, d, found := strings.Cut(name, ","); found {
		d = strings.TrimSpace(d)
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return "", false
		}
		key, def, hasDef = k, d[1:len(d)-1], true
	}
	vals := ctx[strings.ToLower(strings.TrimSpace(key))]
	switch {
	case len(vals) == 1:
		return vals[0], true
	case len(vals) == 0 && hasDef:
		return def, true
	}
	return "", false // absent, or multi-valued: not usable as a variable
}

// principalMatch says how a statement's Principal names the caller.
type principalMatch uint8

const (
	matchNone    principalMatch = iota
	matchDirect                 // the caller itself, its role, or anyone
	matchAccount                // only the caller's account (delegation to IAM)
)

func (ps *principals) hasAWS(arn string) bool { return arn != "" && slices.Contains(ps.aws, arn) }

// match says how a Principal element names p.
func (ps *principals) match(p *Principal) principalMatch {
	if ps.anyone {
		return matchDirect
	}
	switch p.Type {
	case PrincipalService:
		if slices.Contains(ps.service, p.ARN) {
			return matchDirect
		}
		return matchNone
	case PrincipalFederated:
		if slices.Contains(ps.federated, p.ARN) {
			return matchDirect
		}
		return matchNone
	}
	root := accountRoot(p.Account)
	// The root user is named only through its account: it is the account.
	if p.ARN != root && ps.hasAWS(p.ARN) || ps.hasAWS(p.RoleARN) {
		return matchDirect
	}
	if ps.hasAWS(root) {
		return matchAccount
	}
	return matchNone
}

// excludes reports whether a NotPrincipal element lists every identity of p:
// its own ARN, its role's and its account's. AWS checks each of them, so a
// NotPrincipal that names a user but not the user's account still applies
// to the user.
func (ps *principals) excludes(p *Principal) bool {
	if ps.anyone {
		return true
	}
	switch p.Type {
	case PrincipalService:
		return slices.Contains(ps.service, p.ARN)
	case PrincipalFederated:
		return slices.Contains(ps.federated, p.ARN)
	}
	listed := false
	for _, id := range []string{p.ARN, p.RoleARN, accountRoot(p.Account)} {
		if id == "" {
			continue
		}
		if !ps.hasAWS(id) {
			return false
		}
		listed = true
	}
	return listed
}

func accountRoot(account string) string {
	if account == "" {
		return ""
	}
	return kms.RootARN(account)
}
