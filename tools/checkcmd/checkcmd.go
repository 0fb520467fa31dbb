// Package checkcmd implements `vmm check`: from an interface model to a
// sharing report in one command. It generates the model's commutativity
// tests (or reads a test file), runs them in batches on each kernel under
// test on two vCPUs under record, replays each batch in trace mode limited
// to the test regions with the sharing analysis attached, and writes the
// report (package analysis/report) to --out. Each batch's results are kept
// in --out/batches, so --resume carries on where a run stopped; a batch
// that fails is retried once and otherwise reported, never fatal.
package checkcmd

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/analysis/report"
	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/models/commute"
	"github.com/crewvm/crewvm/models/testgen"
	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/tools/recordcmd"
	"github.com/crewvm/crewvm/tools/replaycmd"
	"github.com/crewvm/crewvm/tools/testgencmd"
	"github.com/crewvm/crewvm/vmm"
)

type options struct {
	model     string
	calls     string
	kernels   []string
	tests     string
	out       string
	jobs      int
	batch     int
	resume    bool
	cacheLine bool
	keepLogs  bool
	baseline  string
	timeout   time.Duration
	perPath   int
	plant     string
	shard     string
	// shardI of shardN is the slice of the batches this run takes.
	shardI, shardN int
}

const synopsis = "--model posix [--calls A,B,...] [--kernel mono,scalable] [--tests FILE] [-j N]\n" +
	"       [--batch N] [--out DIR] [--resume] [--baseline OLD/report.json] [--cache-line] [--shard I/N]\n" +
	"       vmm check merge --out DIR SHARD-DIR...\n\n" +
	"Generates the model's commutativity tests (or reads --tests), runs them on each kernel\n" +
	"under test on two vCPUs under record, replays each batch in trace mode limited to the\n" +
	"test regions with the sharing analysis, and writes summary.txt, report.json, top.txt,\n" +
	"heatmap.svg and index.html to DIR. With --baseline it exits 1 when a test that was\n" +
	"conflict-free in the baseline now conflicts, listing each."

// Main runs `vmm check ARGS...` and returns the exit status: 0 when the
// report was written (and no baseline regression), 1 for a regression or
// failed batches, 2 for bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "merge" {
		return mergeMain(args[1:], stdout, stderr)
	}
	var o options
	fs := cli.NewFlagSet("check", synopsis, stderr)
	fs.StringVar(&o.model, "model", "posix", "interface model (only posix has a kernel under test)")
	fs.StringVar(&o.calls, "calls", "", "calls to combine, comma-separated (default: all of the model's)")
	fs.StringSliceVar(&o.kernels, "kernel", []string{"mono", "scalable"}, "kernels under test, comma-separated")
	fs.StringVar(&o.tests, "tests", "", "test file to run instead of generating one")
	fs.StringVarP(&o.out, "out", "o", "check-out", "directory for the report and the batches' results")
	fs.IntVarP(&o.jobs, "jobs", "j", 1, "batches to run at once (each uses two vCPUs)")
	fs.IntVar(&o.batch, "batch", 100, "tests per batch (per guest)")
	fs.BoolVar(&o.resume, "resume", false, "keep the batches already done in --out")
	fs.BoolVar(&o.cacheLine, "cache-line", false, "count sharing by 64-byte cache line (false sharing too)")
	fs.BoolVar(&o.keepLogs, "keep-logs", false, "keep each batch's recording in --out/batches")
	fs.StringVar(&o.baseline, "baseline", "", "report.json of an earlier run: fail on tests no longer conflict-free")
	fs.DurationVar(&o.timeout, "batch-timeout", 30*time.Minute, "time limit of one batch's record or replay")
	fs.IntVar(&o.perPath, "max-tests-per-path", commute.DefaultMaxTestsPerPath, "tests to generate per commutative path")
	fs.StringVar(&o.shard, "shard", "", "run slice I of N (I/N; or N, with I from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID); 'vmm check merge' joins the slices")
	fs.StringVar(&o.plant, "plant", "", "turn on a planted sharing bug in the kernels, to test the report (stat: a global counter in scalable's stat)")
	if code, done := cli.ParseFlags(fs, args); done {
		return code
	}
	if err := o.validate(fs); err != nil {
		fmt.Fprintf(stderr, "vmm check: %v\n", err)
		return cli.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	code, err := run(ctx, &o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vmm check: %v\n", err)
		return cli.ExitFailure
	}
	return code
}

