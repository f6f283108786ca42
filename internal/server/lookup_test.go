package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/openkms/kms/internal/server"
)

// LookupEvents through aws-sdk-go-v2's cloudtrail client, and
// GetKeyLastUsage, both answered from the audit trail of the real server.

func trailAs(url string, creds aws.Credentials) *cloudtrail.Client {
	return cloudtrail.New(cloudtrail.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.StaticCredentialsProvider{Value: creds},
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{},
	})
}

// requestID is the x-amzn-RequestId of a call, as the SDK reports it.
func requestID(t *testing.T, md middleware.Metadata) string {
	t.Helper()
	id, ok := awsmiddleware.GetRequestIDMetadata(md)
	if !ok || id == "" {
		t.Fatal("no request id")
	}
	return id
}

// trailRecord is what the tests read of an event's CloudTrailEvent.
type trailRecord struct {
	RequestID          string `json:"requestID"`
	EventID            string `json:"eventID"`
	EventSource        string `json:"eventSource"`
	ErrorCode          string `json:"errorCode"`
	RecipientAccountID string `json:"recipientAccountId"`
}

func parseRecord(t *testing.T, e cttypes.Event) trailRecord {
	t.Helper()
	var r trailRecord
	if e.CloudTrailEvent == nil || json.Unmarshal([]byte(*e.CloudTrailEvent), &r) != nil {
		t.Fatalf("event %s: CloudTrailEvent is not a record", aws.ToString(e.EventId))
	}
	if r.EventID != aws.ToString(e.EventId) || r.EventSource != aws.ToString(e.EventSource) {
		t.Fatalf("event %s: CloudTrailEvent %+v does not match it", aws.ToString(e.EventId), r)
	}
	return r
}

// lookupAll pages through a lookup, MaxResults at a time.
func lookupAll(t *testing.T, c *cloudtrail.Client, in cloudtrail.LookupEventsInput) []cttypes.Event {
	t.Helper()
	var all []cttypes.Event
	for {
		out, err := c.LookupEvents(ctx, &in)
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		if in.MaxResults != nil && len(out.Events) > int(*in.MaxResults) {
			t.Fatalf("%d events in a page of %d", len(out.Events), *in.MaxResults)
		}
		all = append(all, out.Events...)
		if out.NextToken == nil {
			return all
		}
		if len(out.Events) == 0 {
			t.Fatal("an empty page with a NextToken")
		}
		in.NextToken = out.NextToken
	}
}

// byAttr is a lookup by one attribute.
func byAttr(key cttypes.LookupAttributeKey, value string) cloudtrail.LookupEventsInput {
	return cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: key, AttributeValue: aws.String(value)}}}
}

// requestIDs are the request ids of events, in order, leaving out the
// records of lookups: every LookupEvents call adds one.
func requestIDs(t *testing.T, events []cttypes.Event) []string {
	t.Helper()
	ids := []string{}
	for _, e := range events {
		if r := parseRecord(t, e); r.EventSource != "cloudtrail.amazonaws.com" {
			ids = append(ids, r.RequestID)
		}
	}
	return ids
}

