package keys

import (
	"bytes"
	"encoding/binary"
	"maps"
	"testing"
)

// addSeeds adds the golden blobs and a few fresh ones to a fuzzer's corpus.
func addSeeds(f *testing.F, k *SymmetricKey, mid MaterialID) {
	for _, v := range loadGolden(f, "testdata/v1.json") {
		f.Add(mustHex(f, v.Blob))
	}
	for _, pt := range [][]byte{nil, []byte("plaintext"), make([]byte, 4096)} {
		blob, err := Encrypt(k, testARN, mid, pt, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(blob)
	}
	f.Add([]byte{})
	f.Add([]byte{Version1, AlgAES256GCMHKDFSHA256, 0, 1, 'a'})
}

// FuzzParseHeader checks that the header encoding cannot be bent: whatever
// ParseHeader accepts re-encodes to exactly the bytes it was parsed from,
// and whatever it refuses is refused with ErrInvalidCiphertext.
func FuzzParseHeader(f *testing.F) {
	k, mid := newTestKey(f)
	addSeeds(f, k, mid)
	f.Fuzz(func(t *testing.T, blob []byte) {
		h, err := ParseHeader(blob)
		if err != nil {
			if err != ErrInvalidCiphertext {
				t.Fatalf("ParseHeader error %v, want ErrInvalidCiphertext", err)
			}
			return
		}
		enc, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatalf("parsed header %+v does not re-encode: %v", h, err)
		}
		if !bytes.HasPrefix(blob, enc) {
			t.Fatalf("header re-encodes differently:\n got %x\nfrom %x", enc, blob)
		}
		if len(blob) < len(enc)+tagSize || len(blob) > MaxBlobSize {
			t.Fatalf("accepted a blob of %d bytes with a %d-byte header", len(blob), len(enc))
		}
		if h2, err := ParseHeader(enc); err == nil {
			t.Fatalf("header without tag parsed: %+v", h2)
		}
	})
}

// FuzzDecrypt checks that Decrypt never panics and fails only with
// ErrInvalidCiphertext, and that whatever it opens was sealed under the
// fuzzer's key (only the untouched seeds can be).
func FuzzDecrypt(f *testing.F) {
	k, mid := newTestKey(f)
	addSeeds(f, k, mid)
	f.Fuzz(func(t *testing.T, blob []byte) {
		pt, err := Decrypt(k, blob, nil)
		if err != nil {
			if err != ErrInvalidCiphertext {
				t.Fatalf("Decrypt error %v, want ErrInvalidCiphertext", err)
			}
			return
		}
		h, err := ParseHeader(blob)
		if err != nil || h.KeyARN != testARN || h.MaterialID != mid {
			t.Fatalf("Decrypt opened a blob not made by this test: %x", blob)
		}
		if len(blob) != 80+len(testARN)+len(pt) {
			t.Fatalf("plaintext of %d bytes from a %d-byte blob", len(pt), len(blob))
		}
	})
}

// FuzzEncodeContext checks that the context encoding is injective by decoding
// it back strictly, and that a blob opens under its own context only.
func FuzzEncodeContext(f *testing.F) {
	k, mid := newTestKey(f)
	f.Add("a", "bc", "ab", "c", "", "")
	f.Add("", "", "\x00", "\x00\x00\x00\x01", "ключ", "значение")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		m := map[string]string{k1: v1, k2: v2, k3: v3}
		enc := EncodeContext(m)
		got, ok := decodeContext(enc)
		if !ok || !maps.Equal(got, m) {
			t.Fatalf("EncodeContext(%q) = %x decodes to %q, %v", m, enc, got, ok)
		}

		blob, err := Encrypt(k, testARN, mid, []byte("p"), m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decrypt(k, blob, m); err != nil {
			t.Fatalf("own context refused: %v", err)
		}
		// Any other context made of the same strings must fail.
		other := map[string]string{k1: v1 + v2, k2 + v2: v2}
		if !maps.Equal(other, m) {
			if _, err := Decrypt(k, blob, other); err != ErrInvalidCiphertext {
				t.Fatalf("context %q opened a blob sealed with %q", other, m)
			}
		}
	})
}

// decodeContext is the inverse of EncodeContext and refuses anything that
// EncodeContext would not produce: trailing bytes, or keys out of order.
func decodeContext(b []byte) (map[string]string, bool) {
	next := func() (string, bool) {
		if len(b) < 4 {
			return "", false
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(len(b)-4) < uint64(n) {
			return "", false
		}
		s := string(b[4 : 4+n])
		b = b[4+n:]
		return s, true
	}
	if len(b) < 4 {
		return nil, false
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	m := map[string]string{}
	prev := ""
	for i := range count {
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 || (i > 0 && k <= prev) {
			return nil, false
		}
		m[k], prev = v, k
	}
	return m, len(b) == 0
}
