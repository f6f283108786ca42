package policy

import (
	"bytes"
	"encoding/base64"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type family uint8

const (
	famString family = iota
	famStringIgnoreCase
	famStringLike
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn
	famNull
)

type comparison uint8

const (
	cmpEq comparison = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type operator struct {
	fam     family
	cmp     comparison
	negated bool // true when the key is absent; otherwise no policy value may match
}

// operators are the condition operators of spec §7.3, without modifiers.
var operators = map[string]operator{
	"StringEquals":              {fam: famString},
	"StringNotEquals":           {fam: famString, negated: true},
	"StringEqualsIgnoreCase":    {fam: famStringIgnoreCase},
	"StringNotEqualsIgnoreCase": {fam: famStringIgnoreCase, negated: true},
	"StringLike":                {fam: famStringLike},
	"StringNotLike":             {fam: famStringLike, negated: true},
	"NumericEquals":             {fam: famNumeric},
	"NumericNotEquals":          {fam: famNumeric, negated: true},
	"NumericLessThan":           {fam: famNumeric, cmp: cmpLt},
	"NumericLessThanEquals":     {fam: famNumeric, cmp: cmpLe},
	"NumericGreaterThan":        {fam: famNumeric, cmp: cmpGt},
	"NumericGreaterThanEquals":  {fam: famNumeric, cmp: cmpGe},
	"DateEquals":                {fam: famDate},
	"DateNotEquals":             {fam: famDate, negated: true},
	"DateLessThan":              {fam: famDate, cmp: cmpLt},
	"DateLessThanEquals":        {fam: famDate, cmp: cmpLe},
	"DateGreaterThan":           {fam: famDate, cmp: cmpGt},
	"DateGreaterThanEquals":     {fam: famDate, cmp: cmpGe},
	"Bool":                      {fam: famBool},
	"BinaryEquals":              {fam: famBinary},
	"IpAddress":                 {fam: famIP},
	"NotIpAddress":              {fam: famIP, negated: true},
	"ArnEquals":                 {fam: famArn},
	"ArnLike":                   {fam: famArn},
	"ArnNotEquals":              {fam: famArn, negated: true},
	"ArnNotLike":                {fam: famArn, negated: true},
	"Null":                      {fam: famNull},
}

type setQualifier uint8

const (
	setNone setQualifier = iota
	setAnyValue
	setAllValues
)

// condition is one key under one operator of a Condition block.
type condition struct {
	op       operator
	set      setQualifier
	ifExists bool
	key      string // lower-cased: condition key names are case-insensitive
	values   []condValue
	hasVars  bool // some value holds "${"; substituted only in 2012-10-17 documents
}

// condValue is one policy value, pre-parsed for its operator.
type condValue struct {
	raw    string
	pat    string // raw as a glob pattern, for Like and ARN operators
	num    float64
	time   time.Time
	prefix netip.Prefix
	bin    []byte
	flag   bool // Bool: the value; Null: true means "key absent"
}

// ekPrefix is the lower-cased prefix of the single-valued
// kms:EncryptionContext:<key> condition keys.
const ekPrefix = "kms:encryptioncontext:"

func parseConditions(v *jvalue) ([]condition, error) {
	if v.kind != jObject {
		return nil, errSyntax
	}
	var out []condition
	for i := range v.obj {
		f := &v.obj[i]
		name := f.name
		var c condition
		if rest, ok := strings.CutPrefix(name, "ForAnyValue:"); ok {
			c.set, name = setAnyValue, rest
		} else if rest, ok := strings.CutPrefix(name, "ForAllValues:"); ok {
			c.set, name = setAllValues, rest
		}
		if rest, ok := strings.CutSuffix(name, "IfExists"); ok {
			c.ifExists, name = true, rest
		}
		op, ok := operators[name]
		if !ok || op.fam == famNull && (c.ifExists || c.set != setNone) {
			return nil, parseErr("Invalid Condition type : %s", f.name)
		}
		c.op = op
		if f.val.kind != jObject {
			return nil, errSyntax
		}
		for j := range f.val.obj {
			kf := &f.val.obj[j]
			vendor, _, ok := strings.Cut(kf.name, ":")
			if !ok || vendor == "" {
				return nil, parseErr("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
			}
			key := strings.ToLower(kf.name)
			if c.set != setNone && strings.HasPrefix(key, ekPrefix) {
				return nil, parseErr("OverlyPermissiveCondition:EncryptionContext: %s cannot be used with the single-valued condition key %s.", f.name, kf.name)
			}
			vals, ok := conditionValues(&kf.val)
			if !ok {
				return nil, errSyntax
			}
			cc := c
			cc.key = key
			cc.values = make([]condValue, len(vals))
			for k, s := range vals {
				cv, ok := parseCondValue(op.fam, s)
				if !ok {
					return nil, parseErr("Invalid value %s for condition operator %s on key %s.", quote(s), f.name, kf.name)
				}
				cc.values[k] = cv
				cc.hasVars = cc.hasVars || strings.Contains(s, "${")
			}
			out = append(out, cc)
		}
	}
	return out, nil
}

// conditionValues accepts a scalar or an array of scalars; JSON numbers and
// booleans stand for their text.
func conditionValues(v *jvalue) ([]string, bool) {
	scalar := func(v *jvalue) bool { return v.kind == jString || v.kind == jNumber || v.kind == jBool }
	if scalar(v) {
		return []string{v.str}, true
	}
	if v.kind != jArray {
		return nil, false
	}
	out := make([]string, 0, len(v.arr))
	for i := range v.arr {
		if !scalar(&v.arr[i]) {
			return nil, false
		}
		out = append(out, v.arr[i].str)
	}
	return out, true
}

// parseCondValue checks a policy value for its operator family. Only the
// string and ARN families take policy variables, so only they accept any
// text.
func parseCondValue(fam family, s string) (condValue, bool) {
	cv := condValue{raw: s}
	var ok bool
	switch fam {
	case famString, famStringIgnoreCase:
		ok = true
	case famStringLike, famArn:
		cv.pat, ok = escapeBackslash(s), true
	case famNumeric:
		cv.num, ok = parseNumber(s)
	case famDate:
		cv.time, ok = parseDate(s)
	case famBool, famNull:
		cv.flag, ok = parseBool(s)
	case famBinary:
		cv.bin, ok = parseBase64(s)
	case famIP:
		cv.prefix, ok = parseIPRange(s)
	}
	return cv, ok
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// dateLayouts are the ISO 8601 forms accepted besides epoch seconds.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z",
}

func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s != "" && strings.Trim(s, "0123456789") == "" && len(s) <= 15 {
		n, err := strconv.ParseInt(s, 10, 64)
		return time.Unix(n, 0).UTC(), err == nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

func parseBase64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// parseIPRange accepts a CIDR block or a bare address (a /32 or /128).
func parseIPRange(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// eval decides the condition for a request context. deny says whether the
// statement is a Deny, which decides how an ambiguous single-valued test is
// resolved.
func (c *condition) eval(ctx Context, vars, deny bool) bool {
	got := ctx[c.key]
	if c.op.fam == famNull {
		absent := len(got) == 0
		for i := range c.values {
			if c.values[i].flag == absent {
				return true
			}
		}
		return false
	}
	if len(got) == 0 {
		switch {
		case c.ifExists, c.set == setAllValues:
			return true
		case c.set == setAnyValue:
			return false
		}
		return c.op.negated
	}
	pol, ok := c.policyStrings(ctx, vars)
	if !ok {
		return false // a policy variable without a value fails the condition
	}
	// holds reports whether one request value passes the (possibly negated)
	// operator: policy values are OR-ed, negation applies to the OR.
	holds := func(r string) bool {
		for i := range c.values {
			v := &c.values[i]
			p := v.raw
			if pol != nil {
				p = pol[i]
			} else if v.pat != "" {
				p = v.pat
			}
			if c.match(r, v, p) {
				return !c.op.negated
			}
		}
		return c.op.negated
	}
	every := true
	switch c.set {
	case setAnyValue:
		every = false
	case setNone:
		// A single-valued test over several values is ambiguous: resolve it
		// towards denial (see the package documentation).
		every = !deny
	}
	for _, r := range got {
		if holds(r) != every {
			return !every
		}
	}
	return every
}

// policyStrings returns the policy values with variables substituted: plain
// text for exact comparisons, glob patterns for Like and ARN operators. It
// returns nil when there is nothing to substitute.
func (c *condition) policyStrings(ctx Context, vars bool) ([]string, bool) {
	if !c.hasVars || !vars {
		return nil, true
	}
	pattern := c.op.fam == famStringLike || c.op.fam == famArn
	out := make([]string, len(c.values))
	for i := range c.values {
		s, ok := expand(c.values[i].raw, ctx, true, pattern)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// match is the positive test of one request value against one policy value
// (pol is the value after variable substitution).
func (c *condition) match(r string, v *condValue, pol string) bool {
	switch c.op.fam {
	case famString:
		return r == pol
	case famStringIgnoreCase:
		return strings.EqualFold(r, pol)
	case famStringLike:
		return glob(pol, r)
	case famArn:
		return arnMatch(pol, r)
	case famNumeric:
		n, ok := parseNumber(r)
		return ok && compare(c.op.cmp, cmpFloat(n, v.num))
	case famDate:
		t, ok := parseDate(r)
		return ok && compare(c.op.cmp, t.Compare(v.time))
	case famBool:
		b, ok := parseBool(r)
		return ok && b == v.flag
	case famBinary:
		b, ok := parseBase64(r)
		return ok && bytes.Equal(b, v.bin)
	case famIP:
		a, err := netip.ParseAddr(strings.TrimSpace(r))
		return err == nil && v.prefix.Contains(a.Unmap())
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(op comparison, c int) bool {
	switch op {
	case cmpEq:
		return c == 0
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	case cmpGe:
		return c >= 0
	}
	return false
}
