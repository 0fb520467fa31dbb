package analysis

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/crewvm/crewvm/replaylog"
)

// TraceFile is the file the trace analysis writes in its output
// directory: a replaylog file (its framing, checksums, compression and
// index) of KindAccess, region and label events, which `vmm log dump`
// and ReadTrace read.
const TraceFile = "trace.crewlog"

// Trace is the trace analysis: it writes every event to TraceFile and
// counts them in trace.txt and trace.json.
type Trace struct {
	out    *Output
	w      *replaylog.Writer
	counts traceCounts
}

type traceCounts struct {
	Accesses, Reads, Writes, RMWs, Fetches uint64
	Bytes                                  uint64
	Regions, Labels                        uint64
}

// NewTrace returns a trace analysis.
func NewTrace() *Trace { return &Trace{} }

// Name implements Analysis.
func (t *Trace) Name() string { return "trace" }

// Start implements Analysis.
func (t *Trace) Start(run *Run) error {
	h := replaylog.Header{WriterVersion: "trace", Guest: "trace", VCPUs: uint32(max(run.CPUs, 1)),
		MemSize: max(run.MemSize, 4096), PageSize: 4096}
	w, err := replaylog.Create(run.Out.Path(TraceFile), h, replaylog.WriterOptions{})
	if err != nil {
		return err
	}
	t.out, t.w = run.Out, w
	return nil
}

// logAccess names an access kind in the log.
func logAccess(k AccessKind) replaylog.Access {
	switch k {
	case Write:
		return replaylog.AccessWrite
	case RMW:
		return replaylog.AccessRMW
	case Fetch:
		return replaylog.AccessFetch
	}
	return replaylog.AccessRead
}

// accessKind is the inverse of logAccess.
func accessKind(a replaylog.Access) AccessKind {
	switch a {
	case replaylog.AccessWrite:
		return Write
	case replaylog.AccessRMW:
		return RMW
	case replaylog.AccessFetch:
		return Fetch
	}
	return Read
}

// Event implements Analysis.
func (t *Trace) Event(ev *Event) error {
	var le replaylog.Event
	switch ev.Kind {
	case EventAccess:
		a := &ev.Access
		t.counts.Accesses++
		t.counts.Bytes += uint64(a.Size)
		switch a.Kind {
		case Read:
			t.counts.Reads++
		case Write:
			t.counts.Writes++
		case RMW:
			t.counts.RMWs++
		case Fetch:
			t.counts.Fetches++
		}
		le = replaylog.MemAccess(uint32(ev.CPU), a.Exits, a.Step, a.RIP, a.Addr, uint64(a.Size), logAccess(a.Kind), a.Value)
		if len(a.Value) == 0 {
			le.Data = nil
		}
	case EventRegionBegin, EventRegionEnd:
		t.counts.Regions++
		kind := replaylog.KindRegionBegin
		if ev.Kind == EventRegionEnd {
			kind = replaylog.KindRegionEnd
		}
		le = replaylog.Region(kind, uint32(ev.CPU), ev.Region, 0, "")
	case EventLabel:
		t.counts.Labels++
		le = replaylog.Region(replaylog.KindLabel, uint32(ev.CPU), ev.Label.Addr, ev.Label.Len, ev.Label.Name)
	default:
		return nil
	}
	if err := t.w.Append(&le); err != nil {
		return err
	}
	return nil
}

// Finish implements Analysis.
func (t *Trace) Finish() error {
	w, out := t.w, t.out
	end := replaylog.End()
	if err := w.Append(&end); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	c := t.counts
	var b strings.Builder
	fmt.Fprintf(&b, "%d accesses (%d reads, %d writes, %d read-modify-writes, %d fetches), %d bytes\n",
		c.Accesses, c.Reads, c.Writes, c.RMWs, c.Fetches, c.Bytes)
	fmt.Fprintf(&b, "%d region events, %d labels\n", c.Regions, c.Labels)
	fmt.Fprintf(&b, "trace in %s (vmm log dump reads it)\n", TraceFile)
	if err := out.Text(t.Name(), b.String()); err != nil {
		return err
	}
	return out.JSON(t.Name(), struct {
		File string `json:"file"`
		traceCounts
	}{TraceFile, c})
}

// Close abandons the trace of a replay that failed: the file is closed
// without its end event, so ReadTrace reports it incomplete.
func (t *Trace) Close() error {
	if t.w == nil {
		return nil
	}
	return t.w.Close()
}

// ReadTrace reads the trace at path and calls f for each event in it.
func ReadTrace(path string, f func(*Event) error) error {
	r, err := replaylog.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		le, err := r.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("trace %s: ends without an end event", path)
		}
		if err != nil {
			return fmt.Errorf("trace %s: %w", path, err)
		}
		ev := Event{CPU: int(le.VCPU)}
		switch le.Kind {
		case replaylog.KindEnd:
			return nil
		case replaylog.KindAccess:
			ev.Kind = EventAccess
			ev.Access = Access{RIP: le.Nr, Addr: le.Addr, Size: uint32(le.Len), Kind: accessKind(le.Access),
				Value: append([]byte(nil), le.Data...), Exits: le.Pos.Exits, Step: le.Value}
		case replaylog.KindRegionBegin, replaylog.KindRegionEnd:
			ev.Kind, ev.Region = EventRegionBegin, le.Addr
			if le.Kind == replaylog.KindRegionEnd {
				ev.Kind = EventRegionEnd
			}
		case replaylog.KindLabel:
			ev.Kind, ev.Label = EventLabel, Label{Addr: le.Addr, Len: le.Len, Name: le.Name}
		default:
			continue
		}
		if err := f(&ev); err != nil {
			return err
		}
	}
}
