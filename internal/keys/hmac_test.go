package keys

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/openkms/kms"
)

// TestHMACWycheproof checks Sum and Verify against Wycheproof's vectors.
// The vectors use keys of many lengths, so the keys are built directly
// rather than through HMACKeyFromBytes, which takes only the spec's length.
func TestHMACWycheproof(t *testing.T) {
	for _, tc := range []struct {
		spec kms.KeySpec
		file string
	}{
		{kms.KeySpecHMAC224, "hmac_sha224_test.json"},
		{kms.KeySpecHMAC256, "hmac_sha256_test.json"},
		{kms.KeySpecHMAC384, "hmac_sha384_test.json"},
		{kms.KeySpecHMAC512, "hmac_sha512_test.json"},
	} {
		t.Run(string(tc.spec), func(t *testing.T) {
			b, err := os.ReadFile("testdata/hmac/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var f struct {
				TestGroups []struct {
					Tests []struct {
						TcID          int `json:"tcId"`
						Key, Msg, Tag string
						Result        string
					}
				}
			}
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, g := range f.TestGroups {
				for _, v := range g.Tests {
					k := &HMACKey{spec: tc.spec, b: unhex(t, v.Key)}
					msg, tag := unhex(t, v.Msg), unhex(t, v.Tag)
					valid := v.Result == "valid"
					if got := k.Verify(msg, tag); got != valid {
						t.Errorf("tc %d: Verify = %v, want %v", v.TcID, got, valid)
					}
					if valid && hex.EncodeToString(k.Sum(msg)) != v.Tag {
						t.Errorf("tc %d: Sum differs", v.TcID)
					}
					n++
				}
			}
			if n == 0 {
				t.Fatal("no vectors")
			}
		})
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHMACKey(t *testing.T) {
	for _, spec := range []kms.KeySpec{kms.KeySpecHMAC224, kms.KeySpecHMAC256, kms.KeySpecHMAC384, kms.KeySpecHMAC512} {
		k, err := NewHMACKey(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(k.Sum([]byte("m"))); got != MacSize(spec) {
			t.Errorf("%s: MAC is %d bytes, want %d", spec, got, MacSize(spec))
		}
		k2, err := HMACKeyFromBytes(spec, k.Bytes())
		if err != nil || !k2.Verify([]byte("m"), k.Sum([]byte("m"))) {
			t.Errorf("%s: round trip through Bytes failed: %v", spec, err)
		}
		if _, err := HMACKeyFromBytes(spec, k.Bytes()[1:]); err == nil {
			t.Errorf("%s: short key accepted", spec)
		}
		if s := fmt.Sprintf("%v %+v %x %s", k, *k, k, k); s != "keys.HMACKey(REDACTED) keys.HMACKey(REDACTED) keys.HMACKey(REDACTED) keys.HMACKey(REDACTED)" {
			t.Errorf("formatting leaks key bytes: %s", s)
		}
		k.Zero()
		if k.Verify([]byte("m"), k2.Sum([]byte("m"))) {
			t.Errorf("%s: zeroed key still verifies", spec)
		}
	}
	if _, err := NewHMACKey(kms.KeySpecRSA2048); err == nil {
		t.Error("NewHMACKey accepted RSA_2048")
	}
}
