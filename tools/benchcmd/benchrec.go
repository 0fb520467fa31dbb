package benchcmd

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/tools/recordcmd"
	"github.com/crewvm/crewvm/tools/replaycmd"
	"github.com/crewvm/crewvm/vmm"
)

// recRow is one line of `vmm bench --record`: a workload's best times for a
// plain run, a recording and its replay, with what the fastest recording
// logged; or, with Kind "geomean", the geometric mean of the ratios over the
// workloads that succeeded. Every row has every key so that a script reading
// the JSON never has to guess which ones a row carries; the ones that do not
// apply to a row (times of the geomean row, anything of a FAILED row after
// the failure) are zero, and OK says whether the numbers can be trusted.
type recRow struct {
	Kind     string   `json:"kind"` // "workload" or "geomean"
	Workload string   `json:"workload"`
	Args     []string `json:"args"`
	CPUs     int      `json:"cpus"`
	OK       bool     `json:"ok"`
	Error    string   `json:"error"`

	// Best host wall time of each mode over the rounds: time.Now around
	// the whole call, so machine setup and the log's final flush count.
	RunS    float64 `json:"run_s"`
	RecordS float64 `json:"record_s"`
	ReplayS float64 `json:"replay_s"`

	RecordOverRun    float64 `json:"record_over_run"`
	ReplayOverRecord float64 `json:"replay_over_record"`

	// From the fastest recording. Rates are per second of its guest time
	// (vmm.Result.Elapsed), which leaves the VMM's setup out.
	RecordGuestS    float64 `json:"record_guest_s"`
	LogBytes        int64   `json:"log_bytes"`
	LogBytesPerS    float64 `json:"log_bytes_per_guest_s"`
	Transitions     uint64  `json:"transitions"`
	TransitionsPerS float64 `json:"transitions_per_guest_s"`
	Constraints     uint64  `json:"constraints"`
	Kicks           uint64  `json:"kicks"`
	StatePositions  uint64  `json:"state_positions"`
}

// benchRecord is `vmm bench --record`: it exits 0 when every workload ran,
// recorded and replayed, and cli.ExitFailure (after the whole table, so one
// bad workload does not hide the others' numbers) when any did not.
func benchRecord(mf *cli.MachineFlags, workloads []string, runs int, asJSON bool, stdout, stderr io.Writer) int {
	if runs < 1 {
		fmt.Fprintf(stderr, "vmm bench: --runs %d: want at least 1\n", runs)
		return cli.ExitUsage
	}
	base, err := mf.Config(nil, io.Discard)
	if err != nil {
		fmt.Fprintf(stderr, "vmm bench: %v\n", err)
		return cli.ExitUsage
	}
	defer base.Disk.Close()
	if len(workloads) == 0 {
		known, err := listWorkloads(base)
		if err != nil {
			return cli.ReportError(stderr, "bench", err)
		}
		workloads = defaultBench(known)
	}
	dir, err := os.MkdirTemp("", "vmm-bench-*")
	if err != nil {
		return cli.ReportError(stderr, "bench", fmt.Errorf("directory for the recordings: %w", err))
	}
	defer os.RemoveAll(dir)

	progress := cli.IsTerminal(stderr)
	var rows []recRow
	failed := 0
	for i, w := range workloads {
		log := filepath.Join(dir, fmt.Sprintf("%d.log", i))
		row := benchRecordOne(base, mf.Guest, log, w, runs, func(round int, mode string) {
			if progress {
				fmt.Fprintf(stderr, "\r\033[K%s on %d vCPUs, round %d/%d: %s", w, base.CPUs, round+1, runs, mode)
			}
		})
		// The log is only needed until its replay; big workloads write
		// big logs, so do not keep one per workload until the end.
		os.Remove(log)
		if !row.OK {
			failed++
		}
		rows = append(rows, row)
	}
	if progress {
		fmt.Fprint(stderr, "\r\033[K")
	}
	rows = append(rows, recGeomean(rows, base.CPUs))

	if asJSON {
		if err := cli.WriteJSON(stdout, rows); err != nil {
			return cli.ReportError(stderr, "bench", fmt.Errorf("write JSON: %w", err))
		}
	} else {
		printBenchRecord(stdout, rows)
	}
	for _, r := range rows {
		if r.Kind == "workload" && !r.OK {
			fmt.Fprintf(stderr, "vmm bench: %s: %s\n", r.Workload, r.Error)
		}
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "vmm bench: %d of %d workloads failed\n", failed, len(workloads))
		return cli.ExitFailure
	}
	return 0
}

