package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeSection returns the README text under heading, up to the next
// second-level heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no heading %q", heading)
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	return section
}

// readmeScripts returns every ```sh block of a README section, in order.
func readmeScripts(t *testing.T, heading string) []string {
	t.Helper()
	rest := readmeSection(t, heading)
	var scripts []string
	for {
		var ok bool
		if _, rest, ok = strings.Cut(rest, "\n```sh\n"); !ok {
			return scripts
		}
		var script string
		if script, rest, ok = strings.Cut(rest, "\n```\n"); !ok {
			t.Fatalf("README.md: unterminated sh block under %q", heading)
		}
		scripts = append(scripts, script)
	}
}

// TestREADMESigningScripts runs the scripts of the README's section on
// signing, MACs and key agreement, as written, with the real AWS CLI and
// openssl against a `kms server` (its endpoint and credentials put in):
// a release signed RAW and by digest and checked by openssl, an HMAC token
// made, checked and forged, and a shared secret derived on both sides. Then
// it checks the files the scripts left with Go's crypto.
func TestREADMESigningScripts(t *testing.T) {
	for _, tool := range []string{"openssl", "bash", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for this test and is not on PATH", tool)
		}
	}
	scripts := readmeScripts(t, "## Signing, MACs and key agreement")
	if len(scripts) != 3 {
		t.Fatalf("README section has %d sh blocks, want 3 (signing, HMAC, key agreement)", len(scripts))
	}
	script := strings.Join(scripts, "\n")
	for _, want := range []string{
		"http://127.0.0.1:7900",
		"aws $EP kms sign --key-id alias/release-signing --message fileb://artifact.tar.gz \\\n  --message-type RAW --signing-algorithm ECDSA_SHA_256",
		"aws $EP kms get-public-key --key-id alias/release-signing --output text --query PublicKey | base64 -d > pub.der",
		"openssl dgst -sha256 -verify pub.pem -signature sig.bin artifact.tar.gz",
		"aws $EP kms generate-mac",
		"aws $EP kms verify-mac",
	} {
		if !strings.Contains(script, want) {
			t.Fatalf("the README scripts do not contain %q", want)
		}
	}

	r := runScript(t, "README scripts", script)
	stdout, stderr := &r.stdout, &r.stderr
	want := []string{"Verified OK", "Verified OK", "True", "True", "forged token rejected", "same secret"}
	if got := strings.Split(strings.TrimSpace(stdout.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("README scripts printed:\n%s\nwant:\n%s\nstderr:\n%s", stdout.String(), strings.Join(want, "\n"), stderr.String())
	}

	// The signatures verify with Go's crypto too, against the artifact.
	read := func(name string) []byte { return r.read(t, name) }
	k, err := x509.ParsePKIXPublicKey(read("pub.der"))
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve.Params().Name != "P-256" {
		t.Fatalf("pub.der holds a %T", k)
	}
	d := sha256.Sum256(read("artifact.tar.gz"))
	for _, sig := range []string{"sig.bin", "digest-sig.bin"} {
		if !ecdsa.VerifyASN1(pub, d[:], read(sig)) {
			t.Fatalf("%s does not verify with Go's crypto/ecdsa", sig)
		}
	}
	if mac := read("token.mac"); len(mac) != 32 {
		t.Fatalf("token.mac has %d bytes, want 32", len(mac))
	}
	if a, b := read("kms.secret"), read("peer.secret"); len(a) != 32 || !bytes.Equal(a, b) {
		t.Fatalf("shared secrets of %d and %d bytes", len(a), len(b))
	}

	// The keys are what the README says they are.
	cli := newAWSCLI(t, r.p.URL, r.dir)
	for alias, want := range map[string][2]string{
		"alias/release-signing": {"ECC_NIST_P256", "SIGN_VERIFY"},
		"alias/session-tokens":  {"HMAC_256", "GENERATE_VERIFY_MAC"},
	} {
		m := cli.run("kms", "describe-key", "--key-id", alias)["KeyMetadata"].(map[string]any)
		if m["KeySpec"] != want[0] || m["KeyUsage"] != want[1] {
			t.Fatalf("%s: %v", alias, m)
		}
	}
}
