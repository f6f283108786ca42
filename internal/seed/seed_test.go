package seed

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/openkms/kms"
)

const (
	aesHex  = "6534c804c33a1f2e629f102dd08faae9d571b8ec0334dc7a09ebb91ff1c9dc57"
	aesHex2 = "27c53ec0ef0f9008fc7801633c00bcfdca638e56fb75d0d14bffa6c19ff741d3"
	keyID   = "e32d1ab2-3499-4a1d-8983-76ea309281c1"
)

func TestSeedParseExample(t *testing.T) {
	b, err := os.ReadFile("../../examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(b, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Format != "openkms" || len(s.Keys) != 6 || len(s.Users) != 1 || len(s.Roles) != 1 || len(s.Accounts) != 1 ||
		len(s.ManagedPolicies) != 1 || len(s.Users[0].Attached) != 1 || len(s.Roles[0].Attached) != 1 {
		t.Fatalf("parsed %+v", s)
	}
	k := s.Keys[0]
	if k.ID != keyID || k.Account != "111122223333" || k.Regions[0] != "us-east-1" || !k.Enabled ||
		!k.RotationEnabled || k.RotationPeriodDays != 365 || hex.EncodeToString(k.Materials[0]) != aesHex {
		t.Errorf("keys[0] = %+v", k)
	}
	if s.Keys[1].Enabled || len(s.Keys[1].Materials) != 2 {
		t.Errorf("keys[1] = %+v", s.Keys[1])
	}
	if s.Keys[2].Materials != nil || s.Keys[2].Account != "444455556666" || s.Keys[2].Regions[0] != "eu-west-1" {
		t.Errorf("keys[2] = %+v", s.Keys[2])
	}
	if k := s.Keys[5]; !k.MultiRegion() || len(k.Regions) != 2 {
		t.Errorf("keys[5] = %+v", k)
	}
	// alias/global names the multi-Region key in both its regions.
	n := 0
	for _, a := range s.Aliases {
		if a.Name == "alias/global" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("alias/global in %d regions, want 2", n)
	}
}

func TestSeedParseLocalKMS(t *testing.T) {
	b, err := os.ReadFile("testdata/local-kms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(b, Defaults{Account: "000000000000", Regions: []string{"eu-west-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Format != "local-kms" || len(s.Keys) != 4 || len(s.Aliases) != 2 {
		t.Fatalf("parsed %+v", s)
	}
	want := []struct {
		id    string
		spec  kms.KeySpec
		usage kms.KeyUsage
		n     int
	}{
		{"bc436485-5092-42b8-92a3-0aa8b93536dc", kms.KeySpecSymmetricDefault, kms.KeyUsageEncryptDecrypt, 2},
		{"49fb5f3e-3b31-4b6f-8e7b-5b8e1b3e9c11", kms.KeySpecHMAC256, kms.KeyUsageGenerateVerifyMAC, 1},
		{"5fd0a2b4-7c1e-4d8f-9a6b-3e2c1d0f9e8a", kms.KeySpecRSA2048, kms.KeyUsageSignVerify, 1},
		{"800d5768-3fd7-4edd-a4b8-4c81c3e4c147", kms.KeySpecECCNISTP256, kms.KeyUsageSignVerify, 1},
	}
	for i, w := range want {
		k := s.Keys[i]
		if k.ID != w.id || k.Spec != w.spec || k.Usage != w.usage || len(k.Materials) != w.n ||
			k.Account != "000000000000" || k.Regions[0] != "eu-west-2" || !k.Enabled {
			t.Errorf("keys[%d] = %s %s %s %d materials, account %s, regions %v", i, k.ID, k.Spec, k.Usage, len(k.Materials), k.Account, k.Regions)
		}
	}
	if !s.Keys[0].RotationEnabled || s.Keys[0].NextRotation.Year() != 2030 {
		t.Errorf("NextKeyRotation not kept: %+v", s.Keys[0])
	}
	if a := s.Aliases[1]; a.Name != "alias/signer" || a.KeyID != "800d5768-3fd7-4edd-a4b8-4c81c3e4c147" {
		t.Errorf("alias by ARN = %+v", a)
	}
}

func TestSeedParseLocalKMSLegacy(t *testing.T) {
	doc := "Keys:\n  - Metadata:\n      KeyId: " + keyID + "\n    BackingKeys: [" + aesHex + "]\nAliases:\n  - AliasName: alias/x\n    TargetKeyId: " + keyID + "\n"
	s, err := Parse([]byte(doc), Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Keys) != 1 || s.Keys[0].Spec != kms.KeySpecSymmetricDefault || len(s.Aliases) != 1 {
		t.Fatalf("parsed %+v", s)
	}
}

func TestSeedParseErrors(t *testing.T) {
	key := func(extra string) string {
		return "keys:\n  - id: " + keyID + "\n" + extra
	}
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field", "keyz: []\n", "field keyz not found"},
		{"unknown key field", key("    colour: red\n"), "field colour not found"},
		{"bad id", "keys:\n  - id: Not-A-UUID\n", "keys[0] (Not-A-UUID): key id must be"},
		{"short aes", key("    material: hex:00ff\n"), "keys[0] (" + keyID + "): key material of a SYMMETRIC_DEFAULT key must be 32 bytes, not 2"},
		{"no prefix", key("    material: " + aesHex + "\n"), "must start with base64: or hex:"},
		{"bad hex", key("    material: hex:zz\n"), "not valid base64 or hex"},
		{"pem for aes", key("    material: |\n      -----BEGIN PRIVATE KEY-----\n      AAAA\n      -----END PRIVATE KEY-----\n"), "must be 32 bytes"},
		{"wrong pem type", key("    spec: ECC_NIST_P256\n    material: |\n      -----BEGIN EC PRIVATE KEY-----\n      AAAA\n      -----END EC PRIVATE KEY-----\n"), "PKCS #8 PEM block"},
		{"bad usage", key("    usage: SIGN_VERIFY\n"), "key usage SIGN_VERIFY does not go with key spec SYMMETRIC_DEFAULT"},
		{"bad spec", key("    spec: AES_512\n"), "key spec \"AES_512\" is not supported"},
		{"regions on single-Region", key("    regions: [us-east-1, eu-west-1]\n"), "only a multi-Region key"},
		{"region and regions", key("    region: us-east-1\n    regions: [us-east-1]\n"), "give region or regions"},
		{"region outside --regions", key("    region: eu-west-1\n"), "not among the server's --regions"},
		{"external without material", key("    origin: EXTERNAL\n"), "origin EXTERNAL needs its material"},
		{"rotation on hmac", key("    spec: HMAC_256\n    rotation: {periodDays: 90}\n"), "automatic rotation needs"},
		{"rotation period", key("    rotation: {periodDays: 30}\n"), "90 to 2560 days"},
		{"bad key policy", key("    policy: '{}'\n"), "key policy:"},
		{"reserved tag", key("    tags: {aws:x: y}\n"), "reserved"},
		{"repeated material", key("    materials: [hex:" + aesHex + ", hex:" + aesHex + "]\n"), "materials[1] repeats"},
		{"unknown account", key("    account: \"999999999999\"\n"), "account 999999999999 is neither"},
		{"duplicate key", key("  - id: " + keyID + "\n"), "keys[1] (" + keyID + "): key id is given twice"},
		{"bad alias", key("    aliases: [alias/aws/x]\n"), "alias name"},
		{"account without creds", "accounts:\n  - id: \"444455556666\"\n", "accounts[0] (444455556666): an account needs"},
		{"account with a space in its secret", "accounts:\n  - id: \"444455556666\"\n    accessKeyId: test\n    secretAccessKey: \"a b\"\n",
			"accounts[0] (444455556666): the pinned secret access key must be"},
		{"short secret", "users:\n  - name: u\n    accessKeys: [{id: AKIAAAAAAAAAAAAAAAAA, secret: short}]\n", "users[0] (u): the secret of access key"},
		{"duplicate akid", "users:\n  - name: u\n    accessKeys: [{id: AKIAAAAAAAAAAAAAAAAA, secret: aaaaaaaaaaaaaaaaaaaa}, {id: AKIAAAAAAAAAAAAAAAAA, secret: aaaaaaaaaaaaaaaaaaaa}]\n", "given twice"},
		{"unknown managed policy", "users:\n  - name: u\n    managedPolicies: [nope]\n", "users[0] (u): managed policy nope is not under managedPolicies"},
		{"bad managed policy", "managedPolicies:\n  - name: p\n    document: '{}'\n", "managedPolicies[0] (p): document:"},
		{"role without trust", "roles:\n  - name: r\n", "roles[0] (r): a role needs a trustPolicy"},
		{"bad inline policy", "users:\n  - name: u\n    policies: {p: 'nope'}\n", "users[0] (u): policy p:"},
		{"alias to unknown key", "Aliases:\n  - AliasName: alias/x\n    TargetKeyId: " + keyID + "\n", "not a key of the seed file"},
		{"local-kms short backing key", "Keys:\n  Symmetric:\n    Aes:\n      - Metadata: {KeyId: " + keyID + "}\n        BackingKeys: [00ff]\n", "Keys.Symmetric.Aes[0] (" + keyID + "): key material of a SYMMETRIC_DEFAULT key must be 32 bytes"},
		{"local-kms no backing keys", "Keys:\n  Symmetric:\n    Aes:\n      - Metadata: {KeyId: " + keyID + "}\n", "at least one backing key"},
		{"local-kms rsa without usage", "Keys:\n  Asymmetric:\n    Rsa:\n      - Metadata: {KeyId: " + keyID + "}\n", "KeyUsage is mandatory"},
		{"not yaml", "keys: [\n", "seed: yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), Defaults{Regions: []string{"us-east-1", "us-west-2"}})
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.doc)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestSeedErrorsHideMaterial: no error shows the material it refused, even
// when the value is of the wrong YAML type (the decoder quotes values).
func TestSeedErrorsHideMaterial(t *testing.T) {
	const secret = "c0ffeec0ffeec0ffeec0ffeec0ffee"
	for _, doc := range []string{
		"keys:\n  - id: " + keyID + "\n    material: hex:" + secret + "\n",
		"keys:\n  - id: " + keyID + "\n    material: [" + secret + "]\n",
		"keys:\n  - id: " + keyID + "\n    materials: " + secret + "\n",
		"Keys:\n  Symmetric:\n    Aes:\n      - Metadata: {KeyId: " + keyID + "}\n        BackingKeys: " + secret + "\n",
		"Keys:\n  Symmetric:\n    Aes:\n      - Metadata: {KeyId: " + keyID + "}\n        BackingKeys: [" + secret + "]\n",
	} {
		_, err := Parse([]byte(doc), Defaults{})
		if err == nil {
			t.Fatalf("accepted:\n%s", doc)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "c0ffee") {
			t.Errorf("error shows the material: %v", err)
		}
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("error %v is not a *seed.Error", err)
		}
	}
}

func TestSeedParseEmpty(t *testing.T) {
	for _, doc := range []string{"", "# nothing\n", "{}\n"} {
		s, err := Parse([]byte(doc), Defaults{})
		if err != nil || len(s.Keys) != 0 {
			t.Errorf("Parse(%q) = %+v, %v", doc, s, err)
		}
	}
}

// FuzzSeedParse: the parser never panics, and whatever it accepts is valid
// (every alias names a key of the file, every key has a region).
func FuzzSeedParse(f *testing.F) {
	for _, p := range []string{"../../examples/seed.yaml", "testdata/local-kms.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("keys:\n  - id: " + keyID + "\n    materials: [hex:" + aesHex + ", hex:" + aesHex2 + "]\n"))
	f.Add([]byte("Keys:\n  - Metadata: {KeyId: " + keyID + "}\n    BackingKeys: [" + aesHex + "]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b, Defaults{})
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *seed.Error", err)
			}
			return
		}
		ids := map[string]bool{}
		for _, k := range s.Keys {
			if len(k.Regions) == 0 || k.Account == "" {
				t.Fatalf("key %s without account or region", k.ID)
			}
			for _, m := range k.Materials {
				if len(m) == 0 || bytes.Equal(m, nil) {
					t.Fatalf("key %s with empty material", k.ID)
				}
			}
			ids[k.ID] = true
		}
		for _, a := range s.Aliases {
			if !ids[a.KeyID] {
				t.Fatalf("alias %s to unknown key %s", a.Name, a.KeyID)
			}
		}
	})
}

// TestSeedAccountTestCredentials: an account's root credentials are pinned
// by the operator, so LocalStack's test/test is taken, as by
// --root-access-key-id; IAM users' access keys keep AWS's form.
func TestSeedAccountTestCredentials(t *testing.T) {
	s, err := Parse([]byte("accounts:\n  - id: \"000000000000\"\n    accessKeyId: test\n    secretAccessKey: test\n"),
		Defaults{Account: "111122223333", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Accounts) != 1 || s.Accounts[0].AccessKeyID != "test" {
		t.Fatalf("accounts %+v", s.Accounts)
	}
}
