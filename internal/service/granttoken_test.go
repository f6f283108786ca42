package service

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/openkms/kms/internal/store"
)

var tokenGrants = []store.Grant{
	{ID: strings.Repeat("ab", 32), KeyID: "1234abcd-12ab-34cd-56ef-1234567890ab"},
	{ID: strings.Repeat("01", 32), KeyID: "mrk-1234abcd12ab34cd56ef1234567890ab@eu-west-1"},
	{ID: strings.Repeat("ff", 32), KeyID: "mrk-00000000000000000000000000000000@ap-southeast-2"},
}

// TestGrantTokenRoundTrip: a token names its grant and the store id of
// its key, the region included for a multi-Region key, and any change to
// it is refused.
func TestGrantTokenRoundTrip(t *testing.T) {
	s := markerService(t, 1)
	for _, g := range tokenGrants {
		tok := s.newGrantToken(&g)
		keyID, grantID, err := s.parseGrantToken(tok)
		if err != nil || keyID != g.KeyID || grantID != g.ID {
			t.Errorf("%s: parsed %s %s, %v", g.KeyID, keyID, grantID, err)
		}
		b, _ := base64.RawURLEncoding.DecodeString(tok)
		for i := range b {
			c := append([]byte(nil), b...)
			c[i] ^= 1
			if _, _, err := s.parseGrantToken(base64.RawURLEncoding.EncodeToString(c)); err == nil {
				t.Errorf("%s: token with byte %d changed accepted", g.KeyID, i)
			}
		}
		if _, _, err := markerService(t, 2).parseGrantToken(tok); err == nil {
			t.Errorf("%s: token accepted by another server's key", g.KeyID)
		}
	}
}

// FuzzParseGrantToken: no input panics, and what is accepted names a
// well-formed grant and key.
func FuzzParseGrantToken(f *testing.F) {
	s := markerService(f, 1)
	for _, g := range tokenGrants {
		f.Add(s.newGrantToken(&g))
	}
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, tok string) {
		keyID, grantID, err := s.parseGrantToken(tok)
		if err == nil && (!validRowID(keyID) || !validGrantID(grantID)) {
			t.Fatalf("accepted %q naming key %q grant %q", tok, keyID, grantID)
		}
	})
}
