package loadgen

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what a run measured; its JSON form is the output of
// `kms bench --json`. Latencies cover every request, failed ones too.
type Result struct {
	Target      string  `json:"target"` // Target.Name
	Endpoint    string  `json:"endpoint"`
	Op          Op      `json:"op"`
	KeySpec     string  `json:"key_spec,omitempty"` // of sign, verify and generate-mac
	Size        int     `json:"size"`               // bytes of plaintext or message (32 for generate-data-key)
	Concurrency int     `json:"concurrency"`
	Keys        int     `json:"keys"`
	WarmupS     float64 `json:"warmup_s"`
	DurationS   float64 `json:"duration_s"` // the measured window, until the last request ended
	Interrupted bool    `json:"interrupted"`

	Requests      int64             `json:"requests"` // failed ones included
	ErrorCount    int64             `json:"error_count"`
	Errors        map[string]int64  `json:"errors"`         // by error code; always present
	ErrorMessages map[string]string `json:"error_messages"` // the first message seen per code
	OpsPerS       float64           `json:"ops_per_s"`      // requests per second
	LatencyMs     Latency           `json:"latency_ms"`

	// CPU time per request in microseconds: of the server process
	// (Target.ServerPID), and of this process, the driver. Null if unknown.
	ServerPID int      `json:"server_pid,omitempty"`
	ServerCPU *float64 `json:"server_cpu_us_per_request"`
	ClientCPU *float64 `json:"client_cpu_us_per_request"`

	// Operations breaks the figures down by KMS operation, for loads that
	// call more than one.
	Operations map[string]*OperationResult `json:"operations"`

	// With a calibration run: the floor server's result, and this result's
	// server CPU per request and ops/s divided by the floor's.
	Floor          *Result  `json:"floor,omitempty"`
	ServerCPURatio *float64 `json:"server_cpu_ratio,omitempty"`
	OpsRatio       *float64 `json:"ops_per_s_ratio,omitempty"`

	// Rounds, with more than one round (--rounds): the main figures of
	// every round, in order; the rest of the result is the median round's.
	Rounds []Round `json:"rounds,omitempty"`

	// OpenLoop is set by an open-loop run (Config.Rate); its fields are
	// part of the JSON object, absent in the closed loop.
	*OpenLoop
}

// OpenLoop is what an open-loop run adds to its Result. In it, the
// latency of an iteration that waited for a worker counts from when it was
// due. An iteration is a request, but for encrypt-decrypt (an Encrypt and
// the Decrypt of its result).
type OpenLoop struct {
	TargetRate float64 `json:"target_rate_per_s"` // Config.Rate, iterations a second
	// AchievedRate is the rate at which the window's iterations were
	// sent: those sent, over the span from the window's start to the last
	// one's start plus one interval (1/TargetRate). It is TargetRate when
	// every one went out on time.
	AchievedRate float64 `json:"achieved_rate_per_s"`
	Scheduled    int64   `json:"scheduled"`     // iterations due in the window (before an interruption)
	Late         int64   `json:"late"`          // sent more than LateAfter after they were due
	LateAfterMs  float64 `json:"late_after_ms"` // LateAfter
	// Unsent iterations were not started by the deadline (the end of the
	// schedule plus Grace): the driver fell behind, and the latencies leave
	// them out.
	Unsent int64 `json:"unsent"`
}

// Round is one round's main figures.
type Round struct {
	OpsPerS        float64  `json:"ops_per_s"`
	P99Ms          float64  `json:"p99_ms"`
	ServerCPU      *float64 `json:"server_cpu_us_per_request"`
	FloorServerCPU *float64 `json:"floor_server_cpu_us_per_request,omitempty"`
	ServerCPURatio *float64 `json:"server_cpu_ratio,omitempty"`
	OpsRatio       *float64 `json:"ops_per_s_ratio,omitempty"`
	// In the open loop: the round's late and unsent iterations.
	Late   *int64 `json:"late,omitempty"`
	Unsent *int64 `json:"unsent,omitempty"`
}

