package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/server"
)

// HMAC keys end to end: GenerateMac and VerifyMac for every HMAC key spec,
// and the rules that keep MAC keys and the other keys apart.

var macSpecs = []struct {
	spec types.KeySpec
	alg  types.MacAlgorithmSpec
	size int
	hash func() hash.Hash
}{
	{types.KeySpecHmac224, types.MacAlgorithmSpecHmacSha224, 28, sha256.New224},
	{types.KeySpecHmac256, types.MacAlgorithmSpecHmacSha256, 32, sha256.New},
	{types.KeySpecHmac384, types.MacAlgorithmSpecHmacSha384, 48, sha512.New384},
	{types.KeySpecHmac512, types.MacAlgorithmSpecHmacSha512, 64, sha512.New},
}

func TestGenerateVerifyMac(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	msg := []byte(`{"sub":"alice","exp":1767225600}`)
	keys := map[types.KeySpec]*types.KeyMetadata{}
	for _, tc := range macSpecs {
		t.Run(string(tc.spec), func(t *testing.T) {
			k := createKey(t, c, tc.spec, types.KeyUsageTypeGenerateVerifyMac)
			keys[tc.spec] = k
			out := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: tc.alg}))
			if len(out.Mac) != tc.size || *out.KeyId != *k.Arn || out.MacAlgorithm != tc.alg {
				t.Fatalf("GenerateMac: %d-byte MAC, key %s, algorithm %s", len(out.Mac), *out.KeyId, out.MacAlgorithm)
			}
			// HMAC is deterministic, keyed and message-bound. The key never
			// leaves the server, so all we can check here is that the MAC
			// is none of the things a keyless or empty-keyed server would
			// give.
			again := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: k.Arn, Message: msg, MacAlgorithm: tc.alg}))
			if !bytes.Equal(again.Mac, out.Mac) {
				t.Fatal("two MACs of one message differ")
			}
			other := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: k.KeyId, Message: append(bytes.Clone(msg), ' '), MacAlgorithm: tc.alg}))
			if bytes.Equal(other.Mac, out.Mac) {
				t.Fatal("two messages, one MAC")
			}
			plain := tc.hash()
			plain.Write(msg)
			emptyKey := hmac.New(tc.hash, nil)
			emptyKey.Write(msg)
			if bytes.Equal(out.Mac, plain.Sum(nil)) || bytes.Equal(out.Mac, emptyKey.Sum(nil)) {
				t.Fatal("the MAC is computable without the key")
			}
			twin := createKey(t, c, tc.spec, types.KeyUsageTypeGenerateVerifyMac)
			if tm := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: twin.KeyId, Message: msg, MacAlgorithm: tc.alg})); bytes.Equal(tm.Mac, out.Mac) {
				t.Fatal("two keys, one MAC")
			}

			v := must[*awskms.VerifyMacOutput](t)(c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: tc.alg, Mac: out.Mac}))
			if !v.MacValid || *v.KeyId != *k.Arn || v.MacAlgorithm != tc.alg {
				t.Fatalf("VerifyMac output %+v", v)
			}
			for name, mac := range map[string][]byte{
				"flipped bit":   flip(out.Mac, len(out.Mac)-1),
				"truncated":     out.Mac[:len(out.Mac)-1],
				"extended":      append(bytes.Clone(out.Mac), 0),
				"other message": other.Mac,
			} {
				_, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: tc.alg, Mac: mac})
				if err == nil {
					t.Fatalf("VerifyMac accepted a MAC with %s", name)
				}
				wantEmptyMessage(t, err, "KMSInvalidMacException")
			}
			_, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: twin.KeyId, Message: msg, MacAlgorithm: tc.alg, Mac: out.Mac})
			wantEmptyMessage(t, err, "KMSInvalidMacException")
		})
	}

	// The largest message.
	longest := bytes.Repeat([]byte{0xa5}, 4096)
	h256 := keys[types.KeySpecHmac256]
	mac := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: h256.KeyId, Message: longest, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})).Mac
	if v := must[*awskms.VerifyMacOutput](t)(c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: h256.KeyId, Message: longest, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Mac: mac})); !v.MacValid {
		t.Fatal("a 4096-byte message")
	}
	// Aliases.
	must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/tokens"), TargetKeyId: h256.KeyId}))
	viaAlias := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String("alias/tokens"), Message: longest, MacAlgorithm: types.MacAlgorithmSpecHmacSha256}))
	if *viaAlias.KeyId != *h256.Arn || !bytes.Equal(viaAlias.Mac, mac) {
		t.Fatalf("GenerateMac through an alias: key %s", *viaAlias.KeyId)
	}

	h224 := keys[types.KeySpecHmac224]
	sym := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	signing := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	for _, tc := range []struct {
		name string
		key  *types.KeyMetadata
		msg  []byte
		alg  types.MacAlgorithmSpec
		code string
		text string // %s is the operation
	}{
		{"other algorithm", h224, msg, types.MacAlgorithmSpecHmacSha256, "InvalidKeyUsageException", "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."},
		{"longer algorithm", h256, msg, types.MacAlgorithmSpecHmacSha512, "InvalidKeyUsageException", "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256."},
		{"encryption key", sym, msg, types.MacAlgorithmSpecHmacSha256, "InvalidKeyUsageException", *sym.Arn + " key usage is ENCRYPT_DECRYPT which is not valid for %s."},
		{"signing key", signing, msg, types.MacAlgorithmSpecHmacSha256, "InvalidKeyUsageException", *signing.Arn + " key usage is SIGN_VERIFY which is not valid for %s."},
		{"message too long", h256, make([]byte, 4097), types.MacAlgorithmSpecHmacSha256, "ValidationException", "Member must have length less than or equal to 4096"},
		{"empty message", h256, []byte{}, types.MacAlgorithmSpecHmacSha256, "ValidationException", "Member must have length greater than or equal to 1"},
		{"unknown algorithm", h256, msg, "HMAC_SHA_1", "ValidationException", "Value 'HMAC_SHA_1' at 'macAlgorithm' failed to satisfy constraint: Member must satisfy enum value set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: tc.key.KeyId, Message: tc.msg, MacAlgorithm: tc.alg})
			wantMessage(t, err, tc.code, strings.ReplaceAll(tc.text, "%s", "GenerateMac"))
			_, err = c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: tc.key.KeyId, Message: tc.msg, MacAlgorithm: tc.alg, Mac: make([]byte, 32)})
			wantMessage(t, err, tc.code, strings.ReplaceAll(tc.text, "%s", "VerifyMac"))
		})
	}

	_, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: h256.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Mac: make([]byte, 6145)})
	wantMessage(t, err, "ValidationException", "Member must have length less than or equal to 6144")

	// HMAC keys do nothing else, and do not rotate.
	for op, call := range map[string]func() error{
		"Encrypt": func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: h256.KeyId, Plaintext: msg})
			return err
		},
		"GenerateDataKey": func() error {
			_, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: h256.KeyId, KeySpec: types.DataKeySpecAes256})
			return err
		},
		"Sign": func() error {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: h256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		},
	} {
		wantMessage(t, call(), "InvalidKeyUsageException", *h256.Arn+" key usage is GENERATE_VERIFY_MAC which is not valid for "+op+".")
	}
	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: h256.KeyId})
	wantCode(t, err, "UnsupportedOperationException")

	// DryRun, disabled and pending deletion.
	_, err = c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: h256.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	_, err = c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: h256.KeyId, Message: longest, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Mac: mac, DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: h256.KeyId}))
	_, err = c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: h256.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantMessage(t, err, "DisabledException", *h256.Arn+" is disabled.")
	_, err = c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: h256.KeyId, Message: longest, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Mac: mac})
	wantCode(t, err, "DisabledException")
	must[*awskms.EnableKeyOutput](t)(c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: h256.KeyId}))
	if v, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: h256.KeyId, Message: longest, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Mac: mac}); err != nil || !v.MacValid {
		t.Fatalf("VerifyMac after EnableKey: %v", err)
	}
	must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: h224.KeyId, PendingWindowInDays: aws.Int32(7)}))
	_, err = c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: h224.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha224})
	wantMessage(t, err, "KMSInvalidStateException", *h224.Arn+" is pending deletion.")
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x01
	return b
}

