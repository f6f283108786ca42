package service

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store"
	"github.com/openkms/kms/internal/store/sqlite"
)

// countingStore counts every read the service makes.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) GetKey(ctx context.Context, id string) (kms.Key, error) {
	c.reads.Add(1)
	return c.Store.GetKey(ctx, id)
}

func (c *countingStore) GetKeyForUse(ctx context.Context, id string) (store.KeyForUse, error) {
	c.reads.Add(1)
	return c.Store.GetKeyForUse(ctx, id)
}

func (c *countingStore) GetMaterial(ctx context.Context, keyID, id string) (store.Material, error) {
	c.reads.Add(1)
	return c.Store.GetMaterial(ctx, keyID, id)
}

func (c *countingStore) GetAlias(ctx context.Context, account, region, name string) (kms.Alias, error) {
	c.reads.Add(1)
	return c.Store.GetAlias(ctx, account, region, name)
}

func newTestService(t testing.TB) (*Service, *countingStore) {
	return newTestServiceConfig(t, Config{})
}

// newTestServiceConfig is a service on a fresh store with cfg's other
// settings.
func newTestServiceConfig(t testing.TB, cfg Config) (*Service, *countingStore) {
	t.Helper()
	sealer, err := seal.New(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	cfg.Store, cfg.Sealer = cs, sealer
	s := New(cfg)
	t.Cleanup(s.Close)
	return s, cs
}

func testCaller() *Caller {
	return &Caller{Principal: kms.RootPrincipal("111122223333", "AKIATEST"), Region: "us-east-1"}
}

func ptr[T any](v T) *T { return &v }

// TestHotPathSkipsStore: once a key is warm, Encrypt, Decrypt and
// GenerateDataKey read nothing from the store, and a state change is seen
// at once.
func TestHotPathSkipsStore(t *testing.T) {
	s, cs := newTestService(t)
	ctx, c := context.Background(), testCaller()
	k, err := s.CreateKey(ctx, c, &CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(ctx, c, &AliasInput{AliasName: ptr("alias/hot"), TargetKeyId: &k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	// Warm up: one miss per key, material and alias.
	enc, err := s.Encrypt(ctx, c, &EncryptInput{KeyId: ptr("alias/hot"), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	before := cs.reads.Load()
	for range 100 {
		if _, err := s.Encrypt(ctx, c, &EncryptInput{KeyId: ptr("alias/hot"), Plaintext: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Decrypt(ctx, c, &DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GenerateDataKey(ctx, c, &GenerateDataKeyInput{KeyId: &k.KeyMetadata.Arn, KeySpec: ptr("AES_256")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.reads.Load() - before; n != 0 {
		t.Fatalf("hot path read the store %d times", n)
	}
	if _, err := s.DisableKey(ctx, c, &KeyIDInput{KeyId: &k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Encrypt(ctx, c, &EncryptInput{KeyId: ptr("alias/hot"), Plaintext: []byte("x")})
	if e, ok := err.(*kms.Error); !ok || e.Code != kms.ErrDisabled {
		t.Fatalf("Encrypt right after DisableKey: %v", err)
	}
}

// BenchmarkEncryptColdKey: Encrypt with a key that is not in the cache, the
// key-per-tenant case (many more keys than the cache holds): every request
// loads the key, its aliases, grants and material.
func BenchmarkEncryptColdKey(b *testing.B) {
	s, _ := newTestServiceConfig(b, Config{CacheSize: 16, Logger: slog.New(slog.DiscardHandler)})
	ctx, c := context.Background(), testCaller()
	ids := make([]string, 512)
	for i := range ids {
		k, err := s.CreateKey(ctx, c, &CreateKeyInput{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = k.KeyMetadata.KeyId
	}
	in := &EncryptInput{Plaintext: make([]byte, 4096)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		in.KeyId = &ids[i%len(ids)]
		if _, err := s.Encrypt(ctx, c, in); err != nil {
			b.Fatal(err)
		}
	}
}
