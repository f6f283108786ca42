package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"go.yaml.in/yaml/v3"

	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/server"
	"github.com/openkms/kms/internal/store"
)

const (
	exampleSeed  = "../../examples/seed.yaml"
	localKMSSeed = "../seed/testdata/local-kms.yaml"
	seedUserKey  = "AKIASEEDEXAMPLE00001"
	seedUserSec  = "seedExampleSecretForTheCiUser0000001"
	seedAcctKey  = "AKIASEEDEXAMPLE00002"
	seedAcctSec  = "seedExampleSecretForAccount444455556666"
	seedAppKey   = "e32d1ab2-3499-4a1d-8983-76ea309281c1"
	seedMRK      = "mrk-fe169e3617b44b7fb063c8cdeac67b12"
	seedAESHex   = "6534c804c33a1f2e629f102dd08faae9d571b8ec0334dc7a09ebb91ff1c9dc57"
	seedAESHex2  = "27c53ec0ef0f9008fc7801633c00bcfdca638e56fb75d0d14bffa6c19ff741d3"
	seedTwoMats  = "94944bdb-8d1c-472c-af17-050910881f28"
	seedLKAes    = "bc436485-5092-42b8-92a3-0aa8b93536dc"
	seedLKRSA    = "5fd0a2b4-7c1e-4d8f-9a6b-3e2c1d0f9e8a"
	seedLKECC    = "800d5768-3fd7-4edd-a4b8-4c81c3e4c147"
	seedAnyKeyID = "0b1e4c5e-6f1d-4b8a-9c3e-2d7f8a9b0c1d"
)

func readSeed(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedConfig is a server configuration that keeps its store across
// restarts: the data dir, or on PostgreSQL one database.
func seedConfig(t testing.TB, seed []byte) server.Config {
	cfg := server.Config{DataDir: t.TempDir(), Seed: seed}
	if onPostgres {
		cfg.Store = pgtest.DSN(t)
	}
	return cfg
}

// storeSnapshot renders everything a seed can touch, as stored: rows with
// their revisions and dates, materials with their sealed bytes, aliases
// and IAM entries. Two equal snapshots mean nothing was written between.
func storeSnapshot(t testing.TB, st store.Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	accts, err := st.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		fmt.Fprintf(&b, "account %+v\n", a)
		for _, region := range []string{"us-east-1", "eu-west-1", "eu-west-2"} {
			ks, err := st.ListKeys(ctx, store.KeyFilter{Account: a.ID, Region: region})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				fmt.Fprintf(&b, "key %+v\n", k)
				ms, err := st.ListMaterials(ctx, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range ms {
					fmt.Fprintf(&b, "  material %+v\n", m)
				}
			}
			as, err := st.ListAliases(ctx, store.AliasFilter{Account: a.ID, Region: region})
			if err != nil {
				t.Fatal(err)
			}
			for _, al := range as {
				fmt.Fprintf(&b, "alias %+v\n", al)
			}
		}
		aks, err := st.ListAccessKeys(ctx, a.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "root keys %+v\n", aks)
		us, err := st.ListUsers(ctx, a.ID, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range us {
			aks, _ := st.ListAccessKeys(ctx, a.ID, u.Name)
			ps, _ := st.ListPolicies(ctx, a.ID, store.OwnerUser, u.Name)
			at, _ := st.ListAttachedPolicies(ctx, a.ID, store.OwnerUser, u.Name)
			fmt.Fprintf(&b, "user %+v keys %+v policies %+v attached %+v\n", u, aks, ps, at)
		}
		mps, err := st.ListManagedPolicies(ctx, a.ID, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range mps {
			vs, _ := st.ListPolicyVersions(ctx, a.ID, p.Name)
			fmt.Fprintf(&b, "managed policy %+v versions %+v\n", p, vs)
		}
		rs, err := st.ListRoles(ctx, a.ID, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			ps, _ := st.ListPolicies(ctx, a.ID, store.OwnerRole, r.Name)
			at, _ := st.ListAttachedPolicies(ctx, a.ID, store.OwnerRole, r.Name)
			fmt.Fprintf(&b, "role %+v policies %+v attached %+v\n", r, ps, at)
		}
	}
	return b.String()
}

// apiSnapshot is what a client sees of the seeded keys and aliases.
func apiSnapshot(t testing.TB, c *awskms.Client) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	keys := must[*awskms.ListKeysOutput](t)(c.ListKeys(ctx, &awskms.ListKeysInput{}))
	for _, k := range keys.Keys {
		d := must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyId}))
		fmt.Fprintf(&b, "%s %s %s %s %v %v\n", *d.KeyMetadata.KeyId, d.KeyMetadata.KeySpec, d.KeyMetadata.KeyState,
			aws.ToString(d.KeyMetadata.Description), d.KeyMetadata.CreationDate, aws.ToBool(d.KeyMetadata.MultiRegion))
		r, err := c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: k.KeyId})
		if err == nil {
			for _, e := range r.Rotations {
				fmt.Fprintf(&b, "  rotation %s %s %v\n", aws.ToString(e.KeyMaterialId), e.RotationType, e.RotationDate)
			}
		}
	}
	as := must[*awskms.ListAliasesOutput](t)(c.ListAliases(ctx, &awskms.ListAliasesInput{}))
	for _, a := range as.Aliases {
		fmt.Fprintf(&b, "alias %s -> %s\n", *a.AliasName, aws.ToString(a.TargetKeyId))
	}
	return b.String()
}

