package policy

import (
	"testing"
	"time"

	"github.com/openkms/kms"
)

// kv builds a context of single-valued keys.
func kv(pairs ...string) Context {
	c := Context{}
	for i := 0; i+1 < len(pairs); i += 2 {
		c.Set(pairs[i], pairs[i+1])
	}
	return c
}

func withEC(ec map[string]string) Context {
	c := Context{}
	c.SetEncryptionContext(ec)
	return c
}

func multi(key string, values ...string) Context {
	c := Context{}
	c.SetMulti(key, values)
	return c
}

func TestConditions(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	timed := Context{}
	timed.SetTime(now)
	alice := Context{}
	alice.SetPrincipal(userOf(acct, "alice"))
	alice.SetEncryptionContext(map[string]string{"owner": "alice", "Path": "home/alice/x"})
	alice.Set("aws:PrincipalTag/team", "blue")
	role := Context{}
	role.SetPrincipal(sessionOf(acct, "", "app", "s1"))
	tagged := Context{}
	tagged.SetRequestTags([]kms.Tag{{Key: "Env", Value: "prod"}, {Key: "Team", Value: "blue"}})
	tagged.SetResourceTags([]kms.Tag{{Key: "Project", Value: "x"}})

	tests := []struct {
		name string
		cond string
		ctx  Context
		want bool
	}{
		// String operators.
		{"StringEquals match", `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`, kv("kms:CallerAccount", acct), true},
		{"StringEquals mismatch", `{"StringEquals":{"kms:CallerAccount":"444455556666"}}`, kv("kms:CallerAccount", acct), false},
		{"StringEquals is case-sensitive", `{"StringEquals":{"kms:KeySpec":"symmetric_default"}}`, kv("kms:KeySpec", "SYMMETRIC_DEFAULT"), false},
		{"StringEquals absent", `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`, nil, false},
		{"StringEquals values OR-ed", `{"StringEquals":{"kms:KeyUsage":["SIGN_VERIFY","ENCRYPT_DECRYPT"]}}`, kv("kms:KeyUsage", "ENCRYPT_DECRYPT"), true},
		{"keys AND-ed", `{"StringEquals":{"kms:KeyUsage":"ENCRYPT_DECRYPT","kms:KeySpec":"HMAC_256"}}`, kv("kms:KeyUsage", "ENCRYPT_DECRYPT", "kms:KeySpec", "SYMMETRIC_DEFAULT"), false},
		{"operators AND-ed", `{"StringEquals":{"kms:KeyUsage":"ENCRYPT_DECRYPT"},"Bool":{"aws:SecureTransport":"true"}}`, kv("kms:KeyUsage", "ENCRYPT_DECRYPT", "aws:SecureTransport", "false"), false},
		{"operators AND-ed, both hold", `{"StringEquals":{"kms:KeyUsage":"ENCRYPT_DECRYPT"},"Bool":{"aws:SecureTransport":"true"}}`, kv("kms:KeyUsage", "ENCRYPT_DECRYPT", "aws:SecureTransport", "true"), true},
		{"empty value list", `{"StringEquals":{"kms:KeyUsage":[]}}`, kv("kms:KeyUsage", "ENCRYPT_DECRYPT"), false},
		{"key names ignore case", `{"StringEquals":{"KMS:CALLERACCOUNT":"111122223333"}}`, kv("kms:calleraccount", acct), true},
		{"StringNotEquals absent", `{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}`, nil, true},
		{"StringNotEquals equal", `{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}`, kv("kms:CallerAccount", acct), false},
		{"StringNotEquals different", `{"StringNotEquals":{"kms:CallerAccount":"444455556666"}}`, kv("kms:CallerAccount", acct), true},
		{"StringNotEquals none may match", `{"StringNotEquals":{"kms:CallerAccount":["444455556666","111122223333"]}}`, kv("kms:CallerAccount", acct), false},
		{"StringNotEquals empty list", `{"StringNotEquals":{"kms:CallerAccount":[]}}`, kv("kms:CallerAccount", acct), true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, alice, true},
		{"StringEqualsIgnoreCase mismatch", `{"StringEqualsIgnoreCase":{"aws:username":"bob"}}`, alice, false},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, alice, false},
		{"StringNotEqualsIgnoreCase absent", `{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, role, true},
		{"StringLike star", `{"StringLike":{"kms:EncryptionContext:Path":"home/*"}}`, alice, true},
		{"StringLike question", `{"StringLike":{"aws:username":"al?ce"}}`, alice, true},
		{"StringLike question is one character", `{"StringLike":{"aws:username":"al?e"}}`, alice, false},
		{"StringLike is case-sensitive", `{"StringLike":{"aws:username":"A*"}}`, alice, false},
		{"StringNotLike", `{"StringNotLike":{"aws:username":"a*"}}`, alice, false},
		{"StringNotLike absent", `{"StringNotLike":{"aws:username":"a*"}}`, role, true},

		// Encryption context: the key part ignores case, values do not.
		{"encryption context", `{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}`, withEC(map[string]string{"tenant": "acme"}), true},
		{"encryption context key case", `{"StringEquals":{"kms:EncryptionContext:TENANT":"acme"}}`, withEC(map[string]string{"Tenant": "acme"}), true},
		{"encryption context value case", `{"StringEquals":{"kms:EncryptionContext:tenant":"ACME"}}`, withEC(map[string]string{"tenant": "acme"}), false},
		{"encryption context value ignore case", `{"StringEqualsIgnoreCase":{"kms:EncryptionContext:tenant":"ACME"}}`, withEC(map[string]string{"tenant": "acme"}), true},
		{"encryption context other tenant", `{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}`, withEC(map[string]string{"tenant": "globex"}), false},
		{"encryption context missing pair", `{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}`, withEC(map[string]string{"other": "acme"}), false},
		{"encryption context missing pair, IfExists", `{"StringEqualsIfExists":{"kms:EncryptionContext:tenant":"acme"}}`, withEC(map[string]string{"other": "acme"}), true},
		{"encryption context missing pair, Null", `{"Null":{"kms:EncryptionContext:tenant":"true"}}`, withEC(map[string]string{"other": "acme"}), true},
		{"empty encryption context has no keys", `{"Null":{"kms:EncryptionContextKeys":"true"}}`, withEC(nil), true},

		// Policy variables.
		{"variable", `{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}`, alice, true},
		{"variable mismatch", `{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}`, withEC(map[string]string{"owner": "alice"}), false},
		{"variable without value fails a negated operator too", `{"StringNotEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}`, withEC(map[string]string{"owner": "bob"}), false},
		{"variable default", `{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username, 'alice'}"}}`, withEC(map[string]string{"owner": "alice"}), true},
		{"variable in Like", `{"StringLike":{"kms:EncryptionContext:Path":"home/${aws:username}/*"}}`, alice, true},
		{"variable in Like is literal", `{"StringLike":{"aws:username":"${aws:PrincipalTag/team}"}}`, kv("aws:username", "b*", "aws:PrincipalTag/team", "b*"), true},
		{"variable in Like is literal, no wildcard", `{"StringLike":{"aws:username":"${aws:PrincipalTag/team}"}}`, kv("aws:username", "blue", "aws:PrincipalTag/team", "b*"), false},
		{"principal tag variable", `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`, kv("aws:ResourceTag/Team", "blue", "aws:PrincipalTag/Team", "blue"), true},
		{"userid variable", `{"StringLike":{"kms:EncryptionContext:who":"${aws:userid}"}}`, func() Context {
			c := Context{}
			c.SetPrincipal(sessionOf(acct, "", "app", "s1"))
			c.SetEncryptionContext(map[string]string{"who": "AROAapp:s1"})
			return c
		}(), true},
		{"literal star variable", `{"StringEquals":{"aws:username":"${*}"}}`, kv("aws:username", "*"), true},

		// Numeric.
		{"NumericEquals", `{"NumericEquals":{"kms:RotationPeriodInDays":365}}`, kv("kms:RotationPeriodInDays", "365"), true},
		{"NumericEquals decimal", `{"NumericEquals":{"kms:RotationPeriodInDays":"365.0"}}`, kv("kms:RotationPeriodInDays", "365"), true},
		{"NumericEquals mismatch", `{"NumericEquals":{"kms:RotationPeriodInDays":365}}`, kv("kms:RotationPeriodInDays", "90"), false},
		{"NumericNotEquals", `{"NumericNotEquals":{"kms:RotationPeriodInDays":365}}`, kv("kms:RotationPeriodInDays", "90"), true},
		{"NumericNotEquals absent", `{"NumericNotEquals":{"kms:RotationPeriodInDays":365}}`, nil, true},
		{"NumericLessThan", `{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, kv("kms:ScheduleKeyDeletionPendingWindowInDays", "7"), true},
		{"NumericLessThan equal", `{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, kv("kms:ScheduleKeyDeletionPendingWindowInDays", "30"), false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, kv("kms:ScheduleKeyDeletionPendingWindowInDays", "30"), true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":14}}`, kv("kms:ScheduleKeyDeletionPendingWindowInDays", "30"), true},
		{"NumericGreaterThan equal", `{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, kv("kms:ScheduleKeyDeletionPendingWindowInDays", "30"), false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, kv("kms:ScheduleKeyDeletionPendingWindowInDays", "30"), true},
		{"NumericGreaterThanEquals below", `{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, kv("kms:ScheduleKeyDeletionPendingWindowInDays", "29"), false},
		{"Numeric request not a number", `{"NumericLessThan":{"kms:RotationPeriodInDays":30}}`, kv("kms:RotationPeriodInDays", "soon"), false},
		{"Numeric absent", `{"NumericLessThan":{"kms:RotationPeriodInDays":30}}`, nil, false},
		{"NumericLessThanIfExists absent", `{"NumericLessThanIfExists":{"kms:RotationPeriodInDays":30}}`, nil, true},
		{"NumericLessThanIfExists present", `{"NumericLessThanIfExists":{"kms:RotationPeriodInDays":30}}`, kv("kms:RotationPeriodInDays", "365"), false},

		// Dates, against the request's time.
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}`, timed, true},
		{"DateLessThan past", `{"DateLessThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}`, timed, false},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}}`, timed, true},
		{"DateGreaterThan date only", `{"DateGreaterThan":{"aws:CurrentTime":"2024-06-01"}}`, timed, true},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2025-01-01"}}`, timed, false},
		{"DateGreaterThanEquals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}}`, timed, true},
		{"DateEquals with offset", `{"DateEquals":{"aws:CurrentTime":"2024-06-01T14:00:00+02:00"}}`, timed, true},
		{"DateEquals epoch", `{"DateEquals":{"aws:CurrentTime":1717243200}}`, timed, true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2024-06-01T12:00:01Z"}}`, timed, true},
		{"DateNotEquals absent", `{"DateNotEquals":{"aws:CurrentTime":"2024-06-01T12:00:01Z"}}`, nil, true},
		{"Date on epoch key", `{"DateLessThan":{"aws:EpochTime":"2024-06-01T12:00:01Z"}}`, timed, true},
		{"Numeric on epoch key", `{"NumericGreaterThan":{"aws:EpochTime":1717243199}}`, timed, true},
		{"Date request not a date", `{"DateLessThan":{"aws:CurrentTime":"2025-01-01"}}`, kv("aws:CurrentTime", "now"), false},

		// Bool and Binary.
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, kv("aws:SecureTransport", "true"), true},
		{"Bool JSON literal", `{"Bool":{"aws:SecureTransport":true}}`, kv("aws:SecureTransport", "true"), true},
		{"Bool mismatch", `{"Bool":{"aws:SecureTransport":"false"}}`, kv("aws:SecureTransport", "true"), false},
		{"Bool ignores case", `{"Bool":{"aws:SecureTransport":"TRUE"}}`, kv("aws:SecureTransport", "True"), true},
		{"Bool absent", `{"Bool":{"aws:SecureTransport":"false"}}`, nil, false},
		{"BoolIfExists absent", `{"BoolIfExists":{"kms:BypassPolicyLockoutSafetyCheck":"false"}}`, nil, true},
		{"BoolIfExists present", `{"BoolIfExists":{"kms:BypassPolicyLockoutSafetyCheck":"false"}}`, kv("kms:BypassPolicyLockoutSafetyCheck", "true"), false},
		{"BinaryEquals", `{"BinaryEquals":{"x:blob":"aGVsbG8="}}`, kv("x:blob", "aGVsbG8="), true},
		{"BinaryEquals mismatch", `{"BinaryEquals":{"x:blob":"aGVsbG8="}}`, kv("x:blob", "d29ybGQ="), false},

		// IP addresses.
		{"IpAddress CIDR", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, kv("aws:SourceIp", "10.1.2.3"), true},
		{"IpAddress outside", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, kv("aws:SourceIp", "192.0.2.1"), false},
		{"IpAddress unmasked CIDR", `{"IpAddress":{"aws:SourceIp":"10.9.9.9/8"}}`, kv("aws:SourceIp", "10.1.2.3"), true},
		{"IpAddress bare", `{"IpAddress":{"aws:SourceIp":"192.0.2.1"}}`, kv("aws:SourceIp", "192.0.2.1"), true},
		{"IpAddress bare other", `{"IpAddress":{"aws:SourceIp":"192.0.2.1"}}`, kv("aws:SourceIp", "192.0.2.2"), false},
		{"IpAddress v6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, kv("aws:SourceIp", "2001:db8:1::5"), true},
		{"IpAddress v6 outside", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, kv("aws:SourceIp", "2001:db9::5"), false},
		{"IpAddress v4-mapped request", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, kv("aws:SourceIp", "::ffff:10.1.2.3"), true},
		{"IpAddress v4 policy, v6 request", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, kv("aws:SourceIp", "2001:db8::1"), false},
		{"IpAddress list", `{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","10.0.0.0/8"]}}`, kv("aws:SourceIp", "10.1.2.3"), true},
		{"IpAddress garbage request", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, kv("aws:SourceIp", "localhost"), false},
		{"IpAddress absent", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, nil, false},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, kv("aws:SourceIp", "10.1.2.3"), false},
		{"NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, kv("aws:SourceIp", "192.0.2.1"), true},
		{"NotIpAddress absent", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, nil, true},

		// ARNs.
		{"ArnEquals", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app"}}`, role, true},
		{"ArnEquals takes wildcards", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}`, role, true},
		{"ArnLike", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/a?p"}}`, role, true},
		{"ArnLike mismatch", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, role, false},
		{"ArnLike is case-sensitive", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/APP"}}`, role, false},
		{"ArnLike variable", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/${aws:username}"}}`, alice, true},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app"}}`, role, false},
		{"ArnNotLike", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, role, true},
		{"ArnNotLike absent", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, nil, true},
		{"ArnLike request not an ARN", `{"ArnLike":{"aws:PrincipalArn":"arn:*:*:*:*:*"}}`, kv("aws:PrincipalArn", "root"), false},

		// Null.
		{"Null true, absent", `{"Null":{"kms:RequestAlias":"true"}}`, nil, true},
		{"Null true, present", `{"Null":{"kms:RequestAlias":"true"}}`, kv("kms:RequestAlias", "alias/a"), false},
		{"Null false, present", `{"Null":{"kms:RequestAlias":false}}`, kv("kms:RequestAlias", "alias/a"), true},
		{"Null false, absent", `{"Null":{"kms:RequestAlias":"false"}}`, nil, false},

		// IfExists.
		{"StringEqualsIfExists absent", `{"StringEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}`, nil, true},
		{"StringEqualsIfExists match", `{"StringEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}`, kv("kms:KeySpec", "SYMMETRIC_DEFAULT"), true},
		{"StringEqualsIfExists mismatch", `{"StringEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}`, kv("kms:KeySpec", "HMAC_256"), false},
		{"StringNotEqualsIfExists present", `{"StringNotEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}`, kv("kms:KeySpec", "SYMMETRIC_DEFAULT"), false},
		{"IpAddressIfExists absent", `{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, nil, true},
		{"DateLessThanIfExists absent", `{"DateLessThanIfExists":{"aws:CurrentTime":"2020-01-01"}}`, nil, true},
		{"ArnLikeIfExists absent", `{"ArnLikeIfExists":{"aws:PrincipalArn":"arn:*:*:*:*:*"}}`, nil, true},

		// Set qualifiers.
		{"ForAnyValue some", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"tenant"}}`, withEC(map[string]string{"tenant": "a", "app": "b"}), true},
		{"ForAnyValue none", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"user"}}`, withEC(map[string]string{"tenant": "a", "app": "b"}), false},
		{"ForAnyValue empty", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"tenant"}}`, withEC(nil), false},
		{"ForAnyValue empty IfExists", `{"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContextKeys":"tenant"}}`, withEC(nil), true},
		{"ForAnyValue negated", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":"tenant"}}`, withEC(map[string]string{"tenant": "a", "app": "b"}), true},
		{"ForAnyValue negated, all listed", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":"tenant"}}`, withEC(map[string]string{"tenant": "a"}), false},
		{"ForAnyValue like", `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}`, multi("kms:ResourceAliases", "alias/x", "alias/app-1"), true},
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["tenant","app","env"]}}`, withEC(map[string]string{"tenant": "a", "app": "b"}), true},
		{"ForAllValues extra key", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["tenant"]}}`, withEC(map[string]string{"tenant": "a", "app": "b"}), false},
		{"ForAllValues empty", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["tenant"]}}`, withEC(nil), true},
		{"ForAllValues negated", `{"ForAllValues:StringNotEquals":{"kms:GrantOperations":["CreateGrant","RetireGrant"]}}`, multi("kms:GrantOperations", "Decrypt", "Encrypt"), true},
		{"ForAllValues negated, one listed", `{"ForAllValues:StringNotEquals":{"kms:GrantOperations":["CreateGrant","RetireGrant"]}}`, multi("kms:GrantOperations", "Decrypt", "CreateGrant"), false},
		{"ForAllValues on a single value", `{"ForAllValues:StringEquals":{"kms:KeySpec":["SYMMETRIC_DEFAULT"]}}`, kv("kms:KeySpec", "SYMMETRIC_DEFAULT"), true},
		{"ForAnyValue numeric", `{"ForAnyValue:NumericGreaterThan":{"x:n":10}}`, multi("x:n", "1", "20"), true},

		// Tags.
		{"request tag", `{"StringEquals":{"aws:RequestTag/env":"prod"}}`, tagged, true},
		{"tag keys", `{"ForAllValues:StringEquals":{"aws:TagKeys":["Env","Team"]}}`, tagged, true},
		{"tag keys, values case-sensitive", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, tagged, false},
		{"resource tag", `{"StringEquals":{"aws:ResourceTag/PROJECT":"x"}}`, tagged, true},
		{"resource tag absent", `{"StringEquals":{"aws:ResourceTag/Owner":"x"}}`, tagged, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":`+tt.cond+`}]}`, IdentityPolicy)
			r := d.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Context: tt.ctx})
			if r.Allow != tt.want {
				t.Errorf("Allow = %v, want %v", r.Allow, tt.want)
			}
			// With one value per key, a Deny statement applies exactly when
			// the Allow does.
			dd := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":`+tt.cond+`}]}`, IdentityPolicy)
			if deny := dd.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Context: tt.ctx}).Deny; deny != tt.want {
				t.Errorf("Deny = %v, want %v", deny, tt.want)
			}
		})
	}
}

