package server_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openkms/kms/internal/server"
)

// Integration tests of IAM customer managed policies through aws-sdk-go-v2's
// iam client, their effect on KMS authorization, and the reads the
// Terraform AWS provider makes on refresh and destroy.

func policyARN(path, name string) string {
	return "arn:aws:iam::" + testAccount + ":policy" + path + name
}

func createPolicy(t *testing.T, c *iam.Client, path, name, doc string) *iamtypes.Policy {
	t.Helper()
	in := &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}
	if path != "" {
		in.Path = aws.String(path)
	}
	out, err := c.CreatePolicy(ctx, in)
	if err != nil {
		t.Fatalf("CreatePolicy(%s): %v", name, err)
	}
	return out.Policy
}

func TestIAMManagedPolicies(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := newIAMClient(ts.URL, rootCreds)
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"kms:Decrypt\", \"Resource\": \"*\"}]\n}"
	before := time.Now().Add(-time.Second)
	out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("ReadOnly"), Path: aws.String("/team/"),
		PolicyDocument: aws.String(doc), Description: aws.String("decrypt only")})
	if err != nil {
		t.Fatal(err)
	}
	p := out.Policy
	arn := policyARN("/team/", "ReadOnly")
	if *p.Arn != arn || *p.PolicyName != "ReadOnly" || *p.Path != "/team/" || !strings.HasPrefix(*p.PolicyId, "ANPA") ||
		len(*p.PolicyId) != 21 || *p.DefaultVersionId != "v1" || *p.AttachmentCount != 0 || !p.IsAttachable ||
		*p.Description != "decrypt only" || p.CreateDate.Before(before) || !p.UpdateDate.Equal(*p.CreateDate) {
		t.Fatalf("CreatePolicy: %+v", p)
	}

	create := func(name, path, d string) func() error {
		return func() error {
			in := &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(d)}
			if path != "" {
				in.Path = aws.String(path)
			}
			return ignore(c.CreatePolicy(ctx, in))
		}
	}
	getPolicy := func(a string) func() error {
		return func() error { return ignore(c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(a)})) }
	}
	newVersion := func(d string, setDefault bool) func() error {
		return func() error {
			return ignore(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn),
				PolicyDocument: aws.String(d), SetAsDefault: setDefault}))
		}
	}
	version := func(op, id string) func() error {
		return func() error {
			switch op {
			case "get":
				return ignore(c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(id)}))
			case "delete":
				return ignore(c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(id)}))
			}
			return ignore(c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(id)}))
		}
	}
	big := allowDoc("kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/"+strings.Repeat("x", 6100))
	runSteps(t, []step{
		{"duplicate, other case and path", create("readonly", "/other/", doc), "EntityAlreadyExists", 409},
		{"malformed", create("p2", "", "{"), "MalformedPolicyDocument", 400},
		{"principal in an identity policy", create("p2", "",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`), "MalformedPolicyDocument", 400},
		{"too big", create("p2", "", big), "LimitExceeded", 409},
		{"bad name", create("p 2", "", doc), "ValidationError", 400},
		{"bad path", create("p2", "team", doc), "ValidationError", 400},
		{"asterisk in path", create("p2", "/te*m/", doc), "ValidationError", 400},
		{"tags are not supported", func() error {
			return ignore(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p2"), PolicyDocument: aws.String(doc),
				Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}))
		}, "ValidationError", 400},
		{"nothing was made by the refusals", getPolicy(policyARN("/", "p2")), "NoSuchEntity", 404},
		{"get by another path", getPolicy(policyARN("/", "ReadOnly")), "NoSuchEntity", 404},
		{"get an AWS managed policy", getPolicy("arn:aws:iam::aws:policy/AdministratorAccess"), "NoSuchEntity", 404},
		{"get a user's ARN", getPolicy("arn:aws:iam::" + testAccount + ":user/alice"), "InvalidInput", 400},
		{"get with a short ARN", getPolicy("arn:aws"), "ValidationError", 400},
		{"get v1", version("get", "v1"), "", 0},
		{"get v9", version("get", "v9"), "NoSuchEntity", 404},
		{"get a malformed version", version("get", "1"), "ValidationError", 400},
		{"v2", newVersion(allowDoc("kms:Encrypt", "*"), false), "", 0},
		{"v3 as default", newVersion(allowDoc("kms:*", "*"), true), "", 0},
		{"malformed version", newVersion(`{"Statement":[]}`, true), "MalformedPolicyDocument", 400},
		{"v4", newVersion(doc, false), "", 0},
		{"v5", newVersion(doc, false), "", 0},
		{"a sixth version", newVersion(doc, false), "LimitExceeded", 409},
		{"delete the default version", version("delete", "v3"), "DeleteConflict", 409},
		{"default back to v1", version("default", "v1"), "", 0},
		{"delete v3", version("delete", "v3"), "", 0},
		{"delete v3 again", version("delete", "v3"), "NoSuchEntity", 404},
		{"default to a deleted version", version("default", "v3"), "NoSuchEntity", 404},
		{"a version after a deleted one", newVersion(doc, false), "", 0},
		{"delete with versions left", func() error {
			return ignore(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)}))
		}, "DeleteConflict", 409},
	})

	got, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil || *got.Policy.DefaultVersionId != "v1" || *got.Policy.Description != "decrypt only" || *got.Policy.PolicyId != *p.PolicyId {
		t.Fatalf("GetPolicy: %v %+v", err, got)
	}
	v1, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})
	if err != nil {
		t.Fatal(err)
	}
	// IAM returns documents URL-encoded.
	if d, err := url.QueryUnescape(*v1.PolicyVersion.Document); err != nil || d != doc || !v1.PolicyVersion.IsDefaultVersion ||
		strings.ContainsAny(*v1.PolicyVersion.Document, " {\"\n+") {
		t.Fatalf("GetPolicyVersion(v1): %q %v %+v", *v1.PolicyVersion.Document, err, v1.PolicyVersion)
	}

	// Versions list newest first; numbers of deleted versions are not
	// given again.
	var ids []string
	var marker *string
	for range 5 {
		page, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn), MaxItems: aws.Int32(2), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			id := *v.VersionId
			if v.IsDefaultVersion {
				id += "*"
			}
			ids = append(ids, id)
		}
		if !page.IsTruncated {
			break
		}
		marker = page.Marker
	}
	if strings.Join(ids, ",") != "v6,v5,v4,v2,v1*" {
		t.Fatalf("ListPolicyVersions: %v", ids)
	}

	// ListPolicies: local policies by name, filtered by path, paged.
	createPolicy(t, c, "", "alpha", doc)
	listNames := func(in *iam.ListPoliciesInput) []string {
		t.Helper()
		var names []string
		for range 5 {
			page, err := c.ListPolicies(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Policies {
				if p.Description != nil {
					t.Errorf("ListPolicies gave the description of %s", *p.PolicyName)
				}
				names = append(names, *p.PolicyName)
			}
			if !page.IsTruncated {
				break
			}
			in.Marker = page.Marker
		}
		return names
	}
	for _, tc := range []struct {
		name string
		in   *iam.ListPoliciesInput
		want string
	}{
		{"all", &iam.ListPoliciesInput{}, "alpha,ReadOnly"},
		{"local, one a page", &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal, MaxItems: aws.Int32(1)}, "alpha,ReadOnly"},
		{"AWS managed", &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeAws}, ""},
		{"by path", &iam.ListPoliciesInput{PathPrefix: aws.String("/team")}, "ReadOnly"},
		{"only attached", &iam.ListPoliciesInput{OnlyAttached: true}, ""},
	} {
		if got := strings.Join(listNames(tc.in), ","); got != tc.want {
			t.Errorf("ListPolicies %s: %s, want %s", tc.name, got, tc.want)
		}
	}
	_, err = c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: "Mine"})
	wantCode(t, err, "ValidationError")

	// Another account sees none of it.
	b, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	other := newIAMClient(ts.URL, aws.Credentials{AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey})
	_, err = other.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	wantCode(t, err, "NoSuchEntity")
	if l, err := other.ListPolicies(ctx, &iam.ListPoliciesInput{}); err != nil || len(l.Policies) != 0 {
		t.Fatalf("other account's ListPolicies: %v %+v", err, l)
	}

	// Delete: the non-default versions first, then the policy with v1.
	for _, id := range []string{"v2", "v4", "v5", "v6"} {
		if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(id)}); err != nil {
			t.Fatalf("DeletePolicyVersion(%s): %v", id, err)
		}
	}
	runSteps(t, []step{
		{"delete", func() error { return ignore(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})) }, "", 0},
		{"gone", getPolicy(arn), "NoSuchEntity", 404},
		{"its versions gone", version("get", "v1"), "NoSuchEntity", 404},
		{"delete again", func() error { return ignore(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})) }, "NoSuchEntity", 404},
		{"the name is free again", create("READONLY", "/", doc), "", 0},
	})
}

func TestIAMManagedAttachments(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := newIAMClient(ts.URL, rootCreds)
	createUserWithKey(t, c, "alice")
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob"), Path: aws.String("/ops/")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
		AssumeRolePolicyDocument: aws.String(trustDoc(testAccount))}); err != nil {
		t.Fatal(err)
	}
	read := createPolicy(t, c, "/", "read", allowDoc("kms:Decrypt", "*"))
	write := createPolicy(t, c, "/w/", "Write", allowDoc("kms:Encrypt", "*"))
	attachUser := func(user, arn string) func() error {
		return func() error {
			return ignore(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(arn)}))
		}
	}
	detachUser := func(user, arn string) func() error {
		return func() error {
			return ignore(c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(arn)}))
		}
	}
	attachRole := func(role, arn string) func() error {
		return func() error {
			return ignore(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(role), PolicyArn: aws.String(arn)}))
		}
	}
	detachRole := func(role, arn string) func() error {
		return func() error {
			return ignore(c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(role), PolicyArn: aws.String(arn)}))
		}
	}
	runSteps(t, []step{
		{"attach read to alice", attachUser("alice", *read.Arn), "", 0},
		{"again: no change", attachUser("ALICE", *read.Arn), "", 0},
		{"attach write to alice", attachUser("alice", *write.Arn), "", 0},
		{"attach write to bob", attachUser("bob", *write.Arn), "", 0},
		{"attach read to app", attachRole("app", *read.Arn), "", 0},
		{"missing user", attachUser("carol", *read.Arn), "NoSuchEntity", 404},
		{"missing role", attachRole("nope", *read.Arn), "NoSuchEntity", 404},
		{"missing policy", attachUser("alice", policyARN("/", "nope")), "NoSuchEntity", 404},
		{"wrong path", attachUser("alice", policyARN("/", "Write")), "NoSuchEntity", 404},
		{"AWS managed policy", attachRole("app", "arn:aws:iam::aws:policy/ReadOnlyAccess"), "NoSuchEntity", 404},
		{"not a policy ARN", attachUser("alice", "arn:aws:iam::"+testAccount+":role/app"), "InvalidInput", 400},
		{"detach what is not attached", detachRole("app", *write.Arn), "NoSuchEntity", 404},
		{"delete bob while attached", func() error {
			return ignore(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")}))
		}, "DeleteConflict", 409},
		{"delete app while attached", func() error { return ignore(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})) }, "DeleteConflict", 409},
		{"delete an attached policy", func() error {
			return ignore(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: write.Arn}))
		}, "DeleteConflict", 409},
	})
	_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})
	wantMessage(t, err, "DeleteConflict", "must detach all policies first")

	attached := func(list func(*string) (*iam.ListAttachedUserPoliciesOutput, error)) string {
		t.Helper()
		var got []string
		var marker *string
		for range 5 {
			page, err := list(marker)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.AttachedPolicies {
				got = append(got, *a.PolicyName+"="+*a.PolicyArn)
			}
			if !page.IsTruncated {
				break
			}
			marker = page.Marker
		}
		return strings.Join(got, ",")
	}
	aliceList := func(prefix *string) func(*string) (*iam.ListAttachedUserPoliciesOutput, error) {
		return func(m *string) (*iam.ListAttachedUserPoliciesOutput, error) {
			return c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("alice"), MaxItems: aws.Int32(1),
				Marker: m, PathPrefix: prefix})
		}
	}
	if got, want := attached(aliceList(nil)), "read="+*read.Arn+",Write="+*write.Arn; got != want {
		t.Errorf("ListAttachedUserPolicies(alice) = %s, want %s", got, want)
	}
	if got, want := attached(aliceList(aws.String("/w/"))), "Write="+*write.Arn; got != want {
		t.Errorf("ListAttachedUserPolicies(alice, /w/) = %s, want %s", got, want)
	}
	roleList, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("app")})
	if err != nil || len(roleList.AttachedPolicies) != 1 || *roleList.AttachedPolicies[0].PolicyArn != *read.Arn {
		t.Fatalf("ListAttachedRolePolicies: %v %+v", err, roleList)
	}
	_, err = c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("nope")})
	wantCode(t, err, "NoSuchEntity")
	if g, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: read.Arn}); err != nil || *g.Policy.AttachmentCount != 2 {
		t.Fatalf("AttachmentCount of read: %v %+v", err, g)
	}
	if l, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{OnlyAttached: true}); err != nil || len(l.Policies) != 2 {
		t.Fatalf("ListPolicies OnlyAttached: %v %+v", err, l)
	}

	// ListEntitiesForPolicy: users, then roles.
	entities := func(arn string, filter iamtypes.EntityType) string {
		t.Helper()
		out, err := c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn), EntityFilter: filter})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range out.PolicyUsers {
			got = append(got, "user:"+*u.UserName)
			if !strings.HasPrefix(*u.UserId, "AIDA") {
				t.Errorf("user id %s", *u.UserId)
			}
		}
		for _, r := range out.PolicyRoles {
			got = append(got, "role:"+*r.RoleName)
		}
		if len(out.PolicyGroups) != 0 {
			t.Errorf("groups: %+v", out.PolicyGroups)
		}
		return strings.Join(got, ",")
	}
	for _, tc := range []struct {
		arn    string
		filter iamtypes.EntityType
		want   string
	}{
		{*read.Arn, "", "user:alice,role:app"},
		{*read.Arn, iamtypes.EntityTypeRole, "role:app"},
		{*read.Arn, iamtypes.EntityTypeUser, "user:alice"},
		{*read.Arn, iamtypes.EntityTypeGroup, ""},
		{*write.Arn, "", "user:alice,user:bob"},
	} {
		if got := entities(tc.arn, tc.filter); got != tc.want {
			t.Errorf("ListEntitiesForPolicy(%s, %q) = %s, want %s", tc.arn, tc.filter, got, tc.want)
		}
	}

	// At most ten managed policies per user.
	for i := range 8 {
		arn := *createPolicy(t, c, "", "extra"+string(rune('a'+i)), allowDoc("kms:Encrypt", "*")).Arn
		if err := attachUser("alice", arn)(); err != nil {
			t.Fatalf("attach extra %d: %v", i, err)
		}
	}
	extra := *createPolicy(t, c, "", "one-too-many", allowDoc("kms:Encrypt", "*")).Arn
	runSteps(t, []step{
		{"an eleventh", attachUser("alice", extra), "LimitExceeded", 409},
		{"the tenth again is no change", attachUser("alice", *read.Arn), "", 0},
		{"detach", detachUser("bob", *write.Arn), "", 0},
		{"detach again", detachUser("bob", *write.Arn), "NoSuchEntity", 404},
		{"delete bob", func() error { return ignore(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})) }, "", 0},
		{"detach from app", detachRole("app", *read.Arn), "", 0},
		{"delete app", func() error { return ignore(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})) }, "", 0},
	})
	if got := entities(*read.Arn, ""); got != "user:alice" {
		t.Errorf("ListEntitiesForPolicy after detaching = %s", got)
	}
}

// TestKMSThroughManagedPolicy: a KMS request allowed only through an
// attached managed policy, denied after detaching it and after its default
// version changes to a deny, for a user and for a role session; and IAM
// calls authorized the same way.
func TestKMSThroughManagedPolicy(t *testing.T) {
	ts := startServer(t, server.Config{})
	root := newIAMClient(ts.URL, rootCreds)
	key := must[*awskms.CreateKeyOutput](t)(ts.client(testRegion).CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	aliceCreds := createUserWithKey(t, root, "alice")
	alice := kmsAs(ts.URL, aliceCreds)
	encrypt := func(c *awskms.Client) func() error {
		return func() error {
			return ignore(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.Arn, Plaintext: []byte("x")}))
		}
	}
	pol := createPolicy(t, root, "/kms/", "use-keys", allowDoc("kms:Encrypt", "*"))
	iamCall := func(c *iam.Client, op string, in any) func() error {
		return func() error {
			switch op {
			case "attachUser":
				return ignore(c.AttachUserPolicy(ctx, in.(*iam.AttachUserPolicyInput)))
			case "detachUser":
				return ignore(c.DetachUserPolicy(ctx, in.(*iam.DetachUserPolicyInput)))
			case "attachRole":
				return ignore(c.AttachRolePolicy(ctx, in.(*iam.AttachRolePolicyInput)))
			case "version":
				return ignore(c.CreatePolicyVersion(ctx, in.(*iam.CreatePolicyVersionInput)))
			case "default":
				return ignore(c.SetDefaultPolicyVersion(ctx, in.(*iam.SetDefaultPolicyVersionInput)))
			}
			return ignore(c.ListUsers(ctx, &iam.ListUsersInput{}))
		}
	}
	aliceIAM := newIAMClient(ts.URL, aliceCreds)
	runSteps(t, []step{
		{"no policy", encrypt(alice), "AccessDeniedException", 400},
		{"attach", iamCall(root, "attachUser", &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: pol.Arn}), "", 0},
		{"allowed through the managed policy", encrypt(alice), "", 0},
		{"detach", iamCall(root, "detachUser", &iam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: pol.Arn}), "", 0},
		{"denied after detaching", encrypt(alice), "AccessDeniedException", 400},
		{"attach again", iamCall(root, "attachUser", &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: pol.Arn}), "", 0},
		{"allowed again", encrypt(alice), "", 0},
		{"a version that is not the default", iamCall(root, "version", &iam.CreatePolicyVersionInput{PolicyArn: pol.Arn,
			PolicyDocument: aws.String(denyDoc("kms:Encrypt", "*"))}), "", 0},
		{"only the default version counts", encrypt(alice), "", 0},
		{"the deny becomes the default", iamCall(root, "default", &iam.SetDefaultPolicyVersionInput{PolicyArn: pol.Arn, VersionId: aws.String("v2")}), "", 0},
		{"denied by the new default", encrypt(alice), "AccessDeniedException", 400},
		{"back to v1", iamCall(root, "default", &iam.SetDefaultPolicyVersionInput{PolicyArn: pol.Arn, VersionId: aws.String("v1")}), "", 0},
		{"allowed by v1", encrypt(alice), "", 0},
		{"a new default version that denies", iamCall(root, "version", &iam.CreatePolicyVersionInput{PolicyArn: pol.Arn,
			PolicyDocument: aws.String(denyDoc("kms:*", "*")), SetAsDefault: true}), "", 0},
		{"denied at once", encrypt(alice), "AccessDeniedException", 400},
		{"IAM: no permission", iamCall(aliceIAM, "list", nil), "AccessDenied", 403},
	})
	_, err := alice.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.Arn, Plaintext: []byte("x")})
	wantMessage(t, err, "AccessDeniedException", "with an explicit deny in an identity-based policy")

	// IAM calls are authorized by managed policies too, and attachments
	// can be confined to some policies with iam:PolicyARN.
	delegate := createPolicy(t, root, "", "attach-use-keys", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+
		`"Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"ArnEquals":{"iam:PolicyARN":"`+*pol.Arn+`"}}}]}`)
	if _, err := root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: delegate.Arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	runSteps(t, []step{
		{"attach the policy iam:PolicyARN names", iamCall(aliceIAM, "attachUser", &iam.AttachUserPolicyInput{UserName: aws.String("bob"),
			PolicyArn: pol.Arn}), "", 0},
		{"attach another", iamCall(aliceIAM, "attachUser", &iam.AttachUserPolicyInput{UserName: aws.String("bob"),
			PolicyArn: delegate.Arn}), "AccessDenied", 403},
	})
	admin := createPolicy(t, root, "", "iam-read", allowDoc("iam:List*", "*"))
	if _, err := root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: admin.Arn}); err != nil {
		t.Fatal(err)
	}
	if err := iamCall(aliceIAM, "list", nil)(); err != nil {
		t.Fatalf("ListUsers through a managed policy: %v", err)
	}

	// A role session: the role's attached policy decides.
	if _, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
		AssumeRolePolicyDocument: aws.String(trustDoc("arn:aws:iam::" + testAccount + ":user/alice"))}); err != nil {
		t.Fatal(err)
	}
	rolePol := createPolicy(t, root, "", "app-keys", allowDoc("kms:Encrypt", *key.Arn))
	as, err := newSTSClient(ts.URL, testRegion, aliceCreds).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/app"), RoleSessionName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	session := kmsAs(ts.URL, sessionCreds(as))
	runSteps(t, []step{
		{"role without policies", encrypt(session), "AccessDeniedException", 400},
		{"attach to the role", iamCall(root, "attachRole", &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: rolePol.Arn}), "", 0},
		{"session allowed", encrypt(session), "", 0},
		{"detach from the role", func() error {
			return ignore(root.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: rolePol.Arn}))
		}, "", 0},
		{"session denied", encrypt(session), "AccessDeniedException", 400},
	})
}

