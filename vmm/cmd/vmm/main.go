// Command vmm runs, records and replays multiprocessor guests on KVM.
//
//	vmm run     [--cpus N] [--mem SIZE] [--guest ELF] [--timeout D] [WORKLOAD [ARGS...]]
//	vmm bench   [--cpus-list LIST] [WORKLOAD...]
//	vmm record  -o FILE [run flags] [WORKLOAD [ARGS...]]
//	vmm replay  FILE
//	vmm log     stat|dump|verify FILE
//	vmm testgen --model NAME [--calls A,B] -o FILE
//
// Exit status: the guest's own status when it exits; 124 when --timeout
// expires; 125 when the VMM or the guest failed (the message says which).
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/crewvm/crewvm/tools/logcmd"
	"github.com/crewvm/crewvm/tools/testgencmd"
)

const (
	exitTimeout = 124
	exitFailure = 125
	exitUsage   = 2
)

// command is one subcommand: its one-line summary and its entry point.
type command struct {
	summary string
	main    func(args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"run":     {"run a guest (the built-in one by default)", cmdRun},
		"record":  {"run a guest and write a recording of it", cmdRecord},
		"replay":  {"re-execute a recording and check it matches", cmdReplay},
		"bench":   {"time workloads: speedups over vCPU counts, or run vs record vs replay (--record)", cmdBench},
		"log":     {"inspect a recording: stat, dump, verify", logcmd.Main},
		"testgen": {"generate commutativity tests from an interface model", testgencmd.Main},
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

func mainArgs(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
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
		return exitUsage
	}
	return cmd.main(args[1:], stdout, stderr)
}

// parseSize reads sizes like 256M, 1G, 512MiB or a plain byte count.
func parseSize(s string) (uint64, error) {
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
