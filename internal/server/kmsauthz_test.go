package server_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openkms/kms/internal/server"
)

// Two-layer authorization of KMS calls, end to end: identities made with
// the iam and sts clients, keys used with the kms client.

func kmsAs(url string, creds aws.Credentials) *awskms.Client {
	return awskms.New(awskms.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.StaticCredentialsProvider{Value: creds},
		RetryMaxAttempts: 1,
	})
}

func putUserPolicy(t *testing.T, c *iam.Client, user, name, doc string) {
	t.Helper()
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
}

func TestKMSAuthorizationWithIAM(t *testing.T) {
	ts := startServer(t, server.Config{})
	root := newIAMClient(ts.URL, rootCreds)
	rootKMS := ts.client(testRegion)
	key := must[*awskms.CreateKeyOutput](t)(rootKMS.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	aliceCreds := createUserWithKey(t, root, "alice")
	alice := kmsAs(ts.URL, aliceCreds)
	encrypt := func(c *awskms.Client, keyID string, ec map[string]string) error {
		_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x"), EncryptionContext: ec})
		return err
	}

	// A user with no policy is denied.
	wantMessage(t, encrypt(alice, *key.Arn, nil), "AccessDeniedException",
		"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: "+*key.Arn+
			" because no identity-based policy allows the kms:Encrypt action")
	_, err := alice.ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(t, err, "AccessDeniedException")

	// An IAM allow works under the default key policy, at once.
	putUserPolicy(t, root, "alice", "use", allowDoc("kms:*", "*"))
	if err := encrypt(alice, *key.Arn, nil); err != nil {
		t.Fatalf("IAM allow under the default key policy: %v", err)
	}

	// It does not work when the key policy does not delegate to the
	// account; a key policy naming the user works without any IAM policy.
	bobCreds := createUserWithKey(t, root, "bob")
	bob := kmsAs(ts.URL, bobCreds)
	namesBob := `{"Version":"2012-10-17","Statement":[
		{"Sid":"Only Bob","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}]}`
	bobKey := must[*awskms.CreateKeyOutput](t)(rootKMS.CreateKey(ctx, &awskms.CreateKeyInput{
		Policy: aws.String(namesBob), BypassPolicyLockoutSafetyCheck: true})).KeyMetadata
	wantMessage(t, encrypt(alice, *bobKey.Arn, nil), "AccessDeniedException", "because no resource-based policy allows the kms:Encrypt action")
	if err := encrypt(bob, *bobKey.Arn, nil); err != nil {
		t.Fatalf("user named by the key policy: %v", err)
	}
	// The policy reads back exactly as stored.
	if p := must[*awskms.GetKeyPolicyOutput](t)(bob.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: bobKey.KeyId})); *p.Policy != namesBob {
		t.Fatalf("GetKeyPolicy returned %q", *p.Policy)
	}

	// Explicit deny wins over the allow.
	putUserPolicy(t, root, "alice", "no-encrypt", denyDoc("kms:Encrypt", *key.Arn))
	wantMessage(t, encrypt(alice, *key.Arn, nil), "AccessDeniedException", "with an explicit deny in an identity-based policy")
	if _, err := root.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("no-encrypt")}); err != nil {
		t.Fatal(err)
	}
	if err := encrypt(alice, *key.Arn, nil); err != nil {
		t.Fatalf("after the deny is deleted: %v", err)
	}

	// PutKeyPolicy refuses a policy that would lock the caller out.
	_, err = rootKMS.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(namesBob)})
	wantMessage(t, err, "MalformedPolicyDocumentException", "will not allow you to update the key policy in the future")
	_, err = rootKMS.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(`{"Statement":`)})
	wantCode(t, err, "MalformedPolicyDocumentException")
	// Since August 18, 2025 AWS refuses key policy statements without an
	// Action or NotAction, or with a Resource other than "*" (AWS Health
	// notice, quoted in ministryofjustice/analytical-platform#7691).
	root111 := `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`
	for _, bad := range []string{
		`{"Sid":"NoAction","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Resource":"*"}`,
		`{"Sid":"KeyArn","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"` + *key.Arn + `"}`,
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*"}`,
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","NotResource":"*"}`,
	} {
		doc := `{"Version":"2012-10-17","Statement":[` + root111 + `,` + bad + `]}`
		_, err = rootKMS.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(doc)})
		wantMessage(t, err, "MalformedPolicyDocumentException", "Statement ")
		_, err = rootKMS.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(doc)})
		wantMessage(t, err, "MalformedPolicyDocumentException", "Statement ")
	}

	// An inactive or deleted access key is rejected at once.
	if _, err := root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(aliceCreds.AccessKeyID), Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, encrypt(alice, *key.Arn, nil), "UnrecognizedClientException")
	if _, err := root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(aliceCreds.AccessKeyID), Status: iamtypes.StatusTypeActive}); err != nil {
		t.Fatal(err)
	}
	if err := encrypt(alice, *key.Arn, nil); err != nil {
		t.Fatalf("reactivated key: %v", err)
	}
	if _, err := root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(aliceCreds.AccessKeyID)}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, encrypt(alice, *key.Arn, nil), "UnrecognizedClientException")
}

