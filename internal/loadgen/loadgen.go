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
// warmup and a measured window, from Config.Concurrency workers that each
// keep one request in flight, and returns a [Result]. The same prepared
// inputs can be sent to several targets, so a run against the floor server
// ([FloorHandler]) sends requests of the same size as the run against the
// real endpoint.
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

// Config describes a run. The zero value is not valid: set Op, Concurrency,
// Duration or Requests, and the keys.
type Config struct {
	Op          Op
	Concurrency int           // workers, each with one request in flight
	Duration    time.Duration // measured window; or
	Requests    int64         // number of measured requests (Duration must be 0)
	Warmup      time.Duration // load sent before the window and not counted

	// Size is the plaintext or message size in bytes; 0 means DefaultSize.
	// GenerateDataKey always asks for 32-byte (AES_256) keys, so
	// generate-data-key refuses a Size.
	Size int

	// The keys: either CreateKeys with Keys keys of the type Op needs (ECC_NIST_P256
	// for sign and verify, HMAC_256 for generate-mac, symmetric for the rest),
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
