package kmstest_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openkms/kms/kmstest"
)

// TestEncryptDecrypt: a test's server encrypts and decrypts through
// aws-sdk-go-v2, and is gone with its data dir once the test's cleanup
// has run.
func TestEncryptDecrypt(t *testing.T) {
	var dir string
	t.Run("use", func(t *testing.T) {
		srv := kmstest.NewServer(t)
		dir = srv.DataDir
		ctx := context.Background()
		c := awskms.NewFromConfig(srv.Config)
		key, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("kmstest")})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("hello")})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dec.Plaintext, []byte("hello")) || *dec.KeyId != *key.KeyMetadata.Arn {
			t.Fatalf("decrypted %q with %s", dec.Plaintext, *dec.KeyId)
		}
		if _, err := os.Stat(srv.DataDir + "/credentials"); err != nil {
			t.Fatalf("no credentials file while serving: %v", err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s after cleanup: %v", dir, err)
	}
}

// TestServerFields: the fields name the endpoint, account and
// credentials the server serves, for every client of the endpoint.
func TestServerFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []kmstest.Option
		region string
	}{
		{"default", nil, kmstest.DefaultRegion},
		{"WithRegion", []kmstest.Option{kmstest.WithRegion("eu-west-1")}, "eu-west-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := kmstest.NewServer(t, tc.opts...)
			ctx := context.Background()
			if srv.Region != tc.region || srv.Config.Region != tc.region {
				t.Fatalf("region %s, config's %s; want %s", srv.Region, srv.Config.Region, tc.region)
			}
			id, err := sts.NewFromConfig(srv.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if want := "arn:aws:iam::" + srv.AccountID + ":root"; *id.Arn != want {
				t.Fatalf("caller %s, want %s", *id.Arn, want)
			}
			creds, err := srv.Config.Credentials.Retrieve(ctx)
			if err != nil || creds.AccessKeyID != srv.AccessKeyID || creds.SecretAccessKey != srv.SecretAccessKey {
				t.Fatalf("config's credentials %v, %v", creds.AccessKeyID, err)
			}
			key, err := srv.Client().CreateKey(ctx, &awskms.CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			if want := "arn:aws:kms:" + tc.region + ":" + srv.AccountID + ":key/"; !bytes.HasPrefix([]byte(*key.KeyMetadata.Arn), []byte(want)) {
				t.Fatalf("key %s, want %s...", *key.KeyMetadata.Arn, want)
			}
		})
	}
}

// TestSideBySide: two servers in one test have their own ports, data
// dirs, credentials and keys.
func TestSideBySide(t *testing.T) {
	a, b := kmstest.NewServer(t), kmstest.NewServer(t)
	if a.URL == b.URL || a.DataDir == b.DataDir || a.AccessKeyID == b.AccessKeyID {
		t.Fatalf("shared: %s %s, %s %s", a.URL, b.URL, a.DataDir, b.DataDir)
	}
	ctx := context.Background()
	if _, err := a.Client().CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		srv  *kmstest.Server
		keys int
	}{{a, 1}, {b, 0}} {
		out, err := tc.srv.Client().ListKeys(ctx, &awskms.ListKeysInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Keys) != tc.keys {
			t.Errorf("%s lists %d keys, want %d", tc.srv.URL, len(out.Keys), tc.keys)
		}
	}
	// One server's credentials are not the other's.
	cfg := b.Config.Copy()
	cfg.Credentials = a.Config.Credentials
	if _, err := awskms.NewFromConfig(cfg).ListKeys(ctx, &awskms.ListKeysInput{}); err == nil {
		t.Fatal("b accepted a's credentials")
	}
	// Closing one leaves the other serving.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Client().ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestNoGoroutineLeak: after a server's cleanup the process runs the
// goroutines it ran before it.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("use", func(t *testing.T) {
		srv := kmstest.NewServer(t)
		if _, err := srv.Client().ListKeys(context.Background(), &awskms.ListKeysInput{}); err != nil {
			t.Fatal(err)
		}
	})
	// Goroutines end a little after what ended them (a connection's
	// reader sees its EOF); wait for them rather than for a time.
	after := runtime.NumGoroutine()
	for i := 0; i < 1000 && after > before; i++ {
		time.Sleep(10 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestCloseTwice: Close may be called before the cleanup, which then does
// nothing more.
func TestCloseTwice(t *testing.T) {
	srv := kmstest.NewServer(t)
	for range 2 {
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(srv.DataDir); !os.IsNotExist(err) {
		t.Fatalf("data dir after Close: %v", err)
	}
}

// TestSeed: a seeded key has its fixed id, alias and material, so a
// ciphertext made by one test's server decrypts in another's.
func TestSeed(t *testing.T) {
	seed := []byte(`keys:
  - id: 0b1f9f53-6f1c-4d5e-9a0b-5e2f3c4d5e6f
    description: fixture key
    material: hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
    aliases: [alias/fixture]
`)
	ctx := context.Background()
	var blob []byte
	for i := range 2 {
		srv := kmstest.NewServer(t, kmstest.WithSeed(seed))
		c := awskms.NewFromConfig(srv.Config)
		d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/fixture")})
		if err != nil {
			t.Fatal(err)
		}
		if *d.KeyMetadata.KeyId != "0b1f9f53-6f1c-4d5e-9a0b-5e2f3c4d5e6f" || *d.KeyMetadata.Description != "fixture key" {
			t.Fatalf("seeded key %+v", d.KeyMetadata)
		}
		if i == 0 {
			enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/fixture"), Plaintext: []byte("fixture")})
			if err != nil {
				t.Fatal(err)
			}
			blob = enc.CiphertextBlob
			continue
		}
		dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
		if err != nil || string(dec.Plaintext) != "fixture" {
			t.Fatalf("the first server's ciphertext in the second: %q, %v", dec.Plaintext, err)
		}
	}
	if _, err := kmstest.Start(kmstest.WithSeed([]byte("keys:\n  - id: nope\n"))); err == nil {
		t.Fatal("a bad seed started a server")
	}
}
