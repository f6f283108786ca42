package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"slices"
)

// Blob format constants (see the package documentation).
const (
	Version1               = 0x01
	AlgAES256GCMHKDFSHA256 = 0x01

	SaltSize  = 16
	NonceSize = 12
	tagSize   = 16

	// MaxBlobSize is the API's limit on every ciphertext input.
	MaxBlobSize = 6144
	// MaxKeyARNLen is far above any real key ARN (about 75 bytes) yet small
	// enough that a 4096-byte plaintext always fits in MaxBlobSize.
	MaxKeyARNLen = 1024

	// fixedHeaderLen is the header without the ARN: version, algorithm,
	// ARN length, material id, salt, nonce.
	fixedHeaderLen = 1 + 1 + 2 + MaterialIDSize + SaltSize + NonceSize
)

// hkdfLabel starts the HKDF info, separating this use of the material from
// any future one. The NUL cannot occur in the label, so label and header
// cannot run into each other.
const hkdfLabel = "openkms ciphertext blob v1\x00"

// ErrInvalidCiphertext is the one error for every blob that does not parse
// or authenticate. It deliberately carries no detail.
var ErrInvalidCiphertext = errors.New("keys: invalid ciphertext")

var (
	errKeyARN    = errors.New("keys: key ARN must be 1 to 1024 printable ASCII bytes")
	errTooLarge  = errors.New("keys: plaintext too large for a ciphertext blob")
	errAlgorithm = errors.New("keys: unsupported blob version or algorithm")
)

// Header is the cleartext header of a ciphertext blob. It tells the caller
// which key and material version to fetch before calling Decrypt; it is not
// authenticated until Decrypt succeeds.
type Header struct {
	Version    byte // Version1
	Algorithm  byte // AlgAES256GCMHKDFSHA256
	KeyARN     string
	MaterialID MaterialID
	Salt       [SaltSize]byte
	Nonce      [NonceSize]byte
}

// AppendBinary appends the encoded header to b. It refuses any header that
// ParseHeader would reject, so every header it writes parses back.
func (h *Header) AppendBinary(b []byte) ([]byte, error) {
	if h.Version != Version1 || h.Algorithm != AlgAES256GCMHKDFSHA256 {
		return b, errAlgorithm
	}
	if !validARN(h.KeyARN) {
		return b, errKeyARN
	}
	b = append(b, h.Version, h.Algorithm)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.KeyARN)))
	b = append(b, h.KeyARN...)
	b = append(b, h.MaterialID[:]...)
	b = append(b, h.Salt[:]...)
	b = append(b, h.Nonce[:]...)
	return b, nil
}

