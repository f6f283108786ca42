package server_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/openkms/kms/internal/server"
)

// Imported key material for every key spec AWS takes it for (issue 18):
// the test makes a key pair or HMAC key as a customer would (the standard
// library; gmsm for SM2; openssl for secp256k1, which neither has), wraps
// it (import_test.go's wrapMaterial: crypto/rsa, and AES key wrap with
// padding for RSA_AES_KEY_WRAP_*), imports it, and checks the KMS key is
// that key: its public key is the original one, and what it signs,
// decrypts, agrees or MACs checks out against the original key here.
//
// Sources of the rules: the GetParametersForImport and ImportKeyMaterial API
// reference (the doc comments of aws-sdk-go-v2/service/kms, which are the
// reference's text), AWS's "Step 3: Encrypt the key material" page, and
// LocalStack's AWS-validated test_import_key_asymmetric (ECC_NIST_P256
// material, RSAES_OAEP_SHA_256 under RSA_2048, GetPublicKey equal to the
// original public key).

// ownKey is key material made here, before its import.
type ownKey struct {
	material []byte // what is wrapped: PKCS #8 DER, or HMAC key bytes
	spki     []byte // the public key GetPublicKey must answer (nil for HMAC)
	priv     any    // *rsa.PrivateKey, *ecdsa.PrivateKey, *sm2.PrivateKey; nil otherwise
}

// makeKey makes a key of spec; hmacLen is the length of an HMAC key.
func makeKey(t testing.TB, spec types.KeySpec, hmacLen int) *ownKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch spec {
	case types.KeySpecRsa2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case types.KeySpecRsa3072:
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	case types.KeySpecRsa4096:
		priv, err = rsa.GenerateKey(rand.Reader, 4096)
	case types.KeySpecEccNistP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case types.KeySpecEccNistP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case types.KeySpecEccNistP521:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case types.KeySpecEccSecgP256k1:
		return opensslKey(t, "secp256k1")
	case types.KeySpecSm2:
		k, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := smx509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := smx509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return &ownKey{material: der, spki: pub, priv: k}
	default: // HMAC
		m := make([]byte, hmacLen)
		rand.Read(m)
		return &ownKey{material: m}
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &ownKey{material: der, spki: pub, priv: priv}
}

// opensslKey makes an EC key on curve with the openssl binary: its PKCS #8
// and SubjectPublicKeyInfo, both DER.
func opensslKey(t testing.TB, curve string) *ownKey {
	t.Helper()
	dir := t.TempDir()
	// genpkey's DER output is SEC 1's ECPrivateKey, not PKCS #8 (its PEM
	// output is PKCS #8): pkcs8 -topk8 converts, as AWS's steps do.
	openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+curve, "-out", "priv.pem")
	openssl(t, dir, "pkcs8", "-topk8", "-nocrypt", "-in", "priv.pem", "-outform", "DER", "-out", "priv.der")
	openssl(t, dir, "pkey", "-in", "priv.pem", "-pubout", "-outform", "DER", "-out", "pub.der")
	priv, err := os.ReadFile(filepath.Join(dir, "priv.der"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "pub.der"))
	if err != nil {
		t.Fatal(err)
	}
	return &ownKey{material: priv, spki: pub}
}

// openssl runs the openssl binary in dir. A machine without it fails the
// test: the test script installs openssl, so its absence is a broken setup.
func openssl(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed for this test and is not on PATH")
	}
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return out
}

func createExternal(t testing.TB, c *awskms.Client, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	in := &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: usage}
	out, err := c.CreateKey(ctx, in)
	if err != nil {
		t.Fatalf("CreateKey %s %s EXTERNAL: %v", spec, usage, err)
	}
	return out.KeyMetadata
}

// importOwn imports k's material into keyID with alg under a wrapping key
// of wrapSpec.
func importOwn(t *testing.T, c *awskms.Client, keyID string, alg types.AlgorithmSpec, wrapSpec types.WrappingKeySpec, material []byte) (*awskms.ImportKeyMaterialOutput, error) {
	t.Helper()
	p := getParams(t, c, keyID, alg, wrapSpec)
	return c.ImportKeyMaterial(ctx, importInput(t, keyID, p, alg, material, nil))
}

var macHashes = map[types.KeySpec]crypto.Hash{
	types.KeySpecHmac224: crypto.SHA224, types.KeySpecHmac256: crypto.SHA256,
	types.KeySpecHmac384: crypto.SHA384, types.KeySpecHmac512: crypto.SHA512,
}

