package service

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/policy"
)

// encrypter is a key ready to encrypt: an acquired cache entry and its current
// material. Callers must call done.
type encrypter struct {
	s *Service
	e *keyEntry
	m *keys.SymmetricKey
}

func (x *encrypter) done() { x.s.cache.release(x.e) }

func (x *encrypter) encrypt(plaintext []byte, encCtx map[string]string) ([]byte, error) {
	mid, err := keys.ParseMaterialID(x.e.key.CurrentMaterialID)
	if err != nil {
		return nil, kms.Internal(err)
	}
	blob, err := keys.Encrypt(x.m, x.e.key.ARN(), mid, plaintext, encCtx)
	if err != nil {
		return nil, kms.Internal(err)
	}
	return blob, nil
}

// encrypterFor resolves, authorizes and checks a key for encryption by op.
func (s *Service) encrypterFor(ctx context.Context, c *Caller, id, op string, a access, alg *string) (*encrypter, error) {
	e, err := s.lookup(ctx, c, id, true)
	if err != nil {
		return nil, err
	}
	x := &encrypter{s: s, e: e}
	a.id, a.cross = id, true
	if err := s.checkUse(ctx, c, e, a, op, alg); err != nil {
		x.done()
		return nil, err
	}
	x.m, err = s.material(ctx, e, e.key.CurrentMaterialID)
	if err == nil && x.m == nil {
		err = kms.Internal(errors.New("current material of key " + e.key.ID + " is missing"))
	}
	if err != nil {
		x.done()
		return nil, err
	}
	return x, nil
}

// checkUse authorizes a cryptographic operation on a key, then checks the
// key's state and usage.
func (s *Service) checkUse(ctx context.Context, c *Caller, e *keyEntry, a access, op string, alg *string) error {
	if err := s.authorizeKey(ctx, c, e, a); err != nil {
		return err
	}
	if err := usable(&e.key); err != nil {
		return err
	}
	return symmetricUse(&e.key, op, alg)
}

