package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// The benchmarks run the real server binary and call it through
// aws-sdk-go-v2 over HTTP with SigV4, from parallel goroutines. Besides
// ns/op (wall time per request at that concurrency) they report the server
// process's own CPU time per request, read from /proc.
//
//	go test ./cmd/kms -run '^$' -bench . -benchtime 5s

func BenchmarkEncrypt(b *testing.B) {
	p := startKMS(b, b.TempDir(), pinned...)
	c := p.client()
	k, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	in := &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: make([]byte, 32),
		EncryptionContext: map[string]string{"tenant": "bench"}}
	benchServer(b, p, func() error {
		_, err := c.Encrypt(context.Background(), in)
		return err
	})
}

func BenchmarkDecrypt(b *testing.B) {
	p := startKMS(b, b.TempDir(), pinned...)
	c := p.client()
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: make([]byte, 32),
		EncryptionContext: map[string]string{"tenant": "bench"}})
	if err != nil {
		b.Fatal(err)
	}
	in := &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "bench"}, KeyId: aws.String(*k.KeyMetadata.Arn)}
	benchServer(b, p, func() error {
		_, err := c.Decrypt(ctx, in)
		return err
	})
}

func benchServer(b *testing.B, p *proc, call func() error) {
	b.SetParallelism(4)
	cpu0 := procCPUMicros(b, p.cmd.Process.Pid)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu := procCPUMicros(b, p.cmd.Process.Pid) - cpu0
	b.ReportMetric(float64(cpu)/float64(b.N), "server-cpu-µs/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// procCPUMicros returns the user+system CPU time of a process, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func procCPUMicros(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// The command name may hold spaces; fields start after its ')'.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return (utime + stime) * 10000
}
