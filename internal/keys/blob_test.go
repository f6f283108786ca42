package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

const testARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func newTestKey(t testing.TB) (*SymmetricKey, MaterialID) {
	t.Helper()
	k, err := NewSymmetricKey()
	if err != nil {
		t.Fatal(err)
	}
	mid, err := NewMaterialID()
	if err != nil {
		t.Fatal(err)
	}
	return k, mid
}

func TestRoundTrip(t *testing.T) {
	k, mid := newTestKey(t)
	maxARN := "arn:" + strings.Repeat("x", MaxKeyARNLen-4)
	tests := []struct {
		name string
		arn  string
		pt   []byte
		ctx  map[string]string
	}{
		{"empty plaintext", testARN, nil, nil},
		{"1 byte", testARN, []byte{0}, nil},
		{"32 bytes with context", testARN, bytes.Repeat([]byte{7}, 32), map[string]string{"a": "b"}},
		{"4096 bytes, longest ARN", maxARN, bytes.Repeat([]byte{9}, 4096), map[string]string{"x": "y", "k": "v"}},
		{"empty strings in context", "a", []byte("p"), map[string]string{"": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob, err := Encrypt(k, tt.arn, mid, tt.pt, tt.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := 80 + len(tt.arn) + len(tt.pt); len(blob) != want || cap(blob) != want {
				t.Errorf("blob len %d cap %d, want %d", len(blob), cap(blob), want)
			}
			h, err := ParseHeader(blob)
			if err != nil {
				t.Fatal(err)
			}
			if h.KeyARN != tt.arn || h.MaterialID != mid || h.Version != Version1 || h.Algorithm != AlgAES256GCMHKDFSHA256 {
				t.Errorf("ParseHeader = %+v", h)
			}
			got, err := Decrypt(k, blob, tt.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.pt) {
				t.Errorf("Decrypt = %x, want %x", got, tt.pt)
			}
		})
	}
}

func TestEncryptRandomized(t *testing.T) {
	k, mid := newTestKey(t)
	a, _ := Encrypt(k, testARN, mid, []byte("same"), nil)
	b, _ := Encrypt(k, testARN, mid, []byte("same"), nil)
	ha, _ := ParseHeader(a)
	hb, _ := ParseHeader(b)
	if ha.Salt == hb.Salt || ha.Nonce == hb.Nonce || bytes.Equal(a, b) {
		t.Fatal("two encryptions share salt, nonce or bytes")
	}
}

func TestEncryptRejects(t *testing.T) {
	k, mid := newTestKey(t)
	tooBig := make([]byte, MaxBlobSize-80-len(testARN)+1)
	tests := []struct {
		name string
		arn  string
		pt   []byte
	}{
		{"empty ARN", "", nil},
		{"ARN too long", strings.Repeat("a", MaxKeyARNLen+1), nil},
		{"ARN with space", "arn:aws:kms:x key", nil},
		{"ARN with newline", "arn\n", nil},
		{"ARN not ASCII", "arn:é", nil},
		{"plaintext too large", testARN, tooBig},
	}
	for _, tt := range tests {
		if _, err := Encrypt(k, tt.arn, mid, tt.pt, nil); err == nil {
			t.Errorf("%s: Encrypt succeeded", tt.name)
		}
	}
	if _, err := Encrypt(k, testARN, mid, tooBig[1:], nil); err != nil {
		t.Errorf("largest plaintext refused: %v", err)
	}
}

func TestEncodeContext(t *testing.T) {
	if got, want := EncodeContext(nil), []byte{0, 0, 0, 0}; !bytes.Equal(got, want) {
		t.Errorf("EncodeContext(nil) = %x, want %x", got, want)
	}
	if !bytes.Equal(EncodeContext(nil), EncodeContext(map[string]string{})) {
		t.Error("nil and empty contexts encode differently")
	}
	got := EncodeContext(map[string]string{"b": "2", "a": "1"})
	want := []byte{
		0, 0, 0, 2,
		0, 0, 0, 1, 'a', 0, 0, 0, 1, '1',
		0, 0, 0, 1, 'b', 0, 0, 0, 1, '2',
	}
	if !bytes.Equal(got, want) {
		t.Errorf("EncodeContext = %x, want %x", got, want)
	}
	// Byte order, not Unicode or case-folded order.
	got = EncodeContext(map[string]string{"é": "", "Z": "", "a": ""})
	if i, j, k := bytes.Index(got, []byte("Z")), bytes.Index(got, []byte("a")), bytes.Index(got, []byte("é")); !(i < j && j < k) {
		t.Errorf("EncodeContext not in byte order: %x", got)
	}
	distinct := []map[string]string{
		nil,
		{"": ""},
		{"a": "bc"},
		{"ab": "c"},
		{"abc": ""},
		{"": "abc"},
		{"a": "b", "c": "d"},
		{"a": "bcd"},
		{"a": "b\x00\x00\x00\x01c"},
	}
	seen := map[string]int{}
	for i, m := range distinct {
		e := string(EncodeContext(m))
		if j, ok := seen[e]; ok {
			t.Errorf("contexts %v and %v encode alike", distinct[j], m)
		}
		seen[e] = i
	}
}

// TestMismatch checks every way a blob can be presented wrongly.
func TestMismatch(t *testing.T) {
	k, mid := newTestKey(t)
	ctx := map[string]string{"Department": "Finance", "a": "bc"}
	blob, err := Encrypt(k, testARN, mid, []byte("secret data"), ctx)
	if err != nil {
		t.Fatal(err)
	}
	contexts := map[string]map[string]string{
		"nil":           nil,
		"empty":         {},
		"value changed": {"Department": "finance", "a": "bc"},
		"key case":      {"department": "Finance", "a": "bc"},
		"pair removed":  {"Department": "Finance"},
		"pair added":    {"Department": "Finance", "a": "bc", "x": ""},
		"a/bc as ab/c":  {"Department": "Finance", "ab": "c"},
		"moved bytes":   {"Department": "Financea", "": "bc"},
	}
	for name, c := range contexts {
		if _, err := Decrypt(k, blob, c); err != ErrInvalidCiphertext {
			t.Errorf("context %s: err = %v, want ErrInvalidCiphertext", name, err)
		}
	}
	other, _ := NewSymmetricKey()
	if _, err := Decrypt(other, blob, ctx); err != ErrInvalidCiphertext {
		t.Errorf("other key: err = %v, want ErrInvalidCiphertext", err)
	}

	for i := range blob {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(blob)
			b[i] ^= bit
			if _, err := Decrypt(k, b, ctx); err != ErrInvalidCiphertext {
				t.Fatalf("byte %d ^ %#x: err = %v, want ErrInvalidCiphertext", i, bit, err)
			}
		}
	}
	for n := range len(blob) {
		if _, err := Decrypt(k, blob[:n], ctx); err != ErrInvalidCiphertext {
			t.Fatalf("truncated to %d: err = %v, want ErrInvalidCiphertext", n, err)
		}
	}
	for _, tail := range [][]byte{{0}, make([]byte, 16), blob[len(blob)-16:]} {
		if _, err := Decrypt(k, append(bytes.Clone(blob), tail...), ctx); err != ErrInvalidCiphertext {
			t.Errorf("%d trailing bytes: err = %v, want ErrInvalidCiphertext", len(tail), err)
		}
	}
	if _, err := Decrypt(k, blob, ctx); err != nil {
		t.Fatalf("original blob no longer decrypts: %v", err)
	}
}

