package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/openkms/kms/internal/loadgen"
)

const benchUsage = `Usage:
  kms bench --endpoint URL (--create-keys [--keys N] | --key-id IDS | --key-file F) [flags]
  kms bench floor [--listen ADDR] [--key-spec SPEC]

Drives a KMS-compatible endpoint (this server, AWS, any other) with
SigV4-signed requests and measures it. Credentials and region come from the
usual AWS sources (AWS_ACCESS_KEY_ID..., AWS_PROFILE, the shared files).
Each of --concurrency clients keeps one request in flight (a closed loop);
with --rate R, requests are due at a constant R a second instead (an open
loop), at most --concurrency in flight, and a request's wait for a free
client counts in its latency. Nothing is retried, and every failed request is
counted by its AWS error code (or "transport", "timeout"). It ends with a
table, or one JSON object with --json (fields in BENCHMARKS.md). Exit
status: 0 once the run is done, whatever the errors; 1 if setup fails or
the run is interrupted; 2 for bad arguments.

Ops (--op):
  encrypt            Encrypt of --size bytes
  decrypt            Decrypt of a ciphertext of --size bytes made once per key
  encrypt-decrypt    Encrypt, then Decrypt of its result (two requests)
  generate-data-key  GenerateDataKey, AES_256 (no --size)
  sign, verify       Sign / Verify of a --size-byte RAW message with keys of
                     --key-spec: ECC_NIST_P256 (default), ECC_NIST_P384,
                     ECC_NIST_P521, ECC_SECG_P256K1 (ECDSA_SHA_256/384/512),
                     ED25519 (ED25519_SHA_512), RSA_2048, RSA_3072, RSA_4096
                     (RSASSA_PSS_SHA_256)
  generate-mac       GenerateMac of a --size-byte message with keys of
                     --key-spec: HMAC_256 (default), HMAC_224, HMAC_384,
                     HMAC_512 (HMAC_SHA_256 and so on)
  mixed              envelope encryption on symmetric keys: 50% Decrypt,
                     30% GenerateDataKey, 20% Encrypt

Open loop (--rate R): request i is due at start + i/R, through the warmup
and the window; a free worker takes the next one due, waiting for its time
if early. The latency of one that had to wait for a worker counts from
its time. One that starts more than 2ms after its time counts as late;
one not started by the end of the schedule + 1s is not sent, and counted
as unsent (the driver fell behind). For encrypt-decrypt, R and --requests
count Encrypt+Decrypt pairs.

Server CPU per request (--server-pid) is the ratio's main input: pin the
server and the driver to different cores and compare with the floor server
(a bare net/http handler that echoes the payload, with no JSON decoding,
crypto or auth), which --calibrate starts on the server's cores:

  taskset -c 0 kms server --data-dir /tmp/kb & SERVER=$!
  export AWS_SHARED_CREDENTIALS_FILE=/tmp/kb/credentials
  taskset -c 1 kms bench --endpoint http://127.0.0.1:7900 --server-pid $SERVER \
      --calibrate --create-keys --op encrypt --concurrency 16 --duration 20s

` + "`kms bench floor`" + ` serves the floor alone until stopped, to run it by hand.
BENCHMARKS.md has the method in full.

Flags:
`

