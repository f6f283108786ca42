package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/openkms/kms"
)

// stdPKCS8 is the PKCS#8 of a key made by the standard library, as a
// customer's tooling would make it.
func stdPKCS8(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func stdSPKI(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// ourPKCS8 is the PKCS#8 and public key of a pair this package makes, for
// the curves the standard library lacks (secp256k1, SM2).
func ourPKCS8(t testing.TB, spec kms.KeySpec) (pkcs8, spki []byte) {
	t.Helper()
	p, err := GenerateKeyPair(spec)
	if err != nil {
		t.Fatal(err)
	}
	der, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der, p.Public().DER()
}

func TestImportPrivateKey(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	k1, k1Pub := ourPKCS8(t, kms.KeySpecECCSECGP256K1)
	sm2, sm2Pub := ourPKCS8(t, kms.KeySpecSM2)
	for _, tc := range []struct {
		spec      kms.KeySpec
		der, spki []byte
	}{
		{kms.KeySpecRSA2048, stdPKCS8(t, rsa2048), stdSPKI(t, rsa2048)},
		{kms.KeySpecECCNISTP256, stdPKCS8(t, p256), stdSPKI(t, p256)},
		{kms.KeySpecECCNISTP384, stdPKCS8(t, p384), stdSPKI(t, p384)},
		{kms.KeySpecECCNISTP521, stdPKCS8(t, p521), stdSPKI(t, p521)},
		{kms.KeySpecECCSECGP256K1, k1, k1Pub},
		{kms.KeySpecSM2, sm2, sm2Pub},
	} {
		p, err := ImportPrivateKey(tc.spec, tc.der)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if !bytes.Equal(p.Public().DER(), tc.spki) {
			t.Errorf("%s: the public key is not the imported key's", tc.spec)
		}
		// What the store keeps imports again as the same key.
		der, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ImportPrivateKey(tc.spec, der)
		if err != nil || !bytes.Equal(q.Public().DER(), tc.spki) {
			t.Errorf("%s: re-encoding does not import as the same key: %v", tc.spec, err)
		}
	}
}

// TestImportPrivateKeyRefuses: every key that is not of the spec, and
// everything that is not a key, is the one error.
func TestImportPrivateKeyRefuses(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	k1, _ := ourPKCS8(t, kms.KeySpecECCSECGP256K1)
	sm2, _ := ourPKCS8(t, kms.KeySpecSM2)
	rsaDER, p256DER := stdPKCS8(t, rsa2048), stdPKCS8(t, p256)
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsa2048)
	sec1, _ := x509.MarshalECPrivateKey(p256)
	for _, tc := range []struct {
		name string
		spec kms.KeySpec
		der  []byte
	}{
		{"RSA-2048 as RSA_3072", kms.KeySpecRSA3072, rsaDER},
		{"RSA-2048 as RSA_4096", kms.KeySpecRSA4096, rsaDER},
		{"P-256 as RSA_2048", kms.KeySpecRSA2048, p256DER},
		{"P-384 as ECC_NIST_P256", kms.KeySpecECCNISTP256, stdPKCS8(t, p384)},
		{"P-256 as ECC_NIST_P384", kms.KeySpecECCNISTP384, p256DER},
		{"P-256 as ECC_NIST_P521", kms.KeySpecECCNISTP521, p256DER},
		{"RSA as ECC_NIST_P256", kms.KeySpecECCNISTP256, rsaDER},
		{"Ed25519 as ECC_NIST_P256", kms.KeySpecECCNISTP256, stdPKCS8(t, ed)},
		{"P-256 as ECC_SECG_P256K1", kms.KeySpecECCSECGP256K1, p256DER},
		{"secp256k1 as ECC_NIST_P256", kms.KeySpecECCNISTP256, k1},
		{"SM2 as ECC_NIST_P256", kms.KeySpecECCNISTP256, sm2},
		{"P-256 as SM2", kms.KeySpecSM2, p256DER},
		{"secp256k1 as SM2", kms.KeySpecSM2, k1},
		{"PKCS #1, not PKCS #8", kms.KeySpecRSA2048, pkcs1},
		{"SEC 1, not PKCS #8", kms.KeySpecECCNISTP256, sec1},
		{"trailing byte", kms.KeySpecECCNISTP256, append(bytes.Clone(p256DER), 0)},
		{"truncated", kms.KeySpecRSA2048, rsaDER[:len(rsaDER)-1]},
		{"32 random bytes", kms.KeySpecECCNISTP256, bytes.Repeat([]byte{0x5a}, 32)},
		{"empty", kms.KeySpecRSA2048, nil},
	} {
		if p, err := ImportPrivateKey(tc.spec, tc.der); !errors.Is(err, ErrIncorrectKeyMaterial) {
			t.Errorf("%s: %v, %v; want ErrIncorrectKeyMaterial", tc.name, p, err)
		}
	}
	for _, spec := range []kms.KeySpec{kms.KeySpecEd25519, kms.KeySpecMLDSA44, kms.KeySpecMLDSA65, kms.KeySpecMLDSA87,
		kms.KeySpecSymmetricDefault, kms.KeySpecHMAC256} {
		if _, err := ImportPrivateKey(spec, p256DER); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", spec, err)
		}
	}
}

