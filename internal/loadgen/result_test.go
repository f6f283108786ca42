package loadgen

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	run := func(ops float64, cpu, ratio *float64) *Result {
		return &Result{Target: "server", OpsPerS: ops, ServerCPU: cpu, ServerCPURatio: ratio}
	}
	tests := []struct {
		name string
		runs []*Result
		want int // index of the median round
	}{
		{"by ratio", []*Result{run(10, f(300), f(2.0)), run(20, f(100), f(1.5)), run(30, f(200), f(1.7))}, 2},
		{"by server CPU without a floor", []*Result{run(10, f(300), nil), run(20, f(100), nil), run(30, f(200), nil)}, 2},
		{"by ops/s without a server pid", []*Result{run(30, nil, nil), run(10, nil, nil), run(20, nil, nil)}, 2},
		{"even: the lower middle", []*Result{run(10, f(4), nil), run(20, f(1), nil), run(30, f(3), nil), run(40, f(2), nil)}, 3},
		{"a round without a ratio: by CPU", []*Result{run(10, f(300), f(2.0)), run(20, f(100), nil), run(30, f(200), f(1.7))}, 2},
	}
	for _, tc := range tests {
		m := Median(tc.runs)
		if m.OpsPerS != tc.runs[tc.want].OpsPerS {
			t.Errorf("%s: median has %.0f ops/s, want round %d's %.0f", tc.name, m.OpsPerS, tc.want+1, tc.runs[tc.want].OpsPerS)
		}
		if len(m.Rounds) != len(tc.runs) || m.Rounds[0].OpsPerS != tc.runs[0].OpsPerS {
			t.Errorf("%s: rounds %+v", tc.name, m.Rounds)
		}
		if tc.runs[tc.want].Rounds != nil {
			t.Errorf("%s: the round itself was changed", tc.name)
		}
		var b strings.Builder
		if err := m.WriteTable(&b); err != nil || !strings.Contains(b.String(), "the median of") {
			t.Errorf("%s: table %q, %v", tc.name, b.String(), err)
		}
	}
	one := run(1, nil, nil)
	if Median([]*Result{one}) != one || one.Rounds != nil {
		t.Error("one round is not returned as it is")
	}
}