// TestImportSpecs imports material of every importable key spec, with each
// wrapping algorithm AWS allows for it, and uses the key.
func TestImportSpecs(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	const (
		oaep1    = types.AlgorithmSpecRsaesOaepSha1
		oaep256  = types.AlgorithmSpecRsaesOaepSha256
		rsaAES1  = types.AlgorithmSpecRsaAesKeyWrapSha1
		rsaAES   = types.AlgorithmSpecRsaAesKeyWrapSha256
		w2048    = types.WrappingKeySpecRsa2048
		w3072    = types.WrappingKeySpecRsa3072
		w4096    = types.WrappingKeySpecRsa4096
		sign     = types.KeyUsageTypeSignVerify
		encrypt  = types.KeyUsageTypeEncryptDecrypt
		agree    = types.KeyUsageTypeKeyAgreement
		macUsage = types.KeyUsageTypeGenerateVerifyMac
	)
	for _, tc := range []struct {
		spec    types.KeySpec
		usage   types.KeyUsageType
		alg     types.AlgorithmSpec
		wrap    types.WrappingKeySpec
		hmacLen int
	}{
		// RSA private keys need an RSA_AES algorithm (their PKCS #8 is
		// longer than RSA-OAEP takes), under any wrapping key size.
		{types.KeySpecRsa2048, encrypt, rsaAES, w2048, 0},
		{types.KeySpecRsa3072, sign, rsaAES1, w3072, 0},
		{types.KeySpecRsa4096, sign, rsaAES, w2048, 0},
		{types.KeySpecRsa4096, encrypt, rsaAES1, w4096, 0},
		// ECC: either kind of algorithm; P-521 with RSAES_OAEP only
		// under a wrapping key larger than RSA_2048.
		{types.KeySpecEccNistP256, sign, oaep256, w2048, 0},
		{types.KeySpecEccNistP256, agree, rsaAES, w2048, 0},
		{types.KeySpecEccNistP384, sign, oaep1, w3072, 0},
		{types.KeySpecEccNistP384, agree, rsaAES1, w4096, 0},
		{types.KeySpecEccNistP521, sign, rsaAES, w2048, 0},
		{types.KeySpecEccNistP521, agree, oaep256, w3072, 0},
		{types.KeySpecEccSecgP256k1, sign, oaep256, w4096, 0},
		{types.KeySpecEccSecgP256k1, sign, rsaAES, w2048, 0},
		{types.KeySpecSm2, sign, oaep256, w2048, 0},
		{types.KeySpecSm2, encrypt, rsaAES, w3072, 0},
		// HMAC keys from the hash's size to its block size.
		{types.KeySpecHmac224, macUsage, oaep1, w2048, 28},
		{types.KeySpecHmac224, macUsage, oaep256, w2048, 64},
		{types.KeySpecHmac256, macUsage, oaep256, w3072, 32},
		{types.KeySpecHmac256, macUsage, oaep256, w2048, 50},
		{types.KeySpecHmac384, macUsage, oaep256, w2048, 48},
		{types.KeySpecHmac384, macUsage, oaep1, w4096, 128},
		{types.KeySpecHmac512, macUsage, oaep256, w2048, 64},
		{types.KeySpecHmac512, macUsage, oaep256, w3072, 128},
	} {
		name := string(tc.spec) + "/" + string(tc.usage) + "/" + string(tc.alg) + "/" + string(tc.wrap)
		t.Run(name, func(t *testing.T) {
			k := createExternal(t, c, tc.spec, tc.usage)
			if k.KeyState != types.KeyStatePendingImport || k.Origin != types.OriginTypeExternal || k.KeySpec != tc.spec || k.KeyUsage != tc.usage {
				t.Fatalf("new key %+v", k)
			}
			// Nothing works before the import.
			if tc.hmacLen == 0 {
				_, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: k.KeyId})
				wantMessage(t, err, "KMSInvalidStateException", "is pending import.")
			}
			own := makeKey(t, tc.spec, tc.hmacLen)
			out, err := importOwn(t, c, *k.KeyId, tc.alg, tc.wrap, own.material)
			if err != nil {
				t.Fatal(err)
			}
			if *out.KeyId != *k.Arn || len(aws.ToString(out.KeyMaterialId)) != 64 {
				t.Fatalf("ImportKeyMaterial answered %s %s", aws.ToString(out.KeyId), aws.ToString(out.KeyMaterialId))
			}
			if m := describe(t, c, *k.KeyId); m.KeyState != types.KeyStateEnabled || !m.Enabled ||
				m.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
				t.Fatalf("after import %+v", m)
			}
			useImported(t, c, k, own)

			// Deleting the material stops the key; only the same key
			// brings it back, with its public key unchanged.
			must[*awskms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.KeyId}))
			if s := describe(t, c, *k.KeyId).KeyState; s != types.KeyStatePendingImport {
				t.Fatalf("state %s after DeleteImportedKeyMaterial", s)
			}
			other := makeKey(t, tc.spec, tc.hmacLen)
			_, err = importOwn(t, c, *k.KeyId, tc.alg, tc.wrap, other.material)
			wantMessage(t, err, "IncorrectKeyMaterialException", "not the key material previously imported")
			again, err := importOwn(t, c, *k.KeyId, tc.alg, tc.wrap, own.material)
			if err != nil {
				t.Fatal(err)
			}
			if *again.KeyMaterialId != *out.KeyMaterialId {
				t.Fatalf("re-import: material %s, first %s", *again.KeyMaterialId, *out.KeyMaterialId)
			}
			useImported(t, c, k, own)
		})
		if testing.Short() {
			break
		}
	}
}

