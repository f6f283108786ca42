package server_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/server"
	"github.com/openkms/kms/internal/store/sqlite"
)

// Import of key material (BYOK), end to end: the test is the customer. It
// makes the material, wraps it with Go's crypto/rsa (and AES key wrap with
// padding) as openssl would, and drives the server with aws-sdk-go-v2.

func newMaterial(t *testing.T) []byte {
	t.Helper()
	m := make([]byte, 32)
	rand.Read(m)
	return m
}

func createExternalKey(t *testing.T, c *awskms.Client) *types.KeyMetadata {
	t.Helper()
	return must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{
		Origin: types.OriginTypeExternal, Description: aws.String("imported")})).KeyMetadata
}

func getParams(t *testing.T, c *awskms.Client, keyID string, alg types.AlgorithmSpec, spec types.WrappingKeySpec) *awskms.GetParametersForImportOutput {
	t.Helper()
	return must[*awskms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{
		KeyId: aws.String(keyID), WrappingAlgorithm: alg, WrappingKeySpec: spec}))
}

// wrapMaterial wraps material under a GetParametersForImport public key as
// a customer does (AWS's documented procedure for each algorithm).
func wrapMaterial(t *testing.T, publicKey []byte, alg types.AlgorithmSpec, material []byte) []byte {
	t.Helper()
	k, err := x509.ParsePKIXPublicKey(publicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(*rsa.PublicKey)
	var h hash.Hash = sha256.New()
	if alg == types.AlgorithmSpecRsaesOaepSha1 || alg == types.AlgorithmSpecRsaAesKeyWrapSha1 {
		h = sha1.New()
	}
	switch alg {
	case types.AlgorithmSpecRsaesOaepSha1, types.AlgorithmSpecRsaesOaepSha256:
		ct, err := rsa.EncryptOAEP(h, rand.Reader, pub, material, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	case types.AlgorithmSpecRsaAesKeyWrapSha1, types.AlgorithmSpecRsaAesKeyWrapSha256:
		// An ephemeral AES-256 key under RSA-OAEP, then the material
		// under that key with AES Key Wrap with Padding (RFC 5649).
		aesKey := newMaterial(t)
		ct, err := rsa.EncryptOAEP(h, rand.Reader, pub, aesKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := keys.WrapKeyWithPadding(aesKey, material)
		if err != nil {
			t.Fatal(err)
		}
		return append(ct, w...)
	}
	t.Fatalf("no wrapping for %s", alg)
	return nil
}

// importInput is an ImportKeyMaterial request for material wrapped under p.
func importInput(t *testing.T, keyID string, p *awskms.GetParametersForImportOutput, alg types.AlgorithmSpec, material []byte, validTo *time.Time) *awskms.ImportKeyMaterialInput {
	t.Helper()
	in := &awskms.ImportKeyMaterialInput{KeyId: aws.String(keyID), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, p.PublicKey, alg, material),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire}
	if validTo != nil {
		in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, validTo
	}
	return in
}

// importMaterial runs the whole import of material into a key.
func importMaterial(t *testing.T, c *awskms.Client, keyID string, material []byte, validTo *time.Time) *awskms.ImportKeyMaterialOutput {
	t.Helper()
	alg := types.AlgorithmSpecRsaesOaepSha256
	p := getParams(t, c, keyID, alg, types.WrappingKeySpecRsa2048)
	return must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, importInput(t, keyID, p, alg, material, validTo)))
}

func describe(t *testing.T, c *awskms.Client, keyID string) *types.KeyMetadata {
	t.Helper()
	return must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)})).KeyMetadata
}

func encryptWith(t *testing.T, c *awskms.Client, keyID, plain string) []byte {
	t.Helper()
	return must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte(plain),
		EncryptionContext: map[string]string{"purpose": "import test"}})).CiphertextBlob
}

func decryptWith(c *awskms.Client, blob []byte) (*awskms.DecryptOutput, error) {
	return c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"purpose": "import test"}})
}

func wantPendingImport(t *testing.T, c *awskms.Client, k *types.KeyMetadata, blob []byte) {
	t.Helper()
	if m := describe(t, c, *k.KeyId); m.KeyState != types.KeyStatePendingImport || m.Enabled {
		t.Fatalf("key state %s, enabled %v; want PendingImport", m.KeyState, m.Enabled)
	}
	_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantMessage(t, err, "KMSInvalidStateException", *k.Arn+" is pending import.")
	if blob != nil {
		_, err = decryptWith(c, blob)
		wantMessage(t, err, "KMSInvalidStateException", *k.Arn+" is pending import.")
	}
}

