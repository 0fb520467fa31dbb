// Package logdiff compares two recordings of one workload and explains
// where they part: the first event at which their logs differ (a CREW
// transition granted the other way, an input with another value, a
// different wake), what that event touched (the page's data symbols, the
// functions the vCPUs were stopped in), and the differences that follow
// from it until the recordings fall back in step or end. It is what
// `vmm diff` prints; it reads logs only and never runs a guest, so it
// works on any machine.
//
// # How the logs are compared
//
// The logs are first compared event by event in log order. The events
// up to the first one that differs are the shared prefix; that event's
// index is where the logs part (Result.First).
//
// After that, log order says little: the recorder appends the events of
// different vCPUs in whatever order their threads got to the log, so two
// equivalent runs may interleave them differently. From the parting
// point on, the events are therefore aligned per actor (each vCPU, the
// DMA actor, and the events that belong to no vCPU): the k-th event of
// vCPU 1 in A is compared with the k-th event of vCPU 1 in B. Positions
// are counted in a vCPU's own exits, so equal per-vCPU streams are the
// same execution. CREW transitions are also compared per page: a
// transition that is equal on both sides but is the n-th of its page in
// A and the m-th in B was granted in the other order, which is a real
// difference. A pair that is equal in both respects but sits at other
// indexes is only interleaved differently and is counted in
// Result.Reordered, not reported.
//
// Result.First's class comes from the parting pair: transitions of one
// page to different vCPUs, or a transition whose page the other log gives
// to another vCPU first, are crew-order; otherwise it is the class of the
// per-actor difference a parting event was paired into; and when both
// parting events found their equals, interleaving (with the first real
// difference, if any, named in the summary).
//
// The recordings reconverge (Result.Reconverged) at the first point after
// the last difference where every event read so far on both sides has
// been paired: from there to the end every event of A has its equal in
// B. A per-actor stream that gains or loses one event stays shifted by
// it, which is reported as a difference at every later event of that
// actor: a real divergence of a vCPU (an extra fault, a different path)
// also shifts its exit counts, so later positions would not match
// anyway.
package logdiff

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/crewvm/crewvm/replaylog"
)

// Defaults of Options.
const (
	// DefaultContext is how many shared events before the parting point
	// a Result shows.
	DefaultContext = 5
	// DefaultFollow is how many later differences a Result lists.
	DefaultFollow = 20
	// MaxPending bounds the events held while the per-actor streams are
	// out of step, so that two logs that never realign cannot make the
	// comparison hold both in memory; past it the walk stops and
	// Result.Stopped says where.
	MaxPending = 1 << 18
)

// Options tune a comparison. The zero value gives the defaults.
type Options struct {
	// Context is how many shared events before the first difference to
	// show: 0 means DefaultContext, a negative number none.
	Context int
	// Follow is how many later differences to list: 0 means
	// DefaultFollow, a negative number none. The walk goes on to the end
	// either way, to count them and find where the logs reconverge.
	Follow int
	// NameA and NameB name the logs in messages and in the Result (their
	// file names); empty means "A" and "B".
	NameA, NameB string
	// Image is the guest image to symbolize addresses with. Nil means the
	// one A's header names: the built-in guest, or the file at its path
	// when its SHA-256 matches the header's.
	Image []byte
}

func (o Options) withDefaults() Options {
	switch {
	case o.Context == 0:
		o.Context = DefaultContext
	case o.Context < 0:
		o.Context = 0
	}
	switch {
	case o.Follow == 0:
		o.Follow = DefaultFollow
	case o.Follow < 0:
		o.Follow = 0
	}
	if o.NameA == "" {
		o.NameA = "A"
	}
	if o.NameB == "" {
		o.NameB = "B"
	}
	return o
}

// Class says what kind of difference an event pair shows; the values are
// stable, for scripts reading the JSON.
type Class string

