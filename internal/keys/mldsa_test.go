package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/sha3"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/mldsa"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/openkms/kms"
)

// mldsaCase is one ML-DSA parameter set, with circl as the independent
// implementation the tests check us against.
type mldsaCase struct {
	spec    kms.KeySpec
	name    string // of the Wycheproof files
	oid     asn1.ObjectIdentifier
	pkSize  int
	sigSize int
	// circlVerify verifies a pure ML-DSA signature, empty context.
	circlVerify func(pk, msg, sig []byte) bool
	// circlSign makes a key pair and a signature of msg (empty context).
	circlSign func(t *testing.T, msg []byte) (pk, sig []byte)
}

var mldsaCases = []mldsaCase{
	{
		spec: kms.KeySpecMLDSA44, name: "44", oid: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17},
		pkSize: 1312, sigSize: 2420,
		circlVerify: func(pk, msg, sig []byte) bool {
			var k mldsa44.PublicKey
			return k.UnmarshalBinary(pk) == nil && mldsa44.Verify(&k, msg, nil, sig)
		},
		circlSign: func(t *testing.T, msg []byte) ([]byte, []byte) {
			pk, sk, err := mldsa44.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			sig := make([]byte, mldsa44.SignatureSize)
			if err := mldsa44.SignTo(sk, msg, nil, true, sig); err != nil {
				t.Fatal(err)
			}
			return pk.Bytes(), sig
		},
	},
	{
		spec: kms.KeySpecMLDSA65, name: "65", oid: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18},
		pkSize: 1952, sigSize: 3309,
		circlVerify: func(pk, msg, sig []byte) bool {
			var k mldsa65.PublicKey
			return k.UnmarshalBinary(pk) == nil && mldsa65.Verify(&k, msg, nil, sig)
		},
		circlSign: func(t *testing.T, msg []byte) ([]byte, []byte) {
			pk, sk, err := mldsa65.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			sig := make([]byte, mldsa65.SignatureSize)
			if err := mldsa65.SignTo(sk, msg, nil, true, sig); err != nil {
				t.Fatal(err)
			}
			return pk.Bytes(), sig
		},
	},
	{
		spec: kms.KeySpecMLDSA87, name: "87", oid: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19},
		pkSize: 2592, sigSize: 4627,
		circlVerify: func(pk, msg, sig []byte) bool {
			var k mldsa87.PublicKey
			return k.UnmarshalBinary(pk) == nil && mldsa87.Verify(&k, msg, nil, sig)
		},
		circlSign: func(t *testing.T, msg []byte) ([]byte, []byte) {
			pk, sk, err := mldsa87.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			sig := make([]byte, mldsa87.SignatureSize)
			if err := mldsa87.SignTo(sk, msg, nil, true, sig); err != nil {
				t.Fatal(err)
			}
			return pk.Bytes(), sig
		},
	},
}

// mldsaTestSPKI is a SubjectPublicKeyInfo, read with encoding/asn1 alone.
type mldsaTestSPKI struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// mldsaRawPublicKey takes the encoded public key out of an SPKI without our
// code, checking the OID.
func mldsaRawPublicKey(t *testing.T, der []byte, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	var s mldsaTestSPKI
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		t.Fatalf("SPKI: %v", err)
	}
	if !s.Algorithm.Algorithm.Equal(oid) || len(s.Algorithm.Parameters.FullBytes) != 0 {
		t.Fatalf("SPKI algorithm %v, parameters %x", s.Algorithm.Algorithm, s.Algorithm.Parameters.FullBytes)
	}
	return s.PublicKey.Bytes
}