// TestIAMManagedSurvivesRestart: policies, versions and attachments are
// in the store, and authorize after a restart.
func TestIAMManagedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir})
	root := newIAMClient(ts.URL, rootCreds)
	key := must[*awskms.CreateKeyOutput](t)(ts.client(testRegion).CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	aliceCreds := createUserWithKey(t, root, "alice")
	pol := createPolicy(t, root, "/", "use", denyDoc("kms:Encrypt", "*"))
	if _, err := root.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Arn,
		PolicyDocument: aws.String(allowDoc("kms:Encrypt", "*")), SetAsDefault: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: pol.Arn}); err != nil {
		t.Fatal(err)
	}
	ts.stop()

	ts = startServer(t, server.Config{DataDir: dir})
	root = newIAMClient(ts.URL, rootCreds)
	if _, err := kmsAs(ts.URL, aliceCreds).Encrypt(ctx, &awskms.EncryptInput{KeyId: key.Arn, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("Encrypt after restart: %v", err)
	}
	g, err := root.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: pol.Arn})
	if err != nil || *g.Policy.DefaultVersionId != "v2" || *g.Policy.AttachmentCount != 1 {
		t.Fatalf("GetPolicy after restart: %v %+v", err, g)
	}
	if v, err := root.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Arn,
		PolicyDocument: aws.String(allowDoc("kms:*", "*"))}); err != nil || *v.PolicyVersion.VersionId != "v3" {
		t.Fatalf("CreatePolicyVersion after restart: %v %+v", err, v)
	}
}

