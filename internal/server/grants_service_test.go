package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/openkms/kms/internal/server"
)

// Grants to AWS service principals (GranteeServicePrincipal,
// RetiringServicePrincipal, the SourceArn constraint) and the sessions of
// service-linked roles that act as those services.

const (
	s3Service = "s3.amazonaws.com"
	bucketA   = "arn:aws:s3:::amzn-s3-demo-bucket"
	bucketB   = "arn:aws:s3:::amzn-s3-demo-other-bucket"
)

// withSourceArn adds X-Amz-Source-Arn to one call. signed sets it in the
// build step, before the SigV4 signer (which signs every header but a few
// such as User-Agent) runs in the finalize step; unsigned adds it after
// the signature is made, as a proxy on the way could.
func withSourceArn(arn string, signed bool) func(*awskms.Options) {
	return func(o *awskms.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			set := func(in any) {
				if req, ok := in.(*smithyhttp.Request); ok {
					req.Header.Set("X-Amz-Source-Arn", arn)
				}
			}
			if signed {
				return s.Build.Add(middleware.BuildMiddlewareFunc("SourceArn",
					func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
						set(in.Request)
						return next.HandleBuild(ctx, in)
					}), middleware.After)
			}
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("UnsignedSourceArn",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					set(in.Request)
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

// serviceSession creates the account's service-linked role for s3 (unless
// it exists), a user allowed to assume it, and returns a session of it.
func serviceSession(t *testing.T, url string, rootIAM *iam.Client, account, user string) (*awskms.Client, string) {
	t.Helper()
	roleARN := "arn:aws:iam::" + account + ":role/aws-service-role/" + s3Service + "/AWSServiceRoleForS3"
	if _, err := rootIAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("AWSServiceRoleForS3")}); err != nil {
		r := must[*iam.CreateServiceLinkedRoleOutput](t)(rootIAM.CreateServiceLinkedRole(ctx,
			&iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String(s3Service), Description: aws.String("S3 here")}))
		if *r.Role.Arn != roleARN || *r.Role.Path != "/aws-service-role/"+s3Service+"/" {
			t.Fatalf("service-linked role %s at %s, want %s", *r.Role.Arn, *r.Role.Path, roleARN)
		}
	}
	creds := createUserWithKey(t, rootIAM, user)
	putUserPolicy(t, rootIAM, user, "assume", allowDoc("sts:AssumeRole", roleARN))
	out := must[*sts.AssumeRoleOutput](t)(newSTSClient(url, testRegion, creds).AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s3")}))
	return kmsAs(url, sessionCreds(out)), roleARN
}

