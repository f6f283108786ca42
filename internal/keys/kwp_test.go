package keys

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"encoding/json"
	"os"
	"testing"
)

type kwpVector struct {
	Source, KEK, Plaintext, Wrapped string
}

func loadKWPVectors(t testing.TB) []kwpVector {
	t.Helper()
	data, err := os.ReadFile("testdata/kwp.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []kwpVector }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("testdata/kwp.json: no vectors")
	}
	return f.Vectors
}

func TestKWPKnownAnswers(t *testing.T) {
	for _, v := range loadKWPVectors(t) {
		kek, pt, want := mustHex(t, v.KEK), mustHex(t, v.Plaintext), mustHex(t, v.Wrapped)
		got, err := WrapKeyWithPadding(kek, pt)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: wrap = %x, %v; want %x", v.Source, got, err, want)
		}
		back, err := UnwrapKeyWithPadding(kek, want)
		if err != nil || !bytes.Equal(back, pt) {
			t.Errorf("%s: unwrap = %x, %v; want %x", v.Source, back, err, pt)
		}
	}
}

// TestKWPRejectsTampering flips every bit of every known answer, and tries
// the wrong key and cut or extended inputs: each must fail, with the one
// error.
func TestKWPRejectsTampering(t *testing.T) {
	for _, v := range loadKWPVectors(t) {
		kek, wrapped := mustHex(t, v.KEK), mustHex(t, v.Wrapped)
		for i := range 8 * len(wrapped) {
			bad := bytes.Clone(wrapped)
			bad[i/8] ^= 1 << (i % 8)
			if pt, err := UnwrapKeyWithPadding(kek, bad); err != ErrKeyUnwrap {
				t.Fatalf("%s: bit %d flipped: unwrap = %x, %v", v.Source, i, pt, err)
			}
		}
		otherKEK := bytes.Clone(kek)
		otherKEK[0] ^= 1
		for name, in := range map[string][]byte{
			"empty":          {},
			"one block":      wrapped[:8],
			"cut by a block": wrapped[:len(wrapped)-8],
			"cut by a byte":  wrapped[:len(wrapped)-1],
			"extended":       append(bytes.Clone(wrapped), make([]byte, 8)...),
		} {
			if _, err := UnwrapKeyWithPadding(kek, in); err != ErrKeyUnwrap {
				t.Errorf("%s: %s: err = %v", v.Source, name, err)
			}
		}
		if _, err := UnwrapKeyWithPadding(otherKEK, wrapped); err != ErrKeyUnwrap {
			t.Errorf("%s: wrong KEK: err = %v", v.Source, err)
		}
	}
}

// rawWrap wraps padded (a multiple of 8 bytes) under an arbitrary initial
// value, to build inputs that WrapKeyWithPadding would never produce.
func rawWrap(t *testing.T, kek []byte, aiv [8]byte, padded []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	buf := append(aiv[:], padded...)
	if len(buf) == 16 {
		block.Encrypt(buf, buf)
	} else {
		wrap(block, buf)
	}
	return buf
}