// useImported proves the KMS key k is own: its public key, and one use of
// each of its algorithms checked against own here.
func useImported(t *testing.T, c *awskms.Client, k *types.KeyMetadata, own *ownKey) {
	t.Helper()
	msg := []byte("a message for my own key")
	if own.spki != nil {
		if got := publicKeyDER(t, c, k.KeyId); !bytes.Equal(got, own.spki) {
			t.Fatalf("GetPublicKey is not the imported key's public key:\n%x\n%x", got, own.spki)
		}
	}
	switch k.KeyUsage {
	case types.KeyUsageTypeSignVerify:
		for _, alg := range k.SigningAlgorithms {
			sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: k.KeyId, Message: msg,
				MessageType: types.MessageTypeRaw, SigningAlgorithm: alg})).Signature
			if err := localVerify(k.KeySpec, own.spki, alg, nil, msg, sig); err != nil {
				t.Fatalf("%s signature under the original public key: %v", alg, err)
			}
		}
	case types.KeyUsageTypeEncryptDecrypt:
		for _, alg := range k.EncryptionAlgorithms {
			// A ciphertext made here with the original public key...
			var local []byte
			var err error
			switch priv := own.priv.(type) {
			case *rsa.PrivateKey:
				h := crypto.SHA1.New()
				if alg == types.EncryptionAlgorithmSpecRsaesOaepSha256 {
					h = sha256.New()
				}
				local, err = rsa.EncryptOAEP(h, rand.Reader, &priv.PublicKey, msg, nil)
			case *sm2.PrivateKey:
				local, err = sm2.EncryptASN1(rand.Reader, &priv.PublicKey, msg)
			}
			if err != nil || local == nil {
				t.Fatalf("%s: local encryption: %v", alg, err)
			}
			dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{KeyId: k.KeyId, CiphertextBlob: local, EncryptionAlgorithm: alg}))
			if !bytes.Equal(dec.Plaintext, msg) {
				t.Fatalf("%s: KMS decrypted %q", alg, dec.Plaintext)
			}
			// ...and the server's, decrypted with the original private key.
			enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: msg, EncryptionAlgorithm: alg}))
			var pt []byte
			switch priv := own.priv.(type) {
			case *rsa.PrivateKey:
				h := crypto.SHA1.New()
				if alg == types.EncryptionAlgorithmSpecRsaesOaepSha256 {
					h = sha256.New()
				}
				pt, err = rsa.DecryptOAEP(h, nil, priv, enc.CiphertextBlob, nil)
			case *sm2.PrivateKey:
				pt, err = priv.Decrypt(nil, enc.CiphertextBlob, sm2.ASN1DecrypterOpts)
			}
			if err != nil || !bytes.Equal(pt, msg) {
				t.Fatalf("%s: the server's ciphertext under the original private key: %q, %v", alg, pt, err)
			}
		}
	case types.KeyUsageTypeKeyAgreement:
		priv, err := own.priv.(*ecdsa.PrivateKey).ECDH()
		if err != nil {
			t.Fatal(err)
		}
		peer, err := newECDHPeer(priv.Curve())
		if err != nil {
			t.Fatal(err)
		}
		out := must[*awskms.DeriveSharedSecretOutput](t)(c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: k.KeyId,
			KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer.spki}))
		want, err := priv.ECDH(peer.priv.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.SharedSecret, want) {
			t.Fatal("DeriveSharedSecret is not the original key's ECDH with the peer")
		}
	case types.KeyUsageTypeGenerateVerifyMac:
		alg := k.MacAlgorithms[0]
		out := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: alg}))
		m := hmac.New(macHashes[k.KeySpec].New, own.material)
		m.Write(msg)
		if !hmac.Equal(out.Mac, m.Sum(nil)) {
			t.Fatalf("%s: GenerateMac is not crypto/hmac's with the imported key", alg)
		}
	default:
		t.Fatalf("no use for %s", k.KeyUsage)
	}
}