// TestIAMTerraformReads walks the calls the Terraform AWS provider makes
// for aws_iam_user, aws_iam_role, aws_iam_policy and
// aws_iam_role_policy_attachment on refresh, update and destroy.
func TestIAMTerraformReads(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := newIAMClient(ts.URL, rootCreds)
	doc := allowDoc("kms:Decrypt", "*")

	// Create, as the provider sends it: an empty description, path "/".
	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("tf-policy"), Path: aws.String("/"),
		PolicyDocument: aws.String(doc), Description: aws.String("")})
	if err != nil {
		t.Fatal(err)
	}
	arn := *cp.Policy.Arn
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("tf-role"), Path: aws.String("/"),
		AssumeRolePolicyDocument: aws.String(trustDoc(testAccount)), MaxSessionDuration: aws.Int32(3600)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tf-user"), Path: aws.String("/")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("tf-role"), PolicyArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}

	role, user := aws.String("tf-role"), aws.String("tf-user")
	var empty []string
	collect := func(name string, n int, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n != 0 {
			empty = append(empty, name)
		}
	}
	// Refresh.
	r, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: role})
	if err != nil || *r.Role.Arn != "arn:aws:iam::"+testAccount+":role/tf-role" || *r.Role.RoleId == "" || *r.Role.MaxSessionDuration != 3600 ||
		r.Role.PermissionsBoundary != nil || len(r.Role.Tags) != 0 {
		t.Fatalf("GetRole: %v %+v", err, r)
	}
	rp, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: role})
	collect("ListRolePolicies", len(rp.PolicyNames), err)
	arp, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: role})
	if err != nil || len(arp.AttachedPolicies) != 1 || *arp.AttachedPolicies[0].PolicyArn != arn {
		t.Fatalf("ListAttachedRolePolicies: %v %+v", err, arp)
	}
	ip, err := c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: role})
	collect("ListInstanceProfilesForRole", len(ip.InstanceProfiles), err)
	rt, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: role})
	collect("ListRoleTags", len(rt.Tags), err)
	u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: user})
	if err != nil || *u.User.Arn != "arn:aws:iam::"+testAccount+":user/tf-user" || u.User.PermissionsBoundary != nil {
		t.Fatalf("GetUser: %v %+v", err, u)
	}
	ut, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: user})
	collect("ListUserTags", len(ut.Tags), err)
	gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil || *gp.Policy.DefaultVersionId != "v1" || len(gp.Policy.Tags) != 0 {
		t.Fatalf("GetPolicy: %v %+v", err, gp)
	}
	pv, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: gp.Policy.DefaultVersionId})
	if d, _ := url.QueryUnescape(aws.ToString(pv.PolicyVersion.Document)); err != nil || d != doc {
		t.Fatalf("GetPolicyVersion: %v %q", err, d)
	}
	pt, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: aws.String(arn)})
	collect("ListPolicyTags", len(pt.Tags), err)

	// Update of the policy: prune the oldest non-default version once
	// there are five, then add the new default.
	for n := range 6 {
		vs, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs.Versions) >= 5 {
			var oldest *iamtypes.PolicyVersion
			for _, v := range vs.Versions {
				if !v.IsDefaultVersion && (oldest == nil || v.CreateDate.Before(*oldest.CreateDate) ||
					v.CreateDate.Equal(*oldest.CreateDate) && *v.VersionId < *oldest.VersionId) {
					oldest = &v
				}
			}
			if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: oldest.VersionId}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn),
			PolicyDocument: aws.String(allowDoc("kms:Encrypt", "*")), SetAsDefault: true}); err != nil {
			t.Fatalf("update %d: %v", n, err)
		}
	}
	if gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)}); err != nil || *gp.Policy.DefaultVersionId != "v7" {
		t.Fatalf("GetPolicy after updates: %v %+v", err, gp)
	}

	// Destroy of the user (force_destroy reads too), the attachment, the
	// role and the policy.
	g, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: user})
	collect("ListGroupsForUser", len(g.Groups), err)
	ak, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
	collect("ListAccessKeys", len(ak.AccessKeyMetadata), err)
	ssh, err := c.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: user})
	collect("ListSSHPublicKeys", len(ssh.SSHPublicKeys), err)
	vmfa, err := c.ListVirtualMFADevices(ctx, &iam.ListVirtualMFADevicesInput{AssignmentStatus: iamtypes.AssignmentStatusTypeAssigned})
	collect("ListVirtualMFADevices", len(vmfa.VirtualMFADevices), err)
	mfa, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: user})
	collect("ListMFADevices", len(mfa.MFADevices), err)
	certs, err := c.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: user})
	collect("ListSigningCertificates", len(certs.Certificates), err)
	ssc, err := c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: user})
	collect("ListServiceSpecificCredentials", len(ssc.ServiceSpecificCredentials), err)
	if len(empty) > 0 {
		t.Fatalf("not empty: %v", empty)
	}
	runSteps(t, []step{
		{"no login profile", func() error { return ignore(c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: user})) }, "NoSuchEntity", 404},
		{"delete user", func() error { return ignore(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: user})) }, "", 0},
		{"refresh of a deleted user", func() error { return ignore(c.GetUser(ctx, &iam.GetUserInput{UserName: user})) }, "NoSuchEntity", 404},
		{"groups of a deleted user", func() error {
			return ignore(c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: user}))
		}, "NoSuchEntity", 404},
		{"role still attached", func() error { return ignore(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: role})) }, "DeleteConflict", 409},
		{"detach (the attachment's destroy)", func() error {
			return ignore(c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: role, PolicyArn: aws.String(arn)}))
		}, "", 0},
		{"instance profiles", func() error {
			return ignore(c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: role}))
		}, "", 0},
		{"delete role", func() error { return ignore(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: role})) }, "", 0},
		{"instance profiles of a deleted role", func() error {
			return ignore(c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: role}))
		}, "NoSuchEntity", 404},
		{"tags of a deleted role", func() error { return ignore(c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: role})) }, "NoSuchEntity", 404},
	})
	vs, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range vs.Versions {
		ids = append(ids, *v.VersionId)
		if !v.IsDefaultVersion {
			if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: v.VersionId}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(ids, []string{"v7", "v6", "v5", "v4", "v3"}) {
		t.Errorf("versions before destroy: %v", ids)
	}
	runSteps(t, []step{
		{"delete policy", func() error { return ignore(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})) }, "", 0},
		{"refresh of a deleted policy", func() error { return ignore(c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})) }, "NoSuchEntity", 404},
		{"tags of a deleted policy", func() error {
			return ignore(c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: aws.String(arn)}))
		}, "NoSuchEntity", 404},
	})
}
