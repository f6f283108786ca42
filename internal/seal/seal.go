// Package seal holds the root key that protects everything the server
// stores. Key material and secret access keys are sealed with it before they
// reach the store, and it derives subkeys for the server's other secrets,
// such as the MAC key of pagination markers.
//
// # Root key
//
// The root key comes from one of three seals, chosen when the data dir is
// created (see [Open]):
//
//   - key file: 32 random bytes kept in a file, by default DIR/root.key,
//     written as 64 hex digits and a newline. Files are read back in that
//     form only: 64 hex digits (either case), optionally followed by one
//     newline; anything else, raw bytes included, is refused.
//   - passphrase: Argon2id(passphrase, salt), with the salt and cost
//     parameters stored in DIR/seal.json.
//   - PKCS#11: 32 random bytes, wrapped (AES-256-GCM, CKM_AES_GCM) by a
//     sensitive, non-extractable AES-256 key inside an HSM token; the
//     wrapped key is stored in DIR/seal.json. The token is used only when
//     the seal is opened: the unwrapped root key then lives in memory, as
//     with the other seals, so requests make no HSM round trips. Who takes
//     the disk (or a backup) without the token and its PIN opens nothing.
//
// DIR/seal.json records which seal the data dir uses and a verifier, a
// known constant sealed under the root key, so that a wrong key or
// passphrase is reported as such before anything is read or written.
//
// # Rotation
//
// [Rotate] moves a data dir to another seal (of any kind) with a new root
// key, while its caller re-seals every stored secret under it. DeriveKey
// is unaffected: it derives from the first seal's root key, which
// seal.json then carries sealed under the current one, so that derived keys
// (the audit trail's signing key among them) survive a change of seal.
//
// # Key hierarchy and sealed format
//
// The root key is never used directly: HKDF-SHA256 derives from it the
// AES-256-GCM key that seals data and, one label each, the keys DeriveKey
// returns. A sealed message is
//
//	version (0x01) || random 12-byte nonce || ciphertext || 16-byte tag
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// RootKeySize is the size of the root key.
const RootKeySize = 32

const (
	sealVersion1 = 0x01

	// HKDF info labels. Neither is a prefix of the other, so no DeriveKey
	// label can yield the sealing key.
	aeadLabel   = "openkms seal v1 aead"
	deriveLabel = "openkms seal v1 derive\x00"
)

// ErrUnseal is the one error Open returns for data it cannot unseal. It
// carries no detail.
var ErrUnseal = errors.New("seal: cannot unseal: wrong key, wrong additional data or corrupt data")

// Sealer seals and opens data under the root key. It is safe for concurrent
// use, and a running server changes its root key in place with RotateLive.
type Sealer struct {
	// derive is the secret DeriveKey derives from: the root key of the
	// data dir's first seal, which Rotate carries over (sealed under the
	// new root key), so that derived keys (the audit trail's signing key
	// among them) outlive a change of seal.
	derive [RootKeySize]byte
	cur    atomic.Pointer[rootKey] // seals and opens
	// other also opens, during and after RotateLive: the next root key
	// while its transaction commits, then the previous one, for values
	// read (or cached) before the rotation and opened after it.
	other atomic.Pointer[rootKey]
	// writers is held for reading by whoever seals a value and stores it
	// (Hold), and for writing by RotateLive, so that no value sealed under
	// the old root key is stored after the rotation has re-sealed them all.
	writers sync.RWMutex
}

// rootKey is one root key and the AEAD derived from it.
type rootKey struct {
	root [RootKeySize]byte
	aead cipher.AEAD // AES-256-GCM with random nonces, under an HKDF subkey
}

// New returns a Sealer over a 32-byte root key, with no state on disk. The
// server uses Open; New is for tests and tools.
func New(rootKey []byte) (*Sealer, error) {
	k, err := newRootKey(rootKey)
	if err != nil {
		return nil, err
	}
	s := new(Sealer)
	copy(s.derive[:], rootKey)
	s.cur.Store(k)
	return s, nil
}

func newRootKey(root []byte) (*rootKey, error) {
	if len(root) != RootKeySize {
		return nil, fmt.Errorf("seal: root key must be %d bytes", RootKeySize)
	}
	k := new(rootKey)
	copy(k.root[:], root)
	sub, err := hkdf.Key(sha256.New, k.root[:], nil, aeadLabel, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sub)
	clear(sub)
	if err != nil {
		return nil, err
	}
	// Random 96-bit nonces are safe for 2^32 messages under one key; sealing
	// happens only when keys and credentials are created, far below that.
	k.aead, err = cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Seal encrypts plaintext and binds it to aad, which Open must be given
// again. Callers pass what the data belongs to (say, a key id and material
// id) as aad, so that sealed values cannot be swapped between records.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	k := s.cur.Load()
	out := make([]byte, 1, 1+k.aead.Overhead()+len(plaintext))
	out[0] = sealVersion1
	// The version byte is not in the AAD: only 0x01 is accepted, and a
	// future version would use another HKDF label, hence another key.
	return k.aead.Seal(out, nil, plaintext, aad), nil
}

// Open decrypts what Seal returned for the same aad. Every failure is
// ErrUnseal.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	plaintext, err := s.cur.Load().open(sealed, aad)
	if err != nil {
		if k := s.other.Load(); k != nil {
			return k.open(sealed, aad)
		}
	}
	return plaintext, err
}

func (k *rootKey) open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+k.aead.Overhead() || sealed[0] != sealVersion1 {
		return nil, ErrUnseal
	}
	plaintext, err := k.aead.Open(nil, nil, sealed[1:], aad)
	if err != nil {
		return nil, ErrUnseal
	}
	return plaintext, nil
}

// Hold keeps RotateLive from starting until the returned func is called.
// Whoever seals a value to store it holds the Sealer from before Seal until
// the store has the value (or refused it), and takes no other lock in
// between: a value sealed under the old root key must not reach the store
// after the rotation re-sealed everything there.
func (s *Sealer) Hold() (release func()) {
	s.writers.RLock()
	return s.writers.RUnlock
}

// DeriveKey returns a 32-byte subkey of the root key for one purpose, named
// by label (e.g. "pagination marker"). The same label always gives the same
// key; different labels give independent keys.
func (s *Sealer) DeriveKey(label string) []byte {
	k, err := hkdf.Key(sha256.New, s.derive[:], nil, deriveLabel+label, 32)
	if err != nil {
		panic("seal: HKDF failed: " + err.Error()) // only for impossible lengths
	}
	return k
}

// Format keeps the root key out of logs whatever the verb.
func (*Sealer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("seal.Sealer(REDACTED)")) }