// TestMacAuthorization: GenerateMac and VerifyMac are separate
// permissions, each can be granted, and a key policy can require the MAC
// algorithm.
func TestMacAuthorization(t *testing.T) {
	ts := startServer(t, server.Config{})
	root := newIAMClient(ts.URL, rootCreds)
	owner := ts.client(testRegion)
	k := createKey(t, owner, types.KeySpecHmac384, types.KeyUsageTypeGenerateVerifyMac)
	msg := []byte("session 42")
	mac := must[*awskms.GenerateMacOutput](t)(owner.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha384})).Mac
	generate := func(c *awskms.Client, tokens ...string) error {
		_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: k.Arn, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha384, GrantTokens: tokens})
		return err
	}
	verify := func(c *awskms.Client, tokens ...string) error {
		_, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: k.Arn, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha384, Mac: mac, GrantTokens: tokens})
		return err
	}

	// IAM: a verifier that cannot mint.
	checker := kmsAs(ts.URL, createUserWithKey(t, root, "checker"))
	putUserPolicy(t, root, "checker", "verify", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:VerifyMac","Resource":"*",
		"Condition":{"StringEquals":{"kms:MacAlgorithm":"HMAC_SHA_384"}}}]}`)
	if err := verify(checker); err != nil {
		t.Fatalf("VerifyMac allowed by IAM: %v", err)
	}
	wantMessage(t, generate(checker), "AccessDeniedException", "kms:GenerateMac")

	// Grants: one for minting, one for checking.
	const minterARN = "arn:aws:iam::111122223333:user/minter"
	minter := kmsAs(ts.URL, createUserWithKey(t, root, "minter"))
	wantCode(t, generate(minter), "AccessDeniedException")
	g := must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(minterARN),
		Operations: []types.GrantOperation{types.GrantOperationGenerateMac}}))
	if err := generate(minter, *g.GrantToken); err != nil {
		t.Fatalf("GenerateMac through a grant: %v", err)
	}
	wantCode(t, verify(minter), "AccessDeniedException")
	must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(minterARN),
		Operations: []types.GrantOperation{types.GrantOperationVerifyMac}}))
	if err := verify(minter); err != nil {
		t.Fatalf("VerifyMac through a grant: %v", err)
	}
	wantCode(t, func() error {
		_, err := minter.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: k.Arn, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha384, DryRun: aws.Bool(true)})
		return err
	}(), "DryRunOperationException")
	// A MAC key has no public key to grant, nor encryption.
	_, err := owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(minterARN),
		Operations: []types.GrantOperation{types.GrantOperationGetPublicKey}})
	wantCode(t, err, "ValidationException")
	_, err = owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(minterARN),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	wantCode(t, err, "ValidationException")
}
