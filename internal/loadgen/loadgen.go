// Package loadgen drives a KMS-compatible endpoint with SigV4-signed
// requests through aws-sdk-go-v2 and measures it: requests, errors by AWS
// error code, throughput, latency percentiles, and the CPU time the server
// and the driver spend per request. It is the engine of `kms bench`.
//
// # Runs
//
// [New] prepares a run against one endpoint: it creates or resolves the keys
// and makes the inputs that need the server (ciphertexts to decrypt,
// signatures to verify). [Bench.Run] then sends that load to a [Target] for a
// warmup and a measured window, and returns a [Result]. The same prepared
// inputs can be sent to several targets, so a run against the floor server
// ([FloorHandler]) sends requests of the same size as the run against the
// real endpoint.
//
// # Closed and open loop
//
// By default the loop is closed: Config.Concurrency workers each keep one
// request in flight, so the load adapts to the server, and behind a
// saturated driver the latencies measure the driver's queue. With
// Config.Rate the loop is open: iterations are due on a schedule fixed in
// advance (iteration i at start + i/Rate, through the warmup and the
// window), and Config.Concurrency workers take them in turn. An iteration
// that had to wait for a free worker has its latency measured from when it
// was due, not from when a worker got to it, so a stalled server shows in
// the latencies of every request that waited behind it (no coordinated
// omission, as in wrk2); one a worker was waiting for, from when the
// worker's timer released it (the runtime's timers are up to 1 ms late,
// a jitter that owes nothing to the server). Iterations that start more
// than [LateAfter] after their time are counted as late. The run is
// bounded: an iteration not started by the end of the schedule plus
// [Grace] is not sent, and counted as unsent.
//
// # Errors
//
// Every failed request is counted, by its AWS error code (smithy's
// APIError.ErrorCode), or as "transport" (no HTTP response), "timeout" or
// "deserialization". Nothing is retried: build the clients with
// [NewClient], which never retries, or retried requests would hide errors
// and skew latency.
//
// # CPU per request
//
// The CPU time of a process is read from its process CPU-time clock
// (clock_gettime), which counts every thread in nanoseconds; where that
// fails, from /proc/PID/stat (10 ms ticks). /proc/PID/schedstat is not used:
// it covers the main thread only.
package loadgen

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Op is a kind of load.
type Op string

// The loads. OpMixed is the blend of an envelope-encryption service on
// symmetric keys: 50% Decrypt, 30% GenerateDataKey, 20% Encrypt.
const (
	OpEncrypt         Op = "encrypt"
	OpDecrypt         Op = "decrypt"
	OpEncryptDecrypt  Op = "encrypt-decrypt" // Encrypt, then Decrypt of its result: two requests
	OpGenerateDataKey Op = "generate-data-key"
	OpSign            Op = "sign"
	OpVerify          Op = "verify"
	OpGenerateMac     Op = "generate-mac"
	OpMixed           Op = "mixed"
)

// Ops lists every Op, in the order help texts show them.
var Ops = []Op{OpEncrypt, OpDecrypt, OpEncryptDecrypt, OpGenerateDataKey, OpSign, OpVerify, OpGenerateMac, OpMixed}

// Limits on a Config.
const (
	DefaultSize    = 4096 // bytes of plaintext or message
	MaxSize        = 4096 // the API's limit on Encrypt plaintext and RAW Sign/GenerateMac messages
	MaxConcurrency = 10000
	MaxKeys        = 1000000 // the key-per-tenant case: a million keys
	dataKeySize    = 32      // GenerateDataKey asks for AES_256
)

// Limits of the open loop.
const (
	MaxRate = 1e6 // iterations a second
	// LateAfter is how long after its time an iteration may start and not
	// count as late: twice the jitter of the Go runtime's timers in an
	// idle process (up to 1 ms), so that the jitter alone is not counted,
	// and well below the stalls a late start is meant to flag.
	LateAfter = 2 * time.Millisecond
	// Grace is how long after the end of the schedule iterations that
	// are behind are still sent; the rest are not. It bounds the run when
	// the server or the driver cannot keep up with the rate.
	Grace = time.Second
)

