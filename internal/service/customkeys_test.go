package service

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"testing"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
)

// TestCustomMaterialEncodings: a key pair's _custom_key_material_ may be
// PKCS #8 or the key inside it (SEC 1 for elliptic curves, PKCS #1 for
// RSA), as LocalStack's load_der_private_key reads them; both give the
// same stored material. The other specs' material, or another spec's key,
// is refused.
func TestCustomMaterialEncodings(t *testing.T) {
	for _, spec := range []kms.KeySpec{kms.KeySpecECCNISTP256, kms.KeySpecECCNISTP384, kms.KeySpecECCNISTP521,
		kms.KeySpecECCSECGP256K1, kms.KeySpecRSA2048} {
		t.Run(string(spec), func(t *testing.T) {
			p, err := keys.GenerateKeyPair(spec)
			if err != nil {
				t.Fatal(err)
			}
			pkcs8, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var info struct {
				Version    int
				Algorithm  asn1.RawValue
				PrivateKey []byte
			}
			if _, err := asn1.Unmarshal(pkcs8, &info); err != nil {
				t.Fatal(err)
			}
			var stored [][]byte
			for _, der := range [][]byte{pkcs8, info.PrivateKey} {
				m, err := customMaterial(base64.StdEncoding.EncodeToString(der), spec, kms.OriginAWSKMS)
				if err != nil {
					t.Fatal(err)
				}
				stored = append(stored, m)
			}
			if !bytes.Equal(stored[0], stored[1]) {
				t.Fatal("the inner key is stored unlike its PKCS #8")
			}
			other := kms.KeySpecECCNISTP256
			if spec == other {
				other = kms.KeySpecECCNISTP384
			}
			if _, err := customMaterial(base64.StdEncoding.EncodeToString(info.PrivateKey), other, kms.OriginAWSKMS); err == nil {
				t.Fatalf("a %s key taken as %s material", spec, other)
			}
		})
	}
	for _, tc := range []struct {
		spec kms.KeySpec
		n    int
		ok   bool
	}{
		{kms.KeySpecSymmetricDefault, 32, true},
		{kms.KeySpecSymmetricDefault, 16, false},
		{kms.KeySpecHMAC256, 32, true},
		{kms.KeySpecHMAC256, 65, false},
		{kms.KeySpecHMAC512, 128, true},
	} {
		b := make([]byte, tc.n)
		rand.Read(b)
		_, err := customMaterial(base64.StdEncoding.EncodeToString(b), tc.spec, kms.OriginAWSKMS)
		if (err == nil) != tc.ok {
			t.Errorf("%s, %d bytes: %v", tc.spec, tc.n, err)
		}
	}
}
