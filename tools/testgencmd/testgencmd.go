// Package testgencmd implements `vmm testgen`: it checks a model's call
// sets for commutativity and writes the generated tests to a file in the
// format of package testgen. The vmm binary calls Main with the arguments
// that follow "testgen".
package testgencmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/crewvm/crewvm/models/commute"
	"github.com/crewvm/crewvm/models/posix"
	"github.com/crewvm/crewvm/models/testgen"
	"github.com/crewvm/crewvm/models/toy"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the run failed (output not written), or --strict and a set was incomplete
	exitUsage = 2 // bad command line
)

// Models returns the models testgen knows, by name.
func Models() []commute.Model {
	return append([]commute.Model{posix.Model()}, toy.Models()...)
}

const usage = `usage: vmm testgen --model NAME [--calls A,B,...] [-n 2] [--max-tests-per-path N]
                    [-j JOBS] [--timeout-per-set D] -o FILE
       vmm testgen --list

Checks every set of N calls of a model for commutativity (all orders of the
calls from one symbolic initial state) and writes a concrete test for each
isomorphism class of each commutative path, up to --max-tests-per-path, to
FILE (see models/testgen/FORMAT.md; "-" writes to standard output). Call
sets run in parallel; a set that exceeds --timeout-per-set is reported and
skipped.

Options:
`

type options struct {
	model        string
	calls        []string
	n            int
	maxTests     int
	jobs         int
	timeout      time.Duration
	queryTimeout time.Duration
	out          string
	list         bool
	help         bool
	verbose      bool
	strict       bool
}

// Main runs the command and returns its exit status. It never calls
// os.Exit; an interrupt (SIGINT) cancels the run.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return MainContext(ctx, args, stdout, stderr)
}

// MainContext is Main with a caller-provided context.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("testgen", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.model, "model", "", "model to check (see --list)")
	fs.StringSliceVar(&o.calls, "calls", nil, "calls to combine, comma-separated (default: all calls of the model)")
	fs.IntVarP(&o.n, "calls-per-set", "n", 2, "number of calls per set")
	fs.IntVar(&o.maxTests, "max-tests-per-path", commute.DefaultMaxTestsPerPath, "tests to generate per commutative path (0: only count paths)")
	fs.IntVarP(&o.jobs, "jobs", "j", runtime.NumCPU(), "call sets to explore in parallel")
	fs.DurationVar(&o.timeout, "timeout-per-set", 5*time.Minute, "time limit per call set (0: none)")
	fs.DurationVar(&o.queryTimeout, "query-timeout", commute.DefaultQueryTimeout, "time limit per solver query")
	fs.StringVarP(&o.out, "output", "o", "", `test file to write ("-" for standard output)`)
	fs.BoolVar(&o.list, "list", false, "list models and their calls")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print a line per call set")
	fs.BoolVar(&o.strict, "strict", false, "exit with status 1 if a call set timed out or failed")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "testgen: %v\nRun 'vmm testgen --help' for usage.\n", err)
		return exitUsage
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return exitOK
	}
	models := Models()
	if o.list {
		listModels(stdout, models)
		return exitOK
	}
	m, sets, err := resolve(&o, fs.Args(), models)
	if err != nil {
		fmt.Fprintf(stderr, "testgen: %v\n", err)
		return exitUsage
	}
	return run(ctx, &o, m, sets, stdout, stderr)
}

func listModels(w io.Writer, models []commute.Model) {
	for i, m := range models {
		info := m.Info()
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n", info.Name, info.Doc)
		for _, c := range info.Calls {
			fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Doc)
		}
	}
}

// resolve validates the options and computes the call sets.
func resolve(o *options, rest []string, models []commute.Model) (commute.Model, [][]string, error) {
	if len(rest) > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", rest[0])
	}
	var names []string
	var m commute.Model
	for _, x := range models {
		names = append(names, x.Info().Name)
		if x.Info().Name == o.model {
			m = x
		}
	}
	switch {
	case o.model == "":
		return nil, nil, fmt.Errorf("--model is required (models: %s)", strings.Join(names, ", "))
	case m == nil:
		return nil, nil, fmt.Errorf("unknown model %q (models: %s)", o.model, strings.Join(names, ", "))
	case o.out == "":
		return nil, nil, errors.New("-o FILE is required")
	case o.n < 1 || o.n > 4:
		return nil, nil, fmt.Errorf("-n %d: want 1 to 4 calls per set", o.n)
	case o.jobs < 1:
		return nil, nil, fmt.Errorf("-j %d: want at least 1", o.jobs)
	case o.maxTests < 0:
		return nil, nil, fmt.Errorf("--max-tests-per-path %d: want 0 or more", o.maxTests)
	case o.timeout < 0 || o.queryTimeout < 0:
		return nil, nil, errors.New("timeouts must not be negative")
	}
	info := m.Info()
	calls := info.CallNames()
	if len(o.calls) > 0 {
		known := map[string]bool{}
		for _, c := range calls {
			known[c] = true
		}
		seen := map[string]bool{}
		var picked []string
		for _, c := range o.calls {
			c = strings.TrimSpace(c)
			if !known[c] {
				return nil, nil, fmt.Errorf("model %s has no call %q (calls: %s)", info.Name, c, strings.Join(calls, ", "))
			}
			if !seen[c] {
				seen[c] = true
				picked = append(picked, c)
			}
		}
		calls = picked
	}
	return m, commute.CallSets(calls, o.n), nil
}

