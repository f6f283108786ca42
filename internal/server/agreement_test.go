package server_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	gmsmecdh "github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/openkms/kms/internal/server"
)

// DeriveSharedSecret end to end: the server's half of an ECDH agreement
// must equal the peer's half, computed here with crypto/ecdh (gmsm for
// SM2) and with openssl from nothing but GetPublicKey's output.

// ecdhPeer is the other party of a key agreement: a key pair made here and
// its SubjectPublicKeyInfo, as DeriveSharedSecret takes it.
type ecdhPeer struct {
	priv *ecdh.PrivateKey
	spki []byte
}

func newECDHPeer(curve ecdh.Curve) (*ecdhPeer, error) {
	priv, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(priv.PublicKey())
	if err != nil {
		return nil, err
	}
	return &ecdhPeer{priv, spki}, nil
}

// kmsECDHKey parses a NIST KEY_AGREEMENT key's public key for crypto/ecdh.
func kmsECDHKey(t testing.TB, spec types.KeySpec, der []byte) *ecdh.PublicKey {
	t.Helper()
	k, err := parsePublicKey(spec, der)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.(*ecdsa.PublicKey).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestDeriveSharedSecret(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	derive := func(keyID *string, peer []byte) (*awskms.DeriveSharedSecretOutput, error) {
		return c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: keyID, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer})
	}
	keys := map[types.KeySpec]*types.KeyMetadata{}
	for _, tc := range []struct {
		spec  types.KeySpec
		curve ecdh.Curve
		size  int
	}{
		{types.KeySpecEccNistP256, ecdh.P256(), 32},
		{types.KeySpecEccNistP384, ecdh.P384(), 48},
		{types.KeySpecEccNistP521, ecdh.P521(), 66},
	} {
		t.Run(string(tc.spec), func(t *testing.T) {
			k := createKey(t, c, tc.spec, types.KeyUsageTypeKeyAgreement)
			keys[tc.spec] = k
			pk := must[*awskms.GetPublicKeyOutput](t)(c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: k.KeyId}))
			if pk.KeyUsage != types.KeyUsageTypeKeyAgreement {
				t.Fatalf("GetPublicKey KeyUsage %s", pk.KeyUsage)
			}
			checkAlgorithms(t, algorithmLists(pk.EncryptionAlgorithms, pk.SigningAlgorithms, nil, pk.KeyAgreementAlgorithms), tc.spec, types.KeyUsageTypeKeyAgreement, []string{"ECDH"})
			kmsPub := kmsECDHKey(t, tc.spec, pk.PublicKey)

			var secrets [][]byte
			for range 2 {
				peer, err := newECDHPeer(tc.curve)
				if err != nil {
					t.Fatal(err)
				}
				out := must[*awskms.DeriveSharedSecretOutput](t)(derive(k.KeyId, peer.spki))
				if *out.KeyId != *k.Arn || out.KeyAgreementAlgorithm != types.KeyAgreementAlgorithmSpecEcdh || out.KeyOrigin != types.OriginTypeAwsKms || len(out.SharedSecret) != tc.size {
					t.Fatalf("DeriveSharedSecret: key %s, algorithm %s, origin %s, %d-byte secret", *out.KeyId, out.KeyAgreementAlgorithm, out.KeyOrigin, len(out.SharedSecret))
				}
				local, err := peer.priv.ECDH(kmsPub)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.SharedSecret, local) {
					t.Fatal("the server's shared secret is not the peer's")
				}
				again := must[*awskms.DeriveSharedSecretOutput](t)(derive(k.Arn, peer.spki))
				if !bytes.Equal(again.SharedSecret, local) {
					t.Fatal("a second DeriveSharedSecret with the same peer gave another secret")
				}
				secrets = append(secrets, local)
			}
			if bytes.Equal(secrets[0], secrets[1]) {
				t.Fatal("two peers, one secret")
			}
		})
	}

	t.Run("SM2", func(t *testing.T) {
		k := createKey(t, c, types.KeySpecSm2, types.KeyUsageTypeKeyAgreement)
		keys[types.KeySpecSm2] = k
		pk, err := parsePublicKey(types.KeySpecSm2, publicKeyDER(t, c, k.KeyId))
		if err != nil {
			t.Fatal(err)
		}
		kmsPub, err := sm2.PublicKeyToECDH(pk.(*ecdsa.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		peer, err := gmsmecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		spki, err := smx509.MarshalPKIXPublicKey(peer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		out := must[*awskms.DeriveSharedSecretOutput](t)(derive(k.KeyId, spki))
		local, err := peer.ECDH(kmsPub)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.SharedSecret) != 32 || !bytes.Equal(out.SharedSecret, local) || out.KeyOrigin != types.OriginTypeAwsKms {
			t.Fatalf("SM2 ECDH: %d-byte secret, equal to the peer's: %v", len(out.SharedSecret), bytes.Equal(out.SharedSecret, local))
		}
		// A NIST P-256 peer is on another curve.
		p256, err := newECDHPeer(ecdh.P256())
		if err != nil {
			t.Fatal(err)
		}
		_, err = derive(k.KeyId, p256.spki)
		wantCode(t, err, "ValidationException")
		// And an SM2 peer is not on P-256.
		_, err = derive(keys[types.KeySpecEccNistP256].KeyId, spki)
		wantCode(t, err, "ValidationException")
	})

	t.Run("openssl", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Fatal("openssl is needed for this test and is not on PATH")
		}
		dir := t.TempDir()
		for _, tc := range []struct {
			spec  types.KeySpec
			curve ecdh.Curve
		}{{types.KeySpecEccNistP256, ecdh.P256()}, {types.KeySpecEccNistP384, ecdh.P384()}, {types.KeySpecEccNistP521, ecdh.P521()}} {
			k := keys[tc.spec]
			peer, err := newECDHPeer(tc.curve)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := x509.MarshalPKCS8PrivateKey(peer.priv)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "peer.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600)
			os.WriteFile(filepath.Join(dir, "kms.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicKeyDER(t, c, k.KeyId)}), 0o600)
			cmd := exec.Command("openssl", "pkeyutl", "-derive", "-inkey", "peer.pem", "-peerkey", "kms.pem", "-out", "secret.bin")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("openssl pkeyutl -derive: %v\n%s", err, out)
			}
			want, _ := os.ReadFile(filepath.Join(dir, "secret.bin"))
			got := must[*awskms.DeriveSharedSecretOutput](t)(derive(k.KeyId, peer.spki)).SharedSecret
			if len(want) == 0 || !bytes.Equal(got, want) {
				t.Fatalf("%s: openssl derived another secret", tc.spec)
			}
		}
	})

	p256 := keys[types.KeySpecEccNistP256]
	p384Peer, err := newECDHPeer(ecdh.P384())
	if err != nil {
		t.Fatal(err)
	}
	p256Peer, err := newECDHPeer(ecdh.P256())
	if err != nil {
		t.Fatal(err)
	}
	// An off-curve point: the peer's own SPKI with y changed; crypto/x509
	// refuses it too.
	offCurve := bytes.Clone(p256Peer.spki)
	offCurve[len(offCurve)-1] ^= 0x01
	if _, err := x509.ParsePKIXPublicKey(offCurve); err == nil {
		t.Fatal("the hand-made point is on the curve after all")
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edSPKI, _ := x509.MarshalPKIXPublicKey(edPub)
	x25519, err := newECDHPeer(ecdh.X25519())
	if err != nil {
		t.Fatal(err)
	}
	signing := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	sym := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	mac := createKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	for _, tc := range []struct {
		name string
		in   awskms.DeriveSharedSecretInput
		code string
		msg  string
	}{
		{"peer on another curve", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: p384Peer.spki}, "ValidationException", ""},
		{"off-curve point", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: offCurve}, "ValidationException", ""},
		{"garbage", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: []byte("not a public key")}, "ValidationException", ""},
		{"raw point without SPKI", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: p256Peer.priv.PublicKey().Bytes()}, "ValidationException", ""},
		{"Ed25519 key", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: edSPKI}, "ValidationException", ""},
		{"X25519 key", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: x25519.spki}, "ValidationException", ""},
		{"empty key", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: []byte{}}, "ValidationException", "Member must have length greater than or equal to 1"},
		{"key too long", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: make([]byte, 8193)}, "ValidationException", "Member must have length less than or equal to 8192"},
		{"other algorithm", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: p256Peer.spki, KeyAgreementAlgorithm: "ECDHE"}, "ValidationException",
			"Value 'ECDHE' at 'keyAgreementAlgorithm' failed to satisfy constraint: Member must satisfy enum value set"},
		{"signing key", awskms.DeriveSharedSecretInput{KeyId: signing.KeyId, PublicKey: p256Peer.spki}, "InvalidKeyUsageException",
			*signing.Arn + " key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret."},
		{"symmetric key", awskms.DeriveSharedSecretInput{KeyId: sym.KeyId, PublicKey: p256Peer.spki}, "InvalidKeyUsageException",
			*sym.Arn + " key usage is ENCRYPT_DECRYPT which is not valid for DeriveSharedSecret."},
		{"HMAC key", awskms.DeriveSharedSecretInput{KeyId: mac.KeyId, PublicKey: p256Peer.spki}, "InvalidKeyUsageException",
			*mac.Arn + " key usage is GENERATE_VERIFY_MAC which is not valid for DeriveSharedSecret."},
		{"dry run", awskms.DeriveSharedSecretInput{KeyId: p256.KeyId, PublicKey: p256Peer.spki, DryRun: aws.Bool(true)}, "DryRunOperationException", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.KeyAgreementAlgorithm == "" {
				tc.in.KeyAgreementAlgorithm = types.KeyAgreementAlgorithmSpecEcdh
			}
			_, err := c.DeriveSharedSecret(ctx, &tc.in)
			wantMessage(t, err, tc.code, tc.msg)
		})
	}

	// Key agreement keys do nothing else.
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: p256.KeyId, Message: []byte("x"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantMessage(t, err, "InvalidKeyUsageException", *p256.Arn+" key usage is KEY_AGREEMENT which is not valid for Sign.")
	sm2Key := keys[types.KeySpecSm2]
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sm2Key.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke})
	wantMessage(t, err, "InvalidKeyUsageException", *sm2Key.Arn+" key usage is KEY_AGREEMENT which is not valid for Encrypt.")
	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: p256.KeyId})
	wantCode(t, err, "UnsupportedOperationException")

	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: p256.KeyId}))
	_, err = derive(p256.KeyId, p256Peer.spki)
	wantMessage(t, err, "DisabledException", *p256.Arn+" is disabled.")
}