func mldsaTestSPKIOf(t *testing.T, pk []byte, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	der, err := asn1.Marshal(mldsaTestSPKI{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid},
		PublicKey: asn1.BitString{Bytes: pk, BitLength: 8 * len(pk)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// mldsaTestMu computes μ = SHAKE256(SHAKE256(pk, 64) || 0 || len(ctx) ||
// ctx || msg, 64), FIPS 204 Algorithm 2 and Algorithm 7 line 6, here with
// crypto/sha3 alone.
func mldsaTestMu(pk, ctx, msg []byte) []byte {
	tr := sha3.SumSHAKE256(pk, 64)
	h := sha3.NewSHAKE256()
	h.Write(tr)
	h.Write([]byte{0, byte(len(ctx))})
	h.Write(ctx)
	h.Write(msg)
	mu := make([]byte, 64)
	h.Read(mu)
	return mu
}

func TestMLDSASignVerify(t *testing.T) {
	msg := []byte("a message for ML-DSA")
	for _, c := range mldsaCases {
		t.Run(string(c.spec), func(t *testing.T) {
			k, err := GenerateKeyPair(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			pk := mldsaRawPublicKey(t, k.Public().DER(), c.oid)
			if len(pk) != c.pkSize {
				t.Fatalf("public key of %d bytes", len(pk))
			}
			mu := mldsaTestMu(pk, nil, msg)
			for _, tc := range []struct {
				mt  string
				msg []byte
			}{
				{MessageRaw, msg},
				{MessageRaw, nil},
				{MessageExternalMu, mu},
			} {
				sig, err := k.Sign(AlgMLDSA, tc.mt, tc.msg)
				if err != nil {
					t.Fatalf("%s: %v", tc.mt, err)
				}
				if len(sig) != c.sigSize {
					t.Fatalf("%s: signature of %d bytes", tc.mt, len(sig))
				}
				if err := k.Public().Verify(AlgMLDSA, tc.mt, tc.msg, sig); err != nil {
					t.Errorf("%s: %v", tc.mt, err)
				}
				// Deterministic: one signature per message (see mldsa.go).
				sig2, _ := k.Sign(AlgMLDSA, tc.mt, tc.msg)
				if !bytes.Equal(sig, sig2) {
					t.Errorf("%s: signing is not deterministic", tc.mt)
				}
				bad := bytes.Clone(sig)
				bad[len(bad)/2] ^= 1
				if err := k.Public().Verify(AlgMLDSA, tc.mt, tc.msg, bad); !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("%s: corrupted signature: %v", tc.mt, err)
				}
			}
			// A RAW signature is one of μ, and the other way round.
			sig, _ := k.Sign(AlgMLDSA, MessageRaw, msg)
			if err := k.Public().Verify(AlgMLDSA, MessageExternalMu, mu, sig); err != nil {
				t.Errorf("RAW signature as EXTERNAL_MU: %v", err)
			}
			sig, _ = k.Sign(AlgMLDSA, MessageExternalMu, mu)
			if err := k.Public().Verify(AlgMLDSA, MessageRaw, msg, sig); err != nil {
				t.Errorf("EXTERNAL_MU signature as RAW: %v", err)
			}
			if err := k.Public().Verify(AlgMLDSA, MessageRaw, []byte("another message"), sig); err == nil {
				t.Error("signature verifies for another message")
			}
		})
	}
}

// TestMLDSACircl checks our signatures with circl, which sees only the
// public key in our SPKI, and circl's signatures with our Verify.
func TestMLDSACircl(t *testing.T) {
	msg := []byte("checked by circl")
	for _, c := range mldsaCases {
		t.Run(string(c.spec), func(t *testing.T) {
			k, err := GenerateKeyPair(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			pk := mldsaRawPublicKey(t, k.Public().DER(), c.oid)
			sig, err := k.Sign(AlgMLDSA, MessageRaw, msg)
			if err != nil {
				t.Fatal(err)
			}
			if !c.circlVerify(pk, msg, sig) {
				t.Error("circl rejects our RAW signature")
			}
			sig, err = k.Sign(AlgMLDSA, MessageExternalMu, mldsaTestMu(pk, nil, msg))
			if err != nil {
				t.Fatal(err)
			}
			if !c.circlVerify(pk, msg, sig) {
				t.Error("circl rejects our EXTERNAL_MU signature as a pure signature of the message")
			}
			if c.circlVerify(pk, []byte("other"), sig) {
				t.Error("circl accepts the signature for another message")
			}

			cpk, csig := c.circlSign(t, msg)
			pub, err := ParsePublicKey(c.spec, mldsaTestSPKIOf(t, cpk, c.oid))
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.Verify(AlgMLDSA, MessageRaw, msg, csig); err != nil {
				t.Errorf("circl's signature, RAW: %v", err)
			}
			if err := pub.Verify(AlgMLDSA, MessageRaw, []byte("other"), csig); err == nil {
				t.Error("circl's signature verifies for another message")
			}
		})
	}
}

func TestMLDSAMarshal(t *testing.T) {
	for _, c := range mldsaCases {
		t.Run(string(c.spec), func(t *testing.T) {
			k, err := GenerateKeyPair(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			der, err := k.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			// RFC 9881 seed-only form.
			if len(der) != 54 || !bytes.Equal(der, mldsaSeedPKCS8(c.oid, der[22:])) {
				t.Fatalf("PKCS#8 is not the seed-only form (%d bytes)", len(der))
			}
			k2, err := ParsePrivateKey(c.spec, der)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k2.Public().DER(), k.Public().DER()) {
				t.Fatal("parsed key has another public key")
			}
			sig, err := k2.Sign(AlgMLDSA, MessageRaw, []byte("m"))
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Public().Verify(AlgMLDSA, MessageRaw, []byte("m"), sig); err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKey(c.spec, k.Public().DER())
			if err != nil || !bytes.Equal(pub.DER(), k.Public().DER()) {
				t.Fatalf("ParsePublicKey of our SPKI: %v", err)
			}
			// The seed determines the key, as filippo.io/mldsa derives it.
			fk, err := mldsa.NewPrivateKey(mldsaParamsOf(t, c.spec), der[len(der)-32:])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fk.PublicKey().Bytes(), mldsaRawPublicKey(t, k.Public().DER(), c.oid)) {
				t.Fatal("seed in PKCS#8 is not the key's")
			}
		})
	}
}

func mldsaParamsOf(t *testing.T, spec kms.KeySpec) mldsa.Parameters {
	t.Helper()
	p, ok := mldsaParams(spec)
	if !ok {
		t.Fatalf("no parameters for %s", spec)
	}
	return p
}

func TestMLDSARejects(t *testing.T) {
	keys := map[kms.KeySpec]*PrivateKey{}
	for _, c := range mldsaCases {
		k, err := GenerateKeyPair(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		keys[c.spec] = k
	}
	k44, k65 := keys[kms.KeySpecMLDSA44], keys[kms.KeySpecMLDSA65]
	spki := k44.Public().DER()
	pk := mldsaRawPublicKey(t, spki, mldsaCases[0].oid)
	p8, _ := k44.Marshal()

	withParams, _ := asn1.Marshal(mldsaTestSPKI{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: mldsaCases[0].oid, Parameters: asn1.NullRawValue},
		PublicKey: asn1.BitString{Bytes: pk, BitLength: 8 * len(pk)},
	})
	oddBits, _ := asn1.Marshal(mldsaTestSPKI{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: mldsaCases[0].oid},
		PublicKey: asn1.BitString{Bytes: pk, BitLength: 8*len(pk) - 1},
	})
	ec, _ := GenerateKeyPair(kms.KeySpecECCSECGP256K1)

	for _, tc := range []struct {
		name string
		spec kms.KeySpec
		der  []byte
	}{
		{"other parameter set", kms.KeySpecMLDSA65, spki},
		{"trailing byte", kms.KeySpecMLDSA44, append(bytes.Clone(spki), 0)},
		{"truncated", kms.KeySpecMLDSA44, spki[:len(spki)-1]},
		{"short key", kms.KeySpecMLDSA44, mldsaTestSPKIOf(t, pk[:len(pk)-1], mldsaCases[0].oid)},
		{"long key", kms.KeySpecMLDSA44, mldsaTestSPKIOf(t, append(bytes.Clone(pk), 0), mldsaCases[0].oid)},
		{"parameters", kms.KeySpecMLDSA44, withParams},
		{"unused bits", kms.KeySpecMLDSA44, oddBits},
		{"wrong OID", kms.KeySpecMLDSA44, mldsaTestSPKIOf(t, pk, mldsaCases[1].oid)},
		{"EC key", kms.KeySpecMLDSA44, ec.Public().DER()},
		{"empty", kms.KeySpecMLDSA44, nil},
	} {
		if _, err := ParsePublicKey(tc.spec, tc.der); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("ParsePublicKey, %s: %v", tc.name, err)
		}
	}

	for _, tc := range []struct {
		name string
		spec kms.KeySpec
		der  []byte
	}{
		{"other parameter set", kms.KeySpecMLDSA65, p8},
		{"trailing byte", kms.KeySpecMLDSA44, append(bytes.Clone(p8), 0)},
		{"truncated", kms.KeySpecMLDSA44, p8[:len(p8)-1]},
		{"expanded key", kms.KeySpecMLDSA44, append(append([]byte{}, p8[:len(p8)-34]...), append([]byte{0x04, 0x20}, p8[len(p8)-32:]...)...)},
		{"EC key", kms.KeySpecMLDSA44, mustMarshal(t, ec)},
	} {
		if _, err := ParsePrivateKey(tc.spec, tc.der); err == nil {
			t.Errorf("ParsePrivateKey, %s: accepted", tc.name)
		}
	}

	msg := []byte("m")
	sig, _ := k44.Sign(AlgMLDSA, MessageRaw, msg)
	mu := mldsaTestMu(pk, nil, msg)
	for _, tc := range []struct {
		name    string
		pub     *PublicKey
		alg, mt string
		msg     []byte
		sig     []byte
	}{
		{"other key", k65.Public(), AlgMLDSA, MessageRaw, msg, sig},
		{"short signature", k44.Public(), AlgMLDSA, MessageRaw, msg, sig[:len(sig)-1]},
		{"long signature", k44.Public(), AlgMLDSA, MessageRaw, msg, append(bytes.Clone(sig), 0)},
		{"empty signature", k44.Public(), AlgMLDSA, MessageRaw, msg, nil},
		{"short μ", k44.Public(), AlgMLDSA, MessageExternalMu, mu[:63], sig},
		{"long μ", k44.Public(), AlgMLDSA, MessageExternalMu, append(bytes.Clone(mu), 0), sig},
		{"DIGEST", k44.Public(), AlgMLDSA, MessageDigest, mu, sig},
		{"other algorithm", k44.Public(), AlgECDSASHA256, MessageRaw, msg, sig},
	} {
		if err := tc.pub.Verify(tc.alg, tc.mt, tc.msg, tc.sig); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("Verify, %s: %v", tc.name, err)
		}
	}

	for _, tc := range []struct {
		name, alg, mt string
		msg           []byte
	}{
		{"DIGEST", AlgMLDSA, MessageDigest, mu},
		{"short μ", AlgMLDSA, MessageExternalMu, mu[:63]},
		{"other algorithm", AlgEd25519, MessageRaw, msg},
	} {
		if _, err := k44.Sign(tc.alg, tc.mt, tc.msg); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Sign, %s: %v", tc.name, err)
		}
	}
	if _, err := k44.Public().Encrypt(AlgSM2PKE, msg); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Encrypt: %v", err)
	}
	if _, err := k44.Decrypt(AlgSM2PKE, msg); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Decrypt: %v", err)
	}
	if _, err := k44.SharedSecret(k44.Public()); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SharedSecret: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v %x", k44.k, k44.k, k44.k, k44.k); bytes.Contains([]byte(s), p8[len(p8)-32:]) ||
		bytes.Contains([]byte(s), []byte(fmt.Sprintf("%x", p8[len(p8)-32:]))) {
		t.Error("fmt prints the seed")
	}
}

