// Package diffcmd implements `vmm diff A.log B.log`: it compares two
// recordings of one workload and says where they part (the CREW
// transition granted the other way, the input, the wake), with the
// events around it symbolized and what followed from it. The comparison
// itself is package analysis/logdiff; this package is its command line.
// The vmm command calls Main with the arguments after "diff"; nothing is
// kept between calls.
package diffcmd

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/crewvm/crewvm/analysis/logdiff"
	"github.com/crewvm/crewvm/tools/cli"
)

// Exit statuses, as diff(1)'s.
const (
	// ExitSame: the logs hold the same events.
	ExitSame = 0
	// ExitDiffer: the logs differ (including only in how the vCPUs'
	// events are interleaved).
	ExitDiffer = 1
	// ExitTrouble: a bad command line, a log that cannot be read whole,
	// or logs of different workloads.
	ExitTrouble = 2
)

const about = `Compares two recordings of one workload (the same guest image, arguments,
vCPUs, memory, disk and input) and finds the first event where they part:
a CREW transition granted the other way (the race that decided the
outcome), an input with another value, a different wake, or one log
ending early.

Output: both logs' headers; the number of shared events and the first
differing event index, its class and a one-line explanation; the last
shared events (--context) and both logs' events at the parting point,
with the page's data symbols and the instructions where the vCPUs were
stopped; then the later differences (--follow), found by comparing each
vCPU's events in that vCPU's own order (a different interleaving of equal
per-vCPU events is not a difference), and where the logs fall back in
step, if they do. Symbols come from the guest image the header names:
the built-in guest, or its file (--guest names another path, for an
image that moved); either must match the recorded SHA-256, or addresses
are printed raw. --json prints the same as one JSON object (package
analysis/logdiff's Result).

Classes: crew-order, input, wake, kind, ends-early, interleaving, state,
outcome, other.

Exit status: 0 when the logs hold the same events, 1 when they differ,
2 on trouble (bad usage, a log truncated or corrupt, logs of different
workloads: the message names the header fields that differ).`

// Main runs `vmm diff ARGS...` and returns the exit status: ExitSame,
// ExitDiffer or ExitTrouble.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("vmm diff", pflag.ContinueOnError)
	fs.SortFlags = false
	asJSON := fs.Bool("json", false, "print the comparison as one JSON object")
	context := fs.Int("context", logdiff.DefaultContext, "show `N` shared events before the first difference")
	follow := fs.Int("follow", logdiff.DefaultFollow, "list at most `N` later differences")
	guestPath := fs.String("guest", "", "symbolize with the guest image at `ELF` instead of the one the header names")
	const synopsis = "usage: vmm diff [--json] [--context N] [--follow N] [--guest ELF] A.log B.log\n"
	help := func(w io.Writer) { fmt.Fprintf(w, "%s\n%s\n\nflags:\n%s", synopsis, about, fs.FlagUsages()) }
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%sRun 'vmm diff --help' for the output and the exit statuses.\n", synopsis)
	}
	// pflag would print the usage itself, to its output, on --help and
	// on errors; Main prints it where it belongs instead.
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			help(stdout)
			return ExitSame
		}
		fmt.Fprintf(stderr, "vmm diff: %v\n", err)
		usage(stderr)
		return ExitTrouble
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(stderr, "vmm diff: want two logs, A.log and B.log, got %d arguments\n", fs.NArg())
		usage(stderr)
		return ExitTrouble
	}
	if *context < 0 || *follow < 0 {
		fmt.Fprintf(stderr, "vmm diff: --context and --follow want a count of 0 or more\n")
		return ExitTrouble
	}
	opts := logdiff.Options{Context: zeroMeansNone(*context), Follow: zeroMeansNone(*follow)}
	if *guestPath != "" {
		image, err := os.ReadFile(*guestPath)
		if err != nil {
			fmt.Fprintf(stderr, "vmm diff: --guest: %v\n", err)
			return ExitTrouble
		}
		opts.Image = image
	}
	res, err := logdiff.CompareFiles(fs.Arg(0), fs.Arg(1), opts)
	if err != nil {
		fmt.Fprintf(stderr, "vmm diff: %v\n", err)
		return ExitTrouble
	}
	if *asJSON {
		err = cli.WriteJSON(stdout, res)
	} else {
		err = res.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmm diff: write: %v\n", err)
		return ExitTrouble
	}
	if res.Same {
		return ExitSame
	}
	return ExitDiffer
}

// zeroMeansNone maps a flag's count to logdiff's Options, where 0 is the
// default and a negative number none.
func zeroMeansNone(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
