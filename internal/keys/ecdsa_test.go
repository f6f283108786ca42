package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/openkms/kms"
)

var ecSpecs = []struct {
	spec  kms.KeySpec
	alg   string
	curve ecdh.Curve
	size  int // of the shared secret
	md    string
}{
	{kms.KeySpecECCNISTP256, AlgECDSASHA256, ecdh.P256(), 32, "-sha256"},
	{kms.KeySpecECCNISTP384, AlgECDSASHA384, ecdh.P384(), 48, "-sha384"},
	{kms.KeySpecECCNISTP521, AlgECDSASHA512, ecdh.P521(), 66, "-sha512"},
}

func TestECDSASignVerify(t *testing.T) {
	for _, c := range ecSpecs {
		k := stdTestKey(t, c.spec)
		pub := x509Public(t, k.Public()).(*ecdsa.PublicKey)
		if pub.Curve != nistCurve(c.spec) {
			t.Fatalf("%s: public key on %s", c.spec, pub.Curve.Params().Name)
		}
		for _, mt := range MessageTypes(c.alg) {
			t.Run(string(c.spec)+"/"+mt, func(t *testing.T) {
				msg := testMessage(c.alg, mt)
				sig, err := k.Sign(c.alg, mt, msg)
				if err != nil {
					t.Fatal(err)
				}
				if !ecdsa.VerifyASN1(pub, testMessage(c.alg, MessageDigest), sig) {
					t.Fatal("crypto/ecdsa rejects our signature")
				}
				for _, m := range MessageTypes(c.alg) {
					if err := k.Public().Verify(c.alg, m, testMessage(c.alg, m), sig); err != nil {
						t.Errorf("Verify as %s: %v", m, err)
					}
				}
				for i, bad := range badSignatures(sig) {
					if err := k.Public().Verify(c.alg, mt, msg, bad); err != ErrInvalidSignature {
						t.Errorf("bad signature %d: Verify = %v, want ErrInvalidSignature", i, err)
					}
				}
				if err := k.Public().Verify(c.alg, mt, flipBit(msg, 5), sig); err != ErrInvalidSignature {
					t.Errorf("changed message: Verify = %v", err)
				}
				// The same (r, s) in a longer, non-DER encoding is refused.
				var rs struct{ R, S *big.Int }
				if _, err := asn1.Unmarshal(sig, &rs); err != nil {
					t.Fatal(err)
				}
				long := append([]byte{0x30, 0x81, byte(len(sig) - 2)}, sig[2:]...)
				if sig[1] < 0x80 {
					if err := k.Public().Verify(c.alg, mt, msg, long); err != ErrInvalidSignature {
						t.Errorf("BER length: Verify = %v", err)
					}
				}
				// (r, n-s) is as valid for ECDSA: no low-S rule.
				n := pub.Curve.Params().N
				hi, err := asn1.Marshal(struct{ R, S *big.Int }{rs.R, new(big.Int).Sub(n, rs.S)})
				if err != nil {
					t.Fatal(err)
				}
				if err := k.Public().Verify(c.alg, mt, msg, hi); err != nil {
					t.Errorf("(r, n-s): Verify = %v", err)
				}
			})
		}
		// Another curve's algorithm or digest length is not this key's.
		for _, o := range ecSpecs {
			if o.alg == c.alg {
				continue
			}
			if _, err := k.Sign(o.alg, MessageRaw, []byte("m")); err != ErrUnsupported {
				t.Errorf("%s: Sign(%s) = %v, want ErrUnsupported", c.spec, o.alg, err)
			}
			if _, err := k.Sign(c.alg, MessageDigest, testMessage(o.alg, MessageDigest)); err != ErrUnsupported {
				t.Errorf("%s: Sign of a %s digest = %v, want ErrUnsupported", c.spec, o.alg, err)
			}
		}
		if _, err := k.Public().Encrypt(AlgRSAESOAEPSHA256, []byte("m")); err != ErrUnsupported {
			t.Errorf("%s: Encrypt = %v", c.spec, err)
		}
		if _, err := k.Decrypt(AlgRSAESOAEPSHA256, []byte("m")); err != ErrUnsupported {
			t.Errorf("%s: Decrypt = %v", c.spec, err)
		}
	}
}

