package service

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"hash"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/seal"
)

const testKeyID = "1234abcd-12ab-34cd-56ef-1234567890ab"

// tokenService is a Service with only what import tokens need: a sealer.
func tokenService(t testing.TB, root byte) *Service {
	t.Helper()
	sealer, err := seal.New(bytes.Repeat([]byte{root}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Service{sealer: sealer}
}

func testToken(alg string, private []byte) *importToken {
	return &importToken{keyID: testKeyID, algorithm: alg, expires: time.UnixMilli(1767225600123).UTC(), private: private}
}

func TestImportTokenRoundTrip(t *testing.T) {
	aead, err := tokenService(t, 1).importAEAD()
	if err != nil {
		t.Fatal(err)
	}
	// 2400 bytes is more than the PKCS #8 form of any RSA-4096 key.
	private := bytes.Repeat([]byte{0x30}, 2400)
	for _, alg := range []string{wrapOAEPSHA1, wrapOAEPSHA256, wrapRSAAESSHA1, wrapRSAAESSHA256} {
		want := testToken(alg, private)
		tok, err := sealImportToken(aead, want)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) > maxImportToken {
			t.Fatalf("token of %d bytes", len(tok))
		}
		if bytes.Contains(tok, private[:16]) || bytes.Contains(tok, []byte(testKeyID)) {
			t.Fatal("the token shows its contents")
		}
		got, err := openImportToken(aead, tok)
		if err != nil || got.keyID != want.keyID || got.algorithm != alg || !got.expires.Equal(want.expires) ||
			!bytes.Equal(got.private, private) {
			t.Fatalf("%s: opened %+v, %v", alg, got, err)
		}
	}
}

// TestImportTokenUnforgeable changes tokens every way a client could: each
// must be refused with the one error.
func TestImportTokenUnforgeable(t *testing.T) {
	aead, _ := tokenService(t, 1).importAEAD()
	other, _ := tokenService(t, 2).importAEAD()
	tok, err := sealImportToken(aead, testToken(wrapOAEPSHA256, []byte("private key")))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 * len(tok) {
		bad := bytes.Clone(tok)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := openImportToken(aead, bad); err != errImportToken {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"version":   {importTokenVersion},
		"truncated": tok[:len(tok)-1],
		"extended":  append(bytes.Clone(tok), 0),
	} {
		if _, err := openImportToken(aead, bad); err != errImportToken {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := openImportToken(other, tok); err != errImportToken {
		t.Errorf("opened under another root key: %v", err)
	}
}

func TestImportRecordRefuses(t *testing.T) {
	good, err := testToken(wrapRSAAESSHA256, []byte{1, 2, 3}).appendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseImportRecord(good); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"empty":             {},
		"version 2":         edit(func(b []byte) []byte { b[0] = 2; return b }),
		"algorithm 0":       edit(func(b []byte) []byte { b[1] = 0; return b }),
		"algorithm 5":       edit(func(b []byte) []byte { b[1] = 5; return b }),
		"key id too long":   edit(func(b []byte) []byte { b[10]++; return b }),
		"key id uppercase":  edit(func(b []byte) []byte { b[11] = 'A'; return b }),
		"trailing byte":     append(bytes.Clone(good), 0),
		"private cut":       good[:len(good)-1],
		"no private length": good[:11+len(testKeyID)],
	} {
		if _, err := parseImportRecord(b); err != errImportToken {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, tok := range map[string]*importToken{
		"no private key": testToken(wrapOAEPSHA1, nil),
		"PKCS #1 v1.5":   testToken(wrapPKCS1v15, []byte{1}),
		"bad key id":     {keyID: "alias/x", algorithm: wrapOAEPSHA1, private: []byte{1}},
	} {
		if _, err := tok.appendBinary(nil); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// FuzzParseImportRecord checks that the record format cannot be bent:
// whatever parseImportRecord accepts encodes back to exactly its input.
func FuzzParseImportRecord(f *testing.F) {
	for _, alg := range importAlgorithms[1:] {
		b, err := testToken(alg, []byte("a private key")).appendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{importTokenVersion, 1, 0, 0, 0, 0, 0, 0, 0, 0, 36})
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseImportRecord(b)
		if err != nil {
			if err != errImportToken {
				t.Fatalf("error %v, want errImportToken", err)
			}
			return
		}
		again, err := tok.appendBinary(nil)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("parsed %x as %+v, which encodes to %x, %v", b, tok, again, err)
		}
	})
}

// FuzzOpenImportToken checks that opening never panics, fails only with
// errImportToken, and accepts nothing but what the server sealed. (Each
// fuzz process seals the seeds afresh, under random nonces, so the check is
// on what a token says rather than on its bytes.)
func FuzzOpenImportToken(f *testing.F) {
	aead, err := tokenService(f, 1).importAEAD()
	if err != nil {
		f.Fatal(err)
	}
	var records [][]byte
	for _, alg := range importAlgorithms[1:] {
		tok := testToken(alg, []byte("a private key"))
		rec, err := tok.appendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		records = append(records, rec)
		sealed, err := sealImportToken(aead, tok)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed)
	}
	f.Add([]byte{})
	f.Add([]byte{importTokenVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := openImportToken(aead, b)
		if err != nil {
			if err != errImportToken {
				t.Fatalf("error %v, want errImportToken", err)
			}
			return
		}
		rec, _ := tok.appendBinary(nil)
		for _, r := range records {
			if bytes.Equal(r, rec) {
				return
			}
		}
		t.Fatalf("opened a token the server never sealed: %x as %+v", b, tok)
	})
}

func TestImportedMaterialID(t *testing.T) {
	m1, m2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	const otherKey = "00000000-0000-4000-8000-000000000000"
	id := importedMaterialID(testKeyID, m1)
	if _, err := keys.ParseMaterialID(id); err != nil {
		t.Fatalf("id %q: %v", id, err)
	}
	if importedMaterialID(testKeyID, bytes.Clone(m1)) != id {
		t.Fatal("the same material in the same key got another id")
	}
	if importedMaterialID(testKeyID, m2) == id || importedMaterialID(otherKey, m1) == id {
		t.Fatal("different material or key, same id")
	}
}

// wrapForImport wraps material as a customer does (spec §10.2).
func wrapForImport(t testing.TB, pub *rsa.PublicKey, alg string, material []byte) []byte {
	t.Helper()
	var h hash.Hash = sha256.New()
	if alg == wrapOAEPSHA1 || alg == wrapRSAAESSHA1 {
		h = sha1.New()
	}
	if alg == wrapOAEPSHA1 || alg == wrapOAEPSHA256 {
		ct, err := rsa.EncryptOAEP(h, rand.Reader, pub, material, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	kek := make([]byte, 32)
	rand.Read(kek)
	ct, err := rsa.EncryptOAEP(h, rand.Reader, pub, kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := keys.WrapKeyWithPadding(kek, material)
	if err != nil {
		t.Fatal(err)
	}
	return append(ct, w...)
}

func TestUnwrapMaterial(t *testing.T) {
	priv, err := newWrappingKey(2048, wrapOAEPSHA256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	material := bytes.Repeat([]byte{0x5a}, 32)
	algs := importAlgorithms[1:]
	for i, alg := range algs {
		wrapped := wrapForImport(t, &priv.PublicKey, alg, material)
		got, err := unwrapMaterial(testToken(alg, der), wrapped)
		if err != nil || !bytes.Equal(got, material) {
			t.Fatalf("%s: unwrapped %x, %v", alg, got, err)
		}
		// The token's algorithm decides, not the caller's intent.
		other := algs[(i+1)%len(algs)]
		if got, err := unwrapMaterial(testToken(other, der), wrapped); err == nil {
			t.Errorf("%s material unwrapped as %s: %x", alg, other, got)
		}
		if _, err := unwrapMaterial(testToken(alg, der), wrapped[:len(wrapped)-8]); err == nil {
			t.Errorf("%s: a truncated wrapping unwrapped", alg)
		}
	}
}

// FuzzUnwrapMaterial feeds unwrapMaterial any EncryptedKeyMaterial under
// every algorithm: it must never panic, and whatever it returns unwrapped
// (only a blob wrapped under the token's key can be) must be the material.
func FuzzUnwrapMaterial(f *testing.F) {
	priv, err := newWrappingKey(2048, wrapOAEPSHA256)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		f.Fatal(err)
	}
	material := bytes.Repeat([]byte{0x5a}, 40)
	algs := importAlgorithms[1:]
	for i, alg := range algs {
		f.Add(uint8(i), wrapForImport(f, &priv.PublicKey, alg, material))
	}
	f.Add(uint8(2), make([]byte, 256+16))
	f.Add(uint8(3), make([]byte, 257))
	f.Fuzz(func(t *testing.T, which uint8, wrapped []byte) {
		alg := algs[int(which)%len(algs)]
		got, err := unwrapMaterial(testToken(alg, der), wrapped)
		if err == nil && !bytes.Equal(got, material) {
			t.Fatalf("%s: unwrapped %x from %x", alg, got, wrapped)
		}
	})
}

// TestCheckMaterial runs the material rules of each kind of key (spec
// §10.3): 32 bytes, an HMAC key of its spec's lengths, or a PKCS #8
// private key of the spec, stored re-encoded.
func TestCheckMaterial(t *testing.T) {
	key := func(spec kms.KeySpec) *kms.Key { return &kms.Key{ID: testKeyID, Spec: spec} }
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKCS8PrivateKey(p256)
	for _, tc := range []struct {
		spec     kms.KeySpec
		material []byte
		ok       bool
	}{
		{kms.KeySpecSymmetricDefault, bytes.Repeat([]byte{1}, 32), true},
		{kms.KeySpecSymmetricDefault, bytes.Repeat([]byte{1}, 33), false},
		{kms.KeySpecSymmetricDefault, p256DER, false},
		{kms.KeySpecHMAC224, bytes.Repeat([]byte{1}, 27), false},
		{kms.KeySpecHMAC224, bytes.Repeat([]byte{1}, 28), true},
		{kms.KeySpecHMAC224, bytes.Repeat([]byte{1}, 64), true},
		{kms.KeySpecHMAC224, bytes.Repeat([]byte{1}, 65), false},
		{kms.KeySpecHMAC512, bytes.Repeat([]byte{1}, 63), false},
		{kms.KeySpecHMAC512, bytes.Repeat([]byte{1}, 128), true},
		{kms.KeySpecHMAC512, bytes.Repeat([]byte{1}, 129), false},
		{kms.KeySpecECCNISTP256, p256DER, true},
		{kms.KeySpecECCNISTP384, p256DER, false},
		{kms.KeySpecECCNISTP256, bytes.Repeat([]byte{1}, 32), false},
	} {
		got, err := checkMaterial(key(tc.spec), tc.material)
		if tc.ok != (err == nil) {
			t.Errorf("%s, %d bytes: %v", tc.spec, len(tc.material), err)
			continue
		}
		if err != nil {
			var ae *kms.Error
			if !errors.As(err, &ae) || ae.Code != kms.ErrIncorrectKeyMaterial ||
				bytes.Contains([]byte(ae.Message), tc.material[:8]) {
				t.Errorf("%s: error %v, want IncorrectKeyMaterialException without the material", tc.spec, err)
			}
			continue
		}
		if keys.IsAsymmetric(tc.spec) {
			if _, err := keys.ParsePrivateKey(tc.spec, got); err != nil {
				t.Errorf("%s: the stored form does not parse: %v", tc.spec, err)
			}
		} else if !bytes.Equal(got, tc.material) {
			t.Errorf("%s: stored %x, imported %x", tc.spec, got, tc.material)
		}
	}
}

// TestCheckWrapping: the wrapping algorithm and key rules of
// GetParametersForImport's reference.
func TestCheckWrapping(t *testing.T) {
	for _, tc := range []struct {
		spec      kms.KeySpec
		alg, wrap string
		ok        bool
	}{
		{kms.KeySpecRSA2048, wrapOAEPSHA256, "RSA_4096", false},
		{kms.KeySpecRSA4096, wrapOAEPSHA1, "RSA_4096", false},
		{kms.KeySpecRSA3072, wrapRSAAESSHA1, "RSA_2048", true},
		{kms.KeySpecRSA4096, wrapRSAAESSHA256, "RSA_2048", true},
		{kms.KeySpecECCNISTP521, wrapOAEPSHA256, "RSA_2048", false},
		{kms.KeySpecECCNISTP521, wrapOAEPSHA1, "RSA_2048", false},
		{kms.KeySpecECCNISTP521, wrapOAEPSHA256, "RSA_3072", true},
		{kms.KeySpecECCNISTP521, wrapRSAAESSHA256, "RSA_2048", true},
		{kms.KeySpecECCNISTP256, wrapOAEPSHA256, "RSA_2048", true},
		{kms.KeySpecSymmetricDefault, wrapOAEPSHA1, "RSA_2048", true},
		{kms.KeySpecHMAC512, wrapOAEPSHA256, "RSA_2048", true},
	} {
		err := checkWrapping(&kms.Key{Spec: tc.spec}, tc.alg, tc.wrap)
		if tc.ok != (err == nil) {
			t.Errorf("%s with %s under %s: %v", tc.spec, tc.alg, tc.wrap, err)
		}
	}
}
