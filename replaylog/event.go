package replaylog

import (
	"bytes"
	"fmt"
	"strconv"
)

// Kind says what an Event records. The numeric values are part of the file
// format: never renumber a kind, only add new ones (with a minor version
// bump, see FormatMinor).
type Kind uint8

// The event kinds of format 1.0. Kind 0 is invalid so that a zero Event is
// caught by the writer instead of being logged as something plausible.
const (
	// KindPortIn is a port read answered by a device model: Port, Size, Value.
	KindPortIn Kind = 1
	// KindMMIORead is an MMIO read answered by a device model: Addr (GPA)
	// and Data (the bytes returned; the access size is len(Data)).
	KindMMIORead Kind = 2
	// KindClock is a paravirtual clock read: Value is the time in ns.
	KindClock Kind = 3
	// KindHypercall is a hypercall's result: Nr and Value (the result).
	KindHypercall Kind = 4
	// KindInterrupt is an injected interrupt: Vector, injected at Pos.
	KindInterrupt Kind = 5
	// KindDMA is one transfer of a device, a transaction of the DMA
	// actor: VCPU is the actor (Header.DMAActor), Pos the exit position
	// numbered by its transfers (the first is 1), Device the device, and
	// Data the transfer (DMATransfer: the guest memory it wrote, the
	// ranges it read and their hash). The actor's CREW transitions for
	// the transfer's pages come before it, at the same position. Before
	// format 1.5 the kind was reserved: VCPU NoVCPU, Addr and Data.
	KindDMA Kind = 6
	// KindConsoleInput is console input that reached the VMM: Data.
	KindConsoleInput Kind = 7
	// KindCREW is a CREW ownership transition: the faulting VCPU at Pos
	// touched Page with Access, the page went to State, and the rights of
	// each vCPU in Constraints were reduced at the position given there
	// (those reductions happen-before the faulting vCPU proceeds). Only
	// the necessary constraints are listed.
	KindCREW Kind = 8
	// KindStateHash is a state check: at Pos, VCPU's registers hashed to
	// Hash and, when HasMemHash, memory hashed to MemHash.
	KindStateHash Kind = 9
	// KindRegionBegin opens a test region: Addr, Len, Name.
	KindRegionBegin Kind = 10
	// KindRegionEnd closes a test region: Addr, Len, Name.
	KindRegionEnd Kind = 11
	// KindLabel names guest memory for analyses: Addr, Len, Name.
	KindLabel Kind = 12
	// KindGuestExit is the guest asking to exit: Value is the status.
	KindGuestExit Kind = 13
	// KindEnd marks the end of the run; nothing follows it.
	KindEnd Kind = 14
	// KindWake is a halted VCPU resuming at Pos (the exit of its halt)
	// because of the wake in Constraints: the waker at the exit of its
	// HC_WAKE. Replay holds the halt until the waker has got there, which
	// also covers a wake sent before the halt (format 1.1).
	KindWake Kind = 15
	// KindTSC is the value a trapped time-stamp counter read returned:
	// Nr names the instruction (TSCInsnRDTSC or TSCInsnRDTSCP), Value is
	// the 64-bit counter (format 1.2).
	KindTSC Kind = 16
	// KindAccess is one guest memory access that a trace-mode replay saw
	// (trace files, not recordings): VCPU at Pos (the exit position it
	// followed), Value the instructions it executed since that exit, Nr
	// the instruction's RIP, Addr the guest-physical address, Len the
	// size, Access its kind, Data the bytes written (format 1.3).
	KindAccess Kind = 17

	// maxKnownKind is the highest kind this version of the package knows.
	// Readers deliver higher kinds (written by a newer minor version) with
	// their raw payload in Data, see Event.Unknown.
	maxKnownKind = KindAccess
	// kindEscape in the low 6 bits of an event's kind byte means an
	// extended kind number follows as a varint; reserved for kinds >= 63.
	kindEscape = 63
)

