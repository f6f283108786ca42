package seal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Keep passphrase seals cheap in tests; the stored parameters are
	// checked below to be the ones used.
	argon2Cost = argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}
	os.Exit(m.Run())
}

func newTestSealer(t *testing.T) *Sealer {
	t.Helper()
	s, err := New(bytes.Repeat([]byte{0x42}, RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	s := newTestSealer(t)
	aad := []byte("key/1234 material/abcd")
	for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("k"), 4096)} {
		sealed, err := s.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != 1+12+len(pt)+16 || sealed[0] != 0x01 {
			t.Fatalf("sealed %d bytes as %d bytes starting %#x", len(pt), len(sealed), sealed[0])
		}
		got, err := s.Open(sealed, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("Open = %x, want %x", got, pt)
		}
	}

	sealed, _ := s.Seal([]byte("secret"), aad)
	again, _ := s.Seal([]byte("secret"), aad)
	if bytes.Equal(sealed[1:13], again[1:13]) {
		t.Error("two seals share a nonce")
	}
	for name, a := range map[string][]byte{
		"nil":       nil,
		"other":     []byte("key/1234 material/abce"),
		"truncated": aad[:len(aad)-1],
		"longer":    append(bytes.Clone(aad), 0),
	} {
		if _, err := s.Open(sealed, a); err != ErrUnseal {
			t.Errorf("AAD %s: err = %v, want ErrUnseal", name, err)
		}
	}
	for i := range sealed {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		if _, err := s.Open(b, aad); err != ErrUnseal {
			t.Fatalf("byte %d flipped: err = %v, want ErrUnseal", i, err)
		}
	}
	for n := range len(sealed) {
		if _, err := s.Open(sealed[:n], aad); err != ErrUnseal {
			t.Fatalf("truncated to %d: err = %v, want ErrUnseal", n, err)
		}
	}
	if _, err := s.Open(append(bytes.Clone(sealed), 0), aad); err != ErrUnseal {
		t.Errorf("trailing byte: err = %v, want ErrUnseal", err)
	}
	other, _ := New(bytes.Repeat([]byte{0x43}, RootKeySize))
	if _, err := other.Open(sealed, aad); err != ErrUnseal {
		t.Errorf("other root key: err = %v, want ErrUnseal", err)
	}
}

func TestNew(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte root key", n)
		}
	}
	s := newTestSealer(t)
	// A Sealer is never copied (vet's copylocks): printed, it is a pointer,
	// alone or inside a struct.
	in := struct{ S *Sealer }{s}
	if out := fmt.Sprintf("%v %+v %#v %x %+v %#v", s, s, s, s, in, in); strings.Contains(out, "4242") || strings.Contains(out, "66 66") {
		t.Errorf("root key printed: %s", out)
	}
}

func TestDeriveKey(t *testing.T) {
	s := newTestSealer(t)
	a, b := s.DeriveKey("pagination marker"), s.DeriveKey("pagination marker")
	if len(a) != 32 || !bytes.Equal(a, b) {
		t.Fatalf("DeriveKey not a stable 32-byte key: %x %x", a, b)
	}
	seen := map[string]string{}
	for _, label := range []string{"", "a", "pagination marker", "pagination marker\x00", "aead"} {
		k := string(s.DeriveKey(label))
		if prev, ok := seen[k]; ok {
			t.Errorf("labels %q and %q give the same key", prev, label)
		}
		seen[k] = label
	}
	other, _ := New(bytes.Repeat([]byte{0x43}, RootKeySize))
	if bytes.Equal(other.DeriveKey("a"), s.DeriveKey("a")) {
		t.Error("different root keys derive the same key")
	}
}

