package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

// Grant quotas (spec §8.7): per key, and per grantee on one key.
const (
	maxGrantsPerKey     = 50000
	maxGrantsPerGrantee = 500
)

// grantOpsFor returns the operations a grant on k may allow (spec §8.2).
func grantOpsFor(k *kms.Key) []string {
	switch {
	case k.Spec == kms.KeySpecSymmetricDefault:
		return symmetricGrantOps
	case k.Usage == kms.KeyUsageEncryptDecrypt:
		return asymEncryptGrantOps
	case k.Usage == kms.KeyUsageSignVerify:
		return signGrantOps
	case k.Usage == kms.KeyUsageGenerateVerifyMAC:
		return macGrantOps
	case k.Usage == kms.KeyUsageKeyAgreement:
		return agreementGrantOps
	}
	return nil
}

var (
	symmetricGrantOps = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
		"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
		"CreateGrant", "RetireGrant", "DescribeKey"}
	asymEncryptGrantOps = []string{"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey",
		"CreateGrant", "RetireGrant", "DescribeKey"}
	signGrantOps      = []string{"Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey"}
	macGrantOps       = []string{"GenerateMac", "VerifyMac", "CreateGrant", "RetireGrant", "DescribeKey"}
	agreementGrantOps = []string{"DeriveSharedSecret", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey"}
)

// Grant tokens are opaque but not secret. Ours name the grant and its key
// and carry a MAC, so a token can be checked and resolved without a lookup
// and cannot be forged: version || grant id (32) || key id (16) || nonce (8)
// || HMAC-SHA256 truncated to 16. A grant on a multi-Region key has
// version 2 and the key's region after its id: length (1) || region.
const (
	grantTokenVersion       = 1
	grantTokenVersionRegion = 2
	grantTokenLen           = 1 + 32 + 16 + 8 + 16
)