var kindNames = [...]string{
	KindPortIn:       "port-in",
	KindMMIORead:     "mmio-read",
	KindClock:        "clock",
	KindHypercall:    "hypercall",
	KindInterrupt:    "interrupt",
	KindDMA:          "dma",
	KindConsoleInput: "console-input",
	KindCREW:         "crew",
	KindStateHash:    "state-hash",
	KindRegionBegin:  "region-begin",
	KindRegionEnd:    "region-end",
	KindLabel:        "label",
	KindGuestExit:    "guest-exit",
	KindEnd:          "end",
	KindWake:         "wake",
	KindTSC:          "tsc",
	KindAccess:       "access",
}

// Known reports whether k is a kind this version of the package decodes.
func (k Kind) Known() bool { return k >= KindPortIn && k <= maxKnownKind }

// String returns the kind's short name as used by `vmm log dump`.
func (k Kind) String() string {
	if k.Known() {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Kinds returns every kind this version knows, in numeric order; handy for
// tables in tools and tests.
func Kinds() []Kind {
	ks := make([]Kind, 0, maxKnownKind)
	for k := KindPortIn; k <= maxKnownKind; k++ {
		ks = append(ks, k)
	}
	return ks
}

// NoVCPU is the VCPU of an event that belongs to no vCPU (a DMA transfer,
// console input, the end of the run).
const NoVCPU = ^uint32(0)

// Access is the kind of memory access that caused a CREW fault.
type Access uint8

// Access kinds; 0 is invalid. A CREW transition is a read, write or
// fetch; a traced access can also be a read-modify-write.
const (
	AccessRead  Access = 1
	AccessWrite Access = 2
	AccessFetch Access = 3
	AccessRMW   Access = 4
)

func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessFetch:
		return "fetch"
	case AccessRMW:
		return "rmw"
	}
	return "access(" + strconv.Itoa(int(a)) + ")"
}

// PageState is a page's CREW state after a transition.
type PageState uint8

// Page states; 0 is invalid.
const (
	// PageShared is Concurrent-Read: a set of readers, no writer.
	PageShared PageState = 1
	// PageExclusive is Exclusive-Write: the faulting vCPU (or device)
	// owns the page, everyone else has no access.
	PageExclusive PageState = 2
)

