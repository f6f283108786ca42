package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/openkms/kms"
)

var sm2TestCurveOID = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}

// sm2TestGMSMKeys reads our SPKI and PKCS#8 with gmsm's smx509 alone.
func sm2TestGMSMKeys(t *testing.T, k *PrivateKey) (*ecdsa.PublicKey, *sm2.PrivateKey) {
	t.Helper()
	pub, err := smx509.ParsePKIXPublicKey(k.Public().DER())
	if err != nil {
		t.Fatal(err)
	}
	p, ok := pub.(*ecdsa.PublicKey)
	if !ok || p.Curve != sm2.P256() {
		t.Fatalf("smx509 reads our SPKI as %T", pub)
	}
	der, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := priv.(*sm2.PrivateKey)
	if !ok {
		t.Fatalf("smx509 reads our PKCS#8 as %T", priv)
	}
	if !s.PublicKey.Equal(p) {
		t.Fatal("PKCS#8 and SPKI hold different keys")
	}
	return p, s
}

// sm2TestPoint returns the uncompressed point of an SM2 public key.
func sm2TestPoint(t *testing.T, k *ecdsa.PublicKey) []byte {
	t.Helper()
	e, err := sm2.PublicKeyToECDH(k)
	if err != nil {
		t.Fatal(err)
	}
	return e.Bytes()
}

func TestSM2SignVerify(t *testing.T) {
	k, err := GenerateKeyPair(kms.KeySpecSM2)
	if err != nil {
		t.Fatal(err)
	}
	gpub, gpriv := sm2TestGMSMKeys(t, k)
	uid := []byte(SM2DefaultID)
	msg := []byte("a message for SM2")
	e, err := sm2.CalculateSM2Hash(gpub, msg, uid)
	if err != nil {
		t.Fatal(err)
	}

	// Ours, checked by gmsm.
	sig, err := k.Sign(AlgSM2DSA, MessageRaw, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !sm2.VerifyASN1WithSM2(gpub, uid, msg, sig) {
		t.Error("gmsm rejects our RAW signature")
	}
	if sm2.VerifyASN1WithSM2(gpub, []byte("another id"), msg, sig) {
		t.Error("our RAW signature verifies with another distinguishing id")
	}
	if err := k.Public().Verify(AlgSM2DSA, MessageDigest, e, sig); err != nil {
		t.Errorf("RAW signature as DIGEST: %v", err)
	}
	sig, err = k.Sign(AlgSM2DSA, MessageDigest, e)
	if err != nil {
		t.Fatal(err)
	}
	if !sm2.VerifyASN1(gpub, e, sig) {
		t.Error("gmsm rejects our DIGEST signature")
	}
	if err := k.Public().Verify(AlgSM2DSA, MessageRaw, msg, sig); err != nil {
		t.Errorf("DIGEST signature as RAW: %v", err)
	}

	// gmsm's, checked by us.
	gsig, err := gpriv.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, uid))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Public().Verify(AlgSM2DSA, MessageRaw, msg, gsig); err != nil {
		t.Errorf("gmsm's RAW signature: %v", err)
	}
	gsig, err = sm2.SignASN1(rand.Reader, gpriv, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Public().Verify(AlgSM2DSA, MessageDigest, e, gsig); err != nil {
		t.Errorf("gmsm's DIGEST signature: %v", err)
	}
	if err := k.Public().Verify(AlgSM2DSA, MessageRaw, []byte("other"), gsig); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("other message: %v", err)
	}
	for i, bad := range [][]byte{nil, {}, gsig[:len(gsig)-1], append(bytes.Clone(gsig), 0), make([]byte, len(gsig))} {
		if err := k.Public().Verify(AlgSM2DSA, MessageDigest, e, bad); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("bad signature %d: %v", i, err)
		}
	}

	for _, tc := range []struct {
		name, alg, mt string
		msg           []byte
	}{
		{"other algorithm", AlgECDSASHA256, MessageRaw, msg},
		{"short digest", AlgSM2DSA, MessageDigest, e[:31]},
		{"long digest", AlgSM2DSA, MessageDigest, append(bytes.Clone(e), 0)},
		{"EXTERNAL_MU", AlgSM2DSA, MessageExternalMu, make([]byte, 64)},
	} {
		if _, err := k.Sign(tc.alg, tc.mt, tc.msg); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Sign, %s: %v", tc.name, err)
		}
		if err := k.Public().Verify(tc.alg, tc.mt, tc.msg, gsig); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("Verify, %s: %v", tc.name, err)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v %x %s", k.k, k.k, k.k, k.k, k.k); strings.Contains(s, fmt.Sprintf("%x", gpriv.D.Bytes())) ||
		strings.Contains(s, gpriv.D.String()) {
		t.Error("fmt prints the private key")
	}
}

