package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/openkms/kms/internal/server"
)

// Integration tests of the IAM and STS query APIs, through aws-sdk-go-v2's
// iam and sts clients against the real server.

var rootCreds = aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret}

// testClock is a server clock a test can move forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func newIAMClient(url string, creds aws.Credentials) *iam.Client {
	return iam.New(iam.Options{
		Region:           "us-east-1", // IAM is global; the SDK signs it for us-east-1
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.StaticCredentialsProvider{Value: creds},
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{},
	})
}

func newSTSClient(url, region string, creds aws.Credentials) *sts.Client {
	return sts.New(sts.Options{
		Region:           region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.StaticCredentialsProvider{Value: creds},
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{},
	})
}

// step is one call of a sequence whose steps depend on each other.
type step struct {
	name   string
	call   func() error
	code   string // expected error code; "" for success
	status int    // expected HTTP status of the error; 0 to skip
}

func runSteps(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		err := s.call()
		if s.code == "" {
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			continue
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != s.code {
			t.Fatalf("%s: got %v, want %s", s.name, err, s.code)
		}
		var re *smithyhttp.ResponseError
		if s.status != 0 && (!errors.As(err, &re) || re.HTTPStatusCode() != s.status) {
			t.Fatalf("%s: got status %v, want %d", s.name, err, s.status)
		}
	}
}

func ignore[T any](_ T, err error) error { return err }

func allowDoc(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}]}`
}

func denyDoc(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"` + action + `","Resource":"` + resource + `"}]}`
}

func trustDoc(principal string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"}]}`
}

// createUserWithKey creates a user and an access key for it.
func createUserWithKey(t *testing.T, c *iam.Client, name string) aws.Credentials {
	t.Helper()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
}

func sessionCreds(out *sts.AssumeRoleOutput) aws.Credentials {
	return aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey,
		SessionToken: *out.Credentials.SessionToken}
}

func TestIAMUsers(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := newIAMClient(ts.URL, rootCreds)
	before := time.Now().Add(-time.Second)
	u, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("Alice"), Path: aws.String("/eng/")})
	if err != nil {
		t.Fatal(err)
	}
	if *u.User.UserName != "Alice" || *u.User.Path != "/eng/" || *u.User.Arn != "arn:aws:iam::"+testAccount+":user/eng/Alice" ||
		!strings.HasPrefix(*u.User.UserId, "AIDA") || len(*u.User.UserId) != 21 ||
		u.User.CreateDate.Before(before) || u.User.CreateDate.After(time.Now().Add(time.Second)) {
		t.Fatalf("CreateUser: %+v", u.User)
	}
	var page1, page2 *iam.ListUsersOutput
	runSteps(t, []step{
		{"duplicate, other case", func() error {
			return ignore(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}))
		}, "EntityAlreadyExists", 409},
		{"bad name", func() error {
			return ignore(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("a b")}))
		}, "ValidationError", 400},
		{"bad path", func() error {
			return ignore(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x"), Path: aws.String("eng")}))
		}, "ValidationError", 400},
		{"name too long", func() error {
			return ignore(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(strings.Repeat("a", 65))}))
		}, "ValidationError", 400},
		{"unsupported tags", func() error {
			return ignore(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x"),
				Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}))
		}, "ValidationError", 400},
		{"bob", func() error { return ignore(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})) }, "", 0},
		{"carol", func() error {
			return ignore(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("carol"), Path: aws.String("/eng/team/")}))
		}, "", 0},
		{"get missing", func() error { return ignore(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("dave")})) }, "NoSuchEntity", 404},
		{"list page 1", func() (err error) {
			page1, err = c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(2)})
			return err
		}, "", 0},
		{"list page 2", func() (err error) {
			page2, err = c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(2), Marker: page1.Marker})
			return err
		}, "", 0},
		{"list max items 0", func() error { return ignore(c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(0)})) }, "ValidationError", 400},
		{"list bad marker", func() error {
			return ignore(c.ListUsers(ctx, &iam.ListUsersInput{Marker: aws.String("!!!")}))
		}, "ValidationError", 400},
		{"delete missing", func() error { return ignore(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("dave")})) }, "NoSuchEntity", 404},
	})
	names := func(us []iamtypes.User) (s []string) {
		for _, u := range us {
			s = append(s, *u.UserName)
		}
		return s
	}
	if got := names(page1.Users); !page1.IsTruncated || strings.Join(got, ",") != "Alice,bob" {
		t.Fatalf("page 1: %v truncated=%v", got, page1.IsTruncated)
	}
	if got := names(page2.Users); page2.IsTruncated || strings.Join(got, ",") != "carol" {
		t.Fatalf("page 2: %v truncated=%v", got, page2.IsTruncated)
	}
	eng, err := c.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/eng/")})
	if err != nil || strings.Join(names(eng.Users), ",") != "Alice,carol" {
		t.Fatalf("ListUsers /eng/: %v %v", err, eng)
	}
	got, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("ALICE")})
	if err != nil || *got.User.UserName != "Alice" || *got.User.UserId != *u.User.UserId {
		t.Fatalf("GetUser: %v %+v", err, got)
	}
	root, err := c.GetUser(ctx, &iam.GetUserInput{})
	if err != nil || *root.User.Arn != "arn:aws:iam::"+testAccount+":root" || *root.User.UserId != testAccount || root.User.UserName != nil {
		t.Fatalf("GetUser of the root: %v %+v", err, root)
	}

	// DeleteUser refuses while keys or policies remain.
	runSteps(t, []step{
		{"key", func() error {
			return ignore(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))
		}, "", 0},
		{"delete with a key", func() error { return ignore(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})) }, "DeleteConflict", 409},
		{"policy", func() error {
			return ignore(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("carol"), PolicyName: aws.String("p"),
				PolicyDocument: aws.String(allowDoc("kms:*", "*"))}))
		}, "", 0},
		{"delete with a policy", func() error {
			return ignore(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("carol")}))
		}, "DeleteConflict", 409},
		{"delete policy", func() error {
			return ignore(c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("carol"), PolicyName: aws.String("p")}))
		}, "", 0},
		{"delete carol", func() error { return ignore(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("carol")})) }, "", 0},
		{"carol is gone", func() error { return ignore(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("carol")})) }, "NoSuchEntity", 404},
		{"delete alice", func() error { return ignore(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})) }, "", 0},
	})
}