// TestImportSpecsErrors: the refusals of imports of every kind of key.
// Each leaves the key as it was. Sources: the key specs are issue 18's list
// of those AWS takes imported material for (Ed25519 and ML-DSA are not on
// it; the CreateKey reference lists the key types, not specs); the wrapping
// rules and
// IncorrectKeyMaterialException ("the key material in the request is ...
// invalid, or does not meet expectations") are the API reference's
// (GetParametersForImport's WrappingAlgorithm and WrappingKeySpec, the
// exception's own text); "For asymmetric and HMAC keys, you cannot change
// the key material after the initial import" is ImportKeyMaterial's. The
// messages are this server's: AWS's own for these cases are not recorded
// anywhere public (LocalStack does not model them).
func TestImportSpecsErrors(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	const (
		oaep   = types.AlgorithmSpecRsaesOaepSha256
		rsaAES = types.AlgorithmSpecRsaAesKeyWrapSha256
		w2048  = types.WrappingKeySpecRsa2048
		w3072  = types.WrappingKeySpecRsa3072
		sign   = types.KeyUsageTypeSignVerify
	)

	// Key specs that take no imported material.
	for _, spec := range []types.KeySpec{types.KeySpecEccNistEdwards25519, types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87} {
		_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: sign})
		wantMessage(t, err, "UnsupportedOperationException", "KeySpec "+string(spec)+" does not support imported key material")
	}

	// Wrapping algorithms and keys that cannot wrap the key's material.
	rsaKey := createExternal(t, c, types.KeySpecRsa2048, sign)
	p521 := createExternal(t, c, types.KeySpecEccNistP521, sign)
	for _, tc := range []struct {
		k    *types.KeyMetadata
		alg  types.AlgorithmSpec
		wrap types.WrappingKeySpec
		msg  string
	}{
		{rsaKey, oaep, types.WrappingKeySpecRsa4096, "To import an RSA private key, use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256."},
		{rsaKey, types.AlgorithmSpecRsaesOaepSha1, w2048, "RSA_2048 key material cannot be wrapped with RSAES_OAEP_SHA_1."},
		{p521, oaep, w2048, "ECC_NIST_P521 key material cannot be wrapped with RSAES_OAEP_SHA_256 under an RSA_2048 wrapping key."},
		{p521, types.AlgorithmSpecRsaesOaepSha1, w2048, "ECC_NIST_P521 key material cannot be wrapped with RSAES_OAEP_SHA_1 under an RSA_2048 wrapping key."},
	} {
		_, err := c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: tc.k.KeyId, WrappingAlgorithm: tc.alg, WrappingKeySpec: tc.wrap})
		wantMessage(t, err, "ValidationException", tc.msg)
	}

	// Material that is not a key of the spec.
	rsa2048 := makeKey(t, types.KeySpecRsa2048, 0)
	p256 := makeKey(t, types.KeySpecEccNistP256, 0)
	p384 := makeKey(t, types.KeySpecEccNistP384, 0)
	sm2Key := makeKey(t, types.KeySpecSm2, 0)
	sec1, err := x509.MarshalECPrivateKey(p256.priv.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	bytesOf := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	pkcs8Msg := func(spec types.KeySpec) string {
		return "The key material of a " + string(spec) + " key must be a DER-encoded PKCS #8 private key of that key spec."
	}
	for _, tc := range []struct {
		name     string
		spec     types.KeySpec
		usage    types.KeyUsageType
		material []byte
		alg      types.AlgorithmSpec
		msg      string
	}{
		{"P-384 key", types.KeySpecEccNistP256, sign, p384.material, oaep, pkcs8Msg(types.KeySpecEccNistP256)},
		{"P-256 key", types.KeySpecEccNistP384, types.KeyUsageTypeKeyAgreement, p256.material, oaep, pkcs8Msg(types.KeySpecEccNistP384)},
		{"RSA key", types.KeySpecEccNistP256, sign, rsa2048.material, rsaAES, pkcs8Msg(types.KeySpecEccNistP256)},
		{"RSA-2048 key", types.KeySpecRsa3072, sign, rsa2048.material, rsaAES, pkcs8Msg(types.KeySpecRsa3072)},
		{"P-256 key", types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, p256.material, rsaAES, pkcs8Msg(types.KeySpecRsa2048)},
		{"P-256 key", types.KeySpecEccSecgP256k1, sign, p256.material, oaep, pkcs8Msg(types.KeySpecEccSecgP256k1)},
		{"P-256 key", types.KeySpecSm2, sign, p256.material, oaep, pkcs8Msg(types.KeySpecSm2)},
		{"SM2 key", types.KeySpecEccNistP256, sign, sm2Key.material, oaep, pkcs8Msg(types.KeySpecEccNistP256)},
		{"SEC 1, not PKCS #8", types.KeySpecEccNistP256, sign, sec1, oaep, pkcs8Msg(types.KeySpecEccNistP256)},
		{"32 random bytes", types.KeySpecEccNistP256, sign, bytesOf(32), oaep, pkcs8Msg(types.KeySpecEccNistP256)},
		{"trailing byte", types.KeySpecEccNistP256, sign, append(bytes.Clone(p256.material), 0), oaep, pkcs8Msg(types.KeySpecEccNistP256)},
		{"27 bytes", types.KeySpecHmac224, types.KeyUsageTypeGenerateVerifyMac, bytesOf(27), oaep, "The key material of a HMAC_224 key must be 28 to 64 random bytes."},
		{"31 bytes", types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, bytesOf(31), oaep, "The key material of a HMAC_256 key must be 32 to 64 random bytes."},
		{"65 bytes", types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, bytesOf(65), oaep, "The key material of a HMAC_256 key must be 32 to 64 random bytes."},
		{"47 bytes", types.KeySpecHmac384, types.KeyUsageTypeGenerateVerifyMac, bytesOf(47), oaep, "The key material of a HMAC_384 key must be 48 to 128 random bytes."},
		{"129 bytes", types.KeySpecHmac512, types.KeyUsageTypeGenerateVerifyMac, bytesOf(129), oaep, "The key material of a HMAC_512 key must be 64 to 128 random bytes."},
		{"a P-256 key", types.KeySpecHmac512, types.KeyUsageTypeGenerateVerifyMac, p256.material, oaep, "The key material of a HMAC_512 key must be 64 to 128 random bytes."},
		{"an HMAC key", types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, bytesOf(64), oaep, "The key material of a SYMMETRIC_DEFAULT key must be 32 random bytes."},
	} {
		t.Run(string(tc.spec)+"/"+tc.name, func(t *testing.T) {
			k := createExternal(t, c, tc.spec, tc.usage)
			_, err := importOwn(t, c, *k.KeyId, tc.alg, w3072, tc.material)
			wantMessage(t, err, "IncorrectKeyMaterialException", tc.msg)
			if m := describe(t, c, *k.KeyId); m.KeyState != types.KeyStatePendingImport {
				t.Fatalf("a refused import left the key %s", m.KeyState)
			}
		})
	}

	// After the first import the key is that key for good.
	k := createExternal(t, c, types.KeySpecEccNistP256, sign)
	first := must[*awskms.ImportKeyMaterialOutput](t)(importOwn(t, c, *k.KeyId, oaep, w2048, p256.material))
	_, err = importOwn(t, c, *k.KeyId, oaep, w2048, makeKey(t, types.KeySpecEccNistP256, 0).material)
	wantMessage(t, err, "IncorrectKeyMaterialException", "not the key material previously imported into "+*k.Arn)
	p := getParams(t, c, *k.KeyId, oaep, w2048)
	in := importInput(t, *k.KeyId, p, oaep, p256.material, nil)
	in.ImportType = types.ImportTypeNewKeyMaterial
	_, err = c.ImportKeyMaterial(ctx, in)
	wantMessage(t, err, "UnsupportedOperationException", "key spec ECC_NIST_P256 cannot import new key material")
	// Material wrapped another way than the token says.
	p = getParams(t, c, *k.KeyId, rsaAES, w2048)
	in = importInput(t, *k.KeyId, p, oaep, p256.material, nil)
	_, err = c.ImportKeyMaterial(ctx, in)
	wantCode(t, err, "InvalidCiphertextException")
	// The same key again, wrapped the other way.
	again := must[*awskms.ImportKeyMaterialOutput](t)(importOwn(t, c, *k.KeyId, rsaAES, w2048, p256.material))
	if *again.KeyMaterialId != *first.KeyMaterialId {
		t.Fatalf("re-import: material %s, first %s", *again.KeyMaterialId, *first.KeyMaterialId)
	}
	if !bytes.Equal(publicKeyDER(t, c, k.KeyId), p256.spki) {
		t.Fatal("the public key changed")
	}
}