func (s *Service) newGrantToken(g *store.Grant) string {
	id, region, multi := strings.Cut(g.KeyID, "@")
	b := make([]byte, 0, grantTokenLen+1+len(region))
	b = append(b, grantTokenVersion)
	if multi {
		b[0] = grantTokenVersionRegion
	}
	gid, _ := hex.DecodeString(g.ID)
	b = append(b, gid...)
	kid, _ := hex.DecodeString(strings.ReplaceAll(strings.TrimPrefix(id, kms.MultiRegionPrefix), "-", ""))
	b = append(b, kid...)
	if multi {
		b = append(b, byte(len(region)))
		b = append(b, region...)
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	b = append(b, nonce[:]...)
	m := hmac.New(sha256.New, s.grantKey)
	m.Write(b)
	b = m.Sum(b)[:len(b)+16]
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadGrantToken = kms.Errorf(kms.ErrInvalidGrantToken, "The grant token is not valid.")

// parseGrantToken returns the store id of the key and the grant id a
// token names.
func (s *Service) parseGrantToken(tok string) (keyID, grantID string, err error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) < grantTokenLen {
		return "", "", errBadGrantToken
	}
	var region string
	switch n := len(b) - grantTokenLen - 1; {
	case b[0] == grantTokenVersion && n == -1:
	case b[0] == grantTokenVersionRegion && n > 0 && int(b[49]) == n:
		region = string(b[50 : 50+n])
	default:
		return "", "", errBadGrantToken
	}
	m := hmac.New(sha256.New, s.grantKey)
	m.Write(b[:len(b)-16])
	if !hmac.Equal(m.Sum(nil)[:16], b[len(b)-16:]) {
		return "", "", errBadGrantToken
	}
	h := hex.EncodeToString(b[33:49])
	if region != "" {
		return kms.RowID(region, kms.MultiRegionPrefix+h), hex.EncodeToString(b[1:33]), nil
	}
	keyID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	return keyID, hex.EncodeToString(b[1:33]), nil
}

// checkGrantTokens validates the GrantTokens of a request. Grants take
// effect at once here, so a valid token adds nothing to authorization.
func (s *Service) checkGrantTokens(tokens []string) error {
	for _, t := range tokens {
		if _, _, err := s.parseGrantToken(t); err != nil {
			return err
		}
	}
	return nil
}

func validGrantID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// granteeMatches says whether a grant's grantee (or retiring principal) on
// a key of keyAccount is the caller: its own ARN, its role (for a
// session), or its account root for the root itself. A service principal
// is matched by a session of that service's service-linked role, and only
// on keys of the role's own account, so that no tenant can act as a
// service on another tenant's keys.
func granteeMatches(grantee string, p *kms.Principal, keyAccount string) bool {
	if store.IsServicePrincipal(grantee) {
		return p.ServicePrincipal == grantee && p.Account == keyAccount
	}
	return grantee == p.ARN || p.RoleARN != "" && grantee == p.RoleARN
}

// sourceAllowed checks a grant's SourceArn constraint against the
// request's signed X-Amz-Source-Arn. It applies to every operation of the
// grant but RetireGrant, as AWS documents.
func sourceAllowed(g *store.Grant, c *Caller) bool {
	return g.SourceArn == "" || g.SourceArn == c.SourceArn
}

// contextAllowed checks a grant's constraints against a request's
// encryption context (spec §6).
func contextAllowed(g *store.Grant, ec map[string]string) bool {
	if g.EncryptionContextEquals != nil && !maps.Equal(g.EncryptionContextEquals, ec) {
		return false
	}
	for k, v := range g.EncryptionContextSubset {
		if got, ok := ec[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// grantAllows says whether some grant on the key of e lets the caller
// perform a.action. a.grantOK, when set, adds the operation's own test
// (constraints against the request's encryption context, or the limits of
// a child grant).
func grantAllows(e *keyEntry, c *Caller, a *access) bool {
	for i := range e.grants {
		g := &e.grants[i]
		if granteeMatches(g.GranteePrincipal, &c.Principal, e.key.Account) && slices.Contains(g.Operations, a.action) &&
			sourceAllowed(g, c) && (a.grantOK == nil || a.grantOK(g)) {
			return true
		}
	}
	return false
}

// withContext is the grant test of operations that carry an encryption
// context.
func withContext(ec map[string]string) func(*store.Grant) bool {
	return func(g *store.Grant) bool { return contextAllowed(g, ec) }
}

// childWithin says whether a child grant stays within its parent (spec
// §8.4): a subset of its operations, and constraints at least as strict.
func childWithin(parent *store.Grant, ops []string, c *GrantConstraints) bool {
	for _, op := range ops {
		if !slices.Contains(parent.Operations, op) {
			return false
		}
	}
	if parent.SourceArn != "" && c.sourceArn() != parent.SourceArn {
		return false // a child may not drop or change its parent's SourceArn
	}
	var eq, sub map[string]string
	if c != nil {
		eq, sub = c.EncryptionContextEquals, c.EncryptionContextSubset
	}
	if parent.EncryptionContextEquals != nil {
		return maps.Equal(parent.EncryptionContextEquals, eq) && sub == nil
	}
	if parent.EncryptionContextSubset == nil {
		return true
	}
	if eq == nil && sub == nil {
		return false
	}
	has := func(m map[string]string, k, v string) bool { got, ok := m[k]; return ok && got == v }
	for k, v := range parent.EncryptionContextSubset {
		if eq != nil && !has(eq, k, v) || sub != nil && !has(sub, k, v) {
			return false
		}
	}
	return true
}

// grantEntry lists a grant. A grant to a service shows the service in both
// GranteePrincipal and GranteeServicePrincipal, as AWS documents; a
// retiring service principal shows in RetiringServicePrincipal alone.
func grantEntry(g *store.Grant, keyARN string) GrantListEntry {
	e := GrantListEntry{
		KeyId: keyARN, GrantId: g.ID, Name: g.Name, CreationDate: Timestamp(g.Created),
		GranteePrincipal: g.GranteePrincipal, RetiringPrincipal: g.RetiringPrincipal,
		IssuingAccount: g.IssuingAccount, Operations: g.Operations,
	}
	if store.IsServicePrincipal(g.GranteePrincipal) {
		e.GranteeServicePrincipal = g.GranteePrincipal
	}
	if store.IsServicePrincipal(g.RetiringPrincipal) {
		e.RetiringPrincipal, e.RetiringServicePrincipal = "", g.RetiringPrincipal
	}
	if g.EncryptionContextEquals != nil || g.EncryptionContextSubset != nil || g.SourceArn != "" {
		e.Constraints = &GrantConstraints{EncryptionContextEquals: g.EncryptionContextEquals, EncryptionContextSubset: g.EncryptionContextSubset}
		if g.SourceArn != "" {
			e.Constraints.SourceArn = &g.SourceArn
		}
	}
	return e
}

func sameGrant(g *store.Grant, grantee, retiring, issuing string, ops []string, c *GrantConstraints) bool {
	var eq, sub map[string]string
	if c != nil {
		eq, sub = c.EncryptionContextEquals, c.EncryptionContextSubset
	}
	a, b := slices.Clone(g.Operations), slices.Clone(ops)
	slices.Sort(a)
	slices.Sort(b)
	return g.GranteePrincipal == grantee && g.RetiringPrincipal == retiring && g.IssuingAccount == issuing &&
		slices.Equal(slices.Compact(a), slices.Compact(b)) && g.SourceArn == c.sourceArn() &&
		maps.Equal(g.EncryptionContextEquals, eq) && maps.Equal(g.EncryptionContextSubset, sub)
}

// validSourceArn accepts an ARN: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
// with a partition, a service and a resource (S3 bucket ARNs have neither
// region nor account).
func validSourceArn(s string) bool {
	p := strings.SplitN(s, ":", 6)
	return len(p) == 6 && p[0] == "arn" && p[1] == kms.Partition && p[2] != "" && p[5] != "" &&
		(p[4] == "" || len(p[4]) == 12 && strings.Trim(p[4], "0123456789") == "")
}

// grantPrincipals checks CreateGrant's principals by AWS's rules (the
// CreateGrant API reference) and returns the grantee and the retiring
// principal ("" when none), each an ARN or a service principal.
func grantPrincipals(in *CreateGrantInput) (grantee, retiring string, err error) {
	switch {
	case in.GranteePrincipal != nil && in.GranteeServicePrincipal != nil:
		return "", "", validationf("You must specify either GranteePrincipal or GranteeServicePrincipal, but not both.")
	case in.GranteePrincipal == nil && in.GranteeServicePrincipal == nil:
		return "", "", validationf("You must specify either GranteePrincipal or GranteeServicePrincipal.")
	case in.RetiringPrincipal != nil && in.RetiringServicePrincipal != nil:
		return "", "", validationf("You can specify either RetiringPrincipal or RetiringServicePrincipal, but not both.")
	}
	for _, p := range []*string{in.GranteePrincipal, in.RetiringPrincipal} {
		if p != nil && !validPrincipalARN(*p) {
			return "", "", validationf("%s is not a valid principal.", *p)
		}
	}
	for _, p := range []*string{in.GranteeServicePrincipal, in.RetiringServicePrincipal} {
		if p != nil && !kms.ValidServicePrincipal(*p) {
			return "", "", validationf("%s is not a valid service principal; a service principal has the form service.amazonaws.com.", *p)
		}
	}
	if src := in.Constraints.sourceArn(); in.Constraints != nil && in.Constraints.SourceArn != nil && !validSourceArn(src) {
		return "", "", validationf("The SourceArn grant constraint %s is not a valid ARN.", src)
	}
	if in.GranteeServicePrincipal != nil {
		if in.Constraints.sourceArn() == "" {
			return "", "", validationf("When you specify a GranteeServicePrincipal, you must also specify a SourceArn grant constraint.")
		}
		if in.RetiringPrincipal == nil && in.RetiringServicePrincipal == nil {
			return "", "", validationf("When you specify a GranteeServicePrincipal, you must also specify either a RetiringPrincipal or a RetiringServicePrincipal.")
		}
	}
	grantee = deref(in.GranteePrincipal) + deref(in.GranteeServicePrincipal)
	retiring = deref(in.RetiringPrincipal) + deref(in.RetiringServicePrincipal)
	return grantee, retiring, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// validPrincipalARN accepts the AWS principals a grant may name.
func validPrincipalARN(s string) bool {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] != kms.Partition || p[3] != "" || len(p[4]) != 12 {
		return false
	}
	switch p[2] {
	case "iam":
		return p[5] == "root" || strings.HasPrefix(p[5], "user/") || strings.HasPrefix(p[5], "role/")
	case "sts":
		return strings.HasPrefix(p[5], "assumed-role/")
	}
	return false
}

// CreateGrant lets a principal use a key for some operations.
func (s *Service) CreateGrant(ctx context.Context, c *Caller, in *CreateGrantInput) (*CreateGrantOutput, error) {
	if err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	grantee, retiring, err := grantPrincipals(in)
	if err != nil {
		return nil, err
	}
	if len(in.Operations) == 0 {
		return nil, validationf("1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	k := &e.key
	for _, op := range in.Operations {
		if !slices.Contains(grantOpsFor(k), op) {
			return nil, validationf("Operation %s is not valid for a grant on %s key %s.", op, k.Spec, k.ARN())
		}
	}
	// SourceArn is supported on every key; the encryption context only
	// on symmetric encryption keys.
	if in.Constraints.hasContext() && k.Spec != kms.KeySpecSymmetricDefault {
		return nil, validationf("Grant constraints are valid only for symmetric encryption keys; %s has key spec %s.", k.ARN(), k.Spec)
	}
	a := access{action: "CreateGrant", cross: true, id: *in.KeyId,
		grantOK: func(parent *store.Grant) bool { return childWithin(parent, in.Operations, in.Constraints) },
		fill: func(pc policy.Context) {
			pc.SetMulti(policy.KeyGrantOperations, in.Operations)
			// kms:GranteePrincipal holds the grantee as ListGrants shows
			// it, a service principal included.
			pc.Set(policy.KeyGranteePrincipal, grantee)
			if in.GranteeServicePrincipal != nil {
				pc.Set(policy.KeyGranteeServicePrincipal, grantee)
			}
			if in.RetiringPrincipal != nil {
				pc.Set(policy.KeyRetiringPrincipal, retiring)
			}
			if in.RetiringServicePrincipal != nil {
				pc.Set(policy.KeyRetiringServicePrincipal, retiring)
			}
			var types []string
			if in.Constraints != nil && in.Constraints.EncryptionContextEquals != nil {
				types = append(types, "EncryptionContextEquals")
			}
			if in.Constraints != nil && in.Constraints.EncryptionContextSubset != nil {
				types = append(types, "EncryptionContextSubset")
			}
			if src := in.Constraints.sourceArn(); src != "" {
				types = append(types, "SourceArn")
				pc.Set(policy.KeyGrantConstraintSourceArn, src)
			}
			pc.SetMulti(policy.KeyGrantConstraintType, types)
			setGrantIsForAWSResource(pc, c)
		}}
	if err := s.authorizeKey(ctx, c, e, a); err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	if len(e.grants) >= maxGrantsPerKey {
		return nil, kms.Errorf(kms.ErrLimitExceeded, "Key %s already has %d grants.", k.ARN(), maxGrantsPerKey)
	}
	if n := countGrantee(e.grants, grantee); n >= maxGrantsPerGrantee {
		return nil, kms.Errorf(kms.ErrLimitExceeded, "Principal %s already has %d grants on key %s.", grantee, n, k.ARN())
	}
	if in.DryRun {
		return nil, errDryRun
	}
	issuing := kms.RootARN(c.Principal.Account)
	if in.Name != nil {
		for i := range e.grants {
			if g := &e.grants[i]; g.Name == *in.Name && sameGrant(g, grantee, retiring, issuing, in.Operations, in.Constraints) {
				return &CreateGrantOutput{GrantToken: s.newGrantToken(g), GrantId: g.ID}, nil
			}
		}
	}
	var id [32]byte
	rand.Read(id[:])
	g := store.Grant{
		ID: hex.EncodeToString(id[:]), KeyID: k.ID, GranteePrincipal: grantee, RetiringPrincipal: retiring,
		IssuingAccount: issuing, Operations: slices.Clone(in.Operations), Created: s.now().UTC().Truncate(time.Millisecond),
	}
	if in.Name != nil {
		g.Name = *in.Name
	}
	if in.Constraints != nil {
		g.EncryptionContextEquals, g.EncryptionContextSubset = in.Constraints.EncryptionContextEquals, in.Constraints.EncryptionContextSubset
		g.SourceArn = in.Constraints.sourceArn()
	}
	if err := s.store.CreateGrant(ctx, g); err != nil {
		return nil, kms.Internal(err)
	}
	s.cache.invalidateKey(k.ID)
	return &CreateGrantOutput{GrantToken: s.newGrantToken(&g), GrantId: g.ID}, nil
}

// setGrantIsForAWSResource sets kms:GrantIsForAWSResource: true when an
// AWS service makes the request, which here means a session of a
// service-linked role.
func setGrantIsForAWSResource(pc policy.Context, c *Caller) {
	pc.SetBool(policy.KeyGrantIsForAWSResource, c.Principal.ServicePrincipal != "")
}

// onePrincipal returns the one principal of a list filter that has an ARN
// form and a service form; both set is a ValidationException.
func onePrincipal(arn, service *string, arnName, serviceName string) (string, error) {
	if arn != nil && service != nil {
		return "", validationf("You can specify either %s or %s, but not both.", arnName, serviceName)
	}
	if service != nil && !kms.ValidServicePrincipal(*service) {
		return "", validationf("%s is not a valid service principal; a service principal has the form service.amazonaws.com.", *service)
	}
	return deref(arn) + deref(service), nil
}

// ListGrants lists the grants of a key.
func (s *Service) ListGrants(ctx context.Context, c *Caller, in *ListGrantsInput) (*ListGrantsOutput, error) {
	if in.GrantId != nil && !validGrantID(*in.GrantId) {
		return nil, kms.Errorf("InvalidGrantIdException", "Grant ID %s is not valid.", *in.GrantId)
	}
	// The GranteePrincipal filter matches a service principal too.
	grantee, err := onePrincipal(in.GranteePrincipal, in.GranteeServicePrincipal, "GranteePrincipal", "GranteeServicePrincipal")
	if err != nil {
		return nil, err
	}
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "ListGrants", cross: true, id: *in.KeyId,
		fill: func(pc policy.Context) { setGrantIsForAWSResource(pc, c) }}); err != nil {
		return nil, err
	}
	after, err := s.parseMarker("ListGrants", in.Marker)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(in.Limit, 50, 100)
	f := store.GrantFilter{KeyID: e.key.ID, After: after, Limit: limit + 1}
	if in.GrantId != nil {
		f.GrantID = *in.GrantId
	}
	f.GranteePrincipal = grantee
	gs, err := s.store.ListGrants(ctx, f)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errGrantMarkerGone(in.Marker)
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	return s.grantPage("ListGrants", gs, limit, func(*store.Grant) string { return e.key.ARN() }), nil
}

func (s *Service) grantPage(op string, gs []store.Grant, limit int, arn func(*store.Grant) string) *ListGrantsOutput {
	out := &ListGrantsOutput{Grants: make([]GrantListEntry, 0, min(len(gs), limit))}
	if len(gs) > limit {
		gs = gs[:limit]
		out.Truncated = true
		out.NextMarker = s.newMarker(op, gs[limit-1].ID)
	}
	for i := range gs {
		out.Grants = append(out.Grants, grantEntry(&gs[i], arn(&gs[i])))
	}
	return out
}

// ListRetirableGrants lists the grants, on any key, that a principal may
// retire. It is authorized by IAM alone. A service principal retires
// grants in every account, so for one only the grants on keys of the
// caller's account are listed: another tenant's grants are none of its
// business.
func (s *Service) ListRetirableGrants(ctx context.Context, c *Caller, in *ListRetirableGrantsInput) (*ListGrantsOutput, error) {
	retiring, err := onePrincipal(in.RetiringPrincipal, in.RetiringServicePrincipal, "RetiringPrincipal", "RetiringServicePrincipal")
	if err != nil {
		return nil, err
	}
	if retiring == "" {
		return nil, validationf("You must specify either RetiringPrincipal or RetiringServicePrincipal.")
	}
	if err := s.authorizeIAM(ctx, c, "ListRetirableGrants", "*", nil); err != nil {
		return nil, err
	}
	// AWS: "Enter a principal in your Amazon Web Services account." One
	// tenant must not list the grants another tenant's principals retire.
	if !store.IsServicePrincipal(retiring) && principalAccount(retiring) != c.Principal.Account {
		return nil, kms.Errorf(kms.ErrAccessDenied, "User: %s is not authorized to perform: kms:ListRetirableGrants for %s, a principal of another account.", c.Principal.ARN, retiring)
	}
	after, err := s.parseMarker("ListRetirableGrants", in.Marker)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(in.Limit, 50, 100)
	keys := map[string]kms.Key{}
	var gs []store.Grant
	// Filtering by account may leave a page short: read on from the last
	// grant read until the page is full or the list ends.
	for len(gs) <= limit {
		page, err := s.store.ListRetirableGrants(ctx, retiring, after, limit+1)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errGrantMarkerGone(in.Marker)
		}
		if err != nil {
			return nil, kms.Internal(err)
		}
		for _, g := range page {
			k, ok := keys[g.KeyID]
			if !ok {
				if k, err = s.store.GetKey(ctx, g.KeyID); err != nil {
					return nil, kms.Internal(err)
				}
				keys[g.KeyID] = k
			}
			if !store.IsServicePrincipal(retiring) || k.Account == c.Principal.Account {
				gs = append(gs, g)
			}
		}
		if len(page) <= limit {
			break
		}
		after = page[len(page)-1].ID
	}
	return s.grantPage("ListRetirableGrants", gs, limit, func(g *store.Grant) string {
		k := keys[g.KeyID]
		return k.ARN()
	}), nil
}

// findGrant returns a grant of a cached key.
func findGrant(e *keyEntry, grantID string) *store.Grant {
	for i := range e.grants {
		if e.grants[i].ID == grantID {
			return &e.grants[i]
		}
	}
	return nil
}

func grantNotFound(grantID string) error {
	return kms.Errorf(kms.ErrNotFound, "Grant ID %s not found.", grantID)
}

// RetireGrant deletes a grant on behalf of its retiring principal, its
// grantee (when the grant allows RetireGrant) or its issuing account.
func (s *Service) RetireGrant(ctx context.Context, c *Caller, in *RetireGrantInput) (*struct{}, error) {
	var keyID, grantID string
	switch {
	case in.GrantToken != nil:
		var err error
		if keyID, grantID, err = s.parseGrantToken(*in.GrantToken); err != nil {
			return nil, err
		}
	case in.KeyId != nil && in.GrantId != nil:
		grantID = *in.GrantId
		if !validGrantID(grantID) {
			return nil, kms.Errorf("InvalidGrantIdException", "Grant ID %s is not valid.", grantID)
		}
	default:
		return nil, validationf("Either GrantToken or both KeyId and GrantId must be specified.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var e *keyEntry
	var err error
	if in.GrantToken != nil {
		e, err = s.acquire(ctx, keyID)
		if errors.Is(err, errKeyNotFound) {
			return nil, grantNotFound(grantID)
		}
	} else {
		e, err = s.lookup(ctx, c, *in.KeyId, false)
	}
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	g := findGrant(e, grantID)
	if g == nil {
		return nil, grantNotFound(grantID)
	}
	p := &c.Principal
	// A SourceArn constraint does not apply to RetireGrant (AWS's
	// CreateGrant reference).
	allowed := g.RetiringPrincipal != "" && granteeMatches(g.RetiringPrincipal, p, e.key.Account) ||
		granteeMatches(g.GranteePrincipal, p, e.key.Account) && slices.Contains(g.Operations, "RetireGrant")
	if !allowed && g.IssuingAccount == kms.RootARN(p.Account) {
		// The issuing account may retire, and delegate that through IAM.
		allowed = s.authorizeIAM(ctx, c, "RetireGrant", e.key.ARN(), nil) == nil
	}
	if !allowed {
		return nil, kms.Errorf(kms.ErrAccessDenied, "User: %s is not authorized to perform: kms:RetireGrant on resource: %s because the grant does not name it as its retiring principal or grantee.", p.ARN, e.key.ARN())
	}
	if in.DryRun {
		return nil, errDryRun
	}
	return nil, s.deleteGrant(ctx, e.key.ID, grantID)
}

func (s *Service) deleteGrant(ctx context.Context, keyID, grantID string) error {
	err := s.store.DeleteGrant(ctx, keyID, grantID)
	if errors.Is(err, store.ErrNotFound) {
		return grantNotFound(grantID)
	}
	if err != nil {
		return kms.Internal(err)
	}
	s.cache.invalidateKey(keyID)
	return nil
}

// RevokeGrant deletes a grant; it takes kms:RevokeGrant on the key.
func (s *Service) RevokeGrant(ctx context.Context, c *Caller, in *RevokeGrantInput) (*struct{}, error) {
	if !validGrantID(*in.GrantId) {
		return nil, kms.Errorf("InvalidGrantIdException", "Grant ID %s is not valid.", *in.GrantId)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "RevokeGrant", cross: true, id: *in.KeyId,
		fill: func(pc policy.Context) { setGrantIsForAWSResource(pc, c) }}); err != nil {
		return nil, err
	}
	if findGrant(e, *in.GrantId) == nil {
		return nil, grantNotFound(*in.GrantId)
	}
	if in.DryRun {
		return nil, errDryRun
	}
	return nil, s.deleteGrant(ctx, e.key.ID, *in.GrantId)
}

func countGrantee(gs []store.Grant, grantee string) int {
	n := 0
	for i := range gs {
		if gs[i].GranteePrincipal == grantee {
			n++
		}
	}
	return n
}

// errGrantMarkerGone answers a marker whose grant was retired or revoked
// since the previous page, or that belongs to another key.
func errGrantMarkerGone(marker *string) error {
	m := ""
	if marker != nil {
		m = *marker
	}
	return kms.Errorf(kms.ErrInvalidMarker, "Invalid marker: %s", m)
}

// principalAccount returns the account of a principal ARN
// (arn:aws:iam::ACCOUNT:... or arn:aws:sts::ACCOUNT:...), "" if it has none.
func principalAccount(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 {
		return ""
	}
	return p[4]
}
