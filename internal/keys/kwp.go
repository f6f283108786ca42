package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math"
)

// AES Key Wrap with Padding (RFC 5649, NIST SP 800-38F KWP), the second
// half of the RSA_AES_KEY_WRAP_* wrapping algorithms of ImportKeyMaterial.
// It is RFC 3394 key wrap with an alternative initial value that carries the
// plaintext length, so any length from 1 byte up can be wrapped. The
// standard library has AES but no key wrap, hence these few lines.

// kwpMagic is the constant half of RFC 5649's alternative initial value;
// the other half is the plaintext length (the MLI), big-endian.
var kwpMagic = [4]byte{0xa6, 0x59, 0x59, 0xa6}

// ErrKeyUnwrap is the one error UnwrapKeyWithPadding returns for input it
// cannot unwrap, whatever the check that failed.
var ErrKeyUnwrap = errors.New("keys: AES key unwrap failed")

// WrapKeyWithPadding wraps plaintext (1 to 2^32-1 bytes) under kek (an AES
// key of 16, 24 or 32 bytes) as RFC 5649 §4.1 does. The result is the
// plaintext rounded up to 8 bytes, plus 8.
func WrapKeyWithPadding(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	m := len(plaintext)
	if m == 0 || uint64(m) > math.MaxUint32 {
		return nil, errors.New("keys: key wrap plaintext must be 1 to 2^32-1 bytes")
	}
	padded := (m + 7) / 8 * 8
	out := make([]byte, 8+padded)
	copy(out[:4], kwpMagic[:])
	binary.BigEndian.PutUint32(out[4:8], uint32(m))
	copy(out[8:], plaintext) // the padding stays zero
	if padded == 8 {
		// One block: a single AES encryption of AIV || P (§4.1 step 2).
		block.Encrypt(out, out)
		return out, nil
	}
	wrap(block, out)
	return out, nil
}

// UnwrapKeyWithPadding undoes WrapKeyWithPadding (RFC 5649 §4.2): it checks
// the initial value, the length it carries and the zero padding, and
// returns ErrKeyUnwrap if any of them is wrong.
func UnwrapKeyWithPadding(kek, wrapped []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < 16 || len(wrapped)%8 != 0 || len(wrapped) > math.MaxInt32 {
		return nil, ErrKeyUnwrap
	}
	buf := make([]byte, len(wrapped))
	copy(buf, wrapped)
	if len(buf) == 16 {
		block.Decrypt(buf, buf)
	} else {
		unwrap(block, buf)
	}
	n := len(buf) - 8 // padded plaintext length
	// All checks run before any decision, and failures are merged into one
	// flag, so the caller cannot tell which one failed.
	ok := subtle.ConstantTimeCompare(buf[:4], kwpMagic[:])
	// The length must satisfy n-7 <= mli <= n. The values are below 2^33,
	// so in uint64 a negative difference shows as the top bit.
	mli := uint64(binary.BigEndian.Uint32(buf[4:8]))
	atLeast := 1 ^ int((mli-uint64(n-7))>>63)
	atMost := 1 ^ int((uint64(n)-mli)>>63)
	ok &= atLeast & atMost
	// Clamped to n, so the padding check below stays in range.
	end := 8 + subtle.ConstantTimeSelect(atMost, int(mli), n)
	var pad byte
	for i := 8; i < len(buf); i++ {
		// Bytes at or past end are padding and must be zero.
		inPad := byte(subtle.ConstantTimeLessOrEq(end, i))
		pad |= buf[i] & -inPad
	}
	ok &= subtle.ConstantTimeByteEq(pad, 0)
	if ok != 1 {
		clear(buf)
		return nil, ErrKeyUnwrap
	}
	return buf[8:end], nil
}

// wrap is RFC 3394 §2.2.1 (index-based form) in place over A || R[1..n],
// n >= 2 blocks of 8 bytes.
func wrap(block cipher.Block, buf []byte) {
	n := len(buf)/8 - 1
	var b [16]byte
	copy(b[:8], buf[:8]) // A
	for j := range 6 {
		for i := 1; i <= n; i++ {
			r := buf[8*i : 8*i+8]
			copy(b[8:], r)
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(r, b[8:])
		}
	}
	copy(buf[:8], b[:8])
	clear(b[:])
}

// unwrap is RFC 3394 §2.2.2 (index-based form) in place: it leaves the
// recovered A in buf[:8] for the caller to check.
func unwrap(block cipher.Block, buf []byte) {
	n := len(buf)/8 - 1
	var b [16]byte
	copy(b[:8], buf[:8]) // A
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := buf[8*i : 8*i+8]
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(b[8:], r)
			block.Decrypt(b[:], b[:])
			copy(r, b[8:])
		}
	}
	copy(buf[:8], b[:8])
	clear(b[:])
}
