package identity

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/policy"
	"github.com/openkms/kms/internal/store"
)

// STS operations.

const (
	minSessionSecs     = 900
	maxSessionSecs     = 43200
	chainedSessionSecs = 3600 // the cap of a session assumed by a role session
)

// GetCallerIdentity says who signed the request. Like AWS, it needs no
// permission.
func (i *Identity) GetCallerIdentity(ctx context.Context, c *Caller, _ *GetCallerIdentityInput) (*GetCallerIdentityOutput, error) {
	return &GetCallerIdentityOutput{UserID: c.Principal.UserID, Account: c.Principal.Account, Arn: c.Principal.ARN}, nil
}

// parseRoleARN splits arn:aws:iam::ACCOUNT:role/PATH/NAME.
func parseRoleARN(arn string) (account, path, name string, ok bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] != kms.Partition || p[2] != "iam" || p[3] != "" || !validAccountID(p[4]) {
		return "", "", "", false
	}
	rest, ok := strings.CutPrefix(p[5], "role/")
	if !ok {
		return "", "", "", false
	}
	j := strings.LastIndexByte(rest, '/')
	path, name = "/"+rest[:j+1], rest[j+1:]
	if !namePattern.re.MatchString(name) || len(name) > 64 || !pathPattern.re.MatchString(path) {
		return "", "", "", false
	}
	return p[4], path, name, true
}

// AssumeRole issues temporary credentials for a role. The role's trust
// policy must allow the caller sts:AssumeRole; a caller of the role's
// account that the trust policy names only through the account, and every
// caller from another account, also needs its own identity policies to
// allow it. A role that does not exist is reported as access denied, as
// AWS does, so that callers cannot probe other accounts for role names.
func (i *Identity) AssumeRole(ctx context.Context, c *Caller, in *AssumeRoleInput) (*AssumeRoleOutput, error) {
	var v validator
	v.str("roleArn", in.RoleArn, true, 20, 2048, nil)
	v.str("roleSessionName", in.RoleSessionName, true, 2, 64, sessionNamePattern)
	v.num("durationSeconds", in.DurationSeconds, minSessionSecs, maxSessionSecs)
	v.str("externalId", in.ExternalID, false, 2, 1224, externalIDPattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	account, path, name, ok := parseRoleARN(in.RoleArn)
	if !ok {
		return nil, kms.Errorf(ErrValidation, "%s is invalid", in.RoleArn)
	}
	if c.Principal.Type == kms.PrincipalRoot {
		return nil, kms.Errorf(ErrAccessDenied, "Roles may not be assumed by root accounts.")
	}
	duration := defaultSessionMaxSecs
	if in.DurationSeconds != nil {
		duration = *in.DurationSeconds
	}

	pp := policy.NewPrincipal(c.Principal, c.Principal.RoleARN)
	cond := i.requestContext(c)
	cond.Set("sts:RoleSessionName", in.RoleSessionName)
	if in.ExternalID != "" {
		cond.Set("sts:ExternalId", in.ExternalID)
	}
	req := &policy.Request{Action: "sts:AssumeRole", Resource: in.RoleArn, Principal: pp, Context: cond}
	denied := func() error {
		d := policy.Decision{Reason: policy.NoResourcePolicyAllows}
		return kms.Errorf(ErrAccessDenied, "%s", d.Message(req))
	}

	e, err := i.role(ctx, account, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && pathOrRoot(e.role.Path) != path {
		return nil, denied()
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	if e.trust == nil {
		return nil, kms.Internal(errors.New("the role's stored trust policy does not parse"))
	}
	docs, err := i.Policies(ctx, c.Principal)
	if err != nil {
		return nil, kms.Internal(err)
	}
	if d := policy.Authorize(req, &policy.Inputs{ResourcePolicy: e.trust, ResourceAccount: account, IdentityPolicies: docs}); !d.Allowed {
		return nil, kms.Errorf(ErrAccessDenied, "%s", d.Message(req))
	}

	// Duration limits come after authorization, so that they say nothing
	// about a role the caller may not assume.
	if duration > e.role.MaxSessionDuration {
		return nil, kms.Errorf(ErrValidation, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	if c.Principal.Type == kms.PrincipalAssumedRole && duration > chainedSessionSecs {
		return nil, kms.Errorf(ErrValidation, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}

	s := &Session{
		AccessKeyID: uniqueID(sessionKeyPrefix, 16),
		Secret:      newSecret(),
		Account:     account,
		RoleName:    e.role.Name,
		RoleID:      e.role.ID,
		RolePath:    pathOrRoot(e.role.Path),
		SessionName: in.RoleSessionName,
		Created:     i.now().UTC().Truncate(time.Second),
		Expiration:  i.now().UTC().Add(time.Duration(duration) * time.Second).Truncate(time.Second),
	}
	token, err := i.tokens.encode(s)
	if err != nil {
		return nil, kms.Internal(err)
	}
	p := sessionPrincipal(s, s.AccessKeyID)
	return &AssumeRoleOutput{
		Credentials: Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.Secret, SessionToken: token,
			Expiration: Time(s.Expiration)},
		AssumedRoleUser: AssumedRoleUser{AssumedRoleID: p.UserID, Arn: p.ARN},
	}, nil
}