// Median returns the median of the results of repeated rounds, ordered by
// server CPU ratio, else server CPU per request (the first of these that
// every round has), else ops/s in the closed loop and p99 latency in the
// open loop (where ops/s is the rate asked for), with the rounds' figures
// attached. With one round it returns it unchanged; with an even number,
// the lower middle one.
func Median(runs []*Result) *Result {
	if len(runs) == 1 {
		return runs[0]
	}
	all := func(f func(*Result) *float64) bool {
		for _, r := range runs {
			if f(r) == nil {
				return false
			}
		}
		return true
	}
	key := func(r *Result) float64 { return r.OpsPerS }
	switch {
	case all(func(r *Result) *float64 { return r.ServerCPURatio }):
		key = func(r *Result) float64 { return *r.ServerCPURatio }
	case all(func(r *Result) *float64 { return r.ServerCPU }):
		key = func(r *Result) float64 { return *r.ServerCPU }
	case runs[0].OpenLoop != nil:
		key = func(r *Result) float64 { return r.LatencyMs.P99 }
	}
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b *Result) int { return cmp.Compare(key(a), key(b)) })
	m := *sorted[(len(sorted)-1)/2]
	m.Rounds = make([]Round, len(runs))
	for i, r := range runs {
		m.Rounds[i] = Round{OpsPerS: r.OpsPerS, P99Ms: r.LatencyMs.P99, ServerCPU: r.ServerCPU,
			ServerCPURatio: r.ServerCPURatio, OpsRatio: r.OpsRatio}
		if r.Floor != nil {
			m.Rounds[i].FloorServerCPU = r.Floor.ServerCPU
		}
		if o := r.OpenLoop; o != nil {
			m.Rounds[i].Late, m.Rounds[i].Unsent = &o.Late, &o.Unsent
		}
	}
	return &m
}

// OperationResult is the part of a Result for one KMS operation.
type OperationResult struct {
	Requests   int64            `json:"requests"`
	ErrorCount int64            `json:"error_count"`
	Errors     map[string]int64 `json:"errors"`
	OpsPerS    float64          `json:"ops_per_s"`
	LatencyMs  Latency          `json:"latency_ms"`
}

