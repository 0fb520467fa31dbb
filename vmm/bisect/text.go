package bisect

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the result for people.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Same {
		b.WriteString("The two executions do not differ: every exit of every vCPU compared equal, and both matched the recording to its end.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	event := "before its first log event"
	if r.Events > 0 {
		event = fmt.Sprintf("its last log event #%d", r.Events-1)
	}
	fmt.Fprintf(&b, "The executions part on vCPU %d, instruction %d after its exit %d (%s; seen at its exits by %s).\n",
		r.CPU, r.Step, r.Exits, event, r.Found)
	fmt.Fprintf(&b, "What differs: %s.\n\n", r.What)
	side := func(name string, s Side) {
		switch {
		case s.Ended:
			fmt.Fprintf(&b, "  %-10s reaches its exit %d (rip %#x)\n", name, r.Exits+1, s.RIP)
		case s.Code == "" && s.RIP == 0:
			fmt.Fprintf(&b, "  %-10s (ended before this instruction)\n", name)
		default:
			fmt.Fprintf(&b, "  %-10s %#x  %-32s %s\n", name, s.RIP, s.Code, s.Where)
			for _, wr := range s.Writes {
				fmt.Fprintf(&b, "  %-10s   wrote %s\n", "", wr)
			}
		}
	}
	side("recording", r.Recording)
	side("candidate", r.Candidate)
	if len(r.Regs) > 0 {
		b.WriteString("\nRegisters after it:\n")
		for _, d := range r.Regs {
			fmt.Fprintf(&b, "  %-7s recording 0x%016x  candidate 0x%016x\n", d.Name, d.Recording, d.Candidate)
		}
	}
	if r.Compared > 0 {
		fmt.Fprintf(&b, "\nMemory there (%d bytes compared: what no other actor can change): ", r.Compared)
		if len(r.Memory) == 0 {
			b.WriteString("the same.\n")
		} else {
			fmt.Fprintf(&b, "%d ranges differ.\n", len(r.Memory))
			for i, d := range r.Memory {
				if i == 16 {
					fmt.Fprintf(&b, "  ... and %d more (--json lists them all)\n", len(r.Memory)-i)
					break
				}
				in := ""
				if d.InImage {
					in = " (the images differ here)"
				}
				fmt.Fprintf(&b, "  %#x +%d  %s: recording %s, candidate %s%s\n", d.Addr, d.Len, d.Symbol, d.Recording, d.Candidate, in)
			}
		}
	}
	if r.Note != "" {
		fmt.Fprintf(&b, "\nNote: %s\n", r.Note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
