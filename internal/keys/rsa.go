package keys

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"

	"github.com/openkms/kms"
)

// RSA key pairs: RSA_2048, RSA_3072 and RSA_4096, for RSAES-OAEP and
// RSASSA-PKCS1-v1_5 and RSASSA-PSS signatures.

func init() {
	register(&family{
		generate:     generateRSA,
		parsePrivate: parseRSAPrivate,
		parsePublic:  parseRSAPublic,
	}, kms.KeySpecRSA2048, kms.KeySpecRSA3072, kms.KeySpecRSA4096)
}

type rsaPrivate struct {
	redactedKey
	k   *rsa.PrivateKey
	pub *rsaPublic
}

type rsaPublic struct {
	spec kms.KeySpec
	k    *rsa.PublicKey
}

var errRSAKey = errors.New("keys: not an RSA key of the key spec's size")

// rsaBits returns the modulus size of spec.
func rsaBits(spec kms.KeySpec) int {
	switch spec {
	case kms.KeySpecRSA2048:
		return 2048
	case kms.KeySpecRSA3072:
		return 3072
	case kms.KeySpecRSA4096:
		return 4096
	}
	return 0
}

func newRSAPrivate(spec kms.KeySpec, k *rsa.PrivateKey) *rsaPrivate {
	return &rsaPrivate{k: k, pub: &rsaPublic{spec: spec, k: &k.PublicKey}}
}

func generateRSA(spec kms.KeySpec) (privateKey, error) {
	bits := rsaBits(spec)
	if bits == 0 {
		return nil, ErrUnsupported
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	return newRSAPrivate(spec, k), nil
}

func parseRSAPrivate(spec kms.KeySpec, der []byte) (privateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil || !oneDERValue(der) {
		// x509's errors say nothing of the key's value, but keep
		// the message fixed all the same.
		return nil, errRSAKey
	}
	k, ok := key.(*rsa.PrivateKey)
	if !ok || k.N.BitLen() != rsaBits(spec) {
		return nil, errRSAKey
	}
	return newRSAPrivate(spec, k), nil
}

func parseRSAPublic(spec kms.KeySpec, der []byte) (publicKey, error) {
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	k, ok := key.(*rsa.PublicKey)
	if !ok || k.N.BitLen() != rsaBits(spec) {
		return nil, errRSAKey
	}
	p := &rsaPublic{spec: spec, k: k}
	// Only the DER encoding: DER() hands back these very bytes.
	if enc, err := p.spki(); err != nil || !bytes.Equal(enc, der) {
		return nil, errRSAKey
	}
	return p, nil
}

func (p *rsaPrivate) public() publicKey { return p.pub }

func (p *rsaPrivate) pkcs8() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(p.k) }

// pssOptions: MGF1 with the message hash (crypto/rsa's only choice) and a
// salt as long as the hash, for signing and, as AWS does, verifying.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

func isPSS(alg string) bool {
	return alg == AlgRSAPSSSHA256 || alg == AlgRSAPSSSHA384 || alg == AlgRSAPSSSHA512
}

func (p *rsaPrivate) sign(alg, messageType string, msg []byte) ([]byte, error) {
	d, ok := signInput(p.pub.spec, alg, messageType, msg)
	if !ok {
		return nil, ErrUnsupported
	}
	if isPSS(alg) {
		return rsa.SignPSS(rand.Reader, p.k, SigningHash(alg), d, pssOptions)
	}
	return rsa.SignPKCS1v15(rand.Reader, p.k, SigningHash(alg), d)
}

func (p *rsaPublic) verify(alg, messageType string, msg, sig []byte) bool {
	d, ok := signInput(p.spec, alg, messageType, msg)
	if !ok || len(sig) != p.k.Size() {
		return false
	}
	if isPSS(alg) {
		return rsa.VerifyPSS(p.k, SigningHash(alg), d, sig, pssOptions) == nil
	}
	return rsa.VerifyPKCS1v15(p.k, SigningHash(alg), d, sig) == nil
}

// oaepHash returns the hash of an RSAES-OAEP algorithm, which MGF1 uses
// too; the label is always empty.
func oaepHash(alg string) crypto.Hash {
	switch alg {
	case AlgRSAESOAEPSHA1:
		return crypto.SHA1
	case AlgRSAESOAEPSHA256:
		return crypto.SHA256
	}
	return 0
}

func (p *rsaPrivate) decrypt(alg string, ciphertext []byte) ([]byte, error) {
	h := oaepHash(alg)
	if h == 0 {
		return nil, ErrUnsupported
	}
	// RFC 8017 7.1.2 step 1b: the ciphertext is exactly k octets.
	if len(ciphertext) != p.k.Size() {
		return nil, ErrDecrypt
	}
	return rsa.DecryptOAEP(h.New(), nil, p.k, ciphertext, nil)
}

func (p *rsaPublic) encrypt(alg string, plaintext []byte) ([]byte, error) {
	h := oaepHash(alg)
	if h == 0 {
		return nil, ErrUnsupported
	}
	return rsa.EncryptOAEP(h.New(), rand.Reader, p.k, plaintext, nil)
}

func (p *rsaPrivate) sharedSecret(publicKey) ([]byte, error) { return nil, ErrUnsupported }

func (p *rsaPublic) spki() ([]byte, error) { return x509.MarshalPKIXPublicKey(p.k) }
