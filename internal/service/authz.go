package service

import (
	"context"
	"strings"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

// access is one authorization question about a key (spec §7.2).
type access struct {
	action string // operation name, without "kms:"
	// cross says the operation may be used on another account's key.
	cross bool
	// id is the key identifier of the request, for kms:RequestAlias.
	id string
	// fill adds the operation's own condition keys.
	fill func(policy.Context)
	// grantOK, when set, is the operation's own test of a grant that names
	// the caller and the operation: its constraints against the request's
	// encryption context, or the limits of a child grant. nil means
	// constraints do not apply (DescribeKey, RetireGrant, ListGrants).
	grantOK func(*store.Grant) bool
}

// requestAlias is the alias name a key identifier used, or "".
func requestAlias(id string) string {
	if strings.HasPrefix(id, "alias/") {
		return id
	}
	if strings.HasPrefix(id, "arn:") {
		if i := strings.Index(id, ":alias/"); i >= 0 {
			return id[i+1:]
		}
	}
	return ""
}

// requestContext holds the condition keys every request has.
func (s *Service) requestContext(c *Caller) policy.Context {
	pc := make(policy.Context, 16)
	pc.SetPrincipal(policy.NewPrincipal(c.Principal, c.Principal.RoleARN))
	pc.SetTime(s.now())
	if c.SourceIP != "" {
		pc.Set(policy.KeySourceIP, c.SourceIP)
	}
	pc.SetBool(policy.KeySecureTransport, c.SecureTransport)
	pc.Set(policy.KeyRequestedRegion, c.Region)
	if c.SourceArn != "" {
		// The signed X-Amz-Source-Arn of a service's request; its account
		// field, when the ARN has one, is aws:SourceAccount.
		pc.Set(policy.KeySourceArn, c.SourceArn)
		if p := strings.SplitN(c.SourceArn, ":", 6); len(p) == 6 && p[4] != "" {
			pc.Set(policy.KeySourceAccount, p[4])
		}
	}
	return pc
}

func (s *Service) identityPolicies(ctx context.Context, c *Caller) ([]*policy.Document, error) {
	if s.ids == nil || c.Principal.Type == kms.PrincipalRoot {
		return nil, nil
	}
	docs, err := s.ids.Policies(ctx, c.Principal)
	if err != nil {
		return nil, kms.Internal(err)
	}
	return docs, nil
}

// authorizeKey decides whether the caller may perform a.action on the key
// of e, from the key policy, the caller's IAM policies and the request.
func (s *Service) authorizeKey(ctx context.Context, c *Caller, e *keyEntry, a access) error {
	k := &e.key
	req := &policy.Request{
		Action:    "kms:" + a.action,
		Resource:  k.ARN(),
		Principal: policy.NewPrincipal(c.Principal, c.Principal.RoleARN),
	}
	doc := e.keyPolicy()
	if doc == nil || !a.cross && c.Principal.Account != k.Account {
		return accessDenied(req, policy.Decision{Reason: policy.NoResourcePolicyAllows})
	}
	ids, err := s.identityPolicies(ctx, c)
	if err != nil {
		return err
	}
	if usesContext(doc, ids) {
		pc := s.requestContext(c)
		setKeyContext(pc, k)
		if len(e.aliases) > 0 {
			pc.SetMulti(policy.KeyResourceAliases, e.aliases)
		}
		if alias := requestAlias(a.id); alias != "" {
			pc.Set(policy.KeyRequestAlias, alias)
		}
		if a.fill != nil {
			a.fill(pc)
		}
		req.Context = pc
	}
	d := policy.Authorize(req, &policy.Inputs{ResourcePolicy: doc, ResourceAccount: k.Account, IdentityPolicies: ids,
		GrantAllows: grantAllows(e, c, &a)})
	if !d.Allowed {
		return accessDenied(req, d)
	}
	return nil
}

// usesContext says whether any of the policies deciding a request reads
// its condition context.
func usesContext(doc *policy.Document, ids []*policy.Document) bool {
	if doc.UsesContext() {
		return true
	}
	for _, d := range ids {
		if d.UsesContext() {
			return true
		}
	}
	return false
}

// authorizeIAM decides an operation that no key policy governs (CreateKey,
// ListKeys, ListAliases, GenerateRandom, the alias side of alias
// operations): the caller's IAM policies alone, on resource.
func (s *Service) authorizeIAM(ctx context.Context, c *Caller, action, resource string, fill func(policy.Context)) error {
	return s.authorizeIdentity(ctx, c, "kms:"+action, resource, fill)
}

func accessDenied(req *policy.Request, d policy.Decision) error {
	return kms.Errorf(kms.ErrAccessDenied, "%s", d.Message(req))
}

// algorithmContext sets kms:EncryptionAlgorithm (SYMMETRIC_DEFAULT when the
// request names none) and the encryption context keys.
func algorithmContext(alg *string, encCtx map[string]string) func(policy.Context) {
	return func(pc policy.Context) {
		a := "SYMMETRIC_DEFAULT"
		if alg != nil {
			a = *alg
		}
		pc.Set(policy.KeyEncryptionAlgorithm, a)
		pc.SetEncryptionContext(encCtx)
	}
}

// setKeyContext sets the condition keys that describe the key a request
// acts on.
func setKeyContext(pc policy.Context, k *kms.Key) {
	pc.Set(policy.KeyKeySpec, string(k.Spec))
	pc.Set(policy.KeyKeyUsage, string(k.Usage))
	pc.Set(policy.KeyKeyOrigin, string(k.Origin))
	pc.SetBool(policy.KeyMultiRegion, k.MultiRegion())
	if k.MultiRegion() {
		pc.Set(policy.KeyMultiRegionKeyType, multiRegionKeyType(k))
	}
	pc.SetResourceTags(k.Tags)
}