// The classes of difference.
const (
	// ClassCREW: a page's ownership went another way: to another vCPU,
	// at another point of a vCPU's execution, after the other vCPU had
	// got to another point, or in another order among its transitions.
	ClassCREW Class = "crew-order"
	// ClassInput: an input of the same kind (port or MMIO read, clock,
	// TSC, hypercall result, console input, DMA data) with another value
	// or at another point.
	ClassInput Class = "input"
	// ClassWake: a halted vCPU resumed at another point or was woken by
	// another vCPU or at another point of the waker.
	ClassWake Class = "wake"
	// ClassKind: the two events are of different kinds.
	ClassKind Class = "kind"
	// ClassEndsEarly: one log (or one actor's events) ends where the
	// other goes on.
	ClassEndsEarly Class = "ends-early"
	// ClassInterleaving: the logs part only in how they interleave the
	// vCPUs' events; per vCPU, the events there are equal.
	ClassInterleaving Class = "interleaving"
	// ClassState: a state check (registers, memory hash) differs.
	ClassState Class = "state"
	// ClassOutcome: the guest exits with another status.
	ClassOutcome Class = "outcome"
	// ClassOther: events of one kind that differ in another way
	// (interrupts, regions, labels).
	ClassOther Class = "other"
)

// Describe is the class in words, as the text output heads a difference.
func (c Class) Describe() string {
	switch c {
	case ClassCREW:
		return "CREW transition granted in the other order"
	case ClassInput:
		return "input differs"
	case ClassWake:
		return "different wake"
	case ClassKind:
		return "different event kind"
	case ClassEndsEarly:
		return "one log ends early"
	case ClassInterleaving:
		return "same events, interleaved differently"
	case ClassState:
		return "state differs"
	case ClassOutcome:
		return "different outcome"
	case ClassOther:
		return "events differ"
	}
	return string(c)
}

// Result is a comparison of two logs. Every string in it is computed
// when it is made, so that WriteText and the JSON encoding show the same
// thing and need nothing else.
type Result struct {
	A LogInfo `json:"a"`
	B LogInfo `json:"b"`
	// HeaderNotes are header fields that differ without making the logs
	// incomparable (writer version, CPUID, the guest's name).
	HeaderNotes []HeaderField `json:"header_notes"`
	// Symbols says where names come from, or why addresses are raw.
	Symbols string `json:"symbols"`
	// Same is true when the logs hold the same events in the same order.
	Same bool `json:"same"`
	// Equivalent is true when the logs part only in how they interleave
	// the vCPUs' events: per actor and per page they are equal.
	Equivalent bool `json:"equivalent"`
	// Shared is the number of events both logs begin with.
	Shared uint64 `json:"shared_events"`
	// Context is the last shared events before First (Options.Context).
	Context []EventView `json:"context"`
	// First is where the logs part; nil when they are the same.
	First *First `json:"first,omitempty"`
	// Later are the differences after First, in the order found, at most
	// Options.Follow of them; LaterTotal counts them all.
	Later      []Difference `json:"later"`
	LaterTotal uint64       `json:"later_total"`
	// Reordered counts the event pairs after First that are equal but
	// sit at other indexes: interleaving only.
	Reordered uint64 `json:"reordered"`
	// Reconverged is where the logs fall back in step for good; nil when
	// they differ up to the end (or are the same).
	Reconverged *Sync `json:"reconverged,omitempty"`
	// Stopped says why the walk stopped before the end, if it did.
	Stopped string `json:"stopped,omitempty"`
}

// LogInfo describes one of the logs from its header.
type LogInfo struct {
	Name        string    `json:"name"`
	Guest       string    `json:"guest"`
	GuestSHA256 string    `json:"guest_sha256"`
	Args        []string  `json:"args"`
	VCPUs       uint32    `json:"vcpus"`
	MemBytes    uint64    `json:"mem_bytes"`
	PageSize    uint32    `json:"page_size"`
	DiskBytes   uint64    `json:"disk_bytes,omitempty"`
	Writer      string    `json:"writer_version"`
	Created     time.Time `json:"created"`
	// Events is how many events were read: all of them, unless the walk
	// stopped early.
	Events uint64 `json:"events"`
}

// HeaderField is a header field whose values differ between the logs.
type HeaderField struct {
	Field string `json:"field"`
	A     string `json:"a"`
	B     string `json:"b"`
}

// First is where the logs part: the first index at which their events
// differ.
type First struct {
	// Index is the index of the first differing event (in both logs: the
	// events before it are shared).
	Index uint64 `json:"index"`
	Class Class  `json:"class"`
	// Summary explains the difference in one sentence, symbolized.
	Summary string `json:"summary"`
	// A and B are the logs' events at Index; nil for a log that ends
	// there.
	A *EventView `json:"a"`
	B *EventView `json:"b"`
}

// Difference is a pair of events of one actor, its Seq-th event in each
// log (counted from 0 over the whole log), that differ; A or B is nil
// when that log has no such event.
type Difference struct {
	Class   Class      `json:"class"`
	Summary string     `json:"summary"`
	Actor   string     `json:"actor"`
	Seq     uint64     `json:"seq"`
	A       *EventView `json:"a"`
	B       *EventView `json:"b"`
}