// TestSeedExample applies examples/seed.yaml twice: the second start
// changes nothing, and what the first made works.
func TestSeedExample(t *testing.T) {
	ctx := context.Background()
	cfg := seedConfig(t, readSeed(t, exampleSeed))
	ts := startServer(t, cfg)
	c := ts.client(testRegion)
	stored, seen := storeSnapshot(t, ts.Store()), apiSnapshot(t, c)
	if !strings.Contains(seen, seedAppKey) || !strings.Contains(seen, "alias/signer") {
		t.Fatalf("the seeded keys are missing:\n%s", seen)
	}

	// The seeded key encrypts, and its ciphertext survives a restart.
	ct := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("hello")}))
	// The IAM user's pinned access key works, under its inline policy.
	user := newClient(ts.URL, testRegion, seedUserKey, seedUserSec)
	if _, err := user.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct.CiphertextBlob}); err != nil {
		t.Fatalf("seeded user cannot decrypt: %v", err)
	}
	if _, err := user.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(seedAppKey)}); err == nil {
		t.Fatal("seeded user may do more than its policy allows")
	}
	// Its attached managed policy allows GetPublicKey.
	if _, err := user.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String("alias/signer")}); err != nil {
		t.Fatalf("seeded user's managed policy: %v", err)
	}
	// The second account's pinned root key sees its key in eu-west-1.
	other := newClient(ts.URL, "eu-west-1", seedAcctKey, seedAcctSec)
	lk := must[*awskms.ListKeysOutput](t)(other.ListKeys(ctx, &awskms.ListKeysInput{}))
	if len(lk.Keys) != 1 || *lk.Keys[0].KeyId != "1fc5a84f-abf8-4612-9441-ffdf94ec3b2e" {
		t.Fatalf("account 444455556666 in eu-west-1 has %+v", lk.Keys)
	}

	// The multi-Region key has a copy in both regions, with one material.
	eu := ts.client("eu-west-1")
	for _, cl := range []*awskms.Client{c, eu} {
		d := must[*awskms.DescribeKeyOutput](t)(cl.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/global")}))
		if *d.KeyMetadata.KeyId != seedMRK || !aws.ToBool(d.KeyMetadata.MultiRegion) ||
			d.KeyMetadata.MultiRegionConfiguration.PrimaryKey == nil || *d.KeyMetadata.MultiRegionConfiguration.PrimaryKey.Region != "us-east-1" {
			t.Fatalf("alias/global = %+v", d.KeyMetadata)
		}
	}
	mct := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(seedMRK), Plaintext: []byte("across")}))
	if pt := must[*awskms.DecryptOutput](t)(eu.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: mct.CiphertextBlob})); string(pt.Plaintext) != "across" {
		t.Fatalf("eu-west-1 copy decrypted %q", pt.Plaintext)
	}

	// The signing key signs with the given private key.
	checkSeededSignature(t, c, "alias/signer", examplePEM(t, exampleSeed, "930006c2-1268-43c8-b2d1-f6611f6e9da0"), types.SigningAlgorithmSpecEcdsaSha256)

	// The key with two materials lists one rotation, to the second.
	rot := must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(seedTwoMats)}))
	if len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != types.RotationTypeOnDemand {
		t.Fatalf("rotations = %+v", rot.Rotations)
	}

	// None of the requests above writes to the store: a restart with
	// the same seed must find it as the first start left it.
	ts.stop()
	ts = startServer(t, cfg)
	if got := storeSnapshot(t, ts.Store()); got != stored {
		t.Errorf("a second start changed the store:\nbefore:\n%s\nafter:\n%s", stored, got)
	}
	c = ts.client(testRegion)
	if got := apiSnapshot(t, c); got != seen {
		t.Errorf("a second start changed what clients see:\nbefore:\n%s\nafter:\n%s", seen, got)
	}
	if pt := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct.CiphertextBlob})); string(pt.Plaintext) != "hello" {
		t.Fatalf("decrypted %q after re-seeding", pt.Plaintext)
	}
}

