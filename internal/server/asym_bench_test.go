package server_test

import (
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/server"
)

// Sign, Verify and GenerateMac served and called in one process, like
// BenchmarkEncryptInProcess; each reports requests per second:
//
//	go test ./internal/server -run '^$' -bench 'Sign|Verify|GenerateMac' -benchtime 2s

var benchSigners = []struct {
	spec types.KeySpec
	alg  types.SigningAlgorithmSpec
}{
	{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256},
	{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256},
	{types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519Sha512},
	{types.KeySpecMlDsa65, types.SigningAlgorithmSpecMlDsaShake256},
}

// benchMessage is a RAW message of a typical size: a small document, or a
// manifest of digests.
var benchMessage = make([]byte, 256)

// runParallel runs call b.N times over the parallel goroutines and
// reports the rate.
func runParallel(b *testing.B, call func() error) {
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkSign(b *testing.B) {
	ts := startServer(b, server.Config{})
	c := ts.client(testRegion)
	for _, s := range benchSigners {
		k := createKey(b, c, s.spec, types.KeyUsageTypeSignVerify)
		in := &awskms.SignInput{KeyId: k.KeyId, Message: benchMessage, SigningAlgorithm: s.alg}
		b.Run(string(s.spec), func(b *testing.B) {
			runParallel(b, func() error {
				_, err := c.Sign(ctx, in)
				return err
			})
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	ts := startServer(b, server.Config{})
	c := ts.client(testRegion)
	for _, s := range benchSigners {
		k := createKey(b, c, s.spec, types.KeyUsageTypeSignVerify)
		sig := must[*awskms.SignOutput](b)(c.Sign(ctx, &awskms.SignInput{KeyId: k.KeyId, Message: benchMessage, SigningAlgorithm: s.alg})).Signature
		in := &awskms.VerifyInput{KeyId: k.KeyId, Message: benchMessage, SigningAlgorithm: s.alg, Signature: sig}
		b.Run(string(s.spec), func(b *testing.B) {
			runParallel(b, func() error {
				_, err := c.Verify(ctx, in)
				return err
			})
		})
	}
}

func BenchmarkGenerateMac(b *testing.B) {
	ts := startServer(b, server.Config{})
	c := ts.client(testRegion)
	k := createKey(b, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	in := &awskms.GenerateMacInput{KeyId: k.KeyId, Message: benchMessage, MacAlgorithm: types.MacAlgorithmSpecHmacSha256}
	runParallel(b, func() error {
		_, err := c.GenerateMac(ctx, in)
		return err
	})
}