// spkiOf builds a SubjectPublicKeyInfo by hand, for encodings crypto/x509
// will not make.
func spkiOf(t *testing.T, curveOID asn1.ObjectIdentifier, point []byte) []byte {
	t.Helper()
	param, err := asn1.Marshal(curveOID)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{
		pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, Parameters: asn1.RawValue{FullBytes: param}},
		asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestECDH(t *testing.T) {
	oids := map[kms.KeySpec]asn1.ObjectIdentifier{
		kms.KeySpecECCNISTP256: {1, 2, 840, 10045, 3, 1, 7},
		kms.KeySpecECCNISTP384: {1, 3, 132, 0, 34},
		kms.KeySpecECCNISTP521: {1, 3, 132, 0, 35},
	}
	for _, c := range ecSpecs {
		t.Run(string(c.spec), func(t *testing.T) {
			k := stdTestKey(t, c.spec)
			ours, err := x509Public(t, k.Public()).(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				peer, err := c.curve.GenerateKey(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				spki, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
				if err != nil {
					t.Fatal(err)
				}
				pp, err := ParsePublicKey(c.spec, spki)
				if err != nil {
					t.Fatal(err)
				}
				got, err := k.SharedSecret(pp)
				if err != nil {
					t.Fatal(err)
				}
				want, err := peer.ECDH(ours)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != c.size || !bytes.Equal(got, want) {
					t.Fatalf("SharedSecret = %x, the peer computes %x", got, want)
				}
			}
			// Keys of another curve, in their own right or under this spec.
			for _, o := range ecSpecs {
				if o.spec == c.spec {
					continue
				}
				peer, _ := o.curve.GenerateKey(rand.Reader)
				spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
				if _, err := ParsePublicKey(c.spec, spki); err != ErrInvalidPublicKey {
					t.Errorf("%s peer key: ParsePublicKey = %v, want ErrInvalidPublicKey", o.spec, err)
				}
				if _, err := k.SharedSecret(stdTestKey(t, o.spec).Public()); err != ErrInvalidPublicKey {
					t.Errorf("SharedSecret with a %s key = %v, want ErrInvalidPublicKey", o.spec, err)
				}
				// Right curve OID, point of the other curve.
				if _, err := ParsePublicKey(c.spec, spkiOf(t, oids[c.spec], peer.PublicKey().Bytes())); err != ErrInvalidPublicKey {
					t.Errorf("%s point under this curve's OID: %v", o.spec, err)
				}
			}
			for _, o := range []kms.KeySpec{kms.KeySpecRSA2048, kms.KeySpecEd25519} {
				if _, err := ParsePublicKey(c.spec, stdTestKey(t, o).Public().DER()); err != ErrInvalidPublicKey {
					t.Errorf("%s key: ParsePublicKey = %v, want ErrInvalidPublicKey", o, err)
				}
			}

			spki := k.Public().DER()
			point := x509Public(t, k.Public()).(*ecdsa.PublicKey)
			uncompressed, err := point.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(spkiOf(t, oids[c.spec], uncompressed), spki) {
				t.Fatal("spkiOf does not rebuild our SPKI")
			}
			// uncompressed is 04 || x || y; the compressed form is
			// 02 or 03 (the parity of y) || x, the hybrid 06 or 07 || x || y.
			size := (len(uncompressed) - 1) / 2
			odd := uncompressed[len(uncompressed)-1] & 1
			compressed := append([]byte{2 | odd}, uncompressed[1:1+size]...)
			hybrid := append([]byte{6 | odd}, uncompressed[1:]...)
			xIsP := append(append([]byte{4}, point.Curve.Params().P.FillBytes(make([]byte, size))...), uncompressed[1+size:]...)
			offCurve := flipBit(uncompressed, 8*len(uncompressed)-1)
			bad := map[string][]byte{
				"empty":            nil,
				"garbage":          []byte("not a public key"),
				"truncated":        spki[:len(spki)-1],
				"trailing byte":    append(bytes.Clone(spki), 0),
				"trailing SPKI":    append(bytes.Clone(spki), spki...),
				"off-curve point":  spkiOf(t, oids[c.spec], offCurve),
				"identity":         spkiOf(t, oids[c.spec], []byte{0}),
				"compressed point": spkiOf(t, oids[c.spec], compressed),
				"hybrid point":     spkiOf(t, oids[c.spec], hybrid),
				"bare point":       uncompressed,
				"x = p":            spkiOf(t, oids[c.spec], xIsP),
				"short point":      spkiOf(t, oids[c.spec], uncompressed[:len(uncompressed)-1]),
				"secp256k1 OID":    spkiOf(t, asn1.ObjectIdentifier{1, 3, 132, 0, 10}, uncompressed),
			}
			for name, der := range bad {
				if _, err := ParsePublicKey(c.spec, der); err != ErrInvalidPublicKey {
					t.Errorf("%s: ParsePublicKey = %v, want ErrInvalidPublicKey", name, err)
				}
			}
		})
	}
}

func TestECParse(t *testing.T) {
	for _, c := range ecSpecs {
		k := stdTestKey(t, c.spec)
		der, err := k.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParsePrivateKey(c.spec, der)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k2.Public().DER(), k.Public().DER()) {
			t.Fatalf("%s: ParsePrivateKey(Marshal()) has another public key", c.spec)
		}
		sig, err := k2.Sign(c.alg, MessageRaw, []byte("m"))
		if err != nil || k.Public().Verify(c.alg, MessageRaw, []byte("m"), sig) != nil {
			t.Fatalf("%s: parsed key signs badly: %v", c.spec, err)
		}
		s1, err1 := k.SharedSecret(stdTestKey(t, c.spec).Public())
		s2, err2 := k2.SharedSecret(k.Public())
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) {
			t.Fatalf("%s: parsed key's shared secret differs: %v %v", c.spec, err1, err2)
		}
		for _, o := range stdSpecs {
			if o != c.spec {
				if _, err := ParsePrivateKey(o, der); err == nil {
					t.Errorf("%s PKCS#8 parses as %s", c.spec, o)
				}
			}
		}
		for i, bad := range [][]byte{nil, der[:len(der)-1], append(bytes.Clone(der), 0)} {
			if _, err := ParsePrivateKey(c.spec, bad); err == nil {
				t.Errorf("%s: bad PKCS#8 %d parses", c.spec, i)
			}
		}
		// A PKCS#8 that crypto/x509 makes from a crypto/ecdh key.
		e, err := c.curve.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err = x509.MarshalPKCS8PrivateKey(e)
		if err != nil {
			t.Fatal(err)
		}
		k3, err := ParsePrivateKey(c.spec, der)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := x509.MarshalPKIXPublicKey(e.PublicKey()); !bytes.Equal(k3.Public().DER(), want) {
			t.Errorf("%s: key from crypto/ecdh has another public key", c.spec)
		}
	}
}

func TestECDSAOpenSSL(t *testing.T) {
	dir := t.TempDir()
	msg := []byte("openkms openssl interop")
	msgFile := writeTemp(t, dir, "msg", msg)
	for _, c := range ecSpecs {
		k := stdTestKey(t, c.spec)
		pubPEM := writePublicPEM(t, dir, k.Public())
		sig, err := k.Sign(c.alg, MessageRaw, msg)
		if err != nil {
			t.Fatal(err)
		}
		sigFile := writeTemp(t, dir, "sig", sig)
		if ok, out := runOpenSSL(t, "dgst", c.md, "-verify", pubPEM, "-signature", sigFile, msgFile); !ok {
			t.Errorf("%s: openssl rejects our signature: %s", c.spec, out)
		}
		sigFile = writeTemp(t, dir, "bad.sig", flipBit(sig, 8*len(sig)-9))
		if ok, _ := runOpenSSL(t, "dgst", c.md, "-verify", pubPEM, "-signature", sigFile, msgFile); ok {
			t.Errorf("%s: openssl accepts a changed signature", c.spec)
		}
	}
}
