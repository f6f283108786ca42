package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/openkms/kms"
)

// SM2 key pairs (GB/T 32918), with github.com/emmansun/gmsm:
//
//   - SM2DSA: a RAW message is signed as the standard says, e = SM3(Z_A || M)
//     where Z_A hashes the distinguishing identifier SM2DefaultID and the
//     public key; a DIGEST message is that 32-byte e. Signatures are DER
//     SEQUENCE{r, s}.
//   - SM2PKE: ciphertexts are the ASN.1 form of GM/T 0009,
//     SEQUENCE{x1, y1, C3 (the SM3 hash), C2}, of at most MaxPlaintext bytes
//     of plaintext.
//   - ECDH: plain Diffie-Hellman on the SM2 curve, returning the 32-byte
//     x-coordinate of the shared point (not the SM2 key exchange protocol).
//
// The SPKI is id-ecPublicKey with the namedCurve sm2p256v1
// (1.2.156.10197.1.301), as gmsm and OpenSSL write it; PKCS#8 keys are
// written by smx509 in the same form.

func init() {
	register(&family{
		generate:     generateSM2,
		parsePrivate: parseSM2Private,
		parsePublic:  parseSM2Public,
	}, kms.KeySpecSM2)
}

var (
	oidSM2Curve = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}

	errSM2Key = errors.New("keys: not an SM2 key")
)

type sm2Private struct {
	k    *sm2.PrivateKey
	ecdh *ecdh.PrivateKey
	pub  *sm2Public
}

type sm2Public struct {
	k    *ecdsa.PublicKey
	ecdh *ecdh.PublicKey
}

// Format keeps fmt from printing the key material whatever the verb.
func (*sm2Private) Format(f fmt.State, _ rune) { io.WriteString(f, "[private key]") }

