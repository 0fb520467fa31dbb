// Command vmm runs, records and replays multiprocessor guests on KVM.
//
//	vmm run     [--cpus N] [--mem SIZE] [--guest ELF] [--timeout D] [WORKLOAD [ARGS...]]
//	vmm bench   [--cpus-list LIST] [WORKLOAD...]
//	vmm record  -o FILE [run flags] [WORKLOAD [ARGS...]]
//	vmm replay  [--analysis NAME[,NAME...] --out DIR] FILE
//	vmm trace   dump [--json] FILE
//	vmm log     stat|dump|verify FILE
//	vmm testgen --model NAME [--calls A,B] -o FILE
//	vmm disk    make FILE SIZE
//	vmm bisect  [--guest NEW.elf] [--recorded-guest OLD.elf] [--json] LOG
//	vmm diff    [--json] [--context N] [--follow N] A.log B.log
//
// Exit status: the guest's own status when it exits; 124 when --timeout
// expires; 125 when the VMM or the guest failed (the message says which).
//
// This package only dispatches: each subcommand is a package under tools/
// (tools/runcmd, tools/recordcmd, tools/replaycmd, tools/benchcmd,
// tools/logcmd, tools/tracecmd, tools/testgencmd, tools/diskcmd, tools/bisectcmd,
// tools/diffcmd) whose Main takes the arguments after the
// command's name.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/crewvm/crewvm/tools/benchcmd"
	"github.com/crewvm/crewvm/tools/bisectcmd"
	"github.com/crewvm/crewvm/tools/checkcmd"
	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/tools/diffcmd"
	"github.com/crewvm/crewvm/tools/diskcmd"
	"github.com/crewvm/crewvm/tools/logcmd"
	"github.com/crewvm/crewvm/tools/recordcmd"
	"github.com/crewvm/crewvm/tools/replaycmd"
	"github.com/crewvm/crewvm/tools/runcmd"
	"github.com/crewvm/crewvm/tools/testgencmd"
	"github.com/crewvm/crewvm/tools/tracecmd"
)

// command is one subcommand: its one-line summary and its entry point.
type command struct {
	summary string
	main    func(args []string, stdout, stderr io.Writer) int
}

// commands is the command table, by name.
func commands() map[string]command {
	return map[string]command{
		"run":     {"run a guest (the built-in one by default)", runcmd.Main},
		"record":  {"run a guest and write a recording of it", recordcmd.Main},
		"replay":  {"re-execute a recording and check it matches", replaycmd.Main},
		"bench":   {"time workloads: speedups over vCPU counts, or run vs record vs replay (--record)", benchcmd.Main},
		"log":     {"inspect a recording: stat, dump, verify", logcmd.Main},
		"testgen": {"generate commutativity tests from an interface model", testgencmd.Main},
		"check":   {"commutativity tests on the kernels under test, to a sharing report", checkcmd.Main},
		"trace":   {"print an access trace of vmm replay --analysis trace: dump", tracecmd.Main},
		"disk":    {"make a test image for the guest's disk (--disk): make", diskcmd.Main},
		"bisect":  {"the first instruction where a candidate image parts from a recording", bisectcmd.Main},
		"diff":    {"find the first event where two recordings of one workload part", diffcmd.Main},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vmm COMMAND [FLAGS] [ARGS]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'vmm COMMAND --help' for a command's flags.")
}

func main() {
	os.Exit(mainArgs(os.Args[1:], os.Stdout, os.Stderr))
}

// mainArgs runs the command line args and returns the exit status.
func mainArgs(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return cli.ExitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vmm: unknown command %q\n", args[0])
		usage(stderr)
		return cli.ExitUsage
	}
	return cmd.main(args[1:], stdout, stderr)
}
