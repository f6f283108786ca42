// Package hsmtest makes throwaway SoftHSM2 tokens for tests of the PKCS#11
// seal. Nothing is skipped when SoftHSM2 is missing: [Token] fails the test,
// and scripts/test.sh installs Debian's softhsm2 package first.
//
// Each token lives in its own temporary directory; SOFTHSM2_CONF points at
// its configuration for the rest of the test (so tests that use a token
// cannot run in parallel).
package hsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Module is the PKCS#11 module of Debian's softhsm2 package.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// The token Token makes.
const (
	TokenLabel = "kms-test"
	PIN        = "1234"
	SOPIN      = "0000"
)

// Token initialises a new, empty SoftHSM2 token labelled TokenLabel with
// user PIN PIN, and sets SOFTHSM2_CONF to its configuration. It returns the
// directory that holds the token's files.
func Token(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Module); err != nil {
		t.Fatalf("hsmtest: SoftHSM2's PKCS#11 module is missing (%v): install Debian's softhsm2 package (scripts/test.sh does)", err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("hsmtest: softhsm2-util is missing (%v): install Debian's softhsm2 package (scripts/test.sh does)", err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	cmd := exec.Command(util, "--init-token", "--free", "--label", TokenLabel, "--pin", PIN, "--so-pin", SOPIN)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hsmtest: softhsm2-util --init-token: %v\n%s", err, out)
	}
	return tokens
}
