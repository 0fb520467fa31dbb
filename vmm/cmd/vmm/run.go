package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/vmm"
	"github.com/spf13/pflag"
)

// machineFlags are the flags every command that boots a guest shares.
type machineFlags struct {
	cpus    int
	mem     string
	guest   string
	timeout time.Duration
}

func (f *machineFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&f.cpus, "cpus", 2, "number of vCPUs")
	fs.StringVar(&f.mem, "mem", "256M", "guest RAM size (e.g. 256M, 1G)")
	fs.StringVar(&f.guest, "guest", "", "guest ELF to boot instead of the built-in kernel")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop the guest after this long (0: no limit)")
}

// config turns the flags and the workload arguments into a vmm.Config.
func (f *machineFlags) config(args []string, console io.Writer) (vmm.Config, error) {
	mem, err := parseSize(f.mem)
	if err != nil {
		return vmm.Config{}, fmt.Errorf("--mem: %w", err)
	}
	if f.cpus < 1 {
		return vmm.Config{}, fmt.Errorf("--cpus %d: a guest needs at least one vCPU", f.cpus)
	}
	image := guest.Kernel
	if f.guest != "" {
		if image, err = os.ReadFile(f.guest); err != nil {
			return vmm.Config{}, fmt.Errorf("--guest: %w", err)
		}
	}
	return vmm.Config{CPUs: f.cpus, MemSize: mem, Image: image, Args: args, Timeout: f.timeout, Console: console}, nil
}

// newFlagSet makes a subcommand's flag set, stopping at the first
// non-flag so that workload arguments pass through untouched.
func newFlagSet(name, synopsis string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SetInterspersed(false)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vmm %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; done reports that the command should return code.
func parseFlags(fs *pflag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0, true
		}
		return exitUsage, true
	}
	return 0, false
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	var mf machineFlags
	fs := newFlagSet("run", "[--cpus N] [--mem SIZE] [--guest ELF] [--timeout D] [WORKLOAD [ARGS...]]\n\n"+
		"Boots the guest on N vCPUs and runs WORKLOAD (default hello; 'list' lists them).\n"+
		"Exits with the guest's status, 124 on timeout, 125 when the VMM or guest fails.", stderr)
	mf.register(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, err := mf.config(fs.Args(), stdout)
	if err != nil {
		fmt.Fprintf(stderr, "vmm run: %v\n", err)
		return exitUsage
	}
	res, err := runMachine(cfg)
	if err != nil {
		return reportError(stderr, "run", err)
	}
	return res.Status
}

// runMachine boots cfg and runs it to the end; Ctrl-C stops the guest cleanly.
func runMachine(cfg vmm.Config) (*vmm.Result, error) {
	m, err := vmm.New(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	return m.Run(ctx)
}

// reportError prints err on one line and picks the exit status.
func reportError(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "vmm %s: %v\n", cmd, err)
	var te *vmm.TimeoutError
	if errors.As(err, &te) {
		return exitTimeout
	}
	return exitFailure
}