// TestKWPChecksLengthAndPadding unwraps correctly encrypted inputs whose
// initial value or padding is wrong (RFC 5649 §3 checks 1 to 3).
func TestKWPChecksLengthAndPadding(t *testing.T) {
	kek := bytes.Repeat([]byte{0x42}, 32)
	aiv := func(magic uint32, mli uint32) [8]byte {
		var a [8]byte
		binary.BigEndian.PutUint32(a[:4], magic)
		binary.BigEndian.PutUint32(a[4:], mli)
		return a
	}
	const magic = 0xa65959a6
	data := func(n int, padFrom int, padByte byte) []byte {
		b := make([]byte, n)
		for i := range padFrom {
			b[i] = byte(i + 1)
		}
		for i := padFrom; i < n; i++ {
			b[i] = padByte
		}
		return b
	}
	for _, tc := range []struct {
		name string
		aiv  [8]byte
		data []byte
		ok   bool
	}{
		{"valid, one block", aiv(magic, 5), data(8, 5, 0), true},
		{"valid, three blocks", aiv(magic, 17), data(24, 17, 0), true},
		{"valid, no padding", aiv(magic, 24), data(24, 24, 0), true},
		{"wrong magic", aiv(0xa65959a7, 17), data(24, 17, 0), false},
		{"RFC 3394 IV", aiv(0xa6a6a6a6, 0xa6a6a6a6), data(24, 24, 0), false},
		{"length too long", aiv(magic, 25), data(24, 24, 0), false},
		{"length a block short", aiv(magic, 16), data(24, 16, 0), false},
		{"length zero", aiv(magic, 0), data(8, 0, 0), false},
		{"length 2^32-1", aiv(magic, 0xffffffff), data(24, 24, 0), false},
		{"length 2^31", aiv(magic, 0x80000000), data(24, 24, 0), false},
		{"nonzero padding", aiv(magic, 17), data(24, 17, 1), false},
		{"nonzero last padding byte", aiv(magic, 23), append(data(23, 23, 0), 0x80), false},
		{"nonzero padding, one block", aiv(magic, 1), data(8, 1, 0xff), false},
	} {
		in := rawWrap(t, kek, tc.aiv, tc.data)
		pt, err := UnwrapKeyWithPadding(kek, in)
		switch {
		case tc.ok && (err != nil || !bytes.Equal(pt, tc.data[:binary.BigEndian.Uint32(tc.aiv[4:])])):
			t.Errorf("%s: unwrap = %x, %v", tc.name, pt, err)
		case !tc.ok && err != ErrKeyUnwrap:
			t.Errorf("%s: unwrap = %x, %v; want ErrKeyUnwrap", tc.name, pt, err)
		}
	}
}

func TestKWPWrapRefuses(t *testing.T) {
	if _, err := WrapKeyWithPadding(make([]byte, 32), nil); err == nil {
		t.Error("wrapped an empty plaintext")
	}
	for _, n := range []int{0, 15, 20, 33} {
		if _, err := WrapKeyWithPadding(make([]byte, n), []byte("key")); err == nil {
			t.Errorf("wrapped under a %d-byte KEK", n)
		}
		if _, err := UnwrapKeyWithPadding(make([]byte, n), make([]byte, 16)); err == nil {
			t.Errorf("unwrapped under a %d-byte KEK", n)
		}
	}
}

// FuzzUnwrapKeyWithPadding checks that unwrapping never panics, fails only
// with ErrKeyUnwrap, and that whatever it accepts wraps back to the very
// same bytes (the format has one encoding per plaintext); and that every
// plaintext round-trips.
func FuzzUnwrapKeyWithPadding(f *testing.F) {
	kek := bytes.Repeat([]byte{7}, 32)
	for _, v := range loadKWPVectors(f) {
		f.Add(mustHex(f, v.Wrapped))
		f.Add(mustHex(f, v.Plaintext))
	}
	for _, n := range []int{1, 8, 9, 32, 100} {
		w, err := WrapKeyWithPadding(kek, bytes.Repeat([]byte{byte(n)}, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		pt, err := UnwrapKeyWithPadding(kek, in)
		if err != nil {
			if err != ErrKeyUnwrap {
				t.Fatalf("unwrap error %v, want ErrKeyUnwrap", err)
			}
		} else if again, err := WrapKeyWithPadding(kek, pt); err != nil || !bytes.Equal(again, in) {
			t.Fatalf("unwrap accepted %x, which wraps back to %x, %v", in, again, err)
		}
		if len(in) == 0 {
			return
		}
		w, err := WrapKeyWithPadding(kek, in)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := UnwrapKeyWithPadding(kek, w); err != nil || !bytes.Equal(back, in) {
			t.Fatalf("round trip of %x gave %x, %v", in, back, err)
		}
	})
}
