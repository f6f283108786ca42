package seal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// memState is a StateStore in memory, as a cluster's database keeps it.
type memState struct {
	mu   sync.Mutex
	data []byte
	err  error
}

func (m *memState) LoadSealState(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	if m.data == nil {
		return nil, fmt.Errorf("no seal state: %w", fs.ErrNotExist)
	}
	return m.data, nil
}

func (m *memState) CreateSealState(_ context.Context, data []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = data
	}
	return m.data, nil
}

// TestStoredState: nodes of a cluster share one seal state. Nodes that
// create it at once with the same passphrase agree on one seal; a node
// with another root key or passphrase refuses; the data dir gets no
// seal.json.
func TestStoredState(t *testing.T) {
	st := &memState{}
	var wg sync.WaitGroup
	sealers := make([]*Sealer, 4)
	for i := range sealers {
		wg.Go(func() {
			s, err := Open(Config{Dir: t.TempDir(), Passphrase: "cluster", Create: true, State: st})
			if err != nil {
				t.Error(err)
				return
			}
			sealers[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, s := range sealers[1:] {
		checkSameKey(t, sealers[0], s)
	}

	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"wrong passphrase", Config{Dir: dir, Passphrase: "other", State: st}, ErrWrongPassphrase},
		{"wrong passphrase, create", Config{Dir: dir, Passphrase: "other", Create: true, State: st}, ErrWrongPassphrase},
		{"a key file instead", Config{Dir: dir, Create: true, State: st}, ErrKindMismatch},
		{"no state", Config{Dir: dir, Passphrase: "cluster", State: &memState{}}, ErrNotInitialized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(tc.cfg); !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "seal.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a stored seal wrote seal.json")
	}

	// A key-file cluster: the first node makes the key; nodes given it open.
	kst := &memState{}
	first := t.TempDir()
	a, err := Open(Config{Dir: first, Create: true, State: kst})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(Config{Dir: t.TempDir(), KeyFile: filepath.Join(first, "root.key"), State: kst})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, a, b)
	// A node without the key makes none: the cluster's seal exists.
	third := t.TempDir()
	if _, err := Open(Config{Dir: third, Create: true, State: kst}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a node without the key file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(third, "root.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a node joining a cluster made a root key of its own")
	}
	other := filepath.Join(third, "other.key")
	if err := os.WriteFile(other, []byte("0101010101010101010101010101010101010101010101010101010101010101\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Dir: third, KeyFile: other, Create: true, State: kst}); !errors.Is(err, ErrWrongRootKey) {
		t.Fatalf("a node with another key: %v", err)
	}

	// A store that fails is an error, not a new seal.
	if _, err := Open(Config{Dir: t.TempDir(), Create: true, State: &memState{err: errors.New("connection refused")}}); err == nil ||
		errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failing store: %v", err)
	}
}
