package service

import (
	"context"

	"github.com/openkms/kms"
)

// This server has no custom key stores (AWS CloudHSM or external key
// stores): DescribeCustomKeyStores lists none, and the other custom key
// store operations answer UnsupportedOperationException (internal/api).

// DescribeCustomKeyStoresInput is the request of DescribeCustomKeyStores.
type DescribeCustomKeyStoresInput struct {
	CustomKeyStoreId   *string
	CustomKeyStoreName *string
	ListInput
}

// Validate implements the model constraints.
func (in *DescribeCustomKeyStoresInput) Validate() error {
	var v validator
	v.str("customKeyStoreId", in.CustomKeyStoreId, 1, 64, nil)
	v.str("customKeyStoreName", in.CustomKeyStoreName, 1, 256, nil)
	in.ListInput.validate(&v)
	return v.err()
}

// DescribeCustomKeyStoresOutput is the response of DescribeCustomKeyStores.
type DescribeCustomKeyStoresOutput struct {
	CustomKeyStores []struct{}
	Truncated       bool
}

// DescribeCustomKeyStores lists the account's custom key stores: none.
func (s *Service) DescribeCustomKeyStores(ctx context.Context, c *Caller, in *DescribeCustomKeyStoresInput) (*DescribeCustomKeyStoresOutput, error) {
	if err := s.authorizeIAM(ctx, c, "DescribeCustomKeyStores", "*", nil); err != nil {
		return nil, err
	}
	switch {
	case in.CustomKeyStoreId != nil:
		return nil, kms.Errorf(kms.ErrCustomKeyStoreNotFound, "Custom key store %s does not exist.", *in.CustomKeyStoreId)
	case in.CustomKeyStoreName != nil:
		return nil, kms.Errorf(kms.ErrCustomKeyStoreNotFound, "Custom key store %s does not exist.", *in.CustomKeyStoreName)
	}
	if _, err := s.parseMarker("DescribeCustomKeyStores", in.Marker); err != nil {
		return nil, err
	}
	return &DescribeCustomKeyStoresOutput{CustomKeyStores: []struct{}{}}, nil
}
