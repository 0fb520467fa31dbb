// Package bisectcmd is `vmm bisect`: the first instruction where a
// candidate guest image, replayed against a recording, parts from the
// recording's own execution (package vmm/bisect).
package bisectcmd

import (
	"fmt"
	"io"
	"os"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/vmm/bisect"
)

// Main runs `vmm bisect ARGS...` and returns the process exit status: 0
// when the executions do not differ, 1 when they do, cli.ExitUsage or
// cli.ExitFailure on trouble.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("bisect", "[--guest NEW.elf] [--recorded-guest OLD.elf] [--from EVENT] [--json] LOG\n\n"+
		"Replays LOG twice side by side: with the guest image it was recorded with\n"+
		"(the one its header names, or the built-in guest), and with the candidate\n"+
		"image NEW.elf (default: the built-in guest), and finds the first instruction\n"+
		"where the two executions part. It compares every vCPU's registers, and the\n"+
		"memory no other actor can change, at each of its exits; then single-steps\n"+
		"the first interval that differs in both, in lockstep; then bisects memory\n"+
		"there down to the bytes that differ. It prints the vCPU, the exit and the\n"+
		"instruction count since it, both sides' instruction with its source line,\n"+
		"the registers and the memory that differ (with symbols).\n\n"+
		"With --from both start at the recording's last checkpoint at or before log\n"+
		"event EVENT (vmm record --checkpoint-every), the candidate with the pages\n"+
		"where the two images differ loaded from its own image.\n\n"+
		"Exit status: 0 when the executions do not differ, 1 when they do, 2 on a\n"+
		"usage error, 125 when a replay fails (the recording's own execution must\n"+
		"replay; the candidate's may fail, which is reported as where it parts).", stderr)
	candidate := fs.String("guest", "", "the candidate guest ELF (default: the built-in guest)")
	recorded := fs.String("recorded-guest", "", "the recording's own guest ELF, when not where its header says")
	asJSON := fs.Bool("json", false, "write the result as JSON")
	timeout := fs.Duration("timeout", 0, "stop each execution after this long (0: no limit)")
	seek := fs.Duration("seek-timeout", 0, "how long the candidate may seek a recorded state position (0: 10s)")
	from := fs.Int64("from", -1, "start both executions at the recording's last checkpoint at or before this log event (-1: the start)")
	if code, done := cli.ParseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vmm bisect: want one LOG")
		fs.Usage()
		return cli.ExitUsage
	}
	o := bisect.Options{Log: fs.Arg(0), Timeout: *timeout, SeekTimeout: *seek}
	if *from >= 0 {
		o.From = new(uint64(*from))
	}
	if cli.IsTerminal(stderr) {
		o.Progress = stderr
	}
	var err error
	if o.Image, err = recordedImage(o.Log, *recorded); err != nil {
		return cli.ReportError(stderr, "bisect", err)
	}
	o.Candidate = guest.Kernel
	if *candidate != "" {
		if o.Candidate, err = os.ReadFile(*candidate); err != nil {
			return cli.ReportError(stderr, "bisect", fmt.Errorf("--guest: %w", err))
		}
	}
	res, err := bisect.Run(o)
	if err != nil {
		return cli.ReportError(stderr, "bisect", err)
	}
	if *asJSON {
		err = cli.WriteJSON(stdout, res)
	} else {
		err = res.WriteText(stdout)
	}
	if err != nil {
		return cli.ReportError(stderr, "bisect", err)
	}
	if res.Same {
		return 0
	}
	return 1
}

// recordedImage reads the image the log at path was recorded with: the
// file override names, else the one its header names, else the built-in
// guest (guest.Recorded).
func recordedImage(path, override string) ([]byte, error) {
	r, err := replaylog.Open(path)
	if err != nil {
		return nil, err
	}
	h := r.Header()
	r.Close()
	image, _, err := guest.Recorded(h.Guest, override, h.GuestHash)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (give the recording's image with --recorded-guest)", path, err)
	}
	return image, nil
}