// TestServiceGrantValidation: CreateGrant's rules for service principals,
// from the CreateGrant API reference (GranteeServicePrincipal,
// RetiringServicePrincipal and Constraints members). Each refusal leaves no
// grant behind.
func TestServiceGrantValidation(t *testing.T) {
	ts := startServer(t, server.Config{})
	owner := ts.client(testRegion)
	key := must[*awskms.CreateKeyOutput](t)(owner.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	signKey := must[*awskms.CreateKeyOutput](t)(owner.CreateKey(ctx, &awskms.CreateKeyInput{
		KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})).KeyMetadata
	const user = "arn:aws:iam::111122223333:user/worker"
	root := "arn:aws:iam::111122223333:root"
	src := &types.GrantConstraints{SourceArn: aws.String(bucketA)}
	ops := []types.GrantOperation{types.GrantOperationDecrypt}
	for _, c := range []struct {
		name string
		in   awskms.CreateGrantInput
		msg  string // part of the ValidationException's message
	}{
		// "You must specify either GranteePrincipal or GranteeServicePrincipal, but not both."
		{"both grantees", awskms.CreateGrantInput{GranteePrincipal: aws.String(user), GranteeServicePrincipal: aws.String(s3Service),
			RetiringPrincipal: &root, Constraints: src}, "but not both"},
		{"no grantee", awskms.CreateGrantInput{RetiringPrincipal: &root}, "either GranteePrincipal or GranteeServicePrincipal"},
		// "When you specify a GranteeServicePrincipal, you must also specify a SourceArn grant constraint."
		{"service without SourceArn", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String(s3Service), RetiringPrincipal: &root},
			"SourceArn grant constraint"},
		{"service with a context constraint only", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String(s3Service), RetiringPrincipal: &root,
			Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"a": "b"}}}, "SourceArn grant constraint"},
		// "In addition, you must specify either a RetiringPrincipal or a RetiringServicePrincipal."
		{"service without retiring principal", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String(s3Service), Constraints: src},
			"RetiringPrincipal or a RetiringServicePrincipal"},
		// "You can specify either RetiringPrincipal or RetiringServicePrincipal, but not both."
		{"both retiring", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String(s3Service), Constraints: src,
			RetiringPrincipal: &root, RetiringServicePrincipal: aws.String(s3Service)}, "but not both"},
		// Service principals have the service principal form; an ARN is not one.
		{"ARN as service", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String(user), RetiringPrincipal: &root, Constraints: src},
			"not a valid service principal"},
		{"other domain", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String("s3.example.com"), RetiringPrincipal: &root, Constraints: src},
			"not a valid service principal"},
		{"upper case", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String("S3.amazonaws.com"), RetiringPrincipal: &root, Constraints: src},
			"not a valid service principal"},
		// The model's pattern refuses a wildcard before any rule does.
		{"wildcard", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String("*.amazonaws.com"), RetiringPrincipal: &root, Constraints: src},
			"regular expression pattern"},
		{"retiring service invalid", awskms.CreateGrantInput{GranteePrincipal: aws.String(user), RetiringServicePrincipal: aws.String("amazonaws.com")},
			"not a valid service principal"},
		// A service principal is not a GranteePrincipal (an ARN).
		{"service as GranteePrincipal", awskms.CreateGrantInput{GranteePrincipal: aws.String(s3Service)}, "not a valid principal"},
		{"SourceArn not an ARN", awskms.CreateGrantInput{GranteeServicePrincipal: aws.String(s3Service), RetiringPrincipal: &root,
			Constraints: &types.GrantConstraints{SourceArn: aws.String("amzn-s3-demo-bucket")}}, "not a valid ARN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.KeyId, in.Operations = key.KeyId, ops
			_, err := owner.CreateGrant(ctx, &in)
			wantMessage(t, err, "ValidationException", c.msg)
		})
	}
	if gs := must[*awskms.ListGrantsOutput](t)(owner.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId})); len(gs.Grants) != 0 {
		t.Fatalf("refused grants left %d behind", len(gs.Grants))
	}

	// SourceArn is supported on every key type ("supported on grants for
	// all types of KMS keys"), and on grants to any principal; the
	// encryption context constraints stay symmetric-only.
	if _, err := owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: signKey.KeyId, GranteeServicePrincipal: aws.String(s3Service),
		RetiringPrincipal: &root, Constraints: src, Operations: []types.GrantOperation{types.GrantOperationSign}}); err != nil {
		t.Fatalf("SourceArn on a signing key: %v", err)
	}
	if _, err := owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: key.KeyId, GranteePrincipal: aws.String(user),
		Constraints: src, Operations: ops}); err != nil {
		t.Fatalf("SourceArn on a grant to a user: %v", err)
	}
	_, err := owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: signKey.KeyId, GranteeServicePrincipal: aws.String(s3Service),
		RetiringPrincipal: &root, Operations: []types.GrantOperation{types.GrantOperationSign},
		Constraints: &types.GrantConstraints{SourceArn: aws.String(bucketA), EncryptionContextSubset: map[string]string{"a": "b"}}})
	wantMessage(t, err, "ValidationException", "only for symmetric encryption keys")
}

