package service

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/policy"
)

// Signing, MAC and key agreement (spec §2.6), and data key pairs (§2.5).

// keyUse checks that a key's usage is usage and that its spec supports alg.
func keyUse(k *kms.Key, op string, usage kms.KeyUsage, alg string) error {
	if k.Usage != usage {
		return kms.Errorf(kms.ErrInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", k.ARN(), k.Usage, op)
	}
	if !slices.Contains(keys.Algorithms(k.Spec, k.Usage), alg) {
		return kms.Errorf(kms.ErrInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", alg, k.Spec)
	}
	return nil
}

// useKey resolves a key for op, authorizes a, and checks the key's state,
// usage and algorithm. Callers must release the entry.
func (s *Service) useKey(ctx context.Context, c *Caller, id, op string, a access, usage kms.KeyUsage, alg string) (*keyEntry, error) {
	e, err := s.lookup(ctx, c, id, true)
	if err != nil {
		return nil, err
	}
	a.id, a.cross = id, true
	if err := s.checkKey(ctx, c, e, a, op, usage, alg); err != nil {
		s.cache.release(e)
		return nil, err
	}
	return e, nil
}

// checkKey authorizes a cryptographic operation on a key, then checks the
// key's state, usage and algorithm.
func (s *Service) checkKey(ctx context.Context, c *Caller, e *keyEntry, a access, op string, usage kms.KeyUsage, alg string) error {
	if err := s.authorizeKey(ctx, c, e, a); err != nil {
		return err
	}
	if err := usable(&e.key); err != nil {
		return err
	}
	return keyUse(&e.key, op, usage, alg)
}

// keyPair returns the unsealed private key of an asymmetric key.
func (s *Service) keyPair(ctx context.Context, e *keyEntry) (*keys.PrivateKey, error) {
	return loadMaterial(s, ctx, e, &e.pair, func(b []byte) (*keys.PrivateKey, error) {
		return keys.ParsePrivateKey(e.key.Spec, b)
	}, nil)
}

// hmacKey returns the unsealed secret of an HMAC key.
func (s *Service) hmacKey(ctx context.Context, e *keyEntry) (*keys.HMACKey, error) {
	return loadMaterial(s, ctx, e, &e.mac, func(b []byte) (*keys.HMACKey, error) {
		return keys.HMACKeyFromBytes(e.key.Spec, b)
	}, (*keys.HMACKey).Zero)
}

// loadMaterial returns *slot (guarded by e.mu), unsealing and parsing the
// key's one material version on first use. When two requests race, the
// loser's copy is dropped (and wiped by zero, if given).
func loadMaterial[T comparable](s *Service, ctx context.Context, e *keyEntry, slot *T, parse func([]byte) (T, error), zero func(T)) (T, error) {
	var none T
	e.mu.Lock()
	m := *slot
	e.mu.Unlock()
	if m != none {
		return m, nil
	}
	b, err := s.currentMaterial(ctx, e)
	if err != nil {
		return none, err
	}
	defer clear(b)
	if m, err = parse(b); err != nil {
		return none, kms.Internal(fmt.Errorf("material of key %s: %w", e.key.ID, err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if *slot != none {
		if zero != nil {
			zero(m)
		}
		return *slot, nil
	}
	*slot = m
	return m, nil
}

// currentMaterial unseals the one material version of an asymmetric or
// HMAC key.
func (s *Service) currentMaterial(ctx context.Context, e *keyEntry) ([]byte, error) {
	b, _, err := s.unseal(ctx, e, e.key.CurrentMaterialID) // the key's ValidTo is this material's
	if err == nil && b == nil {
		err = kms.Internal(errors.New("material of key " + e.key.ID + " is missing"))
	}
	return b, err
}

// checkMessage checks a Sign or Verify message against its type and the
// algorithm (spec §2.6 Sign rules).
func checkMessage(alg, mt string, msg []byte) error {
	if !slices.Contains(keys.MessageTypes(alg), mt) {
		return validationf("MessageType %s is not valid for signing algorithm %s.", mt, alg)
	}
	switch mt {
	case keys.MessageDigest:
		if len(msg) != keys.DigestSize(alg) {
			return validationf("Digest is invalid length for algorithm %s.", alg)
		}
	case keys.MessageExternalMu:
		if len(msg) != 64 {
			return validationf("External mu is invalid length for algorithm %s.", alg)
		}
	}
	return nil
}

// signer resolves and checks a key for Sign or Verify.
func (s *Service) signer(ctx context.Context, c *Caller, in *SignInput, op string) (*keyEntry, string, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, "", err
	}
	alg, mt := *in.SigningAlgorithm, keys.MessageRaw
	if in.MessageType != nil {
		mt = *in.MessageType
	}
	e, err := s.useKey(ctx, c, *in.KeyId, op, access{action: op, fill: func(pc policy.Context) {
		pc.Set(policy.KeySigningAlgorithm, alg)
		pc.Set(policy.KeyMessageType, mt)
	}}, kms.KeyUsageSignVerify, alg)
	if err != nil {
		return nil, "", err
	}
	if err := checkMessage(alg, mt, in.Message); err != nil {
		s.cache.release(e)
		return nil, "", err
	}
	if in.DryRun {
		s.cache.release(e)
		return nil, "", errDryRun
	}
	return e, mt, nil
}

// Sign signs a message or digest with an asymmetric key's private key.
func (s *Service) Sign(ctx context.Context, c *Caller, in *SignInput) (*SignOutput, error) {
	e, mt, err := s.signer(ctx, c, in, "Sign")
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	p, err := s.keyPair(ctx, e)
	if err != nil {
		return nil, err
	}
	sig, err := p.Sign(*in.SigningAlgorithm, mt, in.Message)
	if err != nil {
		return nil, kms.Internal(err)
	}
	return &SignOutput{KeyId: e.key.ARN(), Signature: sig, SigningAlgorithm: *in.SigningAlgorithm}, nil
}

// Verify checks a signature with an asymmetric key's public key. A wrong
// signature is an error, never SignatureValid false (spec §2.6 Verify).
func (s *Service) Verify(ctx context.Context, c *Caller, in *VerifyInput) (*VerifyOutput, error) {
	e, mt, err := s.signer(ctx, c, &in.SignInput, "Verify")
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	p, err := s.keyPair(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := p.Public().Verify(*in.SigningAlgorithm, mt, in.Message, in.Signature); err != nil {
		return nil, kms.Errorf(kms.ErrKMSInvalidSignature, "")
	}
	return &VerifyOutput{KeyId: e.key.ARN(), SignatureValid: true, SigningAlgorithm: *in.SigningAlgorithm}, nil
}

// GetPublicKey returns the public key of an asymmetric key.
func (s *Service) GetPublicKey(ctx context.Context, c *Caller, in *GetPublicKeyInput) (*GetPublicKeyOutput, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	e, err := s.lookup(ctx, c, *in.KeyId, true)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	k := &e.key
	if err := s.authorizeKey(ctx, c, e, access{action: "GetPublicKey", cross: true, id: *in.KeyId}); err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	if !keys.IsAsymmetric(k.Spec) {
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "%s key spec %s does not have a public key.", k.ARN(), k.Spec)
	}
	p, err := s.keyPair(ctx, e)
	if err != nil {
		return nil, err
	}
	out := &GetPublicKeyOutput{KeyId: k.ARN(), PublicKey: p.Public().DER(), CustomerMasterKeySpec: masterKeySpec(k.Spec),
		KeySpec: k.Spec, KeyUsage: k.Usage}
	out.EncryptionAlgorithms, out.SigningAlgorithms, _, out.KeyAgreementAlgorithms = algorithmLists(k)
	return out, nil
}

// macKey resolves and checks a key for GenerateMac or VerifyMac.
func (s *Service) macKey(ctx context.Context, c *Caller, in *MacInput, op string) (*keyEntry, *keys.HMACKey, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, nil, err
	}
	alg := *in.MacAlgorithm
	e, err := s.useKey(ctx, c, *in.KeyId, op, access{action: op, fill: func(pc policy.Context) {
		pc.Set(policy.KeyMacAlgorithm, alg)
	}}, kms.KeyUsageGenerateVerifyMAC, alg)
	if err != nil {
		return nil, nil, err
	}
	if in.DryRun {
		s.cache.release(e)
		return nil, nil, errDryRun
	}
	m, err := s.hmacKey(ctx, e)
	if err != nil {
		s.cache.release(e)
		return nil, nil, err
	}
	return e, m, nil
}

// GenerateMac computes the HMAC of a message under an HMAC key.
func (s *Service) GenerateMac(ctx context.Context, c *Caller, in *MacInput) (*GenerateMacOutput, error) {
	e, m, err := s.macKey(ctx, c, in, "GenerateMac")
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	return &GenerateMacOutput{Mac: m.Sum(in.Message), MacAlgorithm: *in.MacAlgorithm, KeyId: e.key.ARN()}, nil
}

// VerifyMac checks an HMAC in constant time; a mismatch is an error.
func (s *Service) VerifyMac(ctx context.Context, c *Caller, in *VerifyMacInput) (*VerifyMacOutput, error) {
	e, m, err := s.macKey(ctx, c, &in.MacInput, "VerifyMac")
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if !m.Verify(in.Message, in.Mac) {
		return nil, kms.Errorf(kms.ErrKMSInvalidMac, "")
	}
	return &VerifyMacOutput{KeyId: e.key.ARN(), MacValid: true, MacAlgorithm: *in.MacAlgorithm}, nil
}

// DeriveSharedSecret runs ECDH between a key agreement key and a peer's
// public key.
func (s *Service) DeriveSharedSecret(ctx context.Context, c *Caller, in *DeriveSharedSecretInput) (*DeriveSharedSecretOutput, error) {
	if in.Recipient != nil {
		return nil, errRecipient()
	}
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	alg := *in.KeyAgreementAlgorithm
	e, err := s.useKey(ctx, c, *in.KeyId, "DeriveSharedSecret", access{action: "DeriveSharedSecret", fill: func(pc policy.Context) {
		pc.Set(policy.KeyKeyAgreementAlgorithm, alg)
	}}, kms.KeyUsageKeyAgreement, alg)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	k := &e.key
	peer, err := keys.ParsePublicKey(k.Spec, in.PublicKey)
	if err != nil {
		return nil, errBadPeerKey
	}
	if in.DryRun {
		return nil, errDryRun
	}
	p, err := s.keyPair(ctx, e)
	if err != nil {
		return nil, err
	}
	secret, err := p.SharedSecret(peer)
	if err != nil {
		return nil, errBadPeerKey
	}
	return &DeriveSharedSecretOutput{KeyId: k.ARN(), SharedSecret: secret, KeyAgreementAlgorithm: alg, KeyOrigin: k.Origin}, nil
}

// errBadPeerKey refuses a DeriveSharedSecret PublicKey that is not a public
// key of the key's curve: a ValidationException with an empty message, as
// LocalStack's AWS-validated test_derive_shared_secret records
// (response-invalid-public-key).
var errBadPeerKey = kms.Errorf(kms.ErrValidation, "")

// GenerateDataKeyPair returns a fresh key pair whose private key is also
// encrypted under a symmetric key.
func (s *Service) GenerateDataKeyPair(ctx context.Context, c *Caller, in *GenerateDataKeyPairInput) (*GenerateDataKeyPairOutput, error) {
	if in.Recipient != nil {
		return nil, errRecipient()
	}
	return s.generateDataKeyPair(ctx, c, in, "GenerateDataKeyPair", true)
}

// GenerateDataKeyPairWithoutPlaintext is GenerateDataKeyPair without the
// plaintext private key in the response.
func (s *Service) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, c *Caller, in *GenerateDataKeyPairInput) (*GenerateDataKeyPairOutput, error) {
	if in.Recipient != nil {
		return nil, kms.Errorf(kms.ErrValidation, "Recipient is not a member of GenerateDataKeyPairWithoutPlaintext.")
	}
	return s.generateDataKeyPair(ctx, c, in, "GenerateDataKeyPairWithoutPlaintext", false)
}

func (s *Service) generateDataKeyPair(ctx context.Context, c *Caller, in *GenerateDataKeyPairInput, op string, withPlaintext bool) (*GenerateDataKeyPairOutput, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	spec := *in.KeyPairSpec
	// AWS's quota of a data key pair is that of its spec, not its key's.
	if err := c.chargeQuota(string(spec)); err != nil {
		return nil, err
	}
	x, err := s.encrypterFor(ctx, c, *in.KeyId, op, access{action: op, fill: func(pc policy.Context) {
		algorithmContext(nil, in.EncryptionContext)(pc)
		pc.Set(policy.KeyDataKeyPairSpec, spec)
	}, grantOK: withContext(in.EncryptionContext)}, nil)
	if err != nil {
		return nil, err
	}
	defer x.done()
	if in.DryRun {
		return nil, errDryRun
	}
	priv, pub, err := keys.GenerateDataKeyPair(kms.KeySpec(spec))
	if err != nil {
		return nil, kms.Internal(err)
	}
	blob, err := x.encrypt(priv, in.EncryptionContext)
	if err != nil {
		clear(priv)
		return nil, err
	}
	out := &GenerateDataKeyPairOutput{PrivateKeyCiphertextBlob: blob, PublicKey: pub, KeyId: x.e.key.ARN(),
		KeyPairSpec: spec, KeyMaterialId: x.e.key.CurrentMaterialID}
	if withPlaintext {
		out.PrivateKeyPlaintext = priv
	} else {
		clear(priv)
	}
	return out, nil
}
