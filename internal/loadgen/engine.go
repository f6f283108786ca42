package loadgen

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Target is an endpoint a prepared load is sent to.
type Target struct {
	Name      string      // label in the results, e.g. "kms" or "floor"
	Endpoint  string      // for the results only
	Client    *kms.Client // built without retries
	ServerPID int         // the server's process, for CPU per request; 0 if unknown
}

// Bench is a prepared load: its keys and the inputs made with them.
type Bench struct {
	cfg     Config
	client  *kms.Client // the one the keys were made with
	keys    []string
	created []string // keys New created, for Close
	plain   []byte   // the plaintext or message of every request
	blobs   [][]byte // per key: plain encrypted (decrypt, mixed)
	sigs    [][]byte // per key: plain signed (verify)
	spec    keySpec  // of sign, verify and generate-mac
}

// New validates cfg and prepares its load with c: it creates the keys if
// asked (cfg.Concurrency at a time) and the ciphertexts or signatures the
// op needs. On error, it schedules the deletion of the keys it created.
func New(ctx context.Context, cfg Config, c *kms.Client) (*Bench, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Bench{cfg: cfg, client: c, plain: make([]byte, cfg.size()), spec: cfg.keySpec()}
	rand.Read(b.plain)
	if cfg.CreateKeys {
		b.keys = make([]string, cfg.Keys)
		err := parallel(cfg.Keys, cfg.Concurrency, func(i int) error {
			out, err := c.CreateKey(ctx, createKeyInput(&cfg))
			if err != nil {
				return fmt.Errorf("creating key %d: %w", i+1, err)
			}
			b.keys[i] = aws.ToString(out.KeyMetadata.KeyId)
			return nil
		})
		for _, k := range b.keys {
			if k != "" {
				b.created = append(b.created, k)
			}
		}
		if err == nil && cfg.KeepKeys {
			b.created = nil
		}
		if err != nil {
			b.Close(context.WithoutCancel(ctx))
			return nil, err
		}
	} else {
		b.keys = cfg.KeyIDs
	}
	if err := b.prepare(ctx); err != nil {
		b.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return b, nil
}

// Keys returns the ids of the keys the load uses.
func (b *Bench) Keys() []string { return b.keys }

func createKeyInput(cfg *Config) *kms.CreateKeyInput {
	in := &kms.CreateKeyInput{Description: aws.String("created by kms bench")}
	switch s := cfg.keySpec(); {
	case s.sign != "":
		in.KeySpec, in.KeyUsage = s.spec, types.KeyUsageTypeSignVerify
	case s.mac != "":
		in.KeySpec, in.KeyUsage = s.spec, types.KeyUsageTypeGenerateVerifyMac
	}
	return in
}

// prepare makes, once per key, what the requests send back to the server.
func (b *Bench) prepare(ctx context.Context) error {
	switch b.cfg.Op {
	case OpDecrypt, OpMixed:
		b.blobs = make([][]byte, len(b.keys))
		return parallel(len(b.keys), b.cfg.Concurrency, func(i int) error {
			out, err := b.client.Encrypt(ctx, &kms.EncryptInput{KeyId: &b.keys[i], Plaintext: b.plain})
			if err != nil {
				return fmt.Errorf("encrypting the ciphertext to decrypt under %s: %w", b.keys[i], err)
			}
			b.blobs[i] = out.CiphertextBlob
			return nil
		})
	case OpVerify:
		b.sigs = make([][]byte, len(b.keys))
		return parallel(len(b.keys), b.cfg.Concurrency, func(i int) error {
			out, err := b.client.Sign(ctx, &kms.SignInput{KeyId: &b.keys[i], Message: b.plain,
				MessageType: types.MessageTypeRaw, SigningAlgorithm: b.spec.sign})
			if err != nil {
				return fmt.Errorf("signing the message to verify with %s: %w", b.keys[i], err)
			}
			b.sigs[i] = out.Signature
			return nil
		})
	}
	return nil
}

// Close schedules the deletion of the keys New created, with the shortest
// waiting period AWS allows (7 days), so repeated runs do not pile up keys.
func (b *Bench) Close(ctx context.Context) error {
	keys := b.created
	b.created = nil
	return parallel(len(keys), min(b.cfg.Concurrency, 64), func(i int) error {
		_, err := b.client.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &keys[i], PendingWindowInDays: aws.Int32(7)})
		if err != nil {
			return fmt.Errorf("scheduling the deletion of created key %s: %w", keys[i], err)
		}
		return nil
	})
}

