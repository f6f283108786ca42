package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openkms/kms"
)

// Wycheproof test vectors (testdata/wycheproof/README says which): every
// vector goes through ParsePublicKey and Verify, or ParsePrivateKey of a
// PKCS#8 and Decrypt or SharedSecret, as the service would use them.

type wpFile struct {
	Algorithm     string            `json:"algorithm"`
	Schema        string            `json:"schema"`
	NumberOfTests int               `json:"numberOfTests"`
	TestGroups    []json.RawMessage `json:"testGroups"`
}

type wpTest struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Result  string   `json:"result"` // valid, invalid or acceptable

	Msg     string `json:"msg"`
	Sig     string `json:"sig"`
	Ct      string `json:"ct"`
	Label   string `json:"label"`
	Public  string `json:"public"`
	Private string `json:"private"`
	Shared  string `json:"shared"`
}

type wpGroup struct {
	Type            string   `json:"type"`
	KeySize         int      `json:"keySize"`
	Sha             string   `json:"sha"`
	Mgf             string   `json:"mgf"`
	MgfSha          string   `json:"mgfSha"`
	SLen            int      `json:"sLen"`
	Curve           string   `json:"curve"`
	Encoding        string   `json:"encoding"`
	PublicKeyDer    string   `json:"publicKeyDer"`
	PrivateKeyPkcs8 string   `json:"privateKeyPkcs8"`
	Tests           []wpTest `json:"tests"`
}

// loadWycheproof reads a vector file and returns its groups, checking
// that the schema is the expected one and no test went missing.
func loadWycheproof(t *testing.T, name, schema string) []wpGroup {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "wycheproof", name))
	if err != nil {
		t.Fatal(err)
	}
	var f wpFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.Schema != schema {
		t.Fatalf("%s: schema %q, want %q", name, f.Schema, schema)
	}
	var groups []wpGroup
	n := 0
	for _, raw := range f.TestGroups {
		var g wpGroup
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n += len(g.Tests)
		groups = append(groups, g)
	}
	if n != f.NumberOfTests || n == 0 {
		t.Fatalf("%s: %d tests, the file says %d", name, n, f.NumberOfTests)
	}
	return groups
}

func wpHex(t *testing.T, tc wpTest, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("tcId %d: %v", tc.TcID, err)
	}
	return b
}

// wpCheck compares an outcome with a vector's result: a valid vector must
// pass, an invalid one must fail, and an acceptable one may do either.
func wpCheck(t *testing.T, name string, tc wpTest, ok bool, detail error) {
	t.Helper()
	switch {
	case tc.Result == "valid" && !ok:
		t.Errorf("%s tcId %d (%s, %v): valid vector fails: %v", name, tc.TcID, tc.Comment, tc.Flags, detail)
	case tc.Result == "invalid" && ok:
		t.Errorf("%s tcId %d (%s, %v): invalid vector passes", name, tc.TcID, tc.Comment, tc.Flags)
	case tc.Result != "valid" && tc.Result != "invalid" && tc.Result != "acceptable":
		t.Fatalf("%s tcId %d: result %q", name, tc.TcID, tc.Result)
	}
}

