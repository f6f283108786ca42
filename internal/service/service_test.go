package service

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/seal"
)

func TestParseARN(t *testing.T) {
	const id = "1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tc := range []struct {
		in                        string
		ok                        bool
		region, account, resource string
	}{
		{in: "arn:aws:kms:us-east-1:111122223333:key/" + id, ok: true, region: "us-east-1", account: "111122223333", resource: "key/" + id},
		{in: "arn:aws:kms:eu-west-1:111122223333:alias/my-key", ok: true, region: "eu-west-1", account: "111122223333", resource: "alias/my-key"},
		// Only the first five colons split; the resource may hold more.
		{in: "arn:aws:kms:us-east-1:111122223333:alias/a:b:c", ok: true, region: "us-east-1", account: "111122223333", resource: "alias/a:b:c"},
		// An empty key id is for lookup to refuse, with NotFound as AWS does.
		{in: "arn:aws:kms:us-east-1:111122223333:key/", ok: true, region: "us-east-1", account: "111122223333", resource: "key/"},
		{in: ""},
		{in: "arn:"},
		{in: "arn:aws:kms:us-east-1:111122223333"},
		{in: "arn:aws:kms:us-east-1:111122223333:" + id},
		{in: "arn:aws-cn:kms:us-east-1:111122223333:key/" + id},
		{in: "arn:aws:iam::111122223333:root"},
		{in: "arn:aws:KMS:us-east-1:111122223333:key/" + id},
		{in: "arn:aws:kms::111122223333:key/" + id},
		{in: "arn:aws:kms:us-east-1::key/" + id},
		{in: "arn:aws:kms:us-east-1:111122223333:Key/" + id},
		{in: "arn:aws:kms:us-east-1:111122223333:grant/" + id},
		{in: "arn:aws:kms:us-east-1:111122223333:aliasx"},
		{in: "xyz:aws:kms:us-east-1:111122223333:key/" + id},
		{in: ":aws:kms:us-east-1:111122223333:key/" + id},
	} {
		t.Run(tc.in, func(t *testing.T) {
			a, err := parseARN(tc.in)
			if !tc.ok {
				var ke *kms.Error
				if !errors.As(err, &ke) || ke.Code != kms.ErrInvalidArn {
					t.Fatalf("got %+v, %v; want InvalidArnException", a, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.region != tc.region || a.account != tc.account || a.resource != tc.resource {
				t.Fatalf("got %+v, want %s %s %s", a, tc.region, tc.account, tc.resource)
			}
		})
	}
}

// FuzzParseARN checks that parseARN never panics and accepts only ARNs with
// a region, an account and a key or alias resource, which it splits so that
// they render back to the input.
func FuzzParseARN(f *testing.F) {
	for _, s := range []string{
		"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:111122223333:alias/x:y",
		"arn:aws:kms:::key/",
		"arn:aws:kms:us-east-1:111122223333:",
		"arn:aws:iam::111122223333:root",
		"arn:aws:kms:\x00:\xff:alias/",
		":::::",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseARN(s)
		if err != nil {
			var ke *kms.Error
			if !errors.As(err, &ke) || ke.Code != kms.ErrInvalidArn {
				t.Fatalf("%q: error %v is not InvalidArnException", s, err)
			}
			return
		}
		if a.region == "" || a.account == "" {
			t.Fatalf("%q: accepted with region %q, account %q", s, a.region, a.account)
		}
		if strings.Contains(a.region, ":") || strings.Contains(a.account, ":") {
			t.Fatalf("%q: accepted with a colon in region %q or account %q", s, a.region, a.account)
		}
		if !strings.HasPrefix(a.resource, "key/") && !strings.HasPrefix(a.resource, "alias/") {
			t.Fatalf("%q: accepted resource %q", s, a.resource)
		}
		if r := "arn:" + kms.Partition + ":kms:" + a.region + ":" + a.account + ":" + a.resource; r != s {
			t.Fatalf("%q: accepted as %+v, which renders as %q", s, a, r)
		}
	})
}

func TestValidKeyID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{kms.NewUUID(), true},
		// Uppercase would give one key two ids, and two cache entries.
		{"1234ABCD-12AB-34CD-56EF-1234567890AB", false},
		{"1234abcd-12ab-34cd-56ef-1234567890a", false},
		{"1234abcd-12ab-34cd-56ef-1234567890abc", false},
		{"1234abcd12ab34cd56ef1234567890ab", false},
		{"1234abcd-12ab-34cd-56ef_1234567890ab", false},
		{"1234abc-d12ab-34cd-56ef-1234567890ab", false},
		{"1234abcd-12ab-34cd-56ef-1234567890ag", false},
		{"g234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"1234abcd-12ab-34cd-56ef-1234567890a\x00", false},
		{"1234abcd-12ab-34cd-56ef-1234567890\u00e9", false}, // 36 bytes, 35 runes
		{"------------------------------------", false},
		{"mrk-1234abcd12ab34cd56ef1234567890ab", true},
		{"mrk-1234abcd12ab34cd56ef1234567890a", false},
		{"mrk-1234ABCD12ab34cd56ef1234567890ab", false},
		{"mrk-1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"mrk-1234abcd12ab34cd56ef1234567890ab@us-east-1", false},
		{"alias/1234abcd-12ab-34cd-56ef-123456", false},
		{"", false},
	} {
		if got := validKeyID(tc.in); got != tc.ok {
			t.Errorf("validKeyID(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestPageLimit(t *testing.T) {
	for _, tc := range []struct {
		in       *int32
		def, max int
		want     int
	}{
		{nil, 100, 1000, 100},
		{ptr[int32](1), 100, 1000, 1},
		{ptr[int32](1000), 100, 1000, 1000},
		{ptr[int32](1000), 50, 50, 50},
		{ptr[int32](51), 50, 100, 51},
	} {
		if got := pageLimit(tc.in, tc.def, tc.max); got != tc.want {
			t.Errorf("pageLimit(%v, %d, %d) = %d, want %d", tc.in, tc.def, tc.max, got, tc.want)
		}
	}
}

// markerOps are the operations that page with markers.
var markerOps = []string{"ListKeys", "ListAliases", "ListResourceTags"}

// markerService is a Service good for markers only: they need the sealer's
// derived key and nothing from the store.
func markerService(tb testing.TB, rootByte byte) *Service {
	tb.Helper()
	sealer, err := seal.New(bytes.Repeat([]byte{rootByte}, seal.RootKeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return New(Config{Sealer: sealer})
}

func wantInvalidMarker(t *testing.T, err error, what string) {
	t.Helper()
	var ke *kms.Error
	if !errors.As(err, &ke) || ke.Code != kms.ErrInvalidMarker {
		t.Fatalf("%s: got %v, want InvalidMarkerException", what, err)
	}
}

func TestMarkers(t *testing.T) {
	s := markerService(t, 0x42)
	lasts := []string{"", "a", kms.NewUUID(), "alias/x", "a\x00b", "ünï", strings.Repeat("k", 700)}

	if last, err := s.parseMarker("ListKeys", nil); last != "" || err != nil {
		t.Fatalf("no marker: got %q, %v", last, err)
	}
	for _, op := range markerOps {
		for _, last := range lasts {
			m := s.newMarker(op, last)
			if !markerRE.re.MatchString(m) || len(m) > 1024 {
				t.Errorf("%s %q: marker %q would fail the model constraints", op, last, m)
			}
			got, err := s.parseMarker(op, &m)
			if err != nil || got != last {
				t.Errorf("%s %q: round trip gave %q, %v", op, last, got, err)
			}
			// A marker resumes only the operation that issued it.
			for _, other := range markerOps {
				if other != op {
					_, err := s.parseMarker(other, &m)
					wantInvalidMarker(t, err, op+" marker given to "+other)
				}
			}
		}
	}

	m := s.newMarker("ListKeys", kms.NewUUID())
	raw, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		t.Fatal(err)
	}
	// Flipping any bit of the payload or the tag is caught by the MAC.
	for i := range raw {
		for bit := range 8 {
			b := bytes.Clone(raw)
			b[i] ^= 1 << bit
			bad := base64.RawURLEncoding.EncodeToString(b)
			_, err := s.parseMarker("ListKeys", &bad)
			wantInvalidMarker(t, err, "flipped byte")
		}
	}
	other := markerService(t, 0x43)
	for _, tc := range []struct{ name, m string }{
		{"empty", ""},
		{"not base64", "!!!!"},
		{"padded", m + "=="},
		{"truncated", m[:len(m)-4]},
		{"tag only", m[len(m)-22:]},
		{"short", "AAAA"},
		{"std alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(m) + "+/"},
		{"forged tag", base64.RawURLEncoding.EncodeToString(append([]byte("ListKeys\x00z"), make([]byte, 16)...))},
		{"other root key", other.newMarker("ListKeys", "z")},
	} {
		_, err := s.parseMarker("ListKeys", &tc.m)
		wantInvalidMarker(t, err, tc.name)
	}
}

// TestMarkerCanonical wants exactly one accepted spelling per marker, so a
// marker can be compared, logged and cached as a string.
func TestMarkerCanonical(t *testing.T) {
	s := markerService(t, 0x42)
	for _, last := range []string{"a", "ab", "abc"} {
		m := s.newMarker("ListKeys", last)
		for _, bad := range []string{m + "\n", m[:2] + "\r\n" + m[2:], nonCanonicalTail(m)} {
			if bad == m {
				continue
			}
			_, err := s.parseMarker("ListKeys", &bad)
			wantInvalidMarker(t, err, "non-canonical spelling")
		}
	}
}

// nonCanonicalTail sets an unused trailing bit of an unpadded base64
// string, if it has one.
func nonCanonicalTail(m string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var spare int // unused low bits of the last character
	switch len(m) % 4 {
	case 2:
		spare = 4
	case 3:
		spare = 2
	default:
		return m
	}
	i := strings.IndexByte(alphabet, m[len(m)-1])
	return m[:len(m)-1] + string(alphabet[i|(1<<spare-1)])
}

// FuzzParseMarker checks that parseMarker never panics and accepts only
// markers newMarker made for the same operation.
func FuzzParseMarker(f *testing.F) {
	s := markerService(f, 0x42)
	for i, op := range markerOps {
		for _, last := range []string{"", "1234abcd-12ab-34cd-56ef-1234567890ab", "alias/x", "tag\x00key"} {
			f.Add(uint8(i), s.newMarker(op, last))
			f.Add(uint8((i+1)%len(markerOps)), s.newMarker(op, last))
		}
	}
	f.Add(uint8(0), "")
	f.Add(uint8(0), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(uint8(1), "!!!")
	f.Fuzz(func(t *testing.T, i uint8, m string) {
		op := markerOps[int(i)%len(markerOps)]
		last, err := s.parseMarker(op, &m)
		if err != nil {
			wantInvalidMarker(t, err, "rejected marker")
			return
		}
		// Only the exact marker newMarker made for that op passes.
		if want := s.newMarker(op, last); m != want {
			t.Fatalf("%s accepted %q as %q, but newMarker makes %q", op, m, last, want)
		}
	})
}
