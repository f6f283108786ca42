package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openkms/kms/internal/loadgen"
	"github.com/openkms/kms/internal/server"
)

// runBackup is `kms backup`: a consistent copy of a data dir, taken beside
// a running server.
func runBackup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dataDir, out string
	fs.StringVar(&dataDir, "data-dir", env(envDataDir, "./kms-data"), "data directory to back up (its server may be running)")
	fs.StringVar(&out, "out", "", "file to write the backup to (a tar archive; - for standard output)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: kms backup --out FILE [--data-dir DIR]

Writes a consistent backup of a data dir (store, audit trail, seal.json)
while its server runs and serves. The root key, the passphrase and the
credentials file are never in it: keep them apart. Restore it with
kms restore.

`)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if out == "" {
		fmt.Fprintln(stderr, "kms backup: --out is required (a file, or - for standard output)")
		return 2
	}
	if _, err := os.Stat(filepath.Join(dataDir, "seal.json")); err != nil {
		fmt.Fprintf(stderr, "kms backup: %s is not a data dir: %v\n", dataDir, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	start := time.Now()
	progress := copyProgress(stderr, "backup")
	var sum server.BackupSummary
	var err error
	if out == "-" {
		sum, err = server.Backup(ctx, dataDir, os.TempDir(), stdout, progress)
	} else {
		sum, err = server.BackupToFile(ctx, dataDir, out, progress)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kms backup: %v\n", err)
		return 1
	}
	name := out
	if out == "-" {
		name = "standard output"
	}
	fmt.Fprintf(stderr, "kms backup: wrote %s: %d files, %s, in %s\n", name, sum.Files, mib(sum.Bytes), time.Since(start).Round(time.Millisecond))
	return 0
}

// runRestore is `kms restore`: a backup into a new data dir.
func runRestore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var from string
	fs.StringVar(&from, "from", "", "backup file written by kms backup (- for standard input)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "new data directory to restore into (must not exist, or be empty but for root.key)")
	fs.StringVar(&cfg.SealKeyFile, "seal-key-file", env(envSealKeyFile, ""), "root key file of the backed-up data dir (default DATA_DIR/root.key)")
	sf := addSealFlags(fs, "")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: kms restore --from FILE --data-dir NEW [--seal-key-file KEY]

Restores a backup into a new data dir. The backup's seal must open with the
root key file given (or DATA_DIR/root.key, copied there first) or with the
passphrase in KMS_SEAL_PASSPHRASE; otherwise nothing is restored.

`)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if from == "" || cfg.DataDir == "" {
		fmt.Fprintln(stderr, "kms restore: --from and --data-dir are required")
		return 2
	}
	if err := sf.apply(&cfg, envSealPassphrase, envPKCS11PIN); err != nil {
		fmt.Fprintf(stderr, "kms restore: %v\n", err)
		return 2
	}
	var r io.Reader = os.Stdin
	if from != "-" {
		f, err := os.Open(from)
		if err != nil {
			fmt.Fprintf(stderr, "kms restore: %v\n", err)
			return 1
		}
		defer f.Close()
		r = f
	}
	sum, err := server.Restore(cfg, r)
	if err != nil {
		fmt.Fprintf(stderr, "kms restore: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %d files (%s) into %s; start it with: kms server --data-dir %s\n", sum.Files, mib(sum.Bytes), cfg.DataDir, cfg.DataDir)
	return 0
}

// copyProgress returns a progress callback that redraws one line on w when
// w is a terminal, at most five times a second, or nil otherwise.
func copyProgress(w io.Writer, what string) func(done, total int64) {
	if !loadgen.IsTerminal(w) {
		return nil
	}
	var last time.Time
	return func(done, total int64) {
		if done < total && time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(done) / float64(total)
		}
		fmt.Fprintf(w, "\r%s: %s of %s (%.0f%%)", what, mib(done), mib(total), pct)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
