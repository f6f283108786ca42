package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRecordJSON(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  Record
		want string
	}{{
		name: "user call",
		rec: Record{
			EventVersion: "1.08", UserIdentity: alice,
			EventTime:   time.Date(2022, 7, 14, 20, 17, 42, 987654321, time.FixedZone("x", 3600)),
			EventSource: EventSourceKMS, EventName: "Encrypt", AWSRegion: "us-east-1",
			SourceIPAddress: "192.0.2.0", UserAgent: "aws-cli/2.15.0 <&>",
			RequestParameters: map[string]any{
				"keyId":               keyARN("us-east-1", keyID1),
				"encryptionContext":   map[string]string{"Department": "Engineering"},
				"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
			},
			RequestID: "f3423043-63bc-11e4-bc2b-4198b6150d5c", EventID: "91235988-eb87-476a-ac2c-0cdc244e6dca",
			ReadOnly:  true,
			Resources: []Resource{{AccountID: acct, Type: ResourceTypeKey, ARN: keyARN("us-east-1", keyID1)}},
			EventType: EventTypeAPICall, ManagementEvent: true, RecipientAccountID: acct, EventCategory: CategoryMgmt,
		},
		want: `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE",` +
			`"arn":"arn:aws:iam::111122223333:user/Alice","accountId":"111122223333","accessKeyId":"AKIAALICE",` +
			`"userName":"Alice"},"eventTime":"2022-07-14T19:17:42Z","eventSource":"kms.amazonaws.com",` +
			`"eventName":"Encrypt","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.0","userAgent":"aws-cli/2.15.0 \u003c\u0026\u003e",` +
			`"requestParameters":{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"Department":"Engineering"},` +
			`"keyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},` +
			`"responseElements":null,"requestID":"f3423043-63bc-11e4-bc2b-4198b6150d5c",` +
			`"eventID":"91235988-eb87-476a-ac2c-0cdc244e6dca","readOnly":true,` +
			`"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key",` +
			`"ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}],` +
			`"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
	}, {
		name: "failed role session call",
		rec: Record{
			EventVersion: "1.08",
			UserIdentity: &UserIdentity{
				Type: "AssumedRole", PrincipalID: "AROAEXAMPLE:s1", ARN: "arn:aws:sts::" + acct + ":assumed-role/Admin/s1",
				AccountID: acct, AccessKeyID: "ASIAEXAMPLE",
				SessionContext: &SessionContext{
					SessionIssuer: &SessionIssuer{Type: "Role", PrincipalID: "AROAEXAMPLE",
						ARN: "arn:aws:iam::" + acct + ":role/Admin", AccountID: acct, UserName: "Admin"},
					Attributes: &SessionAttributes{CreationDate: created},
				},
			},
			EventTime: created, EventSource: EventSourceKMS, EventName: "CreateKey", AWSRegion: "eu-west-1",
			SourceIPAddress: "192.0.2.9", UserAgent: "sdk",
			ErrorCode: "AccessDeniedException", ErrorMessage: "no",
			RequestID: "r", EventID: "e", EventType: EventTypeAPICall, ManagementEvent: true,
			RecipientAccountID: acct, EventCategory: CategoryMgmt,
		},
		want: `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:s1",` +
			`"arn":"arn:aws:sts::111122223333:assumed-role/Admin/s1","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE",` +
			`"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE",` +
			`"arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"},` +
			`"attributes":{"creationDate":"2025-03-01T11:00:00Z","mfaAuthenticated":"false"}}},` +
			`"eventTime":"2025-03-01T11:00:00Z","eventSource":"kms.amazonaws.com","eventName":"CreateKey",` +
			`"awsRegion":"eu-west-1","sourceIPAddress":"192.0.2.9","userAgent":"sdk",` +
			`"errorCode":"AccessDeniedException","errorMessage":"no","requestParameters":null,"responseElements":null,` +
			`"requestID":"r","eventID":"e","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,` +
			`"recipientAccountId":"111122223333","eventCategory":"Management"}`,
	}, {
		name: "service event",
		rec: Record{
			EventVersion: "1.08", UserIdentity: &UserIdentity{AccountID: acct, InvokedBy: InvokedByInternal},
			EventTime: created, EventSource: EventSourceKMS, EventName: "RotateKey", AWSRegion: "us-east-1",
			SourceIPAddress: InvokedByInternal, UserAgent: InvokedByInternal, EventID: "e",
			Resources: []Resource{{AccountID: acct, Type: ResourceTypeKey, ARN: keyARN("us-east-1", keyID1)}},
			EventType: EventTypeService, ManagementEvent: true, RecipientAccountID: acct,
			ServiceEventDetails: map[string]string{"keyId": keyID1}, EventCategory: CategoryMgmt,
		},
		want: `{"eventVersion":"1.08","userIdentity":{"accountId":"111122223333","invokedBy":"AWS Internal"},` +
			`"eventTime":"2025-03-01T11:00:00Z","eventSource":"kms.amazonaws.com","eventName":"RotateKey",` +
			`"awsRegion":"us-east-1","sourceIPAddress":"AWS Internal","userAgent":"AWS Internal",` +
			`"requestParameters":null,"responseElements":null,"eventID":"e","readOnly":false,` +
			`"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key",` +
			`"ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}],` +
			`"eventType":"AwsServiceEvent","managementEvent":true,"recipientAccountId":"111122223333",` +
			`"serviceEventDetails":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab"},"eventCategory":"Management"}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rec.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if viaMarshal, err := json.Marshal(tt.rec); err != nil || !bytes.Equal(viaMarshal, got) {
				t.Errorf("json.Marshal differs from MarshalJSON: %s, %v", viaMarshal, err)
			}
			if string(got) != tt.want {
				t.Errorf("JSON:\n got %s\nwant %s", got, tt.want)
			}
			// Decoding and encoding again gives the same bytes.
			var back Record
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(&back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, got) {
				t.Errorf("re-encoded:\n got %s\nwant %s", again, got)
			}
		})
	}
}

func TestUsername(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   *UserIdentity
		want string
	}{
		{nil, ""},
		{alice, "Alice"},
		{&UserIdentity{Type: "Root", PrincipalID: acct, AccountID: acct}, "root"},
		{&UserIdentity{Type: "AssumedRole", SessionContext: &SessionContext{
			SessionIssuer: &SessionIssuer{UserName: "Admin"}}}, "Admin"},
		{&UserIdentity{AccountID: acct, InvokedBy: InvokedByInternal}, ""},
	}
	for _, tt := range tests {
		if got := Username(tt.id); got != tt.want {
			t.Errorf("Username(%+v) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestNewEventID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	before := time.Now().UnixMilli()
	a, b := NewEventID(), NewEventID()
	if !re.MatchString(a) || !re.MatchString(b) || a == b {
		t.Errorf("NewEventID: %q, %q", a, b)
	}
	ms, err := strconv.ParseInt(strings.ReplaceAll(a[:13], "-", ""), 16, 64)
	if err != nil || ms < before || ms > time.Now().UnixMilli() {
		t.Errorf("NewEventID %q: time %d, want about %d", a, ms, before)
	}
}

// TestChainEncoding recomputes, from the documented encoding alone, the
// hashes and signatures the log stored.
func TestChainEncoding(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.CheckpointEvery = 3
	l := openLog(t, cfg)
	recs := appendN(t, l, "us-east-1", 7)
	appendN(t, l, "eu-west-1", 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	db := rawDB(t, cfg.Path)
	segs := newSegmentReader(cfg.Path)
	defer segs.close()
	rows, err := db.Query(`SELECT region, seq, prev, hash, body, segment, segment_offset, event_id FROM records ORDER BY region, seq`)
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string][32]byte{}
	counts := map[string]uint64{}
	for rows.Next() {
		var region, eventID string
		var seq uint64
		var prev, hash, body []byte
		var seg, off sql.NullInt64
		if err := rows.Scan(&region, &seq, &prev, &hash, &body, &seg, &off, &eventID); err != nil {
			t.Fatal(err)
		}
		if len(body) != 0 {
			t.Errorf("%s %d: body stored in the database too", region, seq)
		}
		body, err := segs.recordBody(body, seg, off)
		if err != nil {
			t.Fatal(err)
		}
		counts[region]++
		if seq != counts[region] {
			t.Errorf("%s: seq %d, want %d", region, seq, counts[region])
		}
		want := heads[region]
		if !bytes.Equal(prev, want[:]) {
			t.Errorf("%s %d: prev %x, want %x", region, seq, prev, want)
		}
		msg := append(append(append([]byte{}, want[:]...), binary.BigEndian.AppendUint64(nil, seq)...), body...)
		sum := sha256.Sum256(msg)
		if !bytes.Equal(hash, sum[:]) {
			t.Errorf("%s %d: hash %x, want SHA-256(prev || seq || body) = %x", region, seq, hash, sum)
		}
		heads[region] = sum
		if region == "us-east-1" {
			var r Record
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if r.EventID != recs[seq-1].EventID || eventID != r.EventID {
				t.Errorf("%s %d: eventID %q (column %q), want %q", region, seq, r.EventID, eventID, recs[seq-1].EventID)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()

	// us-east-1: checkpoints at 3 and 6 (count) and 7 (close); eu-west-1:
	// 2 (close).
	rows, err = db.Query(`SELECT region, body, signature FROM checkpoints ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type got struct {
		region string
		seq    uint64
		reason string
	}
	var gots []got
	prevSig := map[string][32]byte{}
	for rows.Next() {
		var region string
		var body, sig []byte
		if err := rows.Scan(&region, &body, &sig); err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(pub(cfg.Signer), append([]byte("openkms-audit-checkpoint-v1\n"), body...), sig) {
			t.Errorf("checkpoint %s does not verify", body)
		}
		var c Checkpoint
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		if want := hex.EncodeToString(func() []byte { h := prevSig[region]; return h[:] }()); c.PreviousSignatureHash != want {
			t.Errorf("checkpoint %s: previousSignatureHash, want %s", body, want)
		}
		prevSig[region] = sha256.Sum256(sig)
		gots = append(gots, got{c.Region, c.Seq, c.Reason})
		if c.Region == "us-east-1" && c.Seq == 7 {
			h := heads["us-east-1"]
			if c.Hash != hex.EncodeToString(h[:]) {
				t.Errorf("last checkpoint hash %s, want %x", c.Hash, h)
			}
		}
		if c.KeyFingerprint != Fingerprint(pub(cfg.Signer)) {
			t.Errorf("keyFingerprint %q", c.KeyFingerprint)
		}
	}
	want := []got{{"us-east-1", 3, "count"}, {"us-east-1", 6, "count"}, {"eu-west-1", 2, "close"}, {"us-east-1", 7, "close"}}
	if len(gots) != len(want) {
		t.Fatalf("checkpoints %v, want %v", gots, want)
	}
	for i := range want {
		if gots[i] != want[i] {
			t.Errorf("checkpoint %d: %v, want %v", i, gots[i], want[i])
		}
	}
}

func TestReopenContinuesChain(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, "us-east-1", 12)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != ErrClosed {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if err := l.Append(t.Context(), kmsRecord("us-east-1", "Encrypt", "")); err != ErrClosed {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}

	l = openLog(t, cfg)
	appendN(t, l, "us-east-1", 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	g := regionReport(t, mustVerify(t, cfg.Path, cfg.Signer), "us-east-1")
	if g.LastSeq != 17 || g.Records != 17 || g.UnsignedTail != 0 || g.SignedSeq != 17 {
		t.Errorf("report %+v", g)
	}
}

func TestAppendValidation(t *testing.T) {
	t.Parallel()
	l := openLog(t, testConfig(t))
	r := kmsRecord("", "Encrypt", "")
	if err := l.Append(t.Context(), r); err == nil {
		t.Error("Append accepted a record without a region")
	}
	r = kmsRecord("us-east-1", "Encrypt", "")
	if err := l.Append(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if r.EventID == "" || r.EventVersion != EventVersion || r.EventTime.IsZero() || r.EventTime.Nanosecond() != 0 {
		t.Errorf("Append did not fill in the record: %+v", r)
	}
}

func TestCheckNoSecrets(t *testing.T) {
	t.Parallel()
	secret := []byte("\x00\x01secret-bytes\xfe\xff")
	for _, raw := range []string{
		`{"p":"` + string(secret) + `"}`,
		`{"p":"AAFzZWNyZXQtYnl0ZXP+/w=="}`,
		`{"p":"AAFzZWNyZXQtYnl0ZXP-_w"}`,
		`{"p":"00017365637265742d6279746573FEFF"}`,
	} {
		if CheckNoSecrets([]byte(raw), secret) == nil {
			t.Errorf("CheckNoSecrets missed the secret in %s", raw)
		}
	}
	if err := CheckNoSecrets([]byte(`{"keyId":"k"}`), secret, []byte("short")); err != nil {
		t.Error(err)
	}
}

// TestMigrationsFrozen pins every migration's statements: a shipped one must
// never change.
func TestMigrationsFrozen(t *testing.T) {
	t.Parallel()
	shipped := []string{
		"8f9a6079319c6b7311df6c2744101a4d6ca8e372a85f2e10a22e521b5ec59954",
		"637e246061355df4d69af51f3f4a119e4078e46a0a0b3f217971c5669805dbb5",
		"e774df5b6d6d1ccbc815161c832350ccd634192901a349deef2f0ff2ed704bc6",
	}
	if len(shipped) != len(migrations) {
		t.Errorf("%d migrations, %d pinned: pin the new one here", len(migrations), len(shipped))
	}
	for i, m := range migrations[:min(len(migrations), len(shipped))] {
		sum := sha256.Sum256([]byte(strings.Join(m, "\x00")))
		if got := hex.EncodeToString(sum[:]); got != shipped[i] {
			t.Errorf("migration to version %d changed (sha256 %s): append a new migration instead; "+
				"only if this one never shipped, update its hash", i+1, got)
		}
	}
}
