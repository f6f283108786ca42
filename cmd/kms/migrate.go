package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openkms/kms/internal/loadgen"
	"github.com/openkms/kms/internal/server"
)

// runMigrate is `kms migrate`: a data dir copied into the empty database
// of a new cluster.
func runMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	fs.StringVar(&cfg.DataDir, "from", "", "data directory to copy (its server must be stopped)")
	fs.StringVar(&cfg.Store, "to", env(envStore, ""), "PostgreSQL URL of the new cluster's database, which must be empty (postgres://...)")
	fs.StringVar(&cfg.SealKeyFile, "seal-key-file", env(envSealKeyFile, ""), "root key file of the data dir (default DATA_DIR/root.key)")
	sf := addSealFlags(fs, "")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: kms migrate --from DATA_DIR --to postgres://... [--seal-key-file KEY]

Copies a data dir into the empty PostgreSQL database of a new cluster:
accounts, credentials, IAM users, roles and policies, keys with every
version of their material, aliases, grants, the seal's state, and the audit
trail (verified first, then chained and signed anew in the database). Every
ciphertext keeps decrypting on the cluster's nodes, which open the database
with the data dir's root key file or passphrase (%s).

The data dir's server must be stopped: the copy holds the data dir's lock.
A database that is not empty is refused. If a migration fails halfway, drop
and recreate the database, then run it again.

`, envSealPassphrase)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if cfg.DataDir == "" {
		fmt.Fprintln(stderr, "kms migrate: --from is required (the data dir to copy)")
		return 2
	}
	if err := server.CheckMigrateTarget(cfg.Store); err != nil {
		fmt.Fprintf(stderr, "kms migrate: --to: %v\n", err)
		return 2
	}
	if err := sf.apply(&cfg, envSealPassphrase, envPKCS11PIN); err != nil {
		fmt.Fprintf(stderr, "kms migrate: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	target := server.RedactedURL(cfg.Store)
	fmt.Fprintf(stdout, "migrating %s into %s\n", cfg.DataDir, target)
	start := time.Now()
	sum, err := server.Migrate(ctx, cfg, migrateProgress(stdout))
	if err != nil {
		fmt.Fprintf(stderr, "kms migrate: %v\n", err)
		return 1
	}
	if n := sum.Audit.Lost(); n > 0 {
		fmt.Fprintf(stderr, "kms migrate: warning: %d audit %s of the data dir had been lost with the end of a segment "+
			"(kms audit verify --data-dir %s lists them) and could not be copied\n", n, plural(n, "record", "records"), cfg.DataDir)
	}
	var parts []string
	for _, kind := range []string{"accounts", "access_keys", "users", "roles", "policies", "managed_policies", "policy_attachments",
		"keys", "materials", "aliases", "grants"} {
		parts = append(parts, fmt.Sprintf("%d %s", sum.Rows[kind], strings.ReplaceAll(kind, "_", " ")))
	}
	fmt.Fprintf(stdout, "migrated in %s: %s; %d audit records in %d chains\n",
		time.Since(start).Round(time.Millisecond), strings.Join(parts, ", "), sum.Audit.Records, len(sum.Audit.Chains))
	seal := "the root key file " + cfg.SealKeyFile
	switch {
	case cfg.PKCS11 != nil:
		seal = "--seal pkcs11 (the PIN in " + envPKCS11PIN + ")"
	case cfg.Passphrase != "":
		seal = "the passphrase in " + envSealPassphrase
	case cfg.SealKeyFile == "":
		seal = "the root key file " + filepath.Join(cfg.DataDir, "root.key")
	}
	fmt.Fprintf(stdout, "start the cluster's nodes with --store (%s) on %s and %s;\n"+
		"do not start a server on %s again: its changes would not reach the cluster\n", envStore, target, seal, cfg.DataDir)
	return 0
}

// migrateProgress prints a line per kind copied and, on a terminal, redraws
// the count of the kind being copied.
func migrateProgress(w io.Writer) server.MigrateProgress {
	live := loadgen.IsTerminal(w)
	var last time.Time
	return func(kind string, n int, final bool) {
		label := strings.ReplaceAll(kind, "_", " ") + ":"
		if final {
			if live {
				fmt.Fprint(w, "\r")
			}
			fmt.Fprintf(w, "  %-15s %d\n", label, n)
			return
		}
		if live && time.Since(last) >= 200*time.Millisecond {
			last = time.Now()
			fmt.Fprintf(w, "\r  %-15s %d", label, n)
		}
	}
}