// TestImportOpenSSLSigningKey is the walk-through of README-import.md
// ("Importing an ECC_NIST_P256 signing key with openssl") with the openssl
// binary doing all the customer's cryptography: the key, its PKCS #8, the
// RSA_AES_KEY_WRAP_SHA_256 wrapping (openssl rand, enc -id-aes256-wrap-pad,
// pkeyutl -encrypt with OAEP and SHA-256), and the check of the KMS
// signature (dgst -verify with the original public key). Only the KMS calls
// go through aws-sdk-go-v2. Without openssl the test fails: the test script
// installs it.
func TestImportOpenSSLSigningKey(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed for this test and is not on PATH")
	}
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	dir := t.TempDir()
	sh := func(script string) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", "set -eu\n"+script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	file := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// 1. The key pair, and its private key as PKCS #8 DER (genpkey's own
	//    DER would be SEC 1's ECPrivateKey, which AWS does not take).
	sh(`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out EcPrivateKey.pem
openssl pkcs8 -topk8 -nocrypt -in EcPrivateKey.pem -outform DER -out PlaintextKeyMaterial.der
openssl pkey -in EcPrivateKey.pem -pubout -out EcPublicKey.pem`)

	// 2. A KMS key without material, a wrapping key and a token.
	k := createExternal(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	p := getParams(t, c, *k.KeyId, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa4096)
	os.WriteFile(filepath.Join(dir, "WrappingPublicKey.bin"), p.PublicKey, 0o600)

	// 3. RSA_AES_KEY_WRAP_SHA_256 with openssl alone.
	sh(`openssl rand -out aes-key.bin 32
openssl enc -id-aes256-wrap-pad -K "$(od -An -v -tx1 aes-key.bin | tr -d ' \n')" -iv A65959A6 \
  -in PlaintextKeyMaterial.der -out key-material-wrapped.bin
openssl pkeyutl -encrypt -in aes-key.bin -out aes-key-wrapped.bin \
  -inkey WrappingPublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
  -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial.bin`)
	if n := len(file("EncryptedKeyMaterial.bin")); n != 512+len(file("key-material-wrapped.bin")) {
		t.Fatalf("EncryptedKeyMaterial.bin of %d bytes", n)
	}

	// 4. The import.
	first := must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: k.KeyId,
		ImportToken: p.ImportToken, EncryptedKeyMaterial: file("EncryptedKeyMaterial.bin"),
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}))
	// The same key, deleted and imported again as Go's x509 encodes it
	// and wrapped the other way, is the same material. (keys' tests cover
	// encodings that differ in their bytes.)
	parsed, err := x509.ParsePKCS8PrivateKey(file("PlaintextKeyMaterial.der"))
	if err != nil {
		t.Fatal(err)
	}
	goDER, err := x509.MarshalPKCS8PrivateKey(parsed)
	if err != nil {
		t.Fatal(err)
	}
	must[*awskms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: k.KeyId}))
	again := must[*awskms.ImportKeyMaterialOutput](t)(importOwn(t, c, *k.KeyId, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048, goDER))
	if *again.KeyMaterialId != *first.KeyMaterialId {
		t.Fatalf("the same key in another encoding is material %s, first %s", *again.KeyMaterialId, *first.KeyMaterialId)
	}

	// 5. KMS signs; openssl verifies with the original public key.
	os.WriteFile(filepath.Join(dir, "message.txt"), []byte("signed by my own key in KMS\n"), 0o600)
	sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: k.KeyId, Message: file("message.txt"),
		MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})).Signature
	os.WriteFile(filepath.Join(dir, "signature.der"), sig, 0o600)
	if out := sh(`openssl dgst -sha256 -verify EcPublicKey.pem -signature signature.der message.txt`); out != "Verified OK\n" {
		t.Fatalf("openssl dgst -verify: %q", out)
	}
	// GetPublicKey is the original public key.
	sh(`openssl pkey -pubin -in EcPublicKey.pem -outform DER -out EcPublicKey.der`)
	if !bytes.Equal(publicKeyDER(t, c, k.KeyId), file("EcPublicKey.der")) {
		t.Fatal("GetPublicKey is not openssl's public key")
	}
	// openssl can write the public point compressed (SEC 1 §2.3.3) into
	// the PKCS #8: the same key, with the same public key at KMS.
	sh(`openssl ec -in EcPrivateKey.pem -conv_form compressed -out EcCompressed.pem 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in EcCompressed.pem -outform DER -out Compressed.der`)
	if bytes.Equal(file("Compressed.der"), file("PlaintextKeyMaterial.der")) {
		t.Fatal("openssl did not write the point compressed")
	}
	k2 := createExternal(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	must[*awskms.ImportKeyMaterialOutput](t)(importOwn(t, c, *k2.KeyId, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048, file("Compressed.der")))
	if !bytes.Equal(publicKeyDER(t, c, k2.KeyId), file("EcPublicKey.der")) {
		t.Fatal("GetPublicKey of the key imported with a compressed point is not openssl's public key")
	}
	// A signature openssl makes verifies at KMS.
	sh(`openssl dgst -sha256 -sign EcPrivateKey.pem -out local.sig message.txt`)
	v := must[*awskms.VerifyOutput](t)(c.Verify(ctx, &awskms.VerifyInput{KeyId: k.KeyId, Message: file("message.txt"),
		MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, Signature: file("local.sig")}))
	if !v.SignatureValid {
		t.Fatal("KMS does not verify openssl's signature")
	}
}

