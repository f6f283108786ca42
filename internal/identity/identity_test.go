package identity

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/sigv4"
	"github.com/openkms/kms/internal/store"
	"github.com/openkms/kms/internal/store/sqlite"
)

const testAccount = "111122223333"

var ctx = context.Background()

func newTestIdentity(t *testing.T) (*Identity, store.Store) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	i, err := New(Config{Store: st, Sealer: sealer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Close)
	return i, st
}

func rootCaller(account string) *Caller {
	return &Caller{Principal: kms.RootPrincipal(account, "AKIAROOT")}
}

func TestCreateAccount(t *testing.T) {
	i, st := newTestIdentity(t)
	// A first attempt that stopped after storing its root key.
	stale, _ := NewAccessKey()
	if err := st.PutAccessKey(ctx, store.AccessKey{ID: stale, Account: testAccount, SealedSecret: []byte("x"), Active: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, account, akid, secret string
		wantErr                     bool
	}{
		{"bad account id", "1234", "", "", true},
		{"key id without secret", testAccount, "AKIAIOSFODNN7EXAMPLE", "", true},
		{"session key id", testAccount, "ASIAIOSFODNN7EXAMPLE", "secret", true},
		{"key id with a space", testAccount, "AKIA IOSF", "secret", true},
		{"key id with a slash", testAccount, "AKIA/IOSF", "secret", true},
		{"secret with a newline", testAccount, "AKIAIOSFODNN7EXAMPLE", "sec\nret", true},
		{"pinned", testAccount, "AKIAIOSFODNN7EXAMPLE", "secret", false},
		{"again", testAccount, "AKIAIOSFODNN7EXAMPLE", "secret", true},
		{"pinned key of another account", "444455556666", "AKIAIOSFODNN7EXAMPLE", "secret", true},
		{"random", "444455556666", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := i.CreateAccount(ctx, tc.account, tc.akid, tc.secret)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			cred, err := i.Lookup(ctx, c.AccessKeyID, "")
			if err != nil || string(cred.Secret) != c.SecretAccessKey || cred.Principal != kms.RootPrincipal(tc.account, c.AccessKeyID) {
				t.Fatalf("Lookup: %+v %v", cred.Principal, err)
			}
		})
	}
	if _, err := i.Lookup(ctx, stale, ""); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
		t.Fatalf("the interrupted attempt's key: %v", err)
	}
	if _, err := i.CreateAccount(ctx, testAccount, "", ""); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("existing account: %v", err)
	}
}