// parallel calls f(0..n-1) from up to workers goroutines and returns the
// first error; after one, the calls not yet started are skipped.
func parallel(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var failed atomic.Bool
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(n, max(workers, 1)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && !failed.Load(); i = int(next.Add(1) - 1) {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return first
}

// Run sends the load to t: a warmup, then the measured window. If ctx ends
// during the window, Run stops starting requests, waits for those in
// flight and returns what was measured, marked Interrupted; if it ends
// before, Run returns ctx's error.
func (b *Bench) Run(ctx context.Context, t Target) (*Result, error) {
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if b.cfg.Rate > 0 {
		return b.runOpen(ctx, t)
	}
	if b.cfg.Warmup > 0 {
		b.phase(ctx, t, true, b.cfg.Warmup, 0)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	cpu0 := readCPU(t.ServerPID)
	start := time.Now()
	workers := b.phase(ctx, t, false, b.cfg.Duration, b.cfg.Requests)
	elapsed := time.Since(start)
	cpu1 := readCPU(t.ServerPID)

	r := b.result(t, workers, elapsed)
	r.Interrupted = ctx.Err() != nil
	r.setCPU(t.ServerPID, cpu0, cpu1)
	return r, nil
}

// cpuReading is the CPU time of the server and of this process at one
// moment, each with the error that kept it from being read.
type cpuReading struct {
	srv, cli       time.Duration
	srvErr, cliErr error
}

func readCPU(serverPID int) cpuReading {
	var c cpuReading
	c.srv, c.srvErr = cpuOf(serverPID)
	c.cli, c.cliErr = processCPU(os.Getpid())
	return c
}

// setCPU sets r's CPU per request from readings at the start and the end
// of its window.
func (r *Result) setCPU(serverPID int, start, end cpuReading) {
	if serverPID > 0 && start.srvErr == nil && end.srvErr == nil {
		r.ServerCPU = perRequest(end.srv-start.srv, r.Requests)
	}
	if start.cliErr == nil && end.cliErr == nil {
		r.ClientCPU = perRequest(end.cli-start.cli, r.Requests)
	}
}

func cpuOf(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	return processCPU(pid)
}

// perRequest is the CPU time per request in microseconds, or nil if there
// were no requests.
func perRequest(cpu time.Duration, requests int64) *float64 {
	if requests == 0 {
		return nil
	}
	us := float64(cpu.Nanoseconds()) / 1e3 / float64(requests)
	return &us
}

// phaseState is what the workers of one phase share.
type phaseState struct {
	stop    atomic.Bool
	claimed atomic.Int64 // requests started, against limit
	limit   int64        // 0: until stop
	done    atomic.Int64 // requests finished, for progress
	errs    atomic.Int64
	// The warmup's requests and errors in the open loop, where one phase
	// holds the warmup and the window.
	warmupDone, warmupErrs atomic.Int64
}

// phase runs the workers until d has passed, limit requests were made
// (whichever is set) or ctx ends, and returns their stats.
func (b *Bench) phase(ctx context.Context, t Target, warmup bool, d time.Duration, limit int64) []*worker {
	ps := &phaseState{limit: limit}
	stop := func() { ps.stop.Store(true) }
	defer context.AfterFunc(ctx, stop)()
	if d > 0 {
		defer time.AfterFunc(d, stop).Stop()
	}
	start := time.Now()

	workers := b.workers(t, ps)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for !ps.stop.Load() {
				w.iterate()
			}
		})
	}

	defer b.progress(func() Progress {
		return Progress{Target: t.Name, Warmup: warmup, Elapsed: time.Since(start),
			Requests: ps.done.Load(), Errors: ps.errs.Load()}
	})()
	wg.Wait()
	return workers
}

