package keys

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/openkms/kms"
)

// Errors of the key pair operations. Each is deliberately bare: the service
// maps them to AWS errors with no detail (a failed verification or decryption
// must not say which check failed).
var (
	// ErrInvalidSignature: Verify found the signature wrong or malformed.
	ErrInvalidSignature = errors.New("keys: invalid signature")
	// ErrDecrypt: a ciphertext did not decrypt under the private key.
	ErrDecrypt = errors.New("keys: decryption failed")
	// ErrInvalidPublicKey: a peer public key does not parse, is not on
	// the key's curve, or is the identity.
	ErrInvalidPublicKey = errors.New("keys: invalid public key")
	// ErrUnsupported: the key cannot do this (wrong spec or algorithm).
	// The service checks the spec tables first, so this is a bug if seen.
	ErrUnsupported = errors.New("keys: operation not supported by this key spec")
	// ErrSelfTest: a new key pair failed its pair-wise consistency test.
	ErrSelfTest = errors.New("keys: pair-wise consistency test failed")
)

// privateKey is one family's private key (rsa.go, ecdsa.go, ...). Methods a
// family does not support return ErrUnsupported.
type privateKey interface {
	public() publicKey
	// pkcs8 returns the PKCS#8 PrivateKeyInfo DER of the key.
	pkcs8() ([]byte, error)
	// sign signs msg, whose type and length the caller has checked against
	// MessageTypes and DigestSize.
	sign(alg, messageType string, msg []byte) ([]byte, error)
	decrypt(alg string, ciphertext []byte) ([]byte, error)
	// sharedSecret runs ECDH with a peer public key of the same family.
	sharedSecret(peer publicKey) ([]byte, error)
}

// publicKey is one family's public key.
type publicKey interface {
	// spki returns the X.509 SubjectPublicKeyInfo DER of the key.
	spki() ([]byte, error)
	verify(alg, messageType string, msg, sig []byte) bool
	encrypt(alg string, plaintext []byte) ([]byte, error)
}

// family makes and parses the keys of one or more specs.
type family struct {
	generate     func(spec kms.KeySpec) (privateKey, error)
	parsePrivate func(spec kms.KeySpec, pkcs8 []byte) (privateKey, error)
	parsePublic  func(spec kms.KeySpec, spki []byte) (publicKey, error)
}

// families maps every asymmetric spec to its implementation. Each family's
// file registers its specs in an init function.
var families = map[kms.KeySpec]*family{}

func register(f *family, specs ...kms.KeySpec) {
	for _, s := range specs {
		families[s] = f
	}
}

// PrivateKey is the private half of an asymmetric KMS key or data key pair.
type PrivateKey struct {
	spec kms.KeySpec
	k    privateKey
	pub  *PublicKey
}

// PublicKey is a public key with its SubjectPublicKeyInfo encoding.
type PublicKey struct {
	spec kms.KeySpec
	k    publicKey
	der  []byte
}

// Implemented reports whether this build can make key pairs of spec.
func Implemented(spec kms.KeySpec) bool { _, ok := families[spec]; return ok }

func familyOf(spec kms.KeySpec) (*family, error) {
	f, ok := families[spec]
	if !ok {
		return nil, fmt.Errorf("keys: no key pair implementation for %s: %w", spec, ErrUnsupported)
	}
	return f, nil
}

// GenerateKeyPair makes a new key pair of spec and runs the pair-wise
// consistency test on it (FIPS 140-3 IG 10.3.A) before returning it.
func GenerateKeyPair(spec kms.KeySpec) (*PrivateKey, error) {
	f, err := familyOf(spec)
	if err != nil {
		return nil, err
	}
	k, err := f.generate(spec)
	if err != nil {
		return nil, err
	}
	p, err := newPrivateKey(spec, k)
	if err != nil {
		return nil, err
	}
	if err := p.selfTest(); err != nil {
		return nil, err
	}
	return p, nil
}

// ParsePrivateKey reads a private key of spec from what Marshal returned.
func ParsePrivateKey(spec kms.KeySpec, der []byte) (*PrivateKey, error) {
	f, err := familyOf(spec)
	if err != nil {
		return nil, err
	}
	k, err := f.parsePrivate(spec, der)
	if err != nil {
		return nil, err
	}
	return newPrivateKey(spec, k)
}

func newPrivateKey(spec kms.KeySpec, k privateKey) (*PrivateKey, error) {
	der, err := k.public().spki()
	if err != nil {
		return nil, err
	}
	return &PrivateKey{spec: spec, k: k, pub: &PublicKey{spec: spec, k: k.public(), der: der}}, nil
}

// ParsePublicKey reads a SubjectPublicKeyInfo of spec. Anything else (another
// algorithm or curve, trailing bytes, a point not on the curve) is
// ErrInvalidPublicKey.
func ParsePublicKey(spec kms.KeySpec, der []byte) (*PublicKey, error) {
	f, err := familyOf(spec)
	if err != nil {
		return nil, err
	}
	k, err := f.parsePublic(spec, der)
	if err != nil {
		return nil, ErrInvalidPublicKey
	}
	return &PublicKey{spec: spec, k: k, der: bytes.Clone(der)}, nil
}

