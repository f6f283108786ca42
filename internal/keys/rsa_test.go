package keys

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/openkms/kms"
)

// Helpers shared by the tests of the standard-library families (rsa.go,
// ecdsa.go, ed25519.go).

var (
	stdKeysMu sync.Mutex
	stdKeys   = map[kms.KeySpec]*PrivateKey{}
)

// stdTestKey returns a key pair of spec made by GenerateKeyPair, one per spec
// for the whole test binary: RSA-4096 key generation is slow.
func stdTestKey(tb testing.TB, spec kms.KeySpec) *PrivateKey {
	tb.Helper()
	stdKeysMu.Lock()
	defer stdKeysMu.Unlock()
	if k, ok := stdKeys[spec]; ok {
		return k
	}
	k, err := GenerateKeyPair(spec)
	if err != nil {
		tb.Fatalf("GenerateKeyPair(%s): %v", spec, err)
	}
	if k.Spec() != spec || k.Public().Spec() != spec {
		tb.Fatalf("GenerateKeyPair(%s) made a key of spec %s/%s", spec, k.Spec(), k.Public().Spec())
	}
	stdKeys[spec] = k
	return k
}

// x509Public parses a public key's DER with crypto/x509, not with our code.
func x509Public(tb testing.TB, p *PublicKey) crypto.PublicKey {
	tb.Helper()
	pub, err := x509.ParsePKIXPublicKey(p.DER())
	if err != nil {
		tb.Fatalf("x509.ParsePKIXPublicKey of our %s public key: %v", p.Spec(), err)
	}
	return pub
}

// x509Private parses a private key's Marshal output with crypto/x509.
func x509Private(tb testing.TB, p *PrivateKey) crypto.PrivateKey {
	tb.Helper()
	der, err := p.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		tb.Fatalf("x509.ParsePKCS8PrivateKey of our %s key: %v", p.Spec(), err)
	}
	return k
}

// testMessage returns the message to sign with alg as messageType: a RAW
// message, or the digest of it.
func testMessage(alg, messageType string) []byte {
	msg := []byte("openkms test message " + alg)
	if messageType == MessageDigest {
		h := SigningHash(alg).New()
		h.Write(msg)
		return h.Sum(nil)
	}
	return msg
}

// flipBit returns a copy of b with one bit changed.
func flipBit(b []byte, bit int) []byte {
	c := bytes.Clone(b)
	c[bit/8%len(c)] ^= 1 << (bit % 8)
	return c
}

// badSignatures returns malformed variants of a good signature: none of
// them may verify, and none may make Verify panic.
func badSignatures(sig []byte) [][]byte {
	bad := [][]byte{
		nil,
		{},
		{0},
		sig[:len(sig)-1],
		append(bytes.Clone(sig), 0),
		append([]byte{0}, sig...),
		make([]byte, len(sig)),
		bytes.Repeat([]byte{0xff}, len(sig)),
		flipBit(sig, 0),
		flipBit(sig, 8*len(sig)-1),
		flipBit(sig, 4*len(sig)+3),
	}
	for _, n := range []int{1, 2, 8, 63, 64, 65, 71, 72, 104, 139, 255, 256, 257, 384, 512, 1024} {
		b := make([]byte, n)
		rand.Read(b)
		bad = append(bad, b)
	}
	return bad
}

// opensslPath returns the openssl binary. A missing openssl fails the test:
// the interop tests are part of what this package promises.
func opensslPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed for the interop tests: %v", err)
	}
	return p
}

// runOpenSSL runs openssl and reports whether it exited 0, with its output.
func runOpenSSL(t *testing.T, args ...string) (bool, string) {
	t.Helper()
	out, err := exec.Command(opensslPath(t), args...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return false, string(out)
	}
	return true, string(out)
}

