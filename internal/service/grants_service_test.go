package service

import (
	"context"
	"slices"
	"testing"

	"github.com/openkms/kms"
)

func TestGranteeMatches(t *testing.T) {
	const s3 = "s3.amazonaws.com"
	svc := func(account, service string) *kms.Principal {
		p := session(account, "aws-service-role/"+service+"/AWSServiceRoleForS3", "x").Principal
		p.ServicePrincipal = service
		return &p
	}
	alice := user(acctA, "alice").Principal
	for _, tc := range []struct {
		name, grantee string
		p             *kms.Principal
		keyAccount    string
		want          bool
	}{
		{"the service on its account's key", s3, svc(acctA, s3), acctA, true},
		{"the service on another account's key", s3, svc(acctB, s3), acctA, false},
		{"another service", s3, svc(acctA, "logs.amazonaws.com"), acctA, false},
		{"a user is no service", s3, &alice, acctA, false},
		{"the service's session is not a user's grant", alice.ARN, svc(acctA, s3), acctA, false},
		{"the user", alice.ARN, &alice, acctA, true},
	} {
		if got := granteeMatches(tc.grantee, tc.p, tc.keyAccount); got != tc.want {
			t.Errorf("%s: granteeMatches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidSourceArn(t *testing.T) {
	for s, want := range map[string]bool{
		"arn:aws:s3:::amzn-s3-demo-bucket":                    true,
		"arn:aws:logs:us-east-1:111122223333:log-group:app":   true,
		"arn:aws:logs:us-east-1:111122223333:log-group:a:b:c": true,
		"arn:aws:s3:::":          false,
		"arn:aws-cn:s3:::bucket": false,
		"arn:aws::::x":           false,
		"arn:aws:logs:us-east-1:1111:log-group:app": false,
		"amzn-s3-demo-bucket":                       false,
		"":                                          false,
	} {
		if got := validSourceArn(s); got != want {
			t.Errorf("validSourceArn(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestRetirableByServicePages: grants retirable by a service principal
// are listed only on keys of the caller's account, across pages whose
// store reads the filter thins out.
func TestRetirableByServicePages(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	s3 := "s3.amazonaws.com"
	src := "arn:aws:s3:::amzn-s3-demo-bucket"
	var want []string
	for i := range 3 {
		for _, acct := range []string{acctB, acctA, acctB} {
			k, err := s.CreateKey(ctx, rootOf(acct), &CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			g, err := s.CreateGrant(ctx, rootOf(acct), &CreateGrantInput{KeyId: &k.KeyMetadata.KeyId, GranteeServicePrincipal: &s3,
				RetiringServicePrincipal: &s3, Operations: []string{"Decrypt"}, Constraints: &GrantConstraints{SourceArn: &src}})
			if err != nil {
				t.Fatalf("grant %d in %s: %v", i, acct, err)
			}
			if acct == acctA {
				want = append(want, g.GrantId)
			}
		}
	}
	for _, limit := range []int32{1, 2, 50} {
		var got []string
		var marker *string
		for range 10 {
			out, err := s.ListRetirableGrants(ctx, rootOf(acctA), &ListRetirableGrantsInput{RetiringPrincipal: &s3,
				ListInput: ListInput{Limit: &limit, Marker: marker}})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Grants {
				got = append(got, e.GrantId)
				if e.RetiringServicePrincipal != s3 || e.GranteeServicePrincipal != s3 || e.Constraints == nil || *e.Constraints.SourceArn != src {
					t.Errorf("entry %+v", e)
				}
			}
			if !out.Truncated {
				break
			}
			marker = &out.NextMarker
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: listed %v, want %v", limit, got, want)
		}
	}
}