// run explores the call sets in parallel and writes the results in order.
func run(ctx context.Context, o *options, m commute.Model, sets [][]string, stdout, stderr io.Writer) int {
	info := m.Info()
	report := stdout
	var out io.Writer
	var tmp *os.File
	if o.out == "-" {
		out, report = stdout, stderr
	} else {
		var err error
		tmp, err = os.CreateTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".*.tmp")
		if err != nil {
			fmt.Fprintf(stderr, "testgen: creating output: %v\n", err)
			return exitFail
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		out = tmp
	}
	w, err := testgen.NewWriter(out, info.Name, info.Params)
	if err != nil {
		fmt.Fprintf(stderr, "testgen: %v\n", err)
		return exitFail
	}
	w.Comment(fmt.Sprintf("vmm testgen --model %s -n %d --max-tests-per-path %d: %d call sets", info.Name, o.n, o.maxTests, len(sets)))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	maxTests := o.maxTests
	if maxTests == 0 {
		maxTests = -1
	}
	opts := commute.Options{MaxTestsPerPath: maxTests, QueryTimeout: o.queryTimeout}
	if o.queryTimeout == 0 {
		opts.QueryTimeout = 24 * time.Hour
	}

	start := time.Now()
	prog := newProgress(stderr, len(sets), start)
	defer prog.stop()

	type done struct {
		i int
		r *commute.SetResult
	}
	work := make(chan int)
	results := make(chan done)
	var wg sync.WaitGroup
	jobs := min(o.jobs, len(sets))
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				sctx, scancel := ctx, context.CancelFunc(func() {})
				if o.timeout > 0 {
					sctx, scancel = context.WithTimeout(ctx, o.timeout)
				}
				r := m.RunSet(sctx, sets[i], opts)
				scancel()
				select {
				case results <- done{i, r}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range sets {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	var all []*commute.SetResult
	pending := map[int]*commute.SetResult{}
	next := 0
	var tot totals
	for d := range results {
		pending[d.i] = d.r
		tot.add(d.r)
		prog.update(tot)
		for pending[next] != nil {
			r := pending[next]
			delete(pending, next)
			all = append(all, r)
			if r.Status != testgen.StatusOK {
				w.Comment(fmt.Sprintf("set %d (%s): %s: %v", next+1, strings.Join(r.Calls, ","), r.Status, r.Err))
			}
			if err := w.WriteSet(&testgen.Set{Calls: r.Calls, Tests: r.Tests, Summary: r.Summary()}); err != nil {
				prog.stop()
				fmt.Fprintf(stderr, "testgen: writing %s: %v\n", o.out, err)
				return exitFail
			}
			r.Tests = nil // written; let them go
			next++
		}
	}
	prog.stop()
	if err := ctx.Err(); err != nil {
		fmt.Fprintf(stderr, "testgen: interrupted after %d of %d call sets; %s not written\n", next, len(sets), o.out)
		return exitFail
	}
	if err := w.Close(); err != nil {
		fmt.Fprintf(stderr, "testgen: writing %s: %v\n", o.out, err)
		return exitFail
	}
	if tmp != nil {
		if err := tmp.Chmod(0o644); err != nil {
			fmt.Fprintf(stderr, "testgen: %v\n", err)
			return exitFail
		}
		if err := tmp.Close(); err != nil {
			fmt.Fprintf(stderr, "testgen: writing %s: %v\n", o.out, err)
			return exitFail
		}
		if err := os.Rename(tmp.Name(), o.out); err != nil {
			fmt.Fprintf(stderr, "testgen: %v\n", err)
			return exitFail
		}
		tmp = nil
	}
	summarize(report, o, info.Name, all, time.Since(start))
	if o.strict && tot.incomplete > 0 {
		return exitFail
	}
	return exitOK
}

type totals struct {
	sets, paths, commutative, tests, errors, incomplete int
}

func (t *totals) add(r *commute.SetResult) {
	t.sets++
	t.paths += r.Paths
	t.commutative += r.Commutative
	t.tests += r.NumTests
	t.errors += r.Errors
	if r.Status != testgen.StatusOK {
		t.incomplete++
	}
}

// summarize prints the end-of-run report: optional per-set lines, then
// totals and the sets that did not complete.
func summarize(w io.Writer, o *options, model string, all []*commute.SetResult, elapsed time.Duration) {
	var t totals
	var bad []*commute.SetResult
	width := 0
	for _, r := range all {
		width = max(width, len(strings.Join(r.Calls, ",")))
	}
	for _, r := range all {
		t.sets++
		t.paths += r.Paths
		t.commutative += r.Commutative
		t.tests += r.Summary().Tests
		t.errors += r.Errors
		if r.Status != testgen.StatusOK {
			bad = append(bad, r)
		}
		if o.verbose {
			fmt.Fprintf(w, "%-*s  %-7s paths %5d  commutative %5d  tests %6d  errors %d  %v\n",
				width, strings.Join(r.Calls, ","), r.Status, r.Paths, r.Commutative, r.Summary().Tests, r.Errors, r.Elapsed.Round(time.Millisecond))
		}
	}
	rate := float64(t.tests) / elapsed.Seconds()
	fmt.Fprintf(w, "%s: %d call sets, %d paths (%d commutative), %d tests in %v (%.0f tests/s), %d errors\n",
		model, t.sets, t.paths, t.commutative, t.tests, elapsed.Round(time.Millisecond), rate, t.errors)
	sort.Slice(bad, func(i, j int) bool { return strings.Join(bad[i].Calls, ",") < strings.Join(bad[j].Calls, ",") })
	for _, r := range bad {
		fmt.Fprintf(w, "  %s %s: %v\n", strings.Join(r.Calls, ","), r.Status, r.Err)
	}
	if o.out != "-" {
		fmt.Fprintf(w, "wrote %s\n", o.out)
	}
}
