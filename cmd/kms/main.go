// Command kms is an AWS KMS-compatible key management server.
//
//	kms server [flags]           run the server (see kms server -h)
//	kms account create [flags]   add an account with its own root credentials
//	kms audit verify|export|tail check, export or follow the audit log
//	kms backup --out FILE        back up a data dir beside its running server
//	kms restore --from FILE      restore a backup into a new data dir
//	kms migrate --from DIR --to postgres://...
//	                             copy a data dir into a new cluster's database
//	kms seal rotate [flags]      move a stopped data dir to a new seal
//	kms bench [flags]            load-test a KMS endpoint (see BENCHMARKS.md)
//	kms version                  print the version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/server"
)

const version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "account":
		return runAccount(args[1:], stdout, stderr)
	case "audit":
		return runAudit(args[1:], stdout, stderr)
	case "usage":
		return runUsage(args[1:], stdout, stderr)
	case "backup":
		return runBackup(args[1:], stdout, stderr)
	case "restore":
		return runRestore(args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(args[1:], stdout, stderr)
	case "seal":
		return runSeal(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "kms", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "kms: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  kms server [flags]           run the KMS server (kms server -h lists the flags)
  kms account create [flags]   add an account with its own root credentials
                               (kms account create -h lists the flags)
  kms audit verify|export|tail check, export or follow the audit log
                               (kms audit help)
  kms usage --since DATE [flags]
                               requests, key-months, rotations and their AWS
                               cost, from the audit trail (kms usage -h)
  kms backup --out FILE        back up a data dir, beside its running server
                               (kms backup -h)
  kms restore --from FILE --data-dir NEW
                               restore a backup into a new data dir
  kms migrate --from DIR --to postgres://...
                               copy a stopped data dir into a new cluster's database
  kms seal rotate [flags]      move a stopped data dir to a new seal
                               (kms seal rotate -h)
  kms bench [flags]            load-test a KMS endpoint (kms bench -h)
  kms version                  print the version
`)
}

// given reports whether a flag was set on the command line or through its
// environment variable.
func given(fs *flag.FlagSet, name, envName string) bool {
	_, set := os.LookupEnv(envName)
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// Garbage collector settings of the server unless GOGC or GOMEMLIMIT say
// otherwise. Its live heap is small (the key cache is bounded) while every
// request makes tens of kilobytes of garbage, so collecting at 5× the live
// heap instead of 2× cost about 6-12% less CPU per 4 KiB Encrypt;
// the soft limit makes it collect sooner should the heap ever near it.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 192 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}

func runServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var regions, level, retention, auditSync, syncInterval string
	fs.StringVar(&cfg.DataDir, "data-dir", env(envDataDir, "./kms-data"), "data directory (store, seal, credentials)")
	fs.StringVar(&cfg.Store, "store", env(envStore, ""), "PostgreSQL URL of a cluster's database (postgres://...; default: the embedded store in the data dir)")
	fs.StringVar(&cfg.Listen, "listen", env(envListen, server.DefaultListen), "address to listen on")
	fs.StringVar(&cfg.AccountID, "account-id", env(envAccountID, "111122223333"), "account created on first start")
	fs.StringVar(&regions, "regions", env(envRegions, ""), "comma-separated regions to serve (default: any)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", env(envTLSCert, ""), "TLS certificate file (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", env(envTLSKey, ""), "TLS private key file (PEM)")
	fs.BoolVar(&cfg.InsecureHTTP, "insecure-http", env(envInsecureHTTP, "") == "true", "allow plain HTTP on a non-loopback address")
	fs.StringVar(&cfg.SealKeyFile, "seal-key-file", env(envSealKeyFile, ""), "root key file (default DATA_DIR/root.key)")
	sf := addSealFlags(fs, "")
	fs.StringVar(&level, "log-level", env(envLogLevel, "info"), "log level: debug, info, warn or error (debug logs a line per request)")
	var logFormat string
	fs.StringVar(&logFormat, "log-format", env(envLogFormat, "text"), "log format: text or json (one JSON object a line)")
	fs.StringVar(&retention, "audit-retention", env(envAuditRetention, ""), "delete audit records older than this (e.g. 2160h or 90d; default: keep forever)")
	fs.StringVar(&auditSync, "audit-sync", env(envAuditSync, string(audit.SyncChanges)),
		"which answers wait for their audit record's fdatasync: changes (requests that change state; the others' records are synced within --audit-sync-interval) or always")
	fs.StringVar(&syncInterval, "audit-sync-interval", env(envAuditSyncEvery, audit.DefaultSyncInterval.String()),
		"with --audit-sync changes: the longest a written audit record waits for its sync (what a power loss can lose)")
	var seedFile string
	fs.StringVar(&seedFile, "seed", env(envSeed, ""), "YAML file of accounts, keys, aliases and IAM users applied at every start, all or nothing (this server's format or local-kms's; see examples/seed.yaml)")
	var quotas string
	fs.StringVar(&quotas, "quotas", env(envQuotas, "off"), "request-rate quotas per account and region: off, aws (AWS's defaults), or a YAML/JSON file adjusting them (see README)")
	ephemeral, err := strconv.ParseBool(env(envEphemeral, "false"))
	if err != nil {
		fmt.Fprintf(stderr, "kms server: bad %s %q: want 1 or 0\n", envEphemeral, os.Getenv(envEphemeral))
		return 2
	}
	fs.BoolVar(&cfg.Ephemeral, "ephemeral", ephemeral, "keep everything in a new temporary data dir (under $TMPDIR, named "+server.EphemeralPrefix+"*), removed at exit")
	var pprofAddr string
	fs.StringVar(&pprofAddr, "pprof-listen", env(envPprofListen, ""), "serve Go's profiler on this loopback address (e.g. 127.0.0.1:6060; default: off; see also --admin-pprof)")
	fs.StringVar(&cfg.AdminListen, "admin-listen", env(envAdminListen, ""),
		"serve /metrics (Prometheus), /healthz and /readyz on this address (e.g. 127.0.0.1:7901; default: off); off loopback it needs TLS or --admin-insecure-http")
	fs.BoolVar(&cfg.AdminInsecureHTTP, "admin-insecure-http", env(envAdminInsecure, "") == "true", "allow plain HTTP on a non-loopback --admin-listen")
	fs.BoolVar(&cfg.AdminPprof, "admin-pprof", env(envAdminPprof, "") == "true", "serve Go's profiler at /debug/pprof/ on --admin-listen (loopback only)")
	fs.BoolVar(&cfg.NoConsole, "no-console", env(envNoConsole, "") == "true", "do not serve the web console at /console/")
	// LocalStack drop-in: pinned root credentials and its custom key tags.
	// The credentials' defaults stay empty so that -h never prints a
	// secret from the environment; the variables are read below.
	fs.StringVar(&cfg.RootAccessKeyID, "root-access-key-id", "",
		"pin the first account's root access key id on first start (any an SDK signs with, e.g. test; env "+envRootAccessKeyID+")")
	fs.StringVar(&cfg.RootSecretAccessKey, "root-secret-access-key", "",
		"its secret (shows in ps: prefer env "+envRootSecretKey+")")
	fs.BoolVar(&cfg.AllowCustomKeyIDs, "allow-custom-key-ids", env(envAllowCustomIDs, "") == "true",
		"honour LocalStack's _custom_id_ and _custom_key_material_ CreateKey tags (default: refuse them)")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if cfg.Ephemeral && !given(fs, "data-dir", envDataDir) {
		cfg.DataDir = "" // the default; Check refuses one given
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		fmt.Fprintf(stderr, "kms server: bad --log-level %q\n", level)
		return 2
	}
	if logFormat != "text" && logFormat != "json" {
		fmt.Fprintf(stderr, "kms server: bad --log-format %q: want text or json\n", logFormat)
		return 2
	}
	if err := cfg.CheckAdmin(); err != nil {
		fmt.Fprintf(stderr, "kms server: %v\n", err)
		return 2
	}
	tuneGC()
	if retention != "" {
		d, err := parseAge(retention)
		if err != nil {
			fmt.Fprintf(stderr, "kms server: bad --audit-retention %q: %v\n", retention, err)
			return 2
		}
		cfg.AuditRetention = d
	}
	mode, err := audit.ParseSyncMode(auditSync)
	if err != nil {
		fmt.Fprintf(stderr, "kms server: bad --audit-sync %q: want %s or %s\n", auditSync, audit.SyncChanges, audit.SyncAlways)
		return 2
	}
	cfg.AuditSync = mode
	if cfg.AuditSyncInterval, err = time.ParseDuration(syncInterval); err != nil ||
		cfg.AuditSyncInterval <= 0 || cfg.AuditSyncInterval > audit.MaxSyncInterval {
		fmt.Fprintf(stderr, "kms server: bad --audit-sync-interval %q: want a duration above 0 and at most %v (e.g. 10ms)\n", syncInterval, audit.MaxSyncInterval)
		return 2
	}
	if pprofAddr != "" {
		if err := checkPprofAddr(pprofAddr); err != nil {
			fmt.Fprintf(stderr, "kms server: bad --pprof-listen %q: %v\n", pprofAddr, err)
			return 2
		}
	}
	if seedFile != "" {
		b, err := os.ReadFile(seedFile)
		if err != nil {
			fmt.Fprintf(stderr, "kms server: --seed: %v\n", err)
			return 2
		}
		cfg.Seed = b
	}
	switch quotas {
	case "", "off":
	case "aws":
		cfg.Quotas = &server.QuotaConfig{}
	default:
		b, err := os.ReadFile(quotas)
		if err == nil {
			cfg.Quotas, err = server.ParseQuotaConfig(b)
		}
		if err != nil {
			fmt.Fprintf(stderr, "kms server: --quotas: %v\n", err)
			return 2
		}
	}
	var lh slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})
	if logFormat == "json" {
		lh = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl})
	}
	log := slog.New(lh)
	for _, r := range strings.Split(regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Regions = append(cfg.Regions, r)
		}
	}
	if err := sf.apply(&cfg, envSealPassphrase, envPKCS11PIN); err != nil {
		fmt.Fprintf(stderr, "kms server: %v\n", err)
		return 2
	}
	if cfg.RootAccessKeyID == "" {
		cfg.RootAccessKeyID = os.Getenv(envRootAccessKeyID)
	}
	if cfg.RootSecretAccessKey == "" {
		cfg.RootSecretAccessKey = os.Getenv(envRootSecretKey)
	}
	cfg.Logger = log

	// Caught from before Open, so that a signal during a start still runs
	// Close (which removes an ephemeral server's data dir).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := server.Open(cfg)
	clear(cfg.Seed) // applied (or refused): no copy of its material stays in memory
	if err != nil {
		fmt.Fprintf(stderr, "kms server: %v\n", err)
		return 1
	}
	defer srv.Close()
	if ctx.Err() != nil {
		log.Info("stopped before serving")
		return 0
	}
	ln, err := srv.Listen()
	if err != nil {
		fmt.Fprintf(stderr, "kms server: %v\n", err)
		return 1
	}
	aln, err := srv.ListenAdmin()
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "kms server: %v\n", err)
		return 1
	}
	if aln != nil {
		// Before the listening line, which tells scripts and tests the
		// server is ready.
		fmt.Fprintf(stdout, "admin on %s (/metrics, /healthz, /readyz)\n", adminURL(aln, cfg.TLSCert != ""))
	}
	if pprofAddr != "" {
		pln, psrv, err := listenPprof(pprofAddr)
		if err != nil {
			fmt.Fprintf(stderr, "kms server: --pprof-listen: %v\n", err)
			return 1
		}
		defer psrv.Close()
		// Before the listening line, which tells scripts and tests the
		// server is ready.
		fmt.Fprintf(stdout, "profiler on %s\n", pprofURL(pln))
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	// Scripts read the URL as the word after "listening on"; an ephemeral
	// server's credentials file is named rather than printed, as secrets on
	// stdout end up in CI logs.
	where := "data dir " + srv.DataDir()
	if cfg.Ephemeral {
		where = "ephemeral data dir " + srv.DataDir() + ", credentials " + srv.CredentialsFile()
	}
	fmt.Fprintf(stdout, "kms %s listening on %s://%s (%s)\n", version, scheme, ln.Addr(), where)
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "kms server: %v\n", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// adminURL is the base URL of the admin listener.
func adminURL(ln net.Listener, tls bool) string {
	if tls {
		return "https://" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}
