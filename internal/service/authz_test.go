package service

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
)

// fakeIdentities maps principal ARNs to inline policy documents.
type fakeIdentities map[string][]string

func (f fakeIdentities) Policies(_ context.Context, p kms.Principal) ([]*policy.Document, error) {
	owner := p.ARN
	if p.RoleARN != "" {
		owner = p.RoleARN
	}
	var docs []*policy.Document
	for _, text := range f[owner] {
		d, err := policy.Parse(text, policy.IdentityPolicy)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, nil
}

const (
	acctA = "111122223333"
	acctB = "444455556666"
)

func user(account, name string) *Caller {
	return &Caller{Region: "us-east-1", Principal: kms.Principal{
		Account: account, ARN: "arn:aws:iam::" + account + ":user/" + name,
		Type: kms.PrincipalUser, UserID: "AIDA" + strings.ToUpper(name), Name: name,
	}}
}

func rootOf(account string) *Caller {
	return &Caller{Region: "us-east-1", Principal: kms.RootPrincipal(account, "AKIAROOT")}
}

func session(account, role, name string) *Caller {
	return &Caller{Region: "us-east-1", Principal: kms.Principal{
		Account: account, ARN: "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + name,
		Type: kms.PrincipalAssumedRole, UserID: "AROAX:" + name,
		RoleARN: "arn:aws:iam::" + account + ":role/" + role,
	}}
}

func allow(actions, resource string, extra string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":` + actions + `,"Resource":"` + resource + `"` + extra + `}]}`
}

func wantDenied(t *testing.T, err error, substr string) {
	t.Helper()
	var ke *kms.Error
	if !errors.As(err, &ke) || ke.Code != kms.ErrAccessDenied || !strings.Contains(ke.Message, substr) {
		t.Fatalf("got %v, want AccessDeniedException containing %q", err, substr)
	}
}

func TestAuthorization(t *testing.T) {
	s, _ := newTestService(t)
	ids := fakeIdentities{}
	s.ids = ids
	ctx := context.Background()
	root := rootOf(acctA)
	mk := func(c *Caller, pol string) *KeyMetadata {
		t.Helper()
		in := &CreateKeyInput{}
		if pol != "" {
			in.Policy = &pol
			in.BypassPolicyLockoutSafetyCheck = true
		}
		out, err := s.CreateKey(ctx, c, in)
		if err != nil {
			t.Fatal(err)
		}
		return out.KeyMetadata
	}
	encrypt := func(c *Caller, keyID string, ec map[string]string) error {
		_, err := s.Encrypt(ctx, c, &EncryptInput{KeyId: &keyID, Plaintext: []byte("x"), EncryptionContext: ec})
		return err
	}
	alice, bob := user(acctA, "alice"), user(acctA, "bob")
	k := mk(root, "")

	// Root may use its keys; a user with no policy may not.
	if err := encrypt(root, k.Arn, nil); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, encrypt(alice, k.Arn, nil),
		"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: "+k.Arn+" because no identity-based policy allows the kms:Encrypt action")

	// An IAM allow works under the default key policy, which delegates to
	// the account; the change is seen on the very next request.
	ids[alice.Principal.ARN] = []string{allow(`["kms:Encrypt","kms:Decrypt"]`, k.Arn, "")}
	if err := encrypt(alice, k.Arn, nil); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, encrypt(bob, k.Arn, nil), "bob")

	// An IAM allow does not work when the key policy does not delegate to
	// the account; a key policy naming the user works without IAM.
	named := mk(root, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}]}`)
	ids[alice.Principal.ARN] = []string{allow(`"kms:*"`, "*", "")}
	wantDenied(t, encrypt(alice, named.Arn, nil), "because no resource-based policy allows the kms:Encrypt action")
	if err := encrypt(bob, named.Arn, nil); err != nil {
		t.Fatalf("user named by the key policy: %v", err)
	}
	// Root is not named and the policy does not delegate: root is out too.
	wantDenied(t, encrypt(root, named.Arn, nil), "no resource-based policy")

	// Explicit deny wins, in either policy.
	ids[alice.Principal.ARN] = []string{allow(`"kms:*"`, "*", ""),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}]}`}
	wantDenied(t, encrypt(alice, k.Arn, nil), "with an explicit deny in an identity-based policy")
	denyBob := mk(root, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:Encrypt","Resource":"*"}]}`)
	ids[bob.Principal.ARN] = []string{allow(`"kms:*"`, "*", "")}
	wantDenied(t, encrypt(bob, denyBob.Arn, nil), "with an explicit deny in a resource-based policy")

	// An encryption-context condition lets a tenant's role use its own
	// context only.
	app := session(acctA, "app", "tenant-1")
	ids[app.Principal.RoleARN] = []string{allow(`"kms:Encrypt"`, k.Arn,
		`,"Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}`)}
	if err := encrypt(app, k.Arn, map[string]string{"tenant": "acme"}); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, encrypt(app, k.Arn, map[string]string{"tenant": "other"}), "assumed-role/app/tenant-1")
	wantDenied(t, encrypt(app, k.Arn, nil), "kms:Encrypt")

	// A key policy naming a role matches its sessions.
	roleKey := mk(root, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:Encrypt","Resource":"*"}]}`)
	if err := encrypt(app, roleKey.Arn, nil); err != nil {
		t.Fatalf("role session under a key policy naming the role: %v", err)
	}

	// IAM-only operations answer to IAM policies alone.
	if _, err := s.CreateKey(ctx, bob, &CreateKeyInput{}); err != nil {
		t.Fatalf("bob has kms:* on *: %v", err)
	}
	_, err := s.CreateKey(ctx, user(acctA, "carol"), &CreateKeyInput{})
	wantDenied(t, err, "kms:CreateKey on resource: *")
	_, err = s.ListKeys(ctx, user(acctA, "carol"), &ListInput{})
	wantDenied(t, err, "kms:ListKeys")
}

