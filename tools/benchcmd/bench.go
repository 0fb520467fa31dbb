// Package benchcmd implements `vmm bench`. Without --record it runs each
// workload (every computing built-in one by default) on each vCPU count of
// --cpus-list, keeps the best of --runs wall times and prints the speedups
// over the first count. With --record it times, on --cpus vCPUs, a plain
// run, a recording and a replay of each workload back to back and prints
// record/run, replay/record and what the recordings logged; a workload
// that fails is a FAILED row and the command then exits with status 125.
// The vmm command calls Main with the arguments after "bench".
package benchcmd

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/vmm"
)

// defaultBench is what `vmm bench` times when given no workloads: every
// built-in workload that computes (the hostile and demo ones are left out).
func defaultBench(known []string) []string {
	skip := map[string]bool{"hello": true, "cpuid": true, "clock": true, "spin-forever": true, "triple-fault": true}
	var out []string
	for _, w := range known {
		if !skip[w] && !strings.HasPrefix(w, "bad-") {
			out = append(out, w)
		}
	}
	return out
}

// benchRow is one workload's best time per CPU count.
type benchRow struct {
	Workload string             `json:"workload"`
	Seconds  map[string]float64 `json:"seconds"`
	Speedup  map[string]float64 `json:"speedup"`
}

// Main runs `vmm bench ARGS...` and returns the process exit status: 0,
// or one of cli's.
func Main(args []string, stdout, stderr io.Writer) int {
	var mf cli.MachineFlags
	var cpuList string
	var runs int
	var asJSON, recordMode bool
	fs := cli.NewFlagSet("bench", "[--cpus-list 1,2] [--runs N] [--json] [WORKLOAD...]\n"+
		"       vmm bench --record [--cpus N] [--runs N] [--json] [WORKLOAD...]\n\n"+
		"Runs each workload (all computing built-in ones by default) on each vCPU count,\n"+
		"keeps the best of --runs wall times and prints speedups relative to the first count.\n\n"+
		"With --record, each round runs the workload on --cpus vCPUs three times back to\n"+
		"back: plainly, recorded to a temporary log, and replayed from that log. It prints\n"+
		"the best host wall time of each (the whole call: machine setup, guest, log flush),\n"+
		"record/run and replay/record, and from the fastest recording its log bytes and\n"+
		"CREW transitions per second of guest time and its kicks; the last row is the\n"+
		"geometric mean of the ratios. A run, record or replay that fails (a replay also\n"+
		"when its status or console output differs from the recording's) is a FAILED row,\n"+
		"and the command exits with status 125 after the table.\n\n"+
		"A WORKLOAD with arguments is NAME:ARG1,ARG2 (e.g. racy-counter:20000) or one\n"+
		"quoted word \"NAME ARG1 ARG2\".", stderr)
	mf.Register(fs)
	// --cpus-list says which counts to compare; --cpus is for --record only.
	fs.Lookup("cpus").Usage = "number of vCPUs for --record (without it, see --cpus-list)"
	fs.StringVar(&cpuList, "cpus-list", "1,2", "comma-separated vCPU counts to compare")
	fs.IntVar(&runs, "runs", 3, "runs per workload and count; the best is kept")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	fs.BoolVar(&recordMode, "record", false, "time run, record and replay of each workload on --cpus vCPUs")
	if code, done := cli.ParseFlags(fs, args); done {
		return code
	}
	stop, err := cli.StartCPUProfile(mf.CPUProfile)
	if err != nil {
		fmt.Fprintf(stderr, "vmm bench: %v\n", err)
		return cli.ExitUsage
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintf(stderr, "vmm bench: %v\n", err)
		}
	}()
	if recordMode {
		// Refuse rather than ignore: whoever wrote --cpus-list expects it
		// to change what is measured. (Without --record, --cpus stays
		// accepted and unused, as it always was.)
		if fs.Changed("cpus-list") {
			fmt.Fprintln(stderr, "vmm bench: --cpus-list compares vCPU counts; with --record use --cpus N")
			return cli.ExitUsage
		}
		return benchRecord(&mf, fs.Args(), runs, asJSON, stdout, stderr)
	}
	counts, err := parseCounts(cpuList)
	if err != nil || runs < 1 {
		fmt.Fprintf(stderr, "vmm bench: --cpus-list %q / --runs %d: %v\n", cpuList, runs, err)
		return cli.ExitUsage
	}
	base, err := mf.Config(nil, io.Discard)
	if err != nil {
		fmt.Fprintf(stderr, "vmm bench: %v\n", err)
		return cli.ExitUsage
	}
	defer base.Disk.Close()
	workloads := fs.Args()
	if len(workloads) == 0 {
		known, err := listWorkloads(base)
		if err != nil {
			return cli.ReportError(stderr, "bench", err)
		}
		workloads = defaultBench(known)
	}
	progress := cli.IsTerminal(stderr)
	var rows []benchRow
	for _, w := range workloads {
		row := benchRow{Workload: w, Seconds: map[string]float64{}, Speedup: map[string]float64{}}
		for _, n := range counts {
			best := time.Duration(0)
			for r := 0; r < runs; r++ {
				if progress {
					fmt.Fprintf(stderr, "\r\033[K%s on %d vCPUs, run %d/%d", w, n, r+1, runs)
				}
				cfg := base
				cfg.CPUs, cfg.Args = n, benchArgs(w)
				res, err := cli.RunMachine(cfg)
				if err == nil && res.Status != 0 {
					err = fmt.Errorf("guest exited with status %d", res.Status)
				}
				if err != nil {
					if progress {
						fmt.Fprintln(stderr)
					}
					return cli.ReportError(stderr, "bench", fmt.Errorf("%s on %d vCPUs: %w", w, n, err))
				}
				if best == 0 || res.Elapsed < best {
					best = res.Elapsed
				}
			}
			row.Seconds[strconv.Itoa(n)] = best.Seconds()
		}
		first := row.Seconds[strconv.Itoa(counts[0])]
		for _, n := range counts {
			row.Speedup[strconv.Itoa(n)] = first / row.Seconds[strconv.Itoa(n)]
		}
		rows = append(rows, row)
	}
	if progress {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if asJSON {
		if err := cli.WriteJSON(stdout, rows); err != nil {
			return cli.ReportError(stderr, "bench", fmt.Errorf("write JSON: %w", err))
		}
		return 0
	}
	printBench(stdout, rows, counts)
	return 0
}

