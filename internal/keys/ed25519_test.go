package keys

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/openkms/kms"
)

func TestEd25519SignVerify(t *testing.T) {
	k := stdTestKey(t, kms.KeySpecEd25519)
	pub := x509Public(t, k.Public()).(ed25519.PublicKey)
	msg := []byte("openkms test message")
	ph := sha512.Sum512(msg)

	sig, err := k.Sign(AlgEd25519, MessageRaw, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("crypto/ed25519 rejects our Ed25519 signature")
	}
	phSig, err := k.Sign(AlgEd25519ph, MessageDigest, ph[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := ed25519.VerifyWithOptions(pub, ph[:], phSig, &ed25519.Options{Hash: crypto.SHA512}); err != nil {
		t.Fatalf("crypto/ed25519 rejects our Ed25519ph signature: %v", err)
	}
	if bytes.Equal(sig, phSig) {
		t.Fatal("Ed25519 and Ed25519ph signatures are equal")
	}

	for _, c := range []struct {
		alg, mt  string
		msg, sig []byte
	}{{AlgEd25519, MessageRaw, msg, sig}, {AlgEd25519ph, MessageDigest, ph[:], phSig}} {
		if err := k.Public().Verify(c.alg, c.mt, c.msg, c.sig); err != nil {
			t.Errorf("%s: Verify = %v", c.alg, err)
		}
		for i, bad := range badSignatures(c.sig) {
			if err := k.Public().Verify(c.alg, c.mt, c.msg, bad); err != ErrInvalidSignature {
				t.Errorf("%s: bad signature %d: Verify = %v, want ErrInvalidSignature", c.alg, i, err)
			}
		}
		if err := k.Public().Verify(c.alg, c.mt, flipBit(c.msg, 1), c.sig); err != ErrInvalidSignature {
			t.Errorf("%s: changed message: Verify = %v", c.alg, err)
		}
	}
	// Neither scheme's signature passes for the other.
	if err := k.Public().Verify(AlgEd25519ph, MessageDigest, ph[:], sig); err != ErrInvalidSignature {
		t.Errorf("Ed25519 signature as Ed25519ph: %v", err)
	}
	if err := k.Public().Verify(AlgEd25519, MessageRaw, ph[:], phSig); err != ErrInvalidSignature {
		t.Errorf("Ed25519ph signature as Ed25519: %v", err)
	}
	// A signature with S >= L (S + L) is refused (RFC 8032 §5.1.7).
	l, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	malleable := bytes.Clone(sig)
	var carry uint16
	for i := range 32 {
		v := uint16(malleable[32+i]) + uint16(l[i]) + carry
		malleable[32+i], carry = byte(v), v>>8
	}
	if carry == 0 {
		if err := k.Public().Verify(AlgEd25519, MessageRaw, msg, malleable); err != ErrInvalidSignature {
			t.Errorf("S+L: Verify = %v", err)
		}
	}

	// The message types of the tables, and nothing else.
	for _, c := range []struct {
		alg, mt string
		msg     []byte
	}{
		{AlgEd25519, MessageDigest, ph[:]},
		{AlgEd25519ph, MessageRaw, msg},
		{AlgEd25519ph, MessageDigest, ph[:32]},
		{AlgEd25519, MessageExternalMu, ph[:]},
		{AlgECDSASHA512, MessageRaw, msg},
		{AlgMLDSA, MessageRaw, msg},
	} {
		if _, err := k.Sign(c.alg, c.mt, c.msg); err != ErrUnsupported {
			t.Errorf("Sign(%s, %s, %d bytes) = %v, want ErrUnsupported", c.alg, c.mt, len(c.msg), err)
		}
		if err := k.Public().Verify(c.alg, c.mt, c.msg, sig); err != ErrInvalidSignature {
			t.Errorf("Verify(%s, %s, %d bytes) = %v, want ErrInvalidSignature", c.alg, c.mt, len(c.msg), err)
		}
	}
	if _, err := k.Public().Encrypt(AlgRSAESOAEPSHA256, msg); err != ErrUnsupported {
		t.Errorf("Encrypt = %v", err)
	}
	if _, err := k.Decrypt(AlgRSAESOAEPSHA256, msg); err != ErrUnsupported {
		t.Errorf("Decrypt = %v", err)
	}
	if _, err := k.SharedSecret(k.Public()); err != ErrUnsupported {
		t.Errorf("SharedSecret = %v", err)
	}
}

// TestEd25519KnownAnswers: RFC 8032 §7.1 test 2 (Ed25519) and §7.3
// (Ed25519ph), signed through ParsePrivateKey of a crypto/x509 PKCS#8.
func TestEd25519KnownAnswers(t *testing.T) {
	for _, c := range []struct {
		alg, mt, seed, pub, msg, sig string
	}{
		{AlgEd25519, MessageRaw,
			"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
			"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
			"72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
		{AlgEd25519ph, MessageDigest,
			"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
			"ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
			"616263",
			"98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"},
	} {
		seed, _ := hex.DecodeString(c.seed)
		der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParsePrivateKey(kms.KeySpecEd25519, der)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(x509Public(t, k.Public()).(ed25519.PublicKey)); got != c.pub {
			t.Fatalf("%s: public key %s, want %s", c.alg, got, c.pub)
		}
		msg, _ := hex.DecodeString(c.msg)
		if c.mt == MessageDigest {
			h := sha512.Sum512(msg)
			msg = h[:]
		}
		sig, err := k.Sign(c.alg, c.mt, msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(sig); got != c.sig {
			t.Errorf("%s: signature %s, want %s", c.alg, got, c.sig)
		}
		if err := k.Public().Verify(c.alg, c.mt, msg, sig); err != nil {
			t.Errorf("%s: Verify = %v", c.alg, err)
		}
	}
}

func TestEd25519Parse(t *testing.T) {
	k := stdTestKey(t, kms.KeySpecEd25519)
	der, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKey(kms.KeySpecEd25519, der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.Public().DER(), k.Public().DER()) {
		t.Fatal("ParsePrivateKey(Marshal()) has another public key")
	}
	for i, bad := range [][]byte{nil, der[:len(der)-1], append(bytes.Clone(der), 0)} {
		if _, err := ParsePrivateKey(kms.KeySpecEd25519, bad); err == nil {
			t.Errorf("bad PKCS#8 %d parses", i)
		}
	}
	spki := k.Public().DER()
	if len(spki) != 44 {
		t.Fatalf("SPKI of %d bytes", len(spki))
	}
	raw := spki[12:]
	x25519, _ := hex.DecodeString("302a300506032b656e032100" + hex.EncodeToString(raw))
	for name, bad := range map[string][]byte{
		"empty":         nil,
		"truncated":     spki[:43],
		"trailing byte": append(bytes.Clone(spki), 0),
		"bare key":      raw,
		"X25519 OID":    x25519,
		"off-curve":     ed25519SPKI(t, offCurveEd25519(t)),
		"P-256 key":     stdTestKey(t, kms.KeySpecECCNISTP256).Public().DER(),
	} {
		if _, err := ParsePublicKey(kms.KeySpecEd25519, bad); err != ErrInvalidPublicKey {
			t.Errorf("%s: ParsePublicKey = %v, want ErrInvalidPublicKey", name, err)
		}
	}
	p, err := ParsePublicKey(kms.KeySpecEd25519, spki)
	if err != nil || !bytes.Equal(p.DER(), spki) {
		t.Fatalf("ParsePublicKey: %v", err)
	}
}

func ed25519SPKI(t *testing.T, pub []byte) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// offCurveEd25519 returns an encoding that crypto/ed25519 refuses as a
// public key.
func offCurveEd25519(t *testing.T) []byte {
	t.Helper()
	for y := byte(2); y != 0; y++ {
		enc := make([]byte, 32)
		enc[0] = y
		if !stdlibAcceptsEd25519Point(enc) {
			return enc
		}
	}
	t.Fatal("no off-curve encoding found")
	return nil
}

// stdlibAcceptsEd25519Point asks crypto/ed25519 whether enc is a point:
// for a bad key Verify fails before it looks at the signature, with its own
// error. (An all-zero signature can verify under a small-order key.)
func stdlibAcceptsEd25519Point(enc []byte) bool {
	err := ed25519.VerifyWithOptions(ed25519.PublicKey(enc), []byte("m"), make([]byte, 64), &ed25519.Options{})
	return err == nil || err.Error() == "ed25519: invalid signature"
}

// TestEd25519OnCurve checks ed25519OnCurve against crypto/ed25519's own
// point decoding.
func TestEd25519OnCurve(t *testing.T) {
	var on, off int
	check := func(enc []byte) {
		t.Helper()
		want := stdlibAcceptsEd25519Point(enc)
		if got := ed25519OnCurve(enc); got != want {
			t.Fatalf("ed25519OnCurve(%x) = %v, crypto/ed25519 says %v", enc, got, want)
		}
		if want {
			on++
		} else {
			off++
		}
	}
	for range 300 {
		enc := make([]byte, 32)
		rand.Read(enc)
		check(enc)
	}
	// Edge cases: y = 0, 1, -1, p-1, p, p+1, 2^255-1 (non-canonical y)
	// and both signs of x.
	for _, y := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		enc, _ := hex.DecodeString(y)
		check(enc)
		enc[31] |= 0x80
		check(enc)
	}
	if pub, _, err := ed25519.GenerateKey(rand.Reader); err != nil || !ed25519OnCurve(pub) {
		t.Fatal("a generated public key is off the curve")
	}
	if on < 50 || off < 50 {
		t.Fatalf("%d on, %d off the curve: the check is not telling them apart", on, off)
	}
	if ed25519OnCurve(make([]byte, 31)) {
		t.Fatal("31 bytes on the curve")
	}
}

func TestEd25519OpenSSL(t *testing.T) {
	dir := t.TempDir()
	k := stdTestKey(t, kms.KeySpecEd25519)
	pubPEM := writePublicPEM(t, dir, k.Public())
	msg := []byte("openkms openssl interop")
	msgFile := writeTemp(t, dir, "msg", msg)
	sig, err := k.Sign(AlgEd25519, MessageRaw, msg)
	if err != nil {
		t.Fatal(err)
	}
	sigFile := writeTemp(t, dir, "sig", sig)
	if ok, out := runOpenSSL(t, "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-rawin", "-in", msgFile, "-sigfile", sigFile); !ok {
		t.Errorf("openssl rejects our Ed25519 signature: %s", out)
	}
	sigFile = writeTemp(t, dir, "bad.sig", flipBit(sig, 100))
	if ok, _ := runOpenSSL(t, "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-rawin", "-in", msgFile, "-sigfile", sigFile); ok {
		t.Error("openssl accepts a changed Ed25519 signature")
	}
	// And openssl's signature with our Verify.
	privPEM := writeTemp(t, dir, "priv.pem", pemPrivate(t, k))
	osslSig := filepath.Join(dir, "openssl.sig")
	if ok, out := runOpenSSL(t, "pkeyutl", "-sign", "-inkey", privPEM, "-rawin", "-in", msgFile, "-out", osslSig); !ok {
		t.Fatalf("openssl pkeyutl -sign: %s", out)
	}
	got, err := os.ReadFile(osslSig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sig) {
		// Ed25519 is deterministic.
		t.Errorf("openssl signs %x, we sign %x", got, sig)
	}
}