var wpHashes = map[string]crypto.Hash{"SHA-1": crypto.SHA1, "SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}

func rsaSpecOfSize(bits int) kms.KeySpec {
	return map[int]kms.KeySpec{2048: kms.KeySpecRSA2048, 3072: kms.KeySpecRSA3072, 4096: kms.KeySpecRSA4096}[bits]
}

// wpPublic parses a group's public key with ParsePublicKey.
func wpPublic(t *testing.T, name string, spec kms.KeySpec, g wpGroup) *PublicKey {
	t.Helper()
	der, err := hex.DecodeString(g.PublicKeyDer)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(spec, der)
	if err != nil {
		t.Fatalf("%s: ParsePublicKey of a group's key: %v", name, err)
	}
	return pub
}

// wpVerify runs one signature vector through Verify, as a RAW message and,
// if digestToo and alg takes them, as a DIGEST.
func wpVerify(t *testing.T, name string, pub *PublicKey, alg string, tc wpTest, invert, digestToo bool) {
	t.Helper()
	msg, sig := wpHex(t, tc, tc.Msg), wpHex(t, tc, tc.Sig)
	for _, mt := range MessageTypes(alg) {
		m := msg
		if mt == MessageDigest {
			// The DIGEST path differs from RAW only before the
			// signature is looked at: run it for the valid vectors
			// of a file's first group only, which keeps the ECDSA
			// files quick (P-521 is slow under -race).
			if alg == AlgEd25519ph || tc.Result != "valid" || !digestToo {
				continue
			}
			h := SigningHash(alg).New()
			h.Write(msg)
			m = h.Sum(nil)
		}
		err := pub.Verify(alg, mt, m, sig)
		if err != nil && err != ErrInvalidSignature {
			t.Fatalf("%s tcId %d: Verify error %v", name, tc.TcID, err)
		}
		if invert {
			if err == nil {
				t.Errorf("%s tcId %d: verifies, but the group's salt length is not the hash's", name, tc.TcID)
			}
			continue
		}
		wpCheck(t, name+"/"+mt, tc, err == nil, err)
	}
}

func TestWycheproofRSAPKCS1(t *testing.T) {
	for _, name := range []string{
		"rsa_signature_2048_sha256_test.json",
		"rsa_signature_3072_sha384_test.json",
		"rsa_signature_4096_sha512_test.json",
	} {
		for gi, g := range loadWycheproof(t, name, "rsassa_pkcs1_verify_schema_v1.json") {
			spec := rsaSpecOfSize(g.KeySize)
			alg := map[crypto.Hash]string{crypto.SHA256: AlgRSAPKCS1SHA256, crypto.SHA384: AlgRSAPKCS1SHA384, crypto.SHA512: AlgRSAPKCS1SHA512}[wpHashes[g.Sha]]
			if g.Type != "RsassaPkcs1Verify" || spec == "" || alg == "" {
				t.Fatalf("%s: group %s of %d bits with %s", name, g.Type, g.KeySize, g.Sha)
			}
			pub := wpPublic(t, name, spec, g)
			for _, tc := range g.Tests {
				wpVerify(t, name, pub, alg, tc, false, gi == 0)
			}
		}
	}
}

func TestWycheproofRSAPSS(t *testing.T) {
	for _, name := range []string{
		"rsa_pss_2048_sha256_mgf1_32_test.json",
		"rsa_pss_2048_sha384_mgf1_48_test.json",
		"rsa_pss_4096_sha512_mgf1_64_test.json",
		"rsa_pss_2048_sha256_mgf1_0_test.json",
	} {
		for gi, g := range loadWycheproof(t, name, "rsassa_pss_verify_schema_v1.json") {
			spec := rsaSpecOfSize(g.KeySize)
			h := wpHashes[g.Sha]
			alg := map[crypto.Hash]string{crypto.SHA256: AlgRSAPSSSHA256, crypto.SHA384: AlgRSAPSSSHA384, crypto.SHA512: AlgRSAPSSSHA512}[h]
			if g.Type != "RsassaPssVerify" || spec == "" || alg == "" || g.Mgf != "MGF1" || g.MgfSha != g.Sha {
				t.Fatalf("%s: group %s of %d bits with %s, %s %s", name, g.Type, g.KeySize, g.Sha, g.Mgf, g.MgfSha)
			}
			// AWS verifies PSS with a salt as long as the hash only: in
			// a group with another salt length, Wycheproof's valid
			// vectors are ones we must refuse, so every vector of it
			// must fail (rather than being skipped).
			invert := g.SLen != h.Size()
			pub := wpPublic(t, name, spec, g)
			for _, tc := range g.Tests {
				wpVerify(t, name, pub, alg, tc, invert, gi == 0)
			}
		}
	}
}

func TestWycheproofRSAOAEP(t *testing.T) {
	for _, name := range []string{
		"rsa_oaep_2048_sha1_mgf1sha1_test.json",
		"rsa_oaep_2048_sha256_mgf1sha256_test.json",
	} {
		for _, g := range loadWycheproof(t, name, "rsaes_oaep_decrypt_schema_v1.json") {
			spec := rsaSpecOfSize(g.KeySize)
			alg := map[crypto.Hash]string{crypto.SHA1: AlgRSAESOAEPSHA1, crypto.SHA256: AlgRSAESOAEPSHA256}[wpHashes[g.Sha]]
			if g.Type != "RsaesOaepDecrypt" || spec == "" || alg == "" || g.Mgf != "MGF1" || g.MgfSha != g.Sha {
				t.Fatalf("%s: group %s of %d bits with %s, %s %s", name, g.Type, g.KeySize, g.Sha, g.Mgf, g.MgfSha)
			}
			// The key goes through crypto/x509 and back, then our parser.
			key, err := x509.ParsePKCS8PrivateKey(wpHex(t, wpTest{}, g.PrivateKeyPkcs8))
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			k, err := ParsePrivateKey(spec, der)
			if err != nil {
				t.Fatalf("%s: ParsePrivateKey: %v", name, err)
			}
			for _, tc := range g.Tests {
				pt, err := k.Decrypt(alg, wpHex(t, tc, tc.Ct))
				if err != nil && err != ErrDecrypt {
					t.Fatalf("%s tcId %d: Decrypt error %v", name, tc.TcID, err)
				}
				if tc.Label != "" {
					// KMS never uses an OAEP label, and decrypts with
					// the empty one: a vector made with a label must
					// fail, whatever Wycheproof expects with its label.
					if err == nil {
						t.Errorf("%s tcId %d: decrypts though made with label %s", name, tc.TcID, tc.Label)
					}
					continue
				}
				if err == nil && tc.Result == "valid" && !bytes.Equal(pt, wpHex(t, tc, tc.Msg)) {
					t.Errorf("%s tcId %d: plaintext %x, want %s", name, tc.TcID, pt, tc.Msg)
				}
				wpCheck(t, name, tc, err == nil, err)
			}
		}
	}
}

func TestWycheproofECDSA(t *testing.T) {
	for _, c := range []struct {
		name string
		spec kms.KeySpec
		alg  string
	}{
		{"ecdsa_secp256r1_sha256_test.json", kms.KeySpecECCNISTP256, AlgECDSASHA256},
		{"ecdsa_secp384r1_sha384_test.json", kms.KeySpecECCNISTP384, AlgECDSASHA384},
		{"ecdsa_secp521r1_sha512_test.json", kms.KeySpecECCNISTP521, AlgECDSASHA512},
	} {
		for gi, g := range loadWycheproof(t, c.name, "ecdsa_verify_schema_v1.json") {
			if g.Type != "EcdsaVerify" || wpHashes[g.Sha] != SigningHash(c.alg) {
				t.Fatalf("%s: group %s with %s", c.name, g.Type, g.Sha)
			}
			pub := wpPublic(t, c.name, c.spec, g)
			for _, tc := range g.Tests {
				wpVerify(t, c.name, pub, c.alg, tc, false, gi == 0)
			}
		}
	}
}

func TestWycheproofEd25519(t *testing.T) {
	const name = "ed25519_test.json"
	for _, g := range loadWycheproof(t, name, "eddsa_verify_schema_v1.json") {
		if g.Type != "EddsaVerify" {
			t.Fatalf("%s: group %s", name, g.Type)
		}
		pub := wpPublic(t, name, kms.KeySpecEd25519, g)
		for _, tc := range g.Tests {
			wpVerify(t, name, pub, AlgEd25519, tc, false, false)
		}
	}
}

func TestWycheproofECDH(t *testing.T) {
	for _, c := range []struct {
		name, curve string
		spec        kms.KeySpec
		ecdh        ecdh.Curve
	}{
		{"ecdh_secp256r1_test.json", "secp256r1", kms.KeySpecECCNISTP256, ecdh.P256()},
		{"ecdh_secp384r1_test.json", "secp384r1", kms.KeySpecECCNISTP384, ecdh.P384()},
		{"ecdh_secp521r1_test.json", "secp521r1", kms.KeySpecECCNISTP521, ecdh.P521()},
	} {
		size := (nistCurve(c.spec).Params().BitSize + 7) / 8
		privs := map[string]*PrivateKey{}
		for _, g := range loadWycheproof(t, c.name, "ecdh_test_schema_v1.json") {
			if g.Type != "EcdhTest" || g.Curve != c.curve || g.Encoding != "asn" {
				t.Fatalf("%s: group %s on %s, %s", c.name, g.Type, g.Curve, g.Encoding)
			}
			for _, tc := range g.Tests {
				// The private key is a big-endian integer, maybe with a
				// leading zero byte: crypto/ecdh takes it at the curve's
				// size, crypto/x509 makes the PKCS#8. Many vectors
				// share a key.
				k := privs[tc.Private]
				if k == nil {
					d := new(big.Int).SetBytes(wpHex(t, tc, tc.Private))
					priv, err := c.ecdh.NewPrivateKey(d.FillBytes(make([]byte, size)))
					if err != nil {
						t.Fatalf("%s tcId %d: private key: %v", c.name, tc.TcID, err)
					}
					der, err := x509.MarshalPKCS8PrivateKey(priv)
					if err != nil {
						t.Fatal(err)
					}
					if k, err = ParsePrivateKey(c.spec, der); err != nil {
						t.Fatalf("%s tcId %d: ParsePrivateKey: %v", c.name, tc.TcID, err)
					}
					privs[tc.Private] = k
				}
				pub, err := ParsePublicKey(c.spec, wpHex(t, tc, tc.Public))
				if err != nil {
					if err != ErrInvalidPublicKey {
						t.Fatalf("%s tcId %d: ParsePublicKey error %v", c.name, tc.TcID, err)
					}
					wpCheck(t, c.name, tc, false, err)
					continue
				}
				shared, err := k.SharedSecret(pub)
				if err != nil && err != ErrInvalidPublicKey {
					t.Fatalf("%s tcId %d: SharedSecret error %v", c.name, tc.TcID, err)
				}
				if err == nil && tc.Result != "invalid" && !bytes.Equal(shared, wpHex(t, tc, tc.Shared)) {
					t.Errorf("%s tcId %d (%s): shared secret %x, want %s", c.name, tc.TcID, tc.Comment, shared, tc.Shared)
				}
				wpCheck(t, c.name, tc, err == nil, err)
			}
		}
	}
}

// FuzzParsePublicKey feeds arbitrary bytes to ParsePublicKey for each spec
// of the standard-library families, and arbitrary signatures to Verify under
// whatever parsed and under fixed keys: nothing may panic, and failures are
// the documented errors.
func FuzzParsePublicKey(f *testing.F) {
	// RSA-2048, the NIST curves and Ed25519 are generated; RSA-3072 and
	// RSA-4096 public keys come from the Wycheproof files.
	fixed := map[kms.KeySpec]*PublicKey{}
	for _, spec := range stdSpecs {
		if spec == kms.KeySpecRSA3072 || spec == kms.KeySpecRSA4096 {
			continue
		}
		k := stdTestKey(f, spec)
		fixed[spec] = k.Public()
		f.Add(k.Public().DER(), []byte{})
		for _, alg := range specs[spec].signing {
			mt := MessageTypes(alg)[0]
			msg := fuzzMessage(alg, mt)
			sig, err := k.Sign(alg, mt, msg)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(k.Public().DER(), sig)
		}
	}
	for _, name := range []string{"rsa_signature_3072_sha384_test.json", "rsa_pss_4096_sha512_mgf1_64_test.json", "ecdsa_secp256r1_sha256_test.json", "ed25519_test.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "wycheproof", name))
		if err != nil {
			f.Fatal(err)
		}
		var file struct {
			TestGroups []struct {
				PublicKeyDer string `json:"publicKeyDer"`
				Tests        []struct {
					Sig string `json:"sig"`
				} `json:"tests"`
			} `json:"testGroups"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			f.Fatal(err)
		}
		for i, g := range file.TestGroups {
			if i >= 4 {
				break
			}
			der, _ := hex.DecodeString(g.PublicKeyDer)
			for j, tc := range g.Tests {
				if j >= 8 {
					break
				}
				sig, _ := hex.DecodeString(tc.Sig)
				f.Add(der, sig)
			}
		}
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00}, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})

	f.Fuzz(func(t *testing.T, der, sig []byte) {
		for _, spec := range stdSpecs {
			p, err := ParsePublicKey(spec, der)
			if err != nil {
				if err != ErrInvalidPublicKey {
					t.Fatalf("ParsePublicKey(%s) error %v, want ErrInvalidPublicKey", spec, err)
				}
				if fixed[spec] == nil {
					continue
				}
				p = fixed[spec]
			} else if !bytes.Equal(p.DER(), der) || p.Spec() != spec {
				t.Fatalf("ParsePublicKey(%s) accepted %x as %x", spec, der, p.DER())
			}
			for _, alg := range specs[spec].signing {
				for _, mt := range MessageTypes(alg) {
					if err := p.Verify(alg, mt, fuzzMessage(alg, mt), sig); err != nil && err != ErrInvalidSignature {
						t.Fatalf("Verify(%s, %s, %s) error %v", spec, alg, mt, err)
					}
				}
			}
			for _, alg := range specs[spec].encryption {
				if _, err := p.Encrypt(alg, sig[:min(len(sig), MaxPlaintext(spec, alg))]); err != nil {
					t.Fatalf("Encrypt(%s, %s): %v", spec, alg, err)
				}
			}
		}
	})
}

// fuzzMessage returns a fixed message of the type and length alg takes.
func fuzzMessage(alg, mt string) []byte {
	if mt == MessageDigest {
		return bytes.Repeat([]byte{0x5a}, DigestSize(alg))
	}
	return []byte("fuzz")
}

// TestWycheproofFilesUsed: every file in testdata/wycheproof is read by a
// test above (the README lists them).
func TestWycheproofFilesUsed(t *testing.T) {
	src, err := os.ReadFile("wycheproof_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("testdata", "wycheproof", "README"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "wycheproof", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatal("no vector files", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if !bytes.Contains(src, []byte(`"`+name+`"`)) {
			t.Errorf("%s is not used", name)
		}
		if !strings.Contains(string(readme), name) {
			t.Errorf("%s is not in the README", name)
		}
	}
}
