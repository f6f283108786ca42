package service

import (
	"context"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/store"
)

// LocalStack's CreateKey tags that choose a new key's id and material
// (localstack-core/localstack/services/kms/models.py and utils.py), for
// test setups that pin both so that ciphertexts outlive a restart. A server
// honours them only with Config.AllowCustomKeyIDs; either way they never
// become tags of the key, and the material never reaches a log or the
// audit trail (api's requestParameters hides its value).
const (
	CustomIDTag          = "_custom_id_"
	CustomKeyMaterialTag = "_custom_key_material_"
)

// maxCustomMaterialTag bounds the material tag's value, which AWS's
// 256-character limit on tag values would refuse for RSA and P-521 keys
// (LocalStack lifts the limit for it too): the base64 of an RSA 4096
// PKCS #8 key with room to spare.
const maxCustomMaterialTag = 8192

// customKey is what the LocalStack tags of a CreateKey asked for.
type customKey struct {
	id       string // "" when not asked for
	material []byte // nil when not asked for; what checkMaterial returns
	tags     []kms.Tag
}

// customKeyTags takes the LocalStack tags out of a CreateKey request's tags
// and checks them against the key to be made (spec, MultiRegion, origin):
// validation errors here, before authorization, as for every other member.
// Whether the id is free is for claimCustomID, after authorization.
func (s *Service) customKeyTags(tags []kms.Tag, spec kms.KeySpec, multiRegion bool, origin kms.Origin) (customKey, error) {
	var c customKey
	var id, material *string
	for i := range tags {
		switch tags[i].Key {
		case CustomIDTag:
			id = &tags[i].Value
		case CustomKeyMaterialTag:
			material = &tags[i].Value
		default:
			c.tags = append(c.tags, tags[i])
		}
	}
	if id == nil && material == nil {
		c.tags = tags
		return c, nil
	}
	if !s.customIDs {
		return c, validationf("The tags %s and %s choose a key's id and key material only on a server started with "+
			"--allow-custom-key-ids (KMS_ALLOW_CUSTOM_KEY_IDS=true); they cannot be tags of a key.", CustomIDTag, CustomKeyMaterialTag)
	}
	if id != nil {
		// LocalStack trims the value; ids are matched exactly afterwards.
		c.id = strings.TrimSpace(*id)
		switch {
		case !validKeyID(c.id):
			return c, validationf("The %s tag must be a key id: a lowercase UUID, or %s and 32 lowercase hex digits for a multi-Region key.", CustomIDTag, kms.MultiRegionPrefix)
		case multiRegion != strings.HasPrefix(c.id, kms.MultiRegionPrefix):
			return c, validationf("The %s tag of a multi-Region key must start with %s, and only a multi-Region key's may.", CustomIDTag, kms.MultiRegionPrefix)
		}
	}
	if material != nil {
		m, err := customMaterial(*material, spec, origin)
		if err != nil {
			return c, err
		}
		c.material = m
	}
	return c, nil
}

// customMaterial decodes and checks the value of a _custom_key_material_
// tag as LocalStack reads it: base64 of the raw bytes of a symmetric or
// HMAC key, or of a DER private key of an asymmetric one (PKCS #8, or
// LocalStack's other DER encodings: SEC 1 for elliptic curves, PKCS #1 for
// RSA). Its errors never show the material.
func customMaterial(value string, spec kms.KeySpec, origin kms.Origin) ([]byte, error) {
	switch {
	case origin == kms.OriginExternal:
		return nil, validationf("The %s tag cannot be given with Origin EXTERNAL; import the key material with ImportKeyMaterial.", CustomKeyMaterialTag)
	case !keys.Importable(spec):
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "KeySpec %s does not support custom key material.", spec)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return nil, validationf("The %s tag must be base64-encoded key material.", CustomKeyMaterialTag)
	}
	defer clear(raw)
	k := &kms.Key{Spec: spec}
	m, err := checkMaterial(k, raw)
	if err != nil && keys.IsAsymmetric(spec) {
		if der, ok := wrapPKCS8(spec, raw); ok {
			m, err = checkMaterial(k, der)
			clear(der)
		}
	}
	if err != nil {
		var e *kms.Error
		if errors.As(err, &e) && e.Code == kms.ErrIncorrectKeyMaterial {
			// A request error here, not ImportKeyMaterial's.
			return nil, validationf("The %s tag: %s", CustomKeyMaterialTag, e.Message)
		}
		return nil, err
	}
	return m, nil
}

// Object identifiers of the PKCS #8 algorithms that wrapPKCS8 writes.
var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublicKey   = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidCurve         = map[kms.KeySpec]asn1.ObjectIdentifier{
		kms.KeySpecECCNISTP256:   {1, 2, 840, 10045, 3, 1, 7},
		kms.KeySpecECCNISTP384:   {1, 3, 132, 0, 34},
		kms.KeySpecECCNISTP521:   {1, 3, 132, 0, 35},
		kms.KeySpecECCSECGP256K1: {1, 3, 132, 0, 10},
	}
)

// wrapPKCS8 puts a PKCS #1 RSA or SEC 1 EC private key into the PKCS #8
// PrivateKeyInfo that checkMaterial reads (RFC 5208, RFC 5915 §3), which
// then checks all of it. ok is false for other specs.
func wrapPKCS8(spec kms.KeySpec, der []byte) (out []byte, ok bool) {
	type algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	type privateKeyInfo struct {
		Version    int
		Algorithm  algorithm
		PrivateKey []byte
	}
	var alg algorithm
	switch {
	case spec == kms.KeySpecRSA2048 || spec == kms.KeySpecRSA3072 || spec == kms.KeySpecRSA4096:
		alg = algorithm{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}
	case oidCurve[spec] != nil:
		curve, err := asn1.Marshal(oidCurve[spec])
		if err != nil {
			return nil, false
		}
		alg = algorithm{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: curve}}
	default:
		return nil, false
	}
	out, err := asn1.Marshal(privateKeyInfo{Algorithm: alg, PrivateKey: der})
	return out, err == nil
}

// claimCustomID refuses a custom key id that a key has already, in any
// account or region (a multi-Region id in any region, where its copies
// would go): key ids are unique, and the store keys rows by them.
func (s *Service) claimCustomID(ctx context.Context, id string) error {
	taken := false
	if strings.HasPrefix(id, kms.MultiRegionPrefix) {
		copies, err := s.store.KeyRegions(ctx, id)
		if err != nil {
			return kms.Internal(err)
		}
		taken = len(copies) > 0
	} else {
		_, err := s.store.GetKey(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return kms.Internal(err)
		}
		taken = err == nil
	}
	if taken {
		return errCustomIDTaken(id)
	}
	return nil
}

func errCustomIDTaken(id string) error {
	return kms.Errorf(kms.ErrAlreadyExists, "A key with the id %s given by the %s tag already exists.", id, CustomIDTag)
}