// TestImportedKeyPairNotInPlain is TestImportedMaterialNotInPlain for key
// pairs and HMAC keys, accepted and refused: neither the data dir nor the
// debug logs ever hold a private scalar or HMAC key (raw, hex, base64), and
// the stored row unseals to the private key itself.
func TestImportedKeyPairNotInPlain(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuf
	ts := startServer(t, server.Config{DataDir: dir,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := ts.client(testRegion)
	const oaep, w2048 = types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048
	ecKey := createExternal(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	macKey := createExternal(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	p256, p384, mac := makeKey(t, types.KeySpecEccNistP256, 0), makeKey(t, types.KeySpecEccNistP384, 0), makeKey(t, types.KeySpecHmac256, 40)
	must[*awskms.ImportKeyMaterialOutput](t)(importOwn(t, c, *ecKey.KeyId, oaep, w2048, p256.material))
	must[*awskms.ImportKeyMaterialOutput](t)(importOwn(t, c, *macKey.KeyId, oaep, w2048, mac.material))
	_, err := importOwn(t, c, *ecKey.KeyId, oaep, w2048, p384.material)
	wantCode(t, err, "IncorrectKeyMaterialException")
	_, err = importOwn(t, c, *macKey.KeyId, oaep, w2048, append(bytes.Clone(mac.material), mac.material...))
	wantCode(t, err, "IncorrectKeyMaterialException")

	checkNotInPlain(t, ts, dir, &logs, scalar(t, p256), scalar(t, p384), mac.material)
	raw := storedMaterial(t, dir, *ecKey.KeyId)
	k, err := x509.ParsePKCS8PrivateKey(raw)
	if err != nil || !k.(*ecdsa.PrivateKey).Equal(p256.priv) {
		t.Fatalf("the stored material is not the imported private key: %v", err)
	}
}

// scalar is the private scalar of a NIST curve key made by makeKey.
func scalar(t testing.TB, k *ownKey) []byte {
	t.Helper()
	b, err := k.priv.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportSpecsExpiry: imported key pairs and HMAC keys expire like
// symmetric material. From ValidTo on the key is PendingImport and unusable
// (it was cached), the sweep deletes the material, and the same key,
// imported again after a restart, works as before.
func TestImportSpecsExpiry(t *testing.T) {
	clock := &testClock{}
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir, Now: clock.now, SweepInterval: time.Hour})
	c := ts.client(testRegion)
	const oaep, w2048 = types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048
	ecKey := createExternal(t, c, types.KeySpecEccNistP384, types.KeyUsageTypeSignVerify)
	macKey := createExternal(t, c, types.KeySpecHmac384, types.KeyUsageTypeGenerateVerifyMac)
	ec, mac := makeKey(t, types.KeySpecEccNistP384, 0), makeKey(t, types.KeySpecHmac384, 96)
	validTo := clock.now().Add(30 * dayDur).Truncate(time.Second)
	for _, k := range []struct {
		meta *types.KeyMetadata
		own  *ownKey
	}{{ecKey, ec}, {macKey, mac}} {
		p := getParams(t, c, *k.meta.KeyId, oaep, w2048)
		must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, importInput(t, *k.meta.KeyId, p, oaep, k.own.material, &validTo)))
		useImported(t, c, k.meta, k.own)
	}
	msg := []byte("after expiry")
	clock.advance(31 * dayDur)
	for i := range 2 { // before the sweep, and after it
		_, err := c.Sign(ctx, &awskms.SignInput{KeyId: ecKey.KeyId, Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
		wantMessage(t, err, "KMSInvalidStateException", "is pending import.")
		_, err = c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: ecKey.KeyId})
		wantMessage(t, err, "KMSInvalidStateException", "is pending import.")
		_, err = c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: macKey.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha384})
		wantMessage(t, err, "KMSInvalidStateException", "is pending import.")
		if i == 0 {
			if n, err := ts.Service.SweepExpiredMaterial(ctx, clock.now()); err != nil || n != 2 {
				t.Fatalf("sweep: %d, %v", n, err)
			}
		}
	}
	ts.stop()
	ts = startServer(t, server.Config{DataDir: dir, Now: clock.now, SweepInterval: time.Hour})
	c = ts.client(testRegion)
	for _, k := range []struct {
		meta *types.KeyMetadata
		own  *ownKey
	}{{ecKey, ec}, {macKey, mac}} {
		if s := describe(t, c, *k.meta.KeyId).KeyState; s != types.KeyStatePendingImport {
			t.Fatalf("%s after expiry and restart: %s", k.meta.KeySpec, s)
		}
		must[*awskms.ImportKeyMaterialOutput](t)(importOwn(t, c, *k.meta.KeyId, oaep, w2048, k.own.material))
		useImported(t, c, k.meta, k.own)
	}
}

