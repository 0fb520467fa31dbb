// Package recordcmd implements `vmm record`: it runs a guest like `vmm run`
// (same console output, same exit status) while writing a recording of it
// in the replaylog format to the file -o names. With more than one vCPU the
// order of their memory accesses is recorded with the CREW page-ownership
// protocol, and a summary of it goes to stderr. The vmm command calls Main
// with the arguments after "record"; Record is the recording itself, which
// `vmm bench --record` times.
package recordcmd

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/vmm"
)

// version is written into every log header.
const version = "crewvm 0.1"

// Main runs `vmm record ARGS...` and returns the process exit status: the
// guest's own, or one of cli's.
func Main(args []string, stdout, stderr io.Writer) int {
	var mf cli.MachineFlags
	var out, gran string
	var deadline time.Duration
	var every uint64
	var stats bool
	fs := cli.NewFlagSet("record", "-o FILE [--cpus N] [--mem SIZE] [--guest ELF] [--tests FILE] [--timeout D] [--granularity SIZE]\n"+
		"       [--revoke-deadline D] [--checkpoint-every N] [--stats] [--cpuprofile FILE] [WORKLOAD [ARGS...]]\n\n"+
		"Runs like 'vmm run' (same output, same exit status) and writes a recording to FILE.\n"+
		"With more than one vCPU, the order of their memory accesses is recorded with the\n"+
		"CREW page-ownership protocol; a summary of it goes to stderr, and with --stats a\n"+
		"table of where the recording's CREW time went: each part of a transition with its\n"+
		"count, total, mean, 50th/90th/99th percentile (bucket bounds) and histogram.", stderr)
	mf.Register(fs)
	fs.StringVarP(&out, "output", "o", "", "recording to write (required)")
	fs.StringVar(&gran, "granularity", "4K", "CREW page size: a power of two, at least 4K")
	fs.DurationVar(&deadline, "revoke-deadline", vmm.DefaultRevokeDeadline,
		"how long a transition waits for the page's holder to exit by itself before kicking it")
	fs.Uint64Var(&every, "checkpoint-every", 0,
		"write a checkpoint of the machine about every N exits, where vmm replay --from can start (one vCPU, no disk; 0: none)")
	fs.BoolVar(&stats, "stats", false, "print where the CREW time went (waits, kicks, settling, hashing, mprotect) to stderr")
	if code, done := cli.ParseFlags(fs, args); done {
		return code
	}
	if out == "" {
		fmt.Fprintln(stderr, "vmm record: -o FILE is required")
		return cli.ExitUsage
	}
	cfg, err := mf.Config(fs.Args(), stdout)
	if err == nil {
		cfg.Granularity, err = cli.ParseSize(gran)
		if err != nil || cfg.Granularity < 4096 || cfg.Granularity&(cfg.Granularity-1) != 0 {
			err = fmt.Errorf("--granularity %s: must be a power of two of at least 4K", gran)
		}
	}
	defer cfg.Disk.Close()
	if err == nil && deadline <= 0 {
		err = fmt.Errorf("--revoke-deadline %v: must be positive", deadline)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmm record: %v\n", err)
		return cli.ExitUsage
	}
	cfg.RevokeDeadline, cfg.CheckpointEvery = deadline, every
	stop, err := cli.StartCPUProfile(mf.CPUProfile)
	if err != nil {
		fmt.Fprintf(stderr, "vmm record: %v\n", err)
		return cli.ExitUsage
	}
	res, err := Record(cfg, mf.Guest, out, stderr)
	if perr := stop(); err == nil {
		err = perr
	}
	if err != nil {
		return cli.ReportError(stderr, "record", err)
	}
	if cfg.CPUs > 1 || cfg.Disk != nil {
		s := res.CREW
		fmt.Fprintf(stderr, "vmm record: %d CREW transitions, %d constraints logged (%d implied, not logged), "+
			"%d holders reached an exit within the deadline, %d kicked\n",
			s.Transitions, s.Constraints, s.Elided, s.Deferred, s.Kicks)
		if s.Approximate+s.Fallbacks > 0 {
			fmt.Fprintf(stderr, "vmm record: %d faults on instructions decoded only approximately, %d faults no footprint explained (served by granting every page)\n",
				s.Approximate, s.Fallbacks)
		}
		if stats {
			fmt.Fprintf(stderr, "vmm record: %d reads granted a write for their page's read-then-write history (%d of them unused)\n",
				s.Promoted, s.PromotedUnused)
			WriteCosts(stderr, &s.Costs)
		}
	}
	return res.Status
}

// WriteCosts writes c as a table for people.
func WriteCosts(w io.Writer, c *vmm.CREWCosts) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "part of a transition\tcount\ttotal\tmean\tp50 <=\tp90 <=\tp99 <=\t\thistogram")
	for _, r := range c.Rows() {
		h := r.Hist
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t%v\t%v\t%v\t\t%s\n", r.Name, h.N, h.Total.Round(time.Microsecond),
			h.Mean().Round(100*time.Nanosecond), h.Quantile(0.5), h.Quantile(0.9), h.Quantile(0.99), h.String())
	}
	tw.Flush()
	fmt.Fprintf(w, "settling took %d single-steps\n", c.SettleSteps)
}

// Record runs cfg to its end while writing its recording to path.
// guestPath is the guest ELF cfg.Image was read from, written into the log
// header so that a replay finds it; empty means the built-in kernel. A
// warning about instructions this host cannot trap goes to warn.
func Record(cfg vmm.Config, guestPath, path string, warn io.Writer) (res *vmm.Result, err error) {
	if guestPath == "" {
		guestPath = "builtin"
	}
	m, err := vmm.New(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	hdr := replaylog.Header{
		WriterVersion: version, GuestHash: m.ImageHash(), Guest: guestPath, Args: cfg.Args, Input: cfg.Input,
		VCPUs: uint32(cfg.CPUs), MemSize: cfg.MemSize, PageSize: uint32(max(cfg.Granularity, 4096)), CPUID: vmm.EncodeCPUID(m.CPUID()),
	}
	if cfg.Disk != nil {
		hdr.DiskSize, hdr.DiskReadOnly = cfg.Disk.Size, cfg.Disk.ReadOnly
	}
	w, err := replaylog.Create(path, hdr, replaylog.WriterOptions{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("finish %s: %w", path, cerr)
		}
	}()
	if err := m.RecordTo(w); err != nil {
		return nil, err
	}
	// The built-in guest knows its host (its cpuid and adv-rdtsc workloads
	// say what they see); another guest is warned about.
	if sites := m.Untrappable(); len(sites) > 0 && guestPath != "builtin" {
		fmt.Fprintf(warn, "vmm record: warning: this host cannot trap %d instruction(s) of the guest, whose results the recording will not hold: %s\n",
			len(sites), cli.SummarizeSites(sites))
	}
	return cli.RunUntilInterrupt(m)
}