// TestImportRoundTrip imports material with every wrapping algorithm and
// wrapping key size, and proves the key then encrypts with exactly that
// material: the test decrypts the server's ciphertext itself.
func TestImportRoundTrip(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	for _, tc := range []struct {
		alg  types.AlgorithmSpec
		spec types.WrappingKeySpec
	}{
		{types.AlgorithmSpecRsaesOaepSha1, types.WrappingKeySpecRsa2048},
		{types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa3072},
		{types.AlgorithmSpecRsaAesKeyWrapSha1, types.WrappingKeySpecRsa3072},
		{types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa4096},
		{types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa4096},
		{types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa2048},
	} {
		t.Run(string(tc.alg)+"/"+string(tc.spec), func(t *testing.T) {
			t.Parallel()
			k := createExternalKey(t, c)
			if k.KeyState != types.KeyStatePendingImport || k.Enabled || k.Origin != types.OriginTypeExternal ||
				k.CurrentKeyMaterialId != nil || k.ExpirationModel != "" || k.ValidTo != nil {
				t.Fatalf("new EXTERNAL key %+v", k)
			}
			wantPendingImport(t, c, k, nil)

			before := time.Now()
			p := getParams(t, c, *k.KeyId, tc.alg, tc.spec)
			pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			bits := map[types.WrappingKeySpec]int{types.WrappingKeySpecRsa2048: 2048, types.WrappingKeySpecRsa3072: 3072, types.WrappingKeySpecRsa4096: 4096}[tc.spec]
			if rk, ok := pub.(*rsa.PublicKey); !ok || rk.N.BitLen() != bits {
				t.Fatalf("public key %T, want RSA of %d bits", pub, bits)
			}
			if *p.KeyId != *k.Arn || len(p.ImportToken) == 0 || len(p.ImportToken) > 6144 ||
				p.ParametersValidTo.Before(before.Add(24*time.Hour-time.Minute)) || p.ParametersValidTo.After(time.Now().Add(24*time.Hour)) {
				t.Fatalf("GetParametersForImport: KeyId %s, token of %d bytes, valid to %v", *p.KeyId, len(p.ImportToken), p.ParametersValidTo)
			}

			material := newMaterial(t)
			out := must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, importInput(t, *k.KeyId, p, tc.alg, material, nil)))
			if *out.KeyId != *k.Arn || len(*out.KeyMaterialId) != 64 {
				t.Fatalf("ImportKeyMaterial answered %s, %s", *out.KeyId, *out.KeyMaterialId)
			}
			m := describe(t, c, *k.KeyId)
			if m.KeyState != types.KeyStateEnabled || !m.Enabled || *m.CurrentKeyMaterialId != *out.KeyMaterialId ||
				m.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || m.ValidTo != nil || *m.Description != "imported" {
				t.Fatalf("after import %+v", m)
			}

			blob := encryptWith(t, c, *k.KeyId, "secret under my own key")
			dec := must[*awskms.DecryptOutput](t)(decryptWith(c, blob))
			if string(dec.Plaintext) != "secret under my own key" || *dec.KeyMaterialId != *out.KeyMaterialId {
				t.Fatalf("decrypted %q with material %s", dec.Plaintext, *dec.KeyMaterialId)
			}
			sk, err := keys.SymmetricKeyFromBytes(material)
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := keys.Decrypt(sk, blob, map[string]string{"purpose": "import test"}); err != nil || string(pt) != "secret under my own key" {
				t.Fatalf("the ciphertext is not under the imported material: %q, %v", pt, err)
			}
		})
	}
}

