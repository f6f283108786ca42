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

// encrypter is a key ready to encrypt: an acquired cache entry and either
// its current symmetric material or its key pair. Callers must call done.
type encrypter struct {
	s    *Service
	e    *keyEntry
	m    *keys.SymmetricKey
	pair *keys.PrivateKey
	alg  string
}

func (x *encrypter) done() { x.s.cache.release(x.e) }

func (x *encrypter) encrypt(plaintext []byte, encCtx map[string]string) ([]byte, error) {
	if x.pair != nil {
		return asymEncrypt(&x.e.key, x.pair, x.alg, plaintext, encCtx)
	}
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

// materialID is the KeyMaterialId of a response: symmetric keys only.
func (x *encrypter) materialID() string {
	if x.pair != nil {
		return ""
	}
	return x.e.key.CurrentMaterialID
}

// asymEncrypt encrypts with RSAES-OAEP or SM2PKE: no encryption context, and
// at most MaxPlaintext bytes (spec §2.5 Encrypt).
func asymEncrypt(k *kms.Key, pair *keys.PrivateKey, alg string, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	if len(encCtx) > 0 {
		return nil, errAsymContext
	}
	if n := keys.MaxPlaintext(k.Spec, alg); len(plaintext) > n {
		return nil, validationf("Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", alg, k.Spec, n)
	}
	ct, err := pair.Encrypt(alg, plaintext)
	if err != nil {
		return nil, kms.Internal(err)
	}
	return ct, nil
}

var errAsymContext = validationf("EncryptionContext is not supported with asymmetric KMS keys.")

// encrypterFor resolves, authorizes and checks a key for encryption by op.
// alg nil means SYMMETRIC_DEFAULT.
func (s *Service) encrypterFor(ctx context.Context, c *Caller, id, op string, a access, alg *string) (*encrypter, error) {
	e, err := s.lookup(ctx, c, id, true)
	if err != nil {
		return nil, err
	}
	x := &encrypter{s: s, e: e, alg: keys.AlgSymmetricDefault}
	if alg != nil {
		x.alg = *alg
	}
	a.id, a.cross = id, true
	if err := s.checkUse(ctx, c, e, a, op, alg); err != nil {
		x.done()
		return nil, err
	}
	if x.alg != keys.AlgSymmetricDefault {
		x.pair, err = s.keyPair(ctx, e)
	} else {
		x.m, err = s.material(ctx, e, e.key.CurrentMaterialID)
		if err == nil && x.m == nil {
			err = kms.Internal(errors.New("current material of key " + e.key.ID + " is missing"))
		}
	}
	if err != nil {
		x.done()
		return nil, err
	}
	return x, nil
}

// checkUse authorizes an encryption operation on a key, then checks the
// key's state, usage and algorithm (nil: SYMMETRIC_DEFAULT).
func (s *Service) checkUse(ctx context.Context, c *Caller, e *keyEntry, a access, op string, alg *string) error {
	name := keys.AlgSymmetricDefault
	if alg != nil {
		name = *alg
	}
	return s.checkKey(ctx, c, e, a, op, kms.KeyUsageEncryptDecrypt, name)
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
	if x.pair != nil && len(in.EncryptionContext) > 0 {
		return nil, errAsymContext
	}
	if in.DryRun {
		return nil, errDryRun
	}
	blob, err := x.encrypt(in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &EncryptOutput{CiphertextBlob: blob, KeyId: x.e.key.ARN(), EncryptionAlgorithm: x.alg}, nil
}

// opened is the result of decrypting a ciphertext blob.
type opened struct {
	plaintext  []byte
	keyARN     string
	alg        string
	materialID string // symmetric ciphertexts only
}

// open decrypts a ciphertext (spec §2.5 Decrypt), authorizing a (whose fill
// should set the algorithm and context keys). With dryRun it stops after
// the checks.
func (s *Service) open(ctx context.Context, c *Caller, blob []byte, keyID *string, alg *string, encCtx map[string]string, a access, op string, dryRun, ignoreCiphertext bool) (*opened, error) {
	a.cross = true
	if keyID != nil {
		a.id = *keyID
	}
	if dryRun && ignoreCiphertext {
		return nil, s.dryRunWithoutCiphertext(ctx, c, keyID, alg, encCtx, a, op)
	}
	hdr, perr := keys.ParseHeader(blob)
	// An asymmetric algorithm needs the key named. Without one, a blob of
	// ours falls through to be refused for its key's algorithms.
	if alg != nil && *alg != keys.AlgSymmetricDefault && (keyID != nil || perr != nil) {
		return s.openAsym(ctx, c, blob, keyID, *alg, encCtx, a, op, dryRun)
	}
	var e *keyEntry
	if keyID != nil {
		var err error
		if e, err = s.lookup(ctx, c, *keyID, true); err != nil {
			return nil, err
		}
		switch {
		case keys.IsAsymmetric(e.key.Spec):
			// Report the algorithm mismatch, not the ciphertext.
			err = s.checkUse(ctx, c, e, a, op, alg)
		case perr != nil:
			err = errInvalidCiphertext
		case !madeBy(&e.key, hdr.KeyARN):
			err = kms.Errorf(kms.ErrIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
		}
		if err != nil {
			s.cache.release(e)
			return nil, err
		}
	} else {
		if perr != nil {
			return nil, errInvalidCiphertext
		}
		var err error
		if e, err = s.blobKey(ctx, c, hdr.KeyARN); err != nil {
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
		return nil, errInvalidCiphertext
	}
	pt, err := keys.Decrypt(m, blob, encCtx)
	if err != nil {
		return nil, errInvalidCiphertext
	}
	return &opened{plaintext: pt, keyARN: e.key.ARN(), alg: keys.AlgSymmetricDefault, materialID: mid}, nil
}

// dryRunWithoutCiphertext is a dry run of open with DryRunModifiers
// IGNORE_CIPHERTEXT: the key the request names is checked as it would be
// for a ciphertext (state, usage, algorithm, permissions), and nothing is
// decrypted. Without a ciphertext the request must name the key.
func (s *Service) dryRunWithoutCiphertext(ctx context.Context, c *Caller, keyID *string, alg *string, encCtx map[string]string, a access, op string) error {
	if keyID == nil {
		return validationf("KeyId is required when DryRunModifiers is %s: without a ciphertext, the request must name the key.", dryRunIgnoreCiphertext)
	}
	e, err := s.lookup(ctx, c, *keyID, true)
	if err != nil {
		return err
	}
	defer s.cache.release(e)
	if err := s.checkUse(ctx, c, e, a, op, alg); err != nil {
		return err
	}
	if keys.IsAsymmetric(e.key.Spec) && len(encCtx) > 0 {
		return errAsymContext
	}
	return errDryRun
}

// openAsym decrypts an RSAES-OAEP or SM2PKE ciphertext. The request must
// name the key: the ciphertext carries no metadata.
func (s *Service) openAsym(ctx context.Context, c *Caller, blob []byte, keyID *string, alg string, encCtx map[string]string, a access, op string, dryRun bool) (*opened, error) {
	if keyID == nil {
		return nil, validationf("KeyId is required to decrypt with the asymmetric algorithm %s.", alg)
	}
	e, err := s.lookup(ctx, c, *keyID, true)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.checkUse(ctx, c, e, a, op, &alg); err != nil {
		return nil, err
	}
	if len(encCtx) > 0 {
		return nil, errAsymContext
	}
	if dryRun {
		return nil, errDryRun
	}
	p, err := s.keyPair(ctx, e)
	if err != nil {
		return nil, err
	}
	pt, err := p.Decrypt(alg, blob)
	if err != nil {
		return nil, errInvalidCiphertext
	}
	return &opened{plaintext: pt, keyARN: e.key.ARN(), alg: alg}, nil
}

// errInvalidCiphertext is every failure to open a ciphertext: deliberately
// without detail.
var errInvalidCiphertext = kms.Errorf(kms.ErrInvalidCiphertext, "")

var errBlobKeyDenied = kms.Errorf(kms.ErrAccessDenied, "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.")

// blobKey finds the key a ciphertext names when the request names none.
func (s *Service) blobKey(ctx context.Context, c *Caller, keyARN string) (*keyEntry, error) {
	denied := errBlobKeyDenied
	a, err := parseARN(keyARN)
	if err != nil {
		return nil, denied
	}
	id, ok := strings.CutPrefix(a.resource, "key/")
	if !ok || a.region != c.Region && !strings.HasPrefix(id, kms.MultiRegionPrefix) {
		return nil, denied
	}
	// A multi-Region key's ciphertext decrypts under its copy in the
	// caller's region, whichever copy made it.
	e, err := s.lookupID(ctx, a.account, c.Region, id)
	var ke *kms.Error
	if errors.As(err, &ke) && ke.Code == kms.ErrNotFound {
		return nil, denied
	}
	if err != nil {
		return nil, err
	}
	return s.charged(c, e)
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
			grantOK: withContext(in.EncryptionContext)}, "Decrypt", in.DryRun, ignoresCiphertext(in.DryRun, in.DryRunModifiers))
	if err != nil {
		return nil, err
	}
	return &DecryptOutput{KeyId: o.keyARN, Plaintext: o.plaintext, EncryptionAlgorithm: o.alg, KeyMaterialId: o.materialID}, nil
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
	source := hdr.KeyARN
	if in.SourceKeyId != nil && (ignoresCiphertext(in.DryRun, in.DryRunModifiers) ||
		in.SourceEncryptionAlgorithm != nil && *in.SourceEncryptionAlgorithm != keys.AlgSymmetricDefault) {
		// Asymmetric ciphertexts name no key, nor does a dry run without
		// one; the request does.
		if e, err := s.lookup(ctx, c, *in.SourceKeyId, true); err == nil {
			source = e.key.ARN()
			s.cache.release(e)
		}
	}
	var same bool
	if e, err := s.lookup(ctx, c, *in.DestinationKeyId, true); err == nil {
		same = madeBy(&e.key, source)
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
		}, grantOK: withContext(in.SourceEncryptionContext)}, "ReEncrypt", in.DryRun, ignoresCiphertext(in.DryRun, in.DryRunModifiers))
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
		SourceEncryptionAlgorithm:      o.alg,
		DestinationEncryptionAlgorithm: x.alg,
		SourceKeyMaterialId:            o.materialID,
		DestinationKeyMaterialId:       x.materialID(),
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
	out := &GenerateDataKeyOutput{CiphertextBlob: blob, KeyId: x.e.key.ARN(), KeyMaterialId: x.materialID()}
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
		return nil, kms.Errorf(kms.ErrCustomKeyStoreNotFound, "Custom key store %s does not exist.", *in.CustomKeyStoreId)
	}
	b := make([]byte, *in.NumberOfBytes)
	rand.Read(b)
	return &GenerateRandomOutput{Plaintext: b}, nil
}

// madeBy says whether a ciphertext whose header names keyARN was made by k
// or, for a multi-Region key, by any copy of it.
func madeBy(k *kms.Key, keyARN string) bool {
	if k.ARN() == keyARN {
		return true
	}
	a, err := parseARN(keyARN)
	return err == nil && k.MultiRegion() && a.account == k.Account && a.resource == "key/"+k.KeyID()
}