func TestIAMAccessKeys(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := newIAMClient(ts.URL, rootCreds)
	creds := createUserWithKey(t, c, "alice")
	if !strings.HasPrefix(creds.AccessKeyID, "AKIA") || len(creds.AccessKeyID) != 20 || len(creds.SecretAccessKey) != 40 {
		t.Fatalf("access key %s, secret of %d characters", creds.AccessKeyID, len(creds.SecretAccessKey))
	}
	who := newSTSClient(ts.URL, testRegion, creds)
	id, err := who.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if *id.Arn != "arn:aws:iam::"+testAccount+":user/alice" || *id.Account != testAccount || *id.UserId != *u.User.UserId {
		t.Fatalf("GetCallerIdentity: %s %s %s", *id.Arn, *id.Account, *id.UserId)
	}
	var second *iam.CreateAccessKeyOutput
	caller := func() error { return ignore(who.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})) }
	setStatus := func(status iamtypes.StatusType) func() error {
		return func() error {
			return ignore(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"),
				AccessKeyId: aws.String(creds.AccessKeyID), Status: status}))
		}
	}
	runSteps(t, []step{
		{"second key", func() (err error) {
			second, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			return err
		}, "", 0},
		{"third key", func() error {
			return ignore(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}))
		}, "LimitExceeded", 409},
		{"key of a missing user", func() error {
			return ignore(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))
		}, "NoSuchEntity", 404},
		{"deactivate", setStatus(iamtypes.StatusTypeInactive), "", 0},
		{"inactive key is refused at once", caller, "InvalidClientTokenId", 403},
		{"reactivate", setStatus(iamtypes.StatusTypeActive), "", 0},
		{"active again", caller, "", 0},
		{"bad status", setStatus("Sleeping"), "ValidationError", 400},
		{"update unknown key", func() error {
			return ignore(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"),
				AccessKeyId: aws.String("AKIAUNKNOWNKEY000000"), Status: iamtypes.StatusTypeInactive}))
		}, "NoSuchEntity", 404},
		{"root's key is not alice's", func() error {
			return ignore(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(testAccessKeyID)}))
		}, "NoSuchEntity", 404},
		{"delete", func() error {
			return ignore(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(creds.AccessKeyID)}))
		}, "", 0},
		{"deleted key is refused at once", caller, "InvalidClientTokenId", 403},
		{"delete again", func() error {
			return ignore(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(creds.AccessKeyID)}))
		}, "NoSuchEntity", 404},
	})
	list, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil || len(list.AccessKeyMetadata) != 1 || *list.AccessKeyMetadata[0].AccessKeyId != *second.AccessKey.AccessKeyId ||
		list.AccessKeyMetadata[0].Status != iamtypes.StatusTypeActive || *list.AccessKeyMetadata[0].UserName != "alice" {
		t.Fatalf("ListAccessKeys: %v %+v", err, list)
	}
	// A user manages its own keys when its policies allow it; without a
	// UserName the caller's own keys are meant.
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("own-keys"),
		PolicyDocument: aws.String(allowDoc("iam:*AccessKey*", "arn:aws:iam::"+testAccount+":user/${aws:username}"))}); err != nil {
		t.Fatal(err)
	}
	self := newIAMClient(ts.URL, aws.Credentials{AccessKeyID: *second.AccessKey.AccessKeyId, SecretAccessKey: *second.AccessKey.SecretAccessKey})
	own, err := self.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	if err != nil || len(own.AccessKeyMetadata) != 1 {
		t.Fatalf("own keys: %v %+v", err, own)
	}
	// The root's own keys: the bootstrap key and one more at most.
	rootKeys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	if err != nil || len(rootKeys.AccessKeyMetadata) != 1 || *rootKeys.AccessKeyMetadata[0].AccessKeyId != testAccessKeyID {
		t.Fatalf("root keys: %v %+v", err, rootKeys)
	}
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantCode(t, err, "LimitExceeded")
	// Deleting the user while its key remains; then without.
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
	wantCode(t, err, "DeleteConflict")
}