func runBench(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "floor" {
		return runBenchFloor(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("kms bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	var (
		cfg                       loadgen.Config
		endpoint, region, profile string
		op, keyIDs, keySpec       string
		rate                      float64
		keyFile, saveKeys         string
		serverPID, rounds         int
		calibrate, asJSON         bool
	)
	fs.StringVar(&endpoint, "endpoint", "", "endpoint URL, e.g. http://127.0.0.1:7900 (required)")
	fs.StringVar(&region, "region", "", "region to sign for (default: from the AWS config, else us-east-1)")
	fs.StringVar(&profile, "profile", "", "shared config profile (default: AWS_PROFILE, else default)")
	fs.StringVar(&op, "op", string(loadgen.OpEncrypt), "load: encrypt, decrypt, encrypt-decrypt, generate-data-key, sign, verify, generate-mac or mixed")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "clients, each with one request in flight; with --rate, the most requests in flight")
	fs.Float64Var(&rate, "rate", 0, "open loop: send this many requests a second on a fixed schedule (default: closed loop)")
	fs.StringVar(&keySpec, "key-spec", "", "key spec of sign and verify (default ECC_NIST_P256) or generate-mac (default HMAC_256) keys")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window (or give --requests)")
	fs.Int64Var(&cfg.Requests, "requests", 0, "measure this many requests instead of a duration")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "load sent first and not measured")
	fs.IntVar(&cfg.Size, "size", 0, "plaintext or message bytes, 1 to 4096 (default 4096)")
	fs.IntVar(&cfg.Keys, "keys", 1, "spread the load over this many keys, picked at random per request")
	fs.BoolVar(&cfg.CreateKeys, "create-keys", false, "create the keys first (their deletion is scheduled, 7 days, at the end)")
	fs.StringVar(&keyIDs, "key-id", "", "comma-separated existing key ids, ARNs or aliases to use")
	fs.StringVar(&keyFile, "key-file", "", "file of existing key ids, ARNs or aliases to use, one per line")
	fs.StringVar(&saveKeys, "save-keys", "", "with --create-keys: write the created key ids to this file and keep the keys")
	fs.IntVar(&serverPID, "server-pid", 0, "the server's process id, to report its CPU time per request")
	fs.BoolVar(&calibrate, "calibrate", false, "also run the same load against a floor server, started on the CPUs of --server-pid")
	fs.IntVar(&rounds, "rounds", 1, "repeat the run (with --calibrate: floor, then server) this many times and report the median round")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kms bench: %s\n", fmt.Sprintf(format, a...))
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if endpoint == "" {
		return usageErr("--endpoint is required")
	}
	if u, err := url.Parse(endpoint); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return usageErr("--endpoint must be an http:// or https:// URL, not %q", endpoint)
	}
	if set["duration"] && set["requests"] {
		return usageErr("give --duration or --requests, not both")
	}
	if set["requests"] {
		cfg.Duration = 0
		if cfg.Requests < 1 {
			return usageErr("--requests must be at least 1")
		}
	}
	if set["rate"] {
		if !(rate > 0) {
			return usageErr("--rate must be more than 0 requests a second, not %v", rate)
		}
		cfg.Rate = rate
	}
	cfg.KeySpec = keySpec
	if set["key-spec"] && keySpec == "" {
		return usageErr("--key-spec must name a key spec")
	}
	if !set["keys"] && !cfg.CreateKeys {
		cfg.Keys = 0 // the number of --key-id ids
	}
	if keyFile != "" && keyIDs != "" {
		return usageErr("give --key-id or --key-file, not both")
	}
	for id := range strings.SplitSeq(keyIDs, ",") {
		if id = strings.TrimSpace(id); id != "" {
			cfg.KeyIDs = append(cfg.KeyIDs, id)
		}
	}
	if keyFile != "" {
		ids, err := readKeyFile(keyFile)
		if err != nil {
			return usageErr("--key-file: %v", err)
		}
		if len(ids) == 0 {
			return usageErr("--key-file %s names no keys", keyFile)
		}
		cfg.KeyIDs = ids
	}
	cfg.KeepKeys = saveKeys != ""
	cfg.Op = loadgen.Op(op)
	if err := cfg.Validate(); err != nil {
		return usageErr("%v", err)
	}
	if rounds < 1 || rounds > maxRounds {
		return usageErr("--rounds must be 1 to %d, not %d", maxRounds, rounds)
	}
	if set["server-pid"] {
		if err := loadgen.CheckPID(serverPID); err != nil {
			return usageErr("--server-pid %d: %v", serverPID, err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second Ctrl-C kills at once
	clearLine := ""
	if loadgen.IsTerminal(stderr) {
		cfg.Progress = progressLine(stderr)
		clearLine = "\r\033[K"
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "%skms bench: %s\n", clearLine, fmt.Sprintf(format, a...))
		return 1
	}

	awsCfg, err := loadAWSConfig(ctx, region, profile, cfg.Concurrency)
	if err != nil {
		return fail("%v", err)
	}
	// Once here, so that missing credentials fail the setup, not every request.
	if awsCfg.Credentials == nil {
		return fail("no AWS credentials found")
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return fail("no AWS credentials: %v", err)
	}
	client := loadgen.NewClient(awsCfg, endpoint)
	b, err := loadgen.New(ctx, cfg, client)
	if err != nil {
		return fail("setting up: %v", err)
	}
	defer func() {
		if err := b.Close(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(stderr, "kms bench: %v\n", err)
		}
	}()
	if saveKeys != "" {
		if err := os.WriteFile(saveKeys, []byte(strings.Join(b.Keys(), "\n")+"\n"), 0o644); err != nil {
			return fail("saving the keys: %v (they were created and kept)", err)
		}
	}

	var runs []*loadgen.Result
	for range rounds {
		var floor *loadgen.Result
		if calibrate {
			floorURL, pid, stopFloor, err := startFloor(serverPID, cfg.KeySpecName())
			if err != nil {
				return fail("starting the floor server: %v", err)
			}
			floor, err = b.Run(ctx, loadgen.Target{Name: "floor", Endpoint: floorURL, Client: loadgen.NewClient(awsCfg, floorURL), ServerPID: pid})
			stopFloor()
			if err != nil || floor.Interrupted {
				return fail("interrupted during the floor run")
			}
		}
		res, err := b.Run(ctx, loadgen.Target{Name: "server", Endpoint: endpoint, Client: client, ServerPID: serverPID})
		if err != nil {
			return fail("interrupted before the measured window")
		}
		if floor != nil {
			res.SetFloor(floor)
		}
		runs = append(runs, res)
		if res.Interrupted {
			break
		}
	}
	res := runs[len(runs)-1]
	if !res.Interrupted {
		res = loadgen.Median(runs)
	}
	fmt.Fprint(stderr, clearLine)
	if asJSON {
		err = res.WriteJSON(stdout)
	} else {
		err = res.WriteTable(stdout)
	}
	if err != nil {
		return fail("%v", err)
	}
	if res.Interrupted {
		return 1
	}
	return 0
}

// maxRounds bounds --rounds.
const maxRounds = 100

// readKeyFile reads key ids, one per line; blank lines and lines starting
// with # are skipped.
func readKeyFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ids []string
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			ids = append(ids, line)
		}
	}
	return ids, nil
}

