package server_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/server"
)

func TestGrants(t *testing.T) {
	ts := startServer(t, server.Config{})
	root := newIAMClient(ts.URL, rootCreds)
	owner := ts.client(testRegion)
	key := must[*awskms.CreateKeyOutput](t)(owner.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	ec := map[string]string{"tenant": "acme"}
	enc := must[*awskms.EncryptOutput](t)(owner.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("secret"), EncryptionContext: ec}))
	other := must[*awskms.EncryptOutput](t)(owner.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"tenant": "globex"}}))
	const worker = "arn:aws:iam::111122223333:user/worker"
	w := kmsAs(ts.URL, createUserWithKey(t, root, "worker")) // no IAM policy at all
	decrypt := func(c *awskms.Client, blob []byte, ec map[string]string, tokens ...string) error {
		_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, GrantTokens: tokens})
		return err
	}
	wantCode(t, decrypt(w, enc.CiphertextBlob, ec), "AccessDeniedException")

	// A grant lets the worker decrypt, at once, within its constraint.
	g := must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{
		KeyId: key.KeyId, GranteePrincipal: aws.String(worker), RetiringPrincipal: aws.String("arn:aws:iam::111122223333:root"),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationCreateGrant, types.GrantOperationDescribeKey},
		Constraints: &types.GrantConstraints{EncryptionContextEquals: ec},
		Name:        aws.String("worker-decrypt"),
	}))
	if len(*g.GrantId) != 64 || *g.GrantToken == "" {
		t.Fatalf("CreateGrant output %+v", g)
	}
	if err := decrypt(w, enc.CiphertextBlob, ec, *g.GrantToken); err != nil {
		t.Fatalf("decrypt through the grant with its token: %v", err)
	}
	if err := decrypt(w, enc.CiphertextBlob, ec); err != nil {
		t.Fatalf("decrypt through the grant: %v", err)
	}
	wantCode(t, decrypt(w, other.CiphertextBlob, map[string]string{"tenant": "globex"}), "AccessDeniedException")
	_, err := w.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.Arn, Plaintext: []byte("x"), EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException") // Encrypt is not in the grant
	if _, err := w.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key.Arn}); err != nil {
		t.Fatalf("DescribeKey through the grant (constraints do not apply): %v", err)
	}
	wantCode(t, decrypt(w, enc.CiphertextBlob, ec, "not-a-token"), "InvalidGrantTokenException")

	// Same name and properties: the same grant again, with a new token.
	again := must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{
		KeyId: key.KeyId, GranteePrincipal: aws.String(worker), RetiringPrincipal: aws.String("arn:aws:iam::111122223333:root"),
		Operations:  []types.GrantOperation{types.GrantOperationDescribeKey, types.GrantOperationDecrypt, types.GrantOperationCreateGrant},
		Constraints: &types.GrantConstraints{EncryptionContextEquals: ec},
		Name:        aws.String("worker-decrypt"),
	}))
	if *again.GrantId != *g.GrantId || *again.GrantToken == *g.GrantToken {
		t.Fatalf("idempotent CreateGrant gave %s (token reused: %v)", *again.GrantId, *again.GrantToken == *g.GrantToken)
	}

	// The worker may create child grants, but none wider than its own.
	const helper = "arn:aws:iam::111122223333:user/helper"
	_, err = w.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: key.Arn, GranteePrincipal: aws.String(helper),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt}, Constraints: &types.GrantConstraints{EncryptionContextEquals: ec}})
	wantCode(t, err, "AccessDeniedException")
	_, err = w.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: key.Arn, GranteePrincipal: aws.String(helper),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantCode(t, err, "AccessDeniedException") // drops the constraint
	child := must[*awskms.CreateGrantOutput](t)(w.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: key.Arn, GranteePrincipal: aws.String(helper),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}, Constraints: &types.GrantConstraints{EncryptionContextEquals: ec}}))

	// Listing.
	list := must[*awskms.ListGrantsOutput](t)(owner.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId}))
	if len(list.Grants) != 2 || *list.Grants[0].GrantId != *g.GrantId || *list.Grants[0].Name != "worker-decrypt" ||
		*list.Grants[0].KeyId != *key.Arn || *list.Grants[0].IssuingAccount != "arn:aws:iam::111122223333:root" ||
		list.Grants[0].Constraints == nil || list.Grants[1].Name != nil {
		t.Fatalf("ListGrants %+v", list.Grants)
	}
	byGrantee := must[*awskms.ListGrantsOutput](t)(owner.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId, GranteePrincipal: aws.String(helper)}))
	if len(byGrantee.Grants) != 1 || *byGrantee.Grants[0].GrantId != *child.GrantId {
		t.Fatalf("ListGrants by grantee %+v", byGrantee.Grants)
	}
	retirable := must[*awskms.ListRetirableGrantsOutput](t)(owner.ListRetirableGrants(ctx, &awskms.ListRetirableGrantsInput{RetiringPrincipal: aws.String("arn:aws:iam::111122223333:root")}))
	if len(retirable.Grants) != 1 || *retirable.Grants[0].GrantId != *g.GrantId || *retirable.Grants[0].KeyId != *key.Arn {
		t.Fatalf("ListRetirableGrants %+v", retirable.Grants)
	}
	_, err = owner.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId, GrantId: aws.String("nope")})
	wantCode(t, err, "InvalidGrantIdException")

	// The helper user decrypts through the child grant until it is revoked.
	h := kmsAs(ts.URL, createUserWithKey(t, root, "helper"))
	if err := decrypt(h, enc.CiphertextBlob, ec); err != nil {
		t.Fatalf("decrypt through the child grant: %v", err)
	}

	// Revoke cuts the child's access at once; retire (by token, as the
	// retiring principal) cuts the worker's.
	must[*awskms.RevokeGrantOutput](t)(owner.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: key.KeyId, GrantId: child.GrantId}))
	wantCode(t, decrypt(h, enc.CiphertextBlob, ec), "AccessDeniedException")
	_, err = owner.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: key.KeyId, GrantId: child.GrantId})
	wantCode(t, err, "NotFoundException")
	_, err = w.RetireGrant(ctx, &awskms.RetireGrantInput{GrantToken: g.GrantToken})
	wantCode(t, err, "AccessDeniedException") // the grant does not allow RetireGrant to its grantee
	must[*awskms.RetireGrantOutput](t)(owner.RetireGrant(ctx, &awskms.RetireGrantInput{GrantToken: g.GrantToken}))
	wantCode(t, decrypt(w, enc.CiphertextBlob, ec), "AccessDeniedException")
	_, err = owner.RetireGrant(ctx, &awskms.RetireGrantInput{KeyId: key.Arn, GrantId: g.GrantId})
	wantCode(t, err, "NotFoundException")
}

