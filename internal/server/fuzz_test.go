package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/server"
	"github.com/openkms/kms/internal/service"
)

// fuzzTargets is what the op index of FuzzAPI picks from: every implemented
// operation, a few that are pending, and names no route knows. Append only:
// the index is part of every corpus entry.
var fuzzTargets = []string{
	"TrentService.CreateKey",
	"TrentService.DescribeKey",
	"TrentService.ListKeys",
	"TrentService.UpdateKeyDescription",
	"TrentService.EnableKey",
	"TrentService.DisableKey",
	"TrentService.ScheduleKeyDeletion",
	"TrentService.CancelKeyDeletion",
	"TrentService.Encrypt",
	"TrentService.Decrypt",
	"TrentService.ReEncrypt",
	"TrentService.GenerateDataKey",
	"TrentService.GenerateDataKeyWithoutPlaintext",
	"TrentService.GenerateRandom",
	"TrentService.CreateAlias",
	"TrentService.UpdateAlias",
	"TrentService.DeleteAlias",
	"TrentService.ListAliases",
	"TrentService.TagResource",
	"TrentService.UntagResource",
	"TrentService.ListResourceTags",
	"TrentService.Sign",
	"TrentService.CreateGrant",
	"TrentService.GetKeyPolicy",
	"TrentService.Frobnicate",
	"TrentService.",
	"TrentService.createkey",
	"Foo.ListKeys",
	"",
	"TrentService.ListKeyPolicies",
	"TrentService.ListGrants",
	"TrentService.ListRetirableGrants",
	"TrentService.RetireGrant",
	"TrentService.RevokeGrant",
	"TrentService.EnableKeyRotation",
	"TrentService.DisableKeyRotation",
	"TrentService.GetKeyRotationStatus",
	"TrentService.ListKeyRotations",
	"TrentService.GetParametersForImport",
	"TrentService.ImportKeyMaterial",
	"TrentService.DeleteImportedKeyMaterial",
	"TrentService.Verify",
	"TrentService.GetPublicKey",
	"TrentService.GenerateMac",
	"TrentService.VerifyMac",
	"TrentService.DeriveSharedSecret",
	"TrentService.GenerateDataKeyPair",
	"TrentService.GenerateDataKeyPairWithoutPlaintext",
	"TrentService.GetKeyLastUsage",
	"TrentService.ReplicateKey",
	"TrentService.UpdatePrimaryRegion",
	// PutKeyPolicy is left out: a policy that locks the root out (with the
	// bypass flag) would stop the state snapshots, which read as root.
}

// fuzzUnknown lists the targets no route knows.
var fuzzUnknown = map[string]bool{
	"TrentService.Frobnicate": true,
	"TrentService.":           true,
	"TrentService.createkey":  true,
	"Foo.ListKeys":            true,
	"":                        true,
}

// fuzzMutating lists the operations allowed to change state, and then only
// when they answer 200.
var fuzzMutating = map[string]bool{
	"TrentService.CreateKey":            true,
	"TrentService.UpdateKeyDescription": true,
	"TrentService.EnableKey":            true,
	"TrentService.DisableKey":           true,
	"TrentService.ScheduleKeyDeletion":  true,
	"TrentService.CancelKeyDeletion":    true,
	"TrentService.CreateAlias":          true,
	"TrentService.UpdateAlias":          true,
	"TrentService.DeleteAlias":          true,
	"TrentService.TagResource":          true,
	"TrentService.UntagResource":        true,
	// Their effects are not in the snapshot today; listed so they stay
	// allowed to change it if it grows.
	"TrentService.EnableKeyRotation":         true,
	"TrentService.DisableKeyRotation":        true,
	"TrentService.ImportKeyMaterial":         true,
	"TrentService.DeleteImportedKeyMaterial": true,
	// Their new or changed copies are in other regions, or not in the
	// snapshot today.
	"TrentService.ReplicateKey":        true,
	"TrentService.UpdatePrimaryRegion": true,
}

// fuzzServer is a server opened once per fuzz process (the coordinator and
// each worker run FuzzAPI), driven through its handler with no network.
type fuzzServer struct {
	srv    *server.Server
	creds  aws.Credentials
	signer *v4.Signer
	caller *service.Caller
	logs   *fuzzLog
	// vars replaces placeholders in bodies. Key ids, ciphertexts and markers
	// differ per process (each fuzz worker opens its own data dir), so the
	// corpus holds placeholders rather than values.
	vars *strings.Replacer
	key  string // the pre-created key, for state snapshots
	last string // state after the last input that passed, or ""
}