// benchRecordOne times w for runs rounds, each a plain run, a recording to
// log and a replay of it, back to back so that all three see the same host
// conditions. The first failure ends the workload: a FAILED row.
func benchRecordOne(base vmm.Config, guestPath, log, w string, runs int, progress func(round int, mode string)) recRow {
	row := recRow{Kind: "workload", Workload: w, Args: benchArgs(w), CPUs: base.CPUs}
	cfg := base
	cfg.Args = row.Args
	fail := func(mode string, round int, err error) recRow {
		row.OK = false
		row.Error = fmt.Sprintf("%s failed in round %d of %d: %v", mode, round+1, runs, err)
		return row
	}
	var bestRun, bestRec, bestRep time.Duration
	for r := 0; r < runs; r++ {
		// The plain run writes to a buffer as the other two do, so that
		// no mode pays for its console more than another.
		var runOut, recOut, repOut bytes.Buffer

		progress(r, "run")
		cfg.Console = &runOut
		t0 := time.Now()
		res, err := cli.RunMachine(cfg)
		dRun := time.Since(t0)
		if err == nil && res.Status != 0 {
			err = fmt.Errorf("guest exited with status %d", res.Status)
		}
		if err != nil {
			return fail("run", r, err)
		}

		progress(r, "record")
		cfg.Console = &recOut
		t0 = time.Now()
		rec, err := recordcmd.Record(cfg, guestPath, log, io.Discard)
		dRec := time.Since(t0)
		if err == nil && rec.Status != 0 {
			err = fmt.Errorf("guest exited with status %d", rec.Status)
		}
		if err != nil {
			return fail("record", r, err)
		}
		fi, err := os.Stat(log)
		if err != nil {
			return fail("record", r, fmt.Errorf("size of the log: %w", err))
		}

		progress(r, "replay")
		t0 = time.Now()
		rep, err := replaycmd.Replay(log, replaycmd.Options{Guest: guestPath, Timeout: base.Timeout}, &repOut)
		dRep := time.Since(t0)
		if err == nil && rep.Status != rec.Status {
			err = fmt.Errorf("guest exited with status %d, the recording with %d", rep.Status, rec.Status)
		}
		if err == nil && !bytes.Equal(repOut.Bytes(), recOut.Bytes()) {
			err = fmt.Errorf("console output differs from the recording's (%d bytes, recorded %d)",
				repOut.Len(), recOut.Len())
		}
		if err != nil {
			return fail("replay", r, err)
		}

		if bestRun == 0 || dRun < bestRun {
			bestRun = dRun
		}
		if bestRec == 0 || dRec < bestRec {
			bestRec = dRec
			s := rec.CREW
			row.RecordGuestS = rec.Elapsed.Seconds()
			row.LogBytes = fi.Size()
			row.Transitions, row.Constraints = s.Transitions, s.Constraints
			row.Kicks, row.StatePositions = s.Kicks, s.StatePositions
		}
		if bestRep == 0 || dRep < bestRep {
			bestRep = dRep
		}
	}
	row.OK = true
	row.RunS, row.RecordS, row.ReplayS = bestRun.Seconds(), bestRec.Seconds(), bestRep.Seconds()
	row.RecordOverRun = ratio(row.RecordS, row.RunS)
	row.ReplayOverRecord = ratio(row.ReplayS, row.RecordS)
	row.LogBytesPerS = ratio(float64(row.LogBytes), row.RecordGuestS)
	row.TransitionsPerS = ratio(float64(row.Transitions), row.RecordGuestS)
	return row
}

