package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/server"
)

// sealFlags are the flags that choose a seal besides --seal-key-file (which
// each command declares with its own help text).
type sealFlags struct {
	kind, module, token, slot, keyLabel string
}

// addSealFlags declares --seal and the --pkcs11-* flags on fs, with the
// given prefix ("" or "new-" for the seal a rotation moves to).
func addSealFlags(fs *flag.FlagSet, prefix string) *sealFlags {
	f := new(sealFlags)
	envOf := func(name string) string {
		if prefix != "" {
			return ""
		}
		return os.Getenv(name)
	}
	fs.StringVar(&f.kind, prefix+"seal", envOf(envSeal), "seal of the root key: file, passphrase (KMS_SEAL_PASSPHRASE) or pkcs11 (default: passphrase if KMS_SEAL_PASSPHRASE is set, else file)")
	fs.StringVar(&f.module, prefix+"pkcs11-module", orDefault(envOf(envPKCS11Module), seal.DefaultPKCS11Module), "PKCS#11 module (shared library) of the HSM, for --"+prefix+"seal pkcs11")
	fs.StringVar(&f.token, prefix+"pkcs11-token-label", envOf(envPKCS11Token), "label of the PKCS#11 token (or give --"+prefix+"pkcs11-slot)")
	fs.StringVar(&f.slot, prefix+"pkcs11-slot", envOf(envPKCS11Slot), "PKCS#11 slot id, when no token label is given")
	fs.StringVar(&f.keyLabel, prefix+"pkcs11-key-label", orDefault(envOf(envPKCS11KeyLabel), "openkms-root"), "label of the AES key in the token that wraps the root key (created on first start if missing)")
	return f
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// apply sets the seal of cfg from the flags and the secrets' environment
// variables (passphraseEnv, pinEnv: read from the environment only, so that
// they stay out of ps).
func (f *sealFlags) apply(cfg *server.Config, passphraseEnv, pinEnv string) error {
	passphrase := os.Getenv(passphraseEnv)
	switch f.kind {
	case "":
		cfg.Passphrase = passphrase
	case "file":
		if passphrase != "" {
			return fmt.Errorf("--seal file, but %s is set", passphraseEnv)
		}
	case "passphrase":
		if passphrase == "" {
			return fmt.Errorf("--seal passphrase needs the passphrase in %s", passphraseEnv)
		}
		cfg.Passphrase = passphrase
	case "pkcs11":
		if passphrase != "" || cfg.SealKeyFile != "" {
			return fmt.Errorf("--seal pkcs11 cannot be combined with %s or a root key file", passphraseEnv)
		}
		p := &seal.PKCS11Config{Module: f.module, TokenLabel: f.token, Slot: -1, KeyLabel: f.keyLabel, PIN: os.Getenv(pinEnv)}
		if f.slot != "" {
			n, err := strconv.Atoi(f.slot)
			if err != nil || n < 0 {
				return fmt.Errorf("bad PKCS#11 slot %q", f.slot)
			}
			p.Slot = n
		}
		if p.TokenLabel == "" && p.Slot < 0 {
			return errors.New("--seal pkcs11 needs --pkcs11-token-label or --pkcs11-slot")
		}
		if p.PIN == "" {
			return fmt.Errorf("--seal pkcs11 needs the token's PIN in %s", pinEnv)
		}
		cfg.PKCS11 = p
	default:
		return fmt.Errorf("unknown seal %q: want file, passphrase or pkcs11", f.kind)
	}
	return nil
}

// runSeal is `kms seal rotate`: move a data dir to a new seal, itself or
// through the server running on it.
func runSeal(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprint(stderr, "Usage: kms seal rotate [flags] (kms seal rotate -h lists them)\n")
		return 2
	}
	fs := flag.NewFlagSet("kms seal rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg, next server.Config
	fs.StringVar(&cfg.DataDir, "data-dir", env(envDataDir, "./kms-data"), "data directory (of a running server, or a stopped one)")
	fs.StringVar(&cfg.SealKeyFile, "seal-key-file", env(envSealKeyFile, ""), "current root key file (default DATA_DIR/root.key)")
	fs.StringVar(&cfg.Store, "store", env(envStore, ""), "PostgreSQL URL of a cluster's database: rotate its seal instead (every node stopped)")
	cur := addSealFlags(fs, "")
	fs.StringVar(&next.SealKeyFile, "new-seal-key-file", "", "new root key file, for --new-seal file (written with a fresh key if missing; not the current one)")
	nf := addSealFlags(fs, "new-")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: kms seal rotate --new-seal file|passphrase|pkcs11 [flags]

Moves a data dir to a new seal with a new root key: every key material and
access key secret is re-sealed in one transaction, then seal.json names the
new seal, and only the new seal opens the data dir. Ciphertexts, key ids and
material ids do not change. Beside a running server, the server does it
(through DATA_DIR/control.sock) while it serves; then the current seal
needs no flags. On a stopped data dir, the current seal is given as to kms
server (--seal, --seal-key-file, --pkcs11-*, %s, %s). The new seal is given
with the --new-* flags, its secrets in %s and %s.

With --store, it moves a cluster's database to the new seal instead, in
one transaction; it refuses while any node runs on the database, and a
node started meanwhile refuses to start. Afterwards every node starts with
the new seal (a new root key file must be copied to each node).

`, envSealPassphrase, envPKCS11PIN, envNewSealPassphrase, envNewPKCS11PIN)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args[1:], stderr) {
		return 2
	}
	if nf.kind == "" {
		fmt.Fprintln(stderr, "kms seal rotate: --new-seal is required (file, passphrase or pkcs11)")
		return 2
	}
	if err := cur.apply(&cfg, envSealPassphrase, envPKCS11PIN); err != nil {
		fmt.Fprintf(stderr, "kms seal rotate: %v\n", err)
		return 2
	}
	if err := nf.apply(&next, envNewSealPassphrase, envNewPKCS11PIN); err != nil {
		fmt.Fprintf(stderr, "kms seal rotate: --new-* flags: %v\n", err)
		return 2
	}
	n, err := server.RotateSeal(cfg, next)
	var inUse *server.InUseError
	if errors.As(err, &inUse) {
		// A server holds the data dir: it rotates its own seal.
		n, err = server.RotateSealOnline(cfg.DataDir, next)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kms seal rotate: %v\n", err)
		return 1
	}
	what := "the data dir"
	if cfg.Store != "" {
		what = "the database"
	}
	fmt.Fprintf(stdout, "re-sealed %d secrets; %s now opens with the new seal only\n", n, what)
	return 0
}
