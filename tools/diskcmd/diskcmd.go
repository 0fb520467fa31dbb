// Package diskcmd is `vmm disk`: test images for the guest's virtio-blk
// disk (guest/ABI.md, "The disk").
package diskcmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/crewvm/crewvm/tools/cli"
	"github.com/crewvm/crewvm/vmm/devices/virtio"
)

// Main runs `vmm disk ARGS...` and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "make" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return cli.ExitUsage
	}
	fs := cli.NewFlagSet("disk make", "FILE SIZE\n\n"+
		"Writes a test image of SIZE bytes (as for --mem: 16M, 1G; whole 512-byte\n"+
		"sectors, at least 1 MiB) whose every sector the disk workloads can check:\n"+
		"sector i holds the generator of guest/ABI.md seeded with i. An existing\n"+
		"FILE is replaced.", stderr)
	if code, done := cli.ParseFlags(fs, args[1:]); done {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "vmm disk make: want FILE and SIZE")
		fs.Usage()
		return cli.ExitUsage
	}
	size, err := cli.ParseSize(fs.Arg(1))
	if err == nil && (size < virtio.MinImage || size%512 != 0) {
		err = fmt.Errorf("%d bytes: want whole 512-byte sectors, at least %d", size, virtio.MinImage)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmm disk make: SIZE %s: %v\n", fs.Arg(1), err)
		return cli.ExitUsage
	}
	if err := makeImage(fs.Arg(0), size); err != nil {
		fmt.Fprintf(stderr, "vmm disk make: %v\n", err)
		return cli.ExitFailure
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vmm disk make FILE SIZE\n\nRun 'vmm disk make --help' for details.")
}

// makeImage writes the image to a temporary file beside path and renames
// it over path once complete, so a failure leaves no half image.
func makeImage(path string, size uint64) (err error) {
	f, err := os.CreateTemp(dirOf(path), ".disk-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := virtio.MakeImage(w, size); err != nil {
		return err
	}
	if err := errors.Join(w.Flush(), f.Chmod(0o644), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i+1]
		}
	}
	return "."
}
