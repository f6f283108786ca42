package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		doc  string
	}{
		{"default key policy", KeyPolicy, DefaultKeyPolicy("111122223333")},
		{"statement object, no version", KeyPolicy, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`},
		{"version 2008", KeyPolicy, `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`},
		{"account id principal", KeyPolicy, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}]}`},
		{"principal list", KeyPolicy, `{"Statement":[{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":[
			"arn:aws:iam::111122223333:user/alice",
			"arn:aws:iam::111122223333:user/path/to/bob",
			"arn:aws:iam::111122223333:role/app",
			"arn:aws:sts::111122223333:assumed-role/app/session-1",
			"arn:aws:sts::111122223333:federated-user/fed",
			"444455556666"]},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`},
		{"service and federated principals", KeyPolicy, `{"Statement":[{"Effect":"Allow","Principal":{"Service":["logs.amazonaws.com"],"Federated":"arn:aws:iam::111122223333:saml-provider/corp"},"Action":"kms:*","Resource":"*"}]}`},
		{"missing action is accepted in key policy", KeyPolicy, `{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}`},
		{"missing resource is accepted in key policy", KeyPolicy, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}`},
		{"not principal with deny", KeyPolicy, `{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}]}`},
		{"not action, not resource", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"kms:ScheduleKeyDeletion","NotResource":"arn:aws:kms:us-east-1:111122223333:key/x"}]}`},
		{"identity with Id and Sid", IdentityPolicy, `{"Version":"2012-10-17","Id":"p1","Statement":[{"Sid":"A1","Effect":"Allow","Action":"kms:Encrypt","Resource":"arn:aws:kms:*:111122223333:key/*"}]}`},
		{"trust policy", TrustPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`},
		{"every operator", IdentityPolicy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{
			"StringEquals":{"kms:CallerAccount":"111122223333"},
			"StringNotEquals":{"kms:CallerAccount":["1","2"]},
			"StringEqualsIgnoreCase":{"aws:username":"A"},
			"StringNotEqualsIgnoreCase":{"aws:username":"B"},
			"StringLike":{"kms:EncryptionContext:tenant":"t-*"},
			"StringNotLike":{"aws:PrincipalArn":"*:root"},
			"NumericEquals":{"kms:RotationPeriodInDays":365},
			"NumericNotEquals":{"kms:RotationPeriodInDays":"90"},
			"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":30},
			"NumericLessThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":30.5},
			"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":-1},
			"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7e0"},
			"DateEquals":{"aws:CurrentTime":"2020-01-01"},
			"DateNotEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
			"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00+02:00"},
			"DateLessThanEquals":{"aws:EpochTime":1700000000},
			"DateGreaterThan":{"aws:CurrentTime":"2019-07-16T12:00:00.123Z"},
			"DateGreaterThanEquals":{"aws:CurrentTime":"20190716T120000Z"},
			"Bool":{"aws:SecureTransport":true},
			"BinaryEquals":{"x:bin":"aGVsbG8="},
			"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.1","2001:db8::/32"]},
			"NotIpAddress":{"aws:SourceIp":"::1"},
			"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app"},
			"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"},
			"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/x"},
			"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"},
			"Null":{"kms:RequestAlias":"true"},
			"StringEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"},
			"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]},
			"ForAllValues:StringLikeIfExists":{"aws:TagKeys":"t-*"},
			"ForAllValues:StringEquals":{"kms:GrantOperations":[]}
		}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.doc, tt.kind)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d.Kind() != tt.kind {
				t.Errorf("Kind = %v, want %v", d.Kind(), tt.kind)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const okStmt = `"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"`
	key := func(stmt string) string { return `{"Version":"2012-10-17","Statement":[{` + stmt + `}]}` }
	cond := func(c string) string { return key(okStmt + `,"Condition":` + c) }
	tests := []struct {
		name string
		kind Kind
		doc  string
		want string // substring of the message
	}{
		{"not json", KeyPolicy, `{"Statement":`, "Syntax errors"},
		{"trailing data", KeyPolicy, key(okStmt) + `{}`, "Syntax errors"},
		{"not an object", KeyPolicy, `[]`, "Syntax errors"},
		{"empty", KeyPolicy, ``, "Syntax errors"},
		{"duplicate key", KeyPolicy, key(okStmt + `,"Effect":"Deny"`), "Syntax errors"},
		{"too deep", KeyPolicy, key(okStmt + `,"Condition":{"StringEquals":{"a:b":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`), "Syntax errors"},
		{"unknown top-level", KeyPolicy, `{"Statement":[{` + okStmt + `}],"Foo":1}`, "unsupported element: Foo"},
		{"unknown statement element", KeyPolicy, key(okStmt + `,"Principals":"*"`), "unsupported element: Principals"},
		{"lower-case element", KeyPolicy, key(`"effect":"Allow","Principal":"*"`), "unsupported element: effect"},
		{"bad version", KeyPolicy, `{"Version":"2012-10-18","Statement":[{` + okStmt + `}]}`, "version"},
		{"numeric version", KeyPolicy, `{"Version":2012,"Statement":[{` + okStmt + `}]}`, "version"},
		{"no statement", KeyPolicy, `{"Version":"2012-10-17"}`, "Missing required field Statement"},
		{"empty statement", KeyPolicy, `{"Statement":[]}`, "Missing required field Statement"},
		{"statement not object", KeyPolicy, `{"Statement":["x"]}`, "Syntax errors"},
		{"bad effect", KeyPolicy, key(`"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"`), "Invalid effect"},
		{"missing effect", KeyPolicy, key(`"Principal":"*","Action":"kms:*","Resource":"*"`), "Missing required field Effect"},
		{"missing principal in key policy", KeyPolicy, key(`"Effect":"Allow","Action":"kms:*","Resource":"*"`), "Missing required field Principal"},
		{"both principal forms", KeyPolicy, key(`"Effect":"Deny","Principal":"*","NotPrincipal":"*","Action":"kms:*","Resource":"*"`), "both Principal and NotPrincipal"},
		{"not principal with allow", KeyPolicy, key(`"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"`), "NotPrincipal must be used"},
		{"principal in identity policy", IdentityPolicy, key(okStmt), "should not specify a principal"},
		{"wildcard principal arn", KeyPolicy, key(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"wildcard account", KeyPolicy, key(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"short account", KeyPolicy, key(`"Effect":"Allow","Principal":{"AWS":"11112222333"},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"principal string not star", KeyPolicy, key(`"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"empty principal object", KeyPolicy, key(`"Effect":"Allow","Principal":{},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"empty principal list", KeyPolicy, key(`"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"unknown principal type", KeyPolicy, key(`"Effect":"Allow","Principal":{"CanonicalUser":"abc"},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"wrong partition", KeyPolicy, key(`"Effect":"Allow","Principal":{"AWS":"arn:aws-cn:iam::111122223333:root"},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"kms arn as principal", KeyPolicy, key(`"Effect":"Allow","Principal":{"AWS":"arn:aws:kms:us-east-1:111122223333:key/x"},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"session without name", KeyPolicy, key(`"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/app"},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"non-string principal", KeyPolicy, key(`"Effect":"Allow","Principal":{"AWS":1},"Action":"kms:*","Resource":"*"`), MsgInvalidPrincipals},
		{"invalid principal in trust policy", TrustPolicy, key(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/?"},"Action":"sts:AssumeRole"`), `Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:user/?"`},
		{"trust without principal", TrustPolicy, key(`"Effect":"Allow","Action":"sts:AssumeRole"`), "Missing required field Principal"},
		{"trust with resource", TrustPolicy, key(`"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"`), "prohibited field Resource"},
		{"trust with not principal", TrustPolicy, key(`"Effect":"Deny","NotPrincipal":"*","Action":"sts:AssumeRole"`), "prohibited field NotPrincipal"},
		{"trust with kms action", TrustPolicy, key(`"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"`), "STS AssumeRole actions"},
		{"identity without action", IdentityPolicy, key(`"Effect":"Allow","Resource":"*"`), "must contain actions"},
		{"identity without resource", IdentityPolicy, key(`"Effect":"Allow","Action":"kms:*"`), "must contain resources"},
		{"identity sid with space", IdentityPolicy, key(`"Sid":"a b","Effect":"Allow","Action":"kms:*","Resource":"*"`), "alpha-numeric"},
		{"identity duplicate sid", IdentityPolicy, `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"kms:*","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, "must be unique"},
		{"action and not action", KeyPolicy, key(`"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:*"`), "both Action and NotAction"},
		{"resource and not resource", KeyPolicy, key(`"Effect":"Allow","Principal":"*","Resource":"*","NotResource":"*"`), "both Resource and NotResource"},
		{"action without vendor", KeyPolicy, key(`"Effect":"Allow","Principal":"*","Action":"Encrypt","Resource":"*"`), "prefaced by a vendor"},
		{"wildcard vendor", KeyPolicy, key(`"Effect":"Allow","Principal":"*","Action":"km*:Encrypt","Resource":"*"`), "vendors must not contain wildcards"},
		{"non-string action", KeyPolicy, key(`"Effect":"Allow","Principal":"*","Action":["kms:Encrypt",1],"Resource":"*"`), "Syntax errors"},
		{"resource not arn", IdentityPolicy, key(`"Effect":"Allow","Action":"kms:*","Resource":"key/abc"`), "must be in ARN format"},
		{"resource short arn", IdentityPolicy, key(`"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*"`), "must be in ARN format"},
		{"unknown operator", KeyPolicy, cond(`{"StringEqualz":{"aws:username":"a"}}`), "Invalid Condition type : StringEqualz"},
		{"operator case", KeyPolicy, cond(`{"stringequals":{"aws:username":"a"}}`), "Invalid Condition type"},
		{"unknown qualifier", KeyPolicy, cond(`{"ForSomeValues:StringEquals":{"aws:username":"a"}}`), "Invalid Condition type"},
		{"null if exists", KeyPolicy, cond(`{"NullIfExists":{"aws:username":"true"}}`), "Invalid Condition type"},
		{"condition not object", KeyPolicy, cond(`["x"]`), "Syntax errors"},
		{"operator block not object", KeyPolicy, cond(`{"StringEquals":"x"}`), "Syntax errors"},
		{"condition value object", KeyPolicy, cond(`{"StringEquals":{"aws:username":{"a":"b"}}}`), "Syntax errors"},
		{"condition value null", KeyPolicy, cond(`{"StringEquals":{"aws:username":null}}`), "Syntax errors"},
		{"condition key without vendor", KeyPolicy, cond(`{"StringEquals":{"username":"a"}}`), "prefaced by a vendor"},
		{"bad number", KeyPolicy, cond(`{"NumericLessThan":{"kms:RotationPeriodInDays":"ten"}}`), "Invalid value"},
		{"nan", KeyPolicy, cond(`{"NumericLessThan":{"kms:RotationPeriodInDays":"NaN"}}`), "Invalid value"},
		{"bad date", KeyPolicy, cond(`{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}`), "Invalid value"},
		{"bad bool", KeyPolicy, cond(`{"Bool":{"aws:SecureTransport":"yes"}}`), "Invalid value"},
		{"bad null", KeyPolicy, cond(`{"Null":{"aws:SecureTransport":"maybe"}}`), "Invalid value"},
		{"bad base64", KeyPolicy, cond(`{"BinaryEquals":{"x:y":"***"}}`), "Invalid value"},
		{"bad ip", KeyPolicy, cond(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), "Invalid value"},
		{"set qualifier on encryption context key", KeyPolicy, cond(`{"ForAnyValue:StringEquals":{"kms:EncryptionContext:tenant":"a"}}`), "OverlyPermissiveCondition:EncryptionContext"},
		{"set qualifier on encryption context key, any case", KeyPolicy, cond(`{"ForAllValues:StringLike":{"KMS:ENCRYPTIONCONTEXT:Tenant":"a"}}`), "OverlyPermissiveCondition:EncryptionContext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.doc, tt.kind)
			if err == nil {
				t.Fatalf("Parse accepted %s (%d statements)", tt.doc, len(d.statements))
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if !strings.Contains(pe.Message, tt.want) {
				t.Errorf("message %q does not contain %q", pe.Message, tt.want)
			}
		})
	}
}

func TestParseUnknownKind(t *testing.T) {
	if _, err := Parse(DefaultKeyPolicy("111122223333"), 0); err == nil {
		t.Fatal("Parse accepted kind 0")
	}
}

func TestParseNormalizesAccountPrincipal(t *testing.T) {
	d, err := Parse(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}]}`, KeyPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.statements[0].principals.aws; len(got) != 1 || got[0] != "arn:aws:iam::111122223333:root" {
		t.Errorf("principals = %q", got)
	}
}

func TestDefaultKeyPolicy(t *testing.T) {
	// Exactly the document of spec §7.1, spacing included.
	const want = "{\n" +
		"  \"Version\" : \"2012-10-17\",\n" +
		"  \"Id\" : \"key-default-1\",\n" +
		"  \"Statement\" : [ {\n" +
		"    \"Sid\" : \"Enable IAM User Permissions\",\n" +
		"    \"Effect\" : \"Allow\",\n" +
		"    \"Principal\" : {\n" +
		"      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n" +
		"    },\n" +
		"    \"Action\" : \"kms:*\",\n" +
		"    \"Resource\" : \"*\"\n" +
		"  } ]\n" +
		"}"
	if got := DefaultKeyPolicy("111122223333"); got != want {
		t.Errorf("DefaultKeyPolicy =\n%s\nwant\n%s", got, want)
	}
	d, err := Parse(DefaultKeyPolicy("111122223333"), KeyPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID() != "key-default-1" || d.Version() != "2012-10-17" {
		t.Errorf("Id, Version = %q, %q", d.ID(), d.Version())
	}
}

func TestUsesContext(t *testing.T) {
	const stmt = `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*"`
	tests := []struct {
		name, doc string
		want      bool
	}{
		{"plain", `{"Version":"2012-10-17","Statement":[` + stmt + `,"Resource":"*"}]}`, false},
		{"condition", `{"Version":"2012-10-17","Statement":[` + stmt + `,"Resource":"*"},` + stmt +
			`,"Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}]}`, true},
		{"variable", `{"Version":"2012-10-17","Statement":[` + stmt + `,"Resource":"arn:aws:kms:*:*:key/${aws:username}"}]}`, true},
		{"variable in an old document is text", `{"Version":"2008-10-17","Statement":[` + stmt + `,"Resource":"arn:aws:kms:*:*:key/${aws:username}"}]}`, false},
	}
	for _, tc := range tests {
		d, err := Parse(tc.doc, KeyPolicy)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := d.UsesContext(); got != tc.want {
			t.Errorf("%s: UsesContext = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCheckNewKeyPolicy: the rules AWS applies to key policies it is given
// since August 18, 2025; Parse itself still accepts what was stored before.
func TestCheckNewKeyPolicy(t *testing.T) {
	const root = `"Effect":"Allow","Principal":{"AWS":"111122223333"}`
	for _, tc := range []struct {
		name, stmt, err string
	}{
		{"action and star", `{` + root + `,"Action":"kms:*","Resource":"*"}`, ""},
		{"not action", `{` + root + `,"NotAction":"kms:Decrypt","Resource":["*"]}`, ""},
		{"no action", `{"Sid":"S1",` + root + `,"Resource":"*"}`, "Statement S1 has no Action or NotAction element."},
		{"no resource", `{` + root + `,"Action":"kms:*"}`, `Statement 1 must have a Resource element of "*"`},
		{"key arn", `{` + root + `,"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/k"}`, `Statement 1 must have a Resource element of "*"`},
		{"star and more", `{` + root + `,"Action":"kms:*","Resource":["*","arn:aws:kms:us-east-1:111122223333:key/k"]}`, `must have a Resource element`},
		{"not resource", `{` + root + `,"Action":"kms:*","NotResource":"*"}`, `must have a Resource element`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(`{"Version":"2012-10-17","Statement":[`+tc.stmt+`]}`, KeyPolicy)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = d.CheckNewKeyPolicy()
			var pe *ParseError
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("CheckNewKeyPolicy: %v", err)
			case tc.err != "" && (!errors.As(err, &pe) || !strings.Contains(pe.Message, tc.err)):
				t.Errorf("CheckNewKeyPolicy: %v, want %q", err, tc.err)
			}
		})
	}
}
