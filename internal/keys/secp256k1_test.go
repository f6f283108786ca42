package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/openkms/kms"
)

// osslRun runs openssl with args and reports whether it exited 0, with its
// output. A missing openssl fails the test: interoperating with it is part
// of what the SECG and SM2 families promise.
func osslRun(t *testing.T, args ...string) (bool, string) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed for the interop tests: %v", err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return false, string(out)
	}
	return true, string(out)
}

// osslMust runs openssl and fails the test unless it exits 0.
func osslMust(t *testing.T, args ...string) string {
	t.Helper()
	ok, out := osslRun(t, args...)
	if !ok {
		t.Fatalf("openssl %s: %s", strings.Join(args, " "), out)
	}
	return out
}

// osslWrite writes data to the file name in dir and returns its path.
func osslWrite(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func osslRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// k1TestSPKI is an EC SubjectPublicKeyInfo, read here with encoding/asn1
// alone (not our code).
type k1TestSPKI struct {
	Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	PublicKey asn1.BitString
}

var k1TestCurveOID = asn1.ObjectIdentifier{1, 3, 132, 0, 10}

// The order n of secp256k1's group and its field's prime p (SEC 2, 2.4.1).
var (
	k1TestN, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
	k1TestP, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F", 16)
)

// k1TestDecredKey reads a secp256k1 SPKI without our code into a decred
// public key.
func k1TestDecredKey(t *testing.T, der []byte) *secp256k1.PublicKey {
	t.Helper()
	var s k1TestSPKI
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		t.Fatalf("SPKI: %v", err)
	}
	var curve asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(s.Algorithm.Parameters.FullBytes, &curve); err != nil || !curve.Equal(k1TestCurveOID) ||
		!s.Algorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}) {
		t.Fatalf("SPKI algorithm %v %v", s.Algorithm.Algorithm, curve)
	}
	k, err := secp256k1.ParsePubKey(s.PublicKey.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func k1TestSPKIOf(t *testing.T, curve asn1.ObjectIdentifier, point []byte, bits int) []byte {
	t.Helper()
	params, _ := asn1.Marshal(curve)
	return k1TestSPKIParams(t, params, point, bits)
}

// k1TestSPKIParams makes an id-ecPublicKey SPKI with the DER params as the
// AlgorithmIdentifier's parameters.
func k1TestSPKIParams(t *testing.T, params, point []byte, bits int) []byte {
	t.Helper()
	var s k1TestSPKI
	s.Algorithm.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	s.Algorithm.Parameters = asn1.RawValue{FullBytes: params}
	s.PublicKey = asn1.BitString{Bytes: point, BitLength: bits}
	der, err := asn1.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// k1HighS returns the same signature with s replaced by n - s.
func k1HighS(t *testing.T, sig []byte) []byte {
	t.Helper()
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		t.Fatal(err)
	}
	rs.S.Sub(k1TestN, rs.S)
	out, err := asn1.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSecp256k1SignVerify(t *testing.T) {
	k, err := GenerateKeyPair(kms.KeySpecECCSECGP256K1)
	if err != nil {
		t.Fatal(err)
	}
	dk := k1TestDecredKey(t, k.Public().DER())
	msg := []byte("a message for secp256k1")
	h := sha256.Sum256(msg)
	for _, tc := range []struct {
		mt  string
		msg []byte
	}{
		{MessageRaw, msg},
		{MessageRaw, nil},
		{MessageDigest, h[:]},
	} {
		sig, err := k.Sign(AlgECDSASHA256, tc.mt, tc.msg)
		if err != nil {
			t.Fatalf("%s: %v", tc.mt, err)
		}
		if err := k.Public().Verify(AlgECDSASHA256, tc.mt, tc.msg, sig); err != nil {
			t.Errorf("%s: %v", tc.mt, err)
		}
		// decred, from the parsed SPKI alone.
		d := h[:]
		if tc.mt == MessageRaw {
			s := sha256.Sum256(tc.msg)
			d = s[:]
		}
		ds, err := k1ecdsa.ParseDERSignature(sig)
		if err != nil || !ds.Verify(d, dk) {
			t.Errorf("%s: decred rejects our signature: %v", tc.mt, err)
		}
		// We write low S; high S verifies all the same.
		var rs struct{ R, S *big.Int }
		asn1.Unmarshal(sig, &rs)
		if rs.S.Cmp(new(big.Int).Rsh(k1TestN, 1)) > 0 {
			t.Errorf("%s: high S", tc.mt)
		}
		if err := k.Public().Verify(AlgECDSASHA256, tc.mt, tc.msg, k1HighS(t, sig)); err != nil {
			t.Errorf("%s: high-S form: %v", tc.mt, err)
		}
		for i, bad := range [][]byte{nil, {}, sig[:len(sig)-1], append(bytes.Clone(sig), 0), make([]byte, len(sig))} {
			if err := k.Public().Verify(AlgECDSASHA256, tc.mt, tc.msg, bad); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("%s: bad signature %d: %v", tc.mt, i, err)
			}
		}
	}
	// RAW and DIGEST of the same message give the same signature input.
	sig, _ := k.Sign(AlgECDSASHA256, MessageRaw, msg)
	if err := k.Public().Verify(AlgECDSASHA256, MessageDigest, h[:], sig); err != nil {
		t.Errorf("RAW signature as DIGEST: %v", err)
	}
	if err := k.Public().Verify(AlgECDSASHA256, MessageRaw, h[:], sig); err == nil {
		t.Error("RAW verify of the digest accepted")
	}

	for _, tc := range []struct {
		name, alg, mt string
		msg           []byte
	}{
		{"other algorithm", AlgECDSASHA384, MessageRaw, msg},
		{"short digest", AlgECDSASHA256, MessageDigest, h[:31]},
		{"long digest", AlgECDSASHA256, MessageDigest, append(h[:], 0)},
		{"EXTERNAL_MU", AlgECDSASHA256, MessageExternalMu, make([]byte, 64)},
	} {
		if _, err := k.Sign(tc.alg, tc.mt, tc.msg); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Sign, %s: %v", tc.name, err)
		}
		if err := k.Public().Verify(tc.alg, tc.mt, tc.msg, sig); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("Verify, %s: %v", tc.name, err)
		}
	}
	if _, err := k.Public().Encrypt(AlgRSAESOAEPSHA256, msg); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Encrypt: %v", err)
	}
	if _, err := k.Decrypt(AlgRSAESOAEPSHA256, msg); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Decrypt: %v", err)
	}
	if _, err := k.SharedSecret(k.Public()); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SharedSecret: %v", err)
	}
}