func printBench(w io.Writer, rows []benchRow, counts []int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "workload\t")
	for _, n := range counts {
		fmt.Fprintf(tw, "%d vCPU s\t", n)
	}
	for _, n := range counts[1:] {
		fmt.Fprintf(tw, "speedup %d/%d\t", n, counts[0])
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t", r.Workload)
		for _, n := range counts {
			fmt.Fprintf(tw, "%.3f\t", r.Seconds[strconv.Itoa(n)])
		}
		for _, n := range counts[1:] {
			fmt.Fprintf(tw, "%.2fx\t", r.Speedup[strconv.Itoa(n)])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad vCPU count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchArgs turns a WORKLOAD word of `vmm bench` into the guest's
// arguments. NAME:ARG1,ARG2 exists because shells and scripts pass a list of
// single words more easily than quoted phrases; the older quoted form
// "NAME ARG1 ARG2" still works (no workload name contains a colon).
func benchArgs(w string) []string {
	name, rest, ok := strings.Cut(w, ":")
	if !ok {
		return strings.Fields(w)
	}
	args := []string{strings.TrimSpace(name)}
	for _, a := range strings.Split(rest, ",") {
		if a = strings.TrimSpace(a); a != "" {
			args = append(args, a)
		}
	}
	return args
}

// listWorkloads asks the guest for its workloads (`vmm run list`).
func listWorkloads(base vmm.Config) ([]string, error) {
	var out bytes.Buffer
	cfg := base
	cfg.CPUs, cfg.Args, cfg.Console = 1, []string{"list"}, &out
	if _, err := cli.RunMachine(cfg); err != nil {
		return nil, fmt.Errorf("list workloads: %w", err)
	}
	var names []string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}
