package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// checkRecordJSON fails unless appendRecord renders r exactly as
// json.Marshal renders its recordJSON.
func checkRecordJSON(t *testing.T, r *Record) {
	t.Helper()
	want, werr := json.Marshal(r.recordJSON())
	got, gerr := appendRecord(nil, r)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("errors differ: appendRecord %v, json.Marshal %v", gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendRecord:\n%s\njson.Marshal:\n%s", got, want)
	}
	if werr != nil {
		return
	}
	if viaMarshal, err := json.Marshal(r); err != nil || !bytes.Equal(viaMarshal, want) {
		t.Fatalf("json.Marshal(Record): %s, %v", viaMarshal, err)
	}
}

type namedString string

func TestAppendRecord(t *testing.T) {
	full := func() *Record {
		r := kmsRecord("eu-west-1", "Encrypt", keyID1)
		r.EventVersion, r.EventID, r.EventTime = EventVersion, NewEventID(), time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)
		return r
	}
	tests := []struct {
		name   string
		change func(r *Record)
	}{
		{"kms record", func(r *Record) {}},
		{"empty", func(r *Record) { *r = Record{} }},
		{"error", func(r *Record) {
			r.ErrorCode, r.ErrorMessage = "AccessDeniedException", `User: arn:aws:iam::111122223333:user/a is not authorized to perform: kms:Encrypt on resource "x" <because> & more`
		}},
		{"hot parameters", func(r *Record) {
			r.RequestParameters = map[string]any{"keyId": "alias/a", "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "dryRun": true,
				"numberOfBytes": int32(64), "encryptionContext": map[string]string{"b": "2", "a": "1", "Ünï": "\u2028 \x00 \xff"}}
		}},
		{"nested parameters", func(r *Record) {
			r.RequestParameters = map[string]any{"tags": []any{map[string]any{"tagKey": "k", "tagValue": "v"}},
				"operations": []string{"Encrypt", "Decrypt"}, "n": 3, "m": int64(-4), "f": 1.5, "named": namedString("x<y"),
				"nilMap": map[string]string(nil), "nilSlice": []string(nil), "nilAny": nil, "time": time.Unix(0, 0).UTC()}
			r.ResponseElements = map[string]any{"keyMetadata": map[string]any{"keyId": keyID1, "enabled": true}}
			r.AdditionalEventData = map[string]string{"x": "y"}
			r.ServiceEventDetails = map[string]string{"keyId": keyID1}
		}},
		{"other shapes", func(r *Record) {
			r.RequestParameters = struct{ A string }{"<a>"}
			r.ResponseElements = []any{1, "two", nil}
			r.AdditionalEventData = "plain"
		}},
		{"role session", func(r *Record) {
			r.UserIdentity = &UserIdentity{Type: "AssumedRole", PrincipalID: "AROA:sess", ARN: "arn:aws:sts::111122223333:assumed-role/r/sess",
				AccountID: acct, AccessKeyID: "ASIA", SessionContext: &SessionContext{
					SessionIssuer: &SessionIssuer{Type: "Role", PrincipalID: "AROA", ARN: "arn:aws:iam::111122223333:role/r", AccountID: acct, UserName: "r"},
					Attributes:    &SessionAttributes{CreationDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), MFAAuthenticated: true}}}
		}},
		{"internal identity", func(r *Record) {
			r.UserIdentity = &UserIdentity{AccountID: acct, InvokedBy: InvokedByInternal}
		}},
		{"no identity, no resources", func(r *Record) { r.UserIdentity, r.Resources = nil, nil }},
		{"empty identity", func(r *Record) { r.UserIdentity = &UserIdentity{} }},
		{"resources", func(r *Record) {
			r.Resources = append(r.Resources, Resource{AccountID: acct, Type: ResourceTypeKey, ARN: "arn:aws:kms:eu-west-1:111122223333:key/é"})
		}},
		{"tls", func(r *Record) {
			r.TLSDetails = &TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: "kms.local:7900"}
		}},
		{"tls partly", func(r *Record) { r.TLSDetails = &TLSDetails{CipherSuite: "c"} }},
		{"tls empty", func(r *Record) { r.TLSDetails = &TLSDetails{} }},
		{"user agent", func(r *Record) { r.UserAgent = "aws-cli/2.15 Python/3.11 \"quoted\" \\ tab\there" }},
		{"unmarshalable", func(r *Record) { r.RequestParameters = map[string]any{"c": make(chan int)} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := full()
			tc.change(r)
			checkRecordJSON(t, r)
		})
	}
}

func FuzzRecordJSON(f *testing.F) {
	f.Add("Encrypt", "aws-sdk-go-v2/1.0", "k", "v", "AccessDenied", "<&>")
	f.Add("", "\x00\x1f\x7f", "\u2028", "\xff\xfe", "", "é")
	f.Fuzz(func(t *testing.T, name, agent, ctxKey, ctxVal, code, msg string) {
		r := kmsRecord("us-east-1", name, keyID1)
		r.EventVersion, r.EventID = EventVersion, NewEventID()
		r.UserAgent, r.ErrorCode, r.ErrorMessage = agent, code, msg
		r.RequestParameters = map[string]any{"keyId": msg, "encryptionContext": map[string]string{ctxKey: ctxVal, ctxVal: ctxKey},
			ctxKey: []any{agent, true, int32(len(agent))}}
		r.Resources = append(r.Resources, Resource{AccountID: ctxKey, Type: ctxVal, ARN: agent})
		checkRecordJSON(t, r)
	})
}

// BenchmarkRecordJSON: a server Encrypt record, encoded by appendRecord
// and by encoding/json.
func BenchmarkRecordJSON(b *testing.B) {
	r := kmsRecord("us-east-1", "Encrypt", keyID1)
	r.EventVersion, r.EventID, r.EventTime = EventVersion, NewEventID(), time.Now()
	r.UserAgent = "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/kms#1.62.6 m/E"
	r.RequestParameters = map[string]any{"keyId": keyID1, "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
		"encryptionContext": map[string]string{"tenant": "customer-000123"}}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reflect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(r.recordJSON()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