func TestIAMPolicies(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := newIAMClient(ts.URL, rootCreds)
	createUserWithKey(t, c, "alice")
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
		AssumeRolePolicyDocument: aws.String(trustDoc(testAccount))}); err != nil {
		t.Fatal(err)
	}
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"kms:Encrypt\", \"Resource\": \"*\"}]\n}"
	putUser := func(name, d string) func() error {
		return func() error {
			return ignore(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String(name), PolicyDocument: aws.String(d)}))
		}
	}
	putRole := func(name, d string) func() error {
		return func() error {
			return ignore(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String(name), PolicyDocument: aws.String(d)}))
		}
	}
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"arn:aws:kms:us-east-1:111122223333:key/` +
		strings.Repeat("x", 2100) + `"}]}`
	runSteps(t, []step{
		{"user policy", putUser("p1", doc), "", 0},
		{"replace it", putUser("P1", doc), "", 0},
		{"not JSON", putUser("p2", "{"), "MalformedPolicyDocument", 400},
		{"principal in an identity policy", putUser("p2",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`), "MalformedPolicyDocument", 400},
		{"no resource", putUser("p2", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*"}]}`), "MalformedPolicyDocument", 400},
		{"too big for a user", putUser("p2", big), "LimitExceeded", 409},
		{"bad policy name", putUser("p 2", doc), "ValidationError", 400},
		{"missing user", func() error {
			return ignore(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}))
		}, "NoSuchEntity", 404},
		{"get missing policy", func() error {
			return ignore(c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("nope")}))
		}, "NoSuchEntity", 404},
		{"delete missing policy", func() error {
			return ignore(c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("nope")}))
		}, "NoSuchEntity", 404},
		{"role policy", putRole("r1", doc), "", 0},
		{"role policy fits a role", putRole("r2", big), "", 0},
		{"role policy malformed", putRole("r3", `{"Statement":[]}`), "MalformedPolicyDocument", 400},
		{"missing role", func() error {
			return ignore(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("nope"), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}))
		}, "NoSuchEntity", 404},
		{"delete role with policies", func() error { return ignore(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})) }, "DeleteConflict", 409},
	})

	got, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("ALICE"), PolicyName: aws.String("p1")})
	if err != nil {
		t.Fatal(err)
	}
	// IAM returns documents URL-encoded, spaces as %20.
	if strings.ContainsAny(*got.PolicyDocument, " {\"\n+") {
		t.Fatalf("document not URL-encoded: %q", *got.PolicyDocument)
	}
	if d, err := url.QueryUnescape(*got.PolicyDocument); err != nil || d != doc || *got.PolicyName != "p1" || *got.UserName != "alice" {
		t.Fatalf("GetUserPolicy: %q %v %+v", d, err, got)
	}
	rp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("r1")})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := url.QueryUnescape(*rp.PolicyDocument); d != doc || *rp.RoleName != "app" {
		t.Fatalf("GetRolePolicy: %+v", rp)
	}
	for _, tc := range []struct {
		name string
		list func(marker *string) ([]string, *string, error)
		want string
	}{
		{"user", func(m *string) ([]string, *string, error) {
			o, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("alice"), MaxItems: aws.Int32(1), Marker: m})
			if err != nil {
				return nil, nil, err
			}
			return o.PolicyNames, o.Marker, nil
		}, "p1"},
		{"role", func(m *string) ([]string, *string, error) {
			o, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("app"), MaxItems: aws.Int32(1), Marker: m})
			if err != nil {
				return nil, nil, err
			}
			return o.PolicyNames, o.Marker, nil
		}, "r1,r2"},
	} {
		var all []string
		var marker *string
		for range 5 {
			names, next, err := tc.list(marker)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			all = append(all, names...)
			if next == nil {
				break
			}
			marker = next
		}
		if strings.Join(all, ",") != tc.want {
			t.Fatalf("%s policies: %v, want %s", tc.name, all, tc.want)
		}
	}
	runSteps(t, []step{
		{"delete r1", func() error {
			return ignore(c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("r1")}))
		}, "", 0},
		{"delete r2", func() error {
			return ignore(c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("R2")}))
		}, "", 0},
		{"get deleted", func() error {
			return ignore(c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("r1")}))
		}, "NoSuchEntity", 404},
		{"delete role", func() error { return ignore(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})) }, "", 0},
	})
}

