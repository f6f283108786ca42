package server_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/server"
)

const replicaRegion = "eu-west-1"

// mrConfig checks a key's MultiRegionConfiguration: its type, primary
// region and replica regions in order.
func mrConfig(t *testing.T, m *types.KeyMetadata, typ types.MultiRegionKeyType, primary string, replicas ...string) {
	t.Helper()
	cfg := m.MultiRegionConfiguration
	if m.MultiRegion == nil || !*m.MultiRegion || cfg == nil {
		t.Fatalf("%s: not a multi-Region key: %+v", *m.Arn, m)
	}
	var got []string
	for _, r := range cfg.ReplicaKeys {
		got = append(got, *r.Region)
		if *r.Arn != "arn:aws:kms:"+*r.Region+":"+testAccount+":key/"+*m.KeyId {
			t.Errorf("replica ARN %s", *r.Arn)
		}
	}
	if cfg.MultiRegionKeyType != typ || *cfg.PrimaryKey.Region != primary ||
		*cfg.PrimaryKey.Arn != "arn:aws:kms:"+primary+":"+testAccount+":key/"+*m.KeyId || !slices.Equal(got, replicas) {
		t.Errorf("%s: configuration %s primary %s replicas %v, want %s %s %v",
			*m.Arn, cfg.MultiRegionKeyType, *cfg.PrimaryKey.Region, got, typ, primary, replicas)
	}
}

func describeKey(t *testing.T, c *awskms.Client, id string) *types.KeyMetadata {
	t.Helper()
	return must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
}

