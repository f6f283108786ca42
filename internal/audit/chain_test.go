package audit

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"
	"time"
)

// TestFormatKnownAnswers pins the chain and checkpoint encodings: a change
// here strands every log already written.
func TestFormatKnownAnswers(t *testing.T) {
	t.Parallel()
	var zero Hash
	h1 := recordHash(zero, 1, []byte(`{"eventID":"a"}`))
	if got, want := h1.String(), "f92c98c1c294f9021d06fff4e8542cd09cb06e2b2df17f572b9e1541e8d8174e"; got != want {
		t.Errorf("recordHash = %s, want %s", got, want)
	}

	k := testKey("known answers")
	body, sig, err := signed(k, checkpointDomain, Checkpoint{
		Version: 1, Region: "us-east-1", Seq: 1, Hash: h1.String(), PreviousSignatureHash: zero.String(),
		Time: time.Date(2025, 3, 1, 12, 0, 0, 500, time.UTC), Reason: "close", KeyFingerprint: Fingerprint(pub(k)),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantBody := `{"version":1,"region":"us-east-1","seq":1,"hash":"` + h1.String() + `",` +
		`"previousSignatureHash":"0000000000000000000000000000000000000000000000000000000000000000",` +
		`"time":"2025-03-01T12:00:00.0000005Z","reason":"close","keyFingerprint":"` + Fingerprint(pub(k)) + `"}`
	if string(body) != wantBody {
		t.Errorf("checkpoint body\n got %s\nwant %s", body, wantBody)
	}
	if !ed25519.Verify(pub(k), append([]byte("openkms-audit-checkpoint-v1\n"), body...), sig) {
		t.Error("checkpoint signature is not over the domain string and the body")
	}
	var c Checkpoint
	if err := parseSigned(pub(k), checkpointDomain, body, sig, &c); err != nil {
		t.Fatal(err)
	}
	if err := parseSigned(pub(k), anchorDomain, body, sig, &c); err != errBadSignature {
		t.Errorf("a checkpoint signature verifies as an anchor's: %v", err)
	}
	// Ed25519 signatures are deterministic.
	got, want := hex.EncodeToString(sig), "d7f8c72990f4a4bf476caedb7d13fc77f6cf9266061969a4f1bebec668dca490852806a5a8de7248ccde718a9ee10c7447deb621d269901299ce82d5541b5804"
	if got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

func TestParseCanonical(t *testing.T) {
	t.Parallel()
	good := `{"version":1,"region":"r","seq":1,"hash":"","previousSignatureHash":"","time":"2025-03-01T12:00:00Z","reason":"","keyFingerprint":""}`
	var c Checkpoint
	if err := parseCanonical([]byte(good), &c); err != nil {
		t.Fatalf("canonical: %v", err)
	}
	for _, bad := range []string{
		` ` + good,
		good + ` `,
		good + `{}`,
		`{"region":"r","version":1,"seq":1,"hash":"","previousSignatureHash":"","time":"2025-03-01T12:00:00Z","reason":"","keyFingerprint":""}`,
		`{"version":1,"region":"r","seq":1,"hash":"","previousSignatureHash":"","time":"2025-03-01T12:00:00Z","reason":"","keyFingerprint":"","x":1}`,
		`{"version":1,"region":"\u0072","seq":1,"hash":"","previousSignatureHash":"","time":"2025-03-01T12:00:00Z","reason":"","keyFingerprint":""}`,
	} {
		if err := parseCanonical([]byte(bad), &Checkpoint{}); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// FuzzCheckpoint: whatever the parser accepts is the one encoding of what
// it decoded, and checking its members does not panic.
func FuzzCheckpoint(f *testing.F) {
	k := testKey("fuzz")
	body, _, _ := signed(k, checkpointDomain, Checkpoint{Version: 1, Region: "us-east-1", Seq: 7,
		Hash: Hash{1}.String(), PreviousSignatureHash: Hash{}.String(), Time: time.Unix(1e9, 0).UTC()})
	f.Add(body)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var c Checkpoint
		if parseCanonical(body, &c) != nil {
			return
		}
		c.fields()
		var a Anchor
		if parseCanonical(body, &a) == nil {
			a.fields()
		}
	})
}