func TestLookupEvents(t *testing.T) {
	clock := new(testClock)
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir, Now: clock.now})
	rootKMS := ts.client(testRegion)
	rootIAM := newIAMClient(ts.URL, rootCreds)
	trail := trailAs(ts.URL, rootCreds)

	// An hour of activity at t0, then more at t1.
	t0 := clock.now().Truncate(time.Second)
	k1 := must[*awskms.CreateKeyOutput](t)(rootKMS.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	k2 := must[*awskms.CreateKeyOutput](t)(rootKMS.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	aliceCreds := createUserWithKey(t, rootIAM, "alice")
	putUserPolicy(t, rootIAM, "alice", "kms", allowDoc("kms:*", "*"))
	alice := kmsAs(ts.URL, aliceCreds)
	enc := must[*awskms.EncryptOutput](t)(alice.Encrypt(ctx, &awskms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("x")}))
	e1 := requestID(t, enc.ResultMetadata)

	clock.advance(time.Hour)
	t1 := clock.now().Truncate(time.Second)
	d1 := requestID(t, must[*awskms.DecryptOutput](t)(rootKMS.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})).ResultMetadata)
	e2 := requestID(t, must[*awskms.EncryptOutput](t)(rootKMS.Encrypt(ctx, &awskms.EncryptInput{KeyId: k2.KeyId, Plaintext: []byte("x")})).ResultMetadata)
	e3 := requestID(t, must[*awskms.EncryptOutput](t)(rootKMS.Encrypt(ctx, &awskms.EncryptInput{KeyId: k1.Arn, Plaintext: []byte("x")})).ResultMetadata)
	dk := requestID(t, must[*awskms.DescribeKeyOutput](t)(rootKMS.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k1.KeyId})).ResultMetadata)
	up := requestID(t, must[*awskms.UpdateKeyDescriptionOutput](t)(rootKMS.UpdateKeyDescription(ctx,
		&awskms.UpdateKeyDescriptionInput{KeyId: k1.KeyId, Description: aws.String("d")})).ResultMetadata)

	// Everything, newest first, the same in pages of any size.
	all := lookupAll(t, trail, cloudtrail.LookupEventsInput{})
	if len(all) < 9 || len(all) > 50 {
		t.Fatalf("%d events", len(all))
	}
	for i, e := range all {
		if i > 0 && e.EventTime.After(*all[i-1].EventTime) {
			t.Fatalf("event %d (%v) is newer than event %d (%v)", i, e.EventTime, i-1, all[i-1].EventTime)
		}
	}
	if ids := requestIDs(t, all); !slices.Equal(ids[:2], []string{up, dk}) {
		t.Fatalf("newest events %v, want UpdateKeyDescription %s then DescribeKey %s", ids[:2], up, dk)
	}
	for _, n := range []int32{1, 2, 3} {
		in := cloudtrail.LookupEventsInput{MaxResults: aws.Int32(n)}
		if got, want := requestIDs(t, lookupAll(t, trail, in)), requestIDs(t, all); !slices.Equal(got, want) {
			t.Fatalf("pages of %d: %v, want %v", n, got, want)
		}
	}
	var enc1 cttypes.Event // alice's Encrypt
	for _, e := range all {
		if parseRecord(t, e).RequestID == e1 {
			enc1 = e
		}
	}
	if aws.ToString(enc1.EventName) != "Encrypt" || aws.ToString(enc1.EventSource) != "kms.amazonaws.com" ||
		aws.ToString(enc1.ReadOnly) != "true" || aws.ToString(enc1.Username) != "alice" ||
		aws.ToString(enc1.AccessKeyId) != aliceCreds.AccessKeyID || enc1.EventTime == nil || enc1.EventTime.Before(t0) || !enc1.EventTime.Before(t1) ||
		len(enc1.Resources) != 1 || aws.ToString(enc1.Resources[0].ResourceType) != "AWS::KMS::Key" ||
		aws.ToString(enc1.Resources[0].ResourceName) != *k1.Arn {
		t.Fatalf("alice's Encrypt: %+v", enc1)
	}

	// One attribute at a time.
	type want struct {
		exactly  []string // the whole result, in order; or
		has, not []string // some it must and must not hold
	}
	allReads := []string{e1, d1, e2, e3, dk}
	for _, tc := range []struct {
		name string
		in   cloudtrail.LookupEventsInput
		want want
	}{
		{"EventName", byAttr(cttypes.LookupAttributeKeyEventName, "Encrypt"), want{exactly: []string{e3, e2, e1}}},
		{"EventName none", byAttr(cttypes.LookupAttributeKeyEventName, "Sign"), want{exactly: []string{}}},
		{"ResourceName ARN", byAttr(cttypes.LookupAttributeKeyResourceName, *k1.Arn), want{has: []string{up, dk, e3, d1, e1}, not: []string{e2}}},
		{"ResourceName key id", byAttr(cttypes.LookupAttributeKeyResourceName, *k2.KeyId), want{has: []string{e2}, not: []string{up, dk, e3, d1, e1}}},
		{"Username", byAttr(cttypes.LookupAttributeKeyUsername, "alice"), want{exactly: []string{e1}}},
		{"Username root", byAttr(cttypes.LookupAttributeKeyUsername, "root"), want{has: []string{up, dk, e3, e2, d1}, not: []string{e1}}},
		{"AccessKeyId", byAttr(cttypes.LookupAttributeKeyAccessKeyId, aliceCreds.AccessKeyID), want{exactly: []string{e1}}},
		{"ReadOnly true", byAttr(cttypes.LookupAttributeKeyReadOnly, "true"), want{has: allReads, not: []string{up}}},
		{"ReadOnly false", byAttr(cttypes.LookupAttributeKeyReadOnly, "false"), want{has: []string{up}, not: allReads}},
		{"EventId", byAttr(cttypes.LookupAttributeKeyEventId, *enc1.EventId), want{exactly: []string{e1}}},
		{"EventSource", byAttr(cttypes.LookupAttributeKeyEventSource, "iam.amazonaws.com"), want{not: append(allReads, up)}},
		{"ResourceType key", byAttr(cttypes.LookupAttributeKeyResourceType, "AWS::KMS::Key"), want{has: []string{up, dk, e3, e2, d1, e1}}},
		{"ResourceType other", byAttr(cttypes.LookupAttributeKeyResourceType, "AWS::S3::Bucket"), want{exactly: []string{}}},
		{"until t0", cloudtrail.LookupEventsInput{EndTime: aws.Time(t0.Add(time.Minute))}, want{has: []string{e1}, not: []string{d1, e2, e3, dk, up}}},
		{"from t1", cloudtrail.LookupEventsInput{StartTime: &t1}, want{exactly: []string{up, dk, e3, e2, d1}}},
		{"between", cloudtrail.LookupEventsInput{StartTime: aws.Time(t0.Add(10 * time.Minute)), EndTime: aws.Time(t1.Add(-time.Second))}, want{exactly: []string{}}},
		{"EventName from t1", cloudtrail.LookupEventsInput{StartTime: &t1, EndTime: aws.Time(t1.Add(10 * time.Minute)),
			LookupAttributes: byAttr(cttypes.LookupAttributeKeyEventName, "Encrypt").LookupAttributes}, want{exactly: []string{e3, e2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int32{3, 50} {
				in := tc.in
				in.MaxResults = aws.Int32(n)
				got := requestIDs(t, lookupAll(t, trail, in))
				if tc.want.exactly != nil && !slices.Equal(got, tc.want.exactly) {
					t.Fatalf("pages of %d: got %v, want %v", n, got, tc.want.exactly)
				}
				for _, id := range tc.want.has {
					if !slices.Contains(got, id) {
						t.Fatalf("pages of %d: %s is missing from %v", n, id, got)
					}
				}
				for _, id := range tc.want.not {
					if slices.Contains(got, id) {
						t.Fatalf("pages of %d: %s should not be in %v", n, id, got)
					}
				}
			}
		})
	}

	// Bad requests get CloudTrail's errors.
	page := must[*cloudtrail.LookupEventsOutput](t)(trail.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)}))
	token := *page.NextToken
	tampered := []byte(token)
	tampered[len(tampered)/2] ^= 1
	encrypts := byAttr(cttypes.LookupAttributeKeyEventName, "Encrypt")
	for _, tc := range []struct {
		name string
		in   cloudtrail.LookupEventsInput
		code string
	}{
		{"tampered token", cloudtrail.LookupEventsInput{NextToken: aws.String(string(tampered))}, "InvalidNextTokenException"},
		{"garbage token", cloudtrail.LookupEventsInput{NextToken: aws.String("garbage")}, "InvalidNextTokenException"},
		{"token of another lookup", cloudtrail.LookupEventsInput{NextToken: &token, LookupAttributes: encrypts.LookupAttributes}, "InvalidNextTokenException"},
		{"MaxResults 0", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(0)}, "InvalidMaxResultsException"},
		{"MaxResults 51", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		{"start after end", cloudtrail.LookupEventsInput{StartTime: &t1, EndTime: &t0}, "InvalidTimeRangeException"},
		{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: append(encrypts.LookupAttributes, encrypts.LookupAttributes...)}, "InvalidLookupAttributesException"},
		{"ReadOnly maybe", byAttr(cttypes.LookupAttributeKeyReadOnly, "maybe"), "InvalidLookupAttributesException"},
		{"unknown key", byAttr("Color", "blue"), "InvalidLookupAttributesException"},
		{"empty value", byAttr(cttypes.LookupAttributeKeyEventName, ""), "InvalidLookupAttributesException"},
	} {
		_, err := trail.LookupEvents(ctx, &tc.in)
		if err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
		wantCode(t, err, tc.code)
	}
	// The token itself works with its own lookup, whatever the page size.
	if _, err := trail.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: &token, MaxResults: aws.Int32(3)}); err != nil {
		t.Fatalf("the token of the lookup: %v", err)
	}

	// The AWS CLI names the operation with CloudTrail's long target prefix.
	// Either way, the request must be signed for cloudtrail.
	long := smithyhttp.SetHeaderValue("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
	out, err := trail.LookupEvents(ctx, &encrypts, func(o *cloudtrail.Options) { o.APIOptions = append(o.APIOptions, long) })
	if err != nil || !slices.Equal(requestIDs(t, out.Events), []string{e3, e2, e1}) {
		t.Fatalf("with the long target: %v", err)
	}
	_, err = rootKMS.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k1.KeyId}, func(o *awskms.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("X-Amz-Target", "CloudTrail_20131101.LookupEvents"))
	})
	wantMessage(t, err, "InvalidSignatureException", "'cloudtrail'")

	// cloudtrail:LookupEvents comes from IAM; kms:* does not include it.
	aliceTrail := trailAs(ts.URL, aliceCreds)
	_, err = aliceTrail.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	wantMessage(t, err, "AccessDeniedException", "not authorized to perform: cloudtrail:LookupEvents")
	putUserPolicy(t, rootIAM, "alice", "trail", allowDoc("cloudtrail:LookupEvents", "*"))
	got := requestIDs(t, lookupAll(t, aliceTrail, byAttr(cttypes.LookupAttributeKeyEventName, "Encrypt")))
	if !slices.Equal(got, []string{e3, e2, e1}) {
		t.Fatalf("alice's lookup: %v", got)
	}
	// The lookups are in the trail too, the denied one with its error.
	var denied int
	for _, e := range lookupAll(t, trail, byAttr(cttypes.LookupAttributeKeyUsername, "alice")) {
		r := parseRecord(t, e)
		if *e.EventName == "LookupEvents" && *e.EventSource == "cloudtrail.amazonaws.com" && r.ErrorCode == "AccessDeniedException" {
			denied++
		}
	}
	if denied != 1 {
		t.Fatalf("%d denied LookupEvents records of alice, want 1", denied)
	}

	// Another account sees only its own records, and we do not see them.
	other, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	otherCreds := aws.Credentials{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey}
	theirKey := must[*awskms.CreateKeyOutput](t)(kmsAs(ts.URL, otherCreds).CreateKey(ctx, &awskms.CreateKeyInput{}))
	theirs := requestID(t, theirKey.ResultMetadata)
	otherTrail := trailAs(ts.URL, otherCreds)
	for _, e := range lookupAll(t, otherTrail, cloudtrail.LookupEventsInput{}) {
		if r := parseRecord(t, e); r.RecipientAccountID != "444455556666" {
			t.Fatalf("account 444455556666 sees a record of %s: %s", r.RecipientAccountID, *e.CloudTrailEvent)
		}
	}
	if got := lookupAll(t, otherTrail, byAttr(cttypes.LookupAttributeKeyResourceName, *k1.Arn)); len(got) != 0 {
		t.Fatalf("account 444455556666 sees %d records of our key", len(got))
	}
	if got := requestIDs(t, lookupAll(t, otherTrail, byAttr(cttypes.LookupAttributeKeyEventName, "CreateKey"))); !slices.Equal(got, []string{theirs}) {
		t.Fatalf("account 444455556666's CreateKey records: %v, want [%s]", got, theirs)
	}
	if got := requestIDs(t, lookupAll(t, trail, cloudtrail.LookupEventsInput{})); slices.Contains(got, theirs) {
		t.Fatal("we see the other account's CreateKey")
	}
}

