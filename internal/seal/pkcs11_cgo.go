//go:build cgo

package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// pkcs11Mu serialises use of PKCS#11 modules: C_Initialize and
// C_Finalize are process-wide, so two seals opened at once in one process
// (tests, `kms seal rotate`) must not finalize each other's module.
var pkcs11Mu sync.Mutex

// hsm is one logged-in session on a token.
type hsm struct {
	ctx *pkcs11.Ctx
	sh  pkcs11.SessionHandle
}

// withHSM loads the module, logs in to the token and runs f. The module is
// finalized and unloaded afterwards: the seal needs the token only to wrap
// or unwrap the root key, when a data dir is opened, created or resealed.
func withHSM(cfg *PKCS11Config, f func(*hsm) error) error {
	pkcs11Mu.Lock()
	defer pkcs11Mu.Unlock()
	module := cfg.Module
	if module == "" {
		module = DefaultPKCS11Module
	}
	ctx := pkcs11.New(module)
	if ctx == nil {
		return fmt.Errorf("seal: cannot load PKCS#11 module %s", module)
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("seal: initialising PKCS#11 module %s: %w", module, err)
	}
	defer ctx.Finalize()

	slot, err := findSlot(ctx, cfg)
	if err != nil {
		return err
	}
	sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("seal: opening a PKCS#11 session: %w", err)
	}
	defer ctx.CloseSession(sh)
	if err := ctx.Login(sh, pkcs11.CKU_USER, cfg.PIN); err != nil {
		if errors.Is(err, pkcs11.Error(pkcs11.CKR_PIN_INCORRECT)) || errors.Is(err, pkcs11.Error(pkcs11.CKR_PIN_LEN_RANGE)) {
			return fmt.Errorf("seal: PKCS#11 login refused (%w)", ErrWrongPIN)
		}
		if !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
			return fmt.Errorf("seal: PKCS#11 login: %w", err)
		}
	}
	defer ctx.Logout(sh)
	return f(&hsm{ctx: ctx, sh: sh})
}

// findSlot returns the slot of the token named by label, or the slot given.
func findSlot(ctx *pkcs11.Ctx, cfg *PKCS11Config) (uint, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("seal: listing PKCS#11 slots: %w", err)
	}
	for _, s := range slots {
		if cfg.TokenLabel == "" {
			if cfg.Slot >= 0 && uint(cfg.Slot) == s {
				return s, nil
			}
			continue
		}
		ti, err := ctx.GetTokenInfo(s)
		if err == nil && strings.TrimRight(ti.Label, " \x00") == cfg.TokenLabel {
			return s, nil
		}
	}
	if cfg.TokenLabel == "" {
		return 0, fmt.Errorf("seal: no PKCS#11 token in slot %d", cfg.Slot)
	}
	return 0, fmt.Errorf("seal: no PKCS#11 token labelled %q", cfg.TokenLabel)
}

// findKey returns the secret key labelled label. It refuses a key that
// could leave the token (extractable or not sensitive): such a key would
// put the root key within reach of anyone holding the PIN.
func (h *hsm) findKey(label string) (pkcs11.ObjectHandle, bool, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := h.ctx.FindObjectsInit(h.sh, tmpl); err != nil {
		return 0, false, fmt.Errorf("seal: PKCS#11 key search: %w", err)
	}
	objs, _, err := h.ctx.FindObjects(h.sh, 2)
	if ferr := h.ctx.FindObjectsFinal(h.sh); err == nil {
		err = ferr
	}
	if err != nil {
		return 0, false, fmt.Errorf("seal: PKCS#11 key search: %w", err)
	}
	switch len(objs) {
	case 0:
		return 0, false, nil
	case 1:
	default:
		return 0, false, fmt.Errorf("seal: more than one PKCS#11 key labelled %q (%w)", label, ErrNoHSMKey)
	}
	attrs, err := h.ctx.GetAttributeValue(h.sh, objs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
	})
	if err != nil {
		return 0, false, fmt.Errorf("seal: reading PKCS#11 key attributes: %w", err)
	}
	keyType, extractable, sensitive := attrs[0].Value, attrs[1].Value, attrs[2].Value
	if len(keyType) == 0 || keyType[0] != pkcs11.CKK_AES {
		return 0, false, fmt.Errorf("seal: PKCS#11 key %q is not an AES key (%w)", label, ErrNoHSMKey)
	}
	if len(extractable) != 1 || extractable[0] != 0 || len(sensitive) != 1 || sensitive[0] == 0 {
		return 0, false, fmt.Errorf("seal: PKCS#11 key %q is extractable or not sensitive (%w)", label, ErrNoHSMKey)
	}
	return objs[0], true, nil
}

