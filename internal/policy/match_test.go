package policy

import (
	"fmt"
	"testing"

	"github.com/openkms/kms"
)

const (
	acct   = "111122223333"
	other  = "444455556666"
	keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

func rootOf(account string) Principal {
	return NewPrincipal(kms.RootPrincipal(account, "AKIA"), "")
}

func userOf(account, name string) Principal {
	return Principal{ARN: "arn:aws:iam::" + account + ":user/" + name, Account: account, Type: kms.PrincipalUser, UserID: "AIDA" + name}
}

func sessionOf(account, rolePath, role, session string) Principal {
	return Principal{
		ARN:     "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session,
		Account: account,
		Type:    kms.PrincipalAssumedRole,
		RoleARN: "arn:aws:iam::" + account + ":role/" + rolePath + role,
		UserID:  "AROA" + role + ":" + session,
	}
}

func mustParse(t testing.TB, doc string, kind Kind) *Document {
	t.Helper()
	d, err := Parse(doc, kind)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return d
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything:at/all", true},
		{"a*", "a", true},
		{"a*", "ba", false},
		{"*a", "bba", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbYcZ", false},
		{"a*b*c", "abcbc", true},
		{"?", "", false},
		{"?", "é", true}, // one character, two bytes
		{"??", "é", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"kms:*", "kms:encrypt", true},
		{"kms:Gen*", "kms:GenerateDataKey", true},
		{"kms:Gen*", "kms:generatedatakey", false}, // case-sensitive; callers fold actions
		{`a\*b`, "a*b", true},
		{`a\*b`, "aXb", false},
		{`a\?b`, "a?b", true},
		{`a\?b`, "aXb", false},
		{`a\\b`, `a\b`, true},
		{`a\`, `a\`, true}, // a trailing backslash is literal
		{"**", "x", true},
		{"*?*", "", false},
		{"*?*", "x", true},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestArnMatch(t *testing.T) {
	tests := []struct {
		pattern, arn string
		want         bool
	}{
		{"arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:role/app", true},
		{"arn:aws:iam::111122223333:role/App", "arn:aws:iam::111122223333:role/app", false},
		{"arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:role/path/app", true},
		{"arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:user/app", false},
		{"arn:aws:kms:*:111122223333:key/*", keyARN, true},
		{"arn:aws:kms:us-*:*:*", keyARN, true},
		// A wildcard does not span a colon outside the last part.
		{"arn:*:111122223333:key/*", keyARN, false},
		{"arn:aws:kms:us-east-1:111122223333:*", "arn:aws:kms:us-east-1:111122223333:alias/a:b", true},
		{"*", keyARN, false},
		{"arn:aws:kms:*:*:*", "not-an-arn", false},
	}
	for _, tt := range tests {
		if got := arnMatch(tt.pattern, tt.arn); got != tt.want {
			t.Errorf("arnMatch(%q, %q) = %v, want %v", tt.pattern, tt.arn, got, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	ctx := Context{}
	ctx.Set("aws:username", "alice")
	ctx.Set("aws:PrincipalTag/Team", "a*b?")
	ctx.SetMulti("aws:TagKeys", []string{"x", "y"})
	tests := []struct {
		s       string
		pattern bool
		want    string
		ok      bool
	}{
		{"plain", false, "plain", true},
		{`back\slash`, true, `back\\slash`, true},
		{"home/${aws:username}/*", false, "home/alice/*", true},
		{"home/${AWS:UserName}/*", true, "home/alice/*", true},
		{"${aws:principaltag/team}", false, "a*b?", true},
		{"${aws:principaltag/team}*", true, `a\*b\?*`, true},
		{"${*}${?}${$}", false, "*?$", true},
		{"${*}", true, `\*`, true},
		{"${aws:userid}", false, "", false},
		{"${aws:userid, 'nobody'}", false, "nobody", true},
		{"${aws:username,'nobody'}", false, "alice", true},
		{"${aws:userid, nobody}", false, "", false},
		{"${aws:TagKeys}", false, "", false}, // multi-valued keys are not variables
		{"${aws:TagKeys, 'd'}", false, "", false},
		{"${unterminated", false, "${unterminated", true},
		{"a${aws:username}b${aws:username}c", false, "aalicebalicec", true},
	}
	for _, tt := range tests {
		got, ok := expand(tt.s, ctx, true, tt.pattern)
		if got != tt.want || ok != tt.ok {
			t.Errorf("expand(%q, pattern=%v) = %q, %v, want %q, %v", tt.s, tt.pattern, got, ok, tt.want, tt.ok)
		}
	}
	// Documents older than 2012-10-17 take variables literally.
	if got, ok := expand("${aws:username}", ctx, false, false); got != "${aws:username}" || !ok {
		t.Errorf("expand without vars = %q, %v", got, ok)
	}
}

func TestPrincipalMatching(t *testing.T) {
	alice := userOf(acct, "alice")
	sess := sessionOf(acct, "", "app", "s1")
	pathSess := sessionOf(acct, "team/", "app", "s1")
	noRoleSess := sess
	noRoleSess.RoleARN = ""
	svc := Principal{ARN: "logs.amazonaws.com", Type: PrincipalService}
	fed := Principal{ARN: "arn:aws:iam::111122223333:saml-provider/corp", Type: PrincipalFederated}
	anon := Principal{}

	const (
		none    = "none"
		direct  = "direct"
		account = "account"
	)
	tests := []struct {
		principal string // the Principal element
		caller    Principal
		want      string
	}{
		{`"*"`, alice, direct},
		{`"*"`, anon, direct},
		{`{"AWS":"*"}`, userOf(other, "eve"), direct},
		{`{"AWS":"arn:aws:iam::111122223333:user/alice"}`, alice, direct},
		{`{"AWS":"arn:aws:iam::111122223333:user/bob"}`, alice, none},
		{`{"AWS":"arn:aws:iam::111122223333:user/Alice"}`, alice, none},
		{`{"AWS":"arn:aws:iam::111122223333:root"}`, alice, account},
		{`{"AWS":"111122223333"}`, alice, account},
		{`{"AWS":"111122223333"}`, rootOf(acct), account},
		{`{"AWS":"111122223333"}`, userOf(other, "eve"), none},
		{`{"AWS":"444455556666"}`, userOf(other, "eve"), account},
		{`{"AWS":["111122223333","arn:aws:iam::111122223333:user/alice"]}`, alice, direct},
		{`{"AWS":"arn:aws:iam::111122223333:role/app"}`, sess, direct},
		{`{"AWS":"arn:aws:iam::111122223333:role/team/app"}`, pathSess, direct},
		{`{"AWS":"arn:aws:iam::111122223333:role/app"}`, pathSess, none},
		{`{"AWS":"arn:aws:iam::111122223333:role/app"}`, noRoleSess, none},
		{`{"AWS":"arn:aws:sts::111122223333:assumed-role/app/s1"}`, sess, direct},
		{`{"AWS":"arn:aws:sts::111122223333:assumed-role/app/s2"}`, sess, none},
		{`{"AWS":"arn:aws:iam::111122223333:role/app"}`, alice, none},
		{`{"Service":"logs.amazonaws.com"}`, svc, direct},
		{`{"Service":"logs.amazonaws.com"}`, alice, none},
		{`{"AWS":"111122223333"}`, svc, none},
		{`{"Federated":"arn:aws:iam::111122223333:saml-provider/corp"}`, fed, direct},
		{`{"AWS":"111122223333"}`, anon, none},
	}
	for _, tt := range tests {
		t.Run(tt.principal+"/"+tt.caller.ARN, func(t *testing.T) {
			d := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":`+tt.principal+`,"Action":"kms:Encrypt","Resource":"*"}]}`, KeyPolicy)
			r := d.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Principal: tt.caller})
			got := none
			switch {
			case r.Allow && r.AccountAllow:
				got = "both"
			case r.Allow:
				got = direct
			case r.AccountAllow:
				got = account
			}
			if got != tt.want {
				t.Errorf("match = %s, want %s", got, tt.want)
			}
			// A Deny with the same Principal applies whenever the Allow does.
			dd := mustParse(t, `{"Statement":[{"Effect":"Deny","Principal":`+tt.principal+`,"Action":"kms:Encrypt","Resource":"*"}]}`, KeyPolicy)
			if deny := dd.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Principal: tt.caller}).Deny; deny != (tt.want != none) {
				t.Errorf("deny = %v", deny)
			}
		})
	}
}

