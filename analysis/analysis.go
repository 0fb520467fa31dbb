// Package analysis is what runs on a replay: analyses that consume the
// stream of events a trace-mode replay delivers (every guest data
// access, test regions, labels) and write their results for people
// (text), for machines (JSON) and, where they have one, a file of their
// own. It imports no KVM code: an analysis can be run, and tested, on a
// stream from anywhere.
//
// # Writing an analysis
//
// An analysis implements Analysis. The replay calls Start once, Event for
// each event in an order consistent with the recording's orderings (a
// vCPU's events in program order; accesses of two vCPUs to one page in
// the order CREW gave them), and Finish at the end. Each vCPU's stream
// is the same in every replay of a recording; how independent events of
// two vCPUs interleave can differ:
//
//	// writes counts the bytes each vCPU wrote.
//	type writes struct {
//		n   map[int]uint64
//		out *analysis.Output
//	}
//
//	func (w *writes) Name() string { return "writes" }
//	func (w *writes) Start(run *analysis.Run) error {
//		w.n, w.out = map[int]uint64{}, run.Out
//		return nil
//	}
//	func (w *writes) Event(ev *analysis.Event) error {
//		if ev.Kind == analysis.EventAccess && ev.Access.Kind.Writes() {
//			w.n[ev.CPU] += uint64(ev.Access.Size)
//		}
//		return nil
//	}
//	func (w *writes) Finish() error {
//		return w.out.Text(w.Name(), fmt.Sprintf("%v\n", w.n))
//	}
//
// and is run with replay.Options.Analyses (vmm replay --analysis names
// the built-in ones: ByName).
package analysis

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AccessKind is the direction of a data access.
type AccessKind uint8

// The kinds of access.
const (
	Read AccessKind = iota + 1
	Write
	// RMW is a read-modify-write of the same bytes by one instruction
	// (an arithmetic or logic instruction with a memory destination, a
	// locked instruction, xchg, xadd, cmpxchg).
	RMW
	// Fetch is an instruction fetch, delivered only when asked for.
	Fetch
)

func (k AccessKind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	case RMW:
		return "rmw"
	case Fetch:
		return "fetch"
	}
	return fmt.Sprintf("AccessKind(%d)", uint8(k))
}

// Writes says whether an access of kind k writes.
func (k AccessKind) Writes() bool { return k == Write || k == RMW }

// Access is one guest data access.
type Access struct {
	RIP uint64
	// Addr is the guest-physical address; an access never crosses a
	// 4 KiB page (an instruction that does makes two).
	Addr uint64
	Size uint32
	Kind AccessKind
	// Value is the bytes written (Write and RMW), as memory holds them
	// after the instruction. Value and Stack are valid during the Event
	// call only: an analysis that keeps them copies them.
	Value []byte
	// Exits and Step are the position: the vCPU's exits before the
	// access, and the instructions it executed since the last of them.
	Exits, Step uint64
	// Stack is the call stack at the instruction: the return addresses
	// of the frames above it, innermost first, from the guest's frame
	// pointers (guest/ABI.md). Not kept in trace files.
	Stack []uint64
}

// EventKind says what an Event is.
type EventKind uint8

// The kinds of event.
const (
	EventAccess EventKind = iota + 1
	// EventRegionBegin and EventRegionEnd bracket a test region of one
	// vCPU (HC_REGION_BEGIN/END): Region is its id.
	EventRegionBegin
	EventRegionEnd
	// EventLabel names guest memory (HC_LABEL).
	EventLabel
)

// Event is one thing a replay tells the analyses.
type Event struct {
	Kind   EventKind
	CPU    int
	Access Access // EventAccess
	Region uint64 // EventRegionBegin, EventRegionEnd
	Label  Label  // EventLabel
}

// Label names a guest memory range: its name carries a C type and an
// instance, such as "struct inode:17".
type Label struct {
	Addr, Len uint64
	Name      string
}

// Run is what an analysis knows of the replay before its first event.
type Run struct {
	CPUs int
	// MemSize is the guest's RAM in bytes.
	MemSize uint64
	// Image is the guest ELF, for symbols.
	Image []byte
	// Out is where the analysis writes its results.
	Out *Output
}

// Analysis is one analysis of a replay.
type Analysis interface {
	// Name is the analysis's name, the stem of its output files.
	Name() string
	Start(run *Run) error
	Event(ev *Event) error
	// Finish writes the results to the run's Output.
	Finish() error
}

// Output is where analyses write their results: a directory.
type Output struct {
	Dir string
}

// Text writes DIR/NAME.txt.
func (o *Output) Text(name, text string) error {
	return o.write(name+".txt", []byte(text))
}

// JSON writes v as DIR/NAME.json, indented.
func (o *Output) JSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return o.write(name+".json", append(b, '\n'))
}

// Path is where an analysis writes a file of its own.
func (o *Output) Path(file string) string { return filepath.Join(o.Dir, file) }

func (o *Output) write(file string, b []byte) error {
	if err := os.WriteFile(o.Path(file), b, 0o644); err != nil {
		return fmt.Errorf("write analysis output: %w", err)
	}
	return nil
}

// Names lists the built-in analyses.
func Names() []string { return []string{"sharing", "trace"} }

// Options are the built-in analyses' settings.
type Options struct {
	// CacheLine makes sharing report ranges by 64-byte cache line, so
	// that false sharing shows too.
	CacheLine bool
}

// ByName returns the built-in analyses named in a comma-separated list.
func ByName(list string, opts Options) ([]Analysis, error) {
	var out []Analysis
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "trace":
			out = append(out, NewTrace())
		case "sharing":
			out = append(out, NewSharing(opts.CacheLine))
		default:
			return nil, fmt.Errorf("no analysis %q (there are: %s)", name, strings.Join(Names(), ", "))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no analysis named in %q (there are: %s)", list, strings.Join(Names(), ", "))
	}
	return out, nil
}