// writeTemp writes data to a new file in dir and returns its path.
func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writePublicPEM writes a public key as a PEM file for openssl.
func writePublicPEM(t *testing.T, dir string, p *PublicKey) string {
	t.Helper()
	return writeTemp(t, dir, "pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p.DER()}))
}

var rsaSpecs = []kms.KeySpec{kms.KeySpecRSA2048, kms.KeySpecRSA3072, kms.KeySpecRSA4096}

func TestRSASignVerify(t *testing.T) {
	for _, spec := range rsaSpecs {
		k := stdTestKey(t, spec)
		pub := x509Public(t, k.Public()).(*rsa.PublicKey)
		if pub.N.BitLen() != rsaBits(spec) || pub.E != 65537 {
			t.Fatalf("%s: modulus of %d bits, e = %d", spec, pub.N.BitLen(), pub.E)
		}
		for _, alg := range rsaSign {
			h := SigningHash(alg)
			for _, mt := range MessageTypes(alg) {
				t.Run(string(spec)+"/"+alg+"/"+mt, func(t *testing.T) {
					msg := testMessage(alg, mt)
					sig, err := k.Sign(alg, mt, msg)
					if err != nil {
						t.Fatal(err)
					}
					if len(sig) != pub.Size() {
						t.Fatalf("signature of %d bytes, want %d", len(sig), pub.Size())
					}
					hashed := testMessage(alg, MessageDigest)
					if isPSS(alg) {
						err = rsa.VerifyPSS(pub, h, hashed, sig, &rsa.PSSOptions{SaltLength: h.Size()})
					} else {
						err = rsa.VerifyPKCS1v15(pub, h, hashed, sig)
					}
					if err != nil {
						t.Fatalf("crypto/rsa rejects our signature: %v", err)
					}
					for _, m := range MessageTypes(alg) {
						if err := k.Public().Verify(alg, m, testMessage(alg, m), sig); err != nil {
							t.Errorf("Verify as %s: %v", m, err)
						}
					}
					for i, bad := range badSignatures(sig) {
						if err := k.Public().Verify(alg, mt, msg, bad); err != ErrInvalidSignature {
							t.Errorf("bad signature %d: Verify = %v, want ErrInvalidSignature", i, err)
						}
					}
					if err := k.Public().Verify(alg, mt, flipBit(msg, 3), sig); err != ErrInvalidSignature {
						t.Errorf("changed message: Verify = %v", err)
					}
					// The same digest under the other padding, or another hash.
					for _, other := range rsaSign {
						if other == alg || SigningHash(other) != h {
							continue
						}
						if err := k.Public().Verify(other, mt, msg, sig); err != ErrInvalidSignature {
							t.Errorf("Verify with %s = %v, want ErrInvalidSignature", other, err)
						}
					}
				})
			}
		}
	}
}

// TestRSAPSSSaltLength: like AWS, a PSS signature verifies only with a salt
// as long as the hash, though RFC 8017 allows others.
func TestRSAPSSSaltLength(t *testing.T) {
	k := stdTestKey(t, kms.KeySpecRSA2048)
	priv := x509Private(t, k).(*rsa.PrivateKey)
	for _, alg := range []string{AlgRSAPSSSHA256, AlgRSAPSSSHA384, AlgRSAPSSSHA512} {
		h := SigningHash(alg)
		hashed := testMessage(alg, MessageDigest)
		// (crypto/rsa cannot sign with an empty salt: SaltLength 0 is
		// PSSSaltLengthAuto, the longest salt. Wycheproof's
		// rsa_pss_2048_sha256_mgf1_0 vectors cover that.)
		for _, salt := range []int{20, h.Size() - 1, h.Size() + 1, rsa.PSSSaltLengthAuto} {
			sig, err := rsa.SignPSS(rand.Reader, priv, h, hashed, &rsa.PSSOptions{SaltLength: salt})
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPSS(&priv.PublicKey, h, hashed, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
				t.Fatalf("%s salt %d: crypto/rsa rejects its own signature: %v", alg, salt, err)
			}
			if err := k.Public().Verify(alg, MessageDigest, hashed, sig); err != ErrInvalidSignature {
				t.Errorf("%s: salt length %d: Verify = %v, want ErrInvalidSignature", alg, salt, err)
			}
		}
		sig, err := rsa.SignPSS(rand.Reader, priv, h, hashed, &rsa.PSSOptions{SaltLength: h.Size()})
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Public().Verify(alg, MessageDigest, hashed, sig); err != nil {
			t.Errorf("%s: salt length %d (the hash's): Verify = %v", alg, h.Size(), err)
		}
	}
}

func TestRSAOAEP(t *testing.T) {
	for _, spec := range rsaSpecs {
		k := stdTestKey(t, spec)
		pub := x509Public(t, k.Public()).(*rsa.PublicKey)
		priv := x509Private(t, k).(*rsa.PrivateKey)
		for _, alg := range rsaEnc {
			t.Run(string(spec)+"/"+alg, func(t *testing.T) {
				h := oaepHash(alg)
				max := MaxPlaintext(spec, alg)
				if max != pub.Size()-2*h.Size()-2 {
					t.Fatalf("MaxPlaintext = %d", max)
				}
				for _, n := range []int{0, 1, 32, max} {
					pt := make([]byte, n)
					rand.Read(pt)
					// crypto/rsa encrypts, we decrypt.
					ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, pt, nil)
					if err != nil {
						t.Fatal(err)
					}
					got, err := k.Decrypt(alg, ct)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("%d bytes: Decrypt = %x, %v", n, got, err)
					}
					// We encrypt, crypto/rsa decrypts.
					ct, err = k.Public().Encrypt(alg, pt)
					if err != nil {
						t.Fatalf("Encrypt of %d bytes: %v", n, err)
					}
					if len(ct) != pub.Size() {
						t.Fatalf("ciphertext of %d bytes", len(ct))
					}
					got, err = rsa.DecryptOAEP(h.New(), nil, priv, ct, nil)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("%d bytes: crypto/rsa decrypts our ciphertext to %x, %v", n, got, err)
					}
					for i, bad := range [][]byte{nil, ct[1:], append(bytes.Clone(ct), 0), flipBit(ct, 7), flipBit(ct, 8*len(ct)-100), make([]byte, len(ct))} {
						if _, err := k.Decrypt(alg, bad); err != ErrDecrypt {
							t.Errorf("bad ciphertext %d: Decrypt error %v, want ErrDecrypt", i, err)
						}
					}
					for _, other := range rsaEnc {
						if other != alg {
							if _, err := k.Decrypt(other, ct); err != ErrDecrypt {
								t.Errorf("Decrypt with %s: %v, want ErrDecrypt", other, err)
							}
						}
					}
				}
				if _, err := k.Public().Encrypt(alg, make([]byte, max+1)); err == nil {
					t.Errorf("Encrypt of %d bytes (MaxPlaintext+1) succeeded", max+1)
				}
				// A label is never used: a ciphertext made with one does not open.
				ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, []byte("x"), []byte("label"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := k.Decrypt(alg, ct); err != ErrDecrypt {
					t.Errorf("labelled ciphertext: Decrypt error %v, want ErrDecrypt", err)
				}
			})
		}
	}
}

