package policy

import (
	"testing"
)

const (
	roleARN    = "arn:aws:iam::111122223333:role/app"
	otherKey   = "arn:aws:kms:us-east-1:444455556666:key/0000aaaa-12ab-34cd-56ef-1234567890ab"
	allowAll   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	allowOther = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:444455556666:key/*"}]}`
	denyDecr   = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`
	// A key policy that names only an admin user: no delegation to IAM.
	adminOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"}]}`
	// A multi-tenant key policy: the app role may decrypt only for acme.
	tenantPolicy = `{"Version":"2012-10-17","Statement":[
		{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Sid":"App","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
		 "Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}}]}`
	// The key in the other account shares itself with this account.
	sharedWithAcct = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`
	sharedWithAlice = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}]}`
	sharedWithAnyone = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}`
)

func TestAuthorize(t *testing.T) {
	alice := userOf(acct, "alice")
	admin := userOf(acct, "admin")
	app := sessionOf(acct, "", "app", "worker-1")
	acme := withEC(map[string]string{"tenant": "acme"})
	globex := withEC(map[string]string{"tenant": "globex"})

	tests := []struct {
		name      string
		keyPolicy string // "" for an IAM-only operation
		owner     string // the key's account; acct when empty, none when "-"
		identity  []string
		caller    Principal
		action    string
		resource  string // keyARN when empty
		ctx       Context
		grant     bool
		want      Reason // 0: allowed
	}{
		// Same account, default key policy.
		{name: "user without policies is denied", keyPolicy: DefaultKeyPolicy(acct), caller: alice, action: "kms:Encrypt", want: NoIdentityPolicyAllows},
		{name: "IAM allow works under the default key policy", keyPolicy: DefaultKeyPolicy(acct), identity: []string{allowAll}, caller: alice, action: "kms:Encrypt"},
		{name: "IAM allow for other keys only", keyPolicy: DefaultKeyPolicy(acct), identity: []string{allowOther}, caller: alice, action: "kms:Encrypt", want: NoIdentityPolicyAllows},
		{name: "root under the default key policy", keyPolicy: DefaultKeyPolicy(acct), caller: rootOf(acct), action: "kms:ScheduleKeyDeletion"},
		// The key policy does not delegate to the account.
		{name: "IAM allow fails when the key policy does not delegate", keyPolicy: adminOnly, identity: []string{allowAll}, caller: alice, action: "kms:Encrypt", want: NoResourcePolicyAllows},
		{name: "root is denied when the key policy does not delegate", keyPolicy: adminOnly, caller: rootOf(acct), action: "kms:PutKeyPolicy", want: NoResourcePolicyAllows},
		{name: "key policy naming the user works without IAM", keyPolicy: adminOnly, caller: admin, action: "kms:Encrypt"},
		// Explicit deny wins.
		{name: "IAM deny beats a direct key policy allow", keyPolicy: adminOnly, identity: []string{denyDecr}, caller: admin, action: "kms:Decrypt", want: IdentityPolicyDenies},
		{name: "IAM deny beats IAM allow", keyPolicy: DefaultKeyPolicy(acct), identity: []string{allowAll, denyDecr}, caller: alice, action: "kms:Decrypt", want: IdentityPolicyDenies},
		{name: "IAM deny of another action", keyPolicy: DefaultKeyPolicy(acct), identity: []string{allowAll, denyDecr}, caller: alice, action: "kms:Encrypt"},
		{name: "key policy deny beats everything", keyPolicy: `{"Statement":[
			{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
			{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}`, identity: []string{allowAll}, caller: rootOf(acct), action: "kms:Decrypt", grant: true, want: ResourcePolicyDenies},
		{name: "key policy deny of the account covers its users", keyPolicy: `{"Statement":[
			{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"},
			{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}]}`, caller: alice, action: "kms:Decrypt", want: ResourcePolicyDenies},
		// Encryption context conditions.
		{name: "tenant acme may decrypt", keyPolicy: tenantPolicy, caller: app, action: "kms:Decrypt", ctx: acme},
		{name: "tenant globex may not", keyPolicy: tenantPolicy, caller: app, action: "kms:Decrypt", ctx: globex, want: NoIdentityPolicyAllows},
		{name: "no encryption context may not", keyPolicy: tenantPolicy, caller: app, action: "kms:Decrypt", want: NoIdentityPolicyAllows},
		{name: "the role may not manage the key", keyPolicy: tenantPolicy, caller: app, action: "kms:DisableKey", ctx: acme, want: NoIdentityPolicyAllows},
		// Role sessions match their role.
		{name: "session matched by role ARN", keyPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + roleARN + `"},"Action":"kms:Encrypt","Resource":"*"}]}`, caller: app, action: "kms:Encrypt"},
		{name: "session of another role", keyPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/other"},"Action":"kms:Encrypt","Resource":"*"}]}`, caller: app, action: "kms:Encrypt", want: NoResourcePolicyAllows},
		{name: "session with the role's identity policy", keyPolicy: DefaultKeyPolicy(acct), identity: []string{allowAll}, caller: app, action: "kms:Encrypt"},
		// Cross-account use needs both sides.
		{name: "cross-account: key shared with the account, no IAM", keyPolicy: sharedWithAcct, owner: other, caller: alice, action: "kms:Decrypt", resource: otherKey, want: NoIdentityPolicyAllows},
		{name: "cross-account: key shared with the account, IAM allows", keyPolicy: sharedWithAcct, owner: other, identity: []string{allowOther}, caller: alice, action: "kms:Decrypt", resource: otherKey},
		{name: "cross-account: IAM allows other keys only", keyPolicy: sharedWithAcct, owner: other, identity: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/*"}]}`}, caller: alice, action: "kms:Decrypt", resource: otherKey, want: NoIdentityPolicyAllows},
		{name: "cross-account: action not shared", keyPolicy: sharedWithAcct, owner: other, identity: []string{allowOther}, caller: alice, action: "kms:DisableKey", resource: otherKey, want: NoResourcePolicyAllows},
		{name: "cross-account: root of the trusted account", keyPolicy: sharedWithAcct, owner: other, caller: rootOf(acct), action: "kms:Encrypt", resource: otherKey},
		{name: "cross-account: key shared with a user, no IAM", keyPolicy: sharedWithAlice, owner: other, caller: alice, action: "kms:Decrypt", resource: otherKey, want: NoIdentityPolicyAllows},
		{name: "cross-account: key shared with a user, IAM allows", keyPolicy: sharedWithAlice, owner: other, identity: []string{allowAll}, caller: alice, action: "kms:Decrypt", resource: otherKey},
		{name: "cross-account: shared with another user", keyPolicy: sharedWithAlice, owner: other, identity: []string{allowAll}, caller: userOf(acct, "bob"), action: "kms:Decrypt", resource: otherKey, want: NoResourcePolicyAllows},
		{name: "cross-account: shared with anyone, IAM allows", keyPolicy: sharedWithAnyone, owner: other, identity: []string{allowAll}, caller: alice, action: "kms:Decrypt", resource: otherKey},
		{name: "cross-account: shared with anyone, no IAM", keyPolicy: sharedWithAnyone, owner: other, caller: alice, action: "kms:Decrypt", resource: otherKey, want: NoIdentityPolicyAllows},
		{name: "cross-account: not shared", keyPolicy: DefaultKeyPolicy(other), owner: other, identity: []string{allowAll}, caller: rootOf(acct), action: "kms:Decrypt", resource: otherKey, want: NoResourcePolicyAllows},
		{name: "cross-account: IAM deny", keyPolicy: sharedWithAcct, owner: other, identity: []string{allowOther, denyDecr}, caller: alice, action: "kms:Decrypt", resource: otherKey, want: IdentityPolicyDenies},
		{name: "unknown resource account is cross-account", keyPolicy: adminOnly, owner: "-", caller: admin, action: "kms:Encrypt", want: NoIdentityPolicyAllows},
		// IAM-only operations.
		{name: "IAM-only: root", caller: rootOf(acct), action: "kms:CreateKey", resource: "*"},
		{name: "IAM-only: user without policies", caller: alice, action: "kms:CreateKey", resource: "*", want: NoIdentityPolicyAllows},
		{name: "IAM-only: user allowed", identity: []string{allowAll}, caller: alice, action: "kms:ListKeys", resource: "*"},
		{name: "IAM-only: resource-scoped allow does not cover *", identity: []string{allowOther}, caller: alice, action: "kms:CreateKey", resource: "*", want: NoIdentityPolicyAllows},
		{name: "IAM-only: deny", identity: []string{allowAll, `{"Statement":[{"Effect":"Deny","Action":"kms:CreateKey","Resource":"*"}]}`}, caller: alice, action: "kms:CreateKey", resource: "*", want: IdentityPolicyDenies},
		{name: "IAM-only: alias ARN", identity: []string{`{"Statement":[{"Effect":"Allow","Action":"kms:CreateAlias","Resource":"arn:aws:kms:us-east-1:111122223333:alias/app-*"}]}`}, caller: alice, action: "kms:CreateAlias", resource: "arn:aws:kms:us-east-1:111122223333:alias/app-1"},
		{name: "IAM-only: grants do not count", caller: alice, action: "kms:CreateKey", resource: "*", grant: true, want: NoIdentityPolicyAllows},
		// Grants.
		{name: "grant allows without policies", keyPolicy: adminOnly, caller: alice, action: "kms:Decrypt", grant: true},
		{name: "grant allows across accounts", keyPolicy: DefaultKeyPolicy(other), owner: other, caller: alice, action: "kms:Decrypt", resource: otherKey, grant: true},
		{name: "IAM deny beats a grant", keyPolicy: adminOnly, identity: []string{denyDecr}, caller: alice, action: "kms:Decrypt", grant: true, want: IdentityPolicyDenies},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Inputs{ResourceAccount: acct, GrantAllows: tt.grant}
			switch tt.owner {
			case "":
			case "-":
				in.ResourceAccount = ""
			default:
				in.ResourceAccount = tt.owner
			}
			if tt.keyPolicy != "" {
				in.ResourcePolicy = mustParse(t, tt.keyPolicy, KeyPolicy)
			}
			for _, doc := range tt.identity {
				in.IdentityPolicies = append(in.IdentityPolicies, mustParse(t, doc, IdentityPolicy))
			}
			req := &Request{Action: tt.action, Resource: tt.resource, Principal: tt.caller, Context: tt.ctx}
			if req.Resource == "" {
				req.Resource = keyARN
			}
			d := Authorize(req, in)
			if d.Allowed != (tt.want == 0) || d.Reason != tt.want {
				t.Errorf("Authorize = %+v, want reason %d; message %q", d, tt.want, d.Message(req))
			}
		})
	}
}

func TestAssumeRole(t *testing.T) {
	const trust = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"},
		{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x-1"}}}]}`
	doc := mustParse(t, trust, TrustPolicy)
	allowAssume := mustParse(t, `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"`+roleARN+`"}]}`, IdentityPolicy)
	tests := []struct {
		name     string
		caller   Principal
		identity []*Document
		ctx      Context
		allowed  bool
	}{
		{"trusted user", userOf(acct, "alice"), nil, nil, true},
		{"untrusted user", userOf(acct, "bob"), nil, nil, false},
		{"untrusted user with IAM allow", userOf(acct, "bob"), []*Document{allowAssume}, nil, false},
		{"other account with external id and IAM", userOf(other, "eve"), []*Document{allowAssume}, kv("sts:ExternalId", "x-1"), true},
		{"other account without external id", userOf(other, "eve"), []*Document{allowAssume}, nil, false},
		{"other account without IAM", userOf(other, "eve"), nil, kv("sts:ExternalId", "x-1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: tt.caller, Context: tt.ctx}
			d := Authorize(req, &Inputs{ResourcePolicy: doc, ResourceAccount: acct, IdentityPolicies: tt.identity})
			if d.Allowed != tt.allowed {
				t.Errorf("Authorize = %+v, want allowed %v", d, tt.allowed)
			}
		})
	}
}

func TestDecisionMessage(t *testing.T) {
	req := &Request{Action: "kms:Encrypt", Resource: keyARN, Principal: userOf(acct, "alice")}
	head := "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: " + keyARN
	for _, tt := range []struct {
		r    Reason
		want string
	}{
		{NoIdentityPolicyAllows, head + " because no identity-based policy allows the kms:Encrypt action"},
		{NoResourcePolicyAllows, head + " because no resource-based policy allows the kms:Encrypt action"},
		{ResourcePolicyDenies, head + " with an explicit deny in a resource-based policy"},
		{IdentityPolicyDenies, head + " with an explicit deny in an identity-based policy"},
	} {
		if got := (Decision{Reason: tt.r}).Message(req); got != tt.want {
			t.Errorf("Message(%d) =\n%s\nwant\n%s", tt.r, got, tt.want)
		}
	}
}

func TestLockoutSafe(t *testing.T) {
	alice := userOf(acct, "alice")
	create := &Request{Action: "kms:CreateKey", Resource: "*", Principal: alice}
	iam := []*Document{mustParse(t, allowAll, IdentityPolicy)}
	tests := []struct {
		name     string
		policy   string
		caller   Principal
		identity []*Document
		safe     bool
	}{
		{"default policy, root", DefaultKeyPolicy(acct), rootOf(acct), nil, true},
		{"default policy, user with IAM", DefaultKeyPolicy(acct), alice, iam, true},
		{"default policy, user without IAM", DefaultKeyPolicy(acct), alice, nil, false},
		{"policy naming the caller for everything", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}]}`, alice, nil, true},
		{"policy naming the caller for use only", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`, alice, iam, false},
		{"policy naming someone else", adminOnly, rootOf(acct), nil, false},
		{"policy denying PutKeyPolicy", `{"Statement":[
			{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
			{"Effect":"Deny","Principal":"*","Action":"kms:Put*","Resource":"*"}]}`, rootOf(acct), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := *create
			req.Principal = tt.caller
			in := &Inputs{ResourcePolicy: mustParse(t, tt.policy, KeyPolicy), ResourceAccount: acct, IdentityPolicies: tt.identity}
			if got := LockoutSafe(&req, keyARN, in); got != tt.safe {
				t.Errorf("LockoutSafe = %v, want %v", got, tt.safe)
			}
			if req.Action != "kms:CreateKey" || req.Resource != "*" {
				t.Error("LockoutSafe changed the request")
			}
		})
	}
}

func TestPrincipalIsRoot(t *testing.T) {
	for _, tt := range []struct {
		p    Principal
		want bool
	}{
		{rootOf(acct), true},
		{userOf(acct, "root"), false},
		{Principal{ARN: "arn:aws:iam::111122223333:root", Account: other}, false},
		{Principal{ARN: "arn:aws:iam:::root"}, false},
		{Principal{}, false},
	} {
		if got := tt.p.IsRoot(); got != tt.want {
			t.Errorf("%+v.IsRoot() = %v", tt.p, got)
		}
	}
}
