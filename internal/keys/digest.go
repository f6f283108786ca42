package keys

import (
	"encoding/asn1"
	"fmt"
	"io"
	"slices"

	"github.com/openkms/kms"
)

// digest returns what a hash-then-sign algorithm signs: the SigningHash of
// msg for a RAW message, msg itself for a DIGEST (which already is that
// hash; signInput has checked its length).
func digest(alg, messageType string, msg []byte) []byte {
	if messageType == MessageDigest {
		return msg
	}
	h := SigningHash(alg).New()
	h.Write(msg)
	return h.Sum(nil)
}

// signInput checks a sign or verify request against the tables of spec.go
// (the service has done so already; this guards the families against its
// bugs) and returns the digest that alg signs. ok is false if the key's
// spec does not sign with alg, alg takes no messageType messages, or a
// DIGEST message has the wrong length.
func signInput(spec kms.KeySpec, alg, messageType string, msg []byte) (d []byte, ok bool) {
	if !slices.Contains(specs[spec].signing, alg) || !slices.Contains(MessageTypes(alg), messageType) {
		return nil, false
	}
	switch messageType {
	case MessageRaw:
		if SigningHash(alg) == 0 || !SigningHash(alg).Available() {
			return nil, false
		}
	case MessageDigest:
		if len(msg) != DigestSize(alg) {
			return nil, false
		}
	default:
		return nil, false
	}
	return digest(alg, messageType, msg), true
}

// redactedKey, embedded in a family's private key type, makes fmt print a
// placeholder for the key, whatever the verb, when the key is formatted
// itself. (Inside pair.go's PrivateKey, an unexported field, fmt shows only
// its address: the families keep key material behind pointers.)
type redactedKey struct{}

func (redactedKey) Format(f fmt.State, verb rune) { io.WriteString(f, "[private key]") }

// oneDERValue reports whether der is one ASN.1 value with nothing after it:
// crypto/x509 does not check that of a PKCS#8 PrivateKeyInfo.
func oneDERValue(der []byte) bool {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	return err == nil && len(rest) == 0
}