func TestIAMRoles(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := newIAMClient(ts.URL, rootCreds)
	trust := trustDoc("arn:aws:iam::" + testAccount + ":user/alice")
	r, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), Path: aws.String("/svc/"),
		AssumeRolePolicyDocument: aws.String(trust), Description: aws.String("the app"), MaxSessionDuration: aws.Int32(7200)})
	if err != nil {
		t.Fatal(err)
	}
	if *r.Role.Arn != "arn:aws:iam::"+testAccount+":role/svc/app" || !strings.HasPrefix(*r.Role.RoleId, "AROA") ||
		*r.Role.MaxSessionDuration != 7200 || *r.Role.Description != "the app" || *r.Role.Path != "/svc/" {
		t.Fatalf("CreateRole: %+v", r.Role)
	}
	if d, _ := url.QueryUnescape(*r.Role.AssumeRolePolicyDocument); d != trust {
		t.Fatalf("trust policy %q", *r.Role.AssumeRolePolicyDocument)
	}
	create := func(name, doc string, maxSession *int32) func() error {
		return func() error {
			return ignore(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(doc),
				MaxSessionDuration: maxSession}))
		}
	}
	runSteps(t, []step{
		{"duplicate", create("APP", trust, nil), "EntityAlreadyExists", 409},
		{"trust policy with a resource", create("r1",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"*"}]}`, nil),
			"MalformedPolicyDocument", 400},
		{"trust policy without principal", create("r1",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`, nil), "MalformedPolicyDocument", 400},
		{"trust policy with a kms action", create("r1", strings.Replace(trust, "sts:AssumeRole", "kms:Decrypt", 1), nil),
			"MalformedPolicyDocument", 400},
		{"max session too short", create("r1", trust, aws.Int32(3599)), "ValidationError", 400},
		{"max session too long", create("r1", trust, aws.Int32(43201)), "ValidationError", 400},
		{"get missing", func() error { return ignore(c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")})) }, "NoSuchEntity", 404},
		{"update trust", func() error {
			return ignore(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"),
				PolicyDocument: aws.String(trustDoc(testAccount))}))
		}, "", 0},
		{"update trust malformed", func() error {
			return ignore(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String("[]")}))
		}, "MalformedPolicyDocument", 400},
		{"update trust of a missing role", func() error {
			return ignore(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("nope"),
				PolicyDocument: aws.String(trust)}))
		}, "NoSuchEntity", 404},
		{"second role", create("worker", trust, nil), "", 0},
		{"delete missing", func() error { return ignore(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("nope")})) }, "NoSuchEntity", 404},
	})
	g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("App")})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := url.QueryUnescape(*g.Role.AssumeRolePolicyDocument); d != trustDoc(testAccount) || *g.Role.RoleName != "app" {
		t.Fatalf("GetRole after UpdateAssumeRolePolicy: %+v", g.Role)
	}
	all, err := c.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil || len(all.Roles) != 2 || *all.Roles[0].RoleName != "app" || *all.Roles[1].RoleName != "worker" || all.IsTruncated {
		t.Fatalf("ListRoles: %v %+v", err, all)
	}
	svc, err := c.ListRoles(ctx, &iam.ListRolesInput{PathPrefix: aws.String("/svc")})
	if err != nil || len(svc.Roles) != 1 || *svc.Roles[0].RoleName != "app" {
		t.Fatalf("ListRoles /svc: %v %+v", err, svc)
	}
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("worker")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("worker")}); err == nil {
		t.Fatal("deleted role still there")
	}
}