func TestGetKeyLastUsage(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	trail := trailAs(ts.URL, rootCreds)
	k1 := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	k2 := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	last := func(key *string) *awskms.GetKeyLastUsageOutput {
		t.Helper()
		out, err := c.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: key})
		if err != nil {
			t.Fatalf("GetKeyLastUsage: %v", err)
		}
		return out
	}
	// wantUse checks a key's last use: operation op in request reqID.
	wantUse := func(key *string, op, reqID string) {
		t.Helper()
		u := last(key).KeyLastUsage
		if u == nil || string(u.Operation) != op || aws.ToString(u.KmsRequestId) != reqID || u.Timestamp == nil {
			t.Fatalf("last usage of %s: %+v, want %s in request %s", *key, u, op, reqID)
		}
		// The event id is that of the request's record.
		events := lookupAll(t, trail, byAttr(cttypes.LookupAttributeKeyEventId, aws.ToString(u.CloudTrailEventId)))
		if len(events) != 1 || parseRecord(t, events[0]).RequestID != reqID || !events[0].EventTime.Equal(*u.Timestamp) {
			t.Fatalf("last usage of %s names event %s, which is not request %s", *key, aws.ToString(u.CloudTrailEventId), reqID)
		}
	}

	out := last(k1.KeyId)
	if aws.ToString(out.KeyId) != *k1.KeyId || !out.KeyCreationDate.Equal(*k1.CreationDate) ||
		!out.TrackingStartDate.Equal(*k1.CreationDate) {
		t.Fatalf("before any use: %+v (key created %v)", out, k1.CreationDate)
	}
	if u := out.KeyLastUsage; u == nil || u.Operation != "" || u.Timestamp != nil || u.KmsRequestId != nil || u.CloudTrailEventId != nil {
		t.Fatalf("unused key: KeyLastUsage %+v, want an empty object", u)
	}
	// By ARN too.
	if out := last(k1.Arn); aws.ToString(out.KeyId) != *k1.KeyId {
		t.Fatalf("by ARN: %+v", out)
	}

	enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("x"),
		EncryptionContext: map[string]string{"a": "b"}}))
	encID := requestID(t, enc.ResultMetadata)
	wantUse(k1.KeyId, "Encrypt", encID)
	if u := last(k2.KeyId).KeyLastUsage; u.Operation != "" {
		t.Fatalf("k2 used by an Encrypt with k1: %+v", u)
	}

	// Failed cryptographic calls and other operations do not count.
	_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperationException")
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "InvalidCiphertextException")
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})
	wantCode(t, err, "InvalidKeyUsageException")
	must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k1.KeyId}))
	must[*awskms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: k1.KeyId}))
	wantUse(k1.KeyId, "Encrypt", encID)

	// Decrypt without KeyId counts for the key of the ciphertext.
	dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob,
		EncryptionContext: map[string]string{"a": "b"}}))
	wantUse(k1.KeyId, "Decrypt", requestID(t, dec.ResultMetadata))

	// ReEncrypt counts for both keys.
	re := must[*awskms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob,
		SourceEncryptionContext: map[string]string{"a": "b"}, DestinationKeyId: k2.Arn}))
	reID := requestID(t, re.ResultMetadata)
	wantUse(k1.KeyId, "ReEncrypt", reID)
	wantUse(k2.KeyId, "ReEncrypt", reID)

	// Any key state.
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: k2.KeyId}))
	wantUse(k2.Arn, "ReEncrypt", reID)

	// Aliases are not accepted.
	must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/used"), TargetKeyId: k1.KeyId}))
	_, err = c.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String("alias/used")})
	wantCode(t, err, "NotFoundException")
	_, err = c.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String("arn:aws:kms:us-east-1:" + testAccount + ":alias/used")})
	wantCode(t, err, "InvalidArnException")
	_, err = c.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")})
	wantCode(t, err, "NotFoundException")
}

