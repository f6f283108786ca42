package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/openkms/kms"
)

// ECC_SECG_P256K1 key pairs: ECDSA_SHA_256 on secp256k1, signing only (as
// AWS offers it), with github.com/decred/dcrd/dcrec/secp256k1/v4.
//
// Signatures are DER ECDSA-Sig-Value. Sign makes RFC 6979 deterministic
// signatures normalised to low S (decred's BIP 62 form): ordinary ECDSA
// signatures that every verifier accepts. Verify accepts any valid DER
// signature, high S included, as AWS must (its own signatures have high S
// about half the time; clients that need low S, such as Ethereum's,
// normalise them themselves).
//
// crypto/x509 does not know secp256k1, so the PKCS#8 and SPKI encodings are
// done here with encoding/asn1, as OpenSSL writes them: id-ecPublicKey
// with the namedCurve secp256k1, an RFC 5915 ECPrivateKey holding the
// public key but not the (already given) curve parameters.

func init() {
	register(&family{
		generate:     generateK1,
		parsePrivate: parseK1Private,
		parsePublic:  parseK1Public,
	}, kms.KeySpecECCSECGP256K1)
}

var (
	oidNamedCurveECKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidK1Curve         = asn1.ObjectIdentifier{1, 3, 132, 0, 10}

	errK1Key = errors.New("keys: not a secp256k1 key")
)

// namedCurveAlgorithm is the AlgorithmIdentifier of an EC key on a named
// curve (RFC 5480): id-ecPublicKey with the curve's OID as its (required)
// parameters.
type namedCurveAlgorithm struct {
	Algorithm asn1.ObjectIdentifier
	Curve     asn1.ObjectIdentifier
}

// namedCurveSPKI is a SubjectPublicKeyInfo (RFC 5280) of an EC key.
type namedCurveSPKI struct {
	Algorithm namedCurveAlgorithm
	PublicKey asn1.BitString
}

// namedCurvePKCS8 is a PrivateKeyInfo (RFC 5208) of an EC key, without
// attributes.
type namedCurvePKCS8 struct {
	Version    int
	Algorithm  namedCurveAlgorithm
	PrivateKey []byte
}

// namedCurveECPrivateKey is an ECPrivateKey (RFC 5915). We write no parameters
// (the PKCS#8 AlgorithmIdentifier has them) and always the public key.
type namedCurveECPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// parseNamedCurvePKCS8 reads the PKCS#8 PrivateKeyInfo of a key on curve,
// whose scalars and coordinates are 32 bytes long, as marshalNamedCurvePKCS8
// and OpenSSL write it: it returns the private scalar and the uncompressed
// public point if the key has one (nil if not). The caller checks the
// scalar's range and that the point is its public key.
func parseNamedCurvePKCS8(der []byte, curve asn1.ObjectIdentifier) (d, pub []byte, ok bool) {
	var p8 namedCurvePKCS8
	if rest, err := asn1.Unmarshal(der, &p8); err != nil || len(rest) != 0 {
		return nil, nil, false
	}
	if p8.Version != 0 || !p8.Algorithm.Algorithm.Equal(oidNamedCurveECKey) || !p8.Algorithm.Curve.Equal(curve) {
		return nil, nil, false
	}
	var ec namedCurveECPrivateKey
	if rest, err := asn1.Unmarshal(p8.PrivateKey, &ec); err != nil || len(rest) != 0 {
		return nil, nil, false
	}
	if ec.Version != 1 || len(ec.PrivateKey) != 32 || (ec.Curve != nil && !ec.Curve.Equal(curve)) {
		return nil, nil, false
	}
	if ec.PublicKey.BitLength != 0 {
		if ec.PublicKey.BitLength != 8*65 || ec.PublicKey.Bytes[0] != 4 {
			return nil, nil, false
		}
		pub = ec.PublicKey.Bytes
	}
	return ec.PrivateKey, pub, true
}

// marshalNamedCurvePKCS8 writes the PKCS#8 PrivateKeyInfo of the key on
// curve with the 32-byte scalar d and the uncompressed public point pub.
func marshalNamedCurvePKCS8(curve asn1.ObjectIdentifier, d, pub []byte) ([]byte, error) {
	ec, err := asn1.Marshal(namedCurveECPrivateKey{
		Version:    1,
		PrivateKey: d,
		PublicKey:  asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)},
	})
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(namedCurvePKCS8{
		Algorithm:  namedCurveAlgorithm{Algorithm: oidNamedCurveECKey, Curve: curve},
		PrivateKey: ec,
	})
	clear(ec)
	return der, err
}

// parseNamedCurveSPKI reads the DER SubjectPublicKeyInfo of an
// uncompressed point on curve, whose coordinates are 32 bytes long, and
// returns the point. The caller checks that it is on the curve.
func parseNamedCurveSPKI(der []byte, curve asn1.ObjectIdentifier) (pub []byte, ok bool) {
	var s namedCurveSPKI
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		return nil, false
	}
	if !s.Algorithm.Algorithm.Equal(oidNamedCurveECKey) || !s.Algorithm.Curve.Equal(curve) {
		return nil, false
	}
	if s.PublicKey.BitLength != 8*65 || s.PublicKey.Bytes[0] != 4 {
		return nil, false
	}
	return s.PublicKey.Bytes, true
}