// TestIAMAuthorization: IAM calls are authorized by the caller's identity
// policies; the root may do everything in its account; changes take effect
// on the next request; accounts do not see each other.
func TestIAMAuthorization(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir})
	root := newIAMClient(ts.URL, rootCreds)
	alice := newIAMClient(ts.URL, createUserWithKey(t, root, "alice"))
	put := func(doc string) func() error {
		return func() error {
			return ignore(root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("admin"),
				PolicyDocument: aws.String(doc)}))
		}
	}
	createBob := func() error { return ignore(alice.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})) }
	runSteps(t, []step{
		{"no policy", createBob, "AccessDenied", 403},
		{"no policy, missing user", func() error {
			return ignore(alice.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")}))
		}, "AccessDenied", 403},
		{"no policy, self", func() error { return ignore(alice.GetUser(ctx, &iam.GetUserInput{})) }, "AccessDenied", 403},
		{"allow iam:CreateUser on one path", put(allowDoc("iam:CreateUser", "arn:aws:iam::"+testAccount+":user/team/*")), "", 0},
		{"outside that path", createBob, "AccessDenied", 403},
		{"inside that path", func() error {
			return ignore(alice.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob"), Path: aws.String("/team/")}))
		}, "", 0},
		{"allow iam:*", put(allowDoc("iam:*", "*")), "", 0},
		{"list", func() error { return ignore(alice.ListUsers(ctx, &iam.ListUsersInput{})) }, "", 0},
		{"self", func() error { return ignore(alice.GetUser(ctx, &iam.GetUserInput{})) }, "", 0},
		{"missing user is now visible as such", func() error {
			return ignore(alice.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")}))
		}, "NoSuchEntity", 404},
		{"revoke", put(denyDoc("iam:*", "*")), "", 0},
		{"revoked at once", func() error { return ignore(alice.ListUsers(ctx, &iam.ListUsersInput{})) }, "AccessDenied", 403},
		{"allow again", put(allowDoc("iam:*", "*")), "", 0},
		{"allowed again", func() error { return ignore(alice.ListUsers(ctx, &iam.ListUsersInput{})) }, "", 0},
		{"delete the policy", func() error {
			return ignore(root.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("admin")}))
		}, "", 0},
		{"gone at once", func() error { return ignore(alice.ListUsers(ctx, &iam.ListUsersInput{})) }, "AccessDenied", 403},
	})
	_, err := alice.ListRoles(ctx, &iam.ListRolesInput{})
	wantMessage(t, err, "AccessDenied", "User: arn:aws:iam::"+testAccount+":user/alice is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::"+testAccount+":role/")

	// A second account, made while the server runs, sees nothing of the first.
	other, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	root2 := newIAMClient(ts.URL, aws.Credentials{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey})
	id, err := newSTSClient(ts.URL, testRegion, aws.Credentials{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey}).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *id.Account != "444455556666" || *id.Arn != "arn:aws:iam::444455556666:root" {
		t.Fatalf("GetCallerIdentity of the new root: %v %+v", err, id)
	}
	list, err := root2.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil || len(list.Users) != 0 {
		t.Fatalf("other account lists %v %v", list, err)
	}
	_, err = root2.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	wantCode(t, err, "NoSuchEntity")
	_, err = root2.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(testAccessKeyID)})
	wantCode(t, err, "NoSuchEntity")
	if _, err := root2.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatalf("same name in another account: %v", err)
	}
	if _, err := ts.CreateAccount("444455556666"); err == nil {
		t.Fatal("created an account twice")
	}
}

