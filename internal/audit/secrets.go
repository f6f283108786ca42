package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// CheckNoSecrets reports an error if raw, a record's JSON, holds any of
// secrets as it is, in base64 (standard or URL alphabet, padded or not) or
// in hex of either case: the ways a JSON API carries bytes. Tests of the
// callers use it to show that plaintext, ciphertext blobs, key material,
// secret access keys, session tokens, signatures and import tokens stay out
// of the audit trail. Secrets shorter than 8 bytes are skipped: they would
// match by chance.
func CheckNoSecrets(raw []byte, secrets ...[]byte) error {
	lower := bytes.ToLower(raw)
	for i, s := range secrets {
		if len(s) < 8 {
			continue
		}
		// An unpadded encoding is a prefix of the padded one.
		for _, f := range []struct {
			name string
			in   []byte
			enc  string
		}{
			{"as is", raw, string(s)},
			{"base64", raw, base64.RawStdEncoding.EncodeToString(s)},
			{"base64url", raw, base64.RawURLEncoding.EncodeToString(s)},
			{"hex", lower, hex.EncodeToString(s)},
		} {
			if bytes.Contains(f.in, []byte(f.enc)) {
				return fmt.Errorf("audit record contains secret %d (%s)", i, f.name)
			}
		}
	}
	return nil
}