// TestSeedSecondStartWritesNothing compares the store and the API right
// after a first start and after a second one.
func TestSeedSecondStartWritesNothing(t *testing.T) {
	for _, path := range []string{exampleSeed, localKMSSeed} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg := seedConfig(t, readSeed(t, path))
			ts := startServer(t, cfg)
			stored, seen := storeSnapshot(t, ts.Store()), apiSnapshot(t, ts.client(testRegion))
			ts.stop()
			ts = startServer(t, cfg)
			if got := storeSnapshot(t, ts.Store()); got != stored {
				t.Errorf("a second start changed the store:\nbefore:\n%s\nafter:\n%s", stored, got)
			}
			if got := apiSnapshot(t, ts.client(testRegion)); got != seen {
				t.Errorf("a second start changed what clients see:\nbefore:\n%s\nafter:\n%s", seen, got)
			}
		})
	}
}

// TestSeedLocalKMS applies local-kms's format: its keys land in the
// server's account and region, and work with the given material.
func TestSeedLocalKMS(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, seedConfig(t, readSeed(t, localKMSSeed)))
	c := ts.client(testRegion)
	d := must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/testing")}))
	if *d.KeyMetadata.KeyId != seedLKAes || *d.KeyMetadata.AWSAccountId != testAccount || aws.ToString(d.KeyMetadata.Description) != "ABC" {
		t.Fatalf("alias/testing = %+v", d.KeyMetadata)
	}
	rs := must[*awskms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(seedLKAes)}))
	if !rs.KeyRotationEnabled || rs.NextRotationDate == nil || rs.NextRotationDate.Year() != 2030 {
		t.Errorf("NextKeyRotation not applied: %+v", rs)
	}
	rot := must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(seedLKAes)}))
	if len(rot.Rotations) != 1 {
		t.Errorf("two BackingKeys gave %d rotations, want 1", len(rot.Rotations))
	}
	checkSeededSignature(t, c, seedLKRSA, examplePEM(t, localKMSSeed, seedLKRSA), types.SigningAlgorithmSpecRsassaPssSha256)
	checkSeededSignature(t, c, "alias/signer", examplePEM(t, localKMSSeed, seedLKECC), types.SigningAlgorithmSpecEcdsaSha256)
	mac := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String("49fb5f3e-3b31-4b6f-8e7b-5b8e1b3e9c11"),
		Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256}))
	// The MAC is HMAC-SHA-256 under the BackingKey given.
	raw, _ := hex.DecodeString(seedAESHex)
	h := hmac.New(sha256.New, raw)
	h.Write([]byte("m"))
	if !hmac.Equal(mac.Mac, h.Sum(nil)) {
		t.Errorf("the MAC is not HMAC-SHA-256 under the seeded BackingKey")
	}
}