func TestAssumeRole(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{}
	ts := startServer(t, server.Config{DataDir: dir, Now: clock.now})
	root := newIAMClient(ts.URL, rootCreds)
	aliceCreds := createUserWithKey(t, root, "alice")
	malloryCreds := createUserWithKey(t, root, "mallory")
	bobCreds := createUserWithKey(t, root, "bob")
	alice := newSTSClient(ts.URL, testRegion, aliceCreds)
	mallory := newSTSClient(ts.URL, testRegion, malloryCreds)
	bob := newSTSClient(ts.URL, testRegion, bobCreds)
	arn := func(account, res string) string { return "arn:aws:iam::" + account + ":" + res }
	// app trusts alice by name; shared trusts the account, which delegates
	// to the callers' identity policies.
	app, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
		AssumeRolePolicyDocument: aws.String(trustDoc(arn(testAccount, "user/alice")))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("shared"),
		AssumeRolePolicyDocument: aws.String(trustDoc(testAccount))}); err != nil {
		t.Fatal(err)
	}
	assume := func(c *sts.Client, role string, secs *int32) func() error {
		return func() error {
			return ignore(c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1"), DurationSeconds: secs}))
		}
	}
	appARN, sharedARN := arn(testAccount, "role/app"), arn(testAccount, "role/shared")
	runSteps(t, []step{
		{"untrusted user", assume(mallory, appARN, nil), "AccessDenied", 403},
		{"root may not assume roles", assume(newSTSClient(ts.URL, testRegion, rootCreds), appARN, nil), "AccessDenied", 403},
		{"missing role", assume(alice, arn(testAccount, "role/nope"), nil), "AccessDenied", 403},
		{"wrong path", assume(alice, arn(testAccount, "role/x/app"), nil), "AccessDenied", 403},
		{"not a role ARN", assume(alice, arn(testAccount, "user/alice"), nil), "ValidationError", 400},
		{"too short", assume(alice, appARN, aws.Int32(899)), "ValidationError", 400},
		{"too long", assume(alice, appARN, aws.Int32(43201)), "ValidationError", 400},
		{"over the role's maximum", assume(alice, appARN, aws.Int32(3601)), "ValidationError", 400},
		{"session name too short", func() error {
			return ignore(alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(appARN), RoleSessionName: aws.String("s")}))
		}, "ValidationError", 400},
		{"bad session name", func() error {
			return ignore(alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(appARN), RoleSessionName: aws.String("a b")}))
		}, "ValidationError", 400},
		{"session policies are refused", func() error {
			return ignore(alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(appARN), RoleSessionName: aws.String("s1"),
				Policy: aws.String(allowDoc("kms:*", "*"))}))
		}, "ValidationError", 400},
		{"trusted by name", assume(alice, appARN, aws.Int32(900)), "", 0},
		{"trusted by name, the maximum", assume(alice, appARN, aws.Int32(3600)), "", 0},
		{"account trust without identity policy", assume(bob, sharedARN, nil), "AccessDenied", 403},
		{"grant bob sts:AssumeRole", func() error {
			return ignore(root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("assume"),
				PolicyDocument: aws.String(allowDoc("sts:AssumeRole", sharedARN))}))
		}, "", 0},
		{"account trust with identity policy", assume(bob, sharedARN, nil), "", 0},
		{"still not app", assume(bob, appARN, nil), "AccessDenied", 403},
	})
	_, err = mallory.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(appARN), RoleSessionName: aws.String("s1")})
	wantMessage(t, err, "AccessDenied", "User: "+arn(testAccount, "user/mallory")+" is not authorized to perform: sts:AssumeRole on resource: "+appARN)

	out, err := alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(appARN), RoleSessionName: aws.String("deploy@ci"),
		DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	sc := out.Credentials
	wantARN := "arn:aws:sts::" + testAccount + ":assumed-role/app/deploy@ci"
	if !strings.HasPrefix(*sc.AccessKeyId, "ASIA") || len(*sc.SecretAccessKey) != 40 || *sc.SessionToken == "" ||
		*out.AssumedRoleUser.Arn != wantARN || *out.AssumedRoleUser.AssumedRoleId != *app.Role.RoleId+":deploy@ci" {
		t.Fatalf("AssumeRole: %+v %+v", sc, out.AssumedRoleUser)
	}
	if d := time.Until(*sc.Expiration); d < 890*time.Second || d > 910*time.Second {
		t.Fatalf("expiration %v is %v away", sc.Expiration, d)
	}
	session := newSTSClient(ts.URL, testRegion, sessionCreds(out))
	id, err := session.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *id.Arn != wantARN || *id.UserId != *app.Role.RoleId+":deploy@ci" || *id.Account != testAccount {
		t.Fatalf("GetCallerIdentity of the session: %v %+v", err, id)
	}
	// Role chaining: the session may assume a role that trusts the
	// account, if its role's policies allow it, for an hour at most.
	if _, err := root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("chain"),
		PolicyDocument: aws.String(allowDoc("sts:AssumeRole", sharedARN))}); err != nil {
		t.Fatal(err)
	}
	other, err := alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(appARN), RoleSessionName: aws.String("s2")})
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, []step{
		{"chained", assume(session, sharedARN, nil), "", 0},
		{"chained over an hour", assume(session, sharedARN, aws.Int32(3601)), "ValidationError", 400},
	})

	// Tokens the server did not issue for this key are refused.
	raw, err := base64.StdEncoding.DecodeString(*sc.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x01
	tampered := base64.StdEncoding.EncodeToString(raw)
	callerWith := func(creds aws.Credentials) func() error {
		return func() error {
			return ignore(newSTSClient(ts.URL, testRegion, creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
		}
	}
	withToken := func(token string) aws.Credentials {
		c := sessionCreds(out)
		c.SessionToken = token
		return c
	}
	runSteps(t, []step{
		{"tampered token", callerWith(withToken(tampered)), "InvalidClientTokenId", 403},
		{"another session's token", callerWith(withToken(*other.Credentials.SessionToken)), "InvalidClientTokenId", 403},
		{"no token", callerWith(withToken("")), "InvalidClientTokenId", 403},
		{"long-term key with a token", callerWith(aws.Credentials{AccessKeyID: aliceCreds.AccessKeyID, SecretAccessKey: aliceCreds.SecretAccessKey,
			SessionToken: *sc.SessionToken}), "InvalidClientTokenId", 403},
		{"still valid", callerWith(sessionCreds(out)), "", 0},
	})

	// Expiry: the 900-second session ends when the server's clock passes
	// it; the 3600-second one does not.
	clock.advance(901 * time.Second)
	_, err = session.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantMessage(t, err, "ExpiredToken", "The security token included in the request is expired")
	_, err = newClient(ts.URL, testRegion, *sc.AccessKeyId, *sc.SecretAccessKey).ListKeys(ctx, &awskms.ListKeysInput{},
		func(o *awskms.Options) {
			o.Credentials = credentials.StaticCredentialsProvider{Value: sessionCreds(out)}
		})
	wantCode(t, err, "ExpiredTokenException")
	otherSession := newSTSClient(ts.URL, testRegion, sessionCreds(other))
	if _, err := otherSession.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	// Deleting the role ends its sessions at once.
	if _, err := root.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("chain")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	_, err = otherSession.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	// A new role of the same name does not revive them.
	if _, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
		AssumeRolePolicyDocument: aws.String(trustDoc(arn(testAccount, "user/alice")))}); err != nil {
		t.Fatal(err)
	}
	_, err = otherSession.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
}