func (o *options) validate(fs *pflag.FlagSet) error {
	if len(fs.Args()) > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Args()[0])
	}
	if o.model != "posix" {
		return fmt.Errorf("--model %s: only the posix model has a kernel under test", o.model)
	}
	for _, k := range o.kernels {
		if k != "mono" && k != "scalable" {
			return fmt.Errorf("--kernel %s: the kernels are mono and scalable", k)
		}
	}
	if o.jobs < 1 || o.batch < 1 {
		return errors.New("-j and --batch must be at least 1")
	}
	if o.plant != "" && o.plant != "stat" {
		return fmt.Errorf("--plant %s: the one planted bug is stat", o.plant)
	}
	if o.tests != "" && o.calls != "" {
		return errors.New("--calls chooses tests to generate; with --tests the file decides")
	}
	var err error
	o.shardI, o.shardN, err = parseShard(o.shard, os.Getenv)
	return err
}

// parseShard reads --shard: "I/N", or "N" with I from the index variable
// of a Kubernetes Indexed Job or a Slurm job array. No shard is 0 of 1.
func parseShard(s string, getenv func(string) string) (i, n int, err error) {
	if s == "" {
		return 0, 1, nil
	}
	is, ns, explicit := strings.Cut(s, "/")
	if !explicit {
		ns = is
		is = cmp.Or(getenv("JOB_COMPLETION_INDEX"), getenv("SLURM_ARRAY_TASK_ID"))
		if is == "" {
			return 0, 0, fmt.Errorf("--shard %s: no index (give I/N, or set JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID)", s)
		}
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %s: want I/N with 0 <= I < N (index %q)", s, is)
	}
	return i, n, nil
}

// batch is a range of test ids run on one kernel in one guest.
type batch struct {
	kernel      string
	first, last int
}

func (b batch) name() string { return fmt.Sprintf("%s-%d-%d", b.kernel, b.first, b.last) }

// outcome is what a batch leaves in --out/batches/NAME.json.
type outcome struct {
	Tests []*report.Test `json:"tests"`
	// Failed lists the tests whose results the kernel got wrong.
	Failed []int  `json:"failed,omitempty"`
	Error  string `json:"error,omitempty"`
}

func run(ctx context.Context, o *options, stdout, stderr io.Writer) (int, error) {
	if err := os.MkdirAll(filepath.Join(o.out, "batches"), 0o755); err != nil {
		return 0, err
	}
	var baseline *report.Report
	if o.baseline != "" {
		// Read it first: it may be the report.json this run replaces.
		var err error
		if baseline, err = readBaseline(o.baseline); err != nil {
			return 0, err
		}
	}
	file, data, err := loadTests(ctx, o, stderr)
	if err != nil {
		return 0, err
	}
	pairs := testPairs(file)
	var batches []batch
	total := 0
	for _, k := range o.kernels {
		for first := 1; first <= file.NumTests(); first += o.batch {
			if (first/o.batch)%o.shardN == o.shardI {
				b := batch{k, first, min(first+o.batch-1, file.NumTests())}
				batches = append(batches, b)
				total += b.last - b.first + 1
			}
		}
	}
	prog := newProgress(stderr, total)
	results := make([]*outcome, len(batches))
	work := make(chan int)
	var wg sync.WaitGroup
	for range o.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = runBatch(ctx, o, batches[i], data, pairs)
				prog.add(batches[i].last - batches[i].first + 1)
			}
		}()
	}
	for i := range batches {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	prog.stop()
	if ctx.Err() != nil {
		return 0, fmt.Errorf("interrupted; run again with --resume to go on")
	}
	rep := &report.Report{Model: file.Model, Calls: testgen.PosixCalls()}
	code := 0
	for _, k := range o.kernels {
		kr := &report.Kernel{Name: k}
		for i, b := range batches {
			if b.kernel != k {
				continue
			}
			r := results[i]
			if r.Error != "" {
				fmt.Fprintf(stderr, "vmm check: batch %s (tests %d-%d) failed twice: %s\n", b.name(), b.first, b.last, r.Error)
				code = 1
				continue
			}
			if len(r.Failed) > 0 {
				fmt.Fprintf(stderr, "vmm check: %s returned wrong results in %d tests: %v\n", k, len(r.Failed), r.Failed)
				code = 1
			}
			kr.Tests = append(kr.Tests, r.Tests...)
		}
		rep.Kernels = append(rep.Kernels, kr)
	}
	if err := writeReport(o.out, rep, stdout); err != nil {
		return 0, err
	}
	if baseline != nil && compareBaseline(baseline, o.baseline, rep, stdout) > 0 {
		code = 1
	}
	return code, nil
}