// EventView is an event as the output shows it.
type EventView struct {
	Index uint64 `json:"index"`
	Actor string `json:"actor"`
	Kind  string `json:"kind"`
	// Text is the event as `vmm log dump` prints it.
	Text string `json:"text"`
	// Page is the CREW page, symbolized; nil for other kinds.
	Page *PageView `json:"page,omitempty"`
	// Stops are the state positions in the event (its own, its
	// constraints'), with the instruction each vCPU was stopped at.
	Stops []Stop `json:"stops,omitempty"`
}

// PageView names a CREW page: its guest-physical address and the data
// symbols that lie in it.
type PageView struct {
	Page uint64 `json:"page"`
	GPA  uint64 `json:"gpa"`
	// Symbols are the labelled ranges and the guest's objects in the
	// page, in address order (its functions for a page of code); at most
	// eight, More counts the rest.
	Symbols []string `json:"symbols"`
	More    int      `json:"more,omitempty"`
	// Touched are the symbols in the page that the instructions at the
	// event's stops access.
	Touched []string `json:"touched,omitempty"`
}

// Stop is a vCPU stopped at a state-matched position: where it was.
type Stop struct {
	Actor string `json:"actor"`
	Pos   string `json:"pos"`
	RIP   uint64 `json:"rip"`
	// Where is the RIP symbolized: function, offset, file:line.
	Where string `json:"where"`
	// Insn is the instruction there and what it accesses, when known.
	Insn string `json:"insn,omitempty"`
}

// Sync is a point where both logs are in step: from event A of the first
// log and event B of the second on, every event has its equal.
type Sync struct {
	A uint64 `json:"a"`
	B uint64 `json:"b"`
	// Matched is how many event pairs agree from there to the end.
	Matched uint64 `json:"matched"`
}

// MismatchError says that two logs are not recordings of one workload,
// so comparing their events would mean nothing: another guest image,
// other arguments, vCPU count, memory size, granularity, disk or input.
type MismatchError struct {
	NameA, NameB string
	Fields       []HeaderField
}

// Error names every header field that differs, with both logs' values.
func (e *MismatchError) Error() string {
	msg := fmt.Sprintf("%s and %s are not recordings of one workload:", e.NameA, e.NameB)
	for i, f := range e.Fields {
		if i > 0 {
			msg += ";"
		}
		msg += fmt.Sprintf(" %s: %s has %s, %s has %s", f.Field, e.NameA, f.A, e.NameB, f.B)
	}
	return msg
}

// CompareFiles opens the logs at pathA and pathB and compares them (see
// Compare); errors name the file they concern.
func CompareFiles(pathA, pathB string, opts Options) (*Result, error) {
	if opts.NameA == "" {
		opts.NameA = pathA
	}
	if opts.NameB == "" {
		opts.NameB = pathB
	}
	a, err := replaylog.Open(pathA)
	if err != nil {
		return nil, err // Open's errors name the path
	}
	defer a.Close()
	b, err := replaylog.Open(pathB)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return Compare(a, b, opts)
}

// Compare reads both logs from their current position (the first event,
// for readers just opened) to the end and compares them. Logs whose
// headers say they are of different workloads give a *MismatchError
// (and a Result that describes both headers); a log that is truncated or
// corrupt gives the reader's error, wrapped with the log's name.
func Compare(a, b *replaylog.Reader, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	ha, hb := a.Header(), b.Header()
	res := &Result{A: logInfo(opts.NameA, &ha), B: logInfo(opts.NameB, &hb), Context: []EventView{}, Later: []Difference{}}
	fatal, notes := compareHeaders(&ha, &hb)
	res.HeaderNotes = notes
	if res.HeaderNotes == nil {
		res.HeaderNotes = []HeaderField{}
	}
	if len(fatal) > 0 {
		return res, &MismatchError{NameA: opts.NameA, NameB: opts.NameB, Fields: fatal}
	}
	sym, how := loadSymbols(&ha, opts.Image)
	res.Symbols = how
	w := newWalker(a, b, &ha, opts, sym, res)
	if err := w.run(); err != nil {
		return res, err
	}
	return res, nil
}

// readErr wraps an error of a log's reader with the log's name; io.EOF
// is the normal end and passes through.
func readErr(name string, err error) error {
	if errors.Is(err, io.EOF) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}