func (s PageState) String() string {
	switch s {
	case PageShared:
		return "shared"
	case PageExclusive:
		return "exclusive"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Regs is the register state a state-matched position records. GPR is in
// register-number order, as instructions encode registers: RAX RCX RDX
// RBX RSP RBP RSI RDI R8 .. R15.
type Regs struct {
	GPR    [16]uint64
	RIP    uint64
	RFLAGS uint64
}

// RFLAGSIgnored are the RFLAGS bits a state position is compared
// without: TF (8) and RF (16), which a kick or a single-step may leave
// either way and which the guest never reads.
const RFLAGSIgnored = 1<<8 | 1<<16

// Hash returns a 64-bit FNV-1a hash of the registers. It is stable across
// versions so that KindStateHash events recorded by one vmm can be checked
// by another.
func (r *Regs) Hash() uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	mix := func(v uint64) {
		for i := 0; i < 8; i++ {
			h ^= v & 0xff
			h *= prime
			v >>= 8
		}
	}
	for _, v := range r.GPR {
		mix(v)
	}
	mix(r.RIP)
	mix(r.RFLAGS)
	return h
}

// PosKind says how a Position names a point of a vCPU's execution.
type PosKind uint8

const (
	// PosNone: the event carries no position.
	PosNone PosKind = 0
	// PosExit: the vCPU's Exits-th exit. Exact and cheap, because every
	// exit the guest causes happens at the same instruction on replay.
	PosExit PosKind = 1
	// PosState: the first point after the vCPU's Exits-th exit whose
	// registers equal Regs and whose memory hashes to MemHash; used where
	// the vCPU was kicked at an arbitrary instruction.
	PosState PosKind = 2
)

// Position names a point in one vCPU's execution (see DESIGN.md section 4).
type Position struct {
	Kind PosKind
	// Exits is the exit count: the position itself for PosExit, the count
	// of the last exit before it for PosState.
	Exits uint64
	// Regs and MemHash are only meaningful for PosState.
	Regs    Regs
	MemHash uint64
	// Seq numbers the state positions after the same exit from 1 (PosState,
	// format 1.1): kicks may stop a vCPU twice at equal states.
	Seq uint64
}

// ExitPos returns the position of a vCPU's n-th exit.
func ExitPos(n uint64) Position { return Position{Kind: PosExit, Exits: n} }

// StatePos returns the seq-th state-matched position after exit exits.
func StatePos(exits, seq uint64, regs *Regs, memHash uint64) Position {
	return Position{Kind: PosState, Exits: exits, Seq: seq, Regs: *regs, MemHash: memHash}
}

// String formats the position compactly: "exit:N" or
// "state:N/rip=0x...,hash=0x...".
func (p Position) String() string {
	switch p.Kind {
	case PosNone:
		return "-"
	case PosExit:
		return "exit:" + strconv.FormatUint(p.Exits, 10)
	case PosState:
		return fmt.Sprintf("state:%d.%d/rip=%#x,rflags=%#x,mem=%#016x", p.Exits, p.Seq, p.Regs.RIP, p.Regs.RFLAGS, p.MemHash)
	}
	return "pos(" + strconv.Itoa(int(p.Kind)) + ")"
}

// Constraint is one ordering edge of a CREW transition or DMA transfer:
// VCPU's rights were reduced when it reached Pos.
type Constraint struct {
	VCPU uint32
	Pos  Position
}

// Event is one logged non-deterministic input or ordering fact. It is one
// flat struct rather than an interface so that appending and decoding need
// no allocation: each Kind uses the fields its doc comment names and leaves
// the others zero (fields a kind does not use are not written and read back
// as zero). Build events with a composite literal or the helper
// constructors (PortIn, CREW, ...).
//
// An Event returned by Reader.Next is owned by the Reader and valid until
// the next call; Clone it to keep it.
type Event struct {
	// Index is the event's position in the log, counted from 0. Set by the
	// reader; ignored by the writer, which numbers events in Append order.
	Index uint64
	Kind  Kind
	// VCPU is the vCPU the event belongs to, or NoVCPU.
	VCPU uint32
	// Pos is where in VCPU's execution the event happened. Required for
	// KindInterrupt, KindCREW and KindStateHash, optional for the other
	// kinds of a vCPU (a replay can use it to catch divergence early).
	Pos Position

	Port   uint16 // KindPortIn
	Size   uint8  // KindPortIn: access size, 1, 2 or 4
	Vector uint8  // KindInterrupt
	// Value: port value, clock ns, hypercall result, guest exit status.
	Value  uint64
	Nr     uint64 // KindHypercall: hypercall number
	Addr   uint64 // GPA (MMIO, DMA) or guest address (regions, labels)
	Len    uint64 // regions and labels
	Page   uint64 // KindCREW: page number (GPA / granularity)
	Device uint32 // KindDMA
	Access Access
	State  PageState
	// HasMemHash says whether MemHash is set (KindStateHash).
	HasMemHash bool
	Hash       uint64 // KindStateHash: hash of the registers
	MemHash    uint64 // KindStateHash: hash of memory
	// Constraints: KindCREW, KindDMA and KindWake.
	Constraints []Constraint
	// Data: MMIO and DMA bytes, console input; the raw payload of a kind
	// this version does not know.
	Data []byte
	// Name: regions and labels.
	Name string
}

// Unknown reports whether the event's kind is newer than this package; its
// payload after the position is then in Data, undecoded.
func (e *Event) Unknown() bool { return !e.Kind.Known() }

// Clone returns a deep copy of e that does not share Data or Constraints.
func (e *Event) Clone() *Event {
	c := *e
	if e.Data != nil {
		c.Data = append([]byte(nil), e.Data...)
	}
	if e.Constraints != nil {
		c.Constraints = append([]Constraint(nil), e.Constraints...)
	}
	return &c
}

// MemAccess returns a trace's access event: vcpu, after exits exits and
// step instructions, executed the instruction at rip, which made an access
// of kind a to size bytes at gpa, writing data.
func MemAccess(vcpu uint32, exits, step, rip, gpa, size uint64, a Access, data []byte) Event {
	return Event{Kind: KindAccess, VCPU: vcpu, Pos: ExitPos(exits), Value: step, Nr: rip, Addr: gpa, Len: size,
		Access: a, Data: data}
}

// PortIn returns a port-in event.
func PortIn(vcpu uint32, port uint16, size uint8, value uint64) Event {
	return Event{Kind: KindPortIn, VCPU: vcpu, Port: port, Size: size, Value: value}
}

// MMIORead returns an MMIO read event; data is not copied until Append.
func MMIORead(vcpu uint32, gpa uint64, data []byte) Event {
	return Event{Kind: KindMMIORead, VCPU: vcpu, Addr: gpa, Data: data}
}

// Clock returns a paravirtual clock read event.
func Clock(vcpu uint32, ns uint64) Event {
	return Event{Kind: KindClock, VCPU: vcpu, Value: ns}
}

// The instructions a KindTSC event can stand for.
const (
	TSCInsnRDTSC  = 1
	TSCInsnRDTSCP = 2
)

// TSCInsnName names a KindTSC event's instruction.
func TSCInsnName(nr uint64) string {
	switch nr {
	case TSCInsnRDTSC:
		return "rdtsc"
	case TSCInsnRDTSCP:
		return "rdtscp"
	}
	return fmt.Sprintf("insn%d", nr)
}

// TSC returns the event of a trapped rdtsc or rdtscp at exit position at.
func TSC(vcpu uint32, insn uint64, value uint64, at uint64) Event {
	return Event{Kind: KindTSC, VCPU: vcpu, Nr: insn, Value: value, Pos: ExitPos(at)}
}

// Hypercall returns a hypercall result event.
func Hypercall(vcpu uint32, nr, result uint64) Event {
	return Event{Kind: KindHypercall, VCPU: vcpu, Nr: nr, Value: result}
}

// Interrupt returns an interrupt injection event.
func Interrupt(vcpu uint32, vector uint8, at Position) Event {
	return Event{Kind: KindInterrupt, VCPU: vcpu, Vector: vector, Pos: at}
}

// DMA returns the event of device's transfer number n, made by the DMA
// actor actor, with data a DMATransfer's encoding.
func DMA(actor, device uint32, n uint64, data []byte) Event {
	return Event{Kind: KindDMA, VCPU: actor, Pos: ExitPos(n), Device: device, Data: data}
}

// ConsoleInput returns a console input event not tied to a vCPU.
func ConsoleInput(data []byte) Event {
	return Event{Kind: KindConsoleInput, VCPU: NoVCPU, Data: data}
}

// CREW returns a CREW transition event.
func CREW(vcpu uint32, at Position, page uint64, access Access, state PageState, constraints []Constraint) Event {
	return Event{Kind: KindCREW, VCPU: vcpu, Pos: at, Page: page, Access: access, State: state, Constraints: constraints}
}

// Wake returns the event of a halted vCPU resuming at its exit position
// halt because waker's wake at position woke it.
func Wake(vcpu uint32, halt uint64, waker uint32, at Position) Event {
	return Event{Kind: KindWake, VCPU: vcpu, Pos: ExitPos(halt), Constraints: []Constraint{{VCPU: waker, Pos: at}}}
}

// StateHash returns a state-hash event; memHash is recorded only when
// hasMem is true.
func StateHash(vcpu uint32, at Position, regsHash uint64, hasMem bool, memHash uint64) Event {
	e := Event{Kind: KindStateHash, VCPU: vcpu, Pos: at, Hash: regsHash, HasMemHash: hasMem}
	if hasMem {
		e.MemHash = memHash
	}
	return e
}

// Region returns a region-begin, region-end or label event.
func Region(kind Kind, vcpu uint32, addr, length uint64, name string) Event {
	return Event{Kind: kind, VCPU: vcpu, Addr: addr, Len: length, Name: name}
}

// GuestExit returns a guest exit event.
func GuestExit(vcpu uint32, status uint64) Event {
	return Event{Kind: KindGuestExit, VCPU: vcpu, Value: status}
}

// End returns the end-of-run event.
func End() Event { return Event{Kind: KindEnd, VCPU: NoVCPU} }

// String formats the event on one line for dumps, e.g.
// "#12 vcpu=1 port-in port=0x3f8 size=1 value=0x41".
func (e *Event) String() string {
	var b bytes.Buffer
	b.WriteByte('#')
	b.WriteString(strconv.FormatUint(e.Index, 10))
	b.WriteString(" vcpu=")
	if e.VCPU == NoVCPU {
		b.WriteByte('-')
	} else {
		b.WriteString(strconv.FormatUint(uint64(e.VCPU), 10))
	}
	b.WriteByte(' ')
	b.WriteString(e.Kind.String())
	if e.Pos.Kind != PosNone {
		b.WriteString(" at=")
		b.WriteString(e.Pos.String())
	}
	switch e.Kind {
	case KindPortIn:
		fmt.Fprintf(&b, " port=%#x size=%d value=%#x", e.Port, e.Size, e.Value)
	case KindMMIORead:
		fmt.Fprintf(&b, " gpa=%#x data=%s", e.Addr, hexBytes(e.Data))
	case KindClock:
		fmt.Fprintf(&b, " ns=%d", e.Value)
	case KindHypercall:
		fmt.Fprintf(&b, " nr=%d result=%#x", e.Nr, e.Value)
	case KindTSC:
		fmt.Fprintf(&b, " insn=%s value=%#x", TSCInsnName(e.Nr), e.Value)
	case KindInterrupt:
		fmt.Fprintf(&b, " vector=%#x", e.Vector)
	case KindDMA:
		if t, err := ParseDMATransfer(e.Data, ^uint64(0)); err == nil {
			fmt.Fprintf(&b, " device=%d %s", e.Device, t)
		} else {
			fmt.Fprintf(&b, " device=%d gpa=%#x len=%d data=%s", e.Device, e.Addr, len(e.Data), hexBytes(e.Data))
		}
		writeConstraints(&b, e.Constraints)
	case KindConsoleInput:
		fmt.Fprintf(&b, " data=%s", quoteBytes(e.Data))
	case KindCREW:
		fmt.Fprintf(&b, " page=%#x access=%s state=%s", e.Page, e.Access, e.State)
		writeConstraints(&b, e.Constraints)
	case KindWake:
		writeConstraints(&b, e.Constraints)
	case KindStateHash:
		fmt.Fprintf(&b, " regs=%#016x", e.Hash)
		if e.HasMemHash {
			fmt.Fprintf(&b, " mem=%#016x", e.MemHash)
		}
	case KindRegionBegin, KindRegionEnd, KindLabel:
		fmt.Fprintf(&b, " addr=%#x len=%d name=%q", e.Addr, e.Len, e.Name)
	case KindGuestExit:
		fmt.Fprintf(&b, " status=%d", e.Value)
	case KindAccess:
		fmt.Fprintf(&b, " step=%d rip=%#x gpa=%#x size=%d %s", e.Value, e.Nr, e.Addr, e.Len, e.Access)
		if e.Data != nil {
			fmt.Fprintf(&b, " data=%s", hexBytes(e.Data))
		}
	case KindEnd:
	default:
		fmt.Fprintf(&b, " payload=%s", hexBytes(e.Data))
	}
	return b.String()
}

func writeConstraints(b *bytes.Buffer, cs []Constraint) {
	if len(cs) == 0 {
		return
	}
	b.WriteString(" after=[")
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "vcpu%d@%s", c.VCPU, c.Pos)
	}
	b.WriteByte(']')
}

// dumpBytes bounds how much of a payload a one-line dump shows.
const dumpBytes = 32

func hexBytes(p []byte) string {
	if len(p) <= dumpBytes {
		return fmt.Sprintf("%x", p)
	}
	return fmt.Sprintf("%x...(%d bytes)", p[:dumpBytes], len(p))
}

func quoteBytes(p []byte) string {
	if len(p) <= dumpBytes*2 {
		return strconv.Quote(string(p))
	}
	return strconv.Quote(string(p[:dumpBytes*2])) + "...(" + strconv.Itoa(len(p)) + " bytes)"
}
