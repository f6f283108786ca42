package server_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/server"
)

// TestImportMaterialOwnExpiry: ValidTo and KeyMaterialDescription belong
// to each imported material. Material for a rotation may expire; the
// rotation gives the key that material's expiry; an older material stops
// decrypting at its own ValidTo while the key goes on.
func TestImportMaterialOwnExpiry(t *testing.T) {
	clock := &testClock{}
	ts := startServer(t, server.Config{Now: clock.now, SweepInterval: time.Hour})
	c := ts.client(testRegion)
	k := createExternalKey(t, c)
	alg := types.AlgorithmSpecRsaesOaepSha256
	imp := func(material []byte, validTo *time.Time, typ types.ImportType, desc *string) (*awskms.ImportKeyMaterialOutput, error) {
		p := getParams(t, c, *k.KeyId, alg, types.WrappingKeySpecRsa2048)
		in := importInput(t, *k.KeyId, p, alg, material, validTo)
		in.ImportType, in.KeyMaterialDescription = typ, desc
		return c.ImportKeyMaterial(ctx, in)
	}
	list := func() []types.RotationsListEntry {
		return must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{
			KeyId: k.KeyId, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})).Rotations
	}
	day := 24 * time.Hour
	at := func(d time.Duration) *time.Time { v := clock.now().Add(d).Truncate(time.Second); return &v }

	m0, m1 := newMaterial(t), newMaterial(t)
	v0, v1 := at(10*day), at(20*day)
	id0 := *must[*awskms.ImportKeyMaterialOutput](t)(imp(m0, v0, "", aws.String("first"))).KeyMaterialId
	c0 := encryptWith(t, c, *k.KeyId, "under M0")
	id1 := *must[*awskms.ImportKeyMaterialOutput](t)(imp(m1, v1, types.ImportTypeNewKeyMaterial, aws.String("second"))).KeyMaterialId

	all := list()
	if len(all) != 2 ||
		*all[0].KeyMaterialId != id0 || all[0].ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires ||
		!all[0].ValidTo.Equal(*v0) || aws.ToString(all[0].KeyMaterialDescription) != "first" ||
		*all[1].KeyMaterialId != id1 || all[1].KeyMaterialState != types.KeyMaterialStatePendingRotation ||
		all[1].ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || !all[1].ValidTo.Equal(*v1) ||
		aws.ToString(all[1].KeyMaterialDescription) != "second" {
		t.Fatalf("materials before rotation: %+v", all)
	}
	if m := describe(t, c, *k.KeyId); !m.ValidTo.Equal(*v0) {
		t.Fatalf("key's ValidTo %v, want its current material's %v", m.ValidTo, v0)
	}

	must[*awskms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId}))
	if m := describe(t, c, *k.KeyId); *m.CurrentKeyMaterialId != id1 ||
		m.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || !m.ValidTo.Equal(*v1) {
		t.Fatalf("after rotation: material %s, %s %v; want %s expiring %v", *m.CurrentKeyMaterialId, m.ExpirationModel, m.ValidTo, id1, v1)
	}
	c1 := encryptWith(t, c, *k.KeyId, "under M1")
	must[*awskms.DecryptOutput](t)(decryptWith(c, c0))

	// Past M0's ValidTo: its ciphertexts no longer decrypt, M1's do.
	clock.advance(11 * day)
	_, err := decryptWith(c, c0)
	wantMessage(t, err, "KMSInvalidStateException", "The key material "+id0)
	if d := must[*awskms.DecryptOutput](t)(decryptWith(c, c1)); string(d.Plaintext) != "under M1" {
		t.Fatalf("M1's ciphertext: %q", d.Plaintext)
	}

	// A re-import of the current material sets its expiry again and keeps
	// its description when it names none.
	v1b := at(30 * day)
	if _, err := imp(m1, v1b, types.ImportTypeExistingKeyMaterial, nil); err != nil {
		t.Fatalf("re-import: %v", err)
	}
	all = list()
	if len(all) != 2 || !all[1].ValidTo.Equal(*v1b) || aws.ToString(all[1].KeyMaterialDescription) != "second" {
		t.Fatalf("after re-import: %+v", all)
	}
	if _, err := imp(m1, nil, types.ImportTypeExistingKeyMaterial, aws.String("renamed")); err != nil {
		t.Fatalf("re-import without expiry: %v", err)
	}
	if m := describe(t, c, *k.KeyId); m.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || m.ValidTo != nil {
		t.Fatalf("key after a non-expiring re-import: %s %v", m.ExpirationModel, m.ValidTo)
	}
	if all = list(); all[1].ValidTo != nil || aws.ToString(all[1].KeyMaterialDescription) != "renamed" {
		t.Fatalf("material after a non-expiring re-import: %+v", all[1])
	}

	// A pending material past its ValidTo is never promoted.
	m2 := newMaterial(t)
	must[*awskms.ImportKeyMaterialOutput](t)(imp(m2, at(day), types.ImportTypeNewKeyMaterial, nil))
	clock.advance(2 * day)
	_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId})
	wantMessage(t, err, "KMSInvalidStateException", "expired")

	// Descriptions are for symmetric keys only.
	hk := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal,
		KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})).KeyMetadata
	p := getParams(t, c, *hk.KeyId, alg, types.WrappingKeySpecRsa2048)
	in := importInput(t, *hk.KeyId, p, alg, newMaterial(t), nil)
	in.KeyMaterialDescription = aws.String("mac")
	_, err = c.ImportKeyMaterial(ctx, in)
	wantMessage(t, err, "ValidationException", "only usable with symmetric encryption keys")
}