func TestNotPrincipal(t *testing.T) {
	alice := userOf(acct, "alice")
	sess := sessionOf(acct, "", "app", "s1")
	tests := []struct {
		notPrincipal string
		caller       Principal
		deny         bool
	}{
		{`"*"`, alice, false},
		{`{"AWS":"*"}`, rootOf(other), false},
		// Naming the user alone still denies it: its account is not listed.
		{`{"AWS":"arn:aws:iam::111122223333:user/alice"}`, alice, true},
		{`{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]}`, alice, false},
		{`{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]}`, userOf(acct, "bob"), true},
		{`{"AWS":"111122223333"}`, rootOf(acct), false},
		{`{"AWS":"111122223333"}`, alice, true},
		{`{"AWS":"111122223333"}`, userOf(other, "eve"), true},
		// A session is excluded only when its session, role and account are.
		{`{"AWS":["arn:aws:iam::111122223333:role/app","111122223333"]}`, sess, true},
		{`{"AWS":["arn:aws:sts::111122223333:assumed-role/app/s1","arn:aws:iam::111122223333:role/app","111122223333"]}`, sess, false},
		{`{"AWS":"111122223333"}`, Principal{}, true},
		{`{"Service":"logs.amazonaws.com"}`, Principal{ARN: "logs.amazonaws.com", Type: PrincipalService}, false},
		{`{"Service":"logs.amazonaws.com"}`, Principal{ARN: "sns.amazonaws.com", Type: PrincipalService}, true},
	}
	for _, tt := range tests {
		t.Run(tt.notPrincipal+"/"+tt.caller.ARN, func(t *testing.T) {
			d := mustParse(t, `{"Statement":[{"Effect":"Deny","NotPrincipal":`+tt.notPrincipal+`,"Action":"kms:*","Resource":"*"}]}`, KeyPolicy)
			if got := d.Evaluate(&Request{Action: "kms:Decrypt", Resource: keyARN, Principal: tt.caller}).Deny; got != tt.deny {
				t.Errorf("Deny = %v, want %v", got, tt.deny)
			}
		})
	}
}