func TestSecp256k1Marshal(t *testing.T) {
	k, err := GenerateKeyPair(kms.KeySpecECCSECGP256K1)
	if err != nil {
		t.Fatal(err)
	}
	der, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// PrivateKeyInfo{0, {id-ecPublicKey, secp256k1}, OCTET STRING(
	// ECPrivateKey{1, d, [1] BIT STRING(04 || X || Y)})}.
	prefix := []byte{0x30, 0x81, 0x84, 0x02, 0x01, 0x00, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20}
	pubPrefix := []byte{0xa1, 0x44, 0x03, 0x42, 0x00}
	dk := k1TestDecredKey(t, k.Public().DER())
	if len(der) != 135 || !bytes.HasPrefix(der, prefix) || !bytes.Equal(der[len(prefix)+32:], append(pubPrefix, dk.SerializeUncompressed()...)) {
		t.Fatalf("unexpected PKCS#8 layout (%d bytes)", len(der))
	}
	spki := k.Public().DER()
	spkiPrefix := []byte{0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00}
	if !bytes.Equal(spki, append(spkiPrefix, dk.SerializeUncompressed()...)) {
		t.Fatal("unexpected SPKI layout")
	}
	k2, err := ParsePrivateKey(kms.KeySpecECCSECGP256K1, der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.Public().DER(), spki) {
		t.Fatal("round trip changed the public key")
	}
	if der2, _ := k2.Marshal(); !bytes.Equal(der2, der) {
		t.Fatal("round trip changed the PKCS#8")
	}
	if s := fmt.Sprintf("%v %+v %#v %x %s", k.k, k.k, k.k, k.k, k.k); strings.Contains(s, fmt.Sprintf("%x", der[len(prefix):len(prefix)+32])) {
		t.Error("fmt prints the private key")
	}
}