func TestImportable(t *testing.T) {
	for spec := range specs {
		want := true
		switch spec {
		case kms.KeySpecEd25519, kms.KeySpecMLDSA44, kms.KeySpecMLDSA65, kms.KeySpecMLDSA87:
			want = false
		}
		if got := Importable(spec); got != want {
			t.Errorf("Importable(%s) = %v, want %v", spec, got, want)
		}
	}
	if Importable("RSA_1024") {
		t.Error("an unknown spec is importable")
	}
}

func TestHMACKeySizes(t *testing.T) {
	for spec, want := range map[kms.KeySpec][2]int{
		kms.KeySpecHMAC224: {28, 64}, kms.KeySpecHMAC256: {32, 64},
		kms.KeySpecHMAC384: {48, 128}, kms.KeySpecHMAC512: {64, 128},
		kms.KeySpecRSA2048: {0, 0},
	} {
		lo, hi := HMACKeySizes(spec)
		if lo != want[0] || hi != want[1] {
			t.Errorf("%s: %d to %d bytes, want %d to %d", spec, lo, hi, want[0], want[1])
			continue
		}
		if lo == 0 {
			continue
		}
		for n, ok := range map[int]bool{lo - 1: false, lo: true, hi: true, hi + 1: false} {
			if _, err := HMACKeyFromBytes(spec, make([]byte, n)); (err == nil) != ok {
				t.Errorf("%s: a key of %d bytes: %v", spec, n, err)
			}
		}
	}
}

// FuzzImportPrivateKey checks that imported PKCS #8 never panics, fails
// only with ErrIncorrectKeyMaterial, and that whatever it accepts is
// stored in a form that imports again as the same key.
func FuzzImportPrivateKey(f *testing.F) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k1, _ := ourPKCS8(f, kms.KeySpecECCSECGP256K1)
	sm2, _ := ourPKCS8(f, kms.KeySpecSM2)
	specs := []kms.KeySpec{kms.KeySpecECCNISTP256, kms.KeySpecECCSECGP256K1, kms.KeySpecSM2, kms.KeySpecRSA2048}
	f.Add(uint8(0), stdPKCS8(f, p256))
	f.Add(uint8(1), k1)
	f.Add(uint8(2), sm2)
	f.Add(uint8(3), []byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, which uint8, der []byte) {
		spec := specs[int(which)%len(specs)]
		p, err := ImportPrivateKey(spec, der)
		if err != nil {
			if !errors.Is(err, ErrIncorrectKeyMaterial) {
				t.Fatalf("error %v", err)
			}
			return
		}
		again, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ImportPrivateKey(spec, again)
		if err != nil || !bytes.Equal(q.Public().DER(), p.Public().DER()) {
			t.Fatalf("accepted %x, whose re-encoding %x does not import as the same key: %v", der, again, err)
		}
	})
}

// TestImportECEmbeddedPublicKey: the public key a NIST curve PKCS#8 carries
// must be its private key's, in either point form, or absent.
func TestImportECEmbeddedPublicKey(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	point := func(k *ecdsa.PrivateKey) []byte {
		e, err := k.PublicKey.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		return e.Bytes()
	}
	pub := point(k)
	// SEC 1 §2.3.3: the parity of y, then x.
	compressed := append([]byte{2 | pub[64]&1}, pub[1:33]...)
	build := func(pub []byte) []byte {
		d, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		ec, err := asn1.Marshal(namedCurveECPrivateKey{Version: 1, PrivateKey: d,
			PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
		if err != nil {
			t.Fatal(err)
		}
		der, err := asn1.Marshal(namedCurvePKCS8{PrivateKey: ec,
			Algorithm: namedCurveAlgorithm{Algorithm: oidNamedCurveECKey, Curve: asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}}})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	for name, tc := range map[string]struct {
		der []byte
		ok  bool
	}{
		"uncompressed":        {build(pub), true},
		"compressed":          {build(compressed), true},
		"none":                {build(nil), true},
		"another key's":       {build(point(other)), false},
		"other parity":        {build(append([]byte{compressed[0] ^ 1}, compressed[1:]...)), false},
		"truncated point":     {build(pub[:64]), false},
		"x509's own encoding": {stdPKCS8(t, k), true},
	} {
		p, err := ImportPrivateKey(kms.KeySpecECCNISTP256, tc.der)
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err != nil {
			continue
		}
		if !bytes.Equal(p.Public().DER(), stdSPKI(t, k)) {
			t.Errorf("%s: another public key", name)
		}
		// Every encoding of the key is stored alike, so a re-import in
		// another encoding is the same material.
		if der, _ := p.Marshal(); !bytes.Equal(der, stdPKCS8(t, k)) {
			t.Errorf("%s: stored as %x", name, der)
		}
	}
}
