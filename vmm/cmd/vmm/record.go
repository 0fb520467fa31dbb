package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm"
)

// version is written into every log header.
const version = "crewvm 0.1"

func cmdRecord(args []string, stdout, stderr io.Writer) int {
	var mf machineFlags
	var out string
	fs := newFlagSet("record", "-o FILE [--cpus 1] [--mem SIZE] [--guest ELF] [--timeout D] [WORKLOAD [ARGS...]]\n\n"+
		"Runs like 'vmm run' (same output, same exit status) and writes a recording to FILE.\n"+
		"Recording more than one vCPU needs the CREW recorder, which is not built yet.", stderr)
	mf.register(fs)
	fs.StringVarP(&out, "output", "o", "", "recording to write (required)")
	fs.Lookup("cpus").DefValue = "1"
	mf.cpus = 1
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if out == "" {
		fmt.Fprintln(stderr, "vmm record: -o FILE is required")
		return exitUsage
	}
	cfg, err := mf.config(fs.Args(), stdout)
	if err != nil {
		fmt.Fprintf(stderr, "vmm record: %v\n", err)
		return exitUsage
	}
	res, err := record(cfg, mf.guest, out)
	if err != nil {
		return reportError(stderr, "record", err)
	}
	return res.Status
}

// record runs cfg while writing its log to path.
func record(cfg vmm.Config, guestPath, path string) (res *vmm.Result, err error) {
	if guestPath == "" {
		guestPath = "builtin"
	}
	m, err := vmm.New(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := m.Recordable(); err != nil {
		return nil, err
	}
	hdr := replaylog.Header{
		WriterVersion: version, GuestHash: m.ImageHash(), Guest: guestPath, Args: cfg.Args,
		VCPUs: uint32(cfg.CPUs), MemSize: cfg.MemSize, PageSize: 4096, CPUID: vmm.EncodeCPUID(m.CPUID()),
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
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	return m.Run(ctx)
}

func cmdReplay(args []string, stdout, stderr io.Writer) int {
	var guestPath string
	var timeout time.Duration
	fs := newFlagSet("replay", "FILE [--guest ELF] [--timeout D]\n\n"+
		"Re-executes a recording: same console output and exit status, every logged input\n"+
		"checked, final registers and memory compared. A divergence is an error naming\n"+
		"the log event, the vCPU, its RIP and what differs (exit status 125).", stderr)
	fs.StringVar(&guestPath, "guest", "", "guest ELF, when the log names a file that moved")
	fs.DurationVar(&timeout, "timeout", 0, "stop the replay after this long (0: no limit)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vmm replay: want exactly one FILE")
		return exitUsage
	}
	res, err := replay(fs.Arg(0), guestPath, timeout, stdout)
	if err != nil {
		return reportError(stderr, "replay", err)
	}
	fmt.Fprintf(stderr, "vmm replay: matched the recording (guest status %d)\n", res.Status)
	return res.Status
}

// replay re-executes the recording at path.
func replay(path, guestPath string, timeout time.Duration, console io.Writer) (*vmm.Result, error) {
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
	cfg := vmm.Config{CPUs: int(h.VCPUs), MemSize: h.MemSize, Image: image, Args: h.Args,
		Console: console, Replay: r, CPUID: cpuid, Timeout: timeout}
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
	return m.Run(ctx)
}