func TestGrantValidationAndDryRun(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	key := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	grant := func(in awskms.CreateGrantInput) error {
		in.KeyId = key.KeyId
		if in.GranteePrincipal == nil {
			in.GranteePrincipal = aws.String("arn:aws:iam::111122223333:user/x")
		}
		_, err := c.CreateGrant(ctx, &in)
		return err
	}
	wantCode(t, grant(awskms.CreateGrantInput{Operations: []types.GrantOperation{types.GrantOperationSign}}), "ValidationException")
	wantCode(t, grant(awskms.CreateGrantInput{Operations: []types.GrantOperation{"ScheduleKeyDeletion"}}), "ValidationException")
	wantCode(t, grant(awskms.CreateGrantInput{GranteePrincipal: aws.String("bob"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}}), "ValidationException")
	_, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String("alias/x"), GranteePrincipal: aws.String("arn:aws:iam::111122223333:root"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantCode(t, err, "NotFoundException")

	// DryRun answers DryRunOperationException and changes nothing.
	wantCode(t, grant(awskms.CreateGrantInput{Operations: []types.GrantOperation{types.GrantOperationDecrypt}, DryRun: aws.Bool(true)}), "DryRunOperationException")
	if l := must[*awskms.ListGrantsOutput](t)(c.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId})); len(l.Grants) != 0 {
		t.Fatalf("DryRun CreateGrant made %d grants", len(l.Grants))
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	// Paging, and a marker whose grant is gone.
	var ids []string
	for range 3 {
		g := must[*awskms.CreateGrantOutput](t)(c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: key.KeyId,
			GranteePrincipal: aws.String("arn:aws:iam::111122223333:user/x"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}}))
		ids = append(ids, *g.GrantId)
	}
	var got []string
	p := awskms.NewListGrantsPaginator(c, &awskms.ListGrantsInput{KeyId: key.KeyId, Limit: aws.Int32(2)})
	for p.HasMorePages() {
		for _, g := range must[*awskms.ListGrantsOutput](t)(p.NextPage(ctx)).Grants {
			got = append(got, *g.GrantId)
		}
	}
	if len(got) != 3 || got[0] != ids[0] || got[2] != ids[2] {
		t.Fatalf("paged grants %v, want %v", got, ids)
	}
	page := must[*awskms.ListGrantsOutput](t)(c.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId, Limit: aws.Int32(1)}))
	must[*awskms.RevokeGrantOutput](t)(c.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: key.KeyId, GrantId: aws.String(ids[0])}))
	_, err = c.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId, Marker: page.NextMarker})
	wantCode(t, err, "InvalidMarkerException")

	// A DryRun that would fail gives the real error instead.
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: key.KeyId}))
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantCode(t, err, "DisabledException")
	wantCode(t, grant(awskms.CreateGrantInput{Operations: []types.GrantOperation{types.GrantOperationDecrypt}, DryRun: aws.Bool(true)}), "DisabledException")
}