func TestRSAUnsupported(t *testing.T) {
	k := stdTestKey(t, kms.KeySpecRSA2048)
	for _, alg := range []string{AlgECDSASHA256, AlgEd25519, AlgSM2DSA, AlgMLDSA, "", "RSASSA_PSS_SHA_1"} {
		if _, err := k.Sign(alg, MessageRaw, []byte("m")); err != ErrUnsupported {
			t.Errorf("Sign(%q) = %v, want ErrUnsupported", alg, err)
		}
		if err := k.Public().Verify(alg, MessageRaw, []byte("m"), make([]byte, 256)); err != ErrInvalidSignature {
			t.Errorf("Verify(%q) = %v, want ErrInvalidSignature", alg, err)
		}
	}
	// Message types and digest lengths are checked again here.
	for _, c := range []struct {
		mt  string
		msg []byte
	}{{MessageExternalMu, make([]byte, 64)}, {"", nil}, {MessageDigest, make([]byte, 31)}, {MessageDigest, make([]byte, 48)}} {
		if _, err := k.Sign(AlgRSAPKCS1SHA256, c.mt, c.msg); err != ErrUnsupported {
			t.Errorf("Sign(%q, %d bytes) = %v, want ErrUnsupported", c.mt, len(c.msg), err)
		}
	}
	for _, alg := range []string{AlgSymmetricDefault, AlgSM2PKE, ""} {
		if _, err := k.Public().Encrypt(alg, []byte("m")); err != ErrUnsupported {
			t.Errorf("Encrypt(%q) = %v, want ErrUnsupported", alg, err)
		}
		if _, err := k.Decrypt(alg, make([]byte, 256)); err != ErrUnsupported {
			t.Errorf("Decrypt(%q) = %v, want ErrUnsupported", alg, err)
		}
	}
	if _, err := k.SharedSecret(k.Public()); err != ErrUnsupported {
		t.Errorf("SharedSecret = %v, want ErrUnsupported", err)
	}
}

