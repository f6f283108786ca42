package identity

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestLimitsAcrossNodes: two nodes of a cluster (two Identities on one
// PostgreSQL database) creating access keys for one user at once: the limit
// of two holds across them, as the mutex of one process makes it hold.
func TestLimitsAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	node := func() *Identity {
		st, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		i, err := New(Config{Store: st, Sealer: sealer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(i.Close)
		return i
	}
	a, b := node(), node()
	if _, err := a.CreateAccount(ctx, testAccount, "", ""); err != nil {
		t.Fatal(err)
	}
	root := rootCaller(testAccount)
	for round := range 5 {
		name := "user" + string(rune('a'+round))
		if _, err := a.CreateUser(ctx, root, &CreateUserInput{UserName: name}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		made := 0
		for _, n := range []*Identity{a, b, a, b} {
			wg.Go(func() {
				_, err := n.CreateAccessKey(ctx, root, &CreateAccessKeyInput{UserName: name})
				var ke *kms.Error
				switch {
				case err == nil:
					mu.Lock()
					made++
					mu.Unlock()
				case errors.As(err, &ke) && ke.Code == ErrLimitExceeded:
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		keys, err := b.ListAccessKeys(ctx, root, &ListAccessKeysInput{UserName: name})
		if err != nil {
			t.Fatal(err)
		}
		if made != 2 || len(keys.AccessKeyMetadata.Members) != 2 {
			t.Fatalf("round %d: %d keys made, %d stored; want 2", round, made, len(keys.AccessKeyMetadata.Members))
		}
	}
}