func mustMarshal(t *testing.T, k *PrivateKey) []byte {
	t.Helper()
	der, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestMLDSAExternalMuVerify checks Verify with EXTERNAL_MU against
// filippo.io/mldsa's Verify of the message on corrupted signatures: flipping
// any bit must give the same answer from both. It also checks that a public
// key parsed from its SPKI alone refuses EXTERNAL_MU (it has no private key
// to re-sign with).
func TestMLDSAExternalMuVerify(t *testing.T) {
	msg := []byte("differential")
	for _, c := range mldsaCases {
		t.Run(string(c.spec), func(t *testing.T) {
			k, err := GenerateKeyPair(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			pk, err := mldsa.NewPublicKey(mldsaParamsOf(t, c.spec), mldsaRawPublicKey(t, k.Public().DER(), c.oid))
			if err != nil {
				t.Fatal(err)
			}
			mu := mldsaTestMu(pk.Bytes(), nil, msg)
			sig, err := k.Sign(AlgMLDSA, MessageRaw, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Public().Verify(AlgMLDSA, MessageExternalMu, mu, sig); err != nil {
				t.Fatalf("RAW signature does not verify as EXTERNAL_MU: %v", err)
			}
			if byMu, _ := k.Sign(AlgMLDSA, MessageExternalMu, mu); !bytes.Equal(byMu, sig) {
				t.Fatal("signing μ and signing the message differ")
			}
			var buf [4]byte
			for range 100 {
				rand.Read(buf[:])
				bad := bytes.Clone(sig)
				bit := int(uint32(buf[0])|uint32(buf[1])<<8|uint32(buf[2])<<16) % (8 * len(bad))
				bad[bit/8] ^= 1 << (bit % 8)
				want := mldsa.Verify(pk, msg, bad, nil) == nil
				if got := k.Public().Verify(AlgMLDSA, MessageExternalMu, mu, bad) == nil; got != want {
					t.Fatalf("bit %d flipped: EXTERNAL_MU %v, filippo.io/mldsa %v", bit, got, want)
				}
			}
			pub, err := ParsePublicKey(c.spec, k.Public().DER())
			if err != nil {
				t.Fatal(err)
			}
			if pub.Verify(AlgMLDSA, MessageExternalMu, mu, sig) == nil {
				t.Error("a public key without its private key verified EXTERNAL_MU")
			}
		})
	}
}

type mldsaWycheproofVerify struct {
	Algorithm  string
	TestGroups []struct {
		PublicKeyDer string
		Tests        []struct {
			TcID   int
			Msg    string
			Ctx    string
			Sig    string
			Result string
			Flags  []string
		}
	}
}

type mldsaWycheproofSign struct {
	Algorithm  string
	TestGroups []struct {
		PrivateSeed     string
		PrivateKeyPkcs8 string
		PublicKey       string
		Tests           []struct {
			TcID   int
			Msg    *string
			Ctx    string
			Mu     string
			Sig    string
			Result string
			Flags  []string
		}
	}
}

func mldsaLoadJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mldsa", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestMLDSAWycheproofVerify runs Wycheproof's ML-DSA verification vectors
// with an empty context through ParsePublicKey and Verify with RAW. (Their
// keys come without private keys, which EXTERNAL_MU verification needs; the
// signing vectors below cover it.)
func TestMLDSAWycheproofVerify(t *testing.T) {
	for _, c := range mldsaCases {
		t.Run(string(c.spec), func(t *testing.T) {
			var f mldsaWycheproofVerify
			mldsaLoadJSON(t, "mldsa_"+c.name+"_verify_test.json", &f)
			if f.Algorithm != "ML-DSA-"+c.name {
				t.Fatalf("algorithm %q", f.Algorithm)
			}
			n := 0
			for _, g := range f.TestGroups {
				der := mustHex(t, g.PublicKeyDer)
				pub, err := ParsePublicKey(c.spec, der)
				if err != nil {
					// Only keys of the wrong length are refused.
					for _, tc := range g.Tests {
						if tc.Result != "invalid" {
							t.Errorf("tcId %d: key refused (%v) but the result is %s", tc.TcID, err, tc.Result)
						}
						n++
					}
					continue
				}
				for _, tc := range g.Tests {
					n++
					msg, ctx, sig := mustHex(t, tc.Msg), mustHex(t, tc.Ctx), mustHex(t, tc.Sig)
					want := tc.Result == "valid"
					if tc.Result != "valid" && tc.Result != "invalid" {
						t.Fatalf("tcId %d: result %q", tc.TcID, tc.Result)
					}
					if len(ctx) == 0 {
						got := pub.Verify(AlgMLDSA, MessageRaw, msg, sig) == nil
						if got != want {
							t.Errorf("tcId %d %v: RAW verify %v, want %v", tc.TcID, tc.Flags, got, want)
						}
					}
					if len(ctx) > 255 && want {
						t.Errorf("tcId %d: valid with a context of %d bytes", tc.TcID, len(ctx))
					}
				}
			}
			if n < 50 {
				t.Fatalf("only %d vectors", n)
			}
		})
	}
}

// TestMLDSAWycheproofSign uses Wycheproof's signing vectors (from seeds):
// the seed's PKCS#8 gives the expected public key, our deterministic
// signature of the vector's μ is the expected signature byte for byte, and
// the expected signatures verify, as EXTERNAL_MU with the vectors' μ (some
// vectors have no message, only μ) and as RAW where there is a message and
// no context.
func TestMLDSAWycheproofSign(t *testing.T) {
	for _, c := range mldsaCases {
		t.Run(string(c.spec), func(t *testing.T) {
			var f mldsaWycheproofSign
			mldsaLoadJSON(t, "mldsa_"+c.name+"_sign_seed_test.json", &f)
			if f.Algorithm != "ML-DSA-"+c.name {
				t.Fatalf("algorithm %q", f.Algorithm)
			}
			n, muOnly := 0, 0
			for _, g := range f.TestGroups {
				seed := mustHex(t, g.PrivateSeed)
				p8 := mldsaSeedPKCS8(c.oid, seed)
				if g.PublicKey == "" {
					// A seed of the wrong length: no key.
					if _, err := ParsePrivateKey(c.spec, p8); err == nil || len(seed) == 32 {
						t.Errorf("seed %q: accepted", g.PrivateSeed)
					}
					continue
				}
				if g.PrivateKeyPkcs8 != "" && !bytes.Equal(p8, mustHex(t, g.PrivateKeyPkcs8)) {
					t.Fatalf("seed %s: our PKCS#8 differs from the vector's", g.PrivateSeed)
				}
				k, err := ParsePrivateKey(c.spec, p8)
				if err != nil {
					t.Fatal(err)
				}
				der, _ := k.Marshal()
				if !bytes.Equal(der, p8) {
					t.Error("Marshal does not give back the PKCS#8")
				}
				pk := mustHex(t, g.PublicKey)
				if !bytes.Equal(mldsaRawPublicKey(t, k.Public().DER(), c.oid), pk) {
					t.Fatalf("seed %s: wrong public key", g.PrivateSeed)
				}
				for _, tc := range g.Tests {
					if tc.Result != "valid" {
						continue // failures of signing (bad context lengths)
					}
					n++
					sig, mu := mustHex(t, tc.Sig), mustHex(t, tc.Mu)
					// Hedged signatures are valid but not ours: this
					// key signs deterministically, and EXTERNAL_MU
					// verification accepts only its own (see mldsa.go).
					hedged := slices.Contains(tc.Flags, "Randomized")
					if err := k.Public().Verify(AlgMLDSA, MessageExternalMu, mu, sig); (err == nil) == hedged {
						t.Errorf("tcId %d %v: EXTERNAL_MU: %v", tc.TcID, tc.Flags, err)
					}
					if tc.Msg == nil {
						muOnly++
					} else {
						msg := mustHex(t, *tc.Msg)
						if !bytes.Equal(mldsaTestMu(pk, mustHex(t, tc.Ctx), msg), mu) {
							t.Errorf("tcId %d: μ differs from the vector's", tc.TcID)
						}
						if tc.Ctx == "" {
							if err := k.Public().Verify(AlgMLDSA, MessageRaw, msg, sig); err != nil {
								t.Errorf("tcId %d %v: RAW: %v", tc.TcID, tc.Flags, err)
							}
						}
					}
					ours, err := k.Sign(AlgMLDSA, MessageExternalMu, mu)
					if err != nil {
						t.Fatal(err)
					}
					if !hedged && !bytes.Equal(ours, sig) {
						t.Errorf("tcId %d %v: our deterministic signature differs from the vector's", tc.TcID, tc.Flags)
					}
				}
			}
			if n < 10 || muOnly == 0 {
				t.Fatalf("%d vectors, %d of μ only", n, muOnly)
			}
		})
	}
}

// FuzzMLDSAVerify feeds arbitrary bytes to ParsePublicKey and Verify, and
// checks EXTERNAL_MU verification against filippo.io/mldsa's Verify on
// arbitrary signatures for a fixed key.
func FuzzMLDSAVerify(f *testing.F) {
	sk, err := mldsa.NewPrivateKey(mldsa.MLDSA44(), make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	pk := sk.PublicKey()
	msg := []byte("fuzz")
	mu := mldsaTestMu(pk.Bytes(), nil, msg)
	sig, _ := sk.SignDeterministic(msg, nil)
	k, err := ParsePrivateKey(kms.KeySpecMLDSA44, mldsaSeedPKCS8(mldsaCases[0].oid, sk.Bytes()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.Public().DER(), sig, mu)
	f.Add([]byte{0x30, 0x00}, sig[:100], msg)
	bad := bytes.Clone(sig)
	bad[len(bad)-1] = 0xff
	f.Add(k.Public().DER(), bad, mu)
	f.Fuzz(func(t *testing.T, der, sig, m []byte) {
		for _, spec := range []kms.KeySpec{kms.KeySpecMLDSA44, kms.KeySpecMLDSA65, kms.KeySpecMLDSA87} {
			if p, err := ParsePublicKey(spec, der); err == nil {
				p.Verify(AlgMLDSA, MessageRaw, m, sig)
				p.Verify(AlgMLDSA, MessageExternalMu, m, sig)
			}
		}
		want := mldsa.Verify(pk, msg, sig, nil) == nil
		if got := k.Public().Verify(AlgMLDSA, MessageExternalMu, mu, sig) == nil; got != want {
			t.Fatalf("Verify EXTERNAL_MU %v, filippo.io/mldsa %v", got, want)
		}
	})
}

// mldsaSeedPKCS8 writes the RFC 9881 seed-only PKCS#8 by hand:
// SEQUENCE{0, SEQUENCE{oid}, OCTET STRING{[0] seed}}.
func mldsaSeedPKCS8(oid asn1.ObjectIdentifier, seed []byte) []byte {
	o, _ := asn1.Marshal(oid)
	p8 := append([]byte{0x30, 0x34, 0x02, 0x01, 0x00, 0x30, 0x0b}, o...)
	return append(append(p8, 0x04, 0x22, 0x80, 0x20), seed...)
}