// fuzzLog keeps the server's error logs, so a 500 reports its cause.
type fuzzLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *fuzzLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *fuzzLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	logs := new(fuzzLog)
	srv, err := server.Open(server.Config{
		DataDir:             tb.TempDir(),
		RootAccessKeyID:     testAccessKeyID,
		RootSecretAccessKey: testSecret,
		Logger:              slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	fs := &fuzzServer{
		srv:    srv,
		creds:  aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret},
		signer: v4.NewSigner(),
		caller: &service.Caller{Principal: kms.RootPrincipal(testAccount, testAccessKeyID), Region: testRegion},
		logs:   logs,
	}

	// Two keys, two aliases, two ciphertexts and a marker of each List*
	// operation, so that valid seeds reach deep into every operation.
	var keys [2]struct{ KeyMetadata struct{ KeyId, Arn string } }
	for i := range keys {
		fs.mustCall(tb, "TrentService.CreateKey", `{"Description":"fuzz","Tags":[{"TagKey":"a","TagValue":"1"},{"TagKey":"b","TagValue":"2"}]}`, &keys[i])
	}
	k1, k2 := keys[0].KeyMetadata, keys[1].KeyMetadata
	fs.key = k1.KeyId
	fs.mustCall(tb, "TrentService.CreateAlias", `{"AliasName":"alias/fuzz","TargetKeyId":"`+k1.KeyId+`"}`, nil)
	fs.mustCall(tb, "TrentService.CreateAlias", `{"AliasName":"alias/fuzz-2","TargetKeyId":"`+k2.KeyId+`"}`, nil)
	var enc struct{ CiphertextBlob []byte }
	fs.mustCall(tb, "TrentService.Encrypt", `{"KeyId":"alias/fuzz","Plaintext":"aGVsbG8=","EncryptionContext":{"purpose":"fuzz"}}`, &enc)
	var gdk struct{ CiphertextBlob []byte }
	fs.mustCall(tb, "TrentService.GenerateDataKeyWithoutPlaintext", `{"KeyId":"`+k2.Arn+`","KeySpec":"AES_256"}`, &gdk)
	var page struct{ NextMarker string }
	fs.mustCall(tb, "TrentService.ListKeys", `{"Limit":1}`, &page)
	keysMarker := page.NextMarker
	fs.mustCall(tb, "TrentService.ListAliases", `{"Limit":1}`, &page)
	aliasesMarker := page.NextMarker
	fs.mustCall(tb, "TrentService.ListResourceTags", `{"KeyId":"`+k1.KeyId+`","Limit":1}`, &page)
	tagsMarker := page.NextMarker
	if keysMarker == "" || aliasesMarker == "" || tagsMarker == "" {
		tb.Fatalf("setup: missing markers %q %q %q", keysMarker, aliasesMarker, tagsMarker)
	}

	// One key of each other usage, with a signature and a MAC to verify.
	var sign, mac, ecdh, rsa struct{ KeyMetadata struct{ KeyId string } }
	fs.mustCall(tb, "TrentService.CreateKey", `{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}`, &sign)
	fs.mustCall(tb, "TrentService.CreateKey", `{"KeySpec":"HMAC_256","KeyUsage":"GENERATE_VERIFY_MAC"}`, &mac)
	fs.mustCall(tb, "TrentService.CreateKey", `{"KeySpec":"ECC_NIST_P256","KeyUsage":"KEY_AGREEMENT"}`, &ecdh)
	fs.mustCall(tb, "TrentService.CreateKey", `{"KeySpec":"RSA_2048","KeyUsage":"ENCRYPT_DECRYPT"}`, &rsa)
	var sig struct{ Signature []byte }
	fs.mustCall(tb, "TrentService.Sign", `{"KeyId":"`+sign.KeyMetadata.KeyId+`","Message":"aGVsbG8=","SigningAlgorithm":"ECDSA_SHA_256"}`, &sig)
	var tag struct{ Mac []byte }
	fs.mustCall(tb, "TrentService.GenerateMac", `{"KeyId":"`+mac.KeyMetadata.KeyId+`","Message":"aGVsbG8=","MacAlgorithm":"HMAC_SHA_256"}`, &tag)
	var pub struct{ PublicKey []byte }
	fs.mustCall(tb, "TrentService.GetPublicKey", `{"KeyId":"`+sign.KeyMetadata.KeyId+`"}`, &pub)
	var rsaEnc struct{ CiphertextBlob []byte }
	fs.mustCall(tb, "TrentService.Encrypt", `{"KeyId":"`+rsa.KeyMetadata.KeyId+`","Plaintext":"aGVsbG8=","EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`, &rsaEnc)
	b64 := base64.StdEncoding.EncodeToString

	fs.vars = strings.NewReplacer(
		"%SIGN_KEY%", sign.KeyMetadata.KeyId,
		"%MAC_KEY%", mac.KeyMetadata.KeyId,
		"%ECDH_KEY%", ecdh.KeyMetadata.KeyId,
		"%RSA_KEY%", rsa.KeyMetadata.KeyId,
		"%SIG%", b64(sig.Signature),
		"%MAC%", b64(tag.Mac),
		"%PUB%", b64(pub.PublicKey),
		"%RSA_BLOB%", b64(rsaEnc.CiphertextBlob),
		"%KEY_ID%", k1.KeyId,
		"%KEY_ARN%", k1.Arn,
		"%KEY2_ID%", k2.KeyId,
		"%KEY2_ARN%", k2.Arn,
		"%ALIAS_ARN%", kms.AliasARN(testRegion, testAccount, "alias/fuzz"),
		"%BLOB%", base64.StdEncoding.EncodeToString(enc.CiphertextBlob),
		"%BLOB2%", base64.StdEncoding.EncodeToString(gdk.CiphertextBlob),
		"%KEYS_MARKER%", keysMarker,
		"%ALIASES_MARKER%", aliasesMarker,
		"%TAGS_MARKER%", tagsMarker,
	)
	return fs
}

// call signs and serves one request.
func (fs *fuzzServer) call(tb testing.TB, target string, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	return fs.callIn(tb, testRegion, target, body)
}