// loadTests reads --tests or generates the model's tests into
// --out/tests.tests.
func loadTests(ctx context.Context, o *options, stderr io.Writer) (*testgen.File, []byte, error) {
	path := o.tests
	if path == "" {
		path = filepath.Join(o.out, "tests.tests")
		if _, err := os.Stat(path); err != nil || !o.resume {
			args := []string{"--model", o.model, "-o", path, "-j", strconv.Itoa(max(o.jobs, 2)),
				"--max-tests-per-path", strconv.Itoa(o.perPath)}
			if o.calls != "" {
				args = append(args, "--calls", o.calls)
			}
			if code := testgencmd.MainContext(ctx, args, io.Discard, stderr); code != 0 {
				return nil, nil, fmt.Errorf("generating the tests failed (vmm testgen exit status %d)", code)
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := testgen.Read(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Model != "posix" {
		return nil, nil, fmt.Errorf("%s: tests of model %s; the kernel under test runs posix tests", path, f.Model)
	}
	return f, data, nil
}

// testInfo is what the report needs of a test besides its sharing.
type testInfo struct {
	set, path int
	pair      report.Pair
	calls     int
}

func testPairs(f *testgen.File) map[int]testInfo {
	out := map[int]testInfo{}
	for _, s := range f.Sets {
		p := report.Pair{A: s.Calls[0], B: s.Calls[0]}
		if len(s.Calls) > 1 {
			p.B = s.Calls[1]
		}
		for _, t := range s.Tests {
			out[t.ID] = testInfo{set: s.ID, path: t.Path, pair: p, calls: len(s.Calls)}
		}
	}
	return out
}

// runBatch runs b (or reads its earlier result with --resume), retrying
// a failure once.
func runBatch(ctx context.Context, o *options, b batch, data []byte, info map[int]testInfo) *outcome {
	path := filepath.Join(o.out, "batches", b.name()+".json")
	if o.resume {
		if old, err := readOutcome(path); err == nil && old.Error == "" {
			return old
		}
	}
	var res *outcome
	for attempt := 0; attempt < 2 && ctx.Err() == nil; attempt++ {
		res = tryBatch(o, b, data, info)
		if res.Error == "" {
			break
		}
	}
	if res == nil {
		return &outcome{Error: "interrupted"}
	}
	if buf, err := json.Marshal(res); err == nil {
		tmp := path + ".tmp"
		if os.WriteFile(tmp, buf, 0o644) == nil {
			os.Rename(tmp, path)
		}
	}
	return res
}

func readOutcome(path string) (*outcome, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out outcome
	if err := json.Unmarshal(buf, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

var failLine = regexp.MustCompile(`fstest: FAIL test (\d+) `)

// tryBatch records the batch's tests in a guest and replays the log with
// the sharing analysis.
func tryBatch(o *options, b batch, data []byte, info map[int]testInfo) *outcome {
	dir := filepath.Join(o.out, "batches", b.name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &outcome{Error: err.Error()}
	}
	if !o.keepLogs {
		defer os.RemoveAll(dir)
	}
	logPath := filepath.Join(dir, "rec.log")
	var console bytes.Buffer
	cfg := vmm.Config{CPUs: 2, MemSize: 256 << 20, Image: guest.Kernel, Input: data, Timeout: o.timeout, Console: &console,
		Args: []string{"fstest", b.kernel, fmt.Sprintf("%d-%d", b.first, b.last)}}
	if o.plant != "" {
		cfg.Args = append(cfg.Args, "plant="+o.plant)
	}
	res, err := recordcmd.Record(cfg, "", logPath, io.Discard)
	if err != nil {
		return &outcome{Error: fmt.Sprintf("record: %v", err)}
	}
	out := &outcome{}
	for _, m := range failLine.FindAllStringSubmatch(console.String(), -1) {
		id, _ := strconv.Atoi(m[1])
		out.Failed = append(out.Failed, id)
	}
	if res.Status != 0 && len(out.Failed) == 0 {
		return &outcome{Error: fmt.Sprintf("the guest exited with status %d: %s", res.Status, lastLine(console.String()))}
	}
	sharing := analysis.NewSharing(o.cacheLine)
	_, err = replaycmd.Replay(logPath, replaycmd.Options{Timeout: o.timeout, Analyses: []analysis.Analysis{sharing}, Out: dir}, io.Discard)
	if err != nil {
		return &outcome{Error: fmt.Sprintf("replay: %v", err)}
	}
	shared := map[int][]analysis.Shared{}
	for _, tc := range sharing.Results() {
		if id, err := strconv.Atoi(strings.TrimPrefix(tc.Name, "region ")); err == nil {
			shared[id] = tc.Shared
		}
	}
	for id := b.first; id <= b.last; id++ {
		ti, ok := info[id]
		if !ok || ti.calls != 2 {
			continue // only pairs of calls can share
		}
		s := shared[id]
		if s == nil {
			s = []analysis.Shared{}
		}
		out.Tests = append(out.Tests, &report.Test{ID: id, Set: ti.set, Path: ti.path, Pair: ti.pair, Shared: s})
	}
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// writeReport writes the report's files to dir and its first lines to
// stdout.
func writeReport(dir string, r *report.Report, stdout io.Writer) error {
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"summary.txt", r.WriteSummary},
		{"report.json", r.WriteJSON},
		{"top.txt", func(w io.Writer) error { return r.WriteTop(w, 20) }},
		{"heatmap.svg", r.WriteHeatmap},
		{"index.html", r.WriteHTML},
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	var sum bytes.Buffer
	r.WriteSummary(&sum)
	first, _, _ := strings.Cut(sum.String(), "\n\n")
	fmt.Fprintf(stdout, "%s\nreport in %s/ (summary.txt, report.json, top.txt, heatmap.svg, index.html)\n", first, dir)
	return nil
}

// mergeMain runs `vmm check merge --out DIR SHARD...`: the reports of
// the shards of one run joined into one, as the unsharded run makes it.
func mergeMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("check merge", "--out DIR SHARD-DIR...\n\n"+
		"Joins the reports of the shards of one vmm check run (--shard I/N, each with its own --out)\n"+
		"into one report in DIR.", stderr)
	out := fs.StringP("out", "o", "check-out", "directory for the merged report")
	if code, done := cli.ParseFlags(fs, args); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "vmm check merge: name the shards' output directories")
		return cli.ExitUsage
	}
	var parts []*report.Report
	for _, dir := range fs.Args() {
		f, err := os.Open(filepath.Join(dir, "report.json"))
		if err != nil {
			fmt.Fprintf(stderr, "vmm check merge: %v\n", err)
			return cli.ExitFailure
		}
		r, err := report.ReadJSON(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "vmm check merge: %s: %v\n", dir, err)
			return cli.ExitFailure
		}
		parts = append(parts, r)
	}
	merged, err := report.Merge(parts)
	if err == nil {
		err = os.MkdirAll(*out, 0o755)
	}
	if err == nil {
		err = writeReport(*out, merged, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmm check merge: %v\n", err)
		return cli.ExitFailure
	}
	return 0
}

func readBaseline(path string) (*report.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--baseline: %w", err)
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("--baseline %s: %w", path, err)
	}
	return r, nil
}

// compareBaseline lists the tests conflict-free in the baseline old (read
// from path) that conflict now, and returns how many.
func compareBaseline(old *report.Report, path string, now *report.Report, w io.Writer) int {
	n := 0
	for _, ok := range old.Kernels {
		was := map[int]bool{}
		for _, t := range ok.Tests {
			was[t.ID] = t.ConflictFree()
		}
		for _, nk := range now.Kernels {
			if nk.Name != ok.Name {
				continue
			}
			for _, t := range nk.Tests {
				if was[t.ID] && !t.ConflictFree() {
					if n == 0 {
						fmt.Fprintln(w, "scalability regressions (conflict-free in the baseline, conflicted now):")
					}
					n++
					fmt.Fprintf(w, "  %s: test %d (%s,%s) shares %s\n", nk.Name, t.ID, t.Pair.A, t.Pair.B, t.Shared[0].Addr)
				}
			}
		}
	}
	if n == 0 {
		fmt.Fprintf(w, "no scalability regressions against %s\n", path)
	}
	return n
}

// progress shows tests done, tests per second and time left on a
// terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	total int
	done  int
	start time.Time
	drawn bool
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, on: cli.IsTerminal(w), total: total, start: time.Now()}
}

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if !p.on {
		return
	}
	el := time.Since(p.start)
	rate := float64(p.done) / el.Seconds()
	left := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
	fmt.Fprintf(p.w, "\rvmm check: %d/%d tests, %.1f tests/s, ~%v left\033[K", p.done, p.total, rate, left.Round(time.Second))
	p.drawn = true
}

func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
