package loadgen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// keySpec is a key spec a load can create keys of and use, with the
// algorithm it signs or MACs with and the size of what that makes.
type keySpec struct {
	spec types.KeySpec
	ops  []Op
	sign types.SigningAlgorithmSpec // sign and verify
	mac  types.MacAlgorithmSpec     // generate-mac
	// size is the bytes of a signature or tag: exact for Ed25519, RSA and
	// HMAC; the usual size of a DER ECDSA signature, whose integers lose a
	// byte now and then.
	size int
}

var signOps, macOps = []Op{OpSign, OpVerify}, []Op{OpGenerateMac}

// keySpecs are the specs --key-spec takes; the first for each op is its
// default. Every signing spec signs a RAW message of up to MaxSize bytes
// (ED25519_SHA_512 takes nothing else). RSA keys sign with
// RSASSA_PSS_SHA_256; PKCS #1 v1.5 would cost the same, the private-key
// operation being most of the work.
var keySpecs = []keySpec{
	{spec: types.KeySpecEccNistP256, ops: signOps, sign: types.SigningAlgorithmSpecEcdsaSha256, size: 71},
	{spec: types.KeySpecEccNistP384, ops: signOps, sign: types.SigningAlgorithmSpecEcdsaSha384, size: 103},
	{spec: types.KeySpecEccNistP521, ops: signOps, sign: types.SigningAlgorithmSpecEcdsaSha512, size: 138},
	{spec: types.KeySpecEccSecgP256k1, ops: signOps, sign: types.SigningAlgorithmSpecEcdsaSha256, size: 71},
	{spec: types.KeySpecEccNistEdwards25519, ops: signOps, sign: types.SigningAlgorithmSpecEd25519Sha512, size: 64},
	{spec: types.KeySpecRsa2048, ops: signOps, sign: types.SigningAlgorithmSpecRsassaPssSha256, size: 256},
	{spec: types.KeySpecRsa3072, ops: signOps, sign: types.SigningAlgorithmSpecRsassaPssSha256, size: 384},
	{spec: types.KeySpecRsa4096, ops: signOps, sign: types.SigningAlgorithmSpecRsassaPssSha256, size: 512},
	{spec: types.KeySpecHmac256, ops: macOps, mac: types.MacAlgorithmSpecHmacSha256, size: 32},
	{spec: types.KeySpecHmac224, ops: macOps, mac: types.MacAlgorithmSpecHmacSha224, size: 28},
	{spec: types.KeySpecHmac384, ops: macOps, mac: types.MacAlgorithmSpecHmacSha384, size: 48},
	{spec: types.KeySpecHmac512, ops: macOps, mac: types.MacAlgorithmSpecHmacSha512, size: 64},
}

// keySpecAliases are short names --key-spec also takes.
var keySpecAliases = map[string]types.KeySpec{"ED25519": types.KeySpecEccNistEdwards25519}

// KeySpecs lists the key specs --key-spec takes for op, the default
// first; none for the loads on symmetric keys.
func KeySpecs(op Op) []string {
	var specs []string
	for _, s := range keySpecs {
		if slices.Contains(s.ops, op) {
			specs = append(specs, string(s.spec))
		}
	}
	return specs
}

// CanonicalKeySpec returns the name of the key spec --key-spec takes as
// name (in any case, or ED25519 for ECC_NIST_EDWARDS25519), and whether
// there is one.
func CanonicalKeySpec(name string) (string, bool) {
	s, ok := findKeySpec(name)
	return string(s.spec), ok
}

// findKeySpec returns the spec named name (any case, or an alias).
func findKeySpec(name string) (keySpec, bool) {
	name = strings.ToUpper(strings.TrimSpace(name))
	if a, ok := keySpecAliases[name]; ok {
		name = string(a)
	}
	for _, s := range keySpecs {
		if string(s.spec) == name {
			return s, true
		}
	}
	return keySpec{}, false
}

// keySpec is the key spec of the run: Config.KeySpec, or the op's
// default; the zero keySpec for the loads on symmetric keys. Validate has
// checked that it fits the op.
func (c *Config) keySpec() keySpec {
	if c.KeySpec != "" {
		s, _ := findKeySpec(c.KeySpec)
		return s
	}
	for _, s := range keySpecs {
		if slices.Contains(s.ops, c.Op) {
			return s
		}
	}
	return keySpec{}
}

// KeySpecName returns the key spec the run uses (its canonical name, e.g.
// ECC_NIST_EDWARDS25519 for ED25519), or "" for the loads on symmetric
// keys. Call it on a valid Config.
func (c *Config) KeySpecName() string { return string(c.keySpec().spec) }

// checkKeySpec reports whether c.KeySpec fits c.Op.
func (c *Config) checkKeySpec() error {
	if c.KeySpec == "" {
		return nil
	}
	specs := KeySpecs(c.Op)
	if len(specs) == 0 {
		return fmt.Errorf("--key-spec does not apply to %s: it uses symmetric keys (give it for sign, verify or generate-mac)", c.Op)
	}
	s, ok := findKeySpec(c.KeySpec)
	if !ok || !slices.Contains(s.ops, c.Op) {
		return fmt.Errorf("--key-spec %s does not fit %s (one of %s)", c.KeySpec, c.Op, strings.Join(specs, ", "))
	}
	return nil
}
