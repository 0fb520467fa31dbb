// Package replaycmd implements `vmm replay`: it re-executes a recording
// written by `vmm record` with the same console output and exit status,
// checking every logged input and comparing the final registers and
// memory. A divergence is an error naming the log event, the vCPU, its RIP
// and what differs (exit status 125). The vmm command calls Main with the
// arguments after "replay"; Replay is the replay itself, which
// `vmm bench --record` times.
package replaycmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/vmm"
)

// Main runs `vmm replay ARGS...` and returns the process exit status: the
// recorded guest's own, or one of cli's.
func Main(args []string, stdout, stderr io.Writer) int {
	var o Options
	var names string
	var cacheLine bool
	fs := cli.NewFlagSet("replay", "FILE [--guest ELF] [--timeout D] [--from EVENT] [--to EVENT] [--analysis NAME[,NAME...] --out DIR]\n\n"+
		"Re-executes a recording: same console output and exit status, every logged input\n"+
		"checked, final registers and memory compared. A divergence is an error naming\n"+
		"the log event, the vCPU, its RIP and what differs (exit status 125).\n\n"+
		"With --from the replay starts at the last checkpoint at or before log event EVENT\n"+
		"(vmm record --checkpoint-every writes them; vmm log stat counts them), so reaching\n"+
		"a point costs the replay from the checkpoint before it, not from the start. With\n"+
		"--to it stops once a vCPU has consumed log event EVENT (exit status 0).\n\n"+
		"With --analysis the replay runs in trace mode: every guest data access inside the\n"+
		"test regions (HC_REGION_BEGIN/END; --trace-everywhere for all of the run) goes to\n"+
		"the analyses, each of which writes DIR/NAME.txt and DIR/NAME.json:\n"+
		"  trace    the access stream, in DIR/"+analysis.TraceFile+" (vmm log dump reads it)\n"+
		"  sharing  per region, the memory two CPUs touched, one writing (--cache-line: by\n"+
		"           64-byte line, so false sharing shows too)", stderr)
	fs.StringVar(&o.Guest, "guest", "", "guest ELF, when the log names a file that moved")
	fs.DurationVar(&o.Timeout, "timeout", 0, "stop the replay after this long (0: no limit)")
	from := fs.Int64("from", -1, "start at the last checkpoint at or before this log event (-1: the start)")
	to := fs.Int64("to", -1, "stop at the first exit of a vCPU that has consumed this log event or a later one (-1: the end)")
	fs.DurationVar(&o.SeekTimeout, "seek-timeout", vmm.DefaultSeekTimeout,
		"report a divergence when a vCPU runs this long without reaching a recorded state position")
	fs.StringVar(&names, "analysis", "", "analyses to run, comma-separated: "+strings.Join(analysis.Names(), ", "))
	fs.StringVar(&o.Out, "out", "", "directory for the analyses' results (created)")
	fs.BoolVar(&cacheLine, "cache-line", false, "sharing: compare by 64-byte cache line")
	fs.BoolVar(&o.Everywhere, "trace-everywhere", false, "trace the whole run, not only test regions")
	fs.BoolVar(&o.Fetches, "trace-fetches", false, "deliver instruction fetches too")
	var ranges []string
	fs.StringArrayVar(&ranges, "trace-range", nil, "deliver only accesses to guest-physical LO-HI (hex; repeatable)")
	if code, done := cli.ParseFlags(fs, args); done {
		return code
	}
	if *from >= 0 {
		o.From, o.Notes = new(uint64(*from)), stderr
	}
	if *to >= 0 {
		o.To = new(uint64(*to))
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vmm replay: want exactly one FILE")
		return cli.ExitUsage
	}
	for _, s := range ranges {
		r, err := parseRange(s)
		if err != nil {
			fmt.Fprintf(stderr, "vmm replay: --trace-range %q: %v\n", s, err)
			return cli.ExitUsage
		}
		o.Ranges = append(o.Ranges, r)
	}
	if names != "" {
		var err error
		if o.Analyses, err = analysis.ByName(names, analysis.Options{CacheLine: cacheLine}); err != nil {
			fmt.Fprintf(stderr, "vmm replay: --analysis: %v\n", err)
			return cli.ExitUsage
		}
		if o.Out == "" {
			fmt.Fprintln(stderr, "vmm replay: --analysis needs --out DIR")
			return cli.ExitUsage
		}
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			fmt.Fprintf(stderr, "vmm replay: --out: %v\n", err)
			return cli.ExitUsage
		}
	}
	res, err := Replay(fs.Arg(0), o, stdout)
	var stopped *Stopped
	if errors.As(err, &stopped) {
		fmt.Fprintf(stderr, "vmm replay: %v, matching the recording up to there\n", stopped)
		return 0
	}
	if err != nil {
		return cli.ReportError(stderr, "replay", err)
	}
	fmt.Fprintf(stderr, "vmm replay: matched the recording (guest status %d)\n", res.Status)
	if len(o.Analyses) > 0 {
		fmt.Fprintf(stderr, "vmm replay: traced %d instructions, %d accesses; analyses written to %s\n",
			res.Traced.Steps, res.Traced.Accesses, o.Out)
	}
	return res.Status
}

