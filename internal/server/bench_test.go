package server_test

import (
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/server"
)

// BenchmarkEncryptInProcess serves and calls in one process, which makes
// CPU profiles of the whole request path easy:
//
//	go test ./internal/server -run '^$' -bench InProcess -cpuprofile cpu.out
func BenchmarkEncryptInProcess(b *testing.B) {
	ts := startServer(b, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](b)(c.CreateKey(ctx, &awskms.CreateKeyInput{}))
	in := &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: make([]byte, 32)}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Encrypt(ctx, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
