package server_test

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/server"
)

func TestEncryptDecrypt(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	other := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	ec := map[string]string{"tenant": "acme", "purpose": "test"}
	plain := bytes.Repeat([]byte("secret!"), 586)[:4096]
	enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: plain, EncryptionContext: ec}))
	if *enc.KeyId != *k.Arn || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault || len(enc.CiphertextBlob) > 6144 {
		t.Fatalf("encrypt output %+v (blob %d bytes)", enc, len(enc.CiphertextBlob))
	}
	for _, keyID := range []*string{nil, k.KeyId, k.Arn} {
		dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: keyID}))
		if !bytes.Equal(dec.Plaintext, plain) || *dec.KeyId != *k.Arn || *dec.KeyMaterialId != *k.CurrentKeyMaterialId {
			t.Fatalf("decrypt with KeyId %v: %+v", keyID, dec)
		}
	}
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name string
		in   awskms.DecryptInput
		code string
	}{
		{"no context", awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}, "InvalidCiphertextException"},
		{"other context", awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "acme", "purpose": "Test"}}, "InvalidCiphertextException"},
		{"extra pair", awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "acme", "purpose": "test", "x": ""}}, "InvalidCiphertextException"},
		{"tampered", awskms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec}, "InvalidCiphertextException"},
		{"truncated", awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob[:40], EncryptionContext: ec}, "InvalidCiphertextException"},
		{"garbage", awskms.DecryptInput{CiphertextBlob: []byte("hello")}, "InvalidCiphertextException"},
		{"wrong key", awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: other.KeyId}, "IncorrectKeyException"},
		{"bad algorithm", awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256}, "InvalidKeyUsageException"},
		{"empty blob", awskms.DecryptInput{CiphertextBlob: []byte{}}, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Decrypt(ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}
	// The context encoding is unambiguous: {"ab":"c"} is not {"a":"bc"}.
	amb := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"ab": "c"}}))
	_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: amb.CiphertextBlob, EncryptionContext: map[string]string{"a": "bc"}})
	wantCode(t, err, "InvalidCiphertextException")

	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: make([]byte, 4097)})
	wantMessage(t, err, "ValidationException", "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	wantCode(t, err, "InvalidKeyUsageException")
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	// A ciphertext from another region does not decrypt there.
	_, err = ts.client("eu-west-1").Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")
}

func TestReEncrypt(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k1 := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	k2 := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("move me"), EncryptionContext: map[string]string{"a": "1"}}))
	re := must[*awskms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &awskms.ReEncryptInput{
		CiphertextBlob:               enc.CiphertextBlob,
		SourceEncryptionContext:      map[string]string{"a": "1"},
		DestinationKeyId:             k2.KeyId,
		DestinationEncryptionContext: map[string]string{"b": "2"},
	}))
	if *re.SourceKeyId != *k1.Arn || *re.KeyId != *k2.Arn || *re.SourceKeyMaterialId != *k1.CurrentKeyMaterialId || *re.DestinationKeyMaterialId != *k2.CurrentKeyMaterialId {
		t.Fatalf("ReEncrypt output %+v", re)
	}
	dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"b": "2"}}))
	if string(dec.Plaintext) != "move me" || *dec.KeyId != *k2.Arn {
		t.Fatalf("decrypt after ReEncrypt: %+v", dec)
	}
	_, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: k2.KeyId})
	wantCode(t, err, "InvalidCiphertextException")
	_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: map[string]string{"a": "1"}, SourceKeyId: k2.KeyId, DestinationKeyId: k2.KeyId})
	wantCode(t, err, "IncorrectKeyException")
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: k2.KeyId}))
	_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: map[string]string{"a": "1"}, DestinationKeyId: k2.KeyId})
	wantCode(t, err, "DisabledException")
}