// TestImportErrors covers the refusals of the three import operations.
func TestImportErrors(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	const alg, spec = types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048
	k := createExternalKey(t, c)
	other := createExternalKey(t, c)
	native := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	params := func(a types.AlgorithmSpec, s types.WrappingKeySpec) error {
		_, err := c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: k.KeyId, WrappingAlgorithm: a, WrappingKeySpec: s})
		return err
	}
	imp := func(in *awskms.ImportKeyMaterialInput) error {
		_, err := c.ImportKeyMaterial(ctx, in)
		return err
	}

	// GetParametersForImport.
	_, err := c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: native.KeyId, WrappingAlgorithm: alg, WrappingKeySpec: spec})
	wantMessage(t, err, "UnsupportedOperationException", *native.Arn+" origin is AWS_KMS which is not valid for this operation.")
	wantMessage(t, params(types.AlgorithmSpecRsaesPkcs1V15, spec), "ValidationException", "RSAES_PKCS1_V1_5")
	wantCode(t, params(types.AlgorithmSpecSm2pke, types.WrappingKeySpecSm2), "UnsupportedOperationException")
	wantCode(t, params(alg, types.WrappingKeySpecSm2), "UnsupportedOperationException")
	wantMessage(t, params("RSAES_OAEP_SHA_512", spec), "ValidationException", "wrappingAlgorithm")
	wantMessage(t, params(alg, "RSA_1024"), "ValidationException", "wrappingKeySpec")
	_, err = c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: aws.String("alias/none"), WrappingAlgorithm: alg, WrappingKeySpec: spec})
	wantCode(t, err, "NotFoundException")

	// ImportKeyMaterial: expiration rules, checked before anything else.
	material := newMaterial(t)
	p := getParams(t, c, *k.KeyId, alg, spec)
	in := importInput(t, *k.KeyId, p, alg, material, nil)
	in.ExpirationModel = ""
	wantMessage(t, imp(in), "ValidationException", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
	in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialDoesNotExpire, aws.Time(time.Now().Add(time.Hour))
	wantCode(t, imp(in), "ValidationException")
	in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, aws.Time(time.Now().Add(-time.Minute))
	wantMessage(t, imp(in), "ValidationException", "future")
	in.ValidTo = aws.Time(time.Now().Add(366 * dayDur))
	wantMessage(t, imp(in), "ValidationException", "365 days")

	// Tokens: another key's, garbage, a forgery.
	otherParams := getParams(t, c, *other.KeyId, alg, spec)
	wantCode(t, imp(importInput(t, *k.KeyId, otherParams, alg, material, nil)), "InvalidImportTokenException")
	bad := importInput(t, *k.KeyId, p, alg, material, nil)
	bad.ImportToken = []byte("not a token")
	wantCode(t, imp(bad), "InvalidImportTokenException")
	bad.ImportToken = bytes.Clone(p.ImportToken)
	bad.ImportToken[len(bad.ImportToken)/2] ^= 1
	wantCode(t, imp(bad), "InvalidImportTokenException")
	// Material wrapped under another public key, or with another algorithm.
	wrong := importInput(t, *k.KeyId, otherParams, alg, material, nil)
	wrong.ImportToken = p.ImportToken
	wantCode(t, imp(wrong), "InvalidCiphertextException")
	wrong = importInput(t, *k.KeyId, p, types.AlgorithmSpecRsaesOaepSha1, material, nil)
	wantCode(t, imp(wrong), "InvalidCiphertextException")
	// Material of the wrong size.
	wantCode(t, imp(importInput(t, *k.KeyId, p, alg, material[:16], nil)), "IncorrectKeyMaterialException")
	wantCode(t, imp(importInput(t, *k.KeyId, p, alg, append(bytes.Clone(material), 0), nil)), "IncorrectKeyMaterialException")
	wantCode(t, imp(importInput(t, *k.KeyId, p, alg, make([]byte, 32), nil)), "IncorrectKeyMaterialException")
	// Into a key that cannot take it.
	wantMessage(t, imp(importInput(t, *native.KeyId, p, alg, material, nil)), "UnsupportedOperationException", "origin is AWS_KMS")
	// EnableKey cannot skip the import.
	_, err = c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: k.KeyId})
	wantMessage(t, err, "KMSInvalidStateException", "is pending import.")
	if describe(t, c, *k.KeyId).KeyState != types.KeyStatePendingImport {
		t.Fatal("a refused import changed the key")
	}

	// The first import binds the material for good; the same token may be
	// used again until it expires.
	first := must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, importInput(t, *k.KeyId, p, alg, material, nil)))
	wantMessage(t, imp(importInput(t, *k.KeyId, p, alg, newMaterial(t), nil)), "IncorrectKeyMaterialException", "not the key material previously imported")
	again := importInput(t, *k.KeyId, p, alg, material, aws.Time(time.Now().Add(10*dayDur)))
	again.KeyMaterialId = aws.String(strings.Repeat("0", 64))
	wantCode(t, imp(again), "IncorrectKeyMaterialException")
	again.KeyMaterialId = first.KeyMaterialId
	again.ImportType = types.ImportTypeExistingKeyMaterial
	// Re-importing the same material changes the expiration.
	out := must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, again))
	if *out.KeyMaterialId != *first.KeyMaterialId {
		t.Fatalf("re-import gave material id %s, first %s", *out.KeyMaterialId, *first.KeyMaterialId)
	}
	m := describe(t, c, *k.KeyId)
	if m.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || m.ValidTo == nil ||
		!m.ValidTo.Equal(again.ValidTo.Truncate(time.Millisecond)) || m.KeyState != types.KeyStateEnabled {
		t.Fatalf("after re-import with an expiry: %+v", m)
	}
	// NEW_KEY_MATERIAL must bring other bytes (TestImportRotation imports them).
	newType := importInput(t, *k.KeyId, p, alg, material, nil)
	newType.ImportType = types.ImportTypeNewKeyMaterial
	wantCode(t, imp(newType), "IncorrectKeyMaterialException")
	// The same bytes in another key are other material.
	o := importMaterial(t, c, *other.KeyId, material, nil)
	if *o.KeyMaterialId == *first.KeyMaterialId {
		t.Fatal("the same material has the same id in two keys")
	}

	// DeleteImportedKeyMaterial.
	_, err = c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: native.KeyId})
	wantMessage(t, err, "UnsupportedOperationException", "origin is AWS_KMS")
	_, err = c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.KeyId, KeyMaterialId: o.KeyMaterialId})
	wantCode(t, err, "NotFoundException")
	_, err = c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.KeyId, KeyMaterialId: aws.String("xyz")})
	wantCode(t, err, "ValidationException")

	// Pending deletion: no new parameters, but the material can be deleted,
	// and cancelling then leaves the key waiting for its material.
	must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: k.KeyId, PendingWindowInDays: aws.Int32(7)}))
	wantMessage(t, params(alg, spec), "KMSInvalidStateException", "is pending deletion.")
	wantMessage(t, imp(importInput(t, *k.KeyId, p, alg, material, nil)), "KMSInvalidStateException", "is pending deletion.")
	del := must[*awskms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.KeyId}))
	if *del.KeyId != *k.Arn || *del.KeyMaterialId != *first.KeyMaterialId {
		t.Fatalf("DeleteImportedKeyMaterial answered %s %s", *del.KeyId, *del.KeyMaterialId)
	}
	if s := describe(t, c, *k.KeyId).KeyState; s != types.KeyStatePendingDeletion {
		t.Fatalf("state %s after deleting material of a key pending deletion", s)
	}
	must[*awskms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: k.KeyId}))
	wantPendingImport(t, c, k, nil)
	// A key with its material cancels to Disabled as usual.
	must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: other.KeyId, PendingWindowInDays: aws.Int32(7)}))
	must[*awskms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: other.KeyId}))
	if s := describe(t, c, *other.KeyId).KeyState; s != types.KeyStateDisabled {
		t.Fatalf("state %s after cancelling the deletion of a key with material", s)
	}
}