// TestAssumeRoleCrossAccount: a role of one account assumed by a user of
// another needs the role's trust and the user's own identity policy.
func TestAssumeRoleCrossAccount(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir})
	b, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	rootA := newIAMClient(ts.URL, rootCreds)
	rootB := newIAMClient(ts.URL, aws.Credentials{AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey})
	alice := newSTSClient(ts.URL, testRegion, createUserWithKey(t, rootA, "alice"))
	roleARN := "arn:aws:iam::444455556666:role/partner"
	if _, err := rootB.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("partner"),
		AssumeRolePolicyDocument: aws.String(trustDoc("arn:aws:iam::" + testAccount + ":user/alice"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := rootB.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("private"),
		AssumeRolePolicyDocument: aws.String(trustDoc("444455556666"))}); err != nil {
		t.Fatal(err)
	}
	assume := func(role string) func() error {
		return func() error {
			return ignore(alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("x-acct")}))
		}
	}
	var out *sts.AssumeRoleOutput
	runSteps(t, []step{
		{"trusted, but no identity policy", assume(roleARN), "AccessDenied", 403},
		{"allow sts:AssumeRole", func() error {
			return ignore(rootA.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p"),
				PolicyDocument: aws.String(allowDoc("sts:AssumeRole", "*"))}))
		}, "", 0},
		{"both sides allow", func() (err error) {
			out, err = alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("x-acct")})
			return err
		}, "", 0},
		{"role that does not trust account A", assume("arn:aws:iam::444455556666:role/private"), "AccessDenied", 403},
	})
	id, err := newSTSClient(ts.URL, testRegion, sessionCreds(out)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *id.Account != "444455556666" || *id.Arn != "arn:aws:sts::444455556666:assumed-role/partner/x-acct" {
		t.Fatalf("cross-account session: %v %+v", err, id)
	}
}