func TestGenerateDataKey(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	ec := map[string]string{"file": "a.txt"}
	for _, tc := range []struct {
		in   awskms.GenerateDataKeyInput
		size int
	}{
		{awskms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
		{awskms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
		{awskms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(1)}, 1},
		{awskms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(1024)}, 1024},
	} {
		tc.in.KeyId, tc.in.EncryptionContext = k.KeyId, ec
		out := must[*awskms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &tc.in))
		if len(out.Plaintext) != tc.size || *out.KeyId != *k.Arn || *out.KeyMaterialId != *k.CurrentKeyMaterialId {
			t.Fatalf("GenerateDataKey %+v: %d bytes, key %s", tc.in, len(out.Plaintext), *out.KeyId)
		}
		dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec}))
		if !bytes.Equal(dec.Plaintext, out.Plaintext) {
			t.Fatal("data key does not decrypt to its plaintext")
		}
	}
	for _, tc := range []struct {
		in  awskms.GenerateDataKeyInput
		msg string
	}{
		{awskms.GenerateDataKeyInput{KeyId: k.KeyId}, "Please specify either number of bytes or key spec."},
		{awskms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)}, "Please specify either"},
		{awskms.GenerateDataKeyInput{KeyId: k.KeyId, NumberOfBytes: aws.Int32(1025)}, "Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
		{awskms.GenerateDataKeyInput{KeyId: k.KeyId, NumberOfBytes: aws.Int32(0)}, "greater than or equal to 1"},
		{awskms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: "AES_512"}, "at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"},
	} {
		_, err := c.GenerateDataKey(ctx, &tc.in)
		wantMessage(t, err, "ValidationException", tc.msg)
	}
	wp := must[*awskms.GenerateDataKeyWithoutPlaintextOutput](t)(c.GenerateDataKeyWithoutPlaintext(ctx, &awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256}))
	dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: wp.CiphertextBlob}))
	if len(dec.Plaintext) != 32 || *wp.KeyId != *k.Arn {
		t.Fatalf("GenerateDataKeyWithoutPlaintext: %d bytes", len(dec.Plaintext))
	}
}

func TestGenerateRandom(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	a := must[*awskms.GenerateRandomOutput](t)(c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(1024)}))
	b := must[*awskms.GenerateRandomOutput](t)(c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(1024)}))
	if len(a.Plaintext) != 1024 || bytes.Equal(a.Plaintext, b.Plaintext) {
		t.Fatal("GenerateRandom gave short or repeated output")
	}
	_, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{})
	wantMessage(t, err, "ValidationException", "NumberOfBytes is required.")
	_, err = c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
	wantMessage(t, err, "ValidationException", "Member must have value less than or equal to 1024")
	_, err = c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(0)})
	wantMessage(t, err, "ValidationException", "Member must have value greater than or equal to 1")
}

// TestDryRunIgnoringCiphertext: Decrypt and ReEncrypt with DryRun and
// DryRunModifiers IGNORE_CIPHERTEXT check the permissions on the key the
// request names, without a ciphertext.
func TestDryRunIgnoringCiphertext(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	other := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	ignore := []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}
	decrypt := func(c *awskms.Client, keyID *string, dryRun bool, mods []types.DryRunModifierType) error {
		_, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: keyID, DryRun: aws.Bool(dryRun), DryRunModifiers: mods})
		return err
	}
	wantCode(t, decrypt(c, k.KeyId, true, ignore), "DryRunOperationException")
	wantCode(t, decrypt(c, aws.String(*k.Arn), true, ignore), "DryRunOperationException")
	wantMessage(t, decrypt(c, nil, true, ignore), "ValidationException", "KeyId is required")
	// The modifier needs DryRun; without it the ciphertext is required.
	wantMessage(t, decrypt(c, k.KeyId, false, ignore), "ValidationException", "'ciphertextBlob'")
	wantMessage(t, decrypt(c, k.KeyId, true, nil), "ValidationException", "'ciphertextBlob'")
	_, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{SourceKeyId: k.KeyId, DestinationKeyId: other.KeyId,
		DryRun: aws.Bool(true), DryRunModifiers: ignore})
	wantCode(t, err, "DryRunOperationException")

	// The key's state and the caller's permissions still count.
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: other.KeyId}))
	wantCode(t, decrypt(c, other.KeyId, true, ignore), "DisabledException")
	root := newIAMClient(ts.URL, rootCreds)
	alice := kmsAs(ts.URL, createUserWithKey(t, root, "alice"))
	wantCode(t, decrypt(alice, k.KeyId, true, ignore), "AccessDeniedException")
	putUserPolicy(t, root, "alice", "decrypt", allowDoc("kms:Decrypt", *k.Arn))
	wantCode(t, decrypt(alice, k.KeyId, true, ignore), "DryRunOperationException")
}