func TestRSAParse(t *testing.T) {
	k := stdTestKey(t, kms.KeySpecRSA2048)
	der, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKey(kms.KeySpecRSA2048, der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.Public().DER(), k.Public().DER()) || k2.Spec() != kms.KeySpecRSA2048 {
		t.Fatal("ParsePrivateKey(Marshal()) has another public key")
	}
	der2, _ := k2.Marshal()
	if !bytes.Equal(der2, der) {
		t.Error("Marshal after ParsePrivateKey differs")
	}
	sig, err := k2.Sign(AlgRSAPSSSHA256, MessageRaw, []byte("m"))
	if err != nil || k.Public().Verify(AlgRSAPSSSHA256, MessageRaw, []byte("m"), sig) != nil {
		t.Fatalf("parsed key signs badly: %v", err)
	}
	for _, spec := range []kms.KeySpec{kms.KeySpecRSA3072, kms.KeySpecRSA4096, kms.KeySpecECCNISTP256, kms.KeySpecEd25519} {
		if _, err := ParsePrivateKey(spec, der); err == nil {
			t.Errorf("RSA-2048 PKCS#8 parses as %s", spec)
		}
		if _, err := ParsePublicKey(spec, k.Public().DER()); err != ErrInvalidPublicKey {
			t.Errorf("RSA-2048 SPKI as %s: %v, want ErrInvalidPublicKey", spec, err)
		}
	}
	for i, bad := range [][]byte{nil, {}, der[:len(der)-1], append(bytes.Clone(der), 0), flipBit(der, 8*(len(der)/2))} {
		if _, err := ParsePrivateKey(kms.KeySpecRSA2048, bad); err == nil {
			t.Errorf("bad PKCS#8 %d parses", i)
		}
	}
	spki := k.Public().DER()
	p, err := ParsePublicKey(kms.KeySpecRSA2048, spki)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.DER(), spki) || p.Spec() != kms.KeySpecRSA2048 {
		t.Fatal("ParsePublicKey changed the DER")
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(x509Public(t, k.Public()).(*rsa.PublicKey))
	for i, bad := range [][]byte{nil, {0x30, 0}, spki[:len(spki)-1], append(bytes.Clone(spki), 0), pkcs1, der} {
		if _, err := ParsePublicKey(kms.KeySpecRSA2048, bad); err != ErrInvalidPublicKey {
			t.Errorf("bad SPKI %d: %v, want ErrInvalidPublicKey", i, err)
		}
	}
}