// recGeomean summarises the workload rows. A geometric mean, because the
// ratios are factors: one workload twice as slow and one twice as fast
// average to 1x, not 1.25x. Failed rows are left out of it (their numbers
// are missing), and the summary then says so and is not OK.
func recGeomean(rows []recRow, cpus int) recRow {
	g := recRow{Kind: "geomean", Workload: "geomean", Args: []string{}, CPUs: cpus}
	var recRun, repRec []float64
	failed := 0
	for _, r := range rows {
		if r.Kind != "workload" {
			continue
		}
		if !r.OK {
			failed++
			continue
		}
		recRun = append(recRun, r.RecordOverRun)
		repRec = append(repRec, r.ReplayOverRecord)
	}
	a, okA := geomean(recRun)
	b, okB := geomean(repRec)
	g.OK = okA && okB && failed == 0
	if okA && okB {
		g.RecordOverRun, g.ReplayOverRecord = a, b
	}
	switch {
	case !okA || !okB:
		g.Error = fmt.Sprintf("no workload to average (%d failed)", failed)
	case failed > 0:
		g.Error = fmt.Sprintf("over %d workloads; %d failed and are left out", len(recRun), failed)
	}
	return g
}

// geomean is the geometric mean of xs, computed in logarithms so that long
// lists cannot overflow. It is undefined (ok false) for an empty list or a
// value that is not positive, which a ratio of two times never is.
func geomean(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	sum := 0.0
	for _, x := range xs {
		if !(x > 0) || math.IsInf(x, 0) {
			return 0, false
		}
		sum += math.Log(x)
	}
	return math.Exp(sum / float64(len(xs))), true
}

// ratio is a/b, or 0 where b is 0: JSON has no Inf or NaN, and a zero
// denominator here means nothing was measured.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// formatSI prints v with three significant digits and an SI prefix: rates
// span from a few per second to hundreds of millions, and a column of
// 9-digit numbers is hard to compare at a glance.
func formatSI(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	prefixes := []string{"", "k", "M", "G", "T", "P"}
	i := 0
	for math.Abs(v) >= 999.5 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	switch a := math.Abs(v); {
	case a >= 99.95:
		return fmt.Sprintf("%.0f%s", v, prefixes[i])
	case a >= 9.995:
		return fmt.Sprintf("%.1f%s", v, prefixes[i])
	default:
		return fmt.Sprintf("%.2f%s", v, prefixes[i])
	}
}

// formatRatio prints a slowdown factor; "-" when there is none to print.
func formatRatio(r float64) string {
	if !(r > 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// printBenchRecord prints rows as a table. Every row fills every column,
// since tabwriter aligns a column only over consecutive lines that have it;
// a FAILED row's reason goes in a last, unterminated cell that tabwriter
// leaves alone, so a long error message does not widen every column.
func printBenchRecord(w io.Writer, rows []recRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\trun s\trecord s\treplay s\trecord/run\treplay/record\tlog B/s\ttransitions/s\tkicks\t")
	for _, r := range rows {
		switch {
		case r.Kind == "geomean":
			// Last line: stopping after the ratios breaks no column below
			// and leaves no padding of empty cells at the end of the line.
			fmt.Fprintf(tw, "%s\t\t\t\t%s\t%s\t", r.Workload, formatRatio(r.RecordOverRun), formatRatio(r.ReplayOverRecord))
			if r.Error != "" {
				fmt.Fprintf(tw, "  (%s)", r.Error)
			}
			fmt.Fprintln(tw)
		case !r.OK:
			fmt.Fprintf(tw, "%s\tFAILED\t-\t-\t-\t-\t-\t-\t-\t  %s\n", r.Workload, r.Error)
		default:
			fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%s\t%s\t%s\t%s\t%d\t\n", r.Workload,
				r.RunS, r.RecordS, r.ReplayS, formatRatio(r.RecordOverRun), formatRatio(r.ReplayOverRecord),
				formatSI(r.LogBytesPerS), formatSI(r.TransitionsPerS), r.Kicks)
		}
	}
	tw.Flush()
}
