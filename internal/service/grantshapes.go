package service

import (
	"regexp"
	"strconv"
)

// GrantConstraints limits a grant to requests with a matching encryption
// context, or made on behalf of one resource (SourceArn).
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:",omitempty"`
	EncryptionContextEquals map[string]string `json:",omitempty"`
	SourceArn               *string           `json:",omitempty"`
}

// hasContext says whether c constrains the encryption context.
func (c *GrantConstraints) hasContext() bool {
	return c != nil && (c.EncryptionContextEquals != nil || c.EncryptionContextSubset != nil)
}

// sourceArn returns the SourceArn constraint, "" when there is none.
func (c *GrantConstraints) sourceArn() string {
	if c == nil || c.SourceArn == nil {
		return ""
	}
	return *c.SourceArn
}

var (
	principalRE = &pattern{regexp.MustCompile(`^[\w+=,.@:/-]+$`), `^[\w+=,.@:/-]+$`}
	grantNameRE = &pattern{regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`), `^[a-zA-Z0-9:/_-]+$`}
	grantOps    = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
		"ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey",
		"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret"}
)

func (v *validator) constraints(c *GrantConstraints) {
	if c == nil {
		return
	}
	for _, x := range []struct {
		member string
		m      map[string]string
	}{
		{"constraints.encryptionContextSubset", c.EncryptionContextSubset},
		{"constraints.encryptionContextEquals", c.EncryptionContextEquals},
	} {
		member, m := x.member, x.m
		if len(m) > 8 {
			n := strconv.Itoa(len(m))
			v.add(&n, member, "Map must have at most 8 entries")
		}
		for k, val := range m {
			v.str(member+"."+k, &val, 0, 384, nil)
		}
	}
	v.str("constraints.sourceArn", c.SourceArn, 1, 2048, nil)
}

// CreateGrantInput is the request of CreateGrant.
type CreateGrantInput struct {
	KeyId                    *string
	GranteePrincipal         *string
	GranteeServicePrincipal  *string
	RetiringPrincipal        *string
	RetiringServicePrincipal *string
	Operations               []string
	Constraints              *GrantConstraints
	GrantTokens              []string
	Name                     *string
	DryRun                   bool
}

// Validate implements the model constraints.
func (in *CreateGrantInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	// One of GranteePrincipal and GranteeServicePrincipal is required;
	// CreateGrant checks that there is exactly one.
	v.str("granteePrincipal", in.GranteePrincipal, 1, 256, principalRE)
	v.str("granteeServicePrincipal", in.GranteeServicePrincipal, 1, 256, principalRE)
	v.str("retiringPrincipal", in.RetiringPrincipal, 1, 256, principalRE)
	v.str("retiringServicePrincipal", in.RetiringServicePrincipal, 1, 256, principalRE)
	v.required("operations", in.Operations != nil)
	for i, op := range in.Operations {
		v.enum("operations."+strconv.Itoa(i+1)+".member", &op, grantOps...)
	}
	v.constraints(in.Constraints)
	v.grantTokens(in.GrantTokens)
	v.str("name", in.Name, 1, 256, grantNameRE)
	return v.err()
}

// CreateGrantOutput is the response of CreateGrant.
type CreateGrantOutput struct {
	GrantToken string
	GrantId    string
}

// ListGrantsInput is the request of ListGrants.
type ListGrantsInput struct {
	KeyId                   *string
	GrantId                 *string
	GranteePrincipal        *string
	GranteeServicePrincipal *string
	ListInput
}

// Validate implements the model constraints.
func (in *ListGrantsInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.str("grantId", in.GrantId, 1, 128, nil)
	v.str("granteePrincipal", in.GranteePrincipal, 1, 256, principalRE)
	v.str("granteeServicePrincipal", in.GranteeServicePrincipal, 1, 256, principalRE)
	in.validate(&v)
	return v.err()
}

// ListRetirableGrantsInput is the request of ListRetirableGrants.
type ListRetirableGrantsInput struct {
	RetiringPrincipal        *string
	RetiringServicePrincipal *string
	ListInput
}

// Validate implements the model constraints. ListRetirableGrants checks
// that exactly one of the two principals is given.
func (in *ListRetirableGrantsInput) Validate() error {
	var v validator
	v.str("retiringPrincipal", in.RetiringPrincipal, 1, 256, principalRE)
	v.str("retiringServicePrincipal", in.RetiringServicePrincipal, 1, 256, principalRE)
	in.validate(&v)
	return v.err()
}

// GrantListEntry is one grant in ListGrants and ListRetirableGrants.
type GrantListEntry struct {
	KeyId        string
	GrantId      string
	Name         string `json:",omitempty"`
	CreationDate Timestamp
	// GranteePrincipal is the grantee, an ARN or (as AWS documents) the
	// service principal of a grant to a service, which
	// GranteeServicePrincipal also holds.
	GranteePrincipal         string
	GranteeServicePrincipal  string `json:",omitempty"`
	RetiringPrincipal        string `json:",omitempty"`
	RetiringServicePrincipal string `json:",omitempty"`
	IssuingAccount           string
	Operations               []string
	Constraints              *GrantConstraints `json:",omitempty"`
}

// ListGrantsOutput is the response of ListGrants and ListRetirableGrants.
type ListGrantsOutput struct {
	Grants     []GrantListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

// RetireGrantInput is the request of RetireGrant.
type RetireGrantInput struct {
	GrantToken *string
	KeyId      *string
	GrantId    *string
	DryRun     bool
}

// Validate implements the model constraints.
func (in *RetireGrantInput) Validate() error {
	var v validator
	v.str("grantToken", in.GrantToken, 1, 8192, nil)
	v.str("keyId", in.KeyId, 1, 2048, nil)
	v.str("grantId", in.GrantId, 1, 128, nil)
	return v.err()
}

// RevokeGrantInput is the request of RevokeGrant.
type RevokeGrantInput struct {
	KeyId   *string
	GrantId *string
	DryRun  bool
}

// Validate implements the model constraints.
func (in *RevokeGrantInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("grantId", in.GrantId != nil) {
		v.str("grantId", in.GrantId, 1, 128, nil)
	}
	return v.err()
}