// callIn is call with the request signed for region.
func (fs *fuzzServer) callIn(tb testing.TB, region, target string, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	sum := sha256.Sum256(body)
	if err := fs.signer.SignHTTP(context.Background(), fs.creds, req, hex.EncodeToString(sum[:]), "kms", region, time.Now()); err != nil {
		tb.Fatal(err)
	}
	rec := httptest.NewRecorder()
	fs.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// mustCall is call for setup: it must succeed, and out receives the result.
func (fs *fuzzServer) mustCall(tb testing.TB, target, body string, out any) {
	tb.Helper()
	rec := fs.call(tb, target, []byte(body))
	if rec.Code != http.StatusOK {
		tb.Fatalf("setup %s %s: %d %s", target, body, rec.Code, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			tb.Fatalf("setup %s: %v", target, err)
		}
	}
}

// state renders the first page of keys and of aliases, and the metadata and
// tags of the first pre-created key. It reads through the service, not the
// API, so a broken handler cannot hide a change.
func (fs *fuzzServer) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var parts []any
	add := func(v any, err error) {
		if err != nil {
			t.Fatalf("state: %v", err)
		}
		parts = append(parts, v)
	}
	add(fs.srv.Service.ListKeys(ctx, fs.caller, &service.ListInput{Limit: aws.Int32(1000)}))
	add(fs.srv.Service.ListAliases(ctx, fs.caller, &service.ListAliasesInput{ListInput: service.ListInput{Limit: aws.Int32(100)}}))
	add(fs.srv.Service.DescribeKey(ctx, fs.caller, &service.DescribeKeyInput{KeyId: &fs.key}))
	add(fs.srv.Service.ListResourceTags(ctx, fs.caller, &service.ListResourceTagsInput{KeyId: &fs.key}))
	b, err := json.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzAPI checks that no request body gets a 5xx, a panic or a hang (the
// fuzzing engine reports a hung worker), that every answer has the shape
// AWS SDKs parse, and that a request changes state only if it is a
// mutating operation that succeeded.
func FuzzAPI(f *testing.F) {
	fs := newFuzzServer(f)
	for _, s := range fuzzSeeds() {
		f.Add(fuzzOp(f, s.target), []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op uint8, raw []byte) {
		target := fuzzTargets[int(op)%len(fuzzTargets)]
		body := []byte(fs.vars.Replace(string(raw)))
		// Only requests change state, so the state after the last input
		// that passed is the state before this one.
		before := fs.last
		fs.last = ""
		if before == "" {
			before = fs.state(t)
		}
		fs.logs.take()
		rec := fs.call(t, target, body)
		resp := rec.Body.Bytes()

		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s %q: status %d, body %s\nlogs: %s", target, body, rec.Code, resp, fs.logs.take())
		}
		if rec.Header().Get("x-amzn-RequestId") == "" {
			t.Errorf("%s %q: no x-amzn-RequestId", target, body)
		}
		if rec.Code == http.StatusOK {
			var v map[string]any
			if len(resp) > 0 && json.Unmarshal(resp, &v) != nil {
				t.Fatalf("%s %q: 200 body is not a JSON object: %q", target, body, resp)
			}
		} else {
			var e struct {
				Type    string `json:"__type"`
				Message *string
			}
			if err := json.Unmarshal(resp, &e); err != nil || e.Type == "" || e.Message == nil {
				t.Fatalf("%s %q: error body %q lacks __type or message (%v)", target, body, resp, err)
			}
			if h := rec.Header().Get("x-amzn-ErrorType"); h != e.Type {
				t.Errorf("%s %q: x-amzn-ErrorType %q != __type %q", target, body, h, e.Type)
			}
		}
		after := fs.state(t)
		// Naming alias/aws/<service> makes that AWS managed key on first
		// use, whatever the operation.
		managed := rec.Code == http.StatusOK && bytes.Contains(body, []byte("alias/aws/"))
		if (!fuzzMutating[target] || rec.Code != http.StatusOK) && !managed && after != before {
			t.Fatalf("%s %q answered %d %s but changed state:\nbefore %s\nafter  %s", target, body, rec.Code, resp, before, after)
		}
		fs.last = after
	})
}

func fuzzOp(tb testing.TB, target string) uint8 {
	for i, t := range fuzzTargets {
		if t == target {
			return uint8(i)
		}
	}
	tb.Fatalf("%q is not in fuzzTargets", target)
	return 0
}

type fuzzSeed struct{ target, body string }

// fuzzSeeds are realistic bodies for each operation, valid and broken, plus
// bodies that are broken the same way for every operation.
func fuzzSeeds() []fuzzSeed {
	const keyID = `"%KEY_ID%"`
	long := func(n int) string { return strings.Repeat("x", n) }
	plain4097 := `"` + base64.StdEncoding.EncodeToString(make([]byte, 4097)) + `"`
	blob6145 := `"` + base64.StdEncoding.EncodeToString(make([]byte, 6145)) + `"`
	tags51 := make([]string, 51)
	for i := range tags51 {
		tags51[i] = `{"TagKey":"t` + strings.Repeat("x", i) + `","TagValue":"v"}`
	}
	tokens11 := `["a","b","c","d","e","f","g","h","i","j","k"]`

	seeds := []fuzzSeed{
		// CreateKey
		{"TrentService.CreateKey", `{}`},
		{"TrentService.CreateKey", `{"Description":"d","KeyUsage":"ENCRYPT_DECRYPT","KeySpec":"SYMMETRIC_DEFAULT","Tags":[{"TagKey":"k","TagValue":"v"}]}`},
		{"TrentService.CreateKey", `{"CustomerMasterKeySpec":"SYMMETRIC_DEFAULT","Origin":"AWS_KMS","BypassPolicyLockoutSafetyCheck":true}`},
		{"TrentService.CreateKey", `{"Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[]}"}`},
		{"TrentService.CreateKey", `{"Policy":"not json"}`},
		{"TrentService.CreateKey", `{"Policy":""}`},
		{"TrentService.CreateKey", `{"Policy":"{\u0001}"}`},
		{"TrentService.CreateKey", `{"Policy":"{\"a\":\"` + long(40000) + `\"}"}`},
		{"TrentService.CreateKey", `{"KeySpec":"RSA_2048","KeyUsage":"SIGN_VERIFY"}`},
		{"TrentService.CreateKey", `{"KeySpec":"RSA_2048"}`},
		{"TrentService.CreateKey", `{"KeySpec":"SYMMETRIC_DEFAULT","CustomerMasterKeySpec":"RSA_2048"}`},
		{"TrentService.CreateKey", `{"KeyUsage":"SIGN_VERIFY"}`},
		{"TrentService.CreateKey", `{"KeySpec":"AES_256"}`},
		{"TrentService.CreateKey", `{"Origin":"EXTERNAL"}`},
		{"TrentService.CreateKey", `{"Origin":"EXTERNAL_KEY_STORE","XksKeyId":"x","CustomKeyStoreId":"cks-1"}`},
		{"TrentService.CreateKey", `{"XksKeyId":"x"}`},
		{"TrentService.CreateKey", `{"MultiRegion":true}`},
		{"TrentService.CreateKey", `{"MultiRegion":"yes"}`},
		{"TrentService.ReplicateKey", `{"KeyId":"mrk-1234abcd12ab34cd56ef1234567890ab","ReplicaRegion":"eu-west-1"}`},
		{"TrentService.ReplicateKey", `{"KeyId":"mrk-1234abcd12ab34cd56ef1234567890ab","ReplicaRegion":"Mars"}`},
		{"TrentService.ReplicateKey", `{"KeyId":"mrk-1234abcd12ab34cd56ef1234567890ab@eu-west-1","ReplicaRegion":"eu-west-1","Tags":[{"TagKey":"aws:x","TagValue":""}]}`},
		{"TrentService.UpdatePrimaryRegion", `{"KeyId":"mrk-1234abcd12ab34cd56ef1234567890ab","PrimaryRegion":"us-east-1"}`},
		{"TrentService.UpdatePrimaryRegion", `{"KeyId":"mrk-","PrimaryRegion":""}`},
		{"TrentService.CreateKey", `{"Description":"` + long(8193) + `"}`},
		{"TrentService.CreateKey", `{"Description":"\u0000\u001f\ud800"}`},
		{"TrentService.CreateKey", "{\"Description\":\"\xff\xfe\xc3\"}"},
		{"TrentService.CreateKey", `{"Tags":[{"TagKey":"aws:x","TagValue":"v"}]}`},
		{"TrentService.CreateKey", `{"Tags":[{"TagKey":"k","TagValue":"1"},{"TagKey":"k","TagValue":"2"}]}`},
		{"TrentService.CreateKey", `{"Tags":[` + strings.Join(tags51, ",") + `]}`},
		{"TrentService.CreateKey", `{"Tags":[{"TagKey":"","TagValue":""}]}`},
		{"TrentService.CreateKey", `{"Tags":[{"TagKey":"\u0000\n\t","TagValue":"\u0007"}]}`},
		{"TrentService.CreateKey", `{"Tags":[{"TagKey":1}]}`},
		{"TrentService.CreateKey", `{"Tags":{"k":"v"}}`},
		{"TrentService.CreateKey", `{"Tags":[null]}`},

		// DescribeKey and the key id forms every operation shares.
		{"TrentService.DescribeKey", `{"KeyId":` + keyID + `}`},
		{"TrentService.DescribeKey", `{"KeyId":"%KEY_ARN%","GrantTokens":["t"]}`},
		{"TrentService.DescribeKey", `{"KeyId":"alias/fuzz"}`},
		{"TrentService.DescribeKey", `{"KeyId":"%ALIAS_ARN%"}`},
		{"TrentService.DescribeKey", `{"KeyId":"alias/missing"}`},
		{"TrentService.DescribeKey", `{"KeyId":"alias/"}`},
		{"TrentService.DescribeKey", `{"KeyId":"alias/aws/ebs"}`},
		{"TrentService.DescribeKey", `{"KeyId":"arn:aws:kms:eu-west-1:111122223333:key/%KEY_ID%"}`},
		{"TrentService.DescribeKey", `{"KeyId":"arn:aws:kms:us-east-1:999999999999:key/%KEY_ID%"}`},
		{"TrentService.DescribeKey", `{"KeyId":"arn:aws:kms:us-east-1:111122223333:alias/fuzz"}`},
		{"TrentService.DescribeKey", `{"KeyId":"arn:aws:kms:us-east-1:111122223333:%KEY_ID%"}`},
		{"TrentService.DescribeKey", `{"KeyId":"arn:aws:kms:::key/"}`},
		{"TrentService.DescribeKey", `{"KeyId":"arn:aws-cn:kms:us-east-1:111122223333:key/%KEY_ID%"}`},
		{"TrentService.DescribeKey", `{"KeyId":"arn:"}`},
		{"TrentService.DescribeKey", `{"KeyId":"ARN:aws:kms:us-east-1:111122223333:key/%KEY_ID%"}`},
		{"TrentService.DescribeKey", `{"KeyId":"%KEY_ID% "}`},
		{"TrentService.DescribeKey", `{"KeyId":"12345678-1234-1234-1234-123456789ABC"}`},
		{"TrentService.DescribeKey", `{"KeyId":"mrk-1234abcd12ab34cd56ef1234567890ab"}`},
		{"TrentService.DescribeKey", `{"KeyId":""}`},
		{"TrentService.DescribeKey", `{"KeyId":"` + long(2049) + `"}`},
		{"TrentService.DescribeKey", `{"KeyId":"\u0000"}`},
		{"TrentService.DescribeKey", `{"KeyId":"%KEY_ID%","GrantTokens":` + tokens11 + `}`},
		{"TrentService.DescribeKey", `{"KeyId":"%KEY_ID%","GrantTokens":[""]}`},
		{"TrentService.DescribeKey", `{"KeyId":"%KEY_ID%","GrantTokens":"t"}`},
		{"TrentService.DescribeKey", `{"keyid":"%KEY_ID%"}`},
		{"TrentService.DescribeKey", `{"KeyId":"wrong","KeyId":"%KEY_ID%"}`},

		// ListKeys
		{"TrentService.ListKeys", `{"Limit":1}`},
		{"TrentService.ListKeys", `{"Limit":1,"Marker":"%KEYS_MARKER%"}`},
		{"TrentService.ListKeys", `{"Marker":"%ALIASES_MARKER%"}`},
		{"TrentService.ListKeys", `{"Marker":"%KEYS_MARKER%A"}`},
		{"TrentService.ListKeys", `{"Marker":"A%KEYS_MARKER%"}`},
		{"TrentService.ListKeys", `{"Marker":"garbage"}`},
		{"TrentService.ListKeys", `{"Marker":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`},
		{"TrentService.ListKeys", `{"Marker":"\u0001"}`},
		{"TrentService.ListKeys", `{"Marker":""}`},
		{"TrentService.ListKeys", `{"Marker":"` + long(1025) + `"}`},
		{"TrentService.ListKeys", `{"Limit":0}`},
		{"TrentService.ListKeys", `{"Limit":1001}`},
		{"TrentService.ListKeys", `{"Limit":-2147483648}`},
		{"TrentService.ListKeys", `{"Limit":2147483648}`},
		{"TrentService.ListKeys", `{"Limit":1e400}`},
		{"TrentService.ListKeys", `{"Limit":1.5}`},
		{"TrentService.ListKeys", `{"Limit":"10"}`},

		// UpdateKeyDescription, EnableKey, DisableKey
		{"TrentService.UpdateKeyDescription", `{"KeyId":` + keyID + `,"Description":"new"}`},
		{"TrentService.UpdateKeyDescription", `{"KeyId":` + keyID + `,"Description":""}`},
		{"TrentService.UpdateKeyDescription", `{"KeyId":` + keyID + `}`},
		{"TrentService.UpdateKeyDescription", `{"KeyId":"alias/fuzz","Description":"x"}`},
		{"TrentService.UpdateKeyDescription", `{"KeyId":` + keyID + `,"Description":"` + long(8193) + `"}`},
		{"TrentService.EnableKey", `{"KeyId":` + keyID + `}`},
		{"TrentService.EnableKey", `{"KeyId":"%KEY2_ARN%"}`},
		{"TrentService.EnableKey", `{"KeyId":"alias/fuzz"}`},
		{"TrentService.DisableKey", `{"KeyId":"%KEY2_ID%"}`},
		{"TrentService.DisableKey", `{"KeyId":"%ALIAS_ARN%"}`},

		// ScheduleKeyDeletion, CancelKeyDeletion
		{"TrentService.ScheduleKeyDeletion", `{"KeyId":"%KEY2_ID%","PendingWindowInDays":7}`},
		{"TrentService.ScheduleKeyDeletion", `{"KeyId":"%KEY2_ID%"}`},
		{"TrentService.ScheduleKeyDeletion", `{"KeyId":"%KEY2_ID%","PendingWindowInDays":6}`},
		{"TrentService.ScheduleKeyDeletion", `{"KeyId":"%KEY2_ID%","PendingWindowInDays":365}`},
		{"TrentService.ScheduleKeyDeletion", `{"KeyId":"%KEY2_ID%","PendingWindowInDays":-1}`},
		{"TrentService.CancelKeyDeletion", `{"KeyId":"%KEY2_ID%"}`},
		{"TrentService.CancelKeyDeletion", `{"KeyId":` + keyID + `}`},

		// Encrypt
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"aGVsbG8="}`},
		{"TrentService.Encrypt", `{"KeyId":"alias/fuzz","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b","":"\u0000"},"EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`},
		{"TrentService.Encrypt", `{"KeyId":"%ALIAS_ARN%","Plaintext":"aGVsbG8=","DryRun":true}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"aGVsbG8=","EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"aGVsbG8=","EncryptionAlgorithm":"rot13"}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":""}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":` + plain4097 + `}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"!!!"}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"aGVsbG8"}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"aGVs\nbG8="}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":123}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"aGk=","EncryptionContext":"x"}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"aGk=","EncryptionContext":{"a":1}}`},
		{"TrentService.Encrypt", `{"KeyId":` + keyID + `,"Plaintext":"aGk=","EncryptionContext":{"a":"` + long(100000) + `"}}`},
		{"TrentService.Encrypt", `{"KeyId":"%KEY2_ID%","Plaintext":"aGk="}`},

		// Decrypt
		{"TrentService.Decrypt", `{"CiphertextBlob":"%BLOB%","EncryptionContext":{"purpose":"fuzz"}}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"%BLOB%","EncryptionContext":{"purpose":"fuzz"},"KeyId":"alias/fuzz","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"%BLOB%","EncryptionContext":{"purpose":"fuzz"},"KeyId":"%KEY2_ID%"}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"%BLOB%","EncryptionContext":{"purpose":"fuzz"},"DryRun":true}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"%BLOB%"}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"%BLOB2%"}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"%BLOB%","Recipient":{"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"%BLOB%","EncryptionAlgorithm":"RSAES_OAEP_SHA_1"}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"AAAA"}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"AQEAAA=="}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":""}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":` + blob6145 + `}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"AAAA="}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":null}`},

		// ReEncrypt
		{"TrentService.ReEncrypt", `{"CiphertextBlob":"%BLOB%","SourceEncryptionContext":{"purpose":"fuzz"},"DestinationKeyId":"alias/fuzz-2","DestinationEncryptionContext":{"x":"y"}}`},
		{"TrentService.ReEncrypt", `{"CiphertextBlob":"%BLOB%","SourceEncryptionContext":{"purpose":"fuzz"},"SourceKeyId":"%KEY_ARN%","DestinationKeyId":` + keyID + `}`},
		{"TrentService.ReEncrypt", `{"CiphertextBlob":"%BLOB2%","DestinationKeyId":"%KEY2_ARN%","DryRun":true}`},
		{"TrentService.ReEncrypt", `{"CiphertextBlob":"%BLOB%","DestinationKeyId":` + keyID + `,"DestinationEncryptionAlgorithm":"SM2PKE"}`},
		{"TrentService.ReEncrypt", `{"CiphertextBlob":"%BLOB%"}`},

		// GenerateDataKey, GenerateDataKeyWithoutPlaintext
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"KeySpec":"AES_256"}`},
		{"TrentService.GenerateDataKey", `{"KeyId":"alias/fuzz","KeySpec":"AES_128","EncryptionContext":{"a":"b"}}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"NumberOfBytes":1024}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"NumberOfBytes":1}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"NumberOfBytes":0}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"NumberOfBytes":1025}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"NumberOfBytes":32,"KeySpec":"AES_256"}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"KeySpec":"AES_512"}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"KeySpec":"AES_256","Recipient":{}}`},
		{"TrentService.GenerateDataKey", `{"KeyId":` + keyID + `,"KeySpec":"AES_256","DryRun":true}`},
		{"TrentService.GenerateDataKeyWithoutPlaintext", `{"KeyId":"%KEY2_ARN%","KeySpec":"AES_256"}`},
		{"TrentService.GenerateDataKeyWithoutPlaintext", `{"KeyId":` + keyID + `,"NumberOfBytes":64,"Recipient":{}}`},

		// GenerateRandom
		{"TrentService.GenerateRandom", `{"NumberOfBytes":32}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":1024}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":0}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":1025}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":-1}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":99999999999999999999}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":32,"CustomKeyStoreId":"cks-1"}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":32,"Recipient":{}}`},

		// CreateAlias, UpdateAlias, DeleteAlias
		{"TrentService.CreateAlias", `{"AliasName":"alias/new","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/fuzz","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/x","TargetKeyId":"alias/fuzz"}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/x","TargetKeyId":"%ALIAS_ARN%"}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/aws/x","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/aws","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"fuzz","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/a b","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/ünï","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/a\u0000b","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias//:x","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/` + long(251) + `","TargetKeyId":` + keyID + `}`},
		{"TrentService.CreateAlias", `{"AliasName":"alias/x"}`},
		{"TrentService.UpdateAlias", `{"AliasName":"alias/fuzz","TargetKeyId":"%KEY2_ID%"}`},
		{"TrentService.UpdateAlias", `{"AliasName":"alias/fuzz","TargetKeyId":` + keyID + `}`},
		{"TrentService.UpdateAlias", `{"AliasName":"alias/missing","TargetKeyId":` + keyID + `}`},
		{"TrentService.UpdateAlias", `{"AliasName":"alias/aws/x","TargetKeyId":` + keyID + `}`},
		{"TrentService.DeleteAlias", `{"AliasName":"alias/fuzz-2"}`},
		{"TrentService.DeleteAlias", `{"AliasName":"alias/missing"}`},
		{"TrentService.DeleteAlias", `{"AliasName":"%ALIAS_ARN%"}`},
		{"TrentService.DeleteAlias", `{}`},

		// ListAliases
		{"TrentService.ListAliases", `{}`},
		{"TrentService.ListAliases", `{"KeyId":` + keyID + `,"Limit":100}`},
		{"TrentService.ListAliases", `{"KeyId":"alias/fuzz"}`},
		{"TrentService.ListAliases", `{"Limit":1,"Marker":"%ALIASES_MARKER%"}`},
		{"TrentService.ListAliases", `{"Marker":"%TAGS_MARKER%"}`},
		{"TrentService.ListAliases", `{"Limit":1000}`},

		// TagResource, UntagResource, ListResourceTags
		{"TrentService.TagResource", `{"KeyId":` + keyID + `,"Tags":[{"TagKey":"c","TagValue":"3"}]}`},
		{"TrentService.TagResource", `{"KeyId":` + keyID + `,"Tags":[]}`},
		{"TrentService.TagResource", `{"KeyId":` + keyID + `,"Tags":null}`},
		{"TrentService.TagResource", `{"KeyId":` + keyID + `,"Tags":[{"TagKey":"aws:c","TagValue":"3"}]}`},
		{"TrentService.TagResource", `{"KeyId":` + keyID + `,"Tags":[{"TagKey":"` + long(129) + `","TagValue":"` + long(257) + `"}]}`},
		{"TrentService.TagResource", `{"KeyId":` + keyID + `,"Tags":[` + strings.Join(tags51, ",") + `]}`},
		{"TrentService.TagResource", `{"KeyId":"alias/fuzz","Tags":[{"TagKey":"c","TagValue":"3"}]}`},
		{"TrentService.UntagResource", `{"KeyId":` + keyID + `,"TagKeys":["c","missing"]}`},
		{"TrentService.UntagResource", `{"KeyId":` + keyID + `,"TagKeys":["aws:x"]}`},
		{"TrentService.UntagResource", `{"KeyId":` + keyID + `,"TagKeys":[""]}`},
		{"TrentService.UntagResource", `{"KeyId":` + keyID + `}`},
		{"TrentService.ListResourceTags", `{"KeyId":` + keyID + `}`},
		{"TrentService.ListResourceTags", `{"KeyId":` + keyID + `,"Limit":1,"Marker":"%TAGS_MARKER%"}`},
		{"TrentService.ListResourceTags", `{"KeyId":"%KEY2_ID%","Marker":"%TAGS_MARKER%"}`},
		{"TrentService.ListResourceTags", `{"KeyId":` + keyID + `,"Marker":"%KEYS_MARKER%"}`},
		{"TrentService.ListResourceTags", `{"KeyId":` + keyID + `,"Limit":1000}`},

		// Operations that are pending or unknown.
		{"TrentService.Sign", `{"KeyId":` + keyID + `,"Message":"aGk=","SigningAlgorithm":"RSASSA_PSS_SHA_256"}`},
		{"TrentService.CreateGrant", `{"KeyId":` + keyID + `,"GranteePrincipal":"arn:aws:iam::111122223333:root","Operations":["Decrypt"]}`},
		{"TrentService.GetKeyPolicy", `{"KeyId":` + keyID + `}`},
		{"TrentService.GetKeyPolicy", `{"KeyId":` + keyID + `,"PolicyName":"other"}`},
		{"TrentService.GetKeyPolicy", `{"KeyId":` + keyID + `,"PolicyName":"no spaces allowed"}`},
		{"TrentService.ListKeyPolicies", `{"KeyId":` + keyID + `}`},
		{"TrentService.CreateGrant", `{"KeyId":` + keyID + `,"GranteePrincipal":"arn:aws:iam::111122223333:user/x","Operations":["Decrypt","Bogus"]}`},
		{"TrentService.CreateGrant", `{"KeyId":` + keyID + `,"GranteePrincipal":"x","Operations":[],"Constraints":{"EncryptionContextEquals":{"a":"b"}},"DryRun":true}`},
		{"TrentService.ListGrants", `{"KeyId":` + keyID + `,"GrantId":"zz","Limit":100}`},
		{"TrentService.ListRetirableGrants", `{"RetiringPrincipal":"arn:aws:iam::111122223333:root"}`},
		{"TrentService.EnableKeyRotation", `{"KeyId":` + keyID + `,"RotationPeriodInDays":89}`},
		{"TrentService.DisableKeyRotation", `{"KeyId":"alias/fuzz"}`},
		{"TrentService.GetKeyRotationStatus", `{"KeyId":` + keyID + `}`},
		{"TrentService.ListKeyRotations", `{"KeyId":` + keyID + `,"IncludeKeyMaterial":"ALL_KEY_MATERIAL","Limit":1}`},
		{"TrentService.ListKeyRotations", `{"KeyId":` + keyID + `,"Marker":"%KEYS_MARKER%"}`},
		{"TrentService.GetParametersForImport", `{"KeyId":` + keyID + `,"WrappingAlgorithm":"RSAES_OAEP_SHA_256","WrappingKeySpec":"RSA_2048"}`},
		{"TrentService.GetParametersForImport", `{"KeyId":` + keyID + `,"WrappingAlgorithm":"RSAES_PKCS1_V1_5","WrappingKeySpec":"RSA_1024"}`},
		{"TrentService.ImportKeyMaterial", `{"KeyId":` + keyID + `,"ImportToken":"AAAA","EncryptedKeyMaterial":"AAAA","ValidTo":1e30}`},
		{"TrentService.ImportKeyMaterial", `{"KeyId":` + keyID + `,"ImportToken":"AAAA","EncryptedKeyMaterial":"AAAA","ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE","ValidTo":"x"}`},
		{"TrentService.DeleteImportedKeyMaterial", `{"KeyId":` + keyID + `,"KeyMaterialId":"zz"}`},
		{"TrentService.RetireGrant", `{"GrantToken":"AAAA"}`},
		{"TrentService.RetireGrant", `{}`},
		{"TrentService.RevokeGrant", `{"KeyId":` + keyID + `,"GrantId":"0000000000000000000000000000000000000000000000000000000000000000"}`},
		{"TrentService.ListKeyPolicies", `{"KeyId":` + keyID + `,"Limit":0,"Marker":"%KEYS_MARKER%"}`},
		// Signing, MACs, key agreement and data key pairs
		{"TrentService.Sign", `{"KeyId":"%SIGN_KEY%","Message":"aGVsbG8=","SigningAlgorithm":"ECDSA_SHA_256"}`},
		{"TrentService.Sign", `{"KeyId":"%SIGN_KEY%","Message":"aGVsbG8=","MessageType":"DIGEST","SigningAlgorithm":"ECDSA_SHA_256"}`},
		{"TrentService.Sign", `{"KeyId":"%SIGN_KEY%","Message":"aGVsbG8=","MessageType":"EXTERNAL_MU","SigningAlgorithm":"ML_DSA_SHAKE_256","DryRun":true}`},
		{"TrentService.Sign", `{"KeyId":` + keyID + `,"Message":"aGVsbG8=","SigningAlgorithm":"RSASSA_PSS_SHA_256"}`},
		{"TrentService.Sign", `{"KeyId":"%SIGN_KEY%","Message":` + plain4097 + `,"SigningAlgorithm":"ECDSA_SHA_256"}`},
		{"TrentService.Verify", `{"KeyId":"%SIGN_KEY%","Message":"aGVsbG8=","Signature":"%SIG%","SigningAlgorithm":"ECDSA_SHA_256"}`},
		{"TrentService.Verify", `{"KeyId":"%SIGN_KEY%","Message":"aGVsbG8=","Signature":"AAAA","SigningAlgorithm":"ECDSA_SHA_256"}`},
		{"TrentService.Verify", `{"KeyId":"%SIGN_KEY%","Message":"aGVsbG8=","Signature":` + blob6145 + `,"SigningAlgorithm":"ECDSA_SHA_256"}`},
		{"TrentService.GetPublicKey", `{"KeyId":"%SIGN_KEY%"}`},
		{"TrentService.GetPublicKey", `{"KeyId":` + keyID + `}`},
		{"TrentService.GenerateMac", `{"KeyId":"%MAC_KEY%","Message":"aGVsbG8=","MacAlgorithm":"HMAC_SHA_256"}`},
		{"TrentService.GenerateMac", `{"KeyId":"%MAC_KEY%","Message":"aGVsbG8=","MacAlgorithm":"HMAC_SHA_384"}`},
		{"TrentService.VerifyMac", `{"KeyId":"%MAC_KEY%","Message":"aGVsbG8=","Mac":"%MAC%","MacAlgorithm":"HMAC_SHA_256"}`},
		{"TrentService.VerifyMac", `{"KeyId":"%MAC_KEY%","Message":"aGVsbG8=","Mac":"AAAA","MacAlgorithm":"HMAC_SHA_256"}`},
		{"TrentService.DeriveSharedSecret", `{"KeyId":"%ECDH_KEY%","KeyAgreementAlgorithm":"ECDH","PublicKey":"%PUB%"}`},
		{"TrentService.DeriveSharedSecret", `{"KeyId":"%ECDH_KEY%","KeyAgreementAlgorithm":"ECDH","PublicKey":"AAAA"}`},
		{"TrentService.Encrypt", `{"KeyId":"%RSA_KEY%","Plaintext":"aGVsbG8=","EncryptionAlgorithm":"RSAES_OAEP_SHA_1"}`},
		{"TrentService.Encrypt", `{"KeyId":"%RSA_KEY%","Plaintext":"aGVsbG8=","EncryptionAlgorithm":"RSAES_OAEP_SHA_1","EncryptionContext":{"a":"b"}}`},
		{"TrentService.Decrypt", `{"KeyId":"%RSA_KEY%","CiphertextBlob":"%RSA_BLOB%","EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"%RSA_BLOB%","EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`},
		{"TrentService.ReEncrypt", `{"SourceKeyId":"%RSA_KEY%","CiphertextBlob":"%RSA_BLOB%","SourceEncryptionAlgorithm":"RSAES_OAEP_SHA_256","DestinationKeyId":` + keyID + `}`},
		{"TrentService.GenerateDataKeyPair", `{"KeyId":` + keyID + `,"KeyPairSpec":"ECC_NIST_P256","EncryptionContext":{"a":"b"}}`},
		{"TrentService.GenerateDataKeyPairWithoutPlaintext", `{"KeyId":` + keyID + `,"KeyPairSpec":"ECC_NIST_EDWARDS25519"}`},
		{"TrentService.GenerateDataKeyPair", `{"KeyId":"%RSA_KEY%","KeyPairSpec":"RSA_2048"}`},
		// GetKeyLastUsage
		{"TrentService.GetKeyLastUsage", `{"KeyId":` + keyID + `}`},
		{"TrentService.GetKeyLastUsage", `{"KeyId":"%KEY2_ARN%"}`},
		{"TrentService.GetKeyLastUsage", `{"KeyId":"%SIGN_KEY%"}`},
		{"TrentService.GetKeyLastUsage", `{"KeyId":"alias/fuzz"}`},
		{"TrentService.GetKeyLastUsage", `{"KeyId":"%ALIAS_ARN%"}`},
		{"TrentService.GetKeyLastUsage", `{"KeyId":"arn:aws:kms:us-east-1:999999999999:key/%KEY_ID%"}`},
		{"TrentService.Frobnicate", `{}`},
		{"TrentService.", `{}`},
		{"TrentService.createkey", `{}`},
		{"Foo.ListKeys", `{}`},
		{"", `{}`},
	}

	// Bodies broken the same way for every operation.
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	generic := []string{
		``,
		`{}`,
		`null`,
		`[]`,
		`"KeyId"`,
		`42`,
		`{`,
		`{"KeyId":`,
		`{} {}`,
		`{}x`,
		`{"KeyId":null,"Plaintext":null,"CiphertextBlob":null,"AliasName":null,"Tags":null,"Limit":null,"NumberOfBytes":null}`,
		`{"KeyId":123,"Limit":"x"}`,
		`{"KeyId":{"KeyId":"%KEY_ID%"}}`,
		`{"KeyId":["%KEY_ID%"]}`,
		`{"KeyId":true}`,
		`{"KeyId":"%KEY_ID%","NumberOfBytes":1e309}`,
		`{"KeyId":"%KEY_ID%","Limit":-0}`,
		`{"KeyId":"\ud800\udc00\ud800"}`,
		"{\"KeyId\":\"\xc3\x28\xa0\xa1\xe2\x28\xa1\"}",
		"{\"KeyId\":\"a\x00b\"}",
		"{\"Key\x00Id\":\"%KEY_ID%\"}",
		`{"\u0000":"x","\n":1}`,
		"\xef\xbb\xbf{}",
		"\x00",
		deep,
		strings.Repeat("[", 100000),
		`{"KeyId":"%KEY_ID%","Plaintext":"aGk=","CiphertextBlob":"%BLOB%","AliasName":"alias/fuzz","TargetKeyId":"%KEY_ID%","DestinationKeyId":"%KEY_ID%","KeySpec":"AES_256","NumberOfBytes":16,"Tags":[],"TagKeys":[],"Description":"","Limit":1,"Marker":"%KEYS_MARKER%"}`,
	}
	for _, target := range fuzzTargets {
		bodies := generic
		if fuzzUnknown[target] {
			bodies = generic[:3] // rejected before the body is read
		}
		for _, body := range bodies {
			seeds = append(seeds, fuzzSeed{target, body})
		}
	}
	return seeds
}