// TestRSAOpenSSL checks our signatures and ciphertexts with openssl, and
// openssl's with us.
func TestRSAOpenSSL(t *testing.T) {
	dir := t.TempDir()
	k := stdTestKey(t, kms.KeySpecRSA2048)
	pubPEM := writePublicPEM(t, dir, k.Public())
	msg := []byte("openkms openssl interop")
	msgFile := writeTemp(t, dir, "msg", msg)
	for _, alg := range rsaSign {
		sig, err := k.Sign(alg, MessageRaw, msg)
		if err != nil {
			t.Fatal(err)
		}
		sigFile := writeTemp(t, dir, alg+".sig", sig)
		md := map[crypto.Hash]string{crypto.SHA256: "-sha256", crypto.SHA384: "-sha384", crypto.SHA512: "-sha512"}[SigningHash(alg)]
		verify := func(sigopt ...string) (bool, string) {
			args := append([]string{"dgst", md, "-verify", pubPEM, "-signature", sigFile}, sigopt...)
			return runOpenSSL(t, append(args, msgFile)...)
		}
		if !isPSS(alg) {
			if ok, out := verify(); !ok {
				t.Errorf("%s: openssl rejects our signature: %s", alg, out)
			}
			continue
		}
		pss := func(salt int) []string {
			return []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:" + strconv.Itoa(salt)}
		}
		salt := SigningHash(alg).Size()
		if ok, out := verify(pss(salt)...); !ok {
			t.Errorf("%s: openssl rejects our signature: %s", alg, out)
		}
		// openssl does check the salt length: a wrong one fails.
		if ok, out := verify(pss(salt + 1)...); ok {
			t.Errorf("%s: openssl accepts salt length %d: %s", alg, salt+1, out)
		}
	}

	// openssl signs PSS with a salt as long as the digest: we accept; with
	// the longest salt (its default): we refuse, as AWS does.
	privPEM := writeTemp(t, dir, "priv.pem", pemPrivate(t, k))
	for _, c := range []struct {
		saltlen string
		ok      bool
	}{{"digest", true}, {"max", false}} {
		sigFile := filepath.Join(dir, "openssl-"+c.saltlen+".sig")
		if ok, out := runOpenSSL(t, "dgst", "-sha256", "-sign", privPEM, "-sigopt", "rsa_padding_mode:pss",
			"-sigopt", "rsa_pss_saltlen:"+c.saltlen, "-out", sigFile, msgFile); !ok {
			t.Fatalf("openssl dgst -sign: %s", out)
		}
		sig, err := os.ReadFile(sigFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Public().Verify(AlgRSAPSSSHA256, MessageRaw, msg, sig); (err == nil) != c.ok {
			t.Errorf("openssl PSS signature with saltlen %s: Verify = %v", c.saltlen, err)
		}
	}

	// OAEP both ways.
	for _, alg := range rsaEnc {
		md := map[string]string{AlgRSAESOAEPSHA1: "sha1", AlgRSAESOAEPSHA256: "sha256"}[alg]
		oaep := []string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:" + md, "-pkeyopt", "rsa_mgf1_md:" + md}
		ctFile := filepath.Join(dir, alg+".ct")
		if ok, out := runOpenSSL(t, append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", pubPEM, "-in", msgFile, "-out", ctFile}, oaep...)...); !ok {
			t.Fatalf("openssl pkeyutl -encrypt: %s", out)
		}
		ct, err := os.ReadFile(ctFile)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := k.Decrypt(alg, ct); err != nil || !bytes.Equal(pt, msg) {
			t.Errorf("%s: Decrypt of openssl's ciphertext = %q, %v", alg, pt, err)
		}
		ct, err = k.Public().Encrypt(alg, msg)
		if err != nil {
			t.Fatal(err)
		}
		ctFile = writeTemp(t, dir, alg+".our.ct", ct)
		ptFile := filepath.Join(dir, alg+".pt")
		if ok, out := runOpenSSL(t, append([]string{"pkeyutl", "-decrypt", "-inkey", privPEM, "-in", ctFile, "-out", ptFile}, oaep...)...); !ok {
			t.Fatalf("%s: openssl cannot decrypt our ciphertext: %s", alg, out)
		}
		if pt, _ := os.ReadFile(ptFile); !bytes.Equal(pt, msg) {
			t.Errorf("%s: openssl decrypts our ciphertext to %q", alg, pt)
		}
	}
}

// pemPrivate returns a test key's PKCS#8 as PEM, for openssl.
func pemPrivate(t *testing.T, k *PrivateKey) []byte {
	t.Helper()
	der, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestStdDataKeyPair: GenerateDataKeyPair's PKCS#8 reads with crypto/x509
// and matches its SubjectPublicKeyInfo.
func TestStdDataKeyPair(t *testing.T) {
	for _, spec := range stdSpecs {
		t.Run(string(spec), func(t *testing.T) {
			var pkcs8, spki []byte
			var err error
			if spec == kms.KeySpecRSA4096 {
				// Generating RSA-4096 keys takes seconds: check what
				// GenerateDataKeyPair returns after GenerateKeyPair
				// (Marshal and the public DER) on the shared key.
				k := stdTestKey(t, spec)
				pkcs8, err = k.Marshal()
				spki = k.Public().DER()
			} else {
				pkcs8, spki, err = GenerateDataKeyPair(spec)
			}
			if err != nil {
				t.Fatal(err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(pkcs8)
			if err != nil {
				t.Fatal(err)
			}
			want, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(spki, want) {
				t.Fatal("SubjectPublicKeyInfo does not match the private key")
			}
			k, err := ParsePrivateKey(spec, pkcs8)
			if err != nil || !bytes.Equal(k.Public().DER(), spki) {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if _, err := ParsePublicKey(spec, spki); err != nil {
				t.Fatal(err)
			}
		})
	}
}

var stdSpecs = []kms.KeySpec{
	kms.KeySpecRSA2048, kms.KeySpecRSA3072, kms.KeySpecRSA4096,
	kms.KeySpecECCNISTP256, kms.KeySpecECCNISTP384, kms.KeySpecECCNISTP521,
	kms.KeySpecEd25519,
}

// TestStdKeyNotPrinted: formatting a key pair, at any depth and with any
// verb, shows none of the private key.
func TestStdKeyNotPrinted(t *testing.T) {
	for _, spec := range stdSpecs {
		k := stdTestKey(t, spec)
		var (
			secret []byte
			err    error
		)
		switch priv := x509Private(t, k).(type) {
		case *rsa.PrivateKey:
			secret = priv.D.Bytes()
		case interface{ Bytes() ([]byte, error) }: // *ecdsa.PrivateKey
			if secret, err = priv.Bytes(); err != nil {
				t.Fatal(err)
			}
		case interface{ Seed() []byte }: // ed25519.PrivateKey
			secret = priv.Seed()
		default:
			t.Fatalf("%s: unexpected key type %T", spec, priv)
		}
		var needles []string
		for _, b := range [][]byte{secret[:8], secret[len(secret)-8:]} {
			needles = append(needles, string(b), hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
				strings.Trim(fmt.Sprint(b), "[]"))
		}
		if priv, ok := x509Private(t, k).(*rsa.PrivateKey); ok {
			needles = append(needles, priv.D.String()[:24], priv.Primes[0].String()[:24])
		}
		for _, v := range []any{k, *k, k.k, k.Public(), *k.Public()} {
			for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
				s := fmt.Sprintf(f, v)
				for _, n := range needles {
					if strings.Contains(s, n) {
						t.Fatalf("%s: formatted key (%s) shows private bytes: %.300s", spec, f, s)
					}
				}
			}
		}
	}
}

func TestDigestHelper(t *testing.T) {
	msg := []byte("abc")
	d := sha256.Sum256(msg)
	if got := digest(AlgECDSASHA256, MessageRaw, msg); !bytes.Equal(got, d[:]) {
		t.Errorf("digest RAW = %x", got)
	}
	if got := digest(AlgECDSASHA256, MessageDigest, d[:]); !bytes.Equal(got, d[:]) {
		t.Errorf("digest DIGEST = %x", got)
	}
	if _, ok := signInput(kms.KeySpecECCNISTP256, AlgECDSASHA256, MessageDigest, msg); ok {
		t.Error("signInput takes a 3-byte DIGEST")
	}
	if _, ok := signInput(kms.KeySpecECCNISTP256, AlgECDSASHA384, MessageRaw, msg); ok {
		t.Error("signInput takes ECDSA_SHA_384 for P-256")
	}
	if got, ok := signInput(kms.KeySpecRSA3072, AlgRSAPSSSHA256, MessageRaw, msg); !ok || !bytes.Equal(got, d[:]) {
		t.Errorf("signInput RAW = %x, %v", got, ok)
	}
}