func TestParseHeaderRejects(t *testing.T) {
	k, mid := newTestKey(t)
	good, _ := Encrypt(k, testARN, mid, nil, nil) // header and tag only
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	withARNLen := func(n int) []byte {
		return edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], uint16(n)); return b })
	}
	tests := map[string][]byte{
		"nil":            nil,
		"one byte":       {1},
		"version 0":      edit(func(b []byte) []byte { b[0] = 0; return b }),
		"version 2":      edit(func(b []byte) []byte { b[0] = 2; return b }),
		"algorithm 0":    edit(func(b []byte) []byte { b[1] = 0; return b }),
		"algorithm 2":    edit(func(b []byte) []byte { b[1] = 2; return b }),
		"ARN length 0":   withARNLen(0),
		"ARN length+1":   withARNLen(len(testARN) + 1),
		"ARN length max": withARNLen(0xffff),
		"ARN control":    edit(func(b []byte) []byte { b[5] = '\n'; return b }),
		"ARN high bit":   edit(func(b []byte) []byte { b[5] = 0xc3; return b }),
		"short tag":      good[:len(good)-1],
		"oversized":      append(bytes.Clone(good), make([]byte, MaxBlobSize)...),
	}
	for name, b := range tests {
		if _, err := ParseHeader(b); err != ErrInvalidCiphertext {
			t.Errorf("%s: err = %v, want ErrInvalidCiphertext", name, err)
		}
	}
	// A header whose ARN length is over the maximum is refused even when the
	// blob is long enough to hold it.
	long := make([]byte, 64+MaxKeyARNLen+1+16)
	long[0], long[1] = Version1, AlgAES256GCMHKDFSHA256
	binary.BigEndian.PutUint16(long[2:], MaxKeyARNLen+1)
	for i := range MaxKeyARNLen + 1 {
		long[4+i] = 'a'
	}
	if _, err := ParseHeader(long); err != ErrInvalidCiphertext {
		t.Errorf("ARN over maximum: err = %v", err)
	}
	binary.BigEndian.PutUint16(long[2:], MaxKeyARNLen)
	if _, err := ParseHeader(long); err != nil {
		t.Errorf("ARN at maximum: err = %v", err)
	}
}