// TestImportExpiry lets imported material expire on the server's clock:
// the key goes to PendingImport, its crypto fails, only the same material
// brings it back, and then its old ciphertexts decrypt again. Tokens
// expire after 24 hours on the same clock.
func TestImportExpiry(t *testing.T) {
	clock := &testClock{}
	dir := t.TempDir()
	// A sweep an hour apart never runs during the test, except the one at
	// start; the test sweeps by hand.
	ts := startServer(t, server.Config{DataDir: dir, Now: clock.now, SweepInterval: time.Hour})
	c := ts.client(testRegion)
	k := createExternalKey(t, c)
	material := newMaterial(t)
	validTo := clock.now().Add(30 * dayDur).Truncate(time.Second)
	first := importMaterial(t, c, *k.KeyId, material, &validTo)
	m := describe(t, c, *k.KeyId)
	if m.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || m.ValidTo == nil || !m.ValidTo.Equal(validTo) {
		t.Fatalf("ExpirationModel %s, ValidTo %v; want expiry at %v", m.ExpirationModel, m.ValidTo, validTo)
	}
	blob := encryptWith(t, c, *k.KeyId, "written before expiry")

	// Not yet.
	if n, err := ts.Service.SweepExpiredMaterial(ctx, validTo.Add(-time.Second)); err != nil || n != 0 {
		t.Fatalf("sweep before ValidTo: %d, %v", n, err)
	}
	must[*awskms.DecryptOutput](t)(decryptWith(c, blob))

	// Expired: from that instant, before any sweep, the key is
	// PendingImport and its material unusable (the key was cached).
	clock.advance(31 * dayDur)
	wantPendingImport(t, c, k, blob)
	// Swept: the material is gone, the rest of the key stays.
	if _, err := ts.Service.SweepExpiredMaterial(ctx, clock.now()); err != nil {
		t.Fatal(err)
	}
	wantPendingImport(t, c, k, blob)
	m = describe(t, c, *k.KeyId)
	if *m.Description != "imported" || *m.CurrentKeyMaterialId != *first.KeyMaterialId {
		t.Fatalf("metadata after expiry %+v", m)
	}
	if n, err := ts.Service.SweepExpiredMaterial(ctx, clock.now()); err != nil || n != 0 {
		t.Fatalf("second sweep: %d, %v", n, err)
	}

	// A token older than 24 hours is refused, on the server's clock.
	p := getParams(t, c, *k.KeyId, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa2048)
	clock.advance(24*time.Hour + time.Second)
	_, err := c.ImportKeyMaterial(ctx, importInput(t, *k.KeyId, p, types.AlgorithmSpecRsaAesKeyWrapSha256, material, nil))
	wantCode(t, err, "ExpiredImportTokenException")

	// Other material is refused; the same material restores the key, and
	// the restart in between shows it was stored.
	p = getParams(t, c, *k.KeyId, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa2048)
	_, err = c.ImportKeyMaterial(ctx, importInput(t, *k.KeyId, p, types.AlgorithmSpecRsaAesKeyWrapSha256, newMaterial(t), nil))
	wantCode(t, err, "IncorrectKeyMaterialException")
	again := must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, importInput(t, *k.KeyId, p, types.AlgorithmSpecRsaAesKeyWrapSha256, material, nil)))
	if *again.KeyMaterialId != *first.KeyMaterialId {
		t.Fatalf("re-import gave material %s, first %s", *again.KeyMaterialId, *first.KeyMaterialId)
	}
	ts.stop()
	ts = startServer(t, server.Config{DataDir: dir, Now: clock.now, SweepInterval: time.Hour})
	c = ts.client(testRegion)
	dec := must[*awskms.DecryptOutput](t)(decryptWith(c, blob))
	if string(dec.Plaintext) != "written before expiry" || *dec.KeyMaterialId != *first.KeyMaterialId {
		t.Fatalf("old ciphertext after re-import: %q, material %s", dec.Plaintext, *dec.KeyMaterialId)
	}
	m = describe(t, c, *k.KeyId)
	if m.KeyState != types.KeyStateEnabled || m.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || m.ValidTo != nil {
		t.Fatalf("after re-import without expiry %+v", m)
	}
	// Material that does not expire never does.
	if n, err := ts.Service.SweepExpiredMaterial(ctx, clock.now().Add(10*365*dayDur)); err != nil || n != 0 {
		t.Fatalf("sweep of material that does not expire: %d, %v", n, err)
	}
}

