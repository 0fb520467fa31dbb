package logcmd

import (
	"fmt"
	"io"
)

func runVerify(args []string, stdout, stderr io.Writer) int {
	c := newCommand("verify", "[--quiet] FILE",
		"Read the whole log and check it: every block header and payload checksum,\n"+
			"every event, every checkpoint and the pages it refers to, the index\n"+
			"trailer against the blocks present, and the footer. Damage does not stop\n"+
			"the check: every problem is listed. Exit status 0 only when the log is\n"+
			"whole, 1 otherwise.", stderr)
	quiet := c.flags.BoolP("quiet", "q", false, "print nothing when the log is whole")
	if code, ok := c.parse(args, stdout); !ok {
		return code
	}
	r, code := c.open()
	if r == nil {
		return code
	}
	defer r.Close()
	v := r.Verify()
	summary := fmt.Sprintf("%d blocks, %d events, %d checkpoints, %d stored pages, %s raw",
		v.Blocks, v.Events, v.Checkpoints, v.Pages, bytesize(v.RawBytes))
	if v.Whole {
		if !*quiet {
			fmt.Fprintf(stdout, "%s: whole: %s; every checksum verified\n", c.file, summary)
		}
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: NOT WHOLE: %d problem(s)\n", c.file, len(v.Problems))
	for _, p := range v.Problems {
		fmt.Fprintf(stdout, "  %s\n", describeEnd(p))
	}
	fmt.Fprintf(stdout, "verified: %s\n", summary)
	return exitBad
}
