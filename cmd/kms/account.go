package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/openkms/kms/internal/server"
)

// runAccount is `kms account create`: another tenant, with its own root
// credentials, in a local data dir. It writes to the store, so it takes
// the data dir's lock: it refuses while a server runs there.
func runAccount(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, "Usage: kms account create [--data-dir DIR] [--account-id ID]\n")
		return 2
	}
	fs := flag.NewFlagSet("kms account create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var id string
	fs.StringVar(&cfg.DataDir, "data-dir", env(envDataDir, "./kms-data"), "data directory of the server")
	fs.StringVar(&id, "account-id", "", "12-digit id of the new account (default: random)")
	fs.StringVar(&cfg.SealKeyFile, "seal-key-file", env(envSealKeyFile, ""), "root key file (default DATA_DIR/root.key)")
	sf := addSealFlags(fs, "")
	fs.StringVar(&cfg.Store, "store", env(envStore, ""), "PostgreSQL URL of a cluster's database: add the account there (its nodes may run)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: kms account create [flags]

Creates an account with its own root credentials in the data dir of a
stopped server and prints the credentials to stdout as a
shared-credentials profile named after the account. It refuses while a
server holds the data dir. With --store it adds the account to a cluster's
database instead, while its nodes run.

`)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args[1:], stderr) {
		return 2
	}
	if err := sf.apply(&cfg, envSealPassphrase, envPKCS11PIN); err != nil {
		fmt.Fprintf(stderr, "kms account create: %v\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	creds, err := server.CreateAccount(cfg, id)
	if err != nil {
		fmt.Fprintf(stderr, "kms account create: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, server.CredentialsProfile(creds.AccountID, creds.AccessKeyID, creds.SecretAccessKey))
	return 0
}