// TestDeriveSharedSecretAuthorization: DeriveSharedSecret is its own
// permission, and a grant hands it out with GetPublicKey.
func TestDeriveSharedSecretAuthorization(t *testing.T) {
	ts := startServer(t, server.Config{})
	root := newIAMClient(ts.URL, rootCreds)
	owner := ts.client(testRegion)
	k := createKey(t, owner, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	peer, err := newECDHPeer(ecdh.P256())
	if err != nil {
		t.Fatal(err)
	}
	derive := func(c *awskms.Client, dryRun bool) error {
		_, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: k.Arn, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh,
			PublicKey: peer.spki, DryRun: aws.Bool(dryRun)})
		return err
	}

	// An IAM policy with the key agreement algorithm as condition.
	alice := kmsAs(ts.URL, createUserWithKey(t, root, "alice"))
	wantMessage(t, derive(alice, false), "AccessDeniedException", "kms:DeriveSharedSecret")
	putUserPolicy(t, root, "alice", "ecdh", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:DeriveSharedSecret","Resource":"*",
		"Condition":{"StringEquals":{"kms:KeyAgreementAlgorithm":"ECDH"}}}]}`)
	if err := derive(alice, false); err != nil {
		t.Fatalf("DeriveSharedSecret allowed by IAM: %v", err)
	}
	wantCode(t, derive(alice, true), "DryRunOperationException")
	_, err = alice.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: k.Arn})
	wantCode(t, err, "AccessDeniedException")

	// A grant.
	bob := kmsAs(ts.URL, createUserWithKey(t, root, "bob"))
	wantCode(t, derive(bob, false), "AccessDeniedException")
	g := must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String("arn:aws:iam::111122223333:user/bob"),
		Operations: []types.GrantOperation{types.GrantOperationDeriveSharedSecret, types.GrantOperationGetPublicKey}}))
	if err := derive(bob, false); err != nil {
		t.Fatalf("DeriveSharedSecret through a grant: %v", err)
	}
	pk, err := bob.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: k.Arn, GrantTokens: []string{*g.GrantToken}})
	if err != nil {
		t.Fatalf("GetPublicKey through a grant: %v", err)
	}
	if !bytes.Equal(pk.PublicKey, publicKeyDER(t, owner, k.KeyId)) {
		t.Fatal("GetPublicKey through a grant gave another key")
	}
	_, err = bob.Sign(ctx, &awskms.SignInput{KeyId: k.Arn, Message: []byte("x"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantCode(t, err, "AccessDeniedException")
	must[*awskms.RetireGrantOutput](t)(owner.RetireGrant(ctx, &awskms.RetireGrantInput{KeyId: k.Arn, GrantId: g.GrantId}))
	wantCode(t, derive(bob, false), "AccessDeniedException")
}
