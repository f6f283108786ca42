package usage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openkms/kms/internal/audit"
)

var update = flag.Bool("update", false, "rewrite the known-answer files under testdata")

// trail is a hand-built audit trail: records in the order they were logged.
type trail []audit.Event

func (tr trail) Since(_ context.Context, t time.Time, fn func(audit.Event) error) error {
	for _, e := range tr {
		if !e.EventTime.Before(t) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

const (
	acctA = "111111111111"
	acctB = "222222222222"
	arnA1 = "arn:aws:kms:us-east-1:111111111111:key/a1a1a1a1-0000-4000-8000-000000000001"
	arnA2 = "arn:aws:kms:us-east-1:111111111111:key/a2a2a2a2-0000-4000-8000-000000000002"
	arnA3 = "arn:aws:kms:us-east-1:111111111111:key/a3a3a3a3-0000-4000-8000-000000000003"
	arnB1 = "arn:aws:kms:us-east-1:222222222222:key/b1b1b1b1-0000-4000-8000-000000000001"
	arnAM = "arn:aws:kms:us-east-1:222222222222:key/aaaaaaaa-0000-4000-8000-00000000000a"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// builder appends records as the server writes them.
type builder struct {
	t  *testing.T
	tr trail
}

// eventID numbers the records, so the known-answer trail is the same each
// time it is written. (Both copies of a cross-account request share one.)
func (b *builder) eventID() string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", len(b.tr)+1) }

// req appends n requests of account on key (none if ""); opts set the
// error code, request parameters and response elements.
func (b *builder) req(n int, when, account, name, key, errorCode string, params, response any) {
	for range n {
		r := audit.Record{
			EventVersion: audit.EventVersion, EventTime: at(when), EventSource: audit.EventSourceKMS,
			EventName: name, AWSRegion: "us-east-1", ErrorCode: errorCode,
			RequestParameters: params, ResponseElements: response,
			EventID: b.eventID(), EventType: audit.EventTypeAPICall, RecipientAccountID: account,
			UserIdentity: &audit.UserIdentity{Type: "Root", AccountID: account},
		}
		if key != "" {
			// Filed with the key's account, as the server files it.
			r.Resources = []audit.Resource{{AccountID: arnAccount(key), Type: audit.ResourceTypeKey, ARN: key}}
			r.RecipientAccountID = arnAccount(key)
		}
		if account == "" {
			r.UserIdentity = nil
		}
		if account != "" && r.RecipientAccountID != account && errorCode != "AccessDeniedException" {
			// The key owner's copy, then the caller's (api.callerCopy).
			b.add(r)
			r.RecipientAccountID = account
		}
		b.add(r)
	}
}

func (b *builder) service(when, name, key string) {
	b.add(audit.Record{
		EventVersion: audit.EventVersion, EventTime: at(when), EventSource: audit.EventSourceKMS,
		EventName: name, AWSRegion: "us-east-1", EventID: b.eventID(),
		EventType: audit.EventTypeService, RecipientAccountID: arnAccount(key),
		UserIdentity: &audit.UserIdentity{AccountID: arnAccount(key), InvokedBy: audit.InvokedByInternal},
		Resources:    []audit.Resource{{AccountID: arnAccount(key), Type: audit.ResourceTypeKey, ARN: key}},
	})
}

func (b *builder) add(r audit.Record) {
	raw, err := json.Marshal(r)
	if err != nil {
		b.t.Fatal(err)
	}
	e := audit.Event{Region: r.AWSRegion, EventID: r.EventID, EventName: r.EventName, EventSource: r.EventSource,
		EventTime: r.EventTime, Resources: r.Resources, Raw: raw}
	b.tr = append(b.tr, e)
}

func created(arn, spec string) map[string]any {
	return map[string]any{"keyMetadata": map[string]any{"arn": arn, "keySpec": spec, "keyManager": "CUSTOMER"}}
}

// workload is the known workload of the tests, in November 2026:
//
//   - A1 (account A, symmetric) exists before the month and all through
//     it; rotated on demand in October (its first rotation), automatically
//     on 11-10 (second) and on demand on 11-20 (third: free).
//   - A2 (A, RSA_2048) is created on 11-05 10:20, scheduled for deletion
//     on 11-08 03:10 and deleted on 11-15: billed 10:00 on 11-05 to 04:00
//     on 11-08, 66 hours.
//   - A3 (A, ECC_NIST_P256) is created on 11-02, scheduled for deletion on
//     11-03 and the deletion cancelled on 11-04: billed all 696 hours from
//     11-02.
//   - B1 (B, HMAC_256) exists before the month.
//   - AM (B) is an AWS managed key, first used through alias/aws/s3.
//   - B uses A1 across accounts.
func workload(t *testing.T) trail {
	b := &builder{t: t}
	b.req(1, "2026-10-01T08:00:00Z", acctB, "CreateKey", arnB1, "", map[string]any{"keySpec": "HMAC_256"}, created(arnB1, "HMAC_256"))
	b.req(1, "2026-10-15T09:00:00Z", acctA, "CreateKey", arnA1, "", map[string]any{"keySpec": "SYMMETRIC_DEFAULT"}, created(arnA1, "SYMMETRIC_DEFAULT"))
	b.req(1, "2026-10-20T09:00:00Z", acctA, "RotateKeyOnDemand", arnA1, "", map[string]any{"keyId": arnA1}, nil)
	b.req(1, "2026-10-31T23:59:59Z", acctA, "Encrypt", arnA1, "", nil, nil) // before the period

	b.req(1, "2026-11-01T00:00:00Z", acctA, "ListKeys", "", "", nil, nil)
	b.req(1, "2026-11-02T00:00:00Z", acctA, "CreateKey", arnA3, "", map[string]any{"keySpec": "ECC_NIST_P256"}, created(arnA3, "ECC_NIST_P256"))
	b.req(1, "2026-11-03T00:00:00Z", acctA, "ScheduleKeyDeletion", arnA3, "", map[string]any{"keyId": arnA3}, nil)
	b.req(1, "2026-11-04T00:00:00Z", acctA, "CancelKeyDeletion", arnA3, "", map[string]any{"keyId": arnA3}, nil)
	b.req(8, "2026-11-05T01:00:00Z", acctA, "Encrypt", arnA1, "", map[string]any{"keyId": arnA1}, nil)
	b.req(2, "2026-11-05T01:00:00Z", acctA, "Encrypt", arnA1, "AccessDeniedException", map[string]any{"keyId": arnA1}, nil)
	b.req(1, "2026-11-05T01:00:00Z", acctA, "Encrypt", arnA1, "ThrottlingException", map[string]any{"keyId": arnA1}, nil)
	b.req(1, "2026-11-05T10:20:00Z", acctA, "CreateKey", arnA2, "", map[string]any{"keySpec": "RSA_2048"}, created(arnA2, "RSA_2048"))
	b.req(4, "2026-11-06T00:00:00Z", acctA, "Sign", arnA2, "", map[string]any{"keyId": arnA2}, nil)
	b.req(3, "2026-11-06T00:00:00Z", acctA, "Sign", arnA3, "", map[string]any{"keyId": arnA3}, nil)
	b.req(2, "2026-11-06T00:00:00Z", acctA, "GenerateDataKeyPair", arnA1, "", map[string]any{"keyId": arnA1, "keyPairSpec": "RSA_4096"}, nil)
	b.req(1, "2026-11-06T00:00:00Z", acctA, "GenerateDataKeyPairWithoutPlaintext", arnA1, "", map[string]any{"keyId": arnA1, "keyPairSpec": "ECC_NIST_P384"}, nil)
	b.req(5, "2026-11-06T00:00:00Z", acctB, "Encrypt", arnAM, "", map[string]any{"keyId": "alias/aws/s3"}, nil)
	b.req(6, "2026-11-07T00:00:00Z", acctB, "Decrypt", arnA1, "", map[string]any{"keyId": arnA1}, nil)
	b.req(2, "2026-11-07T00:00:00Z", acctB, "GenerateMac", arnB1, "", map[string]any{"keyId": arnB1}, nil)
	b.req(1, "2026-11-07T00:00:00Z", "", "Encrypt", "", "IncompleteSignatureException", nil, nil) // no account
	b.req(1, "2026-11-08T03:10:00Z", acctA, "ScheduleKeyDeletion", arnA2, "", map[string]any{"keyId": arnA2}, nil)
	b.service("2026-11-10T00:00:00Z", "RotateKey", arnA1)
	b.service("2026-11-15T00:00:00Z", "DeleteKey", arnA2)
	b.req(1, "2026-11-20T12:30:00Z", acctA, "RotateKeyOnDemand", arnA1, "", map[string]any{"keyId": arnA1}, nil)
	b.add(audit.Record{EventTime: at("2026-11-21T00:00:00Z"), EventSource: audit.EventSourceIAM, EventName: "CreateUser",
		AWSRegion: "us-east-1", EventID: b.eventID(), RecipientAccountID: acctA})
	b.req(1, "2026-12-01T00:00:00Z", acctA, "Encrypt", arnA1, "", nil, nil) // after the period
	return b.tr
}

var november = Query{Since: at("2026-11-01T00:00:00Z"), Until: at("2026-12-01T00:00:00Z"), Prices: AWSPrices()}

func r(s string) *big.Rat { return rat(s) }

func TestCompute(t *testing.T) {
	rep, err := Compute(context.Background(), workload(t), november)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		account, key, spec, manager        string
		requests                           map[Class]int64
		failed, throttled                  int64
		keyHours, rotationHours, rotations int64
		requestCost, keyCost, rotationCost string
	}
	// A request of the symmetric class costs $0.000003, rsa-2048 too,
	// asymmetric $0.000015, ecc-data-key-pair $0.00001, rsa-data-key-pair
	// $0.0012; a key-hour $1/730.
	wants := []want{
		{acctA, "", "", "", map[Class]int64{ClassSymmetric: 1}, 0, 0, 0, 0, 0, "0.000003", "0", "0"},
		{acctA, arnA1, "SYMMETRIC_DEFAULT", "CUSTOMER",
			map[Class]int64{ClassSymmetric: 11, ClassRSADataKeyPair: 2, ClassECCDataKeyPair: 1}, 2, 1,
			720, 720 + 504, 2, "0.002443", "720/730", "1224/730"},
		{acctA, arnA2, "RSA_2048", "CUSTOMER", map[Class]int64{ClassSymmetric: 2, ClassRSA2048: 4}, 0, 0, 66, 0, 0, "0.000018", "66/730", "0"},
		{acctA, arnA3, "ECC_NIST_P256", "CUSTOMER", map[Class]int64{ClassSymmetric: 3, ClassAsymmetric: 3}, 0, 0, 696, 0, 0, "0.000054", "696/730", "0"},
		{acctB, arnA1, "SYMMETRIC_DEFAULT", "CUSTOMER", map[Class]int64{ClassSymmetric: 6}, 0, 0, 0, 0, 0, "0.000018", "0", "0"},
		{acctB, arnAM, "SYMMETRIC_DEFAULT", "AWS", map[Class]int64{ClassSymmetric: 5}, 0, 0, 0, 0, 0, "0.000015", "0", "0"},
		{acctB, arnB1, "HMAC_256", "CUSTOMER", map[Class]int64{ClassSymmetric: 2}, 0, 0, 720, 0, 0, "0.000006", "720/730", "0"},
	}
	if len(rep.Keys) != len(wants) {
		t.Fatalf("%d rows, want %d: %+v", len(rep.Keys), len(wants), rep.Keys)
	}
	for i, w := range wants {
		g := rep.Keys[i]
		if g.Account != w.account || g.Key != w.key || g.Spec != w.spec || g.Manager != w.manager {
			t.Errorf("row %d: %s %s %s %s, want %s %s %s %s", i, g.Account, g.Key, g.Spec, g.Manager, w.account, w.key, w.spec, w.manager)
		}
		for _, c := range Classes {
			if g.Requests[c] != w.requests[c] {
				t.Errorf("row %d (%s %s): %d %s requests, want %d", i, w.account, w.key, g.Requests[c], c, w.requests[c])
			}
		}
		if g.Failed != w.failed || g.Throttled != w.throttled || g.KeyHours != w.keyHours || g.RotationHours != w.rotationHours || g.Rotations != w.rotations {
			t.Errorf("row %d (%s %s): failed %d throttled %d key-hours %d rotation-hours %d rotations %d, want %d %d %d %d %d", i, w.account, w.key,
				g.Failed, g.Throttled, g.KeyHours, g.RotationHours, g.Rotations, w.failed, w.throttled, w.keyHours, w.rotationHours, w.rotations)
		}
		for _, m := range []struct {
			what      string
			got, want *big.Rat
		}{{"request cost", g.RequestCost, r(w.requestCost)}, {"key cost", g.KeyCost, r(w.keyCost)}, {"rotation cost", g.RotationCost, r(w.rotationCost)}} {
			if m.got.Cmp(m.want) != 0 {
				t.Errorf("row %d (%s %s): %s %s, want %s", i, w.account, w.key, m.what, m.got.RatString(), m.want.RatString())
			}
		}
	}
	// The free tier covers every symmetric request: A made 17, B 13.
	if len(rep.Accounts) != 2 {
		t.Fatalf("%d accounts", len(rep.Accounts))
	}
	a, b := rep.Accounts[0], rep.Accounts[1]
	if a.FreeRequests != 17 || b.FreeRequests != 13 {
		t.Errorf("free requests %d and %d, want 17 and 13", a.FreeRequests, b.FreeRequests)
	}
	wantA := r("0.002518")
	wantA.Sub(wantA, r("0.000051"))
	wantA.Add(wantA, r("2706/730"))
	wantB := r("720/730")
	if a.Total.Cmp(wantA) != 0 || b.Total.Cmp(wantB) != 0 {
		t.Errorf("totals %s and %s, want %s and %s", a.Total.RatString(), b.Total.RatString(), wantA.RatString(), wantB.RatString())
	}
	if total := new(big.Rat).Add(wantA, wantB); rep.Total.Cmp(total) != 0 {
		t.Errorf("total %s, want %s", rep.Total.RatString(), total.RatString())
	}
}

// TestFreeTierPartial: with a free tier smaller than the use, only what
// is beyond it is charged, per account and month.
func TestFreeTierPartial(t *testing.T) {
	q := november
	q.Prices = AWSPrices()
	q.Prices.FreeRequests = 10
	rep, err := Compute(context.Background(), workload(t), q)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accounts[0]
	if a.FreeRequests != 10 || a.FreeTierCredit.Cmp(r("0.00003")) != 0 {
		t.Errorf("account A: %d free requests for %s, want 10 for 0.00003", a.FreeRequests, a.FreeTierCredit.RatString())
	}
}

// TestAccount keeps one account's rows.
func TestAccount(t *testing.T) {
	q := november
	q.Account = acctB
	rep, err := Compute(context.Background(), workload(t), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Keys) != 3 || len(rep.Accounts) != 1 || rep.Total.Cmp(r("720/730")) != 0 {
		t.Errorf("account B alone: %d rows, %d accounts, total %s", len(rep.Keys), len(rep.Accounts), rep.Total.RatString())
	}
}

// TestPeriodInHours: a period inside the month charges the hours in it,
// and a key created and deleted within one hour is billed that hour.
func TestPeriodInHours(t *testing.T) {
	q := november
	q.Since, q.Until = at("2026-11-08T00:00:00Z"), at("2026-11-08T06:00:00Z")
	rep, err := Compute(context.Background(), workload(t), q)
	if err != nil {
		t.Fatal(err)
	}
	hours := map[string]int64{}
	for _, k := range rep.Keys {
		hours[k.Key] = k.KeyHours
	}
	// A2 was scheduled for deletion at 03:10: hours 00:00 to 04:00.
	if hours[arnA1] != 6 || hours[arnA2] != 4 || hours[arnA3] != 6 || hours[arnB1] != 6 {
		t.Errorf("key-hours %v", hours)
	}
	if _, err := Compute(context.Background(), workload(t), Query{Since: q.Since, Until: q.Since, Prices: AWSPrices()}); err == nil {
		t.Error("an empty period gave no error")
	}
}

// TestKnownAnswers checks the CSV and JSON of the workload against the
// files under testdata, and that the trail there (the workload's records,
// exported as JSON lines) gives the same answers.
func TestKnownAnswers(t *testing.T) {
	trailFile := filepath.Join("testdata", "workload.jsonl")
	if *update {
		var buf bytes.Buffer
		for _, e := range workload(t) {
			buf.Write(e.Raw)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(trailFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr := readTrail(t, trailFile)
	rep, err := Compute(context.Background(), tr, november)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"workload-by-key.csv", func(b *bytes.Buffer) error { return rep.WriteCSV(b, ByKey) }},
		{"workload-by-operation.csv", func(b *bytes.Buffer) error { return rep.WriteCSV(b, ByOperation) }},
		{"workload-by-key.json", func(b *bytes.Buffer) error { return rep.WriteJSON(b, ByKey) }},
		{"workload-by-key.txt", func(b *bytes.Buffer) error { return rep.WriteTable(b, ByKey) }},
		{"workload-by-operation.txt", func(b *bytes.Buffer) error { return rep.WriteTable(b, ByOperation) }},
	} {
		var got bytes.Buffer
		if err := f.write(&got); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", f.file)
		if *update {
			if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s differs:\n%s\nwant:\n%s", f.file, got.Bytes(), want)
		}
	}
}

// readTrail reads exported records (kms audit export's output).
func readTrail(t *testing.T, path string) trail {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tr trail
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec audit.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		tr = append(tr, audit.Event{EventID: rec.EventID, EventName: rec.EventName, EventSource: rec.EventSource,
			EventTime: rec.EventTime, Resources: rec.Resources, Raw: append([]byte(nil), sc.Bytes()...)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestInstantKey: a key scheduled for deletion in the second it was
// created is billed the hour it was created in; one created before the
// period and deleted exactly at its start is not billed.
func TestInstantKey(t *testing.T) {
	b := &builder{t: t}
	b.req(1, "2026-10-31T20:00:00Z", acctA, "CreateKey", arnA2, "", nil, created(arnA2, "RSA_2048"))
	b.service("2026-11-01T00:00:00Z", "DeleteKey", arnA2)
	b.req(1, "2026-11-03T05:00:00Z", acctA, "CreateKey", arnA3, "", nil, created(arnA3, "ECC_NIST_P256"))
	b.req(1, "2026-11-03T05:00:00Z", acctA, "ScheduleKeyDeletion", arnA3, "", nil, nil)
	rep, err := Compute(context.Background(), b.tr, november)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Keys) != 1 || rep.Keys[0].Key != arnA3 || rep.Keys[0].KeyHours != 1 {
		t.Errorf("rows %+v, want A3 alone, billed 1 hour", rep.Keys)
	}
}

// TestReplica: a multi-Region replica is billed from its ReplicateKey
// record, and its requests are priced by the primary's spec.
func TestReplica(t *testing.T) {
	const replica = "arn:aws:kms:eu-west-1:111111111111:key/mrk-3"
	b := &builder{t: t}
	b.req(1, "2026-11-02T00:00:00Z", acctA, "CreateKey", arnA3, "", nil, created(arnA3, "ECC_NIST_P256"))
	b.req(1, "2026-11-03T00:30:00Z", acctA, "ReplicateKey", arnA3, "", nil, nil)
	b.tr[1].Resources = append(b.tr[1].Resources, audit.Resource{AccountID: acctA, Type: audit.ResourceTypeKey, ARN: replica})
	b.req(2, "2026-11-04T00:00:00Z", acctA, "Sign", replica, "", nil, nil)
	rep, err := Compute(context.Background(), b.tr, november)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]KeyUsage{}
	for _, k := range rep.Keys {
		rows[k.Key] = k
	}
	if r := rows[replica]; r.Spec != "ECC_NIST_P256" || r.KeyHours != 28*24 || r.Requests[ClassAsymmetric] != 2 {
		t.Errorf("replica: %+v", r)
	}
	if r := rows[arnA3]; r.KeyHours != 29*24 {
		t.Errorf("primary: %+v", r)
	}
}