// TestSeedEarlierMaterial: a ciphertext made under a key's material in one
// data dir decrypts in another seeded with that material as an earlier
// one, since the seeded material has the same id in both.
func TestSeedEarlierMaterial(t *testing.T) {
	ctx := context.Background()
	one := "keys:\n  - id: " + seedAppKey + "\n    material: hex:" + seedAESHex + "\n"
	two := "keys:\n  - id: " + seedAppKey + "\n    materials: [hex:" + seedAESHex + ", hex:" + seedAESHex2 + "]\n"
	ts := startServer(t, seedConfig(t, []byte(one)))
	ct := must[*awskms.EncryptOutput](t)(ts.client(testRegion).Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(seedAppKey), Plaintext: []byte("old")}))
	ts.stop()

	ts = startServer(t, seedConfig(t, []byte(two)))
	c := ts.client(testRegion)
	pt := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct.CiphertextBlob}))
	if string(pt.Plaintext) != "old" {
		t.Fatalf("decrypted %q", pt.Plaintext)
	}
	// New ciphertexts use the current (last) material, which the first
	// data dir does not have.
	ct2 := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(seedAppKey), Plaintext: []byte("new")}))
	rot := must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(seedAppKey)}))
	if len(rot.Rotations) != 1 {
		t.Fatalf("rotations = %+v", rot.Rotations)
	}
	if string(ct2.CiphertextBlob) == string(ct.CiphertextBlob) {
		t.Fatal("same ciphertext twice")
	}

	// A ciphertext made outside the server, with the earlier material as
	// given in the file and the blob format, decrypts: the seeded material
	// is those bytes.
	ms, err := ts.Store().ListMaterials(ctx, seedAppKey)
	if err != nil || len(ms) != 2 {
		t.Fatalf("materials %+v, %v", ms, err)
	}
	raw, _ := hex.DecodeString(seedAESHex)
	sk, err := keys.SymmetricKeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	mid, err := keys.ParseMaterialID(ms[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	outside, err := keys.Encrypt(sk, "arn:aws:kms:"+testRegion+":"+testAccount+":key/"+seedAppKey, mid, []byte("outside"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pt = must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: outside}))
	if string(pt.Plaintext) != "outside" {
		t.Fatalf("decrypted %q", pt.Plaintext)
	}
}

// TestSeedConflicts: a file with one conflicting entry stops the start,
// naming the entry, and nothing of it is applied, not even its new
// entries that conflict with nothing.
func TestSeedConflicts(t *testing.T) {
	example := string(readSeed(t, exampleSeed))
	// Every variant also adds a key and a user that would be new.
	extra := "\n  - id: 11111111-2222-4333-8444-555555555555\n    description: new\n"
	withExtra := func(s string) string {
		s = strings.Replace(s, "\nkeys:\n", "\nkeys:"+extra, 1)
		return strings.Replace(s, "\nusers:\n", "\nusers:\n  - name: newcomer\n", 1)
	}
	tests := []struct {
		name     string
		old, new string // the change to the example
		want     string
		also     []string // further replacements
	}{
		{"other material", "material: hex:" + seedAESHex + "\n    aliases: [alias/app]", "material: hex:" + seedAESHex2 + "\n    aliases: [alias/app]",
			"seed: keys[1] (" + seedAppKey + "): exists with other key material", nil},
		{"other spec", "spec: HMAC_512", "spec: HMAC_256\n    usage: GENERATE_VERIFY_MAC",
			"seed: keys[5] (" + seedAnyKeyID + "): ", nil},
		{"alias elsewhere", "aliases: [alias/app]", "aliases: [alias/signer]",
			"seed: keys[1] (" + seedAppKey + ") aliases[0]: alias alias/signer in us-east-1 points at another key",
			[]string{"aliases: [alias/signer]\n", "aliases: [alias/signer2]\n"}},
		{"other secret", "secret: seedExampleSecretForTheCiUser0000001", "secret: seedExampleSecretForTheCiUser0000002",
			"seed: users[1] (ci): access key id " + seedUserKey + " exists with another secret", nil},
		{"other trust policy", `"arn:aws:iam::111122223333:user/build/ci"`, `"arn:aws:iam::111122223333:root"`,
			"seed: roles[0] (app): exists with another trust policy", nil},
		{"other managed policy", `"Action": "kms:GetPublicKey"`, `"Action": "kms:Verify"`,
			"seed: managedPolicies[0] (read-public-keys): exists with another default version", nil},
		{"other account secret", "secretAccessKey: " + seedAcctSec, "secretAccessKey: seedExampleSecretForAccount000000000000",
			"seed: accounts[0] (444455556666): access key id " + seedAcctKey + " exists with another secret", nil},
	}
	cfg := seedConfig(t, []byte(example))
	ts := startServer(t, cfg)
	before := storeSnapshot(t, ts.Store())
	ts.stop()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(example, tt.old) {
				t.Fatalf("the example has no %q", tt.old)
			}
			bad := cfg
			changed := example
			if len(tt.also) > 0 {
				changed = strings.Replace(changed, tt.also[0], tt.also[1], 1)
			}
			bad.Seed = []byte(withExtra(strings.Replace(changed, tt.old, tt.new, 1)))
			bad.Listen = "127.0.0.1:0"
			bad.RootAccessKeyID, bad.RootSecretAccessKey = testAccessKeyID, testSecret
			srv, err := server.Open(bad)
			if err == nil {
				srv.Close()
				t.Fatal("a conflicting seed was applied")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), seedAESHex2) || strings.Contains(err.Error(), "Secret") {
				t.Fatalf("error %q shows a secret", err)
			}
			plain := cfg
			plain.Seed = nil
			if got := storeSnapshot(t, startServer(t, plain).Store()); got != before {
				t.Errorf("a refused seed changed the store:\nbefore:\n%s\nafter:\n%s", before, got)
			}
		})
	}
}