// TestImportOpenSSLRSAKey: an RSA key openssl makes, as README-import.md's
// note on RSA keys says (genpkey -algorithm RSA, then as for ECC), imports
// with RSA_AES_KEY_WRAP_SHA_1 and signs RSASSA-PSS that openssl verifies.
func TestImportOpenSSLRSAKey(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	dir := t.TempDir()
	openssl(t, dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", "RsaPrivateKey.pem")
	openssl(t, dir, "pkcs8", "-topk8", "-nocrypt", "-in", "RsaPrivateKey.pem", "-outform", "DER", "-out", "PlaintextKeyMaterial.der")
	openssl(t, dir, "pkey", "-in", "RsaPrivateKey.pem", "-pubout", "-out", "RsaPublicKey.pem")
	openssl(t, dir, "pkey", "-in", "RsaPrivateKey.pem", "-pubout", "-outform", "DER", "-out", "RsaPublicKey.der")
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	k := createExternal(t, c, types.KeySpecRsa3072, types.KeyUsageTypeSignVerify)
	must[*awskms.ImportKeyMaterialOutput](t)(importOwn(t, c, *k.KeyId, types.AlgorithmSpecRsaAesKeyWrapSha1, types.WrappingKeySpecRsa3072, read("PlaintextKeyMaterial.der")))
	if !bytes.Equal(publicKeyDER(t, c, k.KeyId), read("RsaPublicKey.der")) {
		t.Fatal("GetPublicKey is not openssl's public key")
	}
	msg := []byte("signed with PSS by my own RSA key\n")
	os.WriteFile(filepath.Join(dir, "message.txt"), msg, 0o600)
	sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: k.KeyId, Message: msg,
		MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})).Signature
	os.WriteFile(filepath.Join(dir, "signature.bin"), sig, 0o600)
	// AWS's PSS: MGF1 with the message hash, a salt as long as the hash.
	if out := string(openssl(t, dir, "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
		"-verify", "RsaPublicKey.pem", "-signature", "signature.bin", "message.txt")); out != "Verified OK\n" {
		t.Fatalf("openssl dgst -verify: %q", out)
	}
}