// TestCreateAccountRetry: a retry with the same pinned key after a crash
// reuses the stored key; another secret for it is refused.
func TestCreateAccountRetry(t *testing.T) {
	i, st := newTestIdentity(t)
	sealed, _ := i.sealer.Seal([]byte("secret"), accessKeyAAD("AKIAIOSFODNN7EXAMPLE"))
	if err := st.PutAccessKey(ctx, store.AccessKey{ID: "AKIAIOSFODNN7EXAMPLE", Account: testAccount, SealedSecret: sealed, Active: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := i.CreateAccount(ctx, testAccount, "AKIAIOSFODNN7EXAMPLE", "other"); err == nil {
		t.Fatal("accepted another secret for a stored key")
	}
	if _, err := i.CreateAccount(ctx, testAccount, "AKIAIOSFODNN7EXAMPLE", "secret"); err != nil {
		t.Fatal(err)
	}
}

func TestPolicies(t *testing.T) {
	i, _ := newTestIdentity(t)
	if _, err := i.CreateAccount(ctx, testAccount, "", ""); err != nil {
		t.Fatal(err)
	}
	root := rootCaller(testAccount)
	if _, err := i.CreateUser(ctx, root, &CreateUserInput{UserName: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := i.CreateRole(ctx, root, &CreateRoleInput{RoleName: "app", AssumeRolePolicyDocument: `{"Version":"2012-10-17",
		"Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}`}); err != nil {
		t.Fatal(err)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	if err := i.PutUserPolicy(ctx, root, &PutUserPolicyInput{UserName: "alice", PolicyName: "a", PolicyDocument: doc}); err != nil {
		t.Fatal(err)
	}
	if err := i.PutRolePolicy(ctx, root, &PutRolePolicyInput{RoleName: "app", PolicyName: "a", PolicyDocument: doc}); err != nil {
		t.Fatal(err)
	}
	if err := i.PutRolePolicy(ctx, root, &PutRolePolicyInput{RoleName: "app", PolicyName: "b", PolicyDocument: doc}); err != nil {
		t.Fatal(err)
	}
	user := kms.Principal{Account: testAccount, Type: kms.PrincipalUser, Name: "Alice"}
	session := kms.Principal{Account: testAccount, Type: kms.PrincipalAssumedRole, RoleARN: "arn:aws:iam::111122223333:role/app"}
	for _, tc := range []struct {
		name string
		p    kms.Principal
		want int
	}{
		{"root", kms.RootPrincipal(testAccount, "AKIAROOT"), 0},
		{"user, any case", user, 1},
		{"role session", session, 2},
		{"user of another account", kms.Principal{Account: "444455556666", Type: kms.PrincipalUser, Name: "alice"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second answer comes from the cache
				docs, err := i.Policies(ctx, tc.p)
				if err != nil || len(docs) != tc.want {
					t.Fatalf("%d policies, %v; want %d", len(docs), err, tc.want)
				}
			}
		})
	}
	if err := i.DeleteRolePolicy(ctx, root, &DeleteRolePolicyInput{RoleName: "app", PolicyName: "b"}); err != nil {
		t.Fatal(err)
	}
	if docs, _ := i.Policies(ctx, session); len(docs) != 1 {
		t.Fatalf("after DeleteRolePolicy: %d policies", len(docs))
	}
}

// TestLookupNeverCachesStale: once UpdateAccessKey has returned, no
// Lookup succeeds, however lookups and the change interleave.
func TestLookupNeverCachesStale(t *testing.T) {
	i, _ := newTestIdentity(t)
	if _, err := i.CreateAccount(ctx, testAccount, "", ""); err != nil {
		t.Fatal(err)
	}
	root := rootCaller(testAccount)
	if _, err := i.CreateUser(ctx, root, &CreateUserInput{UserName: "alice"}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		k, err := i.CreateAccessKey(ctx, root, &CreateAccessKeyInput{UserName: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		id := k.AccessKey.AccessKeyID
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						i.Lookup(ctx, id, "")
					}
				}
			})
		}
		time.Sleep(time.Millisecond)
		if err := i.UpdateAccessKey(ctx, root, &UpdateAccessKeyInput{UserName: "alice", AccessKeyID: id, Status: StatusInactive}); err != nil {
			t.Fatal(err)
		}
		for range 50 {
			if _, err := i.Lookup(ctx, id, ""); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
				t.Fatalf("inactive key looked up: %v", err)
			}
		}
		close(stop)
		wg.Wait()
		if err := i.DeleteAccessKey(ctx, root, &DeleteAccessKeyInput{UserName: "alice", AccessKeyID: id}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseRoleARN(t *testing.T) {
	for _, tc := range []struct {
		arn, account, path, name string
		ok                       bool
	}{
		{"arn:aws:iam::111122223333:role/app", testAccount, "/", "app", true},
		{"arn:aws:iam::111122223333:role/a/b/app", testAccount, "/a/b/", "app", true},
		{"arn:aws:iam::111122223333:user/app", "", "", "", false},
		{"arn:aws:iam::111122223333:role/", "", "", "", false},
		{"arn:aws:iam::1111:role/app", "", "", "", false},
		{"arn:aws:sts::111122223333:role/app", "", "", "", false},
		{"arn:aws:iam:us-east-1:111122223333:role/app", "", "", "", false},
		{"arn:aws:iam::111122223333:role/a b", "", "", "", false},
	} {
		account, path, name, ok := parseRoleARN(tc.arn)
		if ok != tc.ok || account != tc.account || path != tc.path || name != tc.name {
			t.Errorf("parseRoleARN(%q) = %q %q %q %v", tc.arn, account, path, name, ok)
		}
	}
}

func TestEncodeDocument(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"A": "b+c"}`, "%7B%22A%22%3A%20%22b%2Bc%22%7D"},
		{"a-b_c.d~e", "a-b_c.d~e"},
		{"ü\n", "%C3%BC%0A"},
	} {
		if got := encodeDocument(tc.in); got != tc.want {
			t.Errorf("encodeDocument(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCachesOfTwoNodes: two Identities on one store are two nodes of a
// cluster. A change made on one reaches the other's cache only through
// Purge (what the change feed calls) or while that cache is not trusted.
func TestCachesOfTwoNodes(t *testing.T) {
	a, st := newTestIdentity(t)
	trusted := true
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Store: st, Sealer: sealer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		CacheTrusted: func() bool { return trusted }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if _, err := a.CreateAccount(ctx, testAccount, "", ""); err != nil {
		t.Fatal(err)
	}
	root := rootCaller(testAccount)
	if _, err := a.CreateUser(ctx, root, &CreateUserInput{UserName: "alice"}); err != nil {
		t.Fatal(err)
	}
	k, err := a.CreateAccessKey(ctx, root, &CreateAccessKeyInput{UserName: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	id := k.AccessKey.AccessKeyID
	status := func(active bool) {
		t.Helper()
		s := StatusInactive
		if active {
			s = StatusActive
		}
		if err := a.UpdateAccessKey(ctx, root, &UpdateAccessKeyInput{UserName: "alice", AccessKeyID: id, Status: s}); err != nil {
			t.Fatal(err)
		}
	}
	known := func() bool {
		t.Helper()
		_, err := b.Lookup(ctx, id, "")
		if err != nil && !errors.Is(err, sigv4.ErrUnknownAccessKey) {
			t.Fatal(err)
		}
		return err == nil
	}

	if !known() {
		t.Fatal("node b does not know the key")
	}
	status(false)
	if !known() {
		t.Fatal("node b's cache saw node a's change by itself: the test proves nothing")
	}
	b.Purge()
	if known() {
		t.Fatal("after Purge, node b still accepts the deactivated key")
	}
	trusted = false
	status(true)
	if !known() {
		t.Fatal("untrusted, node b answered from its cache")
	}
	status(false)
	if known() {
		t.Fatal("untrusted, node b answered from its cache")
	}
}
