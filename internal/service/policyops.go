package service

import (
	"context"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
)

// A key has exactly one policy, named "default".
const defaultPolicyName = "default"

func checkPolicyName(name *string) error {
	if name != nil && *name != defaultPolicyName {
		return kms.Errorf(kms.ErrNotFound, "Policy %s does not exist.", *name)
	}
	return nil
}

// GetKeyPolicy returns a key's policy as it was stored.
func (s *Service) GetKeyPolicy(ctx context.Context, c *Caller, in *GetKeyPolicyInput) (*GetKeyPolicyOutput, error) {
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "GetKeyPolicy", id: *in.KeyId}); err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	return &GetKeyPolicyOutput{Policy: e.key.Policy, PolicyName: defaultPolicyName}, nil
}

// PutKeyPolicy replaces a key's policy. Unless bypassed, the lockout safety
// check refuses a policy under which the caller could not change it again.
func (s *Service) PutKeyPolicy(ctx context.Context, c *Caller, in *PutKeyPolicyInput) (*struct{}, error) {
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	_, err := s.mutateKey(ctx, c, *in.KeyId, access{action: "PutKeyPolicy"}, func(k *kms.Key) error {
		keyContext := func(pc policy.Context) {
			setKeyContext(pc, k)
			pc.SetBool(policy.KeyBypassPolicyLockoutSafetyCheck, in.BypassPolicyLockoutSafetyCheck)
		}
		if err := s.checkNewPolicy(ctx, c, *in.Policy, k.ARN(), k.Account, in.BypassPolicyLockoutSafetyCheck, keyContext); err != nil {
			return err
		}
		k.Policy = *in.Policy
		return nil
	})
	return nil, err
}

// ListKeyPolicies lists the names of a key's policies: always "default".
func (s *Service) ListKeyPolicies(ctx context.Context, c *Caller, in *ListKeyPoliciesInput) (*ListKeyPoliciesOutput, error) {
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	defer s.cache.release(e)
	if err := s.authorizeKey(ctx, c, e, access{action: "ListKeyPolicies", id: *in.KeyId}); err != nil {
		return nil, err
	}
	if _, err := s.parseMarker("ListKeyPolicies", in.Marker); err != nil {
		return nil, err
	}
	return &ListKeyPoliciesOutput{PolicyNames: []string{defaultPolicyName}}, nil
}
