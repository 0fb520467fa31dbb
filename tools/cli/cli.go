// Package cli holds what the vmm subcommands that boot a guest (run,
// record, replay, bench) share: their exit statuses, their flag sets and
// the machine flags, parsing sizes, running a machine to its end and
// turning an error into the one-line message and exit status the command
// line promises. It keeps no state; every call is independent.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm"
)

// Exit statuses of the commands that boot a guest, besides the guest's own
// status when it exits.
const (
	// ExitTimeout: --timeout expired.
	ExitTimeout = 124
	// ExitFailure: the VMM or the guest failed (the message says which).
	ExitFailure = 125
	// ExitUsage: bad command line.
	ExitUsage = 2
)

// MachineFlags are the flags every command that boots a guest shares.
type MachineFlags struct {
	CPUs    int           // --cpus: number of vCPUs
	Mem     string        // --mem: guest RAM size, as ParseSize reads it
	Guest   string        // --guest: guest ELF path; empty for the built-in kernel
	Timeout time.Duration // --timeout: stop the guest after this long; 0 for no limit
	Tests   string        // --tests: file loaded into the guest's input region
	// Disk is --disk, the image of the guest's virtio-blk disk;
	// DiskReadOnly is --disk-readonly.
	Disk         string
	DiskReadOnly bool
	// CPUProfile is --cpuprofile: where the VMM's own CPU profile goes.
	CPUProfile string
}

// Register adds --cpus, --mem, --guest and --timeout to fs, with their
// defaults, writing to f.
func (f *MachineFlags) Register(fs *pflag.FlagSet) {
	fs.IntVar(&f.CPUs, "cpus", 2, "number of vCPUs")
	fs.StringVar(&f.Mem, "mem", "256M", "guest RAM size (e.g. 256M, 1G)")
	fs.StringVar(&f.Guest, "guest", "", "guest ELF to boot instead of the built-in kernel")
	fs.DurationVar(&f.Timeout, "timeout", 0, "stop the guest after this long (0: no limit)")
	fs.StringVar(&f.Tests, "tests", "", "test file for the fstest workload (see 'vmm testgen'), loaded into the guest's input region")
	fs.StringVar(&f.Disk, "disk", "", "raw image of a virtio-blk disk for the guest (see 'vmm disk make')")
	fs.BoolVar(&f.DiskReadOnly, "disk-readonly", false, "offer the --disk read-only")
	RegisterCPUProfile(fs, &f.CPUProfile)
}

// RegisterCPUProfile adds --cpuprofile FILE to fs, writing to path.
func RegisterCPUProfile(fs *pflag.FlagSet, path *string) {
	fs.StringVar(path, "cpuprofile", "", "write the VMM's CPU profile to FILE (pprof format: go tool pprof FILE)")
}

// StartCPUProfile starts profiling the VMM's CPU into path (nothing when
// path is empty) and returns what stops it and writes the file.
func StartCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		return nil
	}, nil
}

// Config turns the flags and the workload arguments into a vmm.Config
// whose console is console. Its errors name the flag at fault.
func (f *MachineFlags) Config(args []string, console io.Writer) (vmm.Config, error) {
	mem, err := ParseSize(f.Mem)
	if err != nil {
		return vmm.Config{}, fmt.Errorf("--mem: %w", err)
	}
	if f.CPUs < 1 {
		return vmm.Config{}, fmt.Errorf("--cpus %d: a guest needs at least one vCPU", f.CPUs)
	}
	image := guest.Kernel
	if f.Guest != "" {
		if image, err = os.ReadFile(f.Guest); err != nil {
			return vmm.Config{}, fmt.Errorf("--guest: %w", err)
		}
	}
	var input []byte
	if f.Tests != "" {
		if input, err = os.ReadFile(f.Tests); err != nil {
			return vmm.Config{}, fmt.Errorf("--tests: %w", err)
		}
		if len(input) == 0 {
			return vmm.Config{}, fmt.Errorf("--tests %s: the file is empty", f.Tests)
		}
		if len(input) > replaylog.MaxInput {
			return vmm.Config{}, fmt.Errorf("--tests %s: %d bytes, at most %d fit", f.Tests, len(input), replaylog.MaxInput)
		}
	}
	if f.DiskReadOnly && f.Disk == "" {
		return vmm.Config{}, fmt.Errorf("--disk-readonly needs a --disk")
	}
	var disk *vmm.Disk
	if f.Disk != "" {
		if disk, err = vmm.OpenDisk(f.Disk, f.DiskReadOnly); err != nil {
			return vmm.Config{}, err
		}
	}
	return vmm.Config{CPUs: f.CPUs, MemSize: mem, Image: image, Args: args, Input: input, Timeout: f.Timeout, Console: console,
		Disk: disk, Stderr: os.Stderr}, nil
}

// NewFlagSet makes the flag set of `vmm NAME`, stopping at the first
// non-flag so that workload arguments pass through untouched. Its usage
// message, on stderr, is "usage: vmm NAME SYNOPSIS" and the flags.
func NewFlagSet(name, synopsis string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SetInterspersed(false)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vmm %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// ParseFlags parses args into fs; done reports that the command should
// return code at once: 0 after --help, ExitUsage after a bad flag (pflag
// has printed why).
func ParseFlags(fs *pflag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0, true
		}
		return ExitUsage, true
	}
	return 0, false
}

// ParseSize reads sizes like 256M, 1G, 512MiB or a plain byte count.
func ParseSize(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := uint64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q (want e.g. 256M, 1G)", s)
	}
	if v > (1<<63)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return v * mult, nil
}

// RunMachine boots cfg and runs it to the end; Ctrl-C stops the guest
// cleanly.
func RunMachine(cfg vmm.Config) (*vmm.Result, error) {
	m, err := vmm.New(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return RunUntilInterrupt(m)
}

// RunUntilInterrupt runs m to the end, stopping the guest cleanly when the
// process gets an interrupt (Ctrl-C) meanwhile.
func RunUntilInterrupt(m *vmm.Machine) (*vmm.Result, error) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	return m.Run(ctx)
}

// ReportError prints err on one line of stderr as `vmm CMD: ERR` and
// returns the exit status: ExitTimeout for a vmm.TimeoutError, ExitFailure
// for anything else.
func ReportError(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "vmm %s: %v\n", cmd, err)
	var te *vmm.TimeoutError
	if errors.As(err, &te) {
		return ExitTimeout
	}
	return ExitFailure
}

// SummarizeSites names the first few of the instructions this host cannot
// trap, for the warnings and errors that mention them.
func SummarizeSites(sites []vmm.NondetSite) string {
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

// IsTerminal reports whether w is a character device (a terminal), where
// progress lines may be drawn.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// WriteJSON writes v to w as indented JSON, the form every --json takes.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