func TestCrossAccount(t *testing.T) {
	s, _ := newTestService(t)
	ids := fakeIdentities{}
	s.ids = ids
	ctx := context.Background()
	pol := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:DisableKey"],"Resource":"*"}]}`
	out, err := s.CreateKey(ctx, rootOf(acctA), &CreateKeyInput{Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	arn := out.KeyMetadata.Arn
	other := user(acctB, "dave")
	encrypt := func(c *Caller) error {
		_, err := s.Encrypt(ctx, c, &EncryptInput{KeyId: &arn, Plaintext: []byte("x")})
		return err
	}
	// The key policy trusts account B, but B's own IAM must allow too.
	wantDenied(t, encrypt(other), "because no identity-based policy allows")
	ids[other.Principal.ARN] = []string{allow(`"kms:*"`, arn, "")}
	if err := encrypt(other); err != nil {
		t.Fatalf("cross-account with both sides: %v", err)
	}
	if err := encrypt(rootOf(acctB)); err != nil {
		t.Fatalf("other account's root: %v", err)
	}
	// A bare key id names a key of the caller's own account only.
	id := out.KeyMetadata.KeyId
	_, err = s.Encrypt(ctx, other, &EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	if ke, ok := err.(*kms.Error); !ok || ke.Code != kms.ErrNotFound {
		t.Fatalf("bare id across accounts: %v", err)
	}
	// Management operations do not cross accounts, whatever the policy says.
	_, err = s.DisableKey(ctx, other, &KeyIDInput{KeyId: &arn})
	wantDenied(t, err, "kms:DisableKey")
	// A third account is not trusted at all.
	wantDenied(t, encrypt(rootOf("777788889999")), "no resource-based policy")
}

func TestKeyPolicyOperations(t *testing.T) {
	s, _ := newTestService(t)
	ctx, root := context.Background(), rootOf(acctA)
	out, err := s.CreateKey(ctx, root, &CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	got, err := s.GetKeyPolicy(ctx, root, &GetKeyPolicyInput{KeyId: &id})
	if err != nil || got.Policy != policy.DefaultKeyPolicy(acctA) || got.PolicyName != "default" {
		t.Fatalf("GetKeyPolicy: %+v %v", got, err)
	}
	names, err := s.ListKeyPolicies(ctx, root, &ListKeyPoliciesInput{KeyId: &id})
	if err != nil || len(names.PolicyNames) != 1 || names.PolicyNames[0] != "default" {
		t.Fatalf("ListKeyPolicies: %+v %v", names, err)
	}
	other := "other"
	if _, err := s.GetKeyPolicy(ctx, root, &GetKeyPolicyInput{KeyId: &id, PolicyName: &other}); err == nil {
		t.Fatal("GetKeyPolicy of a policy name other than default succeeded")
	}

	// A policy that would lock the caller out is refused unless bypassed.
	lockout := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}]}`
	_, err = s.PutKeyPolicy(ctx, root, &PutKeyPolicyInput{KeyId: &id, Policy: &lockout})
	if ke, ok := err.(*kms.Error); !ok || ke.Code != kms.ErrMalformedPolicy || !strings.Contains(ke.Message, "will not allow you to update the key policy in the future") {
		t.Fatalf("lockout: %v", err)
	}
	for _, bad := range []string{`{`, `{"Statement":[]}`, `{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}`} {
		_, err = s.PutKeyPolicy(ctx, root, &PutKeyPolicyInput{KeyId: &id, Policy: &bad, BypassPolicyLockoutSafetyCheck: true})
		if ke, ok := err.(*kms.Error); !ok || ke.Code != kms.ErrMalformedPolicy {
			t.Fatalf("policy %s: %v", bad, err)
		}
	}
	// With the bypass it is stored, and takes effect at once: root is out.
	if _, err := s.PutKeyPolicy(ctx, root, &PutKeyPolicyInput{KeyId: &id, Policy: &lockout, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Encrypt(ctx, root, &EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantDenied(t, err, "no resource-based policy")
	_, err = s.GetKeyPolicy(ctx, root, &GetKeyPolicyInput{KeyId: &id})
	wantDenied(t, err, "kms:GetKeyPolicy")
}
