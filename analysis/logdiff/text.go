package logdiff

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the comparison for people: the two logs, where they
// part and why, the events around it symbolized, the later differences
// and whether the logs fall back in step.
func (r *Result) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	for _, l := range []*struct {
		tag  string
		info *LogInfo
	}{{"A", &r.A}, {"B", &r.B}} {
		i := l.info
		fmt.Fprintf(b, "%s: %s: guest %s (sha256 %.16s), %s, %d vCPUs, %s, %d events\n", l.tag, i.Name, i.Guest, i.GuestSHA256,
			quoteArgs(i.Args), i.VCPUs, sizeString(i.MemBytes), i.Events)
	}
	for _, n := range r.HeaderNotes {
		fmt.Fprintf(b, "note: %s differs (A: %s, B: %s)\n", n.Field, n.A, n.B)
	}
	if r.Symbols != "" {
		fmt.Fprintln(b, r.Symbols)
	}
	fmt.Fprintln(b)
	if r.Same {
		fmt.Fprintf(b, "The logs are the same: %d events.\n", r.Shared)
		return b.Flush()
	}
	f := r.First
	if f == nil {
		return b.Flush()
	}
	if r.Shared == 0 {
		fmt.Fprintf(b, "The logs part at their first event, #0.\n")
	} else {
		fmt.Fprintf(b, "The logs agree on their first %d events, then part at event #%d.\n", r.Shared, f.Index)
	}
	fmt.Fprintf(b, "%s (%s): %s\n\n", f.Class, f.Class.Describe(), f.Summary)
	for i := range r.Context {
		writeEvent(b, "  shared ", &r.Context[i])
	}
	writeSide(b, "  A      ", f.A, "A ends here")
	writeSide(b, "  B      ", f.B, "B ends here")

	if r.LaterTotal > 0 {
		fmt.Fprintf(b, "\nLater differences (%d", r.LaterTotal)
		if uint64(len(r.Later)) < r.LaterTotal {
			fmt.Fprintf(b, ", the first %d shown", len(r.Later))
		}
		fmt.Fprintf(b, "), each vCPU's events compared in its own order:\n")
		for i := range r.Later {
			d := &r.Later[i]
			actor := d.Actor
			if actor == "-" {
				actor = "no-vCPU"
			}
			fmt.Fprintf(b, "\n%3d. %s event %d, %s: %s\n", i+1, actor, d.Seq, d.Class, d.Summary)
			writeSide(b, "       A ", d.A, "A has none")
			writeSide(b, "       B ", d.B, "B has none")
		}
	} else {
		fmt.Fprintf(b, "\nNo later differences: each vCPU's events agree after that.\n")
	}
	fmt.Fprintln(b)
	if r.Reordered > 0 {
		fmt.Fprintf(b, "%d events after the parting point are equal in both logs but interleaved differently.\n", r.Reordered)
	}
	switch {
	case r.Stopped != "":
		fmt.Fprintf(b, "The comparison %s.\n", r.Stopped)
	case r.Equivalent:
		fmt.Fprintf(b, "The recordings are equivalent: they differ only in how the vCPUs' events are interleaved.\n")
	case r.Reconverged != nil:
		fmt.Fprintf(b, "The logs are back in step from A #%d and B #%d on: %d events agree to the end.\n",
			r.Reconverged.A, r.Reconverged.B, r.Reconverged.Matched)
	default:
		fmt.Fprintf(b, "The logs never fall back in step: they differ up to the end.\n")
	}
	return b.Flush()
}

func writeSide(b *bufio.Writer, prefix string, v *EventView, none string) {
	if v == nil {
		fmt.Fprintf(b, "%s(%s)\n", prefix, none)
		return
	}
	writeEvent(b, prefix, v)
}

// writeEvent writes an event's line, then its page and stops indented.
func writeEvent(b *bufio.Writer, prefix string, v *EventView) {
	fmt.Fprintf(b, "%s%s\n", prefix, v.Text)
	pad := strings.Repeat(" ", len(prefix)+4)
	if p := v.Page; p != nil {
		fmt.Fprintf(b, "%spage %#x (gpa %#x): ", pad, p.Page, p.GPA)
		if len(p.Symbols) == 0 {
			fmt.Fprintf(b, "no symbols of the guest image")
		} else {
			fmt.Fprintf(b, "%s", strings.Join(p.Symbols, ", "))
			if p.More > 0 {
				fmt.Fprintf(b, ", and %d more", p.More)
			}
		}
		fmt.Fprintln(b)
		if len(p.Touched) > 0 {
			fmt.Fprintf(b, "%saccessed by the instructions the vCPUs were stopped at: %s\n", pad, strings.Join(p.Touched, ", "))
		}
	}
	for _, s := range v.Stops {
		fmt.Fprintf(b, "%s%s stopped at %s", pad, s.Actor, s.Where)
		if s.Insn != "" {
			fmt.Fprintf(b, ": %s", s.Insn)
		}
		fmt.Fprintln(b)
	}
}