// Format keeps key material out of logs and errors whatever the verb; the
// value receiver covers PrivateKey and *PrivateKey.
func (PrivateKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("keys.PrivateKey(REDACTED)")) }

// Spec returns the key's spec.
func (p *PrivateKey) Spec() kms.KeySpec { return p.spec }

// Public returns the public half.
func (p *PrivateKey) Public() *PublicKey { return p.pub }

// Marshal returns the PKCS#8 PrivateKeyInfo DER of the key: what data key
// pairs hand out, and what the store keeps (sealed) for KMS keys.
func (p *PrivateKey) Marshal() ([]byte, error) { return p.k.pkcs8() }

// Sign signs msg with alg. The caller has checked that the spec supports
// alg, that messageType is one of MessageTypes(alg), and that a DIGEST or
// EXTERNAL_MU message has the right length.
func (p *PrivateKey) Sign(alg, messageType string, msg []byte) ([]byte, error) {
	return p.k.sign(alg, messageType, msg)
}

// Decrypt decrypts a ciphertext made by Encrypt with alg. Every failure is
// ErrDecrypt.
func (p *PrivateKey) Decrypt(alg string, ciphertext []byte) ([]byte, error) {
	pt, err := p.k.decrypt(alg, ciphertext)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return nil, err
		}
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Encrypt encrypts plaintext with the pair's public key, as the holder of
// the pair does (a KMS Encrypt). A family whose library can make a
// ciphertext it cannot decrypt checks its results with the private key
// (see sm2Private.encrypt): a ciphertext we hand out must decrypt.
func (p *PrivateKey) Encrypt(alg string, plaintext []byte) ([]byte, error) {
	if e, ok := p.k.(interface {
		encrypt(alg string, plaintext []byte) ([]byte, error)
	}); ok {
		return e.encrypt(alg, plaintext)
	}
	return p.pub.k.encrypt(alg, plaintext)
}

// SharedSecret returns the raw ECDH shared secret (the x-coordinate) with a
// peer public key of the same spec.
func (p *PrivateKey) SharedSecret(peer *PublicKey) ([]byte, error) {
	if peer.spec != p.spec {
		return nil, ErrInvalidPublicKey
	}
	return p.k.sharedSecret(peer.k)
}

// Spec returns the key's spec.
func (p *PublicKey) Spec() kms.KeySpec { return p.spec }

// DER returns the SubjectPublicKeyInfo encoding. It must not be changed.
func (p *PublicKey) DER() []byte { return p.der }

// Verify checks a signature; any failure is ErrInvalidSignature. The caller
// has checked alg and the message as for Sign.
func (p *PublicKey) Verify(alg, messageType string, msg, sig []byte) error {
	if !p.k.verify(alg, messageType, msg, sig) {
		return ErrInvalidSignature
	}
	return nil
}

// Encrypt encrypts plaintext, at most MaxPlaintext(spec, alg) bytes.
func (p *PublicKey) Encrypt(alg string, plaintext []byte) ([]byte, error) {
	return p.k.encrypt(alg, plaintext)
}

// selfTest runs, for every capability of the key's spec, one operation with
// the private key and its inverse with the public key.
func (p *PrivateKey) selfTest() error {
	info := specs[p.spec]
	msg := []byte("openkms pair-wise consistency test")
	if len(info.signing) > 0 {
		// Only the first algorithm: they share the key, and RSA-4096
		// signatures are slow enough to count.
		alg := info.signing[0]
		mt := MessageTypes(alg)[0]
		m := msg
		switch mt {
		case MessageDigest:
			m = make([]byte, DigestSize(alg))
			copy(m, msg)
		}
		sig, err := p.Sign(alg, mt, m)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrSelfTest, alg, err)
		}
		if p.pub.Verify(alg, mt, m, sig) != nil {
			return fmt.Errorf("%w: %s", ErrSelfTest, alg)
		}
	}
	if len(info.encryption) > 0 {
		alg := info.encryption[0]
		ct, err := p.pub.Encrypt(alg, msg)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrSelfTest, alg, err)
		}
		pt, err := p.Decrypt(alg, ct)
		if err != nil || !bytes.Equal(pt, msg) {
			return fmt.Errorf("%w: %s", ErrSelfTest, alg)
		}
	}
	if len(info.agreement) > 0 {
		// Our secret with a fresh peer must equal the peer's with ours.
		f := families[p.spec]
		peer, err := f.generate(p.spec)
		if err != nil {
			return err
		}
		a, err := p.k.sharedSecret(peer.public())
		if err != nil {
			return fmt.Errorf("%w: ECDH: %v", ErrSelfTest, err)
		}
		b, err := peer.sharedSecret(p.k.public())
		if err != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("%w: ECDH", ErrSelfTest)
		}
	}
	return nil
}

// GenerateDataKeyPair makes a data key pair of spec (one of DataKeyPairSpecs)
// and returns its PKCS#8 private key and SubjectPublicKeyInfo public key.
func GenerateDataKeyPair(spec kms.KeySpec) (pkcs8, spki []byte, err error) {
	p, err := GenerateKeyPair(spec)
	if err != nil {
		return nil, nil, err
	}
	der, err := p.Marshal()
	if err != nil {
		return nil, nil, err
	}
	return der, bytes.Clone(p.pub.der), nil
}
