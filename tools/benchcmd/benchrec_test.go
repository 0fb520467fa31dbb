package benchcmd

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestBenchRecordHelpers(t *testing.T) {
	si := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{0.5, "0.50"},
		{7, "7.00"},
		{9.996, "10.0"},
		{42.42, "42.4"},
		{99.96, "100"},
		{999.4, "999"},
		{999.6, "1.00k"},
		{1234, "1.23k"},
		{56789, "56.8k"},
		{2.5e6, "2.50M"},
		{3.21e9, "3.21G"},
		{-1500, "-1.50k"},
	}
	for _, tt := range si {
		if got := formatSI(tt.in); got != tt.want {
			t.Errorf("formatSI(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}

	gm := []struct {
		in   []float64
		want float64
		ok   bool
	}{
		{nil, 0, false},
		{[]float64{3}, 3, true},
		{[]float64{2, 0.5}, 1, true},
		{[]float64{1, 2, 4}, 2, true},
		{[]float64{1, 0}, 0, false},
		{[]float64{1, -2}, 0, false},
		{[]float64{1, math.NaN()}, 0, false},
		{[]float64{1e300, 1e300, 1e300}, 1e300, true}, // a plain product would overflow
	}
	for _, tt := range gm {
		got, ok := geomean(tt.in)
		if ok != tt.ok || math.Abs(got-tt.want) > 1e-9*math.Max(1, tt.want) {
			t.Errorf("geomean(%v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}

	ratios := []struct {
		in   float64
		want string
	}{{1, "1.00x"}, {1.234, "1.23x"}, {12.5, "12.50x"}, {0, "-"}, {math.NaN(), "-"}}
	for _, tt := range ratios {
		if got := formatRatio(tt.in); got != tt.want {
			t.Errorf("formatRatio(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}

	args := []struct {
		in   string
		want []string
	}{
		{"hello", []string{"hello"}},
		{"racy-counter:20000", []string{"racy-counter", "20000"}},
		{"radix:1000,2", []string{"radix", "1000", "2"}},
		{"radix: 1000, ,2", []string{"radix", "1000", "2"}},
		{"fft:", []string{"fft"}},
		{"radix 1000 2", []string{"radix", "1000", "2"}},
	}
	for _, tt := range args {
		if got := benchArgs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("benchArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBenchRecordGeomeanRow(t *testing.T) {
	ok := func(rr, rp float64) recRow {
		return recRow{Kind: "workload", OK: true, RecordOverRun: rr, ReplayOverRecord: rp}
	}
	tests := []struct {
		name   string
		rows   []recRow
		rr, rp float64
		ok     bool
		errSub string
	}{
		{"all ok", []recRow{ok(2, 1), ok(8, 4)}, 4, 2, true, ""},
		{"one failed", []recRow{ok(2, 1), {Kind: "workload", Error: "replay failed"}, ok(8, 4)}, 4, 2, false, "1 failed"},
		{"all failed", []recRow{{Kind: "workload"}}, 0, 0, false, "no workload"},
		{"none", nil, 0, 0, false, "no workload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := recGeomean(tt.rows, 2)
			if g.Kind != "geomean" || g.OK != tt.ok || math.Abs(g.RecordOverRun-tt.rr) > 1e-9 ||
				math.Abs(g.ReplayOverRecord-tt.rp) > 1e-9 || !strings.Contains(g.Error, tt.errSub) {
				t.Errorf("recGeomean = %+v; want record/run %v, replay/record %v, ok %v, error ~%q",
					g, tt.rr, tt.rp, tt.ok, tt.errSub)
			}
		})
	}
}

// TestBenchRecordFailedRowPrinted checks that a failure shows in the table
// as such rather than as a row of zeros.
func TestBenchRecordFailedRowPrinted(t *testing.T) {
	rows := []recRow{
		{Kind: "workload", Workload: "hello", OK: true, RunS: 0.01, RecordS: 0.02, ReplayS: 0.02,
			RecordOverRun: 2, ReplayOverRecord: 1, LogBytesPerS: 1234, TransitionsPerS: 10},
		{Kind: "workload", Workload: "pingpong", Error: "replay failed in round 1 of 1: diverged"},
	}
	rows = append(rows, recGeomean(rows, 2))
	var b bytes.Buffer
	printBenchRecord(&b, rows)
	out := b.String()
	for _, want := range []string{"FAILED", "-  replay failed in round 1 of 1: diverged", "1.23k", "2.00x", "1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The geomean ratios sit under their headings although the FAILED row
	// between has no numbers (tabwriter aligns only unbroken columns).
	lines := strings.Split(out, "\n")
	head, last := lines[0], lines[3]
	for _, c := range []struct{ heading, value string }{{"record/run", "2.00x"}, {"replay/record", "1.00x"}} {
		h := strings.Index(head, c.heading) + len(c.heading)
		if v := strings.Index(last, c.value) + len(c.value); v != h {
			t.Errorf("%s ends at column %d, its heading %q at %d:\n%s", c.value, v, c.heading, h, out)
		}
	}
}

// TestBenchRecord runs the command on real KVM: one uniprocessor-trivial
// workload and one that races on shared memory, so CREW has work to do.
func TestBenchRecord(t *testing.T) {
	args := []string{"--record", "--runs", "1", "--cpus", "2", "hello", "racy-counter:20000"}
	var stdout, stderr bytes.Buffer
	if code := Main(args, &stdout, &stderr); code != 0 {
		t.Fatalf("vmm bench %v: code %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"record/run", "replay/record", "transitions/s", "hello", "racy-counter:20000", "geomean"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAILED") || len(regexp.MustCompile(`\d\.\d\dx`).FindAllString(out, -1)) != 3*2 {
		t.Errorf("want two ratios on each of 3 rows, no failure:\n%s", out)
	}

	stdout.Reset()
	stderr.Reset()
	jargs := []string{"--record", "--json", "--runs", "1", "--cpus", "2", "hello", "racy-counter:20000"}
	if code := Main(jargs, &stdout, &stderr); code != 0 {
		t.Fatalf("vmm bench %v: code %d, stderr %q", jargs, code, stderr.String())
	}
	var rows []recRow
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, stdout.String())
	}
	if len(rows) != 3 || rows[0].Workload != "hello" || rows[1].Workload != "racy-counter:20000" || rows[2].Kind != "geomean" {
		t.Fatalf("rows = %+v", rows)
	}
	for _, r := range rows {
		if !r.OK || r.RecordOverRun <= 0 || r.ReplayOverRecord <= 0 || r.CPUs != 2 {
			t.Errorf("row %+v: want ok with positive ratios on 2 vCPUs", r)
		}
	}
	if r := rows[1]; r.LogBytes <= 0 || r.Transitions == 0 || r.TransitionsPerS <= 0 || r.LogBytesPerS <= 0 {
		t.Errorf("racy-counter logged nothing: %+v", r)
	}
	// The keys are part of the interface: scripts read them.
	var raw []map[string]any
	json.Unmarshal(stdout.Bytes(), &raw)
	for _, k := range []string{"workload", "run_s", "record_s", "replay_s", "record_over_run", "replay_over_record",
		"log_bytes", "log_bytes_per_guest_s", "transitions", "transitions_per_guest_s", "kicks", "state_positions", "ok"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("JSON row lacks key %q: %v", k, raw[0])
		}
	}
}