// TestSM2EncryptDecrypts: every ciphertext Encrypt hands out decrypts, also
// for the 1-byte plaintexts that gmsm alone sometimes gets wrong.
func TestSM2EncryptDecrypts(t *testing.T) {
	k, err := GenerateKeyPair(kms.KeySpecSM2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		pt := []byte{byte(i)}
		ct, err := k.Encrypt(AlgSM2PKE, pt)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Decrypt(AlgSM2PKE, ct); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("encryption %d of %x does not decrypt: %v", i, pt, err)
		}
	}
}

func TestSM2Encrypt(t *testing.T) {
	k, err := GenerateKeyPair(kms.KeySpecSM2)
	if err != nil {
		t.Fatal(err)
	}
	gpub, gpriv := sm2TestGMSMKeys(t, k)
	for _, n := range []int{1, 19, 32, 33, 1024} {
		pt := make([]byte, n)
		rand.Read(pt)
		// gmsm (ASN.1) to us. gmsm itself cannot decrypt about one in
		// 300 of its 1-byte ciphertexts (see PrivateKey.Encrypt); those
		// are drawn again.
		var ct []byte
		for {
			var err error
			if ct, err = sm2.EncryptASN1(rand.Reader, gpub, pt); err != nil {
				t.Fatal(err)
			}
			if _, err := gpriv.Decrypt(nil, ct, sm2.ASN1DecrypterOpts); err == nil {
				break
			}
		}
		got, err := k.Decrypt(AlgSM2PKE, ct)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("%d bytes, gmsm's ciphertext: %v", n, err)
		}
		// Us to gmsm.
		ct, err = k.Encrypt(AlgSM2PKE, pt)
		if err != nil {
			t.Fatal(err)
		}
		var parts struct {
			X, Y   *big.Int
			C3, C2 []byte
		}
		rest, err := asn1.Unmarshal(ct, &parts)
		if err != nil || len(rest) != 0 || len(parts.C3) != 32 || len(parts.C2) != n {
			t.Fatalf("%d bytes: ciphertext is not SEQUENCE{x1, y1, C3, C2}: %v", n, err)
		}
		c1 := append([]byte{4}, parts.X.FillBytes(make([]byte, 32))...)
		if _, err := sm2.NewPublicKey(append(c1, parts.Y.FillBytes(make([]byte, 32))...)); err != nil {
			t.Errorf("%d bytes: C1 is not a point: %v", n, err)
		}
		got, err = gpriv.Decrypt(nil, ct, sm2.ASN1DecrypterOpts)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("%d bytes, gmsm decrypting ours: %v", n, err)
		}
		// The same plaintext twice gives different ciphertexts.
		ct2, _ := k.Encrypt(AlgSM2PKE, pt)
		if bytes.Equal(ct, ct2) {
			t.Errorf("%d bytes: encryption is deterministic", n)
		}
	}
	for _, n := range []int{0, 1025} {
		if _, err := k.Public().Encrypt(AlgSM2PKE, make([]byte, n)); err == nil {
			t.Errorf("%d-byte plaintext encrypted", n)
		}
	}
	if _, err := k.Public().Encrypt(AlgRSAESOAEPSHA256, []byte("x")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Encrypt with another algorithm: %v", err)
	}

	pt := []byte("encryption standard")
	ct, _ := k.Public().Encrypt(AlgSM2PKE, pt)
	if _, err := k.Decrypt(AlgRSAESOAEPSHA256, ct); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Decrypt with another algorithm: %v", err)
	}
	// gmsm's raw C1||C3||C2 form is not the API's.
	raw, err := sm2.Encrypt(rand.Reader, gpub, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateKeyPair(kms.KeySpecSM2)
	ctOther, _ := other.Public().Encrypt(AlgSM2PKE, pt)
	var parts struct {
		X, Y   *big.Int
		C3, C2 []byte
	}
	if _, err := asn1.Unmarshal(ct, &parts); err != nil {
		t.Fatal(err)
	}
	reordered, _ := asn1.Marshal(struct {
		X, Y   *big.Int
		C2, C3 []byte
	}{parts.X, parts.Y, parts.C2, parts.C3})
	for _, tc := range []struct {
		name string
		ct   []byte
	}{
		{"plain C1C3C2", raw},
		{"other key's", ctOther},
		{"C1C2C3 order", reordered},
		{"tampered C2", append(bytes.Clone(ct[:len(ct)-1]), ct[len(ct)-1]^1)},
		{"trailing byte", append(bytes.Clone(ct), 0)},
		{"truncated", ct[:len(ct)-1]},
		{"empty", nil},
	} {
		if _, err := k.Decrypt(AlgSM2PKE, tc.ct); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Decrypt, %s: %v", tc.name, err)
		}
	}
}