// queryCall sends a form-encoded request signed for service, or unsigned
// when creds is nil, and returns the status and body.
func queryCall(t *testing.T, url, service, region, contentType, body string, creds *aws.Credentials) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", contentType)
	if creds != nil {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(ctx, *creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type queryError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

// TestQueryProtocol: routing between the KMS JSON protocol and the IAM/STS
// query protocol, and the XML shapes of responses and errors.
func TestQueryProtocol(t *testing.T) {
	ts := startServer(t, server.Config{Regions: []string{"eu-west-1"}})
	const form = "application/x-www-form-urlencoded; charset=utf-8"
	const iamNS, stsNS = "https://iam.amazonaws.com/doc/2010-05-08/", "https://sts.amazonaws.com/doc/2011-06-15/"
	for _, tc := range []struct {
		name, service, region, contentType, body string
		creds                                    *aws.Credentials
		status                                   int
		code, ns, msg                            string
	}{
		{"iam ok, any region", "iam", "us-east-1", form, "Action=ListUsers&Version=2010-05-08", &rootCreds, 200, "", iamNS, ""},
		{"sts ok", "sts", "eu-west-1", form, "Action=GetCallerIdentity&Version=2011-06-15", &rootCreds, 200, "", stsNS, ""},
		{"sts outside the regions", "sts", "us-east-1", form, "Action=GetCallerIdentity&Version=2011-06-15", &rootCreds, 403,
			"SignatureDoesNotMatch", stsNS, "Credential should be scoped to a valid region"},
		{"no action", "iam", "us-east-1", form, "Version=2010-05-08", &rootCreds, 400, "MissingAction", iamNS, ""},
		{"unknown action", "iam", "us-east-1", form, "Action=CreateGroup&Version=2010-05-08", &rootCreds, 400, "InvalidAction", iamNS,
			"Could not find operation CreateGroup for version 2010-05-08"},
		{"sts action on iam", "iam", "us-east-1", form, "Action=AssumeRole&Version=2010-05-08", &rootCreds, 400, "InvalidAction", iamNS, ""},
		{"wrong version", "iam", "us-east-1", form, "Action=ListUsers&Version=2011-06-15", &rootCreds, 400, "InvalidAction", iamNS, ""},
		{"unknown parameter", "iam", "us-east-1", form, "Action=ListUsers&Version=2010-05-08&Frob=1", &rootCreds, 400, "ValidationError", iamNS,
			"Frob"},
		{"not a number", "iam", "us-east-1", form, "Action=ListUsers&Version=2010-05-08&MaxItems=ten", &rootCreds, 400, "ValidationError", iamNS, ""},
		{"missing member", "iam", "us-east-1", form, "Action=CreateUser&Version=2010-05-08", &rootCreds, 400, "ValidationError", iamNS,
			"1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"bad secret", "iam", "us-east-1", form, "Action=ListUsers&Version=2010-05-08",
			&aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: "wrong"}, 403, "SignatureDoesNotMatch", iamNS, ""},
		{"unknown key", "sts", "eu-west-1", form, "Action=GetCallerIdentity&Version=2011-06-15",
			&aws.Credentials{AccessKeyID: "AKIAUNKNOWNKEY000000", SecretAccessKey: testSecret}, 403, "InvalidClientTokenId", stsNS,
			"The security token included in the request is invalid."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := queryCall(t, ts.URL, tc.service, tc.region, tc.contentType, tc.body, tc.creds)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.code == "" {
				if !strings.Contains(body, `xmlns="`+tc.ns+`"`) || !strings.Contains(body, "<ResponseMetadata><RequestId>") {
					t.Fatalf("response %s", body)
				}
				return
			}
			var e queryError
			if err := xml.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("error body %q: %v", body, err)
			}
			if e.Xmlns != tc.ns || e.Error.Type != "Sender" || e.Error.Code != tc.code || e.RequestID == "" || !strings.Contains(e.Error.Message, tc.msg) {
				t.Fatalf("error %+v, want %s %q", e, tc.code, tc.msg)
			}
		})
	}
	// The exact envelope of a response.
	status, body := queryCall(t, ts.URL, "iam", "us-east-1", form,
		"Action=CreateUser&Version=2010-05-08&UserName=alice", &rootCreds)
	if status != 200 || !strings.HasPrefix(body, `<CreateUserResponse xmlns="`+iamNS+`"><CreateUserResult><User><Path>/</Path><UserName>alice</UserName><UserId>AIDA`) ||
		!strings.Contains(body, `</CreateDate></User></CreateUserResult><ResponseMetadata><RequestId>`) ||
		!strings.HasSuffix(body, `</RequestId></ResponseMetadata></CreateUserResponse>`) {
		t.Fatalf("CreateUser: %d %s", status, body)
	}
	status, body = queryCall(t, ts.URL, "iam", "us-east-1", form,
		"Action=DeleteUser&Version=2010-05-08&UserName=alice", &rootCreds)
	if status != 200 || !strings.HasPrefix(body, `<DeleteUserResponse xmlns="`+iamNS+`"><ResponseMetadata><RequestId>`) {
		t.Fatalf("DeleteUser: %d %s", status, body)
	}

	// What stays KMS's: no target and signed for kms, or not form-encoded,
	// or unsigned; a KMS target signed for iam.
	for _, tc := range []struct {
		name, service, contentType string
		creds                      *aws.Credentials
		target, code               string
	}{
		{"no target, signed for kms", "kms", form, &rootCreds, "", "UnknownOperationException"},
		{"no target, JSON, signed for iam", "iam", "application/x-amz-json-1.1", &rootCreds, "", "UnknownOperationException"},
		{"no target, unsigned", "iam", form, nil, "", "UnknownOperationException"},
		{"KMS target signed for iam", "iam", "application/x-amz-json-1.1", &rootCreds, "TrentService.ListKeys", "InvalidSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.URL+"/", strings.NewReader("Action=ListUsers&Version=2010-05-08"))
			req.Header.Set("Content-Type", tc.contentType)
			if tc.target != "" {
				req.Header.Set("X-Amz-Target", tc.target)
			}
			if tc.creds != nil {
				sum := sha256.Sum256([]byte("Action=ListUsers&Version=2010-05-08"))
				v4.NewSigner().SignHTTP(ctx, *tc.creds, req, hex.EncodeToString(sum[:]), tc.service, "eu-west-1", time.Now())
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 400 || resp.Header.Get("x-amzn-ErrorType") != tc.code {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), b)
			}
		})
	}
}