// TestImportMultiRegion: each copy of a multi-Region key with imported
// material gets the same material imported into it, and only that.
func TestImportMultiRegion(t *testing.T) {
	ts := startServer(t, server.Config{})
	east, west := ts.client(testRegion), ts.client(replicaRegion)
	k := must[*awskms.CreateKeyOutput](t)(east.CreateKey(ctx, &awskms.CreateKeyInput{
		Origin: types.OriginTypeExternal, MultiRegion: aws.Bool(true)})).KeyMetadata
	_, err := east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: k.KeyId, ReplicaRegion: aws.String(replicaRegion)})
	wantMessage(t, err, "KMSInvalidStateException", "is pending import.") // spec §4.3: only an Enabled primary
	m := newMaterial(t)
	id := *importMaterial(t, east, *k.KeyId, m, nil).KeyMaterialId
	r := must[*awskms.ReplicateKeyOutput](t)(east.ReplicateKey(ctx, &awskms.ReplicateKeyInput{
		KeyId: k.KeyId, ReplicaRegion: aws.String(replicaRegion)})).ReplicaKeyMetadata
	if r.KeyState != types.KeyStatePendingImport || r.Origin != types.OriginTypeExternal {
		t.Fatalf("replica of an imported key: %s, %s", r.KeyState, r.Origin)
	}
	alg := types.AlgorithmSpecRsaesOaepSha256
	p := getParams(t, west, *k.KeyId, alg, types.WrappingKeySpecRsa2048)
	_, err = west.ImportKeyMaterial(ctx, importInput(t, *k.KeyId, p, alg, newMaterial(t), nil))
	wantMessage(t, err, "IncorrectKeyMaterialException", "a copy of the same multi-Region key")
	// An import token of one region is not good in another.
	pe := getParams(t, east, *k.KeyId, alg, types.WrappingKeySpecRsa2048)
	_, err = west.ImportKeyMaterial(ctx, importInput(t, *k.KeyId, pe, alg, m, nil))
	wantCode(t, err, "InvalidImportTokenException")

	if got := *importMaterial(t, west, *k.KeyId, m, nil).KeyMaterialId; got != id {
		t.Errorf("the replica's material id %s, the primary's %s", got, id)
	}
	blob := encryptWith(t, east, *k.KeyId, "imported, replicated")
	if d := must[*awskms.DecryptOutput](t)(decryptWith(west, blob)); string(d.Plaintext) != "imported, replicated" {
		t.Errorf("decrypted %q", d.Plaintext)
	}
	_, err = east.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId})
	wantCode(t, err, "UnsupportedOperationException")
}