// TestAmbiguousValues: a single-valued operator on a key with several
// values is resolved towards denial, in Allow and Deny statements alike.
func TestAmbiguousValues(t *testing.T) {
	// Two pairs whose keys differ only in case share one condition key.
	ctx := withEC(map[string]string{"tenant": "acme", "Tenant": "globex"})
	if got := ctx.Get("kms:EncryptionContext:TENANT"); len(got) != 2 {
		t.Fatalf("values = %q, want both", got)
	}
	tests := []struct {
		effect, cond string
		applies      bool
	}{
		{"Allow", `{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}`, false},
		{"Allow", `{"StringEquals":{"kms:EncryptionContext:tenant":["acme","globex"]}}`, true},
		{"Allow", `{"StringNotEquals":{"kms:EncryptionContext:tenant":"acme"}}`, false},
		{"Allow", `{"StringNotEquals":{"kms:EncryptionContext:tenant":"initech"}}`, true},
		{"Deny", `{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}`, true},
		{"Deny", `{"StringNotEquals":{"kms:EncryptionContext:tenant":"acme"}}`, true},
		{"Deny", `{"StringNotEquals":{"kms:EncryptionContext:tenant":["acme","globex"]}}`, false},
		{"Deny", `{"StringEquals":{"kms:EncryptionContext:tenant":"initech"}}`, false},
	}
	for _, tt := range tests {
		d := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"`+tt.effect+`","Action":"kms:*","Resource":"*","Condition":`+tt.cond+`}]}`, IdentityPolicy)
		r := d.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Context: ctx})
		if got := r.Allow || r.Deny; got != tt.applies {
			t.Errorf("%s %s: applies = %v, want %v", tt.effect, tt.cond, got, tt.applies)
		}
	}
}

func TestVariablesNeed2012Version(t *testing.T) {
	ctx := kv("aws:username", "alice", "kms:EncryptionContext:owner", "alice")
	for _, tt := range []struct {
		version string
		want    bool
	}{{`"Version":"2012-10-17",`, true}, {`"Version":"2008-10-17",`, false}, {``, false}} {
		d := mustParse(t, `{`+tt.version+`"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}}]}`, IdentityPolicy)
		if got := d.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Context: ctx}).Allow; got != tt.want {
			t.Errorf("%q: Allow = %v, want %v", tt.version, got, tt.want)
		}
	}
}

