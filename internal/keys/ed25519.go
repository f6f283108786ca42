package keys

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"

	"github.com/openkms/kms"
)

// Ed25519 key pairs: ECC_NIST_EDWARDS25519, for ED25519_SHA_512 (pure
// Ed25519 of a RAW message) and ED25519_PH_SHA_512 (Ed25519ph, RFC 8032, of
// a 64-byte SHA-512 DIGEST, with an empty context).

func init() {
	register(&family{
		generate:     generateEd25519,
		parsePrivate: parseEd25519Private,
		parsePublic:  parseEd25519Public,
	}, kms.KeySpecEd25519)
}

type edPrivate struct {
	redactedKey
	// k is behind a pointer so that fmt shows an address, not the
	// bytes, even where a bad verb makes it print the edPrivate.
	k   *ed25519.PrivateKey
	pub *edPublic
}

type edPublic struct {
	k ed25519.PublicKey
}

var errEd25519Key = errors.New("keys: not an Ed25519 key")

func newEdPrivate(k ed25519.PrivateKey) *edPrivate {
	return &edPrivate{k: &k, pub: &edPublic{k: k.Public().(ed25519.PublicKey)}}
}

func generateEd25519(kms.KeySpec) (privateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return newEdPrivate(k), nil
}

func parseEd25519Private(_ kms.KeySpec, der []byte) (privateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil || !oneDERValue(der) {
		return nil, errEd25519Key
	}
	k, ok := key.(ed25519.PrivateKey)
	if !ok || len(k) != ed25519.PrivateKeySize {
		return nil, errEd25519Key
	}
	return newEdPrivate(k), nil
}

// parseEd25519Public takes only the DER SubjectPublicKeyInfo of a point on
// the curve (x509 checks the length, not the point).
func parseEd25519Public(_ kms.KeySpec, der []byte) (publicKey, error) {
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	k, ok := key.(ed25519.PublicKey)
	if !ok || len(k) != ed25519.PublicKeySize || !ed25519OnCurve(k) {
		return nil, errEd25519Key
	}
	p := &edPublic{k: k}
	if enc, err := p.spki(); err != nil || !bytes.Equal(enc, der) {
		return nil, errEd25519Key
	}
	return p, nil
}

func (p *edPrivate) public() publicKey { return p.pub }

func (p *edPrivate) pkcs8() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(*p.k) }

// edOptions returns the crypto/ed25519 options of alg, nil if it is
// neither Ed25519 algorithm.
func edOptions(alg string) *ed25519.Options {
	switch alg {
	case AlgEd25519:
		return &ed25519.Options{}
	case AlgEd25519ph:
		return &ed25519.Options{Hash: crypto.SHA512}
	}
	return nil
}

func (p *edPrivate) sign(alg, messageType string, msg []byte) ([]byte, error) {
	opts := edOptions(alg)
	if _, ok := signInput(kms.KeySpecEd25519, alg, messageType, msg); !ok || opts == nil {
		return nil, ErrUnsupported
	}
	// Pure Ed25519 signs msg itself; Ed25519ph takes the SHA-512 digest
	// that msg (a DIGEST message) is.
	return p.k.Sign(nil, msg, opts)
}

func (p *edPublic) verify(alg, messageType string, msg, sig []byte) bool {
	opts := edOptions(alg)
	if _, ok := signInput(kms.KeySpecEd25519, alg, messageType, msg); !ok || opts == nil {
		return false
	}
	if len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.VerifyWithOptions(p.k, msg, sig, opts) == nil
}

func (p *edPrivate) decrypt(string, []byte) ([]byte, error) { return nil, ErrUnsupported }

func (p *edPublic) encrypt(string, []byte) ([]byte, error) { return nil, ErrUnsupported }

func (p *edPrivate) sharedSecret(publicKey) ([]byte, error) { return nil, ErrUnsupported }

func (p *edPublic) spki() ([]byte, error) { return x509.MarshalPKIXPublicKey(p.k) }

// The field prime of edwards25519 and the curve constant d.
var (
	ed25519P = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	ed25519D = func() *big.Int {
		inv := new(big.Int).ModInverse(big.NewInt(121666), ed25519P)
		d := new(big.Int).Mul(big.NewInt(-121665), inv)
		return d.Mod(d, ed25519P)
	}()
	ed25519Half = new(big.Int).Rsh(new(big.Int).Sub(ed25519P, big.NewInt(1)), 1)
)

// ed25519OnCurve reports whether a 32-byte encoding decodes to a point of
// edwards25519 under the rules crypto/ed25519 follows (RFC 8032 §5.1.3,
// with y taken mod p as most implementations do): -x² + y² = 1 + d·x²·y²
// has an x, that is (y²-1)/(d·y²+1) is a square mod p. (d·y²+1 is never
// zero: -1/d is not a square.) Public key bytes are not secret, so big.Int's
// variable time does not matter.
func ed25519OnCurve(enc []byte) bool {
	if len(enc) != 32 {
		return false
	}
	be := make([]byte, 32)
	for i, b := range enc {
		be[31-i] = b
	}
	be[0] &= 0x7f // the sign bit of x
	y := new(big.Int).SetBytes(be)
	y2 := new(big.Int).Mul(y, y)
	y2.Mod(y2, ed25519P)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := new(big.Int).Mul(ed25519D, y2)
	v.Add(v, big.NewInt(1)).Mod(v, ed25519P)
	x2 := u.Mul(u, v.ModInverse(v, ed25519P))
	x2.Mod(x2, ed25519P)
	if x2.Sign() == 0 {
		return true
	}
	// Euler's criterion.
	return new(big.Int).Exp(x2, ed25519Half, ed25519P).Cmp(big.NewInt(1)) == 0
}