func TestAppendBinaryRejects(t *testing.T) {
	for _, h := range []Header{
		{},
		{Version: Version1, Algorithm: AlgAES256GCMHKDFSHA256},
		{Version: 2, Algorithm: AlgAES256GCMHKDFSHA256, KeyARN: "a"},
		{Version: Version1, Algorithm: 2, KeyARN: "a"},
		{Version: Version1, Algorithm: AlgAES256GCMHKDFSHA256, KeyARN: "a b"},
	} {
		if _, err := h.AppendBinary(nil); err == nil {
			t.Errorf("AppendBinary(%+v) succeeded", h)
		}
	}
}

type goldenVector struct {
	Name       string            `json:"name"`
	Key        string            `json:"key"`
	KeyARN     string            `json:"key_arn"`
	MaterialID string            `json:"material_id"`
	Context    map[string]string `json:"context"`
	Plaintext  string            `json:"plaintext"`
	Blob       string            `json:"blob"`
}

func loadGolden(t testing.TB, file string) []goldenVector {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []goldenVector }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", file)
	}
	return f.Vectors
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenV1 decrypts blobs made by the first release of the format, so
// that no later change strands stored data. Never edit testdata/v1.json.
func TestGoldenV1(t *testing.T) {
	for _, v := range loadGolden(t, "testdata/v1.json") {
		t.Run(v.Name, func(t *testing.T) {
			k, err := SymmetricKeyFromBytes(mustHex(t, v.Key))
			if err != nil {
				t.Fatal(err)
			}
			mid, err := ParseMaterialID(v.MaterialID)
			if err != nil {
				t.Fatal(err)
			}
			blob, want := mustHex(t, v.Blob), mustHex(t, v.Plaintext)

			h, err := ParseHeader(blob)
			if err != nil {
				t.Fatal(err)
			}
			if h.Version != 1 || h.KeyARN != v.KeyARN || h.MaterialID != mid {
				t.Errorf("ParseHeader = %+v", h)
			}
			got, err := Decrypt(k, blob, v.Context)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("plaintext = %x, want %x", got, want)
			}

			// Encrypting again with the blob's own salt and nonce must give
			// the same bytes: this pins the writer, not only the reader.
			hdr, err := h.appendBlobHeader(want)
			if err != nil {
				t.Fatal(err)
			}
			again, err := seal(k, hdr, want, v.Context)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, blob) {
				t.Errorf("re-encryption differs:\n got %x\nwant %x", again, blob)
			}

			if len(v.Context) > 0 {
				if _, err := Decrypt(k, blob, nil); err != ErrInvalidCiphertext {
					t.Errorf("decrypt without context: err = %v", err)
				}
			} else if _, err := Decrypt(k, blob, map[string]string{}); err != nil {
				t.Errorf("empty map not equal to no context: %v", err)
			}
		})
	}
}

// TestGoldenV1Independent decrypts the golden blobs with a second,
// deliberately naive reading of the format as the package documentation
// states it, using only the standard library. It catches a package that
// agrees with itself but not with its documentation.
func TestGoldenV1Independent(t *testing.T) {
	for _, v := range loadGolden(t, "testdata/v1.json") {
		key, blob := mustHex(t, v.Key), mustHex(t, v.Blob)
		l := int(blob[2])<<8 | int(blob[3])
		hdr := blob[:4+l+32+16+12]
		if string(hdr[4:4+l]) != v.KeyARN || hex.EncodeToString(hdr[4+l:4+l+32]) != v.MaterialID {
			t.Fatalf("%s: header fields not where documented", v.Name)
		}
		salt, nonce := hdr[4+l+32:4+l+48], hdr[4+l+48:]

		var ctx bytes.Buffer
		names := make([]string, 0, len(v.Context))
		for name := range v.Context {
			names = append(names, name)
		}
		sort.Strings(names)
		binary.Write(&ctx, binary.BigEndian, uint32(len(names)))
		for _, name := range names {
			binary.Write(&ctx, binary.BigEndian, uint32(len(name)))
			ctx.WriteString(name)
			binary.Write(&ctx, binary.BigEndian, uint32(len(v.Context[name])))
			ctx.WriteString(v.Context[name])
		}

		mk, err := hkdf.Key(sha256.New, key, salt, "openkms ciphertext blob v1\x00"+string(hdr), 32)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := aes.NewCipher(mk)
		gcm, _ := cipher.NewGCM(block)
		pt, err := gcm.Open(nil, nonce, blob[len(hdr):], append(bytes.Clone(hdr), ctx.Bytes()...))
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if hex.EncodeToString(pt) != v.Plaintext {
			t.Errorf("%s: plaintext %x", v.Name, pt)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	k, mid := newTestKey(b)
	ctx := map[string]string{"aws:s3:arn": "arn:aws:s3:::bucket/object"}
	for _, n := range []int{32, 4096} {
		pt := make([]byte, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encrypt(k, testARN, mid, pt, ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	k, mid := newTestKey(b)
	ctx := map[string]string{"aws:s3:arn": "arn:aws:s3:::bucket/object"}
	for _, n := range []int{32, 4096} {
		blob, err := Encrypt(k, testARN, mid, make([]byte, n), ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decrypt(k, blob, ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