// TestMultiTenantRole is the SaaS setup of the README: a key per customer,
// the application's role may use them with the customer's encryption
// context, only a trusted user may assume the role, and disabling one
// customer's key cuts off that customer alone.
func TestMultiTenantRole(t *testing.T) {
	ts := startServer(t, server.Config{})
	root := newIAMClient(ts.URL, rootCreds)
	rootKMS := ts.client(testRegion)
	keys := map[string]string{}
	for _, customer := range []string{"acme", "globex"} {
		k := must[*awskms.CreateKeyOutput](t)(rootKMS.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(customer)})).KeyMetadata
		must[*awskms.CreateAliasOutput](t)(rootKMS.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/customer-" + customer), TargetKeyId: k.KeyId}))
		keys[customer] = *k.Arn
	}
	deployer := createUserWithKey(t, root, "deployer")
	intruder := createUserWithKey(t, root, "intruder")
	putUserPolicy(t, root, "deployer", "assume", allowDoc("sts:AssumeRole", "arn:aws:iam::111122223333:role/app"))
	putUserPolicy(t, root, "intruder", "assume", allowDoc("sts:AssumeRole", "*"))
	if _, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
		AssumeRolePolicyDocument: aws.String(trustDoc("arn:aws:iam::111122223333:user/deployer"))}); err != nil {
		t.Fatal(err)
	}
	// The role may use customer keys, but only with a customer context
	// naming the alias it came through.
	rolePolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"],
		"Resource":"arn:aws:kms:*:111122223333:key/*",
		"Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/customer-*"},
		             "StringLike":{"kms:EncryptionContext:customer":"*"}}}]}`
	if _, err := root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("customers"), PolicyDocument: aws.String(rolePolicy)}); err != nil {
		t.Fatal(err)
	}

	// An untrusted user cannot assume the role; the trusted one can.
	_, err := newSTSClient(ts.URL, testRegion, intruder).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/app"), RoleSessionName: aws.String("sneaky")})
	wantCode(t, err, "AccessDenied")
	out, err := newSTSClient(ts.URL, testRegion, deployer).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/app"), RoleSessionName: aws.String("web-1")})
	if err != nil {
		t.Fatal(err)
	}
	app := kmsAs(ts.URL, sessionCreds(out))

	blobs := map[string][]byte{}
	for customer := range keys {
		ec := map[string]string{"customer": customer}
		dk, err := app.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/customer-" + customer), KeySpec: "AES_256", EncryptionContext: ec})
		if err != nil {
			t.Fatalf("%s: %v", customer, err)
		}
		blobs[customer] = dk.CiphertextBlob
		if _, err := app.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec}); err != nil {
			t.Fatalf("%s decrypt: %v", customer, err)
		}
	}
	// No customer context, no key.
	_, err = app.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keys["acme"]), Plaintext: []byte("x")})
	wantMessage(t, err, "AccessDeniedException", "assumed-role/app/web-1")
	// A key outside the customer aliases is out of reach.
	other := must[*awskms.CreateKeyOutput](t)(rootKMS.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	_, err = app.Encrypt(ctx, &awskms.EncryptInput{KeyId: other.Arn, Plaintext: []byte("x"), EncryptionContext: map[string]string{"customer": "acme"}})
	wantCode(t, err, "AccessDeniedException")

	// Disabling one customer's key cuts off that customer at once.
	must[*awskms.DisableKeyOutput](t)(rootKMS.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(keys["acme"])}))
	_, err = app.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobs["acme"], EncryptionContext: map[string]string{"customer": "acme"}})
	wantCode(t, err, "DisabledException")
	if _, err := app.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobs["globex"], EncryptionContext: map[string]string{"customer": "globex"}}); err != nil {
		t.Fatalf("the other customer is unaffected: %v", err)
	}
}

// TestCrossAccountKeys: one server, two accounts. A key policy that trusts
// the other account plus that account's own IAM allow let its user in.
func TestCrossAccountKeys(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir})
	ownerKMS := ts.client(testRegion)
	pol := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`
	key := must[*awskms.CreateKeyOutput](t)(ownerKMS.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})).KeyMetadata
	unshared := must[*awskms.CreateKeyOutput](t)(ownerKMS.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata

	other, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := aws.Credentials{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey}
	otherIAM := newIAMClient(ts.URL, otherRoot)
	carol := kmsAs(ts.URL, createUserWithKey(t, otherIAM, "carol"))
	encrypt := func(c *awskms.Client, keyID string) error {
		_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")})
		return err
	}
	// The key policy trusts account 4444..., but carol's own account must
	// also allow her.
	wantMessage(t, encrypt(carol, *key.Arn), "AccessDeniedException", "because no identity-based policy allows")
	putUserPolicy(t, otherIAM, "carol", "shared", allowDoc("kms:*", *key.Arn))
	if err := encrypt(carol, *key.Arn); err != nil {
		t.Fatalf("cross-account with both sides allowing: %v", err)
	}
	if err := encrypt(kmsAs(ts.URL, otherRoot), *key.Arn); err != nil {
		t.Fatalf("the other account's root: %v", err)
	}
	d := must[*awskms.DescribeKeyOutput](t)(carol.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key.Arn}))
	if *d.KeyMetadata.AWSAccountId != testAccount {
		t.Fatalf("described %+v", d.KeyMetadata)
	}
	// A key whose policy does not trust the other account stays closed,
	// and management operations never cross accounts.
	putUserPolicy(t, otherIAM, "carol", "shared", allowDoc("kms:*", "*"))
	wantMessage(t, encrypt(carol, *unshared.Arn), "AccessDeniedException", "no resource-based policy")
	_, err = carol.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: key.Arn})
	wantCode(t, err, "AccessDeniedException")
	// The other account's own keys are its own.
	theirs := must[*awskms.CreateKeyOutput](t)(carol.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	if *theirs.AWSAccountId != "444455556666" {
		t.Fatalf("carol's key belongs to %s", *theirs.AWSAccountId)
	}
	_, err = ownerKMS.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: theirs.Arn})
	wantCode(t, err, "AccessDeniedException")
}