// TestSecp256k1Parse checks what ParsePublicKey and ParsePrivateKey refuse
// and accept.
func TestSecp256k1Parse(t *testing.T) {
	k, err := GenerateKeyPair(kms.KeySpecECCSECGP256K1)
	if err != nil {
		t.Fatal(err)
	}
	spki := k.Public().DER()
	dk := k1TestDecredKey(t, spki)
	pt := dk.SerializeUncompressed()
	offCurve := bytes.Clone(pt)
	offCurve[64] ^= 1
	// x = p, not a field element.
	bigX := append([]byte{4}, k1TestP.FillBytes(make([]byte, 32))...)
	bigX = append(bigX, pt[33:]...)
	hybrid := bytes.Clone(pt)
	hybrid[0] = 6 | pt[64]&1
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256SPKI, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	p256Point, _ := p256.PublicKey.Bytes()
	for _, tc := range []struct {
		name string
		der  []byte
	}{
		{"P-256 key", p256SPKI},
		{"P-256 point with the secp256k1 OID", k1TestSPKIOf(t, k1TestCurveOID, p256Point, 520)},
		{"compressed point", k1TestSPKIOf(t, k1TestCurveOID, dk.SerializeCompressed(), 264)},
		{"hybrid point", k1TestSPKIOf(t, k1TestCurveOID, hybrid, 520)},
		{"point off the curve", k1TestSPKIOf(t, k1TestCurveOID, offCurve, 520)},
		{"x not reduced", k1TestSPKIOf(t, k1TestCurveOID, bigX, 520)},
		{"infinity", k1TestSPKIOf(t, k1TestCurveOID, []byte{0}, 8)},
		{"unused bits", k1TestSPKIOf(t, k1TestCurveOID, pt, 519)},
		{"P-256 OID", k1TestSPKIOf(t, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, pt, 520)},
		{"NULL parameters", k1TestSPKIParams(t, []byte{0x05, 0x00}, pt, 520)},
		{"explicit parameters", k1TestSPKIParams(t, []byte{0x30, 0x03, 0x02, 0x01, 0x01}, pt, 520)},
		{"no parameters", k1TestSPKIParams(t, nil, pt, 520)},
		{"trailing byte", append(bytes.Clone(spki), 0)},
		{"truncated", spki[:len(spki)-1]},
		{"empty", nil},
	} {
		if _, err := ParsePublicKey(kms.KeySpecECCSECGP256K1, tc.der); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("ParsePublicKey, %s: %v", tc.name, err)
		}
	}
	if _, err := ParsePublicKey(kms.KeySpecECCNISTP256, spki); err == nil {
		t.Error("a P-256 key spec accepts a secp256k1 key")
	}

	der, _ := k.Marshal()
	ecPriv := func(d []byte, curve asn1.ObjectIdentifier, pub []byte, version int) []byte {
		ec, err := asn1.Marshal(namedCurveECPrivateKey{Version: version, PrivateKey: d, Curve: curve,
			PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
		if err != nil {
			t.Fatal(err)
		}
		p8, err := asn1.Marshal(namedCurvePKCS8{Algorithm: namedCurveAlgorithm{Algorithm: oidNamedCurveECKey, Curve: k1TestCurveOID}, PrivateKey: ec})
		if err != nil {
			t.Fatal(err)
		}
		return p8
	}
	d := der[33:65]
	n := k1TestN
	other, _ := GenerateKeyPair(kms.KeySpecECCSECGP256K1)
	otherPt := k1TestDecredKey(t, other.Public().DER()).SerializeUncompressed()
	p256P8, _ := x509.MarshalPKCS8PrivateKey(p256)
	for _, tc := range []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"ours", der, true},
		{"with the curve and no public key (OpenSSL may write this)", ecPriv(d, k1TestCurveOID, nil, 1), true},
		{"other public key", ecPriv(d, nil, otherPt, 1), false},
		{"compressed public key", ecPriv(d, nil, dk.SerializeCompressed(), 1), false},
		{"other curve", ecPriv(d, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, nil, 1), false},
		{"version 0", ecPriv(d, nil, pt, 0), false},
		{"zero", ecPriv(make([]byte, 32), nil, nil, 1), false},
		{"n", ecPriv(n.FillBytes(make([]byte, 32)), nil, nil, 1), false},
		{"31 bytes", ecPriv(d[1:], nil, nil, 1), false},
		{"33 bytes", ecPriv(append([]byte{0}, d...), nil, nil, 1), false},
		{"P-256 key", p256P8, false},
		{"trailing byte", append(bytes.Clone(der), 0), false},
		{"truncated", der[:len(der)-1], false},
	} {
		p, err := ParsePrivateKey(kms.KeySpecECCSECGP256K1, tc.der)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePrivateKey, %s: %v", tc.name, err)
		}
		if err == nil && !bytes.Equal(p.Public().DER(), spki) {
			t.Errorf("ParsePrivateKey, %s: wrong public key", tc.name)
		}
	}
}

