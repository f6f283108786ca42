package policy

import (
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		DefaultKeyPolicy(acct),
		tenantPolicy,
		sharedWithAcct,
		allowAll,
		denyDecr,
		`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/alice"]},"NotAction":"kms:Decrypt","NotResource":"arn:aws:kms:*:*:key/*"}}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"sts:AssumeRole","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"${aws:username}*"},"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"},"DateLessThan":{"aws:CurrentTime":"2030-01-01"},"NumericLessThan":{"x:n":3},"Null":{"x:y":true},"BinaryEquals":{"x:b":"aGk="},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/${aws:PrincipalTag/t, 'd'}"}}}]}`,
		`{"Statement":[]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a:b":[[[[]]]]}}}]}`,
		`{"a":1,"a":2}`,
		`[`,
	}
	for i, s := range seeds {
		f.Add(s, uint8(i), "kms:Encrypt", keyARN, "kms:EncryptionContext:tenant", "acme")
	}
	principals := []Principal{rootOf(acct), userOf(acct, "alice"), sessionOf(acct, "", "app", "s"), userOf(other, "eve"), {}}
	f.Fuzz(func(t *testing.T, doc string, kind uint8, action, resource, key, value string) {
		k := Kind(kind%3 + 1)
		d, err := Parse(doc, k)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Message == "" {
				t.Fatalf("Parse error %v is not a *ParseError with a message", err)
			}
			return
		}
		ctx := Context{}
		ctx.Set(key, value)
		ctx.SetMulti(value, []string{key, value})
		ctx.SetEncryptionContext(map[string]string{key: value, value: key})
		p := principals[int(kind)%len(principals)]
		p.ARN += value
		req := &Request{Action: action, Resource: resource, Principal: p, Context: ctx}
		r1 := d.Evaluate(req)
		if r2 := d.Evaluate(req); r1 != r2 {
			t.Fatalf("Evaluate is not deterministic: %+v, %+v", r1, r2)
		}
		// Parsing is deterministic too.
		d2, err := Parse(doc, k)
		if err != nil || d2.Evaluate(req) != r1 {
			t.Fatalf("second Parse disagrees: %v", err)
		}
		in := &Inputs{ResourceAccount: acct}
		if k == IdentityPolicy {
			in.IdentityPolicies = []*Document{d}
		} else {
			in.ResourcePolicy = d
		}
		dec := Authorize(req, in)
		if r1.Deny && dec.Allowed {
			t.Fatal("allowed despite an applicable Deny")
		}
		if dec.Allowed && !r1.Allow && !r1.AccountAllow && !p.IsRoot() {
			t.Fatal("allowed without an applicable Allow")
		}
		_ = dec.Message(req)
	})
}