func TestSM2ECDH(t *testing.T) {
	k, err := GenerateKeyPair(kms.KeySpecSM2)
	if err != nil {
		t.Fatal(err)
	}
	gpub, _ := sm2TestGMSMKeys(t, k)
	// The peer, made with gmsm's ecdh.
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerPub, err := sm2.NewPublicKey(peer.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	peerSPKI, err := smx509.MarshalPKIXPublicKey(peerPub)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(kms.KeySpecSM2, peerSPKI)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.SharedSecret(pub)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := ecdh.P256().NewPublicKey(sm2TestPoint(t, gpub))
	if err != nil {
		t.Fatal(err)
	}
	want, err := peer.ECDH(ours)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 32 || !bytes.Equal(got, want) {
		t.Fatalf("shared secret differs from gmsm's (%d bytes)", len(got))
	}
	k1, err := GenerateKeyPair(kms.KeySpecECCSECGP256K1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.SharedSecret(k1.Public()); !errors.Is(err, ErrInvalidPublicKey) {
		t.Errorf("secp256k1 peer: %v", err)
	}
}

// The example of GB/T 32918.5-2017 (GM/T 0003.5-2012) Annex A on the SM2
// curve, as also used by OpenSSL's test/sm2_internal_test.c: the
// signature of "message digest" with the id 1234567812345678, and the
// encryption of "encryption standard", both with the nonce k below. The
// values are checked against each other here (Z_A, e) before use.
const (
	sm2KATPrivate = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
	sm2KATPublic  = "04" + "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020" +
		"CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
	sm2KATZA  = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
	sm2KATE   = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
	sm2KATR   = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
	sm2KATS   = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
	sm2KATMsg = "message digest"
	// SEQUENCE{x1, y1, C3, C2} of "encryption standard".
	sm2KATCiphertext = "307C022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73022100E858F9D81E5430A5" +
		"7B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0042059983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766" +
		"041321886CA989CA9C7D58087307CA93092D651EFA"
	sm2KATPlaintext = "encryption standard"
)

func TestSM2KnownAnswers(t *testing.T) {
	d, err := sm2.NewPrivateKey(mustHex(t, sm2KATPrivate))
	if err != nil {
		t.Fatal(err)
	}
	p8, err := smx509.MarshalPKCS8PrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKey(kms.KeySpecSM2, p8)
	if err != nil {
		t.Fatal(err)
	}
	gpub, _ := sm2TestGMSMKeys(t, k)
	if !bytes.Equal(sm2TestPoint(t, gpub), mustHex(t, sm2KATPublic)) {
		t.Fatal("public key differs from the standard's")
	}
	za, err := sm2.CalculateZA(gpub, []byte(SM2DefaultID))
	if err != nil || !bytes.Equal(za, mustHex(t, sm2KATZA)) {
		t.Fatalf("Z_A %x: %v", za, err)
	}
	if e := sm3.Sum(append(za, sm2KATMsg...)); !bytes.Equal(e[:], mustHex(t, sm2KATE)) {
		t.Fatalf("e = %x", e)
	}

	sig, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(mustHex(t, sm2KATR)), new(big.Int).SetBytes(mustHex(t, sm2KATS)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Public().Verify(AlgSM2DSA, MessageRaw, []byte(sm2KATMsg), sig); err != nil {
		t.Errorf("RAW: %v", err)
	}
	if err := k.Public().Verify(AlgSM2DSA, MessageDigest, mustHex(t, sm2KATE), sig); err != nil {
		t.Errorf("DIGEST: %v", err)
	}
	if err := k.Public().Verify(AlgSM2DSA, MessageRaw, []byte("message digesT"), sig); err == nil {
		t.Error("accepted for another message")
	}
	pt, err := k.Decrypt(AlgSM2PKE, mustHex(t, sm2KATCiphertext))
	if err != nil || string(pt) != sm2KATPlaintext {
		t.Errorf("Decrypt: %q, %v", pt, err)
	}
}

func TestSM2Parse(t *testing.T) {
	k, err := GenerateKeyPair(kms.KeySpecSM2)
	if err != nil {
		t.Fatal(err)
	}
	spki := k.Public().DER()
	gpub, gpriv := sm2TestGMSMKeys(t, k)
	pt := sm2TestPoint(t, gpub)
	// SPKI layout: SEQUENCE{SEQUENCE{id-ecPublicKey, sm2p256v1}, BIT STRING}.
	prefix := []byte{0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d, 0x03, 0x42, 0x00}
	if !bytes.Equal(spki, append(prefix, pt...)) {
		t.Fatal("unexpected SPKI layout")
	}
	offCurve := bytes.Clone(pt)
	offCurve[64] ^= 1
	compressed := append([]byte{2 | pt[64]&1}, pt[1:33]...)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256SPKI, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	p256Point, _ := p256.PublicKey.Bytes()
	k1, _ := GenerateKeyPair(kms.KeySpecECCSECGP256K1)
	// smx509 also reads the SM2 OID as the algorithm; we do not.
	sm2Alg, _ := asn1.Marshal(k1TestSPKI{
		Algorithm: struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue
		}{sm2TestCurveOID, asn1.RawValue{FullBytes: []byte{0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d}}},
		PublicKey: asn1.BitString{Bytes: pt, BitLength: 520},
	})
	if _, err := smx509.ParsePKIXPublicKey(sm2Alg); err != nil {
		t.Fatalf("the SM2-OID form: %v", err)
	}
	for _, tc := range []struct {
		name string
		der  []byte
	}{
		{"P-256 key", p256SPKI},
		{"secp256k1 key", k1.Public().DER()},
		{"P-256 point with the SM2 OID", k1TestSPKIOf(t, sm2TestCurveOID, p256Point, 520)},
		{"SM2 point with the P-256 OID", k1TestSPKIOf(t, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, pt, 520)},
		{"SM2 OID as the algorithm", sm2Alg},
		{"compressed point", k1TestSPKIOf(t, sm2TestCurveOID, compressed, 264)},
		{"point off the curve", k1TestSPKIOf(t, sm2TestCurveOID, offCurve, 520)},
		{"infinity", k1TestSPKIOf(t, sm2TestCurveOID, []byte{0}, 8)},
		{"explicit parameters", k1TestSPKIParams(t, []byte{0x30, 0x03, 0x02, 0x01, 0x01}, pt, 520)},
		{"trailing byte", append(bytes.Clone(spki), 0)},
		{"truncated", spki[:len(spki)-1]},
		{"empty", nil},
	} {
		if _, err := ParsePublicKey(kms.KeySpecSM2, tc.der); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("ParsePublicKey, %s: %v", tc.name, err)
		}
	}

	der, _ := k.Marshal()
	ecPriv := func(d []byte, curve asn1.ObjectIdentifier, pub []byte) []byte {
		ec, err := asn1.Marshal(namedCurveECPrivateKey{Version: 1, PrivateKey: d, Curve: curve,
			PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
		if err != nil {
			t.Fatal(err)
		}
		p8, err := asn1.Marshal(namedCurvePKCS8{Algorithm: namedCurveAlgorithm{Algorithm: oidNamedCurveECKey, Curve: sm2TestCurveOID}, PrivateKey: ec})
		if err != nil {
			t.Fatal(err)
		}
		return p8
	}
	d := gpriv.D.FillBytes(make([]byte, 32))
	n := sm2.P256().Params().N
	other, _ := GenerateKeyPair(kms.KeySpecSM2)
	otherPub, _ := sm2TestGMSMKeys(t, other)
	p256P8, _ := x509.MarshalPKCS8PrivateKey(p256)
	for _, tc := range []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"ours", der, true},
		{"with the curve and no public key", ecPriv(d, sm2TestCurveOID, nil), true},
		{"other public key", ecPriv(d, nil, sm2TestPoint(t, otherPub)), false},
		{"other curve", ecPriv(d, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, nil), false},
		{"zero", ecPriv(make([]byte, 32), nil, nil), false},
		{"n-1 (GB/T 32918.1 takes [1, n-2])", ecPriv(new(big.Int).Sub(n, big.NewInt(1)).FillBytes(make([]byte, 32)), nil, nil), false},
		{"n", ecPriv(n.FillBytes(make([]byte, 32)), nil, nil), false},
		{"P-256 key", p256P8, false},
		{"trailing byte", append(bytes.Clone(der), 0), false},
		{"truncated", der[:len(der)-1], false},
	} {
		p, err := ParsePrivateKey(kms.KeySpecSM2, tc.der)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePrivateKey, %s: %v", tc.name, err)
		}
		if err == nil && !bytes.Equal(p.Public().DER(), spki) {
			t.Errorf("ParsePrivateKey, %s: wrong public key", tc.name)
		}
	}
}