// result merges the workers' stats.
func (b *Bench) result(t Target, workers []*worker, elapsed time.Duration) *Result {
	r := &Result{
		Target: t.Name, Endpoint: t.Endpoint, Op: b.cfg.Op, KeySpec: string(b.spec.spec), Size: b.cfg.size(),
		Concurrency: b.cfg.Concurrency, Keys: len(b.keys),
		WarmupS: b.cfg.Warmup.Seconds(), DurationS: elapsed.Seconds(),
		Errors: map[string]int64{}, ErrorMessages: map[string]string{},
		ServerPID: t.ServerPID, Operations: map[string]*OperationResult{},
	}
	var total histogram
	for a := range numAPIs {
		var h histogram
		errs := map[string]int64{}
		for _, w := range workers {
			s := w.stats[a]
			if s == nil {
				continue
			}
			h.merge(&s.hist)
			for code, n := range s.errors {
				errs[code] += n
				r.Errors[code] += n
				if r.ErrorMessages[code] == "" {
					r.ErrorMessages[code] = s.messages[code]
				}
			}
		}
		if h.n == 0 {
			continue
		}
		o := &OperationResult{Requests: int64(h.n), Errors: errs, OpsPerS: rate(int64(h.n), elapsed), LatencyMs: h.latency()}
		for _, n := range errs {
			o.ErrorCount += n
		}
		r.Operations[apiNames[a]] = o
		total.merge(&h)
	}
	r.Requests = int64(total.n)
	for _, n := range r.Errors {
		r.ErrorCount += n
	}
	r.OpsPerS = rate(r.Requests, elapsed)
	r.LatencyMs = total.latency()
	return r
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// SetFloor attaches the result of the same load against the floor server
// and the ratios to it.
func (r *Result) SetFloor(floor *Result) {
	r.Floor = floor
	r.ServerCPURatio, r.OpsRatio = nil, nil
	if r.ServerCPU != nil && floor.ServerCPU != nil && *floor.ServerCPU > 0 {
		v := *r.ServerCPU / *floor.ServerCPU
		r.ServerCPURatio = &v
	}
	if floor.OpsPerS > 0 {
		v := r.OpsPerS / floor.OpsPerS
		r.OpsRatio = &v
	}
}

// WriteJSON writes r as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r for people: a header line, a row per target and KMS
// operation, the errors by code with a sample message, and the ratios.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	keys := ""
	if r.KeySpec != "" {
		keys = " " + r.KeySpec
	}
	load := fmt.Sprintf("%d clients", r.Concurrency)
	if o := r.OpenLoop; o != nil {
		load = fmt.Sprintf("open loop at %s/s, at most %d in flight", rateCell(o.TargetRate), r.Concurrency)
		if r.Op == OpEncryptDecrypt {
			load = fmt.Sprintf("open loop at %s Encrypt+Decrypt pairs/s, at most %d in flight", rateCell(o.TargetRate), r.Concurrency)
		}
	}
	fmt.Fprintf(&b, "kms bench: %s, %d-byte %s, %s, %d%s key%s, %.1fs measured after %.1fs warmup\n",
		r.Op, r.Size, payload(r.Op), load, r.Keys, keys, plural(r.Keys), r.DurationS, r.WarmupS)
	if r.Interrupted || r.Floor != nil && r.Floor.Interrupted {
		b.WriteString("INTERRUPTED: the window was cut short\n")
	}
	b.WriteString("\n")

	runs := []*Result{r}
	if r.Floor != nil {
		runs = []*Result{r.Floor, r}
	}
	// The names go left-aligned in one cell; tabwriter aligns the numbers right.
	wt, wo := len("target"), len("operation")
	for _, run := range runs {
		wt = max(wt, len(run.Target))
		for name := range run.Operations {
			wo = max(wo, len(name))
		}
	}
	names := func(target, op string) string { return fmt.Sprintf("%-*s  %-*s", wt, target, wo, op) }
	open := r.OpenLoop != nil
	// runCells are a run's figures that no one operation has: they go
	// on its only row or its total row.
	openCells := func(run *Result) string {
		if !open {
			return ""
		}
		if run == nil || run.OpenLoop == nil {
			return "\t\t\t\t"
		}
		o := run.OpenLoop
		return fmt.Sprintf("%s\t%s\t%d\t%d\t", rateCell(o.TargetRate), rateCell(o.AchievedRate), o.Late, o.Unsent)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\trequests\terrors\tops/s\t", names("target", "operation"))
	if open {
		fmt.Fprint(tw, "target/s\tachieved/s\tlate\tunsent\t")
	}
	fmt.Fprint(tw, "p50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\tserver µs/req\tclient µs/req\t\n")
	for _, run := range runs {
		ops := slices.Sorted(maps.Keys(run.Operations))
		for _, op := range ops {
			o := run.Operations[op]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t", names(run.Target, op), o.Requests, o.ErrorCount, rateCell(o.OpsPerS))
			if len(ops) == 1 {
				fmt.Fprintf(tw, "%s%s\t%s\t%s\t\n", openCells(run), latencyCells(o.LatencyMs), cpuCell(run.ServerCPU), cpuCell(run.ClientCPU))
			} else {
				fmt.Fprintf(tw, "%s%s\t\t\t\n", openCells(nil), latencyCells(o.LatencyMs))
			}
		}
		if len(ops) != 1 {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s%s\t%s\t%s\t\n", names(run.Target, "total"), run.Requests, run.ErrorCount, rateCell(run.OpsPerS),
				openCells(run), latencyCells(run.LatencyMs), cpuCell(run.ServerCPU), cpuCell(run.ClientCPU))
		}
	}
	tw.Flush()

	if open {
		fmt.Fprintf(&b, "\nlatency counts from when a request was due if it waited for a worker; late: started more than %s after that\n",
			time.Duration(r.LateAfterMs*1e6))
		for _, run := range runs {
			if o := run.OpenLoop; o != nil && o.Unsent > 0 {
				fmt.Fprintf(&b, "FELL BEHIND: %s sent only %d of the %d requests due in the window by the deadline "+
					"(the end of the schedule + %s); the latencies leave out the %d unsent: raise --concurrency or lower --rate\n",
					run.Target, o.Scheduled-o.Unsent, o.Scheduled, Grace, o.Unsent)
			}
		}
	}
	for _, run := range runs {
		if run.ErrorCount == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nerrors from %s (%s), by code:\n", run.Target, run.Endpoint)
		codes := slices.Sorted(maps.Keys(run.Errors))
		for _, c := range codes {
			fmt.Fprintf(&b, "  %-28s %8d  %s\n", c, run.Errors[c], run.ErrorMessages[c])
		}
	}
	if r.Floor != nil {
		b.WriteString("\n")
		if r.ServerCPURatio != nil {
			fmt.Fprintf(&b, "server CPU per request: %.2f × the floor's\n", *r.ServerCPURatio)
		} else {
			b.WriteString("server CPU per request: no ratio (give --server-pid)\n")
		}
		if r.OpsRatio != nil {
			fmt.Fprintf(&b, "ops/s: %.2f × the floor's\n", *r.OpsRatio)
		}
	}
	if len(r.Rounds) > 0 {
		fmt.Fprintf(&b, "\nthe median of %d rounds is shown; every round:\n", len(r.Rounds))
		for i, rd := range r.Rounds {
			fmt.Fprintf(&b, "  round %d: %s ops/s, p99 %s ms, server %s µs/req", i+1, rateCell(rd.OpsPerS), ms(rd.P99Ms), strings.TrimSpace(cpuCell(rd.ServerCPU)))
			if rd.ServerCPURatio != nil {
				fmt.Fprintf(&b, ", %.2f × the floor's %s", *rd.ServerCPURatio, strings.TrimSpace(cpuCell(rd.FloorServerCPU)))
			}
			if rd.Late != nil && rd.Unsent != nil {
				fmt.Fprintf(&b, ", %d late, %d unsent", *rd.Late, *rd.Unsent)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rateCell shows a rate a second: whole above 100, to a tenth below.
func rateCell(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func payload(op Op) string {
	switch op {
	case OpGenerateDataKey:
		return "data key"
	case OpSign, OpVerify, OpGenerateMac:
		return "message"
	}
	return "plaintext"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func latencyCells(l Latency) string {
	return strings.Join([]string{ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max)}, "\t")
}

// ms shows a latency in milliseconds with three significant digits or so.
func ms(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.3f", v)
	case v < 100:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func cpuCell(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}