func TestMultiRegionKeys(t *testing.T) {
	ts := startServer(t, server.Config{})
	east, west := ts.client(testRegion), ts.client(replicaRegion)

	created := must[*awskms.CreateKeyOutput](t)(east.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true), Description: aws.String("primary")})).KeyMetadata
	id := *created.KeyId
	if !strings.HasPrefix(id, "mrk-") || len(id) != 36 {
		t.Fatalf("multi-Region key id %s", id)
	}
	mrConfig(t, created, types.MultiRegionKeyTypePrimary, testRegion)
	if created.MultiRegionConfiguration.ReplicaKeys == nil {
		t.Error("ReplicaKeys of a new primary is absent, want []")
	}
	single := *must[*awskms.CreateKeyOutput](t)(east.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata.KeyId
	if m := describeKey(t, east, single); m.MultiRegion == nil || *m.MultiRegion || m.MultiRegionConfiguration != nil {
		t.Errorf("single-Region key: MultiRegion %v, configuration %+v", m.MultiRegion, m.MultiRegionConfiguration)
	}

	// Not there yet: the key id is unknown in the other region.
	_, err := west.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantMessage(t, err, "NotFoundException", "Key 'arn:aws:kms:eu-west-1:111122223333:key/"+id+"' does not exist")
	secret := []byte("shared across regions")
	fromEast := must[*awskms.EncryptOutput](t)(east.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: secret})).CiphertextBlob
	_, err = west.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: fromEast})
	wantCode(t, err, "AccessDeniedException")

	rep := must[*awskms.ReplicateKeyOutput](t)(east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{
		KeyId: aws.String(id), ReplicaRegion: aws.String(replicaRegion), Description: aws.String("replica"),
		Tags: []types.Tag{{TagKey: aws.String("copy"), TagValue: aws.String("west")}},
	}))
	rm := rep.ReplicaKeyMetadata
	if *rm.KeyId != id || *rm.Arn != "arn:aws:kms:eu-west-1:111122223333:key/"+id || *rm.Description != "replica" ||
		rm.KeyState != types.KeyStateEnabled || *rm.CurrentKeyMaterialId != *created.CurrentKeyMaterialId {
		t.Errorf("replica metadata %+v", rm)
	}
	mrConfig(t, rm, types.MultiRegionKeyTypeReplica, testRegion, replicaRegion)
	if len(rep.ReplicaTags) != 1 || *rep.ReplicaTags[0].TagKey != "copy" || !strings.Contains(*rep.ReplicaPolicy, `"kms:*"`) {
		t.Errorf("replica tags %v, policy %s", rep.ReplicaTags, *rep.ReplicaPolicy)
	}
	mrConfig(t, describeKey(t, east, id), types.MultiRegionKeyTypePrimary, testRegion, replicaRegion)
	if d := describeKey(t, east, id); *d.Description != "primary" {
		t.Errorf("the primary's description became %q", *d.Description)
	}
	_, err = east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(replicaRegion)})
	wantCode(t, err, "AlreadyExistsException")

	// A ciphertext of either region decrypts in the other, with or without
	// the key named.
	fromWest := must[*awskms.EncryptOutput](t)(west.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: secret})).CiphertextBlob
	for _, tc := range []struct {
		name   string
		c      *awskms.Client
		region string
		blob   []byte
		keyID  *string
	}{
		{"east in west", west, replicaRegion, fromEast, nil},
		{"east in west, key named", west, replicaRegion, fromEast, aws.String(id)},
		{"west in east", east, testRegion, fromWest, nil},
		{"west in east, by ARN", east, testRegion, fromWest, aws.String("arn:aws:kms:us-east-1:111122223333:key/" + id)},
	} {
		out, err := tc.c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: tc.blob, KeyId: tc.keyID})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(out.Plaintext, secret) || *out.KeyId != "arn:aws:kms:"+tc.region+":111122223333:key/"+id {
			t.Errorf("%s: plaintext %q, key %s", tc.name, out.Plaintext, *out.KeyId)
		}
	}
	// Another key's ciphertext is still refused when a key is named.
	other := must[*awskms.EncryptOutput](t)(east.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(single), Plaintext: secret})).CiphertextBlob
	_, err = east.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: other, KeyId: aws.String(id)})
	wantCode(t, err, "IncorrectKeyException")
	re := must[*awskms.ReEncryptOutput](t)(west.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: fromEast, DestinationKeyId: aws.String(id)}))
	if *re.SourceKeyId != "arn:aws:kms:eu-west-1:111122223333:key/"+id {
		t.Errorf("ReEncrypt source %s", *re.SourceKeyId)
	}

	// Each copy has its own enabled state.
	must[*awskms.DisableKeyOutput](t)(west.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id)}))
	_, err = west.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: fromEast})
	wantCode(t, err, "DisabledException")
	must[*awskms.DecryptOutput](t)(east.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: fromWest}))
	must[*awskms.EnableKeyOutput](t)(west.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)}))

	// A rotation of the primary is a rotation of every replica; replicas
	// do not rotate by themselves.
	must[*awskms.RotateKeyOnDemandOutput](t)(east.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)}))
	rotated := *describeKey(t, east, id).CurrentKeyMaterialId
	if rotated == *created.CurrentKeyMaterialId || *describeKey(t, west, id).CurrentKeyMaterialId != rotated {
		t.Errorf("after rotation: primary material %s, replica %s", rotated, *describeKey(t, west, id).CurrentKeyMaterialId)
	}
	rs := must[*awskms.ListKeyRotationsOutput](t)(west.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(id)}))
	if len(rs.Rotations) != 1 || rs.Rotations[0].RotationType != types.RotationTypeOnDemand || *rs.Rotations[0].KeyId != id {
		t.Errorf("replica's rotations %+v", rs.Rotations)
	}
	afterRotation := must[*awskms.EncryptOutput](t)(east.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: secret})).CiphertextBlob
	must[*awskms.DecryptOutput](t)(west.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: afterRotation}))
	_, err = west.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantMessage(t, err, "UnsupportedOperationException", "multi-Region replica key")
	_, err = west.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(id)})
	wantCode(t, err, "UnsupportedOperationException")
	must[*awskms.EnableKeyRotationOutput](t)(east.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(100)}))
	if st := must[*awskms.GetKeyRotationStatusOutput](t)(west.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id)})); !st.KeyRotationEnabled || *st.RotationPeriodInDays != 100 {
		t.Errorf("replica's rotation status %+v, want the primary's", st)
	}

	// Who may replicate what.
	off := *must[*awskms.CreateKeyOutput](t)(east.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true)})).KeyMetadata.KeyId
	must[*awskms.DisableKeyOutput](t)(east.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(off)}))
	_, err = east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(off), ReplicaRegion: aws.String(replicaRegion)})
	wantMessage(t, err, "DisabledException", "is disabled.")
	_, err = east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(single), ReplicaRegion: aws.String(replicaRegion)})
	wantMessage(t, err, "UnsupportedOperationException", "is not a multi-Region key")
	_, err = west.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("ap-south-1")})
	wantMessage(t, err, "UnsupportedOperationException", "arn:aws:kms:"+replicaRegion+":"+testAccount+":key/"+id+" is not a multi-region primary key.")
	_, err = east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(testRegion)})
	wantCode(t, err, "ValidationException")
	_, err = east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("Mars")})
	wantMessage(t, err, "ValidationException", "at 'replicaRegion' failed to satisfy constraint")
	_, err = east.UpdatePrimaryRegion(ctx, &awskms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String("ap-south-1")})
	wantMessage(t, err, "NotFoundException", "has no replica in ap-south-1")
	_, err = west.UpdatePrimaryRegion(ctx, &awskms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(testRegion)})
	wantCode(t, err, "UnsupportedOperationException")

	// The primary moves to the west, with the rotation setting.
	must[*awskms.UpdatePrimaryRegionOutput](t)(east.UpdatePrimaryRegion(ctx, &awskms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(replicaRegion)}))
	mrConfig(t, describeKey(t, west, id), types.MultiRegionKeyTypePrimary, replicaRegion, testRegion)
	mrConfig(t, describeKey(t, east, id), types.MultiRegionKeyTypeReplica, replicaRegion, testRegion)
	if st := must[*awskms.GetKeyRotationStatusOutput](t)(west.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id)})); !st.KeyRotationEnabled {
		t.Error("the new primary does not rotate")
	}
	must[*awskms.RotateKeyOnDemandOutput](t)(west.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)}))
	if *describeKey(t, east, id).CurrentKeyMaterialId != *describeKey(t, west, id).CurrentKeyMaterialId {
		t.Error("a rotation of the new primary did not reach the old one")
	}

	// Grants belong to one copy; their tokens name it.
	g := must[*awskms.CreateGrantOutput](t)(east.CreateGrant(ctx, &awskms.CreateGrantInput{
		KeyId: aws.String(id), GranteePrincipal: aws.String("arn:aws:iam::111122223333:role/app"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt},
	}))
	if gs := must[*awskms.ListGrantsOutput](t)(west.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: aws.String(id)})); len(gs.Grants) != 0 {
		t.Errorf("the replica lists the other copy's grant: %+v", gs.Grants)
	}
	must[*awskms.DecryptOutput](t)(east.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: fromWest, GrantTokens: []string{*g.GrantToken}}))
	must[*awskms.RetireGrantOutput](t)(east.RetireGrant(ctx, &awskms.RetireGrantInput{GrantToken: g.GrantToken}))
	if gs := must[*awskms.ListGrantsOutput](t)(east.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: aws.String(id)})); len(gs.Grants) != 0 {
		t.Errorf("the grant was not retired: %+v", gs.Grants)
	}

	// Aliases are per region and name the key id.
	must[*awskms.CreateAliasOutput](t)(west.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/mr"), TargetKeyId: aws.String(id)}))
	as := must[*awskms.ListAliasesOutput](t)(west.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: aws.String(id)}))
	if len(as.Aliases) != 1 || *as.Aliases[0].TargetKeyId != id {
		t.Errorf("aliases %+v", as.Aliases)
	}
	ks := must[*awskms.ListKeysOutput](t)(west.ListKeys(ctx, &awskms.ListKeysInput{})) // off was never replicated
	if len(ks.Keys) != 1 || *ks.Keys[0].KeyId != id {
		t.Errorf("ListKeys in the west: %+v", ks.Keys)
	}
}