// TestSM2OpenSSL checks our keys, signatures and ciphertexts with OpenSSL
// (3.x supports SM2, SM3 and the distinguishing id), and OpenSSL's with us.
func TestSM2OpenSSL(t *testing.T) {
	dir := t.TempDir()
	if ok, out := osslRun(t, "genpkey", "-algorithm", "SM2", "-out", filepath.Join(dir, "probe.pem")); !ok {
		t.Skipf("this openssl has no SM2 (gmsm checks stand alone): %s", out)
	}
	p8, spki, err := GenerateDataKeyPair(kms.KeySpecSM2)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := osslWrite(t, dir, "key.der", p8)
	osslMust(t, "pkey", "-inform", "DER", "-in", keyFile, "-pubout", "-outform", "DER", "-out", filepath.Join(dir, "pub.der"))
	if !bytes.Equal(osslRead(t, filepath.Join(dir, "pub.der")), spki) {
		t.Fatal("openssl derives another SPKI from our PKCS#8")
	}
	if out := osslMust(t, "pkey", "-inform", "DER", "-in", keyFile, "-text", "-noout"); !strings.Contains(out, "SM2") {
		t.Fatalf("openssl does not see an SM2 key: %s", out)
	}
	osslMust(t, "pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", keyFile, "-outform", "DER", "-out", filepath.Join(dir, "again.der"))
	if _, err := ParsePrivateKey(kms.KeySpecSM2, osslRead(t, filepath.Join(dir, "again.der"))); err != nil {
		t.Errorf("the PKCS#8 openssl writes back: %v", err)
	}
	pubPEM := osslWrite(t, dir, "pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	k, err := ParsePrivateKey(kms.KeySpecSM2, p8)
	if err != nil {
		t.Fatal(err)
	}
	distid := "distid:" + SM2DefaultID

	msg := []byte("verified by openssl")
	msgFile := osslWrite(t, dir, "msg", msg)
	sig, _ := k.Sign(AlgSM2DSA, MessageRaw, msg)
	sigFile := osslWrite(t, dir, "sig", sig)
	if out := osslMust(t, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", pubPEM,
		"-in", msgFile, "-sigfile", sigFile, "-pkeyopt", distid); !strings.Contains(out, "Signature Verified Successfully") {
		t.Errorf("openssl pkeyutl -verify: %s", out)
	}
	if ok, out := osslRun(t, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", pubPEM,
		"-in", msgFile, "-sigfile", sigFile, "-pkeyopt", "distid:another id"); ok {
		t.Errorf("openssl accepts our signature with another id: %s", out)
	}
	osslMust(t, "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-keyform", "DER", "-inkey", keyFile,
		"-in", msgFile, "-out", sigFile, "-pkeyopt", distid)
	if err := k.Public().Verify(AlgSM2DSA, MessageRaw, msg, osslRead(t, sigFile)); err != nil {
		t.Errorf("openssl's signature: %v", err)
	}

	pt := []byte("encrypted by us, decrypted by openssl")
	ct, _ := k.Public().Encrypt(AlgSM2PKE, pt)
	ctFile := osslWrite(t, dir, "ct", ct)
	ptFile := filepath.Join(dir, "pt")
	osslMust(t, "pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", keyFile, "-in", ctFile, "-out", ptFile)
	if !bytes.Equal(osslRead(t, ptFile), pt) {
		t.Error("openssl decrypts our ciphertext to something else")
	}
	pt = bytes.Repeat([]byte("openssl to us "), 74)[:1024]
	osslWrite(t, dir, "pt", pt)
	osslMust(t, "pkeyutl", "-encrypt", "-pubin", "-inkey", pubPEM, "-in", ptFile, "-out", ctFile)
	got, err := k.Decrypt(AlgSM2PKE, osslRead(t, ctFile))
	if err != nil || !bytes.Equal(got, pt) {
		t.Errorf("openssl's ciphertext: %v", err)
	}
}

// FuzzSM2 feeds arbitrary bytes to ParsePublicKey, Verify, Decrypt and
// ParsePrivateKey.
func FuzzSM2(f *testing.F) {
	k, err := GenerateKeyPair(kms.KeySpecSM2)
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte("fuzz")
	sig, _ := k.Sign(AlgSM2DSA, MessageRaw, msg)
	ct, _ := k.Public().Encrypt(AlgSM2PKE, msg)
	p8, _ := k.Marshal()
	f.Add(k.Public().DER(), sig, msg)
	f.Add(p8, ct, make([]byte, 32))
	f.Add([]byte{0x30, 0x00}, ct[:40], msg)
	f.Fuzz(func(t *testing.T, der, b, m []byte) {
		if p, err := ParsePublicKey(kms.KeySpecSM2, der); err == nil {
			p.Verify(AlgSM2DSA, MessageRaw, m, b)
			p.Verify(AlgSM2DSA, MessageDigest, m, b)
			if len(m) > 0 && len(m) <= 1024 {
				if _, err := p.Encrypt(AlgSM2PKE, m); err != nil {
					t.Fatal(err)
				}
			}
			k.SharedSecret(p)
		}
		k.Public().Verify(AlgSM2DSA, MessageRaw, m, b)
		if len(m) == 32 {
			k.Public().Verify(AlgSM2DSA, MessageDigest, m, b)
		}
		if _, err := k.Decrypt(AlgSM2PKE, b); err != nil && !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Decrypt: %v", err)
		}
		ParsePrivateKey(kms.KeySpecSM2, der)
	})
}
