// Package keys holds symmetric key material and the ciphertext blob format
// that Encrypt, Decrypt, ReEncrypt and GenerateDataKey* exchange with clients
// (spec §13).
//
// Key material only ever leaves this package through [SymmetricKey.Bytes],
// which callers seal (package seal) before storing it.
//
// # Blob format, version 1
//
//	offset  size  field
//	0       1     version, 0x01
//	1       1     algorithm, 0x01: AES-256-GCM under an HKDF-SHA256 per-message key
//	2       2     length L of the key ARN, uint16 big-endian, 1..MaxKeyARNLen
//	4       L     key ARN, printable ASCII
//	4+L     32    material id
//	36+L    16    HKDF salt, random
//	52+L    12    GCM nonce, random
//	64+L    n+16  AES-256-GCM ciphertext and tag
//
// The header is everything from the version through the nonce. The
// per-message key is HKDF-SHA256(material, salt, info = label || header) and
// the GCM additional data is header || [EncodeContext](encryption context),
// so every header byte and the whole context are authenticated. A blob is
// 80+L bytes longer than its plaintext: 155 bytes for a typical 75-byte ARN.
//
// Every failure to parse or authenticate a blob is [ErrInvalidCiphertext] and
// nothing else, so no caller can leak which check failed.
package keys

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// MaterialIDSize is the size of a raw material id.
const MaterialIDSize = 32

// MaterialID names one version of a key's material. Its text form is the
// KeyMaterialId of the API: 64 lowercase hex characters.
type MaterialID [MaterialIDSize]byte

// ErrInvalidMaterialID is returned by ParseMaterialID.
var ErrInvalidMaterialID = errors.New("keys: material id must be 64 lowercase hex characters")

// NewMaterialID returns a random material id.
func NewMaterialID() (MaterialID, error) {
	var id MaterialID
	if _, err := rand.Read(id[:]); err != nil {
		return MaterialID{}, err
	}
	return id, nil
}

// String returns the id as 64 lowercase hex characters.
func (id MaterialID) String() string { return hex.EncodeToString(id[:]) }

// ParseMaterialID parses the form String returns. Uppercase is refused so
// that every id has exactly one text form (store lookups compare strings).
func ParseMaterialID(s string) (MaterialID, error) {
	var id MaterialID
	if len(s) != 2*MaterialIDSize {
		return MaterialID{}, ErrInvalidMaterialID
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return MaterialID{}, ErrInvalidMaterialID
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return MaterialID{}, ErrInvalidMaterialID
	}
	return id, nil
}

// SymmetricKeySize is the size of SYMMETRIC_DEFAULT key material (AES-256).
const SymmetricKeySize = 32

// SymmetricKey is an unsealed AES-256 key. The bytes sit in a fixed-size
// array, never in a slice that could be aliased, and are only handed to
// crypto/hkdf inside this package.
type SymmetricKey struct {
	b [SymmetricKeySize]byte
}

var (
	errKeySize = errors.New("keys: symmetric key must be 32 bytes")
	errZeroKey = errors.New("keys: symmetric key is all zero (zeroed or never set)")
	errNilKey  = errors.New("keys: nil symmetric key")
)

// NewSymmetricKey returns fresh random key material.
func NewSymmetricKey() (*SymmetricKey, error) {
	k := new(SymmetricKey)
	if _, err := rand.Read(k.b[:]); err != nil {
		return nil, err
	}
	return k, nil
}

// SymmetricKeyFromBytes copies b, which must be exactly 32 bytes, into a new
// key. An all-zero b is refused: it is never real material, only a bug.
func SymmetricKeyFromBytes(b []byte) (*SymmetricKey, error) {
	if len(b) != SymmetricKeySize {
		return nil, errKeySize
	}
	k := new(SymmetricKey)
	copy(k.b[:], b)
	if k.isZero() {
		return nil, errZeroKey
	}
	return k, nil
}

// Bytes returns a copy of the key material, to be sealed before storage.
func (k *SymmetricKey) Bytes() []byte {
	b := make([]byte, SymmetricKeySize)
	copy(b, k.b[:])
	return b
}

// Zero wipes the key, e.g. when a cache evicts it. A zeroed key makes
// Encrypt and Decrypt fail instead of silently using the all-zero key. Zero
// must not race with other uses of k.
func (k *SymmetricKey) Zero() { clear(k.b[:]) }

// isZero reports whether every byte is zero, in time independent of the
// key's contents.
func (k *SymmetricKey) isZero() bool {
	var acc byte
	for _, c := range k.b {
		acc |= c
	}
	return acc == 0
}

// Format keeps key bytes out of logs and error messages whatever the verb:
// fmt prints unexported array fields otherwise. The value receiver makes it
// apply to both SymmetricKey and *SymmetricKey.
func (SymmetricKey) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte("keys.SymmetricKey(REDACTED)"))
}
