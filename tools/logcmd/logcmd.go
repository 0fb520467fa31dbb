// Package logcmd implements `vmm log stat|dump|verify`, the inspection
// commands for replay logs. The vmm command calls Main with the arguments
// after "log"; the package keeps no state between calls so tests can run it
// directly.
package logcmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/crewvm/crewvm/replaylog"
)

// Exit codes.
const (
	exitOK = 0
	// exitBad: the log is not whole (truncated, corrupt) or not a log.
	exitBad = 1
	// exitUsage: bad command line.
	exitUsage = 2
)

const usage = `usage: vmm log <command> [flags] FILE

Inspect a replay log written by vmm record.

commands:
  stat     header, duration, events by kind and by vCPU, sizes and ratio
  dump     print the events, one per line or as JSON lines
  verify   read everything and check every checksum; exit 0 only when whole

Run vmm log <command> --help for a command's flags.
`

// Main runs `vmm log ARGS...` and returns the process exit status: 0 on
// success, 1 when the log is damaged, truncated or not a log, 2 on a usage
// error.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "stat":
		return runStat(args[1:], stdout, stderr)
	case "dump":
		return runDump(args[1:], stdout, stderr)
	case "verify":
		return runVerify(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "vmm log: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// command holds what every subcommand shares: its flag set and the file.
type command struct {
	name   string
	flags  *pflag.FlagSet
	stderr io.Writer
	file   string
}

func newCommand(name, synopsis, about string, stderr io.Writer) *command {
	c := &command{name: name, stderr: stderr}
	c.flags = pflag.NewFlagSet("vmm log "+name, pflag.ContinueOnError)
	c.flags.SortFlags = false
	c.flags.Usage = func() {
		out := c.flags.Output()
		fmt.Fprintf(out, "usage: vmm log %s %s\n\n%s\n", name, synopsis, about)
		if c.flags.HasFlags() {
			fmt.Fprintf(out, "\nflags:\n%s", c.flags.FlagUsages())
		}
	}
	return c
}

// parse parses args and takes the one FILE argument. It returns an exit
// code and false when the command should stop (help, usage error).
func (c *command) parse(args []string, stdout io.Writer) (int, bool) {
	// pflag prints the usage itself for --help, which belongs on stdout;
	// with ContinueOnError it prints nothing for other errors.
	c.flags.SetOutput(stdout)
	err := c.flags.Parse(args)
	c.flags.SetOutput(c.stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK, false
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "vmm log %s: %v\n", c.name, err)
		c.flags.Usage()
		return exitUsage, false
	}
	if c.flags.NArg() != 1 {
		fmt.Fprintf(c.stderr, "vmm log %s: want exactly one FILE, got %d arguments\n", c.name, c.flags.NArg())
		c.flags.Usage()
		return exitUsage, false
	}
	c.file = c.flags.Arg(0)
	return 0, true
}

// open opens the log, reporting failure as the command's error.
func (c *command) open() (*replaylog.Reader, int) {
	r, err := replaylog.Open(c.file)
	if err != nil {
		c.fail(err)
		return nil, exitBad
	}
	return r, exitOK
}

func (c *command) fail(err error) {
	fmt.Fprintf(c.stderr, "vmm log %s: %v\n", c.name, err)
}

// describeEnd turns the error that ended reading into the one line the
// tools print: where a truncated log ends, which block is corrupt.
func describeEnd(err error) string {
	var te *replaylog.TruncatedError
	var ce *replaylog.CorruptError
	switch {
	case err == nil:
		return "whole"
	case errors.As(err, &te):
		return te.Error()
	case errors.As(err, &ce):
		return ce.Error()
	}
	return err.Error()
}

// bytesize formats a byte count for people.
func bytesize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func vcpuName(v uint32) string {
	if v == replaylog.NoVCPU {
		return "-"
	}
	return fmt.Sprint(v)
}

func joinArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\") {
			a = fmt.Sprintf("%q", a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
