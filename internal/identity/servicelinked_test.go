package identity

import (
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

func TestServiceLinkedRoleName(t *testing.T) {
	for _, tc := range []struct{ service, suffix, want string }{
		{"s3.amazonaws.com", "", "AWSServiceRoleForS3"},
		{"elasticloadbalancing.amazonaws.com", "", "AWSServiceRoleForElasticloadbalancing"},
		{"auto-scaling.amazonaws.com", "debug", "AWSServiceRoleForAutoScaling_debug"},
		{"logs.us-east-1.amazonaws.com", "", "AWSServiceRoleForLogs"},
	} {
		if got := serviceLinkedRoleName(tc.service, tc.suffix); got != tc.want {
			t.Errorf("serviceLinkedRoleName(%q, %q) = %q, want %q", tc.service, tc.suffix, got, tc.want)
		}
	}
	for path, want := range map[string]string{
		"/aws-service-role/s3.amazonaws.com/":    "s3.amazonaws.com",
		"/aws-service-role/s3.amazonaws.com/x/":  "", // not a service principal
		"/aws-service-role/":                     "",
		"/service-role/s3.amazonaws.com/":        "",
		"/aws-service-role/s3.amazonaws.com":     "",
		"/aws-service-role/arn:aws:iam::1:root/": "",
	} {
		if got := serviceLinkedPrincipal(path); got != want {
			t.Errorf("serviceLinkedPrincipal(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestServiceLinkedSessions: a session of a service-linked role acts as
// its service; a role that merely sits at such a path (as an older release
// let CreateRole make) does not.
func TestServiceLinkedSessions(t *testing.T) {
	i, st := newTestIdentity(t)
	if _, err := i.CreateAccount(ctx, testAccount, "", ""); err != nil {
		t.Fatal(err)
	}
	root := rootCaller(testAccount)
	slr, err := i.CreateServiceLinkedRole(ctx, root, &CreateServiceLinkedRoleInput{AWSServiceName: "s3.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	legacy := store.Role{Account: testAccount, Name: "AWSServiceRoleForLogs", ID: uniqueID(roleIDPrefix, 17),
		Path:               "/aws-service-role/logs.amazonaws.com/",
		AssumeRolePolicy:   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}`,
		MaxSessionDuration: defaultSessionMaxSecs, Created: time.Now()}
	if err := st.CreateRole(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := i.CreateUser(ctx, root, &CreateUserInput{UserName: "agent"}); err != nil {
		t.Fatal(err)
	}
	if err := i.PutUserPolicy(ctx, root, &PutUserPolicyInput{UserName: "agent", PolicyName: "assume",
		PolicyDocument: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`}); err != nil {
		t.Fatal(err)
	}
	agent := &Caller{Principal: kms.Principal{Account: testAccount, ARN: "arn:aws:iam::111122223333:user/agent",
		Type: kms.PrincipalUser, Name: "agent"}}
	for _, tc := range []struct{ arn, want string }{
		{slr.Role.Arn, "s3.amazonaws.com"},
		{"arn:aws:iam::111122223333:role/aws-service-role/logs.amazonaws.com/AWSServiceRoleForLogs", ""},
	} {
		out, err := i.AssumeRole(ctx, agent, &AssumeRoleInput{RoleArn: tc.arn, RoleSessionName: "svc"})
		if err != nil {
			t.Fatalf("AssumeRole %s: %v", tc.arn, err)
		}
		for range 2 { // the second answer comes from the cache
			cred, err := i.Lookup(ctx, out.Credentials.AccessKeyID, out.Credentials.SessionToken)
			if err != nil || cred.Principal.ServicePrincipal != tc.want {
				t.Fatalf("session of %s acts as %q, %v; want %q", tc.arn, cred.Principal.ServicePrincipal, err, tc.want)
			}
		}
	}
	// The root may not assume roles, service-linked ones included.
	if _, err := i.AssumeRole(ctx, root, &AssumeRoleInput{RoleArn: slr.Role.Arn, RoleSessionName: "svc"}); err == nil {
		t.Fatal("the root assumed the service-linked role")
	}
}