// TestServiceGrants: a grant to s3.amazonaws.com is listed as AWS
// documents, used by a session of the account's service-linked role only
// with a signed X-Amz-Source-Arn equal to its SourceArn, never on another
// account's key, and retired by its retiring service principal.
func TestServiceGrants(t *testing.T) {
	ts := startServer(t, server.Config{})
	owner := ts.client(testRegion)
	rootIAM := newIAMClient(ts.URL, rootCreds)
	// The key policy trusts account 4444..., so that its calls reach the
	// grants rather than stopping at the key policy.
	pol := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:DescribeKey","Resource":"*"}]}`
	key := must[*awskms.CreateKeyOutput](t)(owner.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})).KeyMetadata
	g := must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{
		KeyId: key.KeyId, GranteeServicePrincipal: aws.String(s3Service), RetiringServicePrincipal: aws.String(s3Service),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationGenerateDataKey, types.GrantOperationDescribeKey},
		Constraints: &types.GrantConstraints{SourceArn: aws.String(bucketA)}, Name: aws.String("s3-bucket-a"),
	}))
	// The same name and properties again: the same grant.
	again := must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{
		KeyId: key.KeyId, GranteeServicePrincipal: aws.String(s3Service), RetiringServicePrincipal: aws.String(s3Service),
		Operations:  []types.GrantOperation{types.GrantOperationDescribeKey, types.GrantOperationDecrypt, types.GrantOperationGenerateDataKey},
		Constraints: &types.GrantConstraints{SourceArn: aws.String(bucketA)}, Name: aws.String("s3-bucket-a"),
	}))
	if *again.GrantId != *g.GrantId {
		t.Fatalf("idempotent CreateGrant made a second grant %s", *again.GrantId)
	}

	// Listing: GranteePrincipal shows the service principal, as the
	// GrantListEntry reference says, beside GranteeServicePrincipal.
	list := must[*awskms.ListGrantsOutput](t)(owner.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId}))
	if len(list.Grants) != 1 {
		t.Fatalf("ListGrants: %d grants", len(list.Grants))
	}
	e := list.Grants[0]
	if aws.ToString(e.GranteePrincipal) != s3Service || aws.ToString(e.GranteeServicePrincipal) != s3Service ||
		aws.ToString(e.RetiringServicePrincipal) != s3Service || e.RetiringPrincipal != nil ||
		e.Constraints == nil || aws.ToString(e.Constraints.SourceArn) != bucketA || e.Constraints.EncryptionContextSubset != nil {
		t.Fatalf("grant listed as %+v (constraints %+v)", e, e.Constraints)
	}
	for _, c := range []struct {
		in   awskms.ListGrantsInput
		want int
	}{
		{awskms.ListGrantsInput{GranteePrincipal: aws.String(s3Service)}, 1},
		{awskms.ListGrantsInput{GranteeServicePrincipal: aws.String(s3Service)}, 1},
		{awskms.ListGrantsInput{GranteeServicePrincipal: aws.String("logs.amazonaws.com")}, 0},
		{awskms.ListGrantsInput{GranteePrincipal: aws.String("arn:aws:iam::111122223333:root")}, 0},
	} {
		in := c.in
		in.KeyId = key.KeyId
		if l := must[*awskms.ListGrantsOutput](t)(owner.ListGrants(ctx, &in)); len(l.Grants) != c.want {
			t.Errorf("ListGrants(%+v) = %d grants, want %d", c.in, len(l.Grants), c.want)
		}
	}
	_, err := owner.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId, GranteePrincipal: aws.String(s3Service),
		GranteeServicePrincipal: aws.String(s3Service)})
	wantMessage(t, err, "ValidationException", "but not both")
	for _, in := range []awskms.ListRetirableGrantsInput{{RetiringPrincipal: aws.String(s3Service)}, {RetiringServicePrincipal: aws.String(s3Service)}} {
		r := must[*awskms.ListRetirableGrantsOutput](t)(owner.ListRetirableGrants(ctx, &in))
		if len(r.Grants) != 1 || *r.Grants[0].GrantId != *g.GrantId || *r.Grants[0].KeyId != *key.Arn {
			t.Fatalf("ListRetirableGrants(%+v) = %+v", in, r.Grants)
		}
	}
	_, err = owner.ListRetirableGrants(ctx, &awskms.ListRetirableGrantsInput{})
	wantCode(t, err, "ValidationException")

	// The service-linked role: one per name, and CreateRole cannot fake it.
	svc, _ := serviceSession(t, ts.URL, rootIAM, testAccount, "s3agent")
	_, err = rootIAM.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String(s3Service)})
	wantMessage(t, err, "InvalidInput", "has been taken in this account")
	_, err = rootIAM.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("s3.example.com")})
	wantCode(t, err, "InvalidInput")
	_, err = rootIAM.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("arn:aws:iam::111122223333:root")})
	wantCode(t, err, "ValidationError") // the model's pattern
	_, err = rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Fake"), Path: aws.String("/aws-service-role/" + s3Service + "/"),
		AssumeRolePolicyDocument: aws.String(trustDoc("arn:aws:iam::111122223333:root"))})
	wantMessage(t, err, "InvalidInput", "can only be used for AWS Service linked Roles")
	_, err = rootIAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("AWSServiceRoleForS3"),
		PolicyDocument: aws.String(trustDoc("444455556666"))})
	wantCode(t, err, "UnmodifiableEntity")
	_, err = rootIAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("AWSServiceRoleForS3"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(allowDoc("kms:*", "*"))})
	wantCode(t, err, "UnmodifiableEntity")
	_, err = rootIAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("AWSServiceRoleForS3")})
	wantCode(t, err, "UnmodifiableEntity")
	suffixed := must[*iam.CreateServiceLinkedRoleOutput](t)(rootIAM.CreateServiceLinkedRole(ctx,
		&iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String(s3Service), CustomSuffix: aws.String("debug")}))
	if *suffixed.Role.RoleName != "AWSServiceRoleForS3_debug" {
		t.Fatalf("suffixed role named %s", *suffixed.Role.RoleName)
	}
	del := must[*iam.DeleteServiceLinkedRoleOutput](t)(rootIAM.DeleteServiceLinkedRole(ctx,
		&iam.DeleteServiceLinkedRoleInput{RoleName: aws.String("AWSServiceRoleForS3_debug")}))
	if !strings.HasPrefix(*del.DeletionTaskId, "task/aws-service-role/"+s3Service+"/AWSServiceRoleForS3_debug/") {
		t.Fatalf("DeletionTaskId %s", *del.DeletionTaskId)
	}

	// The session decrypts through the grant only for bucket A, named in a
	// signed header.
	blob := must[*awskms.EncryptOutput](t)(owner.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("object key")})).CiphertextBlob
	decrypt := func(c *awskms.Client, opts ...func(*awskms.Options)) error {
		_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, KeyId: key.Arn}, opts...)
		return err
	}
	if err := decrypt(svc, withSourceArn(bucketA, true)); err != nil {
		t.Fatalf("the service decrypts for bucket A: %v", err)
	}
	if _, err := svc.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: key.Arn, KeySpec: types.DataKeySpecAes256},
		withSourceArn(bucketA, true)); err != nil {
		t.Fatalf("GenerateDataKey for bucket A: %v", err)
	}
	agent := kmsAs(ts.URL, createUserWithKey(t, rootIAM, "not-a-service"))
	plainRole := "arn:aws:iam::111122223333:role/plain"
	must[*iam.CreateRoleOutput](t)(rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("plain"),
		AssumeRolePolicyDocument: aws.String(trustDoc("arn:aws:iam::111122223333:root"))}))
	putUserPolicy(t, rootIAM, "s3agent", "assume-plain", allowDoc("sts:AssumeRole", plainRole))
	s3agent := createUserWithKeyOnly(t, rootIAM, "s3agent")
	plain := kmsAs(ts.URL, sessionCreds(must[*sts.AssumeRoleOutput](t)(newSTSClient(ts.URL, testRegion, s3agent).AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: aws.String(plainRole), RoleSessionName: aws.String("s3")}))))
	for _, c := range []struct {
		name string
		c    *awskms.Client
		opts []func(*awskms.Options)
	}{
		{"another SourceArn", svc, []func(*awskms.Options){withSourceArn(bucketB, true)}},
		{"no X-Amz-Source-Arn", svc, nil},
		{"unsigned X-Amz-Source-Arn", svc, []func(*awskms.Options){withSourceArn(bucketA, false)}},
		{"a user, not the service", agent, []func(*awskms.Options){withSourceArn(bucketA, true)}},
		{"an ordinary role's session", plain, []func(*awskms.Options){withSourceArn(bucketA, true)}},
		{"the user that assumes the role", kmsAs(ts.URL, s3agent), []func(*awskms.Options){withSourceArn(bucketA, true)}},
	} {
		t.Run(c.name, func(t *testing.T) { wantCode(t, decrypt(c.c, c.opts...), "AccessDeniedException") })
	}

	// Another account's service-linked role for s3 is s3 in that account
	// only: it neither uses nor retires grants on this account's key.
	other, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := aws.Credentials{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey}
	otherSvc, _ := serviceSession(t, ts.URL, newIAMClient(ts.URL, otherRoot), "444455556666", "s3agent")
	wantCode(t, decrypt(otherSvc, withSourceArn(bucketA, true)), "AccessDeniedException")
	_, err = otherSvc.RetireGrant(ctx, &awskms.RetireGrantInput{KeyId: key.Arn, GrantId: g.GrantId})
	wantCode(t, err, "AccessDeniedException")
	if r := must[*awskms.ListRetirableGrantsOutput](t)(kmsAs(ts.URL, otherRoot).ListRetirableGrants(ctx,
		&awskms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(s3Service)})); len(r.Grants) != 0 {
		t.Fatalf("another account lists this account's grants retirable by s3: %+v", r.Grants)
	}

	// The retiring service principal retires the grant; SourceArn does
	// not apply to RetireGrant. A user of the account without IAM
	// permission may not.
	_, err = agent.RetireGrant(ctx, &awskms.RetireGrantInput{KeyId: key.Arn, GrantId: g.GrantId})
	wantCode(t, err, "AccessDeniedException")
	if _, err := svc.RetireGrant(ctx, &awskms.RetireGrantInput{GrantToken: g.GrantToken}); err != nil {
		t.Fatalf("RetireGrant by the retiring service principal: %v", err)
	}
	wantCode(t, decrypt(svc, withSourceArn(bucketA, true)), "AccessDeniedException")
	if l := must[*awskms.ListGrantsOutput](t)(owner.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.KeyId})); len(l.Grants) != 0 {
		t.Fatalf("retired grant still listed: %+v", l.Grants)
	}
}