// TestSeedBadFileWritesNothing: a file that does not parse is refused
// before the data dir is made.
func TestSeedBadFileWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, err := server.Open(server.Config{DataDir: dir, Seed: []byte("keys:\n  - id: nope\n")})
	if err == nil || !strings.Contains(err.Error(), "seed: keys[0] (nope)") {
		t.Fatalf("Open = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the data dir was made: %v", err)
	}
}

// examplePEM finds the PEM private key of key id in a seed file of either
// format.
func examplePEM(t testing.TB, path, id string) []byte {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal(readSeed(t, path), &doc); err != nil {
		t.Fatal(err)
	}
	var found string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			md, _ := v["Metadata"].(map[string]any)
			if v["id"] == id || md != nil && md["KeyId"] == id {
				if s, ok := v["material"].(string); ok {
					found = s
				}
				if s, ok := v["PrivateKeyPem"].(string); ok {
					found = s
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if found == "" {
		t.Fatalf("no PEM for %s in %s", id, path)
	}
	return []byte(found)
}

// checkSeededSignature signs with a seeded key and verifies the signature
// outside, with the public half of the private key given in the file.
func checkSeededSignature(t testing.TB, c *awskms.Client, keyID string, pemKey []byte, alg types.SigningAlgorithmSpec) {
	t.Helper()
	blk, _ := pem.Decode(pemKey)
	priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("signed by seeded material")
	out := must[*awskms.SignOutput](t)(c.Sign(context.Background(), &awskms.SignInput{KeyId: aws.String(keyID), Message: msg,
		MessageType: types.MessageTypeRaw, SigningAlgorithm: alg}))
	h := sha256.Sum256(msg)
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], out.Signature) {
			t.Fatalf("%s: the ECDSA signature does not verify with the seeded key", keyID)
		}
	case *rsa.PrivateKey:
		if err := rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, h[:], out.Signature, nil); err != nil {
			t.Fatalf("%s: the RSA signature does not verify with the seeded key: %v", keyID, err)
		}
	default:
		t.Fatalf("unexpected key type %T", priv)
	}
}