// TestSecp256k1OpenSSL checks that OpenSSL reads our keys and accepts our
// signatures, and that we read OpenSSL's keys and accept its signatures
// (which, unlike ours, are high S about half the time).
func TestSecp256k1OpenSSL(t *testing.T) {
	dir := t.TempDir()
	p8, spki, err := GenerateDataKeyPair(kms.KeySpecECCSECGP256K1)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := osslWrite(t, dir, "key.der", p8)
	osslMust(t, "pkey", "-inform", "DER", "-in", keyFile, "-pubout", "-outform", "DER", "-out", filepath.Join(dir, "pub.der"))
	if !bytes.Equal(osslRead(t, filepath.Join(dir, "pub.der")), spki) {
		t.Fatal("openssl derives another SPKI from our PKCS#8")
	}
	if out := osslMust(t, "pkey", "-inform", "DER", "-in", keyFile, "-check", "-noout"); !strings.Contains(out, "Key is valid") {
		t.Fatalf("openssl pkey -check: %s", out)
	}
	if out := osslMust(t, "pkey", "-inform", "DER", "-in", keyFile, "-text", "-noout"); !strings.Contains(out, "secp256k1") {
		t.Fatalf("openssl sees another curve: %s", out)
	}
	// openssl writes this very PKCS#8 back.
	osslMust(t, "pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", keyFile, "-outform", "DER", "-out", filepath.Join(dir, "again.der"))
	if !bytes.Equal(osslRead(t, filepath.Join(dir, "again.der")), p8) {
		t.Error("openssl writes our PKCS#8 differently")
	}
	pubPEM := osslWrite(t, dir, "pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))

	k, err := ParsePrivateKey(kms.KeySpecECCSECGP256K1, p8)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("verified by openssl")
	msgFile := osslWrite(t, dir, "msg", msg)
	h := sha256.Sum256(msg)
	hFile := osslWrite(t, dir, "digest", h[:])
	sig, _ := k.Sign(AlgECDSASHA256, MessageRaw, msg)
	for name, s := range map[string][]byte{"low S": sig, "high S": k1HighS(t, sig)} {
		sigFile := osslWrite(t, dir, "sig", s)
		if out := osslMust(t, "dgst", "-sha256", "-verify", pubPEM, "-signature", sigFile, msgFile); !strings.Contains(out, "Verified OK") {
			t.Errorf("%s: openssl dgst: %s", name, out)
		}
		if out := osslMust(t, "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-in", hFile, "-sigfile", sigFile); !strings.Contains(out, "Signature Verified Successfully") {
			t.Errorf("%s: openssl pkeyutl: %s", name, out)
		}
	}
	sig, _ = k.Sign(AlgECDSASHA256, MessageDigest, h[:])
	sigFile := osslWrite(t, dir, "sig", sig)
	if out := osslMust(t, "dgst", "-sha256", "-verify", pubPEM, "-signature", sigFile, msgFile); !strings.Contains(out, "Verified OK") {
		t.Errorf("DIGEST signature: openssl dgst: %s", out)
	}
	sig[len(sig)-1] ^= 1
	osslWrite(t, dir, "sig", sig)
	if ok, out := osslRun(t, "dgst", "-sha256", "-verify", pubPEM, "-signature", sigFile, msgFile); ok {
		t.Errorf("openssl accepts a corrupted signature: %s", out)
	}

	// OpenSSL's key and signatures.
	pemKey := filepath.Join(dir, "ossl.pem")
	osslMust(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", pemKey)
	osslMust(t, "pkcs8", "-topk8", "-nocrypt", "-in", pemKey, "-outform", "DER", "-out", filepath.Join(dir, "ossl.der"))
	osslMust(t, "pkey", "-in", pemKey, "-pubout", "-outform", "DER", "-out", filepath.Join(dir, "osslpub.der"))
	ok, err := ParsePrivateKey(kms.KeySpecECCSECGP256K1, osslRead(t, filepath.Join(dir, "ossl.der")))
	if err != nil {
		t.Fatalf("openssl's PKCS#8: %v", err)
	}
	opub, err := ParsePublicKey(kms.KeySpecECCSECGP256K1, osslRead(t, filepath.Join(dir, "osslpub.der")))
	if err != nil {
		t.Fatalf("openssl's SPKI: %v", err)
	}
	if !bytes.Equal(ok.Public().DER(), opub.DER()) {
		t.Fatal("openssl's key pair does not match")
	}
	high := 0
	for i := range 8 {
		m := osslWrite(t, dir, "m", fmt.Appendf(nil, "openssl message %d", i))
		sf := filepath.Join(dir, "osig")
		osslMust(t, "dgst", "-sha256", "-sign", pemKey, "-out", sf, m)
		s := osslRead(t, sf)
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(s, &rs); err == nil && rs.S.Cmp(new(big.Int).Rsh(k1TestN, 1)) > 0 {
			high++
		}
		if err := opub.Verify(AlgECDSASHA256, MessageRaw, osslRead(t, m), s); err != nil {
			t.Errorf("openssl's signature %d: %v", i, err)
		}
	}
	t.Logf("%d of 8 openssl signatures had high S", high)
}

type k1WycheproofFile struct {
	Algorithm  string
	TestGroups []struct {
		PublicKeyDer string
		Sha          string
		Tests        []struct {
			TcID    int
			Comment string
			Msg     string
			Sig     string
			Result  string
			Flags   []string
		}
	}
}

// TestSecp256k1Wycheproof runs Wycheproof's ECDSA secp256k1 SHA-256 DER
// vectors through ParsePublicKey and Verify (RAW).
func TestSecp256k1Wycheproof(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "secp256k1", "ecdsa_secp256k1_sha256_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f k1WycheproofFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range f.TestGroups {
		if g.Sha != "SHA-256" {
			t.Fatalf("hash %s", g.Sha)
		}
		pub, err := ParsePublicKey(kms.KeySpecECCSECGP256K1, mustHex(t, g.PublicKeyDer))
		if err != nil {
			t.Fatalf("public key %s: %v", g.PublicKeyDer, err)
		}
		for _, tc := range g.Tests {
			n++
			msg, sig := mustHex(t, tc.Msg), mustHex(t, tc.Sig)
			err := pub.Verify(AlgECDSASHA256, MessageRaw, msg, sig)
			switch tc.Result {
			case "valid":
				if err != nil {
					t.Errorf("tcId %d (%s %v): %v", tc.TcID, tc.Comment, tc.Flags, err)
				}
			case "invalid":
				if err == nil {
					t.Errorf("tcId %d (%s %v): accepted", tc.TcID, tc.Comment, tc.Flags)
				}
			default:
				t.Fatalf("tcId %d: result %q", tc.TcID, tc.Result)
			}
		}
	}
	if n < 400 {
		t.Fatalf("only %d vectors", n)
	}
}

// FuzzSecp256k1 feeds arbitrary bytes to ParsePublicKey, Verify and
// ParsePrivateKey.
func FuzzSecp256k1(f *testing.F) {
	k, err := GenerateKeyPair(kms.KeySpecECCSECGP256K1)
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte("fuzz")
	sig, _ := k.Sign(AlgECDSASHA256, MessageRaw, msg)
	p8, _ := k.Marshal()
	f.Add(k.Public().DER(), sig, msg)
	f.Add(p8, sig[:10], msg)
	f.Add([]byte{0x30, 0x80}, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, make([]byte, 32))
	f.Fuzz(func(t *testing.T, der, sig, m []byte) {
		if p, err := ParsePublicKey(kms.KeySpecECCSECGP256K1, der); err == nil {
			p.Verify(AlgECDSASHA256, MessageRaw, m, sig)
			p.Verify(AlgECDSASHA256, MessageDigest, m, sig)
		}
		k.Public().Verify(AlgECDSASHA256, MessageRaw, m, sig)
		if len(m) == 32 {
			k.Public().Verify(AlgECDSASHA256, MessageDigest, m, sig)
		}
		ParsePrivateKey(kms.KeySpecECCSECGP256K1, der)
	})
}