// TestImportExpiryBySweeper checks that the server's own sweep loop expires
// material, with no help from the test.
func TestImportExpiryBySweeper(t *testing.T) {
	clock := &testClock{}
	ts := startServer(t, server.Config{Now: clock.now, SweepInterval: 10 * time.Millisecond})
	c := ts.client(testRegion)
	k := createExternalKey(t, c)
	validTo := clock.now().Add(dayDur)
	importMaterial(t, c, *k.KeyId, newMaterial(t), &validTo)
	clock.advance(2 * dayDur)
	for i := 0; describe(t, c, *k.KeyId).KeyState != types.KeyStatePendingImport; i++ {
		if i == 1000 {
			t.Fatal("the sweeper did not expire the material")
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantPendingImport(t, c, k, nil)
}

// TestDeleteImportedKeyMaterial deletes material at once and imports it
// back: the key's metadata, aliases and old ciphertexts survive.
func TestDeleteImportedKeyMaterial(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := createExternalKey(t, c)
	must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/byok"), TargetKeyId: k.KeyId}))
	must[*awskms.TagResourceOutput](t)(c.TagResource(ctx, &awskms.TagResourceInput{KeyId: k.KeyId, Tags: []types.Tag{{TagKey: aws.String("owner"), TagValue: aws.String("me")}}}))
	material := newMaterial(t)
	first := importMaterial(t, c, *k.KeyId, material, nil)
	blob := encryptWith(t, c, "alias/byok", "before deletion")

	del := must[*awskms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.Arn, KeyMaterialId: first.KeyMaterialId}))
	if *del.KeyId != *k.Arn || *del.KeyMaterialId != *first.KeyMaterialId {
		t.Fatalf("DeleteImportedKeyMaterial answered %s %s", *del.KeyId, *del.KeyMaterialId)
	}
	wantPendingImport(t, c, k, blob)
	_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/byok"), Plaintext: []byte("x")})
	wantMessage(t, err, "KMSInvalidStateException", "is pending import.")
	// Deleting again changes nothing.
	must[*awskms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.KeyId}))
	tags := must[*awskms.ListResourceTagsOutput](t)(c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: k.KeyId}))
	if len(tags.Tags) != 1 || *describe(t, c, "alias/byok").KeyId != *k.KeyId {
		t.Fatalf("tags %+v or alias lost", tags.Tags)
	}

	importMaterial(t, c, *k.KeyId, material, nil)
	dec := must[*awskms.DecryptOutput](t)(decryptWith(c, blob))
	if string(dec.Plaintext) != "before deletion" {
		t.Fatalf("decrypted %q", dec.Plaintext)
	}
}