func TestAWSManagedKey(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	// Before first use the predefined aliases are listed, as AWS lists
	// them: without a key or dates.
	predefined := func() map[string]*string {
		m := map[string]*string{}
		for _, a := range must[*awskms.ListAliasesOutput](t)(c.ListAliases(ctx, &awskms.ListAliasesInput{})).Aliases {
			if !strings.HasPrefix(*a.AliasName, "alias/aws/") || (a.TargetKeyId == nil) != (a.CreationDate == nil) ||
				*a.AliasArn != "arn:aws:kms:us-east-1:111122223333:"+*a.AliasName {
				t.Fatalf("alias entry %+v", a)
			}
			m[*a.AliasName] = a.TargetKeyId
		}
		return m
	}
	before := predefined()
	if len(before) < 10 || before["alias/aws/s3"] != nil || before["alias/aws/ebs"] != nil {
		t.Fatalf("aliases before first use: %v", before)
	}
	enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/aws/s3"), Plaintext: []byte("object")}))
	d := must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/aws/s3")})).KeyMetadata
	if d.KeyManager != types.KeyManagerTypeAws || *d.Arn != *enc.KeyId || *d.Description != "Default key that protects my S3 objects when no other key is defined" {
		t.Fatalf("managed key %+v", d)
	}
	dk := must[*awskms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/aws/s3"), KeySpec: types.DataKeySpecAes256}))
	if *dk.KeyId != *d.Arn {
		t.Fatalf("second use made another key: %s", *dk.KeyId)
	}
	must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))
	after := predefined()
	if len(after) != len(before) || after["alias/aws/s3"] == nil || *after["alias/aws/s3"] != *d.KeyId || after["alias/aws/ebs"] != nil {
		t.Fatalf("aliases after first use: %v", after)
	}
	// It refuses every change.
	for name, call := range map[string]func() error{
		"PutKeyPolicy": func() error {
			return ignore(c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: d.KeyId, Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`), BypassPolicyLockoutSafetyCheck: true}))
		},
		"ScheduleKeyDeletion": func() error {
			return ignore(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: d.KeyId}))
		},
		"DisableKey": func() error { return ignore(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: d.KeyId})) },
		"UpdateKeyDescription": func() error {
			return ignore(c.UpdateKeyDescription(ctx, &awskms.UpdateKeyDescriptionInput{KeyId: d.KeyId, Description: aws.String("x")}))
		},
		"TagResource": func() error {
			return ignore(c.TagResource(ctx, &awskms.TagResourceInput{KeyId: d.KeyId, Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("b")}}}))
		},
		"CreateAlias": func() error {
			return ignore(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/mine"), TargetKeyId: d.KeyId}))
		},
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, call(), "AccessDeniedException") })
	}
	_, err := c.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/aws/s3")})
	wantCode(t, err, "InvalidAliasNameException")
	_, err = c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: d.KeyId})
	wantCode(t, err, "InvalidAliasNameException")
	// Unknown services have no managed key.
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/aws/nosuchservice"), Plaintext: []byte("x")})
	wantCode(t, err, "NotFoundException")
	if ks := must[*awskms.ListKeysOutput](t)(c.ListKeys(ctx, &awskms.ListKeysInput{})); len(ks.Keys) != 1 {
		t.Fatalf("%d keys, want the one managed key", len(ks.Keys))
	}
}