// TestMultiRegionAsymmetric: signing, MAC and key agreement keys replicate
// with their key pairs.
func TestMultiRegionAsymmetric(t *testing.T) {
	ts := startServer(t, server.Config{})
	east, west := ts.client(testRegion), ts.client(replicaRegion)
	replicate := func(in *awskms.CreateKeyInput) string {
		in.MultiRegion = aws.Bool(true)
		id := *must[*awskms.CreateKeyOutput](t)(east.CreateKey(ctx, in)).KeyMetadata.KeyId
		m := must[*awskms.ReplicateKeyOutput](t)(east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(replicaRegion)})).ReplicaKeyMetadata
		if m.KeySpec != in.KeySpec || m.KeyUsage != in.KeyUsage {
			t.Fatalf("replica %s %s, want %s %s", m.KeySpec, m.KeyUsage, in.KeySpec, in.KeyUsage)
		}
		return id
	}
	msg := []byte("signed in one region, verified in another")

	sign := replicate(&awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	sig := must[*awskms.SignOutput](t)(west.Sign(ctx, &awskms.SignInput{KeyId: aws.String(sign), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})).Signature
	v := must[*awskms.VerifyOutput](t)(east.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(sign), Message: msg, Signature: sig, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}))
	if !v.SignatureValid {
		t.Error("a replica's signature does not verify under its primary")
	}
	pe := must[*awskms.GetPublicKeyOutput](t)(east.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(sign)})).PublicKey
	pw := must[*awskms.GetPublicKeyOutput](t)(west.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(sign)})).PublicKey
	if !bytes.Equal(pe, pw) {
		t.Error("primary and replica have different public keys")
	}
	_, err := east.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(sign)})
	wantCode(t, err, "UnsupportedOperationException")

	mac := replicate(&awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	tag := must[*awskms.GenerateMacOutput](t)(east.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(mac), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})).Mac
	if !must[*awskms.VerifyMacOutput](t)(west.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(mac), Message: msg, Mac: tag, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})).MacValid {
		t.Error("a primary's MAC does not verify under its replica")
	}

	rsa := replicate(&awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	ct := must[*awskms.EncryptOutput](t)(east.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(rsa), Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})).CiphertextBlob
	pt := must[*awskms.DecryptOutput](t)(west.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(rsa), CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})).Plaintext
	if !bytes.Equal(pt, msg) {
		t.Error("RSA ciphertext of the primary does not decrypt under its replica")
	}
}