// createUserWithKeyOnly adds an access key to an existing user.
func createUserWithKeyOnly(t *testing.T, c *iam.Client, name string) aws.Credentials {
	t.Helper()
	k := must[*iam.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)}))
	return aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
}

// TestServiceGrantConditionKeys: kms:GranteeServicePrincipal,
// kms:RetiringServicePrincipal, kms:GrantConstraintSourceArn,
// kms:GrantConstraintType "SourceArn" and kms:GrantIsForAWSResource in key
// policies, and aws:SourceArn / aws:SourceAccount from the signed header.
func TestServiceGrantConditionKeys(t *testing.T) {
	ts := startServer(t, server.Config{})
	owner := ts.client(testRegion)
	rootIAM := newIAMClient(ts.URL, rootCreds)
	svc, roleARN := serviceSession(t, ts.URL, rootIAM, testAccount, "s3agent")
	granter := kmsAs(ts.URL, createUserWithKey(t, rootIAM, "granter"))
	const logGroup = "arn:aws:logs:us-east-1:111122223333:log-group:app"
	pol := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["kms:DescribeKey","kms:ListGrants","kms:Encrypt"],"Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/granter"},"Action":"kms:CreateGrant","Resource":"*",
		 "Condition":{"StringEquals":{"kms:GranteeServicePrincipal":"s3.amazonaws.com","kms:RetiringServicePrincipal":"s3.amazonaws.com",
		   "kms:GrantConstraintSourceArn":"` + bucketA + `"},
		  "ForAnyValue:StringEquals":{"kms:GrantConstraintType":"SourceArn"},"Bool":{"kms:GrantIsForAWSResource":"false"}}},
		{"Effect":"Allow","Principal":{"AWS":"` + roleARN + `"},"Action":"kms:Encrypt","Resource":"*",
		 "Condition":{"StringEquals":{"aws:SourceArn":"` + logGroup + `","aws:SourceAccount":"111122223333"}}},
		{"Effect":"Allow","Principal":{"AWS":["` + roleARN + `","arn:aws:iam::111122223333:user/granter"]},"Action":"kms:ListGrants","Resource":"*",
		 "Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}`
	key := must[*awskms.CreateKeyOutput](t)(owner.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol),
		BypassPolicyLockoutSafetyCheck: true})).KeyMetadata
	grant := func(mod func(*awskms.CreateGrantInput)) error {
		in := &awskms.CreateGrantInput{KeyId: key.Arn, GranteeServicePrincipal: aws.String(s3Service),
			RetiringServicePrincipal: aws.String(s3Service), Operations: []types.GrantOperation{types.GrantOperationDecrypt},
			Constraints: &types.GrantConstraints{SourceArn: aws.String(bucketA)}}
		if mod != nil {
			mod(in)
		}
		_, err := granter.CreateGrant(ctx, in)
		return err
	}
	if err := grant(nil); err != nil {
		t.Fatalf("a grant the conditions allow: %v", err)
	}
	for _, c := range []struct {
		name string
		mod  func(*awskms.CreateGrantInput)
	}{
		{"another SourceArn", func(in *awskms.CreateGrantInput) { in.Constraints.SourceArn = aws.String(bucketB) }},
		{"another service", func(in *awskms.CreateGrantInput) { in.GranteeServicePrincipal = aws.String("logs.amazonaws.com") }},
		{"a retiring ARN", func(in *awskms.CreateGrantInput) {
			in.RetiringServicePrincipal, in.RetiringPrincipal = nil, aws.String("arn:aws:iam::111122223333:root")
		}},
		{"a grantee ARN", func(in *awskms.CreateGrantInput) {
			in.GranteeServicePrincipal, in.GranteePrincipal = nil, aws.String("arn:aws:iam::111122223333:user/granter")
		}},
	} {
		t.Run(c.name, func(t *testing.T) { wantCode(t, grant(c.mod), "AccessDeniedException") })
	}

	// aws:SourceArn and aws:SourceAccount come from the signed header only.
	encrypt := func(opts ...func(*awskms.Options)) error {
		_, err := svc.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.Arn, Plaintext: []byte("x")}, opts...)
		return err
	}
	if err := encrypt(withSourceArn(logGroup, true)); err != nil {
		t.Fatalf("Encrypt with the signed aws:SourceArn the key policy names: %v", err)
	}
	wantCode(t, encrypt(withSourceArn(logGroup, false)), "AccessDeniedException")
	wantCode(t, encrypt(withSourceArn(strings.Replace(logGroup, "111122223333", "444455556666", 1), true)), "AccessDeniedException")
	wantCode(t, encrypt(), "AccessDeniedException")

	// kms:GrantIsForAWSResource is true for the service's session alone.
	if _, err := svc.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.Arn}); err != nil {
		t.Fatalf("ListGrants by the service: %v", err)
	}
	_, err := granter.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: key.Arn})
	wantCode(t, err, "AccessDeniedException")
}

// TestListRetirableGrantsOtherAccount: a tenant cannot list the grants that
// another tenant's principals may retire (AWS: "Enter a principal in your
// Amazon Web Services account").
func TestListRetirableGrantsOtherAccount(t *testing.T) {
	ts := startServer(t, server.Config{})
	owner := ts.client(testRegion)
	key := must[*awskms.CreateKeyOutput](t)(owner.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	retiring := "arn:aws:iam::111122223333:role/retirer"
	must[*awskms.CreateGrantOutput](t)(owner.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: key.KeyId,
		GranteePrincipal: aws.String("arn:aws:iam::111122223333:role/app"), RetiringPrincipal: aws.String(retiring),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}}))
	other, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := newClient(ts.URL, testRegion, other.AccessKeyID, other.SecretAccessKey)
	_, err = otherRoot.ListRetirableGrants(ctx, &awskms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(retiring)})
	wantMessage(t, err, "AccessDeniedException", "a principal of another account")
	got := must[*awskms.ListRetirableGrantsOutput](t)(owner.ListRetirableGrants(ctx, &awskms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(retiring)}))
	if len(got.Grants) != 1 {
		t.Fatalf("the owner's own listing: %d grants", len(got.Grants))
	}
}
