package sigv4

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openkms/kms"
)

// TestSessionTokensAndServices: the session token reaches the Lookup, its
// verdicts map to AWS's errors, and Services accepts several scopes.
func TestSessionTokensAndServices(t *testing.T) {
	v := &Verifier{
		Services: []string{"kms", "sts", "iam"},
		Lookup: func(_ context.Context, akid, token string) (Credential, error) {
			switch token {
			case "":
				return Credential{Secret: []byte("s"), Principal: kms.RootPrincipal("111122223333", akid)}, nil
			case "good":
				return Credential{Secret: []byte("s"), Principal: kms.Principal{Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/r/s"}}, nil
			case "expired":
				return Credential{}, ErrExpiredToken
			}
			return Credential{}, ErrUnknownAccessKey
		},
		Now: func() time.Time { return exampleTime },
	}
	for _, tc := range []struct {
		token, service, code, principal string
	}{
		{"", "kms", "", "arn:aws:iam::111122223333:root"},
		{"", "sts", "", "arn:aws:iam::111122223333:root"},
		{"good", "iam", "", "arn:aws:sts::111122223333:assumed-role/r/s"},
		{"expired", "kms", kms.ErrExpiredToken, ""},
		{"forged", "kms", kms.ErrUnrecognizedClient, ""},
		{"", "s3", kms.ErrInvalidSignature, ""},
	} {
		r := kmsRequest(t, "https://kms.us-east-1.amazonaws.com/", "TrentService.Encrypt", testBody)
		sdkSign(t, r, []byte(testBody), "ASIATEST", "s", tc.token, tc.service, "us-east-1", exampleTime)
		res, err := v.Verify(r, []byte(testBody))
		var ke *kms.Error
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s/%s: %v", tc.token, tc.service, err)
		case tc.code != "" && (!errors.As(err, &ke) || ke.Code != tc.code):
			t.Errorf("%s/%s: got %v, want %s", tc.token, tc.service, err, tc.code)
		case tc.code == "" && (res.Service != tc.service || res.Principal.ARN != tc.principal):
			t.Errorf("%s/%s: result %+v", tc.token, tc.service, res)
		}
	}
}
