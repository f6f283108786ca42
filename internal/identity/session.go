package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Session is the state of temporary credentials issued by AssumeRole. It
// travels inside the session token itself, sealed, so the server keeps no
// session table: the token is verified and opened on every request.
type Session struct {
	AccessKeyID string    `json:"k"` // ASIA...
	Secret      string    `json:"s"`
	Account     string    `json:"a"`
	RoleName    string    `json:"r"`
	RoleID      string    `json:"i"`
	RolePath    string    `json:"p"`
	SessionName string    `json:"n"`
	Expiration  time.Time `json:"e"`
	// Created is when AssumeRole issued the session; zero in tokens
	// issued before it was recorded.
	Created time.Time `json:"c,omitzero"`
}

// errBadToken covers every reason a token does not open; callers answer
// UnrecognizedClientException without detail.
var errBadToken = errors.New("identity: invalid session token")

const (
	tokenVersion = 1
	tokenAAD     = "openkms sts session token v1"
)

// tokenCodec seals sessions into tokens with AES-256-GCM under a key that
// only this server has (derived from its root key).
type tokenCodec struct{ aead cipher.AEAD }

func newTokenCodec(key []byte) (*tokenCodec, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &tokenCodec{aead: aead}, nil
}

// encode returns the token: version byte || nonce || GCM(JSON), base64.
func (c *tokenCodec) encode(s *Session) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	defer clear(plain)
	out := make([]byte, 1+c.aead.NonceSize(), 1+c.aead.NonceSize()+len(plain)+c.aead.Overhead())
	out[0] = tokenVersion
	rand.Read(out[1:])
	out = c.aead.Seal(out, out[1:], plain, []byte(tokenAAD))
	return base64.StdEncoding.EncodeToString(out), nil
}

func (c *tokenCodec) decode(token string) (*Session, error) {
	if len(token) > 4096 {
		return nil, errBadToken
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	ns := c.aead.NonceSize()
	if err != nil || len(raw) < 1+ns+c.aead.Overhead() || raw[0] != tokenVersion {
		return nil, errBadToken
	}
	plain, err := c.aead.Open(nil, raw[1:1+ns], raw[1+ns:], []byte(tokenAAD))
	if err != nil {
		return nil, errBadToken
	}
	defer clear(plain)
	var s Session
	if err := json.Unmarshal(plain, &s); err != nil {
		return nil, errBadToken
	}
	return &s, nil
}