// TestSignedRegions: the region of the credential scope becomes part of
// every key ARN, so any region a server accepts must give keys that work.
// With no Config.Regions (the default) every region is accepted.
func TestSignedRegions(t *testing.T) {
	fs := newFuzzServer(t)
	for _, tc := range []struct{ region string }{
		{"us-east-1"},
		{"eu-west-1"},
		{"us-gov-west-1"},
		{"us east"},
		{"\u00fc"},
		{"\x7f"},
		{strings.Repeat("r", 1000)},
		{"a:b"},
	} {
		t.Run(fmt.Sprintf("%.20q", tc.region), func(t *testing.T) {
			var k struct{ KeyMetadata struct{ Arn string } }
			rec := fs.callIn(t, tc.region, "TrentService.CreateKey", []byte(`{}`))
			if rec.Code == http.StatusBadRequest {
				return // refusing the region is fine too
			}
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &k) != nil {
				t.Fatalf("CreateKey: %d %s", rec.Code, rec.Body)
			}
			for _, op := range []struct{ target, body string }{
				{"TrentService.DescribeKey", `{"KeyId":"` + k.KeyMetadata.Arn + `"}`},
				{"TrentService.Encrypt", `{"KeyId":"` + k.KeyMetadata.Arn + `","Plaintext":"aGk="}`},
			} {
				rec = fs.callIn(t, tc.region, op.target, []byte(op.body))
				if rec.Code != http.StatusOK {
					t.Fatalf("%s: %d %s\nlogs: %s", op.target, rec.Code, rec.Body, fs.logs.take())
				}
			}
			// The ciphertext names the key by its ARN alone.
			var enc struct{ CiphertextBlob []byte }
			if err := json.Unmarshal(rec.Body.Bytes(), &enc); err != nil {
				t.Fatal(err)
			}
			rec = fs.callIn(t, tc.region, "TrentService.Decrypt",
				[]byte(`{"CiphertextBlob":"`+base64.StdEncoding.EncodeToString(enc.CiphertextBlob)+`"}`))
			if rec.Code != http.StatusOK {
				t.Fatalf("Decrypt: %d %s", rec.Code, rec.Body)
			}
		})
	}
}