// progress calls Config.Progress with snap() about once a second, if it
// is set, until the function it returns is called.
func (b *Bench) progress(snap func() Progress) (stop func()) {
	if b.cfg.Progress == nil {
		return func() {}
	}
	quit, ticker := make(chan struct{}), time.NewTicker(time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer ticker.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ticker.C:
				b.cfg.Progress(snap())
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}

// workers makes the workers of a phase, measuring.
func (b *Bench) workers(t Target, ps *phaseState) []*worker {
	workers := make([]*worker, b.cfg.Concurrency)
	seed := mrand.Uint64()
	for i := range workers {
		workers[i] = &worker{b: b, c: t.Client, ps: ps, rng: mrand.New(mrand.NewPCG(seed, uint64(i))), measure: true}
	}
	return workers
}

// worker is one client loop. Its stats are its own until the phase ends.
type worker struct {
	b     *Bench
	c     *kms.Client
	ps    *phaseState
	rng   *mrand.Rand
	stats [numAPIs]*apiStats

	// In the open loop: when the iteration's first request was due (zero
	// in the closed loop); whether it was taken after that, when its
	// latency counts from then rather than from when it is sent (see
	// runSchedule); whether the iteration is measured, not warmup; the
	// measured iterations that started late; and when the last measured
	// iteration started and the last measured request ended.
	due       time.Time
	queued    bool
	measure   bool
	late      int64
	lastStart time.Time // of the last measured iteration
	lastEnd   time.Time
}

// api is a KMS operation a load calls; stats are kept per api.
type api int

const (
	apiEncrypt api = iota
	apiDecrypt
	apiGenerateDataKey
	apiSign
	apiVerify
	apiGenerateMac
	numAPIs
)

var apiNames = [numAPIs]string{"Encrypt", "Decrypt", "GenerateDataKey", "Sign", "Verify", "GenerateMac"}

type apiStats struct {
	hist     histogram // every request, failed ones too
	errors   map[string]int64
	messages map[string]string // the first message seen per error code
}

// iterate makes one iteration of the load: one request, or two for
// encrypt-decrypt.
func (w *worker) iterate() {
	b := w.b
	k := w.rng.IntN(len(b.keys))
	key := &b.keys[k]
	op := b.cfg.Op
	if op == OpMixed {
		switch n := w.rng.IntN(100); {
		case n < 50:
			op = OpDecrypt
		case n < 80:
			op = OpGenerateDataKey
		default:
			op = OpEncrypt
		}
	}
	switch op {
	case OpEncrypt:
		w.call(apiEncrypt, func(ctx context.Context) error {
			_, err := w.c.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: b.plain})
			return err
		})
	case OpDecrypt:
		w.call(apiDecrypt, func(ctx context.Context) error {
			_, err := w.c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b.blobs[k]})
			return err
		})
	case OpEncryptDecrypt:
		var blob []byte
		ok := w.call(apiEncrypt, func(ctx context.Context) error {
			out, err := w.c.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: b.plain})
			if err == nil {
				blob = out.CiphertextBlob
			}
			return err
		})
		if ok {
			w.call(apiDecrypt, func(ctx context.Context) error {
				_, err := w.c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
				return err
			})
		}
	case OpGenerateDataKey:
		w.call(apiGenerateDataKey, func(ctx context.Context) error {
			_, err := w.c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key, KeySpec: types.DataKeySpecAes256})
			return err
		})
	case OpSign:
		w.call(apiSign, func(ctx context.Context) error {
			_, err := w.c.Sign(ctx, &kms.SignInput{KeyId: key, Message: b.plain,
				MessageType: types.MessageTypeRaw, SigningAlgorithm: b.spec.sign})
			return err
		})
	case OpVerify:
		w.call(apiVerify, func(ctx context.Context) error {
			_, err := w.c.Verify(ctx, &kms.VerifyInput{KeyId: key, Message: b.plain, Signature: b.sigs[k],
				MessageType: types.MessageTypeRaw, SigningAlgorithm: b.spec.sign})
			return err
		})
	case OpGenerateMac:
		w.call(apiGenerateMac, func(ctx context.Context) error {
			_, err := w.c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: key, Message: b.plain,
				MacAlgorithm: b.spec.mac})
			return err
		})
	}
}

// call makes one measured request, unless the phase has stopped or its
// request budget is spent, and reports whether it was made and succeeded.
func (w *worker) call(a api, f func(context.Context) error) bool {
	ps := w.ps
	if ps.stop.Load() {
		return false
	}
	if ps.limit > 0 && ps.claimed.Add(1) > ps.limit {
		ps.stop.Store(true)
		return false
	}
	// Requests do not take the run's context: an interrupted run lets them
	// finish rather than count them as failures. The client's timeout
	// bounds them.
	start := time.Now()
	from := start
	if !w.due.IsZero() {
		if w.queued {
			from = w.due
		}
		if w.measure && start.Sub(w.due) > LateAfter {
			w.late++
		}
		w.due = time.Time{} // a second request (encrypt-decrypt's Decrypt) counts from its start
	}
	err := f(context.Background())
	end := time.Now()
	if !w.measure {
		ps.warmupDone.Add(1)
		if err != nil {
			ps.warmupErrs.Add(1)
		}
		return err == nil
	}
	w.lastEnd = end

	s := w.stats[a]
	if s == nil {
		s = &apiStats{}
		w.stats[a] = s
	}
	s.hist.record(end.Sub(from))
	ps.done.Add(1)
	if err == nil {
		return true
	}
	ps.errs.Add(1)
	code, msg := classify(err)
	if s.errors == nil {
		s.errors, s.messages = map[string]int64{}, map[string]string{}
	}
	if s.errors[code]++; s.messages[code] == "" {
		s.messages[code] = msg
	}
	return false
}

// classify names the error of a failed request: its AWS error code, or
// what kept it from getting one.
func classify(err error) (code, msg string) {
	var ae smithy.APIError
	var de *smithy.DeserializationError
	var se *smithyhttp.RequestSendError
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	case errors.As(err, &ne) && ne.Timeout():
		code, msg = "timeout", err.Error()
	case errors.As(err, &se):
		code, msg = "transport", err.Error()
	case errors.As(err, &de):
		code, msg = "deserialization", err.Error()
	default:
		code, msg = "other", err.Error()
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return code, msg
}
