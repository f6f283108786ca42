package keys

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"filippo.io/mldsa"
	"filippo.io/mldsa/mldsacrypto"
	mldsax509 "filippo.io/mldsa/x509"

	"github.com/openkms/kms"
)

// ML_DSA_44, ML_DSA_65 and ML_DSA_87 key pairs (FIPS 204), with
// filippo.io/mldsa (crypto/mldsa from Go 1.27 on), for ML_DSA_SHAKE_256:
//
//   - RAW: pure ML-DSA of the message with the empty context string.
//   - EXTERNAL_MU: the message is the 64-byte μ = SHAKE256(tr || M', 64)
//     of FIPS 204 §6.2 (Algorithm 7, line 6), which the client computed; the
//     signature verifies as a pure ML-DSA signature of the client's message.
//
// Signing is the deterministic variant of FIPS 204 (rnd = 0³²), so a key
// has exactly one signature per μ whichever way μ arrived. That is what lets
// Verify take EXTERNAL_MU at all: filippo.io/mldsa, like crypto/mldsa and
// circl, can sign a μ but exposes no way to verify one (golang/go#80272),
// and we write no ML-DSA arithmetic of our own. The private key never
// leaves the server, so every genuine signature under it is one this code
// made, deterministically; ML-DSA is strongly unforgeable, so a signature
// over μ is valid exactly when it equals our signature of μ. RAW
// verification is the ordinary algorithm. Switch EXTERNAL_MU to a real
// verifier (and back to hedged signing) once the Go API has one, and before
// ML-DSA key material can be imported.
//
// The SPKI is that of RFC 9881 (id-ml-dsa-44/65/87, no parameters, the
// public key as the BIT STRING); the PKCS#8 holds only the 32-byte seed, the
// [0] IMPLICIT seed CHOICE of RFC 9881.

func init() {
	register(&family{
		generate:     generateMLDSA,
		parsePrivate: parseMLDSAPrivate,
		parsePublic:  parseMLDSAPublic,
	}, kms.KeySpecMLDSA44, kms.KeySpecMLDSA65, kms.KeySpecMLDSA87)
}

var errMLDSAKey = errors.New("keys: not an ML-DSA key of the key spec's parameter set")

// mldsaMuSize is the length of an EXTERNAL_MU message.
const mldsaMuSize = 64

type mldsaPrivate struct {
	k   *mldsa.PrivateKey
	pub *mldsaPublic
}

type mldsaPublic struct {
	k *mldsa.PublicKey
	// sk is set when the public key came from its private key; only then
	// can it verify EXTERNAL_MU signatures (see above).
	sk *mldsa.PrivateKey
}

// Format keeps fmt from printing the key material whatever the verb.
func (*mldsaPrivate) Format(f fmt.State, _ rune) { io.WriteString(f, "[private key]") }

func mldsaParams(spec kms.KeySpec) (mldsa.Parameters, bool) {
	switch spec {
	case kms.KeySpecMLDSA44:
		return mldsa.MLDSA44(), true
	case kms.KeySpecMLDSA65:
		return mldsa.MLDSA65(), true
	case kms.KeySpecMLDSA87:
		return mldsa.MLDSA87(), true
	}
	return mldsa.Parameters{}, false
}

func generateMLDSA(spec kms.KeySpec) (privateKey, error) {
	params, ok := mldsaParams(spec)
	if !ok {
		return nil, ErrUnsupported
	}
	k, err := mldsa.GenerateKey(params)
	if err != nil {
		return nil, err
	}
	return &mldsaPrivate{k: k, pub: &mldsaPublic{k: k.PublicKey(), sk: k}}, nil
}

// parseMLDSAPrivate reads a seed-only PKCS#8 key of spec's parameter set,
// in exactly the DER pkcs8 writes (which OpenSSL writes with
// -provparam ml-dsa.output_formats=seed-only; its default also holds the
// expanded key, which is refused).
func parseMLDSAPrivate(spec kms.KeySpec, der []byte) (privateKey, error) {
	params, ok := mldsaParams(spec)
	if !ok {
		return nil, ErrUnsupported
	}
	key, err := mldsax509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errMLDSAKey
	}
	k, ok := key.(*mldsa.PrivateKey)
	if !ok || k.PublicKey().Parameters() != params {
		return nil, errMLDSAKey
	}
	p := &mldsaPrivate{k: k, pub: &mldsaPublic{k: k.PublicKey(), sk: k}}
	enc, err := p.pkcs8()
	if err != nil || !bytes.Equal(enc, der) {
		return nil, errMLDSAKey
	}
	clear(enc)
	return p, nil
}

// parseMLDSAPublic takes only the DER SubjectPublicKeyInfo of an ML-DSA key
// of spec's parameter set (the form spki writes, and DER() hands back).
func parseMLDSAPublic(spec kms.KeySpec, der []byte) (publicKey, error) {
	params, ok := mldsaParams(spec)
	if !ok {
		return nil, ErrUnsupported
	}
	key, err := mldsax509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errMLDSAKey
	}
	k, ok := key.(*mldsa.PublicKey)
	if !ok || k.Parameters() != params {
		return nil, errMLDSAKey
	}
	p := &mldsaPublic{k: k}
	if enc, err := p.spki(); err != nil || !bytes.Equal(enc, der) {
		return nil, errMLDSAKey
	}
	return p, nil
}

func (p *mldsaPrivate) public() publicKey { return p.pub }

func (p *mldsaPrivate) pkcs8() ([]byte, error) { return mldsax509.MarshalPKCS8PrivateKey(p.k) }

func (p *mldsaPublic) spki() ([]byte, error) { return mldsax509.MarshalPKIXPublicKey(p.k) }

func (p *mldsaPrivate) sign(alg, messageType string, msg []byte) ([]byte, error) {
	if alg != AlgMLDSA {
		return nil, ErrUnsupported
	}
	switch messageType {
	case MessageRaw:
		// nil options: the empty context.
		return p.k.SignDeterministic(msg, nil)
	case MessageExternalMu:
		if len(msg) != mldsaMuSize {
			return nil, ErrUnsupported
		}
		return p.k.SignDeterministic(msg, mldsacrypto.MLDSAMu)
	}
	return nil, ErrUnsupported
}

func (p *mldsaPublic) verify(alg, messageType string, msg, sig []byte) bool {
	if alg != AlgMLDSA || len(sig) != p.k.Parameters().SignatureSize() {
		return false
	}
	switch messageType {
	case MessageRaw:
		return mldsa.Verify(p.k, msg, sig, nil) == nil
	case MessageExternalMu:
		if len(msg) != mldsaMuSize || p.sk == nil {
			return false
		}
		want, err := p.sk.SignDeterministic(msg, mldsacrypto.MLDSAMu)
		return err == nil && subtle.ConstantTimeCompare(want, sig) == 1
	}
	return false
}

func (p *mldsaPrivate) decrypt(string, []byte) ([]byte, error) { return nil, ErrUnsupported }

func (p *mldsaPublic) encrypt(string, []byte) ([]byte, error) { return nil, ErrUnsupported }

func (p *mldsaPrivate) sharedSecret(publicKey) ([]byte, error) { return nil, ErrUnsupported }