// TestMultiRegionDeletion: a primary scheduled for deletion waits in
// PendingReplicaDeletion until its last replica is deleted, then its own
// waiting period starts.
func TestMultiRegionDeletion(t *testing.T) {
	ts := startServer(t, server.Config{})
	east, west := ts.client(testRegion), ts.client(replicaRegion)
	id := *must[*awskms.CreateKeyOutput](t)(east.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true)})).KeyMetadata.KeyId
	must[*awskms.ReplicateKeyOutput](t)(east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(replicaRegion)}))

	sd := must[*awskms.ScheduleKeyDeletionOutput](t)(east.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(10)}))
	if sd.KeyState != types.KeyStatePendingReplicaDeletion || sd.DeletionDate != nil || *sd.PendingWindowInDays != 10 {
		t.Fatalf("ScheduleKeyDeletion of a primary with a replica: %s, date %v, window %d", sd.KeyState, sd.DeletionDate, *sd.PendingWindowInDays)
	}
	m := describeKey(t, east, id)
	if m.KeyState != types.KeyStatePendingReplicaDeletion || m.DeletionDate != nil || m.PendingDeletionWindowInDays == nil || *m.PendingDeletionWindowInDays != 10 || m.Enabled {
		t.Errorf("primary pending replica deletion: %+v", m)
	}
	_, err := east.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantMessage(t, err, "KMSInvalidStateException", "is pending deletion.")
	_, err = east.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id)})
	wantCode(t, err, "KMSInvalidStateException")
	// Cancelling brings it back Disabled, as for any key.
	must[*awskms.CancelKeyDeletionOutput](t)(east.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)}))
	if m := describeKey(t, east, id); m.KeyState != types.KeyStateDisabled || m.PendingDeletionWindowInDays != nil {
		t.Errorf("after cancel: %s, window %v", m.KeyState, m.PendingDeletionWindowInDays)
	}
	must[*awskms.ScheduleKeyDeletionOutput](t)(east.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(10)}))

	// The replica's own waiting period ends; the primary's starts then.
	must[*awskms.ScheduleKeyDeletionOutput](t)(west.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
	sweep := time.Now().Add(8 * 24 * time.Hour)
	if n, err := ts.Service.SweepDeletions(ctx, sweep); err != nil || n != 1 {
		t.Fatalf("sweep: %d deleted, %v", n, err)
	}
	_, err = west.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, "NotFoundException")
	m = describeKey(t, east, id)
	want := sweep.Add(10 * 24 * time.Hour)
	if m.KeyState != types.KeyStatePendingDeletion || m.DeletionDate == nil || m.DeletionDate.Sub(want).Abs() > time.Second {
		t.Fatalf("primary after its last replica: %s, deletion %v, want %v", m.KeyState, m.DeletionDate, want)
	}
	mrConfig(t, m, types.MultiRegionKeyTypePrimary, testRegion)
	if n, err := ts.Service.SweepDeletions(ctx, want.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("second sweep: %d deleted, %v", n, err)
	}
	_, err = east.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, "NotFoundException")
}

// TestMultiRegionConditionKeys: kms:MultiRegion and kms:MultiRegionKeyType
// describe the key; kms:ReplicaRegion the request.
func TestMultiRegionConditionKeys(t *testing.T) {
	ts := startServer(t, server.Config{})
	east, west := ts.client(testRegion), ts.client(replicaRegion)
	// The key policy lets the account do anything except encrypt with a
	// replica and replicate into ap-south-1.
	pol := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*",
		 "Condition":{"StringEquals":{"kms:MultiRegionKeyType":"REPLICA"},"Bool":{"kms:MultiRegion":"true"}}},
		{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:ReplicateKey","Resource":"*",
		 "Condition":{"StringEquals":{"kms:ReplicaRegion":"ap-south-1"}}}]}`
	id := *must[*awskms.CreateKeyOutput](t)(east.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true), Policy: aws.String(pol)})).KeyMetadata.KeyId
	must[*awskms.ReplicateKeyOutput](t)(east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(replicaRegion), Policy: aws.String(pol)}))
	_, err := east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("ap-south-1")})
	wantCode(t, err, "AccessDeniedException")
	must[*awskms.EncryptOutput](t)(east.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")}))
	_, err = west.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
}