// Encrypt encrypts up to 4 KiB under a key.
func (s *Service) Encrypt(ctx context.Context, c *Caller, in *EncryptInput) (*EncryptOutput, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	x, err := s.encrypterFor(ctx, c, *in.KeyId, "Encrypt",
		access{action: "Encrypt", fill: algorithmContext(in.EncryptionAlgorithm, in.EncryptionContext),
			grantOK: withContext(in.EncryptionContext)}, in.EncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	defer x.done()
	if in.DryRun {
		return nil, errDryRun
	}
	blob, err := x.encrypt(in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &EncryptOutput{CiphertextBlob: blob, KeyId: x.e.key.ARN(), EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}, nil
}

// opened is the result of decrypting a ciphertext blob.
type opened struct {
	plaintext  []byte
	keyARN     string
	materialID string
}

// open decrypts a symmetric ciphertext blob (spec §2.5 Decrypt steps 1-6),
// authorizing a (whose fill should set the algorithm and context keys).
// With dryRun it stops after the checks.
func (s *Service) open(ctx context.Context, c *Caller, blob []byte, keyID *string, alg *string, encCtx map[string]string, a access, op string, dryRun bool) (*opened, error) {
	hdr, err := keys.ParseHeader(blob)
	if err != nil {
		return nil, kms.Errorf(kms.ErrInvalidCiphertext, "")
	}
	a.cross = true
	if keyID != nil {
		a.id = *keyID
	}
	var e *keyEntry
	if keyID != nil {
		e, err = s.lookup(ctx, c, *keyID, true)
		if err != nil {
			return nil, err
		}
		if e.key.ARN() != hdr.KeyARN {
			s.cache.release(e)
			return nil, kms.Errorf(kms.ErrIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
		}
	} else {
		e, err = s.blobKey(ctx, c, hdr.KeyARN)
		if err != nil {
			return nil, err
		}
	}
	defer s.cache.release(e)
	if err := s.checkUse(ctx, c, e, a, op, alg); err != nil {
		var ke *kms.Error
		if keyID == nil && errors.As(err, &ke) && ke.Code == kms.ErrAccessDenied {
			return nil, errBlobKeyDenied // the request named no key to be denied on
		}
		return nil, err
	}
	if dryRun {
		return nil, errDryRun
	}
	mid := hdr.MaterialID.String()
	m, err := s.material(ctx, e, mid)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, kms.Errorf(kms.ErrInvalidCiphertext, "")
	}
	pt, err := keys.Decrypt(m, blob, encCtx)
	if err != nil {
		return nil, kms.Errorf(kms.ErrInvalidCiphertext, "")
	}
	return &opened{plaintext: pt, keyARN: e.key.ARN(), materialID: mid}, nil
}

var errBlobKeyDenied = kms.Errorf(kms.ErrAccessDenied, "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.")

// blobKey finds the key a ciphertext names when the request names none.
func (s *Service) blobKey(ctx context.Context, c *Caller, keyARN string) (*keyEntry, error) {
	denied := errBlobKeyDenied
	a, err := parseARN(keyARN)
	if err != nil || a.region != c.Region {
		return nil, denied
	}
	id, ok := strings.CutPrefix(a.resource, "key/")
	if !ok {
		return nil, denied
	}
	e, err := s.lookupID(ctx, a.account, a.region, id)
	var ke *kms.Error
	if errors.As(err, &ke) && ke.Code == kms.ErrNotFound {
		return nil, denied
	}
	return e, err
}

// Decrypt decrypts a ciphertext blob made by Encrypt or GenerateDataKey*.
func (s *Service) Decrypt(ctx context.Context, c *Caller, in *DecryptInput) (*DecryptOutput, error) {
	if in.Recipient != nil {
		return nil, errRecipient()
	}
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	o, err := s.open(ctx, c, in.CiphertextBlob, in.KeyId, in.EncryptionAlgorithm, in.EncryptionContext,
		access{action: "Decrypt", fill: algorithmContext(in.EncryptionAlgorithm, in.EncryptionContext),
			grantOK: withContext(in.EncryptionContext)}, "Decrypt", in.DryRun)
	if err != nil {
		return nil, err
	}
	return &DecryptOutput{KeyId: o.keyARN, Plaintext: o.plaintext, EncryptionAlgorithm: "SYMMETRIC_DEFAULT", KeyMaterialId: o.materialID}, nil
}

// ReEncrypt decrypts a ciphertext and encrypts the plaintext under another
// key (or the same key with another context) without revealing it.
func (s *Service) ReEncrypt(ctx context.Context, c *Caller, in *ReEncryptInput) (*ReEncryptOutput, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	// kms:ReEncryptOnSameKey compares the key the ciphertext names with the
	// destination; an unparsable blob fails in open below.
	hdr, _ := keys.ParseHeader(in.CiphertextBlob)
	var same bool
	if e, err := s.lookup(ctx, c, *in.DestinationKeyId, true); err == nil {
		same = hdr.KeyARN == e.key.ARN()
		s.cache.release(e)
	}
	sameKey := func(pc policy.Context) { pc.SetBool(policy.KeyReEncryptOnSameKey, same) }
	x, err := s.encrypterFor(ctx, c, *in.DestinationKeyId, "ReEncrypt", access{action: "ReEncryptTo", fill: func(pc policy.Context) {
		algorithmContext(in.DestinationEncryptionAlgorithm, in.DestinationEncryptionContext)(pc)
		sameKey(pc)
	}, grantOK: withContext(in.DestinationEncryptionContext)}, in.DestinationEncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	defer x.done()
	o, err := s.open(ctx, c, in.CiphertextBlob, in.SourceKeyId, in.SourceEncryptionAlgorithm, in.SourceEncryptionContext,
		access{action: "ReEncryptFrom", fill: func(pc policy.Context) {
			algorithmContext(in.SourceEncryptionAlgorithm, in.SourceEncryptionContext)(pc)
			sameKey(pc)
		}, grantOK: withContext(in.SourceEncryptionContext)}, "ReEncrypt", in.DryRun)
	if err != nil {
		return nil, err
	}
	defer clear(o.plaintext)
	blob, err := x.encrypt(o.plaintext, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return &ReEncryptOutput{
		CiphertextBlob:                 blob,
		SourceKeyId:                    o.keyARN,
		KeyId:                          x.e.key.ARN(),
		SourceEncryptionAlgorithm:      "SYMMETRIC_DEFAULT",
		DestinationEncryptionAlgorithm: "SYMMETRIC_DEFAULT",
		SourceKeyMaterialId:            o.materialID,
		DestinationKeyMaterialId:       x.e.key.CurrentMaterialID,
	}, nil
}

// GenerateDataKey returns a fresh data key in plaintext and encrypted.
func (s *Service) GenerateDataKey(ctx context.Context, c *Caller, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	if in.Recipient != nil {
		return nil, errRecipient()
	}
	return s.generateDataKey(ctx, c, in, "GenerateDataKey", true)
}

// GenerateDataKeyWithoutPlaintext returns a fresh data key, encrypted only.
func (s *Service) GenerateDataKeyWithoutPlaintext(ctx context.Context, c *Caller, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	if in.Recipient != nil {
		return nil, kms.Errorf(kms.ErrValidation, "Recipient is not a member of GenerateDataKeyWithoutPlaintext.")
	}
	return s.generateDataKey(ctx, c, in, "GenerateDataKeyWithoutPlaintext", false)
}

func (s *Service) generateDataKey(ctx context.Context, c *Caller, in *GenerateDataKeyInput, op string, withPlaintext bool) (*GenerateDataKeyOutput, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	x, err := s.encrypterFor(ctx, c, *in.KeyId, op, access{action: op, fill: algorithmContext(nil, in.EncryptionContext),
		grantOK: withContext(in.EncryptionContext)}, nil)
	if err != nil {
		return nil, err
	}
	defer x.done()
	if in.DryRun {
		return nil, errDryRun
	}
	n := 32
	switch {
	case in.NumberOfBytes != nil:
		n = int(*in.NumberOfBytes)
	case *in.KeySpec == "AES_128":
		n = 16
	}
	dk := make([]byte, n)
	rand.Read(dk)
	blob, err := x.encrypt(dk, in.EncryptionContext)
	if err != nil {
		clear(dk)
		return nil, err
	}
	out := &GenerateDataKeyOutput{CiphertextBlob: blob, KeyId: x.e.key.ARN(), KeyMaterialId: x.e.key.CurrentMaterialID}
	if withPlaintext {
		out.Plaintext = dk
	} else {
		clear(dk)
	}
	return out, nil
}

// GenerateRandom returns random bytes from the system CSPRNG.
func (s *Service) GenerateRandom(ctx context.Context, c *Caller, in *GenerateRandomInput) (*GenerateRandomOutput, error) {
	if err := s.authorizeIAM(ctx, c, "GenerateRandom", "*", nil); err != nil {
		return nil, err
	}
	if in.Recipient != nil {
		return nil, errRecipient()
	}
	if in.CustomKeyStoreId != nil {
		return nil, kms.Errorf("CustomKeyStoreNotFoundException", "Custom key store %s does not exist.", *in.CustomKeyStoreId)
	}
	b := make([]byte, *in.NumberOfBytes)
	rand.Read(b)
	return &GenerateRandomOutput{Plaintext: b}, nil
}
