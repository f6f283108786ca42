package keys

import (
	"errors"

	"github.com/openkms/kms"
)

// ErrIncorrectKeyMaterial is the one error ImportPrivateKey returns for
// material that is not a private key of the spec, whatever the check that
// failed: the caller's message names the spec, never the bytes.
var ErrIncorrectKeyMaterial = errors.New("keys: key material does not match the key spec")

// Importable reports whether keys of spec may take imported material:
// symmetric, HMAC, RSA, the NIST and SECG ECC curves and SM2, the key specs
// AWS lists for imported key material. ECC_NIST_EDWARDS25519 and ML-DSA are
// not on that list.
func Importable(spec kms.KeySpec) bool {
	switch spec {
	case kms.KeySpecEd25519, kms.KeySpecMLDSA44, kms.KeySpecMLDSA65, kms.KeySpecMLDSA87:
		return false
	}
	return spec == kms.KeySpecSymmetricDefault || IsHMAC(spec) || Implemented(spec)
}

// ImportPrivateKey reads imported key material for an asymmetric spec: the
// DER PKCS#8 PrivateKeyInfo of a key of the spec's type, curve or modulus
// size, as OpenSSL, Go's x509 or any PKCS#11 export writes it. The pair
// must pass the pair-wise consistency test a generated pair passes
// (FIPS 140-3 IG 10.3.A), so a key that cannot sign, decrypt or agree is
// refused here, not at its first use. What the store keeps is Marshal's
// re-encoding, so the same key imported in two encodings is one key.
func ImportPrivateKey(spec kms.KeySpec, der []byte) (*PrivateKey, error) {
	if !Importable(spec) || !IsAsymmetric(spec) {
		return nil, ErrUnsupported
	}
	p, err := ParsePrivateKey(spec, der)
	if err != nil {
		return nil, ErrIncorrectKeyMaterial
	}
	if err := p.selfTest(); err != nil {
		return nil, ErrIncorrectKeyMaterial
	}
	return p, nil
}
