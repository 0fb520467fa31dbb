package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm"
)

// version is written into every log header.
const version = "crewvm 0.1"

func cmdRecord(args []string, stdout, stderr io.Writer) int {
	var mf machineFlags
	var out, gran string
	var deadline time.Duration
	fs := newFlagSet("record", "-o FILE [--cpus N] [--mem SIZE] [--guest ELF] [--timeout D] [--granularity SIZE]\n"+
		"       [--revoke-deadline D] [WORKLOAD [ARGS...]]\n\n"+
		"Runs like 'vmm run' (same output, same exit status) and writes a recording to FILE.\n"+
		"With more than one vCPU, the order of their memory accesses is recorded with the\n"+
		"CREW page-ownership protocol; a summary of it goes to stderr.", stderr)
	mf.register(fs)
	fs.StringVarP(&out, "output", "o", "", "recording to write (required)")
	fs.StringVar(&gran, "granularity", "4K", "CREW page size: a power of two, at least 4K")
	fs.DurationVar(&deadline, "revoke-deadline", vmm.DefaultRevokeDeadline,
		"how long a transition waits for the page's holder to exit by itself before kicking it")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if out == "" {
		fmt.Fprintln(stderr, "vmm record: -o FILE is required")
		return exitUsage
	}
	cfg, err := mf.config(fs.Args(), stdout)
	if err == nil {
		cfg.Granularity, err = parseSize(gran)
		if err != nil || cfg.Granularity < 4096 || cfg.Granularity&(cfg.Granularity-1) != 0 {
			err = fmt.Errorf("--granularity %s: must be a power of two of at least 4K", gran)
		}
	}
	if err == nil && deadline <= 0 {
		err = fmt.Errorf("--revoke-deadline %v: must be positive", deadline)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmm record: %v\n", err)
		return exitUsage
	}
	cfg.RevokeDeadline = deadline
	res, err := record(cfg, mf.guest, out, stderr)
	if err != nil {
		return reportError(stderr, "record", err)
	}
	if cfg.CPUs > 1 {
		s := res.CREW
		fmt.Fprintf(stderr, "vmm record: %d CREW transitions, %d constraints logged (%d implied, not logged), "+
			"%d holders reached an exit within the deadline, %d kicked\n",
			s.Transitions, s.Constraints, s.Elided, s.Deferred, s.Kicks)
		if s.Approximate+s.Fallbacks > 0 {
			fmt.Fprintf(stderr, "vmm record: %d faults on instructions decoded only approximately, %d faults no footprint explained (served by granting every page)\n",
				s.Approximate, s.Fallbacks)
		}
	}
	return res.Status
}

// record runs cfg while writing its log to path.
func record(cfg vmm.Config, guestPath, path string, warn io.Writer) (res *vmm.Result, err error) {
	if guestPath == "" {
		guestPath = "builtin"
	}
	m, err := vmm.New(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	hdr := replaylog.Header{
		WriterVersion: version, GuestHash: m.ImageHash(), Guest: guestPath, Args: cfg.Args,
		VCPUs: uint32(cfg.CPUs), MemSize: cfg.MemSize, PageSize: uint32(max(cfg.Granularity, 4096)), CPUID: vmm.EncodeCPUID(m.CPUID()),
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
			len(sites), summarizeSites(sites))
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	return m.Run(ctx)
}

func cmdReplay(args []string, stdout, stderr io.Writer) int {
	var guestPath string
	var timeout, seekTimeout time.Duration
	fs := newFlagSet("replay", "FILE [--guest ELF] [--timeout D]\n\n"+
		"Re-executes a recording: same console output and exit status, every logged input\n"+
		"checked, final registers and memory compared. A divergence is an error naming\n"+
		"the log event, the vCPU, its RIP and what differs (exit status 125).", stderr)
	fs.StringVar(&guestPath, "guest", "", "guest ELF, when the log names a file that moved")
	fs.DurationVar(&timeout, "timeout", 0, "stop the replay after this long (0: no limit)")
	fs.DurationVar(&seekTimeout, "seek-timeout", vmm.DefaultSeekTimeout,
		"report a divergence when a vCPU runs this long without reaching a recorded state position")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vmm replay: want exactly one FILE")
		return exitUsage
	}
	res, err := replay(fs.Arg(0), guestPath, timeout, seekTimeout, stdout)
	if err != nil {
		return reportError(stderr, "replay", err)
	}
	fmt.Fprintf(stderr, "vmm replay: matched the recording (guest status %d)\n", res.Status)
	return res.Status
}

// replay re-executes the recording at path.
func replay(path, guestPath string, timeout, seekTimeout time.Duration, console io.Writer) (*vmm.Result, error) {
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
	cpuid, err := vmm.DecodeCPUID(h.CPUID)
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if h.Minor < 1 {
		return nil, fmt.Errorf("%s: format %d.%d was written before halts were logged; record it again", path, h.Major, h.Minor)
	}
	cfg := vmm.Config{CPUs: int(h.VCPUs), MemSize: h.MemSize, Image: image, Args: h.Args,
		Console: console, Replay: r, CPUID: cpuid, Timeout: timeout, SeekTimeout: seekTimeout, Granularity: uint64(h.PageSize)}
	m, err := vmm.New(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if got := m.ImageHash(); got != h.GuestHash {
		return nil, fmt.Errorf("%s was recorded with another guest image than %s (hash %x, recorded %x)",
			path, src, got[:8], h.GuestHash[:8])
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	res, err := m.Run(ctx)
	var div *vmm.DivergenceError
	if sites := m.Untrappable(); errors.As(err, &div) && len(sites) > 0 && h.Guest != "builtin" {
		err = fmt.Errorf("%w (this host cannot trap %s in the guest image, whose results the recording does not hold; a guest that uses them cannot replay)",
			err, summarizeSites(sites))
	}
	return res, err
}

// summarizeSites names the first few sites of a warning.
func summarizeSites(sites []vmm.NondetSite) string {
	var b strings.Builder
	for i, s := range sites {
		if i == 4 {
			fmt.Fprintf(&b, ", and %d more", len(sites)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.String())
	}
	return b.String()
}