// TestImportedMaterialNotInPlain scans the data dir and the server's logs
// for the imported material (raw, hex, base64), while the server runs and
// after it stops, and unseals the stored row to show it is sealed exactly
// like generated material.
func TestImportedMaterialNotInPlain(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuf
	ts := startServer(t, server.Config{DataDir: dir,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := ts.client(testRegion)
	k := createExternalKey(t, c)
	material := newMaterial(t)
	for _, alg := range []types.AlgorithmSpec{types.AlgorithmSpecRsaesOaepSha1, types.AlgorithmSpecRsaAesKeyWrapSha256} {
		p := getParams(t, c, *k.KeyId, alg, types.WrappingKeySpecRsa2048)
		must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, importInput(t, *k.KeyId, p, alg, material, nil)))
	}
	encryptWith(t, c, *k.KeyId, "x")
	checkNotInPlain(t, ts, dir, &logs, material)
	if raw := storedMaterial(t, dir, *k.KeyId); !bytes.Equal(raw, material) {
		t.Fatal("the stored material does not unseal to the imported one")
	}
}

// checkNotInPlain stops ts after checking, while it runs and after, that
// no secret (raw, in hex or in base64) is in a file of its data dir or in
// its logs.
func checkNotInPlain(t *testing.T, ts *testServer, dir string, logs *syncBuf, secrets ...[]byte) {
	t.Helper()
	var forms [][]byte
	for _, s := range secrets {
		forms = append(forms, s, []byte(hex.EncodeToString(s)), []byte(base64.StdEncoding.EncodeToString(s)))
	}
	scan := func(when string) {
		for path, b := range snapshot(t, dir) {
			for _, f := range forms {
				if bytes.Contains(b, f) {
					t.Errorf("%s: %s holds imported key material", when, path)
				}
			}
		}
		for _, f := range forms {
			if bytes.Contains(logs.bytes(), f) {
				t.Errorf("%s: the logs hold imported key material", when)
			}
		}
	}
	scan("while running")
	ts.stop()
	scan("after stop")
}