// loadAWSConfig reads credentials and region from the usual sources, with
// an HTTP client that keeps a connection per client alive.
func loadAWSConfig(ctx context.Context, region, profile string, concurrency int) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("loading the AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	// Keep the SDK's client (it honours AWS_CA_BUNDLE) and widen its pool:
	// with fewer idle connections than clients, requests would open new ones.
	hc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		hc = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = hc.WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 0
		t.MaxIdleConnsPerHost = concurrency
		t.MaxConnsPerHost = 0
	}).WithTimeout(30 * time.Second)
	return cfg, nil
}

// progressLine returns a Progress callback that redraws one line.
func progressLine(w io.Writer) func(loadgen.Progress) {
	var last loadgen.Progress
	return func(p loadgen.Progress) {
		phase := p.Target
		if p.Warmup {
			phase += " warmup"
		}
		if p.Target != last.Target || p.Warmup != last.Warmup || p.Elapsed < last.Elapsed {
			last = loadgen.Progress{}
		}
		rate := float64(p.Requests-last.Requests) / max(p.Elapsed-last.Elapsed, time.Millisecond).Seconds()
		fmt.Fprintf(w, "\r\033[K%-14s %4.0fs  %9d requests  %8.0f/s  %d errors", phase, p.Elapsed.Seconds(), p.Requests, rate, p.Errors)
		last = p
	}
}

// startFloor runs `kms bench floor` as a child process, on the CPUs of
// process likePID if it is set, answering for keys of keySpec if it is
// set, and returns its URL and pid.
func startFloor(likePID int, keySpec string) (floorURL string, pid int, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	args := []string{"bench", "floor", "--listen", "127.0.0.1:0"}
	if keySpec != "" {
		args = append(args, "--key-spec", keySpec)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if likePID > 0 {
		err = loadgen.StartOnCPUsOf(cmd, likePID)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return "", 0, nil, err
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	_, u, ok := strings.Cut(strings.TrimSpace(line), " listening on ")
	if err != nil || !ok {
		stop()
		return "", 0, nil, fmt.Errorf("no address from %s: %q", exe, line)
	}
	return u, cmd.Process.Pid, stop, nil
}

// runBenchFloor serves the floor server until SIGTERM or Ctrl-C.
func runBenchFloor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms bench floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:7901", "address to listen on")
	keySpec := fs.String("key-spec", "", "the key spec of the load, which sizes Sign's RSA signatures (default RSA_2048's)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kms bench floor: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if _, ok := loadgen.CanonicalKeySpec(*keySpec); *keySpec != "" && !ok {
		fmt.Fprintf(stderr, "kms bench floor: unknown --key-spec %q (one of %s)\n", *keySpec,
			strings.Join(append(loadgen.KeySpecs(loadgen.OpSign), loadgen.KeySpecs(loadgen.OpGenerateMac)...), ", "))
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "kms bench floor: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "kms bench floor listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: loadgen.FloorHandler(*keySpec), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "kms bench floor: %v\n", err)
		return 1
	}
	return 0
}