// validARN accepts 1 to MaxKeyARNLen printable ASCII bytes. The ARN is read
// from untrusted blobs before they are authenticated, so refusing control
// bytes and non-ASCII keeps it harmless in lookups and log lines.
func validARN[T string | []byte](s T) bool {
	if len(s) == 0 || len(s) > MaxKeyARNLen {
		return false
	}
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// headerLen checks the cleartext structure of blob and returns the length of
// its header. It does no cryptography.
func headerLen(blob []byte) (int, bool) {
	if len(blob) > MaxBlobSize || len(blob) < fixedHeaderLen+tagSize {
		return 0, false
	}
	if blob[0] != Version1 || blob[1] != AlgAES256GCMHKDFSHA256 {
		return 0, false
	}
	l := int(binary.BigEndian.Uint16(blob[2:4]))
	n := fixedHeaderLen + l
	// Trailing garbage cannot be told apart from ciphertext here; the GCM
	// tag rejects it in Decrypt.
	if len(blob) < n+tagSize || !validARN(blob[4:4+l]) {
		return 0, false
	}
	return n, true
}

// ParseHeader returns the cleartext header of a blob, without any
// cryptography, so the caller can find the key. Failures are
// ErrInvalidCiphertext.
func ParseHeader(blob []byte) (Header, error) {
	n, ok := headerLen(blob)
	if !ok {
		return Header{}, ErrInvalidCiphertext
	}
	l := n - fixedHeaderLen
	h := Header{Version: blob[0], Algorithm: blob[1], KeyARN: string(blob[4 : 4+l])}
	rest := blob[4+l : n]
	rest = rest[copy(h.MaterialID[:], rest):]
	rest = rest[copy(h.Salt[:], rest):]
	copy(h.Nonce[:], rest)
	return h, nil
}

// Encrypt seals plaintext into a version 1 blob under k, naming keyARN and
// the material id mid, and bound to the encryption context encCtx.
func Encrypt(k *SymmetricKey, keyARN string, mid MaterialID, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	h := Header{Version: Version1, Algorithm: AlgAES256GCMHKDFSHA256, KeyARN: keyARN, MaterialID: mid}
	out, err := h.appendBlobHeader(plaintext)
	if err != nil {
		return nil, err
	}
	// Salt and nonce are both fresh random values. The salt alone makes the
	// GCM key unique per message (so a fixed nonce would do); the random
	// nonce costs 12 bytes and keeps GCM safe even if two salts collided.
	if _, err := rand.Read(out[len(out)-SaltSize-NonceSize:]); err != nil {
		return nil, err
	}
	return seal(k, out, plaintext, encCtx)
}

// appendBlobHeader checks h and plaintext, and returns the encoded header in
// the one allocation that will hold the whole blob.
func (h *Header) appendBlobHeader(plaintext []byte) ([]byte, error) {
	if !validARN(h.KeyARN) {
		return nil, errKeyARN
	}
	size := fixedHeaderLen + len(h.KeyARN) + len(plaintext) + tagSize
	// Refuse to write a blob that Decrypt would refuse to read.
	if size > MaxBlobSize {
		return nil, errTooLarge
	}
	return h.AppendBinary(make([]byte, 0, size))
}

// seal appends the ciphertext of plaintext to the encoded header hdr.
func seal(k *SymmetricKey, hdr, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	aead, aad, err := k.blobAEAD(hdr, encCtx)
	if err != nil {
		return nil, err
	}
	// The nonce is read from hdr, which Seal leaves alone: it only writes
	// past len(hdr).
	return aead.Seal(hdr, hdr[len(hdr)-NonceSize:], plaintext, aad), nil
}

// Decrypt opens a blob made by Encrypt with the same key material and an
// identical encryption context (nil and empty are identical). Every failure
// is ErrInvalidCiphertext.
func Decrypt(k *SymmetricKey, blob []byte, encCtx map[string]string) ([]byte, error) {
	n, ok := headerLen(blob)
	if !ok {
		return nil, ErrInvalidCiphertext
	}
	hdr := blob[:n]
	aead, aad, err := k.blobAEAD(hdr, encCtx)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(nil, hdr[n-NonceSize:], blob[n:], aad)
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return plaintext, nil
}

// blobAEAD derives the per-message AES-256-GCM instance for an encoded
// header and returns it with the additional data: header || context.
func (k *SymmetricKey) blobAEAD(hdr []byte, encCtx map[string]string) (cipher.AEAD, []byte, error) {
	if k == nil {
		return nil, nil, errNilKey
	}
	if k.isZero() {
		return nil, nil, errZeroKey
	}
	salt := hdr[len(hdr)-NonceSize-SaltSize : len(hdr)-NonceSize]
	// The info holds the whole header, not only the salt, so the derived key
	// is bound to the version, algorithm, ARN and material id as well.
	mk, err := hkdf.Key(sha256.New, k.b[:], salt, hkdfLabel+string(hdr), 32)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(mk)
	clear(mk) // the cipher holds its own expanded copy
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	aad := make([]byte, 0, len(hdr)+contextLen(encCtx))
	aad = append(aad, hdr...)
	aad = appendContext(aad, encCtx)
	return aead, aad, nil
}

// EncodeContext returns the canonical encoding of an encryption context: the
// number of pairs, then each key and its value, in increasing byte order of
// the keys, every count and length a uint32 big-endian. Length prefixes make
// it unambiguous ({"ab":"c"} and {"a":"bc"} differ); nil and an empty map
// encode alike, as the API treats them alike.
func EncodeContext(encCtx map[string]string) []byte {
	return appendContext(make([]byte, 0, contextLen(encCtx)), encCtx)
}

func contextLen(encCtx map[string]string) int {
	n := 4
	for k, v := range encCtx {
		n += 4 + len(k) + 4 + len(v)
	}
	return n
}

func appendContext(b []byte, encCtx map[string]string) []byte {
	b = appendLen(b, len(encCtx))
	switch len(encCtx) {
	case 0:
		return b
	case 1: // the common case needs no sorting
		for k, v := range encCtx {
			b = appendString(appendString(b, k), v)
		}
		return b
	}
	for _, k := range slices.Sorted(maps.Keys(encCtx)) {
		b = appendString(appendString(b, k), encCtx[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(appendLen(b, len(s)), s...)
}

func appendLen(b []byte, n int) []byte {
	// The API caps contexts at a few KiB; a silent truncation here would
	// make the encoding ambiguous, so fail loudly instead.
	if uint64(n) > math.MaxUint32 {
		panic("keys: encryption context too large")
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}
