package policy

import (
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	for _, bb := range []struct{ name, doc string }{
		{"default", DefaultKeyPolicy(acct)},
		{"tenant", tenantPolicy},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.doc)))
			for b.Loop() {
				if _, err := Parse(bb.doc, KeyPolicy); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthorize decides an Encrypt the way the service will: the
// context filled from scratch, one key policy, one identity policy.
func BenchmarkAuthorize(b *testing.B) {
	in := &Inputs{
		ResourcePolicy:   mustParse(b, tenantPolicy, KeyPolicy),
		ResourceAccount:  acct,
		IdentityPolicies: []*Document{mustParse(b, allowAll, IdentityPolicy)},
	}
	p := sessionOf(acct, "", "app", "worker-1")
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	ec := map[string]string{"tenant": "acme"}
	for b.Loop() {
		ctx := make(Context, 12)
		ctx.SetPrincipal(p)
		ctx.SetTime(now)
		ctx.SetEncryptionContext(ec)
		req := &Request{Action: "kms:Encrypt", Resource: keyARN, Principal: p, Context: ctx}
		if !Authorize(req, in).Allowed {
			b.Fatal("denied")
		}
	}
}
