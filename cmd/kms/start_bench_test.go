package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// BenchmarkStart: from exec of `kms server --listen 127.0.0.1:0` to its
// first ListKeys answered, ephemeral and on a data dir that holds keys
// made through the API before (the cost of opening a store of that size;
// ListKeys answers its first page, 100 keys). The median start is
// reported as start-ms.
func BenchmarkStart(b *testing.B) {
	for _, tc := range []struct {
		name string
		keys int // -1: ephemeral
	}{{"ephemeral", -1}, {"keys=0", 0}, {"keys=100", 100}, {"keys=10000", 10000}} {
		b.Run(tc.name, func(b *testing.B) {
			args := []string{"--ephemeral"}
			if tc.keys >= 0 {
				dir := b.TempDir()
				p := startKMS(b, dir, pinned...)
				createKeys(b, p.client(), tc.keys)
				p.cmd.Process.Signal(syscall.SIGTERM)
				if err := p.wait(); err != nil {
					b.Fatal(err)
				}
				args = []string{"--data-dir", dir}
			}
			var starts []time.Duration
			for b.Loop() {
				starts = append(starts, startOnce(b, args))
			}
			slices.Sort(starts)
			b.ReportMetric(float64(starts[len(starts)/2].Microseconds())/1000, "start-ms")
		})
	}
}

// createKeys makes n keys with 16 clients at once.
func createKeys(b *testing.B, c *awskms.Client, n int) {
	errs := make(chan error, 16)
	for w := range 16 {
		go func() {
			var err error
			for i := w; i < n && err == nil; i += 16 {
				_, err = c.CreateKey(context.Background(), &awskms.CreateKeyInput{})
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// startOnce starts the server, times it to a ListKeys answered, and stops
// it.
func startOnce(b *testing.B, args []string) time.Duration {
	t0 := time.Now()
	cmd := exec.Command(kmsBinary, append(append([]string{"server", "--listen", "127.0.0.1:0"}, args...), "--log-level", "warn")...)
	cmd.Env = append(cmd.Environ(), pinned...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	var url string
	for url == "" && sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " listening on "); ok {
			url = strings.Fields(rest)[0]
		}
	}
	if url == "" {
		b.Fatal("no listening line")
	}
	p := &proc{URL: url}
	if _, err := p.client().ListKeys(context.Background(), &awskms.ListKeysInput{}); err != nil {
		b.Fatal(fmt.Errorf("ListKeys: %w", err))
	}
	return time.Since(t0)
}

// BenchmarkStartSeeded: from exec of `kms server --seed FILE` to its first
// ListKeys answered, for seeds of n symmetric keys with given material:
// "first" on a new (ephemeral) data dir, which creates every key;
// "again" on a data dir where the seed was applied before, which finds
// every key there and writes nothing. The median is start-ms.
func BenchmarkStartSeeded(b *testing.B) {
	for _, n := range []int{100, 10000} {
		file := filepath.Join(b.TempDir(), "seed.yaml")
		if err := os.WriteFile(file, seedOf(n), 0o600); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("keys=%d/first", n), func(b *testing.B) {
			benchStarts(b, []string{"--ephemeral", "--seed", file})
		})
		b.Run(fmt.Sprintf("keys=%d/again", n), func(b *testing.B) {
			dir := b.TempDir()
			startOnce(b, []string{"--data-dir", dir, "--seed", file})
			benchStarts(b, []string{"--data-dir", dir, "--seed", file})
		})
	}
}

func benchStarts(b *testing.B, args []string) {
	var starts []time.Duration
	for b.Loop() {
		starts = append(starts, startOnce(b, args))
	}
	slices.Sort(starts)
	b.ReportMetric(float64(starts[len(starts)/2].Microseconds())/1000, "start-ms")
}

// seedOf returns a seed file of n symmetric keys, each with its own
// material and an alias.
func seedOf(n int) []byte {
	var sb strings.Builder
	sb.WriteString("keys:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  - id: %08x-0000-4000-8000-%012x\n    material: hex:%064x\n    aliases: [alias/seeded-%d]\n", i, i, i+1, i)
	}
	return []byte(sb.String())
}
