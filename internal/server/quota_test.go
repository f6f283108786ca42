package server_test

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/server"
)

// Request-rate quotas, through the SDK (retries off) against the real
// server. The server's clock is frozen and moved by the tests, so that a
// slow machine never refills a bucket between two calls.

// frozenClock is a server clock that moves only when told.
type frozenClock struct{ t atomic.Int64 }

func newFrozenClock() *frozenClock {
	c := &frozenClock{}
	c.t.Store(time.Now().UnixNano())
	return c
}

func (c *frozenClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *frozenClock) advance(d time.Duration) { c.t.Add(int64(d)) }

func quotaServer(t *testing.T, yaml string) (*testServer, *frozenClock) {
	t.Helper()
	cfg, err := server.ParseQuotaConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	clock := newFrozenClock()
	return startServer(t, server.Config{Quotas: cfg, Now: clock.now}), clock
}

func createKeys(c *awskms.Client, n int) error {
	for range n {
		if _, err := c.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
			return err
		}
	}
	return nil
}

func TestQuotaThrottlesAndResets(t *testing.T) {
	ts, clock := quotaServer(t, "") // AWS's defaults: CreateKey 5 per second
	c := ts.client(testRegion)
	if err := createKeys(c, 5); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("one too many")})
	wantMessage(t, err, "ThrottlingException", "Rate exceeded")
	id, msg := errID(t, err, "ThrottlingException")
	if msg != "Rate exceeded" {
		t.Fatalf("message %q, want Rate exceeded", msg)
	}

	// Audited like any other failed request.
	r := byRequestID(t, trail(t, ts))[id]
	if r == nil {
		t.Fatalf("no audit record of throttled request %s", id)
	}
	if r.EventName != "CreateKey" || r.ErrorCode != "ThrottlingException" || r.ErrorMessage != "Rate exceeded" ||
		r.UserIdentity.AccountID != testAccount || r.AWSRegion != testRegion {
		t.Fatalf("audit record of the throttled request: %s", r.raw)
	}

	// A fifth of a second refills one request; a second, all five.
	clock.advance(200 * time.Millisecond)
	if err := createKeys(c, 1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, createKeys(c, 1), "ThrottlingException")
	clock.advance(time.Second)
	if err := createKeys(c, 5); err != nil {
		t.Fatal(err)
	}
	wantCode(t, createKeys(c, 1), "ThrottlingException")
}

func TestQuotaPerAccountAndRegion(t *testing.T) {
	ts, _ := quotaServer(t, "")
	c := ts.client(testRegion)
	if err := createKeys(c, 5); err != nil {
		t.Fatal(err)
	}
	wantCode(t, createKeys(c, 1), "ThrottlingException")

	// Another account has buckets of its own, and so has another region.
	other, err := ts.CreateAccount("444455556666")
	if err != nil {
		t.Fatal(err)
	}
	oc := newClient(ts.URL, testRegion, other.AccessKeyID, other.SecretAccessKey)
	if err := createKeys(oc, 5); err != nil {
		t.Fatalf("another account is throttled by the first's requests: %v", err)
	}
	wantCode(t, createKeys(oc, 1), "ThrottlingException")
	if err := createKeys(ts.client("eu-west-1"), 5); err != nil {
		t.Fatalf("another region is throttled by the first's requests: %v", err)
	}
}

func TestQuotaOverrides(t *testing.T) {
	ts, _ := quotaServer(t, `
default:
  CreateKey: 2
accounts:
  "444455556666":
    CreateKey: 4
  "555566667777":
    CreateKey: 0   # no limit
`)
	for _, a := range []struct {
		account string
		n       int // CreateKey calls allowed in one instant
	}{{testAccount, 2}, {"444455556666", 4}, {"555566667777", 20}} {
		c := ts.client(testRegion)
		if a.account != testAccount {
			creds, err := ts.CreateAccount(a.account)
			if err != nil {
				t.Fatal(err)
			}
			c = newClient(ts.URL, testRegion, creds.AccessKeyID, creds.SecretAccessKey)
		}
		if err := createKeys(c, a.n); err != nil {
			t.Fatalf("account %s: %v", a.account, err)
		}
		if a.n < 20 {
			wantCode(t, createKeys(c, 1), "ThrottlingException")
		}
	}
}