// TestCrossAccountRecords: a call on another account's key is in both
// accounts' trails (same eventID); a denied one only in the caller's.
func TestCrossAccountRecords(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir})
	pol := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:Encrypt","Resource":"*"}]}`
	shared := must[*awskms.CreateKeyOutput](t)(ts.client(testRegion).CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})).KeyMetadata
	private := must[*awskms.CreateKeyOutput](t)(ts.client(testRegion).CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	other, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	otherCreds := aws.Credentials{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey}
	them := kmsAs(ts.URL, otherCreds)
	ok := must[*awskms.EncryptOutput](t)(them.Encrypt(ctx, &awskms.EncryptInput{KeyId: shared.Arn, Plaintext: []byte("x")}))
	okID := requestID(t, ok.ResultMetadata)
	_, err = them.Encrypt(ctx, &awskms.EncryptInput{KeyId: private.Arn, Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("no request id in %v", err)
	}
	deniedID := re.ServiceRequestID()

	ours := lookupAll(t, trailAs(ts.URL, rootCreds), byAttr(cttypes.LookupAttributeKeyEventName, "Encrypt"))
	theirs := lookupAll(t, trailAs(ts.URL, otherCreds), byAttr(cttypes.LookupAttributeKeyEventName, "Encrypt"))
	find := func(events []cttypes.Event, reqID string) (trailRecord, bool) {
		for _, e := range events {
			if r := parseRecord(t, e); r.RequestID == reqID {
				return r, true
			}
		}
		return trailRecord{}, false
	}
	o, inOurs := find(ours, okID)
	th, inTheirs := find(theirs, okID)
	if !inOurs || !inTheirs || o.EventID != th.EventID || o.RecipientAccountID != testAccount || th.RecipientAccountID != "444455556666" {
		t.Fatalf("cross-account Encrypt: ours %v %+v, theirs %v %+v", inOurs, o, inTheirs, th)
	}
	if _, in := find(ours, deniedID); in {
		t.Fatal("the key owner sees the other account's denied call")
	}
	if r, in := find(theirs, deniedID); !in || r.ErrorCode != "AccessDeniedException" {
		t.Fatalf("the caller's denied call: %v %+v", in, r)
	}

	// Like CloudTrail, a lookup answers with its own region's events.
	elsewhere := cloudtrail.New(cloudtrail.Options{}, func(o *cloudtrail.Options) {
		*o = trailAs(ts.URL, rootCreds).Options()
		o.Region = "eu-west-1"
	})
	if got := lookupAll(t, elsewhere, byAttr(cttypes.LookupAttributeKeyEventName, "Encrypt")); len(got) != 0 {
		t.Fatalf("a lookup in eu-west-1 found %d Encrypt events of us-east-1", len(got))
	}
}