func TestActionsAndResources(t *testing.T) {
	alias := "arn:aws:kms:us-east-1:111122223333:alias/app"
	tests := []struct {
		elements string // Action/NotAction and Resource/NotResource of an identity policy
		action   string
		resource string
		want     bool
	}{
		{`"Action":"kms:Encrypt","Resource":"*"`, "kms:Encrypt", keyARN, true},
		{`"Action":"kms:Encrypt","Resource":"*"`, "kms:Decrypt", keyARN, false},
		{`"Action":"KMS:ENCRYPT","Resource":"*"`, "kms:Encrypt", keyARN, true},
		{`"Action":"kms:encrypt","Resource":"*"`, "KMS:Encrypt", keyARN, true},
		{`"Action":"kms:*","Resource":"*"`, "kms:ScheduleKeyDeletion", keyARN, true},
		{`"Action":"*","Resource":"*"`, "kms:Encrypt", keyARN, true},
		{`"Action":"kms:*","Resource":"*"`, "iam:CreateUser", "*", false},
		{`"Action":"kms:Generate*","Resource":"*"`, "kms:GenerateDataKeyWithoutPlaintext", keyARN, true},
		{`"Action":"kms:Generate*","Resource":"*"`, "kms:Encrypt", keyARN, false},
		{`"Action":"kms:?ncrypt","Resource":"*"`, "kms:Encrypt", keyARN, true},
		{`"Action":"kms:?ncrypt","Resource":"*"`, "kms:Decrypt", keyARN, false},
		{`"Action":["kms:Decrypt","kms:ReEncrypt*"],"Resource":"*"`, "kms:ReEncryptFrom", keyARN, true},
		{`"NotAction":"kms:Decrypt","Resource":"*"`, "kms:Decrypt", keyARN, false},
		{`"NotAction":"kms:Decrypt","Resource":"*"`, "kms:Encrypt", keyARN, true},
		{`"NotAction":["kms:Decrypt","kms:Sched*"],"Resource":"*"`, "kms:scheduleKeyDeletion", keyARN, false},
		{`"Action":"kms:*","Resource":"` + keyARN + `"`, "kms:Encrypt", keyARN, true},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/*"`, "kms:Encrypt", keyARN, true},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/*"`, "kms:CreateAlias", alias, false},
		{`"Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:alias/*"`, "kms:CreateAlias", alias, true},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/1234ABCD-*"`, "kms:Encrypt", keyARN, false},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/????????-12ab-34cd-56ef-1234567890ab"`, "kms:Encrypt", keyARN, true},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/*"`, "kms:CreateKey", "*", false},
		{`"Action":"kms:*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/*"`, "kms:Encrypt", keyARN, false},
		{`"Action":"kms:*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/*"`, "kms:CreateAlias", alias, true},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:alias/${aws:username}"`, "kms:CreateAlias", alias, false},
		{`"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:alias/${aws:username}"`, "kms:CreateAlias", "arn:aws:kms:us-east-1:111122223333:alias/alice", true},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			d := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+tt.elements+`}]}`, IdentityPolicy)
			ctx := Context{}
			ctx.SetPrincipal(userOf(acct, "alice"))
			r := d.Evaluate(&Request{Action: tt.action, Resource: tt.resource, Principal: userOf(acct, "alice"), Context: ctx})
			if r.Allow != tt.want || r.Deny || r.AccountAllow {
				t.Errorf("%s on %s: %+v, want Allow=%v", tt.action, tt.resource, r, tt.want)
			}
		})
	}
}

func TestKeyPolicyStatementWithoutActionOrResource(t *testing.T) {
	for _, doc := range []string{
		`{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}`,
		`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*"}]}`,
	} {
		d := mustParse(t, doc, KeyPolicy)
		if r := d.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Principal: rootOf(acct)}); r != (Result{}) {
			t.Errorf("%s: %+v, want no statement to apply", doc, r)
		}
	}
}

func TestResourceVariableWithoutValue(t *testing.T) {
	// Resource: an entry whose variable has no value matches nothing.
	d := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":["arn:aws:kms:*:*:alias/${aws:username}"]}]}`, IdentityPolicy)
	if r := d.Evaluate(&Request{Action: "kms:CreateAlias", Resource: "arn:aws:kms:us-east-1:111122223333:alias/x", Principal: rootOf(acct)}); r.Allow {
		t.Error("resource with an unresolved variable matched")
	}
	// NotResource: an exception we cannot read voids the statement.
	d = mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","NotResource":["arn:aws:kms:*:*:alias/${aws:username}"]}]}`, IdentityPolicy)
	if r := d.Evaluate(&Request{Action: "kms:CreateAlias", Resource: "arn:aws:kms:us-east-1:111122223333:alias/x", Principal: rootOf(acct)}); r.Allow {
		t.Error("NotResource with an unresolved variable allowed")
	}
	// In 2008-10-17 documents the variable is literal text.
	d = mustParse(t, `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":["arn:aws:kms:*:*:alias/${aws:username}"]}]}`, IdentityPolicy)
	if r := d.Evaluate(&Request{Action: "kms:CreateAlias", Resource: "arn:aws:kms:us-east-1:111122223333:alias/${aws:username}", Principal: rootOf(acct)}); !r.Allow {
		t.Error("2008-10-17 document substituted a variable")
	}
}