func marshalNamedCurveSPKI(curve asn1.ObjectIdentifier, pub []byte) ([]byte, error) {
	return asn1.Marshal(namedCurveSPKI{
		Algorithm: namedCurveAlgorithm{Algorithm: oidNamedCurveECKey, Curve: curve},
		PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)},
	})
}

type k1Private struct {
	k   *secp256k1.PrivateKey
	pub *k1Public
}

type k1Public struct {
	k *secp256k1.PublicKey
}

// Format keeps fmt from printing the key material whatever the verb.
func (*k1Private) Format(f fmt.State, _ rune) { io.WriteString(f, "[private key]") }

func generateK1(spec kms.KeySpec) (privateKey, error) {
	if spec != kms.KeySpecECCSECGP256K1 {
		return nil, ErrUnsupported
	}
	k, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	return &k1Private{k: k, pub: &k1Public{k: k.PubKey()}}, nil
}

// parseK1Private reads a PKCS#8 secp256k1 key as pkcs8 writes it, or as
// OpenSSL does. A public key in it must be that of the private key.
func parseK1Private(spec kms.KeySpec, der []byte) (privateKey, error) {
	if spec != kms.KeySpecECCSECGP256K1 {
		return nil, ErrUnsupported
	}
	b, pt, ok := parseNamedCurvePKCS8(der, oidK1Curve)
	if !ok {
		return nil, errK1Key
	}
	var d secp256k1.ModNScalar
	if overflow := d.SetByteSlice(b); overflow || d.IsZero() {
		return nil, errK1Key
	}
	k := secp256k1.NewPrivateKey(&d)
	pub := k.PubKey()
	if pt != nil && !bytes.Equal(pt, pub.SerializeUncompressed()) {
		return nil, errK1Key
	}
	return &k1Private{k: k, pub: &k1Public{k: pub}}, nil
}

// parseK1Public takes only the DER SubjectPublicKeyInfo of an uncompressed
// point on secp256k1 (the form spki writes, and DER() hands back).
func parseK1Public(spec kms.KeySpec, der []byte) (publicKey, error) {
	if spec != kms.KeySpecECCSECGP256K1 {
		return nil, ErrUnsupported
	}
	pt, ok := parseNamedCurveSPKI(der, oidK1Curve)
	if !ok {
		return nil, errK1Key
	}
	// ParsePubKey checks that the coordinates are field elements and the
	// point is on the curve (an uncompressed encoding cannot be infinity).
	k, err := secp256k1.ParsePubKey(pt)
	if err != nil {
		return nil, errK1Key
	}
	p := &k1Public{k: k}
	if enc, err := p.spki(); err != nil || !bytes.Equal(enc, der) {
		return nil, errK1Key
	}
	return p, nil
}

func (p *k1Private) public() publicKey { return p.pub }

func (p *k1Private) pkcs8() ([]byte, error) {
	d := p.k.Key.Bytes()
	defer clear(d[:])
	return marshalNamedCurvePKCS8(oidK1Curve, d[:], p.pub.k.SerializeUncompressed())
}

func (p *k1Public) spki() ([]byte, error) {
	return marshalNamedCurveSPKI(oidK1Curve, p.k.SerializeUncompressed())
}

// k1Digest returns the SHA-256 digest that ECDSA_SHA_256 signs: of a RAW
// message, or a DIGEST message itself. ok is false for anything else.
func k1Digest(alg, messageType string, msg []byte) (d []byte, ok bool) {
	if alg != AlgECDSASHA256 {
		return nil, false
	}
	switch messageType {
	case MessageRaw:
		h := sha256.Sum256(msg)
		return h[:], true
	case MessageDigest:
		if len(msg) != sha256.Size {
			return nil, false
		}
		return msg, true
	}
	return nil, false
}

func (p *k1Private) sign(alg, messageType string, msg []byte) ([]byte, error) {
	d, ok := k1Digest(alg, messageType, msg)
	if !ok {
		return nil, ErrUnsupported
	}
	return k1ecdsa.Sign(p.k, d).Serialize(), nil
}

func (p *k1Public) verify(alg, messageType string, msg, sig []byte) bool {
	d, ok := k1Digest(alg, messageType, msg)
	if !ok {
		return false
	}
	// ParseDERSignature takes strict DER only, with r and s in [1, n-1]
	// and nothing after the SEQUENCE; high S is accepted.
	s, err := k1ecdsa.ParseDERSignature(sig)
	if err != nil {
		return false
	}
	return s.Verify(d, p.k)
}

func (p *k1Private) decrypt(string, []byte) ([]byte, error) { return nil, ErrUnsupported }

func (p *k1Public) encrypt(string, []byte) ([]byte, error) { return nil, ErrUnsupported }

func (p *k1Private) sharedSecret(publicKey) ([]byte, error) { return nil, ErrUnsupported }