// storedMaterial unseals, from a stopped server's data dir, the one
// material stored for a key.
func storedMaterial(t *testing.T, dir, keyID string) []byte {
	t.Helper()
	sealer, err := seal.Open(seal.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.ListMaterials(ctx, keyID)
	if err != nil || len(ms) != 1 {
		t.Fatalf("materials: %+v, %v", ms, err)
	}
	raw, err := sealer.Open(ms[0].Sealed, []byte("kms-material\x00"+keyID+"\x00"+ms[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// syncBuf is a log sink the test can read while the server writes.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuf) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// TestImportConditionKeys checks the condition keys of the import
// operations: an IAM user may fetch only RSAES_OAEP_SHA_256 parameters with
// a 4096-bit key, and import only material that expires within 90 days.
func TestImportConditionKeys(t *testing.T) {
	ts := startServer(t, server.Config{})
	root := newIAMClient(ts.URL, rootCreds)
	rootKMS := ts.client(testRegion)
	k := createExternalKey(t, rootKMS)
	alice := kmsAs(ts.URL, createUserWithKey(t, root, "alice"))
	horizon := time.Now().Add(90 * dayDur).Unix()
	putUserPolicy(t, root, "alice", "import", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"kms:GetParametersForImport","Resource":"*","Condition":{"StringEquals":{
			"kms:WrappingAlgorithm":"RSAES_OAEP_SHA_256","kms:WrappingKeySpec":"RSA_4096"}}},
		{"Effect":"Allow","Action":"kms:ImportKeyMaterial","Resource":"*","Condition":{
			"StringEquals":{"kms:ExpirationModel":"KEY_MATERIAL_EXPIRES"},
			"NumericLessThanEquals":{"kms:ValidTo":"`+strconv.FormatInt(horizon, 10)+`"}}}]}`)

	_, err := alice.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: k.Arn,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha1, WrappingKeySpec: types.WrappingKeySpecRsa4096})
	wantMessage(t, err, "AccessDeniedException", "kms:GetParametersForImport")
	_, err = alice.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: k.Arn,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantCode(t, err, "AccessDeniedException")
	const alg = types.AlgorithmSpecRsaesOaepSha256
	p := getParams(t, alice, *k.Arn, alg, types.WrappingKeySpecRsa4096)

	material := newMaterial(t)
	_, err = alice.ImportKeyMaterial(ctx, importInput(t, *k.Arn, p, alg, material, nil))
	wantMessage(t, err, "AccessDeniedException", "kms:ImportKeyMaterial")
	_, err = alice.ImportKeyMaterial(ctx, importInput(t, *k.Arn, p, alg, material, aws.Time(time.Now().Add(100*dayDur))))
	wantCode(t, err, "AccessDeniedException")
	must[*awskms.ImportKeyMaterialOutput](t)(alice.ImportKeyMaterial(ctx, importInput(t, *k.Arn, p, alg, material, aws.Time(time.Now().Add(80*dayDur)))))
	// Deleting is another permission.
	_, err = alice.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.Arn})
	wantMessage(t, err, "AccessDeniedException", "kms:DeleteImportedKeyMaterial")
}

// TestImportRotation rotates a key with imported material on demand: new
// material imported with ImportType NEW_KEY_MATERIAL waits pending until
// RotateKeyOnDemand makes it current, and old ciphertexts keep decrypting.
func TestImportRotation(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := createExternalKey(t, c)
	alg := types.AlgorithmSpecRsaesOaepSha256
	rotate := func() error {
		_, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId})
		return err
	}
	importNew := func(material []byte, validTo *time.Time) (*awskms.ImportKeyMaterialOutput, error) {
		p := getParams(t, c, *k.KeyId, alg, types.WrappingKeySpecRsa2048)
		in := importInput(t, *k.KeyId, p, alg, material, validTo)
		in.ImportType = types.ImportTypeNewKeyMaterial
		return c.ImportKeyMaterial(ctx, in)
	}
	listAll := func() []types.RotationsListEntry {
		return must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{
			KeyId: k.KeyId, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})).Rotations
	}

	m0 := newMaterial(t)
	id0 := *importMaterial(t, c, *k.KeyId, m0, nil).KeyMaterialId
	c0 := encryptWith(t, c, *k.KeyId, "under M0")
	wantMessage(t, rotate(), "UnsupportedOperationException", "has no key material pending rotation")

	m1 := newMaterial(t)
	out := must[*awskms.ImportKeyMaterialOutput](t)(importNew(m1, nil))
	id1 := *out.KeyMaterialId
	if id1 == id0 {
		t.Fatal("new material has the id of the old")
	}
	// Pending: the key is unchanged, and the material is listed only with ALL_KEY_MATERIAL.
	if m := describe(t, c, *k.KeyId); *m.CurrentKeyMaterialId != id0 || m.KeyState != types.KeyStateEnabled {
		t.Fatalf("after importing pending material: material %s, state %s", *m.CurrentKeyMaterialId, m.KeyState)
	}
	all := listAll()
	if len(all) != 2 || *all[0].KeyMaterialId != id0 || all[0].KeyMaterialState != types.KeyMaterialStateCurrent ||
		all[0].ImportState != types.ImportStateImported ||
		all[0].ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire ||
		*all[1].KeyMaterialId != id1 || all[1].KeyMaterialState != types.KeyMaterialStatePendingRotation ||
		all[1].ImportState != types.ImportStateImported || all[1].RotationType != "" || all[1].RotationDate != nil {
		t.Fatalf("ListKeyRotations ALL_KEY_MATERIAL with pending material: %+v", all)
	}
	if rot := must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: k.KeyId})); len(rot.Rotations) != 0 {
		t.Fatalf("ListKeyRotations ROTATIONS_ONLY with pending material: %+v", rot.Rotations)
	}
	// One pending material at a time.
	_, err := importNew(newMaterial(t), nil)
	wantMessage(t, err, "ValidationException", "pending rotation")

	if err := rotate(); err != nil {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	if m := describe(t, c, *k.KeyId); *m.CurrentKeyMaterialId != id1 || m.KeyState != types.KeyStateEnabled {
		t.Fatalf("after rotation: material %s, state %s", *m.CurrentKeyMaterialId, m.KeyState)
	}
	c1 := encryptWith(t, c, *k.KeyId, "under M1")
	for i, tc := range []struct {
		blob       []byte
		plain, mid string
	}{{c0, "under M0", id0}, {c1, "under M1", id1}} {
		d := must[*awskms.DecryptOutput](t)(decryptWith(c, tc.blob))
		if string(d.Plaintext) != tc.plain || *d.KeyMaterialId != tc.mid {
			t.Fatalf("ciphertext %d: %q with material %s, want %q with %s", i, d.Plaintext, *d.KeyMaterialId, tc.plain, tc.mid)
		}
	}
	all = listAll()
	if len(all) != 2 || all[0].KeyMaterialState != types.KeyMaterialStateNonCurrent ||
		*all[1].KeyMaterialId != id1 || all[1].KeyMaterialState != types.KeyMaterialStateCurrent ||
		all[1].RotationType != types.RotationTypeOnDemand || all[1].RotationDate == nil {
		t.Fatalf("ListKeyRotations ALL_KEY_MATERIAL after rotation: %+v", all)
	}

	// Nothing pending any more.
	wantMessage(t, rotate(), "UnsupportedOperationException", "has no key material pending rotation")
	// Imported keys never rotate automatically.
	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: k.KeyId})
	wantMessage(t, err, "UnsupportedOperationException", "origin is EXTERNAL")
	// Material the key had before cannot come back as new material.
	for _, m := range [][]byte{m0, m1} {
		_, err = importNew(m, nil)
		wantCode(t, err, "IncorrectKeyMaterialException")
	}
	// KeyMaterialId is not allowed with NEW_KEY_MATERIAL.
	p := getParams(t, c, *k.KeyId, alg, types.WrappingKeySpecRsa2048)
	in := importInput(t, *k.KeyId, p, alg, newMaterial(t), nil)
	in.ImportType, in.KeyMaterialId = types.ImportTypeNewKeyMaterial, aws.String(id1)
	_, err = c.ImportKeyMaterial(ctx, in)
	wantCode(t, err, "ValidationException")

	// Pending material can be deleted; the key keeps its current material.
	id2 := *must[*awskms.ImportKeyMaterialOutput](t)(importNew(newMaterial(t), nil)).KeyMaterialId
	del := must[*awskms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx,
		&awskms.DeleteImportedKeyMaterialInput{KeyId: k.KeyId, KeyMaterialId: aws.String(id2)}))
	if *del.KeyMaterialId != id2 {
		t.Fatalf("DeleteImportedKeyMaterial of pending material answered %s", *del.KeyMaterialId)
	}
	if m := describe(t, c, *k.KeyId); *m.CurrentKeyMaterialId != id1 || m.KeyState != types.KeyStateEnabled {
		t.Fatalf("after deleting pending material: material %s, state %s", *m.CurrentKeyMaterialId, m.KeyState)
	}
	wantMessage(t, rotate(), "UnsupportedOperationException", "has no key material pending rotation")

	// Pending material does not expire, so rotating a key whose material
	// expires leaves it without expiry.
	e := createExternalKey(t, c)
	importMaterial(t, c, *e.KeyId, newMaterial(t), aws.Time(time.Now().Add(10*dayDur)))
	p = getParams(t, c, *e.KeyId, alg, types.WrappingKeySpecRsa2048)
	in = importInput(t, *e.KeyId, p, alg, newMaterial(t), nil)
	in.ImportType = types.ImportTypeNewKeyMaterial
	pe := must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, in))
	if m := describe(t, c, *e.KeyId); m.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || m.ValidTo == nil {
		t.Fatalf("expiring key after importing pending material: %s %v", m.ExpirationModel, m.ValidTo)
	}
	must[*awskms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: e.KeyId}))
	if m := describe(t, c, *e.KeyId); *m.CurrentKeyMaterialId != *pe.KeyMaterialId ||
		m.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || m.ValidTo != nil {
		t.Fatalf("expiring key after rotation: material %s, %s %v", *m.CurrentKeyMaterialId, m.ExpirationModel, m.ValidTo)
	}
}