// snapshot records everything about the files under root, to show that a
// failed Open changed nothing.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d\n", path, info.Mode(), info.Size(), info.ModTime().UnixNano())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%x\n", data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// mustFailUnchanged runs Open(cfg), which must fail with want, and checks
// that nothing under root changed and that no secret is in the message.
func mustFailUnchanged(t *testing.T, root string, cfg Config, want error, secrets ...string) error {
	t.Helper()
	before := snapshot(t, root)
	// Make a rewrite of an unchanged file visible in its modification time.
	time.Sleep(10 * time.Millisecond)
	s, err := Open(cfg)
	if err == nil {
		t.Fatalf("Open succeeded: %v", s)
	}
	if !errors.Is(err, want) {
		t.Errorf("Open error %q, want %q", err, want)
	}
	for _, secret := range append(secrets, cfg.Passphrase) {
		if secret != "" && strings.Contains(err.Error(), secret) {
			t.Errorf("error message %q contains a secret", err)
		}
	}
	if after := snapshot(t, root); after != before {
		t.Errorf("failed Open changed the disk:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	return err
}

func checkMode(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
	}
}

func readState(t *testing.T, dir string) state {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "seal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// checkSameKey checks that b opens what a sealed.
func checkSameKey(t *testing.T, a, b *Sealer) {
	t.Helper()
	sealed, err := a.Seal([]byte("material"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(sealed, []byte("aad")); err != nil || string(got) != "material" {
		t.Fatalf("reopened sealer cannot open: %q, %v", got, err)
	}
	if !bytes.Equal(a.DeriveKey("x"), b.DeriveKey("x")) {
		t.Fatal("reopened sealer derives other keys")
	}
}

func TestKeyFileSeal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := Open(Config{Dir: dir, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	keyFile, stateFile := filepath.Join(dir, "root.key"), filepath.Join(dir, "seal.json")
	checkMode(t, keyFile)
	checkMode(t, stateFile)
	text, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(text) != 65 || text[64] != '\n' {
		t.Fatalf("root key file is %d bytes, want 64 hex digits and a newline", len(text))
	}
	if _, err := hex.DecodeString(string(text[:64])); err != nil {
		t.Fatal("root key file is not hex")
	}
	if st := readState(t, dir); st.Kind != "key-file" || st.Argon2id != nil || st.Version != 1 {
		t.Errorf("seal.json = %+v", st)
	}
	if data, _ := os.ReadFile(stateFile); bytes.Contains(data, text[:64]) {
		t.Error("seal.json contains the root key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("data dir holds %d files, want root.key and seal.json only", len(entries))
	}

	s2, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, s1, s2)

	// Create on an existing seal opens it and writes nothing.
	before := snapshot(t, dir)
	s3, err := Open(Config{Dir: dir, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, s1, s3)
	if snapshot(t, dir) != before {
		t.Error("Create on an existing seal changed the disk")
	}
}

func TestPassphraseSeal(t *testing.T) {
	dir := t.TempDir()
	const pass = "correct horse battery staple"
	s1, err := Open(Config{Dir: dir, Passphrase: pass, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	checkMode(t, filepath.Join(dir, "seal.json"))
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("passphrase seal wrote a root key file")
	}
	st := readState(t, dir)
	if p := st.Argon2id; st.Kind != "passphrase" || p == nil || p.Time != 1 || p.MemoryKiB != 64 || p.Threads != 1 || len(p.Salt) != 16 {
		t.Errorf("seal.json = %+v %+v", st, st.Argon2id)
	}
	s2, err := Open(Config{Dir: dir, Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, s1, s2)

	// Same passphrase, another data dir: another salt, another key.
	s3, err := Open(Config{Dir: t.TempDir(), Passphrase: pass, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s1.DeriveKey("x"), s3.DeriveKey("x")) {
		t.Error("two passphrase seals share a key")
	}
}

// productionCost is argon2Cost before TestMain lowers it.
var productionCost = argon2Cost

func TestProductionArgon2Cost(t *testing.T) {
	p := productionCost
	p.Salt = make([]byte, 16)
	if p.Time != 3 || p.MemoryKiB != 64*1024 || p.Threads != 2 || !p.valid() {
		t.Errorf("production Argon2id cost = %+v, want time 3, 64 MiB, 2 threads", productionCost)
	}
}

func TestWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(Config{Dir: dir, Passphrase: "right one", Create: true}); err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{"wrong one", "right one ", "Right one"} {
		mustFailUnchanged(t, dir, Config{Dir: dir, Passphrase: wrong}, ErrWrongPassphrase)
		mustFailUnchanged(t, dir, Config{Dir: dir, Passphrase: wrong, Create: true}, ErrWrongPassphrase)
	}
}

func TestWrongKeyFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if _, err := Open(Config{Dir: dir, Create: true}); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "root.key")
	good, _ := os.ReadFile(keyFile)

	other := strings.Repeat("5a", 32) + "\n"
	if err := os.WriteFile(keyFile, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	err := mustFailUnchanged(t, root, Config{Dir: dir}, ErrWrongRootKey, "5a5a", string(good[:64]))
	if !strings.Contains(err.Error(), keyFile) {
		t.Errorf("error %q does not name the key file", err)
	}
	mustFailUnchanged(t, root, Config{Dir: dir, Create: true}, ErrWrongRootKey, "5a5a")

	// A right key in another file, given explicitly, works.
	elsewhere := filepath.Join(root, "elsewhere.key")
	if err := os.WriteFile(elsewhere, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Dir: dir, KeyFile: elsewhere}); err != nil {
		t.Fatal(err)
	}
}

func TestMissingKeyFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if _, err := Open(Config{Dir: dir, Create: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "root.key")); err != nil {
		t.Fatal(err)
	}
	mustFailUnchanged(t, root, Config{Dir: dir}, fs.ErrNotExist)
	// Create must not make a new key for an existing seal.
	mustFailUnchanged(t, root, Config{Dir: dir, Create: true}, fs.ErrNotExist)
	mustFailUnchanged(t, root, Config{Dir: dir, KeyFile: filepath.Join(root, "nope")}, fs.ErrNotExist)
}

func TestMalformedKeyFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if _, err := Open(Config{Dir: dir, Create: true}); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "root.key")
	good, _ := os.ReadFile(keyFile)
	hexKey := string(good[:64])

	bad := map[string]string{
		"empty":            "",
		"newline only":     "\n",
		"short":            hexKey[:62] + "\n",
		"long":             hexKey + "00\n",
		"raw 32 bytes":     string(bytes.Repeat([]byte{0xc7}, 32)),
		"two newlines":     hexKey + "\n\n",
		"CRLF":             hexKey + "\r\n",
		"leading space":    " " + hexKey,
		"trailing space":   hexKey + " \n",
		"not hex":          "zz" + hexKey[2:] + "\n",
		"base64":           "x9z/" + strings.Repeat("A", 40) + "=\n",
		"all zero":         strings.Repeat("0", 64) + "\n",
		"hex with 0x":      "0x" + hexKey[2:],
		"huge":             strings.Repeat(hexKey, 100),
		"odd length":       hexKey[:63],
		"hex, missing one": hexKey[1:] + "\n",
	}
	for name, content := range bad {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(keyFile, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			secrets := []string{hexKey[:8], hexKey[len(hexKey)-8:], "zz", "x9z"}
			mustFailUnchanged(t, root, Config{Dir: dir}, ErrWrongRootKey, secrets...)
		})
	}

	// The documented forms: with or without newline, either case.
	for _, content := range []string{hexKey, hexKey + "\n", strings.ToUpper(hexKey) + "\n"} {
		if err := os.WriteFile(keyFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(Config{Dir: dir}); err != nil {
			t.Errorf("key file %q refused: %v", content[60:], err)
		}
	}
}

func TestKindMismatch(t *testing.T) {
	root := t.TempDir()
	keyDir, passDir := filepath.Join(root, "k"), filepath.Join(root, "p")
	if _, err := Open(Config{Dir: keyDir, Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Dir: passDir, Passphrase: "pass", Create: true}); err != nil {
		t.Fatal(err)
	}
	err := mustFailUnchanged(t, root, Config{Dir: keyDir, Passphrase: "secret-pass"}, ErrKindMismatch)
	if !strings.Contains(err.Error(), "root key file") {
		t.Errorf("unclear error: %v", err)
	}
	mustFailUnchanged(t, root, Config{Dir: keyDir, Passphrase: "secret-pass", Create: true}, ErrKindMismatch)
	err = mustFailUnchanged(t, root, Config{Dir: passDir}, ErrKindMismatch)
	if !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("unclear error: %v", err)
	}
	// Create must not turn a passphrase dir into a key-file one.
	mustFailUnchanged(t, root, Config{Dir: passDir, Create: true}, ErrKindMismatch)
	if _, err := Open(Config{Dir: passDir, Passphrase: "pass", KeyFile: filepath.Join(keyDir, "root.key")}); err == nil {
		t.Error("Open accepted both a passphrase and a key file")
	}
}

func TestNotInitialized(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mustFailUnchanged(t, root, Config{Dir: dir}, ErrNotInitialized)
	mustFailUnchanged(t, root, Config{Dir: dir, Passphrase: "hunter2-secret"}, ErrNotInitialized)
	mustFailUnchanged(t, root, Config{Dir: filepath.Join(root, "absent")}, ErrNotInitialized)
	if _, err := Open(Config{}); err == nil {
		t.Error("Open accepted an empty config")
	}
}

func TestCreateAdoptsKeyFile(t *testing.T) {
	root := t.TempDir()
	keyFile := filepath.Join(root, "operator.key")
	key := bytes.Repeat([]byte{0x42}, 32)
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o400); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "data")
	s1, err := Open(Config{Dir: dir, KeyFile: keyFile, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, s1, newTestSealer(t))
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Create wrote a default root key file although KeyFile was given")
	}
	if got, _ := os.ReadFile(keyFile); string(got) != hex.EncodeToString(key) {
		t.Error("Create rewrote the operator's key file")
	}
	s2, err := Open(Config{Dir: dir, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	checkSameKey(t, s1, s2)
	// Without KeyFile the default root.key is looked for, and is absent.
	if _, err := Open(Config{Dir: dir}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
}

func TestDamagedState(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if _, err := Open(Config{Dir: dir, Passphrase: "p", Create: true}); err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(dir, "seal.json")
	good := readState(t, dir)
	edit := func(f func(st *state)) string {
		st := good
		p := *good.Argon2id
		st.Argon2id = &p
		f(&st)
		data, _ := json.Marshal(st)
		return string(data)
	}
	for name, content := range map[string]string{
		"empty":          "",
		"not JSON":       "{",
		"trailing data":  edit(func(*state) {}) + "{}",
		"unknown field":  strings.Replace(edit(func(*state) {}), "{", `{"x":1,`, 1),
		"version 2":      edit(func(st *state) { st.Version = 2 }),
		"unknown kind":   edit(func(st *state) { st.Kind = "hsm" }),
		"no verifier":    edit(func(st *state) { st.Verifier = nil }),
		"no argon2":      edit(func(st *state) { st.Argon2id = nil }),
		"short salt":     edit(func(st *state) { st.Argon2id.Salt = st.Argon2id.Salt[:8] }),
		"huge memory":    edit(func(st *state) { st.Argon2id.MemoryKiB = 1 << 31 }),
		"huge time":      edit(func(st *state) { st.Argon2id.Time = 1 << 20 }),
		"zero threads":   edit(func(st *state) { st.Argon2id.Threads = 0 }),
		"key-file+argon": edit(func(st *state) { st.Kind = "key-file" }),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(statePath, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, root)
			if _, err := Open(Config{Dir: dir, Passphrase: "p", Create: true}); err == nil {
				t.Fatal("Open succeeded")
			}
			if snapshot(t, root) != before {
				t.Error("failed Open changed the disk")
			}
		})
	}

	// A changed salt or cost is a wrong key, not a silent success.
	for name, content := range map[string]string{
		"salt": edit(func(st *state) { st.Argon2id.Salt[0] ^= 1 }),
		"time": edit(func(st *state) { st.Argon2id.Time++ }),
	} {
		if err := os.WriteFile(statePath, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(Config{Dir: dir, Passphrase: "p"}); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("changed %s: err = %v", name, err)
		}
	}
}

// FuzzOpen checks that Sealer.Open and the seal.json parser never panic and
// that Open fails only with ErrUnseal.
func FuzzOpen(f *testing.F) {
	s, err := New(bytes.Repeat([]byte{0x42}, RootKeySize))
	if err != nil {
		f.Fatal(err)
	}
	sealed, _ := s.Seal([]byte("material"), []byte("aad"))
	f.Add(sealed)
	f.Add([]byte(`{"version":1,"kind":"passphrase","argon2id":{"time":1,"memory_kib":64,"threads":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="},"verifier":"AQ=="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if pt, err := s.Open(b, []byte("aad")); err == nil {
			if string(pt) != "material" {
				t.Fatalf("opened forged data: %q", pt)
			}
		} else if err != ErrUnseal {
			t.Fatalf("Open error %v, want ErrUnseal", err)
		}
		if st, err := parseState(b); err == nil && st.Kind == kindPassphrase && !st.Argon2id.valid() {
			t.Fatalf("accepted out-of-range parameters %+v", st.Argon2id)
		}
	})
}