// Options are a replay's settings beyond its log.
type Options struct {
	// Guest overrides the guest image the log header names (empty: the
	// one it names).
	Guest string
	// Timeout stops the replay after that long (0: no limit).
	Timeout time.Duration
	// From, when set, starts at the last checkpoint at or before that
	// log event; Notes, when set, is told which. To, when set, stops the
	// replay (a *Stopped error) at the first exit of a vCPU that has
	// consumed that event or a later one.
	From, To *uint64
	Notes    io.Writer
	// SeekTimeout is vmm.Config.SeekTimeout (0: the default).
	SeekTimeout time.Duration
	// Analyses make it a trace-mode replay writing to Out.
	Analyses            []analysis.Analysis
	Out                 string
	Everywhere, Fetches bool
	Ranges              []vmm.TraceRange
}

// Stopped says where a replay with Options.To stopped.
type Stopped struct {
	CPU           int
	Exits, Events uint64
}

func (s *Stopped) Error() string {
	return fmt.Sprintf("stopped after log event %d: vCPU %d at its exit %d", s.Events-1, s.CPU, s.Exits)
}

// parseRange reads "LO-HI", two hex addresses (0x optional), LO < HI.
func parseRange(s string) (vmm.TraceRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return vmm.TraceRange{}, fmt.Errorf("want LO-HI")
	}
	var r vmm.TraceRange
	var err error
	if r.Lo, err = strconv.ParseUint(strings.TrimPrefix(lo, "0x"), 16, 64); err == nil {
		r.Hi, err = strconv.ParseUint(strings.TrimPrefix(hi, "0x"), 16, 64)
	}
	if err != nil {
		return vmm.TraceRange{}, fmt.Errorf("want hex addresses: %w", err)
	}
	if r.Lo >= r.Hi {
		return vmm.TraceRange{}, fmt.Errorf("empty range")
	}
	return r, nil
}

// Replay re-executes the recording at path with its console on console.
func Replay(path string, o Options, console io.Writer) (*vmm.Result, error) {
	guestPath := o.Guest
	r, err := replaylog.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := r.Header()
	image := guest.Kernel
	src := "the built-in guest"
	if guestPath == "" && h.Guest != "builtin" {
		guestPath = h.Guest
	}
	if guestPath != "" {
		if image, err = os.ReadFile(guestPath); err != nil {
			return nil, fmt.Errorf("guest image of %s: %w", path, err)
		}
		src = guestPath
	}
	cfg, err := vmm.ReplayConfig(r, image)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Console, cfg.Timeout, cfg.SeekTimeout = console, o.Timeout, o.SeekTimeout
	if o.To != nil {
		to := *o.To
		cfg.Watch = &vmm.Watch{Exit: func(p *vmm.WatchPoint) error {
			if n := p.Events(); n > to {
				return &Stopped{CPU: p.CPU, Exits: p.Exits, Events: n}
			}
			return nil
		}}
	}
	if o.From != nil {
		i, ok := r.CheckpointBefore(*o.From)
		if ok {
			cfg.FromCheckpoint = &i
		}
		if o.Notes != nil && ok {
			fmt.Fprintf(o.Notes, "vmm replay: starting at checkpoint %d, before log event %d\n", i, r.Checkpoints()[i].Event)
		} else if o.Notes != nil {
			fmt.Fprintf(o.Notes, "vmm replay: no checkpoint at or before log event %d: starting at the beginning\n", *o.From)
		}
	}
	cfg.Analyses, cfg.AnalysisDir = o.Analyses, o.Out
	cfg.TraceEverywhere, cfg.TraceFetches, cfg.TraceRanges = o.Everywhere, o.Fetches, o.Ranges
	m, err := vmm.New(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if got := m.ImageHash(); got != h.GuestHash {
		return nil, fmt.Errorf("%s was recorded with another guest image than %s (hash %x, recorded %x)",
			path, src, got[:8], h.GuestHash[:8])
	}
	res, err := cli.RunUntilInterrupt(m)
	var div *vmm.DivergenceError
	if sites := m.Untrappable(); errors.As(err, &div) && len(sites) > 0 && h.Guest != "builtin" {
		err = fmt.Errorf("%w (this host cannot trap %s in the guest image, whose results the recording does not hold; a guest that uses them cannot replay)",
			err, cli.SummarizeSites(sites))
	}
	return res, err
}
