package seed

import (
	"strings"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"go.yaml.in/yaml/v3"
)

// local-kms's seed format (nsmithuk/local-kms): keys grouped by kind, each
// with its Metadata, AES and HMAC material as hex BackingKeys (oldest
// first, the last current), RSA and ECC as a PKCS #8 PEM. Decoding is
// lenient, as local-kms's is: unknown fields are ignored. Every entry
// goes into the server's account and first region (local-kms's ACCOUNT_ID
// and REGION), since the format names neither.
type lkFile struct {
	Keys    yaml.Node `yaml:"Keys"`
	Aliases []lkAlias `yaml:"Aliases"`
}

type lkKeys struct {
	Symmetric struct {
		Aes  []lkSymKey `yaml:"Aes"`
		Hmac []lkSymKey `yaml:"Hmac"`
	} `yaml:"Symmetric"`
	Asymmetric struct {
		Rsa []lkPairKey `yaml:"Rsa"`
		Ecc []lkPairKey `yaml:"Ecc"`
	} `yaml:"Asymmetric"`
}

type lkMetadata struct {
	KeyId       string  `yaml:"KeyId"`
	Description *string `yaml:"Description"`
	Enabled     *bool   `yaml:"Enabled"`
	KeyUsage    string  `yaml:"KeyUsage"`
	KeySpec     string  `yaml:"KeySpec"`
	Origin      string  `yaml:"Origin"`
}

type lkSymKey struct {
	Metadata        lkMetadata `yaml:"Metadata"`
	BackingKeys     []string   `yaml:"BackingKeys"`
	NextKeyRotation time.Time  `yaml:"NextKeyRotation"`
}

type lkPairKey struct {
	Metadata      lkMetadata `yaml:"Metadata"`
	PrivateKeyPem string     `yaml:"PrivateKeyPem"`
}

type lkAlias struct {
	AliasName   string `yaml:"AliasName"`
	TargetKeyId string `yaml:"TargetKeyId"`
}

func parseLocalKMS(data []byte, d Defaults) (*Seed, error) {
	var f lkFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, &Error{Msg: yamlMsg(err)}
	}
	var ks lkKeys
	switch f.Keys.Kind {
	case 0:
	case yaml.SequenceNode:
		// local-kms's legacy layout: Keys is a list of AES keys.
		if err := f.Keys.Decode(&ks.Symmetric.Aes); err != nil {
			return nil, &Error{Entry: "Keys", Msg: yamlMsg(err)}
		}
	default:
		if err := f.Keys.Decode(&ks); err != nil {
			return nil, &Error{Entry: "Keys", Msg: yamlMsg(err)}
		}
	}
	s := &Seed{Format: "local-kms"}
	newKey := func(entry string, md lkMetadata, spec kms.KeySpec, usage kms.KeyUsage) Key {
		k := Key{Entry: entry, ID: md.KeyId, Account: d.Account, Regions: []string{d.Region}, Spec: spec, Usage: usage,
			Origin: kms.OriginAWSKMS, Enabled: md.Enabled == nil || *md.Enabled}
		if md.Origin == string(kms.OriginExternal) {
			k.Origin = kms.OriginExternal
		}
		if md.Description != nil {
			k.Description = *md.Description
		}
		return k
	}
	sym := func(list string, i int, in lkSymKey, spec kms.KeySpec) error {
		entry := entryName(list, i, in.Metadata.KeyId)
		k := newKey(entry, in.Metadata, spec, defaultUsage(spec))
		if len(in.BackingKeys) == 0 {
			return errf(entry, "at least one backing key must be given")
		}
		for _, h := range in.BackingKeys {
			b, err := decodeMaterial(entry, spec, "hex:"+h)
			if err != nil {
				return err
			}
			k.Materials = append(k.Materials, b)
		}
		// HMAC keys do not rotate here, as on AWS: their NextKeyRotation is ignored.
		if !in.NextKeyRotation.IsZero() && spec == kms.KeySpecSymmetricDefault {
			k.RotationEnabled, k.NextRotation = true, in.NextKeyRotation
		}
		s.Keys = append(s.Keys, k)
		return nil
	}
	for i, in := range ks.Symmetric.Aes {
		if err := sym("Keys.Symmetric.Aes", i, in, kms.KeySpecSymmetricDefault); err != nil {
			return nil, err
		}
	}
	for i, in := range ks.Symmetric.Hmac {
		spec := kms.KeySpec(in.Metadata.KeySpec)
		if spec == "" {
			spec = kms.KeySpecHMAC256 // local-kms's default size
		}
		if !keys.IsHMAC(spec) {
			return nil, errf(entryName("Keys.Symmetric.Hmac", i, in.Metadata.KeyId), "KeySpec %q is not an HMAC spec", spec)
		}
		if err := sym("Keys.Symmetric.Hmac", i, in, spec); err != nil {
			return nil, err
		}
	}
	pair := func(list string, i int, in lkPairKey, specs []kms.KeySpec) error {
		entry := entryName(list, i, in.Metadata.KeyId)
		if in.Metadata.KeySpec != "" {
			specs = []kms.KeySpec{kms.KeySpec(in.Metadata.KeySpec)}
		}
		// The spec is the one the private key fits, as local-kms finds it
		// from the RSA modulus or the curve.
		var b []byte
		var spec kms.KeySpec
		for _, sp := range specs {
			var err error
			if b, err = decodeMaterial(entry, sp, in.PrivateKeyPem); err == nil {
				spec = sp
				break
			}
		}
		if spec == "" {
			return errf(entry, "PrivateKeyPem is not a PKCS #8 PEM private key of %s", joinSpecs(specs))
		}
		usage := kms.KeyUsage(in.Metadata.KeyUsage)
		if usage == "" {
			usage = kms.KeyUsageSignVerify
		}
		k := newKey(entry, in.Metadata, spec, usage)
		k.Materials = [][]byte{b}
		s.Keys = append(s.Keys, k)
		return nil
	}
	for i, in := range ks.Asymmetric.Rsa {
		if in.Metadata.KeyUsage == "" {
			return nil, errf(entryName("Keys.Asymmetric.Rsa", i, in.Metadata.KeyId), "KeyUsage is mandatory for RSA keys")
		}
		if err := pair("Keys.Asymmetric.Rsa", i, in, []kms.KeySpec{kms.KeySpecRSA2048, kms.KeySpecRSA3072, kms.KeySpecRSA4096}); err != nil {
			return nil, err
		}
	}
	for i, in := range ks.Asymmetric.Ecc {
		if err := pair("Keys.Asymmetric.Ecc", i, in, []kms.KeySpec{kms.KeySpecECCNISTP256, kms.KeySpecECCNISTP384,
			kms.KeySpecECCNISTP521, kms.KeySpecECCSECGP256K1}); err != nil {
			return nil, err
		}
	}
	for i, a := range f.Aliases {
		id := a.TargetKeyId
		if j := strings.LastIndex(id, ":key/"); j >= 0 {
			id = id[j+len(":key/"):] // local-kms accepts a key ARN too
		}
		name := a.AliasName
		if !strings.HasPrefix(name, "alias/") {
			name = "alias/" + name
		}
		s.Aliases = append(s.Aliases, Alias{Entry: entryName("Aliases", i, a.AliasName), Name: name,
			Account: d.Account, Region: d.Region, KeyID: id})
	}
	return s, nil
}

func joinSpecs(specs []kms.KeySpec) string {
	ss := make([]string, len(specs))
	for i, s := range specs {
		ss[i] = string(s)
	}
	return strings.Join(ss, " or ")
}