func newSM2Private(k *sm2.PrivateKey) (*sm2Private, error) {
	e, err := k.ECDH()
	if err != nil {
		return nil, errSM2Key
	}
	pub, err := newSM2Public(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &sm2Private{k: k, ecdh: e, pub: pub}, nil
}

func newSM2Public(k *ecdsa.PublicKey) (*sm2Public, error) {
	if k.Curve != sm2.P256() {
		return nil, errSM2Key
	}
	e, err := sm2.PublicKeyToECDH(k)
	if err != nil {
		return nil, errSM2Key
	}
	return &sm2Public{k: k, ecdh: e}, nil
}

func generateSM2(spec kms.KeySpec) (privateKey, error) {
	if spec != kms.KeySpecSM2 {
		return nil, ErrUnsupported
	}
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return newSM2Private(k)
}

// parseSM2Private reads a PKCS#8 SM2 key as pkcs8 writes it, or as OpenSSL
// does. The scalar must be in [1, n-2] (GB/T 32918.1), and a public key in
// the PKCS#8 must be that of the private key.
func parseSM2Private(spec kms.KeySpec, der []byte) (privateKey, error) {
	if spec != kms.KeySpecSM2 {
		return nil, ErrUnsupported
	}
	d, pt, ok := parseNamedCurvePKCS8(der, oidSM2Curve)
	if !ok {
		return nil, errSM2Key
	}
	k, err := sm2.NewPrivateKey(d)
	if err != nil {
		return nil, errSM2Key
	}
	p, err := newSM2Private(k)
	if err != nil {
		return nil, err
	}
	if pt != nil && !bytes.Equal(pt, p.pub.ecdh.Bytes()) {
		return nil, errSM2Key
	}
	return p, nil
}

// parseSM2Public takes only the DER SubjectPublicKeyInfo of an
// uncompressed point on the SM2 curve with the named-curve parameters (the
// form spki writes, and DER() hands back).
func parseSM2Public(spec kms.KeySpec, der []byte) (publicKey, error) {
	if spec != kms.KeySpecSM2 {
		return nil, ErrUnsupported
	}
	pt, ok := parseNamedCurveSPKI(der, oidSM2Curve)
	if !ok {
		return nil, errSM2Key
	}
	// NewPublicKey checks the point is on the curve.
	k, err := sm2.NewPublicKey(pt)
	if err != nil {
		return nil, errSM2Key
	}
	p, err := newSM2Public(k)
	if err != nil {
		return nil, err
	}
	if enc, err := p.spki(); err != nil || !bytes.Equal(enc, der) {
		return nil, errSM2Key
	}
	return p, nil
}

func (p *sm2Private) public() publicKey { return p.pub }

func (p *sm2Private) pkcs8() ([]byte, error) { return smx509.MarshalPKCS8PrivateKey(p.k) }

func (p *sm2Public) spki() ([]byte, error) { return smx509.MarshalPKIXPublicKey(p.k) }

// sm2Digest returns the e that SM2DSA signs: SM3(Z_A || msg) of a RAW
// message, a DIGEST message itself. ok is false for anything else.
func (p *sm2Public) sm2Digest(alg, messageType string, msg []byte) (e []byte, ok bool) {
	if alg != AlgSM2DSA {
		return nil, false
	}
	switch messageType {
	case MessageRaw:
		e, err := sm2.CalculateSM2Hash(p.k, msg, []byte(SM2DefaultID))
		if err != nil {
			return nil, false
		}
		return e, true
	case MessageDigest:
		if len(msg) != DigestSize(AlgSM2DSA) {
			return nil, false
		}
		return msg, true
	}
	return nil, false
}

func (p *sm2Private) sign(alg, messageType string, msg []byte) ([]byte, error) {
	e, ok := p.pub.sm2Digest(alg, messageType, msg)
	if !ok {
		return nil, ErrUnsupported
	}
	// With nil opts SignASN1 signs e as given.
	return sm2.SignASN1(rand.Reader, p.k, e, nil)
}

func (p *sm2Public) verify(alg, messageType string, msg, sig []byte) bool {
	e, ok := p.sm2Digest(alg, messageType, msg)
	if !ok {
		return false
	}
	// VerifyASN1 takes a DER SEQUENCE{r, s} with nothing after it, and
	// checks r and s are in [1, n-1].
	return sm2.VerifyASN1(p.k, e, sig)
}

func (p *sm2Public) encrypt(alg string, plaintext []byte) ([]byte, error) {
	if alg != AlgSM2PKE {
		return nil, ErrUnsupported
	}
	if len(plaintext) == 0 || len(plaintext) > MaxPlaintext(kms.KeySpecSM2, alg) {
		return nil, errors.New("keys: SM2PKE plaintext length out of range")
	}
	return sm2.EncryptASN1(rand.Reader, p.k, plaintext)
}

// encrypt encrypts with the public key and checks the result decrypts,
// encrypting again if not: gmsm v0.44.0 makes a ciphertext it cannot
// decrypt of about one 1-byte plaintext in 300 (SM2 ciphertexts are
// randomized, so a new attempt succeeds).
func (p *sm2Private) encrypt(alg string, plaintext []byte) ([]byte, error) {
	for range 8 {
		ct, err := p.pub.encrypt(alg, plaintext)
		if err != nil {
			return nil, err
		}
		if pt, err := p.decrypt(alg, ct); err == nil && bytes.Equal(pt, plaintext) {
			return ct, nil
		}
	}
	return nil, errors.New("keys: SM2 encryption failed its decryption check 8 times")
}

func (p *sm2Private) decrypt(alg string, ciphertext []byte) ([]byte, error) {
	if alg != AlgSM2PKE {
		return nil, ErrUnsupported
	}
	// gmsm also reads the raw C1||C3||C2 form; we take only the ASN.1
	// SEQUENCE we write.
	if len(ciphertext) == 0 || ciphertext[0] != 0x30 {
		return nil, ErrDecrypt
	}
	pt, err := p.k.Decrypt(nil, ciphertext, sm2.ASN1DecrypterOpts)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// sharedSecret returns the x-coordinate of the ECDH point. gmsm's ecdh has
// checked the peer point and refuses the point at infinity.
func (p *sm2Private) sharedSecret(peer publicKey) ([]byte, error) {
	q, ok := peer.(*sm2Public)
	if !ok {
		return nil, ErrInvalidPublicKey
	}
	s, err := p.ecdh.ECDH(q.ecdh)
	if err != nil {
		return nil, ErrInvalidPublicKey
	}
	return s, nil
}
