//go:build cgo

package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/openkms/kms/internal/hsmtest"
)

// softHSM makes a fresh SoftHSM2 token and returns a config for it.
func softHSM(t *testing.T) *PKCS11Config {
	t.Helper()
	hsmtest.Token(t)
	return &PKCS11Config{Module: hsmtest.Module, TokenLabel: hsmtest.TokenLabel, Slot: -1, KeyLabel: "kms-root", PIN: hsmtest.PIN}
}

func TestPKCS11Seal(t *testing.T) {
	p := softHSM(t)
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, PKCS11: p, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	st := readState(t, dir)
	if st.Kind != kindPKCS11 || st.PKCS11 == nil || st.PKCS11.KeyLabel != "kms-root" || st.PKCS11.TokenLabel != hsmtest.TokenLabel {
		t.Fatalf("seal.json = %+v", st)
	}
	if len(st.PKCS11.Wrapped) != gcmIVSize+RootKeySize+16 {
		t.Fatalf("wrapped root key is %d bytes", len(st.PKCS11.Wrapped))
	}
	checkMode(t, dir+"/seal.json")

	// Round trip: a second open (another start) has the same root key, and
	// what one sealed the other opens.
	again, err := Open(Config{Dir: dir, PKCS11: p})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, s, again)
	sealed, _ := s.Seal([]byte("material"), []byte("aad"))
	if got, err := again.Open(sealed, []byte("aad")); err != nil || string(got) != "material" {
		t.Fatalf("Open = %q, %v", got, err)
	}

	// The token and key labels come from seal.json when not given.
	bare := *p
	bare.TokenLabel, bare.KeyLabel = "", ""
	if _, err := Open(Config{Dir: dir, PKCS11: &bare}); err != nil {
		t.Fatalf("open with the labels of seal.json: %v", err)
	}
	// Create on an existing seal opens it, and leaves it as it was.
	before := snapshot(t, dir)
	if _, err := Open(Config{Dir: dir, PKCS11: p, Create: true}); err != nil {
		t.Fatal(err)
	}
	if snapshot(t, dir) != before {
		t.Error("opening with Create changed the data dir")
	}
	// Other kinds refuse it.
	if _, err := Open(Config{Dir: dir}); !errors.Is(err, ErrKindMismatch) {
		t.Errorf("key-file open of a PKCS#11 seal: %v", err)
	}
	if _, err := Open(Config{Dir: dir, Passphrase: "x", PKCS11: p}); err == nil {
		t.Error("a passphrase and a PKCS#11 key together were accepted")
	}
}

func TestPKCS11WrongPIN(t *testing.T) {
	p := softHSM(t)
	dir := t.TempDir()
	if _, err := Open(Config{Dir: dir, PKCS11: p, Create: true}); err != nil {
		t.Fatal(err)
	}
	wrong := *p
	wrong.PIN = "wrong-pin-x7q"
	mustFailUnchanged(t, dir, Config{Dir: dir, PKCS11: &wrong}, ErrWrongPIN, wrong.PIN)
	// A wrong PIN on a first start leaves no seal behind.
	empty := t.TempDir()
	if _, err := Open(Config{Dir: empty, PKCS11: &wrong, Create: true}); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("create with a wrong PIN: %v", err)
	}
	if _, err := Open(Config{Dir: empty, PKCS11: p}); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("after a failed create: %v", err)
	}
}

func TestPKCS11MissingKey(t *testing.T) {
	p := softHSM(t)
	dir := t.TempDir()
	if _, err := Open(Config{Dir: dir, PKCS11: p, Create: true}); err != nil {
		t.Fatal(err)
	}
	// A label with no key: reported, and never created on an existing seal.
	other := *p
	other.KeyLabel = "no-such-key"
	mustFailUnchanged(t, dir, Config{Dir: dir, PKCS11: &other}, ErrNoHSMKey)
	if _, err := Open(Config{Dir: dir, PKCS11: &other, Create: true}); !errors.Is(err, ErrNoHSMKey) {
		t.Fatalf("Create on an existing seal with a missing key: %v", err)
	}
	// Another key of the token does not open the root key.
	if _, err := Open(Config{Dir: t.TempDir(), PKCS11: &other, Create: true}); err != nil {
		t.Fatal(err)
	}
	mustFailUnchanged(t, dir, Config{Dir: dir, PKCS11: &other}, ErrWrongRootKey)
	// No token with that label.
	noToken := *p
	noToken.TokenLabel = "no-such-token"
	if _, err := Open(Config{Dir: dir, PKCS11: &noToken}); err == nil || !strings.Contains(err.Error(), "no-such-token") {
		t.Fatalf("open on a missing token: %v", err)
	}
	// No module at all.
	noModule := *p
	noModule.Module = t.TempDir() + "/missing.so"
	if _, err := Open(Config{Dir: dir, PKCS11: &noModule}); err == nil || !strings.Contains(err.Error(), "cannot load PKCS#11 module") {
		t.Fatalf("open with a missing module: %v", err)
	}
	// A PKCS#11 seal needs a key label.
	unlabelled := *p
	unlabelled.KeyLabel = ""
	if _, err := Open(Config{Dir: t.TempDir(), PKCS11: &unlabelled, Create: true}); err == nil {
		t.Fatal("created a PKCS#11 seal without a key label")
	}
}

// TestPKCS11KeyNotExtractable: the key the seal creates cannot be read out
// of the token, nor made extractable; a key that could leave the token is
// refused.
func TestPKCS11KeyNotExtractable(t *testing.T) {
	p := softHSM(t)
	if _, err := Open(Config{Dir: t.TempDir(), PKCS11: p, Create: true}); err != nil {
		t.Fatal(err)
	}
	err := withHSM(p, func(h *hsm) error {
		k, ok, err := h.findKey(p.KeyLabel)
		if err != nil || !ok {
			t.Fatalf("findKey = %v, %v", ok, err)
		}
		attrs, err := h.ctx.GetAttributeValue(h.sh, k, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(attrs[0].Value, []byte{0}) || !bytes.Equal(attrs[1].Value, []byte{1}) || !bytes.Equal(attrs[2].Value, []byte{1}) {
			t.Errorf("extractable %x, sensitive %x, token %x", attrs[0].Value, attrs[1].Value, attrs[2].Value)
		}
		if n := attrs[3].Value; len(n) == 0 || n[0] != 32 {
			t.Errorf("CKA_VALUE_LEN = %x, want 32", n)
		}
		if v, err := h.ctx.GetAttributeValue(h.sh, k, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err == nil && len(v) > 0 && len(v[0].Value) > 0 {
			t.Error("the key's value could be read")
		}
		if err := h.ctx.SetAttributeValue(h.sh, k, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true)}); err == nil {
			t.Error("the key was made extractable")
		}

		// An operator-provisioned key that is extractable.
		_, err = h.ctx.GenerateKey(h.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, "extractable"),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	weak := *p
	weak.KeyLabel = "extractable"
	if _, err := Open(Config{Dir: t.TempDir(), PKCS11: &weak, Create: true}); !errors.Is(err, ErrNoHSMKey) {
		t.Fatalf("seal under an extractable key: %v", err)
	}
}