// Config describes a run. The zero value is not valid: set Op, Concurrency,
// Duration or Requests, and the keys.
type Config struct {
	Op Op
	// Concurrency is the number of workers: in the closed loop each keeps
	// one request in flight; in the open loop (Rate) it caps the requests
	// in flight.
	Concurrency int
	Duration    time.Duration // measured window; or
	Requests    int64         // number of measured requests (Duration must be 0)
	Warmup      time.Duration // load sent before the window and not counted

	// Rate, if not 0, makes the loop open: Rate iterations a second on a
	// fixed schedule (see the package doc). An iteration is one request,
	// but for encrypt-decrypt, where it is an Encrypt and the Decrypt of
	// its result; Requests then counts iterations too.
	Rate float64

	// KeySpec is the spec of the keys of sign and verify (default
	// ECC_NIST_P256) and generate-mac (default HMAC_256): CreateKeys makes
	// keys of it and the requests use its algorithm ([KeySpecs] lists
	// them). Empty for the other loads.
	KeySpec string

	// Size is the plaintext or message size in bytes; 0 means DefaultSize.
	// GenerateDataKey always asks for 32-byte (AES_256) keys, so
	// generate-data-key refuses a Size.
	Size int

	// The keys: either CreateKeys with Keys keys of the type Op needs (KeySpec
	// for sign, verify and generate-mac, symmetric for the rest),
	// or the existing KeyIDs (ids, ARNs or aliases; Keys is then 0 or
	// len(KeyIDs)). Each request picks one uniformly at random.
	Keys       int
	CreateKeys bool
	KeyIDs     []string
	// KeepKeys leaves the keys CreateKeys made in place at Close instead of
	// scheduling their deletion (see [Bench.Keys]).
	KeepKeys bool

	// Progress, if set, is called about once a second during the warmup and
	// the measured window, from one goroutine at a time.
	Progress func(Progress)
}

// Progress is a snapshot of a running phase.
type Progress struct {
	Target   string // Target.Name
	Warmup   bool
	Elapsed  time.Duration
	Requests int64 // completed so far in this phase
	Errors   int64
}

// Validate reports the first thing wrong with c, in the words of the
// `kms bench` flags.
func (c *Config) Validate() error {
	known := false
	for _, op := range Ops {
		known = known || c.Op == op
	}
	switch {
	case !known:
		return fmt.Errorf("unknown --op %q (one of %v)", c.Op, Ops)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("--concurrency must be 1 to %d, not %d", MaxConcurrency, c.Concurrency)
	case c.Duration > 0 && c.Requests > 0:
		return errors.New("give --duration or --requests, not both")
	case c.Duration < 0 || c.Requests < 0:
		return errors.New("--duration and --requests must be positive")
	case c.Duration == 0 && c.Requests == 0:
		return errors.New("give --duration or --requests")
	case c.Warmup < 0:
		return errors.New("--warmup must not be negative")
	case c.Rate < 0 || c.Rate > MaxRate || math.IsNaN(c.Rate):
		return fmt.Errorf("--rate must be more than 0 and at most %.0f requests a second, not %g", float64(MaxRate), c.Rate)
	case c.Rate > 0 && c.Duration > 0 && slotsBefore(c.Warmup+c.Duration, c.Rate)-slotsBefore(c.Warmup, c.Rate) < 1:
		return fmt.Errorf("--rate %g for --duration %s schedules no request: give a longer --duration", c.Rate, c.Duration)
	case c.Op == OpGenerateDataKey && c.Size != 0:
		return errors.New("--size does not apply to generate-data-key: it asks for AES_256 data keys")
	case c.Size < 0 || c.Size > MaxSize:
		return fmt.Errorf("--size must be 1 to %d bytes for %s, not %d", MaxSize, c.Op, c.Size)
	case c.CreateKeys && len(c.KeyIDs) > 0:
		return errors.New("give --create-keys or --key-id, not both")
	case c.CreateKeys && (c.Keys < 1 || c.Keys > MaxKeys):
		return fmt.Errorf("--keys must be 1 to %d, not %d", MaxKeys, c.Keys)
	case c.KeepKeys && !c.CreateKeys:
		return errors.New("--save-keys needs --create-keys")
	case !c.CreateKeys && len(c.KeyIDs) == 0:
		return errors.New("name the keys with --key-id, or give --create-keys")
	case len(c.KeyIDs) > 0 && c.Keys != 0 && c.Keys != len(c.KeyIDs):
		return fmt.Errorf("--keys %d, but --key-id names %d", c.Keys, len(c.KeyIDs))
	}
	if err := c.checkKeySpec(); err != nil {
		return err
	}
	for _, id := range c.KeyIDs {
		if id == "" {
			return errors.New("empty key id in --key-id")
		}
	}
	return nil
}

// size is the plaintext or message size the run uses.
func (c *Config) size() int {
	switch {
	case c.Op == OpGenerateDataKey:
		return dataKeySize
	case c.Size == 0:
		return DefaultSize
	}
	return c.Size
}
