package keys

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/openkms/kms"
)

// asymmetricSpecs lists every asymmetric spec, RSA-4096 last (slow keygen).
var asymmetricSpecs = []kms.KeySpec{
	kms.KeySpecRSA2048, kms.KeySpecRSA3072,
	kms.KeySpecECCNISTP256, kms.KeySpecECCNISTP384, kms.KeySpecECCNISTP521, kms.KeySpecECCSECGP256K1,
	kms.KeySpecEd25519, kms.KeySpecMLDSA44, kms.KeySpecMLDSA65, kms.KeySpecMLDSA87, kms.KeySpecSM2,
	kms.KeySpecRSA4096,
}

// TestKeyPairs runs every capability of every spec through the generic API:
// each signing algorithm with each message type it takes, each encryption
// algorithm, ECDH, and the PKCS#8 round trip. Independent verification of
// each family's output lives in the family's own tests.
func TestKeyPairs(t *testing.T) {
	if testing.Short() {
		asymmetricSpecs = asymmetricSpecs[:len(asymmetricSpecs)-1]
	}
	for _, spec := range asymmetricSpecs {
		t.Run(string(spec), func(t *testing.T) {
			p, err := GenerateKeyPair(spec)
			if err != nil {
				t.Fatal(err)
			}
			der, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParsePrivateKey(spec, der)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(q.Public().DER(), p.Public().DER()) {
				t.Fatal("PKCS#8 round trip changed the public key")
			}
			pub, err := ParsePublicKey(spec, p.Public().DER())
			if err != nil {
				t.Fatal(err)
			}
			info := specs[spec]
			// The private key's own public half: ML-DSA verifies
			// EXTERNAL_MU only with it (see mldsa.go).
			verifier := q.Public()
			for _, alg := range info.signing {
				for _, mt := range MessageTypes(alg) {
					msg := []byte("a message to sign")
					switch mt {
					case MessageDigest:
						msg = make([]byte, DigestSize(alg))
						rand.Read(msg)
					case MessageExternalMu:
						msg = make([]byte, 64)
						rand.Read(msg)
					}
					sig, err := q.Sign(alg, mt, msg)
					if err != nil {
						t.Fatalf("%s %s: %v", alg, mt, err)
					}
					if err := verifier.Verify(alg, mt, msg, sig); err != nil {
						t.Errorf("%s %s: %v", alg, mt, err)
					}
					if mt != MessageExternalMu {
						if err := pub.Verify(alg, mt, msg, sig); err != nil {
							t.Errorf("%s %s with the parsed public key: %v", alg, mt, err)
						}
					}
					msg[0] ^= 1
					if err := verifier.Verify(alg, mt, msg, sig); !errors.Is(err, ErrInvalidSignature) {
						t.Errorf("%s %s: other message: %v", alg, mt, err)
					}
					for _, bad := range [][]byte{nil, {}, sig[:len(sig)-1], append(sig, 0), make([]byte, len(sig))} {
						if err := verifier.Verify(alg, mt, msg, bad); !errors.Is(err, ErrInvalidSignature) {
							t.Errorf("%s %s: bad signature of %d bytes: %v", alg, mt, len(bad), err)
						}
					}
				}
			}
			for _, alg := range info.encryption {
				n := MaxPlaintext(spec, alg)
				pt := make([]byte, n)
				rand.Read(pt)
				ct, err := pub.Encrypt(alg, pt)
				if err != nil {
					t.Fatalf("%s: %v", alg, err)
				}
				got, err := q.Decrypt(alg, ct)
				if err != nil || !bytes.Equal(got, pt) {
					t.Errorf("%s: round trip of %d bytes: %v", alg, n, err)
				}
				ct[len(ct)/2] ^= 1
				if _, err := q.Decrypt(alg, ct); !errors.Is(err, ErrDecrypt) {
					t.Errorf("%s: tampered ciphertext: %v", alg, err)
				}
				if _, err := q.Decrypt(alg, nil); !errors.Is(err, ErrDecrypt) {
					t.Errorf("%s: empty ciphertext: %v", alg, err)
				}
			}
			if len(info.agreement) > 0 {
				peer, err := GenerateKeyPair(spec)
				if err != nil {
					t.Fatal(err)
				}
				a, err := q.SharedSecret(peer.Public())
				if err != nil {
					t.Fatal(err)
				}
				b, err := peer.SharedSecret(pub)
				if err != nil || !bytes.Equal(a, b) {
					t.Errorf("ECDH secrets differ: %v", err)
				}
			}
			if s := fmt.Sprintf("%v %+v %s %x %#v", p, *p, p, p, p); strings.Count(s, "REDACTED") != 5 {
				t.Errorf("formatting a private key prints %s", s)
			}
			if _, err := ParsePublicKey(spec, append(bytes.Clone(p.Public().DER()), 0)); !errors.Is(err, ErrInvalidPublicKey) {
				t.Errorf("trailing byte after the public key: %v", err)
			}
		})
	}
}

// TestSelfTestCatchesMismatch pairs a private key with another key's public
// half: the pair-wise test must refuse it.
func TestSelfTestCatchesMismatch(t *testing.T) {
	for _, spec := range []kms.KeySpec{kms.KeySpecECCNISTP256, kms.KeySpecEd25519, kms.KeySpecMLDSA44, kms.KeySpecRSA2048, kms.KeySpecSM2} {
		a, err := GenerateKeyPair(spec)
		if err != nil {
			t.Fatal(err)
		}
		b, err := GenerateKeyPair(spec)
		if err != nil {
			t.Fatal(err)
		}
		bad := &PrivateKey{spec: spec, k: a.k, pub: b.pub}
		if err := bad.selfTest(); !errors.Is(err, ErrSelfTest) {
			t.Errorf("%s: self-test of a mismatched pair: %v", spec, err)
		}
	}
}

func TestUnknownSpec(t *testing.T) {
	for _, spec := range []kms.KeySpec{kms.KeySpecSymmetricDefault, kms.KeySpecHMAC256, "RSA_1024"} {
		if _, err := GenerateKeyPair(spec); !errors.Is(err, ErrUnsupported) {
			t.Errorf("GenerateKeyPair(%s): %v", spec, err)
		}
		if _, err := ParsePublicKey(spec, []byte{0x30, 0}); err == nil {
			t.Errorf("ParsePublicKey(%s) accepted junk", spec)
		}
	}
}

func TestDataKeyPairs(t *testing.T) {
	for _, spec := range DataKeyPairSpecs {
		if spec == kms.KeySpecRSA4096 && testing.Short() {
			continue
		}
		priv, pub, err := GenerateDataKeyPair(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		p, err := ParsePrivateKey(spec, priv)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if !bytes.Equal(p.Public().DER(), pub) {
			t.Errorf("%s: public key does not match the private key", spec)
		}
	}
}