func TestQuotaManagementAndCryptoSeparate(t *testing.T) {
	ts, _ := quotaServer(t, `{"default": {"Symmetric": 3, "RSA": 1, "DescribeKey": 1}}`)
	c := ts.client(testRegion)
	key := createKey(t, c, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	rsa := createKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)

	// DescribeKey's quota spent leaves the cryptographic ones alone.
	must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key.KeyId}))
	_, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key.KeyId})
	wantCode(t, err, "ThrottlingException")

	// Encrypt, GenerateDataKey and GenerateRandom share the symmetric one.
	must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x")}))
	must[*awskms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: key.KeyId, NumberOfBytes: aws.Int32(32)}))
	must[*awskms.GenerateRandomOutput](t)(c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)}))
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x")})
	wantMessage(t, err, "ThrottlingException", "Rate exceeded")

	// Sign on an RSA key counts against the RSA quota, not the symmetric.
	sign := func() error {
		_, err := c.Sign(ctx, &awskms.SignInput{KeyId: rsa.KeyId, Message: []byte("m"),
			SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
		return err
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, sign(), "ThrottlingException")

	// And management operations have quotas of their own.
	if err := createKeys(c, 3); err != nil { // 2 of CreateKey's 5 were spent above
		t.Fatal(err)
	}
}

func TestQuotaDataKeyPairBySpec(t *testing.T) {
	ts, clock := quotaServer(t, "") // RSA_2048 pairs: 1 per second; ECC_NIST_P256: 25
	c := ts.client(testRegion)
	key := createKey(t, c, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	pair := func(spec types.DataKeyPairSpec) error {
		_, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &awskms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: key.KeyId, KeyPairSpec: spec})
		return err
	}
	if err := pair(types.DataKeyPairSpecRsa2048); err != nil {
		t.Fatal(err)
	}
	wantCode(t, pair(types.DataKeyPairSpecRsa2048), "ThrottlingException")
	if err := pair(types.DataKeyPairSpecEccNistP256); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Second)
	if err := pair(types.DataKeyPairSpecRsa2048); err != nil {
		t.Fatal(err)
	}
}

func TestQuotaOffByDefault(t *testing.T) {
	ts := startServer(t, server.Config{})
	if err := createKeys(ts.client(testRegion), 8); err != nil {
		t.Fatalf("a server without quotas throttled: %v", err)
	}
}

func TestQuotaConfigRefused(t *testing.T) {
	for _, bad := range []string{
		"default: {CreateKeys: 5}",
		"default: {CreateKey: -1}",
		"accounts: {\"111122223333\": {Symmetric: .nan}}",
		"defaults: {CreateKey: 5}",
		"default: [1, 2]",
	} {
		if _, err := server.ParseQuotaConfig([]byte(bad)); err == nil {
			t.Errorf("quota file %q accepted", bad)
		} else if !strings.Contains(err.Error(), "quota file") {
			t.Errorf("quota file %q: error %q does not say where", bad, err)
		}
	}
}

// TestQuotaClusterShare: the nodes of a cluster share each quota, each
// allowing its share; when a node leaves, the others take its share.
func TestQuotaClusterShare(t *testing.T) {
	cfg, err := server.ParseQuotaConfig([]byte("default:\n  CreateKey: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.DSN(t)
	clock := newFrozenClock()
	a := startServer(t, server.Config{Store: dsn, Quotas: cfg, Now: clock.now})
	b := startServer(t, server.Config{Store: dsn, Quotas: cfg, Now: clock.now, SealKeyFile: filepath.Join(a.DataDir(), "root.key")})
	// allowed counts the CreateKeys a node allows before it throttles.
	allowed := func(ts *testServer) int {
		t.Helper()
		c := ts.client(testRegion)
		for n := 0; n <= 20; n++ {
			_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
			if err != nil {
				wantMessage(t, err, "ThrottlingException", "Rate exceeded")
				return n
			}
		}
		t.Fatal("no throttling")
		return 0
	}
	for _, ts := range []*testServer{a, b} {
		if err := ts.RefreshNodes(); err != nil {
			t.Fatal(err)
		}
	}
	if na, nb := allowed(a), allowed(b); na != 5 || nb != 5 {
		t.Fatalf("two nodes allowed %d and %d of a quota of 10", na, nb)
	}
	b.stop()
	clock.advance(time.Second)
	if err := a.RefreshNodes(); err != nil {
		t.Fatal(err)
	}
	if n := allowed(a); n != 10 {
		t.Fatalf("the node left alone allowed %d of 10", n)
	}
}
