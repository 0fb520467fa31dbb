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
	"time"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/vmm"
)

// Main runs `vmm replay ARGS...` and returns the process exit status: the
// recorded guest's own, or one of cli's.
func Main(args []string, stdout, stderr io.Writer) int {
	var guestPath string
	var timeout, seekTimeout time.Duration
	fs := cli.NewFlagSet("replay", "FILE [--guest ELF] [--timeout D]\n\n"+
		"Re-executes a recording: same console output and exit status, every logged input\n"+
		"checked, final registers and memory compared. A divergence is an error naming\n"+
		"the log event, the vCPU, its RIP and what differs (exit status 125).", stderr)
	fs.StringVar(&guestPath, "guest", "", "guest ELF, when the log names a file that moved")
	fs.DurationVar(&timeout, "timeout", 0, "stop the replay after this long (0: no limit)")
	fs.DurationVar(&seekTimeout, "seek-timeout", vmm.DefaultSeekTimeout,
		"report a divergence when a vCPU runs this long without reaching a recorded state position")
	if code, done := cli.ParseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vmm replay: want exactly one FILE")
		return cli.ExitUsage
	}
	res, err := Replay(fs.Arg(0), guestPath, timeout, seekTimeout, stdout)
	if err != nil {
		return cli.ReportError(stderr, "replay", err)
	}
	fmt.Fprintf(stderr, "vmm replay: matched the recording (guest status %d)\n", res.Status)
	return res.Status
}

// Replay re-executes the recording at path with its console on console.
// guestPath overrides the guest image the log header names (empty: the
// one it names); timeout stops the replay after that long (0: no limit),
// and seekTimeout is vmm.Config.SeekTimeout (0: the default).
func Replay(path, guestPath string, timeout, seekTimeout time.Duration, console io.Writer) (*vmm.Result, error) {
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
	res, err := cli.RunUntilInterrupt(m)
	var div *vmm.DivergenceError
	if sites := m.Untrappable(); errors.As(err, &div) && len(sites) > 0 && h.Guest != "builtin" {
		err = fmt.Errorf("%w (this host cannot trap %s in the guest image, whose results the recording does not hold; a guest that uses them cannot replay)",
			err, cli.SummarizeSites(sites))
	}
	return res, err
}