// createKey makes a persistent, sensitive, non-extractable AES-256 key
// that can only encrypt and decrypt.
func (h *hsm) createKey(label string) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
	}
	k, err := h.ctx.GenerateKey(h.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, tmpl)
	if err != nil {
		return 0, fmt.Errorf("seal: creating PKCS#11 key %q: %w", label, err)
	}
	return k, nil
}

// encrypt seals plaintext with AES-256-GCM inside the token.
func (h *hsm) encrypt(key pkcs11.ObjectHandle, plaintext []byte) ([]byte, error) {
	iv := make([]byte, gcmIVSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	params := pkcs11.NewGCMParams(iv, []byte(pkcs11WrapAAD), gcmTagBits)
	defer params.Free()
	if err := h.ctx.EncryptInit(h.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, key); err != nil {
		return nil, fmt.Errorf("seal: PKCS#11 encrypt: %w", err)
	}
	ct, err := h.ctx.Encrypt(h.sh, plaintext)
	if err != nil {
		return nil, fmt.Errorf("seal: PKCS#11 encrypt: %w", err)
	}
	return append(iv, ct...), nil
}

// decrypt opens what encrypt returned. Every failure of the data itself is
// ErrUnseal.
func (h *hsm) decrypt(key pkcs11.ObjectHandle, wrapped []byte) ([]byte, error) {
	if len(wrapped) < gcmIVSize+gcmTagBits/8 {
		return nil, ErrUnseal
	}
	params := pkcs11.NewGCMParams(wrapped[:gcmIVSize], []byte(pkcs11WrapAAD), gcmTagBits)
	defer params.Free()
	if err := h.ctx.DecryptInit(h.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, key); err != nil {
		return nil, fmt.Errorf("seal: PKCS#11 decrypt: %w", err)
	}
	pt, err := h.ctx.Decrypt(h.sh, wrapped[gcmIVSize:])
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}

// newPKCS11Root makes a fresh random root key and wraps it in the token,
// under the key labelled cfg.KeyLabel, which is created if the token has
// none (an operator may also provision it beforehand).
func newPKCS11Root(cfg *PKCS11Config) (root []byte, st *pkcs11State, err error) {
	if cfg.KeyLabel == "" {
		return nil, nil, errors.New("seal: the PKCS#11 seal needs a key label")
	}
	root = make([]byte, RootKeySize)
	if _, err := rand.Read(root); err != nil {
		return nil, nil, err
	}
	st = &pkcs11State{TokenLabel: cfg.TokenLabel, KeyLabel: cfg.KeyLabel}
	err = withHSM(cfg, func(h *hsm) error {
		k, ok, err := h.findKey(cfg.KeyLabel)
		if err != nil {
			return err
		}
		if !ok {
			if k, err = h.createKey(cfg.KeyLabel); err != nil {
				return err
			}
		}
		st.Wrapped, err = h.encrypt(k, root)
		return err
	})
	if err != nil {
		clear(root)
		return nil, nil, err
	}
	return root, st, nil
}

// openPKCS11Root unwraps the root key of st. The wrapping key must exist:
// it is never created here, since a new key could not open st anyway.
func openPKCS11Root(cfg *PKCS11Config, st *pkcs11State) ([]byte, error) {
	c := *cfg
	if c.KeyLabel == "" {
		c.KeyLabel = st.KeyLabel
	}
	if c.TokenLabel == "" && c.Slot < 0 {
		c.TokenLabel = st.TokenLabel
	}
	label := c.KeyLabel
	var root []byte
	err := withHSM(&c, func(h *hsm) error {
		k, ok, err := h.findKey(label)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("seal: no PKCS#11 key labelled %q (%w)", label, ErrNoHSMKey)
		}
		root, err = h.decrypt(k, st.Wrapped)
		if errors.Is(err, ErrUnseal) {
			return fmt.Errorf("seal: PKCS#11 key %q does not open the root key (%w)", label, ErrWrongRootKey)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(root) != RootKeySize {
		clear(root)
		return nil, fmt.Errorf("seal: the unwrapped root key has the wrong size (%w)", ErrWrongRootKey)
	}
	return root, nil
}
