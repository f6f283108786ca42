package service

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/openkms/kms"
)

// validator collects model-constraint failures and renders them the way AWS
// does: "N validation error(s) detected: Value 'x' at 'member' failed to
// satisfy constraint: ...; ..." (spec §1.5).
type validator struct{ errs []string }

func (v *validator) add(value *string, member, constraint string) {
	var b strings.Builder
	switch {
	case value == nil:
		b.WriteString("Value null")
	case *value == "\x00sensitive":
		b.WriteString("Value")
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

// sensitive stands in for values AWS never echoes (plaintext and the like).
var sensitive = "\x00sensitive"

func (v *validator) required(member string, present bool) bool {
	if !present {
		v.add(nil, member, "Member must not be null")
	}
	return present
}

// pattern is a model pattern: the Go regexp that checks it and the text
// AWS prints in its message.
type pattern struct {
	re   *regexp.Regexp
	text string
}

// str checks a string's length in characters and, if p is set, its pattern.
// A nil s counts as absent and passes (use required for mandatory members).
func (v *validator) str(member string, s *string, min, max int, p *pattern) {
	if s == nil {
		return
	}
	// AWS quotes the value whole, however long: LocalStack's AWS-validated
	// test_key_with_long_tag_value_raises_error records a 257-character
	// tag value in full.
	n := utf8.RuneCountInString(*s)
	shown := *s
	switch {
	case n < min:
		v.add(&shown, member, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case n > max:
		v.add(&shown, member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	case p != nil && !p.re.MatchString(*s):
		v.add(&shown, member, "Member must satisfy regular expression pattern: "+p.text)
	}
}

// blob checks a binary member's decoded length; its value is never echoed.
func (v *validator) blob(member string, b []byte, min, max int) {
	if b == nil {
		return
	}
	switch {
	case len(b) < min:
		v.add(&sensitive, member, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case len(b) > max:
		v.add(&sensitive, member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

func (v *validator) intRange(member string, n *int32, min, max int32) {
	if n == nil {
		return
	}
	s := strconv.Itoa(int(*n))
	switch {
	case *n < min:
		v.add(&s, member, fmt.Sprintf("Member must have value greater than or equal to %d", min))
	case *n > max:
		v.add(&s, member, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

func (v *validator) enum(member string, s *string, allowed ...string) {
	if s == nil {
		return
	}
	for _, a := range allowed {
		if *s == a {
			return
		}
	}
	v.add(s, member, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

func (v *validator) grantTokens(tokens []string) {
	if len(tokens) > 10 {
		n := strconv.Itoa(len(tokens))
		v.add(&n, "grantTokens", "Member must have length less than or equal to 10")
	}
	for i, t := range tokens {
		v.str("grantTokens."+strconv.Itoa(i+1)+".member", &t, 1, 8192, nil)
	}
}

func (v *validator) keyID(member string, s *string) {
	if v.required(member, s != nil) {
		v.str(member, s, 1, 2048, nil)
	}
}

func (v *validator) limit(l *int32) { v.intRange("limit", l, 1, 1000) }

func (v *validator) marker(m *string) { v.str("marker", m, 1, 1024, markerRE) }

func (v *validator) tags(member string, tags []kms.Tag) {
	for i, t := range tags {
		p := member + "." + strconv.Itoa(i+1) + ".member."
		v.str(p+"tagKey", &t.Key, 1, 128, nil)
		if t.Key == CustomKeyMaterialTag {
			// Key material: longer than a tag value, and never echoed.
			if len(t.Value) > maxCustomMaterialTag {
				v.add(&sensitive, p+"tagValue", "Member must have length less than or equal to "+strconv.Itoa(maxCustomMaterialTag))
			}
			continue
		}
		v.str(p+"tagValue", &t.Value, 0, 256, nil)
	}
}

// err returns the collected failures as one ValidationException, or nil.
func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return kms.Errorf(kms.ErrValidation, "1 validation error detected: %s", v.errs[0])
	}
	return kms.Errorf(kms.ErrValidation, "%d validation errors detected: %s", len(v.errs), strings.Join(v.errs, "; "))
}

var (
	markerRE    = &pattern{regexp.MustCompile(`^[\x{0020}-\x{00FF}]*$`), `[\u0020-\u00FF]*`}
	aliasNameRE = &pattern{regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`), `^[a-zA-Z0-9:/_-]+$`}
	policyRE    = &pattern{regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`), `[\u0009\u000A\u000D\u0020-\u00FF]+`}
)

func validationf(format string, args ...any) error {
	return kms.Errorf(kms.ErrValidation, format, args...)
}
