package keys

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/openkms/kms"
)

// HMACKey is the secret of an HMAC KMS key. As with SymmetricKey the bytes
// stay inside this package.
type HMACKey struct {
	spec kms.KeySpec
	b    []byte
}

var errHMACKey = errors.New("keys: HMAC key has the wrong size for its spec")

// NewHMACKey returns a fresh random key of an HMAC spec.
func NewHMACKey(spec kms.KeySpec) (*HMACKey, error) {
	n := MacSize(spec) // as in AWS KMS, keys are as long as their MACs
	if n == 0 {
		return nil, fmt.Errorf("keys: %s is not an HMAC spec: %w", spec, ErrUnsupported)
	}
	k := &HMACKey{spec: spec, b: make([]byte, n)}
	if _, err := rand.Read(k.b); err != nil {
		return nil, err
	}
	return k, nil
}

// HMACKeyFromBytes copies the bytes Bytes returned, or imported material,
// into a key of spec. Its length must be within HMACKeySizes(spec).
func HMACKeyFromBytes(spec kms.KeySpec, b []byte) (*HMACKey, error) {
	if lo, hi := HMACKeySizes(spec); lo == 0 || len(b) < lo || len(b) > hi {
		return nil, errHMACKey
	}
	return &HMACKey{spec: spec, b: append([]byte(nil), b...)}, nil
}

// HMACKeySizes returns the shortest and longest key an HMAC spec takes
// (0, 0 for any other spec). Generated keys are as long as the MACs; imported
// material may be longer, up to the hash's block size, as AWS allows
// (HMAC_224 and HMAC_256: 28 or 32 to 64 bytes; HMAC_384 and HMAC_512: 48
// or 64 to 128 bytes). Past the block size HMAC would hash the key first
// (RFC 2104 §2), so longer keys add nothing.
func HMACKeySizes(spec kms.KeySpec) (lo, hi int) {
	h, ok := hmacHashes[spec]
	if !ok {
		return 0, 0
	}
	return h.Size(), h.New().BlockSize()
}

// Bytes returns a copy of the key, to be sealed before storage.
func (k *HMACKey) Bytes() []byte { return append([]byte(nil), k.b...) }

// Zero wipes the key; it must not race with other uses of k.
func (k *HMACKey) Zero() { clear(k.b) }

// Sum returns the HMAC of msg (RFC 2104) with the spec's hash.
func (k *HMACKey) Sum(msg []byte) []byte {
	m := hmac.New(hmacHashes[k.spec].New, k.b)
	m.Write(msg)
	return m.Sum(nil)
}

// Verify reports whether mac is the HMAC of msg, in constant time.
func (k *HMACKey) Verify(msg, mac []byte) bool { return hmac.Equal(k.Sum(msg), mac) }

// Format keeps key bytes out of logs whatever the verb.
func (HMACKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("keys.HMACKey(REDACTED)")) }
