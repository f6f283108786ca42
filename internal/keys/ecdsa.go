package keys

import (
	"bytes"
	stdecdh "crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"

	"github.com/openkms/kms"
)

// NIST curve key pairs: ECC_NIST_P256, ECC_NIST_P384 and ECC_NIST_P521, for
// ECDSA (DER-encoded ECDSA-Sig-Value signatures) and ECDH.

func init() {
	register(&family{
		generate:     generateEC,
		parsePrivate: parseECPrivate,
		parsePublic:  parseECPublic,
	}, kms.KeySpecECCNISTP256, kms.KeySpecECCNISTP384, kms.KeySpecECCNISTP521)
}

type ecPrivate struct {
	redactedKey
	k    *ecdsa.PrivateKey
	ecdh *stdecdh.PrivateKey
	pub  *ecPublic
}

type ecPublic struct {
	spec kms.KeySpec
	k    *ecdsa.PublicKey
	ecdh *stdecdh.PublicKey
}

var errECKey = errors.New("keys: not an EC key on the key spec's curve")

// nistCurve returns the curve of spec.
func nistCurve(spec kms.KeySpec) elliptic.Curve {
	switch spec {
	case kms.KeySpecECCNISTP256:
		return elliptic.P256()
	case kms.KeySpecECCNISTP384:
		return elliptic.P384()
	case kms.KeySpecECCNISTP521:
		return elliptic.P521()
	}
	return nil
}

func newECPrivate(spec kms.KeySpec, k *ecdsa.PrivateKey) (*ecPrivate, error) {
	if c := nistCurve(spec); c == nil || k.Curve != c {
		return nil, errECKey
	}
	e, err := k.ECDH()
	if err != nil {
		return nil, errECKey
	}
	return &ecPrivate{k: k, ecdh: e, pub: &ecPublic{spec: spec, k: &k.PublicKey, ecdh: e.PublicKey()}}, nil
}

func generateEC(spec kms.KeySpec) (privateKey, error) {
	c := nistCurve(spec)
	if c == nil {
		return nil, ErrUnsupported
	}
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		return nil, err
	}
	return newECPrivate(spec, k)
}

func parseECPrivate(spec kms.KeySpec, der []byte) (privateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil || !oneDERValue(der) {
		return nil, errECKey
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errECKey
	}
	p, err := newECPrivate(spec, k)
	if err != nil {
		return nil, err
	}
	// x509 derives the public key from the scalar and ignores the one in
	// the PKCS#8; one that is not the scalar's means corrupt or spliced
	// material, which the secp256k1 and SM2 parsers refuse too.
	if !ecEmbeddedPublicMatches(der, p.ecdh.PublicKey().Bytes()) {
		return nil, errECKey
	}
	return p, nil
}

// ecEmbeddedPublicMatches reports whether the public key an EC PKCS#8
// (already parsed by x509) may carry is pub, the uncompressed point of its
// private key, in the uncompressed or the compressed form (SEC 1 §2.3.3).
// A PKCS#8 without a public key matches.
func ecEmbeddedPublicMatches(der, pub []byte) bool {
	var p8 struct {
		Version    int
		Algorithm  asn1.RawValue
		PrivateKey []byte
	}
	var ec namedCurveECPrivateKey
	if _, err := asn1.Unmarshal(der, &p8); err != nil {
		return false
	}
	if _, err := asn1.Unmarshal(p8.PrivateKey, &ec); err != nil {
		return false
	}
	got := ec.PublicKey.RightAlign()
	if len(got) == 0 {
		return true
	}
	n := (len(pub) - 1) / 2
	compressed := append([]byte{2 | pub[len(pub)-1]&1}, pub[1:1+n]...)
	return bytes.Equal(got, pub) || bytes.Equal(got, compressed)
}

// parseECPublic takes only the SubjectPublicKeyInfo of an uncompressed
// point on spec's named curve, in DER: DER() hands back these very bytes.
// x509 checks that the point is on the curve.
func parseECPublic(spec kms.KeySpec, der []byte) (publicKey, error) {
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	k, ok := key.(*ecdsa.PublicKey)
	if !ok || nistCurve(spec) == nil || k.Curve != nistCurve(spec) {
		return nil, errECKey
	}
	e, err := k.ECDH()
	if err != nil {
		return nil, errECKey
	}
	p := &ecPublic{spec: spec, k: k, ecdh: e}
	if enc, err := p.spki(); err != nil || !bytes.Equal(enc, der) {
		return nil, errECKey
	}
	return p, nil
}

func (p *ecPrivate) public() publicKey { return p.pub }

func (p *ecPrivate) pkcs8() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(p.k) }

func (p *ecPrivate) sign(alg, messageType string, msg []byte) ([]byte, error) {
	d, ok := signInput(p.pub.spec, alg, messageType, msg)
	if !ok {
		return nil, ErrUnsupported
	}
	return ecdsa.SignASN1(rand.Reader, p.k, d)
}

func (p *ecPublic) verify(alg, messageType string, msg, sig []byte) bool {
	d, ok := signInput(p.spec, alg, messageType, msg)
	if !ok {
		return false
	}
	// VerifyASN1 takes only a DER ECDSA-Sig-Value with no trailing data.
	return ecdsa.VerifyASN1(p.k, d, sig)
}

func (p *ecPrivate) decrypt(string, []byte) ([]byte, error) { return nil, ErrUnsupported }

func (p *ecPublic) encrypt(string, []byte) ([]byte, error) { return nil, ErrUnsupported }

// sharedSecret returns the x-coordinate of the ECDH point, as long as the
// curve's field elements. crypto/ecdh has checked the peer point and
// refuses the point at infinity.
func (p *ecPrivate) sharedSecret(peer publicKey) ([]byte, error) {
	q, ok := peer.(*ecPublic)
	if !ok || q.spec != p.pub.spec || q.ecdh == nil || q.ecdh.Curve() != p.ecdh.Curve() {
		return nil, ErrInvalidPublicKey
	}
	s, err := p.ecdh.ECDH(q.ecdh)
	if err != nil {
		return nil, ErrInvalidPublicKey
	}
	return s, nil
}

func (p *ecPublic) spki() ([]byte, error) { return x509.MarshalPKIXPublicKey(p.k) }
