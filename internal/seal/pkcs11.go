package seal

import (
	"errors"
	"fmt"
)

// DefaultPKCS11Module is where Debian's softhsm2 package installs its
// PKCS#11 module.
const DefaultPKCS11Module = "/usr/lib/softhsm/libsofthsm2.so"

// PKCS11Config selects the PKCS#11 seal: an AES-256 key inside an HSM (or
// any PKCS#11 token) wraps the root key.
type PKCS11Config struct {
	Module     string // path of the PKCS#11 module; "" = DefaultPKCS11Module
	TokenLabel string // label of the token; "" = the token in Slot
	Slot       int    // slot id, used when TokenLabel is ""; -1 = none given
	KeyLabel   string // CKA_LABEL of the wrapping key
	PIN        string // user PIN; never logged, never stored
}

// Errors of the PKCS#11 seal; compare with errors.Is.
var (
	ErrWrongPIN = errors.New("wrong PKCS#11 PIN")
	ErrNoHSMKey = errors.New("no usable wrapping key in the PKCS#11 token")
)

// pkcs11State is the PKCS#11 part of seal.json: where the wrapping key is
// and the root key wrapped under it. Nothing in it is secret.
type pkcs11State struct {
	TokenLabel string `json:"token_label,omitempty"`
	KeyLabel   string `json:"key_label"`
	// Wrapped is the root key, AES-256-GCM encrypted by the token:
	// 12-byte IV || ciphertext || 16-byte tag.
	Wrapped []byte `json:"wrapped"`
}

const (
	gcmIVSize     = 12
	gcmTagBits    = 128
	pkcs11WrapAAD = "openkms seal pkcs11 v1 root key"
)

// Format keeps the PIN out of logs whatever the verb.
func (c PKCS11Config) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "seal.PKCS11Config{Module:%q TokenLabel:%q Slot:%d KeyLabel:%q PIN:REDACTED}", c.Module, c.TokenLabel, c.Slot, c.KeyLabel)
}
