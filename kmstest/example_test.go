package kmstest_test

import (
	"context"
	"fmt"
	"log"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/kmstest"
)

// A test starts its own server; it is stopped and its data removed when the
// test ends.
func ExampleNewServer() {
	var t *testing.T // in a test: the test's own
	srv := kmstest.NewServer(t)
	client := awskms.NewFromConfig(srv.Config)
	key, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("made", *key.KeyMetadata.Arn)
}

// Start runs a server outside a test, for instance one that a package's
// tests share, started in TestMain.
func ExampleStart() {
	srv, err := kmstest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	ctx := context.Background()
	client := awskms.NewFromConfig(srv.Config)
	key, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		log.Fatal(err)
	}
	enc, err := client.Encrypt(ctx, &awskms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("hello")})
	if err != nil {
		log.Fatal(err)
	}
	dec, err := client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", dec.Plaintext)
	// Output: hello
}
