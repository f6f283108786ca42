package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"
)

// TestKill9UnderMixedLoad: the server is killed while clients send a mix of
// state changes, uses, reads and failing requests. After a restart, every
// acknowledged change is there, every ciphertext handed out decrypts, and
// every request that got an answer, success or error, has its audit
// record. The use records wait for a sync a minute away, so at the kill
// they were written but not synced: a crash of the process loses none.
func TestKill9UnderMixedLoad(t *testing.T) {
	dir := t.TempDir()
	p := startKMS(t, dir, append([]string{"KMS_AUDIT_SYNC_INTERVAL=1m"}, pinned...)...)
	c := p.client()
	ctx := context.Background()
	var keys []string
	for i := range 3 {
		k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(fmt.Sprint("base ", i))})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, *k.KeyMetadata.KeyId)
	}

	type sealed struct {
		key         string
		blob, plain []byte
	}
	var (
		mu       sync.Mutex
		answered = map[string]string{} // request id -> operation
		created  []string
		tagged   = map[string]string{} // key id -> tag value acknowledged last
		tagging  = map[string]string{} // key id -> tag value sent last (the kill may cut off its answer)
		blobs    []sealed
		stop     atomic.Bool
		count    atomic.Int64
	)
	// note keeps the request id of every answer, error or not; requests
	// that got no answer (the kill cut them off) are not counted.
	note := func(op string, md middleware.Metadata, err error) bool {
		var id string
		var re *awshttp.ResponseError
		switch {
		case err == nil:
			id, _ = awsmiddleware.GetRequestIDMetadata(md)
		case errors.As(err, &re) && re.ServiceRequestID() != "":
			id = re.ServiceRequestID()
		default:
			return false // no answer: the kill cut it off
		}
		if id == "" {
			t.Errorf("%s answered without a request id", op)
			return false
		}
		mu.Lock()
		answered[id] = op
		mu.Unlock()
		count.Add(1)
		return err == nil
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				key := keys[(w+i)%len(keys)]
				switch (w + i) % 7 {
				case 0, 1:
					plain := []byte(fmt.Sprintf("secret %d/%d", w, i))
					out, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: plain})
					var md middleware.Metadata
					if out != nil {
						md = out.ResultMetadata
					}
					if note("Encrypt", md, err) {
						mu.Lock()
						blobs = append(blobs, sealed{key, out.CiphertextBlob, plain})
						mu.Unlock()
					}
				case 2:
					out, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(key), KeySpec: types.DataKeySpecAes256})
					var md middleware.Metadata
					if out != nil {
						md = out.ResultMetadata
					}
					if note("GenerateDataKey", md, err) {
						mu.Lock()
						blobs = append(blobs, sealed{key, out.CiphertextBlob, out.Plaintext})
						mu.Unlock()
					}
				case 3:
					out, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(key)})
					var md middleware.Metadata
					if out != nil {
						md = out.ResultMetadata
					}
					note("DescribeKey", md, err)
				case 4:
					// Fails: NotFoundException, audited all the same.
					out, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/missing"), Plaintext: []byte("x")})
					var md middleware.Metadata
					if out != nil {
						md = out.ResultMetadata
					}
					note("Encrypt (failing)", md, err)
				case 5:
					out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(fmt.Sprintf("load %d/%d", w, i))})
					var md middleware.Metadata
					if out != nil {
						md = out.ResultMetadata
					}
					if note("CreateKey", md, err) {
						mu.Lock()
						created = append(created, *out.KeyMetadata.KeyId)
						mu.Unlock()
					}
				case 6:
					// Workers 0-2 each tag a key of their own, so the last
					// value acknowledged is the one that must hold.
					if w >= len(keys) {
						out, err := c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(key)})
						var md middleware.Metadata
						if out != nil {
							md = out.ResultMetadata
						}
						note("ListResourceTags", md, err)
						continue
					}
					value := fmt.Sprintf("%d/%d", w, i)
					mu.Lock()
					tagging[keys[w]] = value
					mu.Unlock()
					out, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(keys[w]),
						Tags: []types.Tag{{TagKey: aws.String("writer"), TagValue: aws.String(value)}}})
					var md middleware.Metadata
					if out != nil {
						md = out.ResultMetadata
					}
					if note("TagResource", md, err) {
						mu.Lock()
						tagged[keys[w]] = value
						mu.Unlock()
					}
				}
			}
		})
	}
	for count.Load() < 400 {
		select {
		case <-p.done:
			t.Fatalf("server exited under load:\n%s", p.stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
	stop.Store(true)
	wg.Wait()
	t.Logf("%d requests answered before kill -9: %d created keys, %d ciphertexts", len(answered), len(created), len(blobs))

	p = startKMS(t, dir)
	c = p.client()
	for _, id := range created {
		if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)}); err != nil {
			t.Errorf("key %s created before kill -9: %v", id, err)
		}
	}
	for key, value := range tagged {
		out, err := c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(key)})
		if err != nil || len(out.Tags) != 1 {
			t.Fatalf("tags of %s after kill -9: %v", key, err)
		}
		if got := *out.Tags[0].TagValue; got != value && got != tagging[key] {
			t.Errorf("tag of %s after kill -9: %s, want %s (or %s, sent before the kill)", key, got, value, tagging[key])
		}
	}
	for i, b := range blobs {
		d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b.blob})
		if err != nil {
			t.Fatalf("ciphertext %d (key %s) after kill -9: %v", i, b.key, err)
		}
		if !bytes.Equal(d.Plaintext, b.plain) {
			t.Fatalf("ciphertext %d decrypted to %q", i, d.Plaintext)
		}
	}
	logged := stopAndExport(t, p, dir)
	missing := 0
	for id, op := range answered {
		if !logged[id] {
			missing++
			if missing <= 10 {
				t.Errorf("%s (request %s) answered before kill -9 has no audit record", op, id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered requests have no audit record", missing, len(answered))
	}
	if stdout, stderr, code := kmsCmd(t, nil, "audit", "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("audit verify after kill -9: exit %d\n%s%s", code, stdout, stderr)
	}
}