// TestSeedCompletesInterruptedApply: what a start that stopped halfway
// left (a key without its earlier material, its replica and an alias) is
// completed by the next start, as a whole apply would have made it.
func TestSeedCompletesInterruptedApply(t *testing.T) {
	ctx := context.Background()
	doc := "keys:\n  - id: " + seedMRK + "\n    regions: [us-east-1, eu-west-1]\n    materials: [hex:" + seedAESHex + ", hex:" + seedAESHex2 + "]\n    aliases: [alias/k]\n"
	cfg := seedConfig(t, []byte(doc))
	ts := startServer(t, cfg)
	c := ts.client(testRegion)
	want := apiSnapshot(t, c) + apiSnapshot(t, ts.client("eu-west-1"))
	ct := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/k"), Plaintext: []byte("x")}))

	// Undo the writes that follow the key's first one.
	st := ts.Store()
	ms, err := st.ListMaterials(ctx, seedMRK+"@us-east-1")
	if err != nil || len(ms) != 2 {
		t.Fatalf("materials %+v, %v", ms, err)
	}
	for _, err := range []error{
		st.DeleteKey(ctx, seedMRK+"@eu-west-1"),
		st.DeleteMaterial(ctx, seedMRK+"@us-east-1", ms[0].ID),
		st.DeleteAlias(ctx, testAccount, testRegion, "alias/k"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ts.stop()

	ts = startServer(t, cfg)
	eu := ts.client("eu-west-1")
	got := apiSnapshot(t, ts.client(testRegion)) + apiSnapshot(t, eu)
	// The replica is new: only its creation date may differ.
	if strip(got) != strip(want) {
		t.Errorf("after completion:\n%s\nwant:\n%s", got, want)
	}
	if pt := must[*awskms.DecryptOutput](t)(eu.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct.CiphertextBlob})); string(pt.Plaintext) != "x" {
		t.Fatalf("decrypted %q", pt.Plaintext)
	}
}

// strip drops the creation dates from an apiSnapshot.
func strip(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[0], "mrk-") {
			lines[i] = strings.Join(f[:3], " ")
		}
	}
	return strings.Join(lines, "\n")
}

// TestSeedMaterialLikeImported: seeded material of an EXTERNAL key is
// stored as an import stores it (a later import of the same bytes matches
// it, of other bytes is refused), sealed, and never in plain in the data
// dir or the logs, not even when a conflicting seed is refused.
func TestSeedMaterialLikeImported(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuf
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, b := newMaterial(t), newMaterial(t)
	doc := func(m []byte) []byte {
		return []byte("keys:\n  - id: " + seedAppKey + "\n    origin: EXTERNAL\n    material: base64:" + base64.StdEncoding.EncodeToString(m) + "\n")
	}
	cfg := server.Config{DataDir: dir, Seed: doc(a), Logger: logger}
	ts := startServer(t, cfg)
	c := ts.client(testRegion)
	k, err := ts.Store().GetKey(ctx, seedAppKey)
	if err != nil {
		t.Fatal(err)
	}
	if out := importMaterial(t, c, seedAppKey, a, nil); aws.ToString(out.KeyMaterialId) != k.CurrentMaterialID {
		t.Errorf("re-import gave material %s, the seed %s", aws.ToString(out.KeyMaterialId), k.CurrentMaterialID)
	}
	alg := types.AlgorithmSpecRsaesOaepSha256
	p := getParams(t, c, seedAppKey, alg, types.WrappingKeySpecRsa2048)
	_, err = c.ImportKeyMaterial(ctx, importInput(t, seedAppKey, p, alg, b, nil))
	wantCode(t, err, "IncorrectKeyMaterialException")
	encryptWith(t, c, seedAppKey, "x")
	checkNotInPlain(t, ts, dir, &logs, a)
	if raw := storedMaterial(t, dir, seedAppKey); !bytes.Equal(raw, a) {
		t.Fatal("the stored material does not unseal to the seeded one")
	}

	cfg.Seed, cfg.RootAccessKeyID, cfg.RootSecretAccessKey = doc(b), testAccessKeyID, testSecret
	_, err = server.Open(cfg)
	if err == nil || !strings.Contains(err.Error(), "exists with other key material") {
		t.Fatalf("Open = %v", err)
	}
	for _, f := range []string{hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), string(b)} {
		if strings.Contains(err.Error(), f) || bytes.Contains(logs.bytes(), []byte(f)) {
			t.Fatal("the refusal shows the material")
		}
	}
}
