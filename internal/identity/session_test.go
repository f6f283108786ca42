package identity

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"
)

func TestTokenRoundTripAndTamper(t *testing.T) {
	c, err := newTokenCodec(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{AccessKeyID: "ASIAEXAMPLE", Secret: "sekrit", Account: "111122223333", RoleName: "app",
		RoleID: "AROAEXAMPLE", RolePath: "/", SessionName: "s1", Expiration: time.Unix(1800000000, 0).UTC()}
	tok, err := c.encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains([]byte(tok), []byte("sekrit")) {
		t.Fatal("token shows the secret")
	}
	got, err := c.decode(tok)
	if err != nil || *got != *s {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(tok)
	for i := range raw {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		if _, err := c.decode(base64.StdEncoding.EncodeToString(b)); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	other, _ := newTokenCodec(bytes.Repeat([]byte{2}, 32))
	for _, bad := range []string{"", "x", "!!!", tok[:len(tok)-8]} {
		if _, err := c.decode(bad); err == nil {
			t.Fatalf("decoded %q", bad)
		}
	}
	if _, err := other.decode(tok); err == nil {
		t.Fatal("another server's key opened the token")
	}
}

func FuzzTokenDecode(f *testing.F) {
	c, _ := newTokenCodec(bytes.Repeat([]byte{1}, 32))
	tok, _ := c.encode(&Session{AccessKeyID: "ASIA"})
	f.Add(tok)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c.decode(s) // must not panic
	})
}