func TestContextHelpers(t *testing.T) {
	c := Context{}
	c.SetPrincipal(sessionOf(acct, "team/", "app", "s1"))
	for key, want := range map[string]string{
		"aws:principalarn":     "arn:aws:iam::111122223333:role/team/app",
		"AWS:PrincipalAccount": acct,
		"aws:PrincipalType":    "AssumedRole",
		"aws:userid":           "AROAapp:s1",
		"kms:CallerAccount":    acct,
	} {
		if got := c.Get(key); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := c.Get(KeyUsername); got != nil {
		t.Errorf("aws:username = %q for a role session", got)
	}
	c = Context{}
	c.SetPrincipal(userOf(acct, "alice"))
	if got := c.Get(KeyUsername); len(got) != 1 || got[0] != "alice" {
		t.Errorf("aws:username = %q", got)
	}
	c.SetTime(time.Date(2024, 6, 1, 14, 0, 0, 0, time.FixedZone("x", 7200)))
	if got := c.Get(KeyCurrentTime); got[0] != "2024-06-01T12:00:00Z" {
		t.Errorf("aws:CurrentTime = %q", got)
	}
	if got := c.Get(KeyEpochTime); got[0] != "1717243200" {
		t.Errorf("aws:EpochTime = %q", got)
	}
	c.SetEncryptionContext(map[string]string{"B": "2", "a": "1"})
	c.SetEncryptionContext(map[string]string{"b": "3"}) // replaces, never merges
	if got := c.Get(EncryptionContextKey("B")); len(got) != 1 || got[0] != "3" {
		t.Errorf("encryption context b = %q", got)
	}
	if got := c.Get(KeyEncryptionContextKeys); len(got) != 1 || got[0] != "b" {
		t.Errorf("encryption context keys = %q", got)
	}
	if EncryptionContextKey("Tenant") != "kms:encryptioncontext:tenant" {
		t.Errorf("EncryptionContextKey = %q", EncryptionContextKey("Tenant"))
	}
	c.SetMulti(KeyTagKeys, nil)
	if _, ok := c["aws:tagkeys"]; ok {
		t.Error("SetMulti with no values left the key present")
	}
	c.SetBool(KeySecureTransport, true)
	c.SetInt(KeyRotationPeriodInDays, 365)
	if c.Get("aws:securetransport")[0] != "true" || c.Get("kms:rotationperiodindays")[0] != "365" {
		t.Error("SetBool/SetInt")
	}
}
