// Package runcmd implements `vmm run`: it boots a guest (the built-in
// kernel unless --guest names another ELF) on --cpus vCPUs with --mem of
// RAM, runs a workload with the console on stdout, and exits with the
// guest's own status, 124 when --timeout expires, 125 when the VMM or the
// guest failed and 2 for bad usage. The vmm command calls Main with the
// arguments after "run".
package runcmd

import (
	"fmt"
	"io"

	"github.com/crewvm/crewvm/tools/cli"
)

// Main runs `vmm run ARGS...` and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	var mf cli.MachineFlags
	fs := cli.NewFlagSet("run", "[--cpus N] [--mem SIZE] [--guest ELF] [--tests FILE] [--timeout D] [WORKLOAD [ARGS...]]\n\n"+
		"Boots the guest on N vCPUs and runs WORKLOAD (default hello; 'list' lists them).\n"+
		"Exits with the guest's status, 124 on timeout, 125 when the VMM or guest fails.", stderr)
	mf.Register(fs)
	if code, done := cli.ParseFlags(fs, args); done {
		return code
	}
	cfg, err := mf.Config(fs.Args(), stdout)
	if err != nil {
		fmt.Fprintf(stderr, "vmm run: %v\n", err)
		return cli.ExitUsage
	}
	defer cfg.Disk.Close()
	stop, err := cli.StartCPUProfile(mf.CPUProfile)
	if err != nil {
		fmt.Fprintf(stderr, "vmm run: %v\n", err)
		return cli.ExitUsage
	}
	res, err := cli.RunMachine(cfg)
	if perr := stop(); err == nil {
		err = perr
	}
	if err != nil {
		return cli.ReportError(stderr, "run", err)
	}
	return res.Status
}
