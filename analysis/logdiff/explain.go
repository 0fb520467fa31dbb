package logdiff

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/crewvm/crewvm/replaylog"
)

// isInput reports whether events of kind k carry a value the outside
// world chose.
func isInput(k replaylog.Kind) bool {
	switch k {
	case replaylog.KindPortIn, replaylog.KindMMIORead, replaylog.KindClock, replaylog.KindHypercall,
		replaylog.KindTSC, replaylog.KindConsoleInput, replaylog.KindDMA:
		return true
	}
	return false
}

// eventsOf names an actor's events in a sentence.
func (w *walker) eventsOf(v uint32) string {
	if v == replaylog.NoVCPU {
		return "events that belong to no vCPU"
	}
	return "events of " + w.actor(v)
}

// where says where a position is, symbolized.
func (w *walker) where(p replaylog.Position) string {
	switch p.Kind {
	case replaylog.PosExit:
		return "exit " + strconv.FormatUint(p.Exits, 10)
	case replaylog.PosState:
		return fmt.Sprintf("state %d.%d at %s", p.Exits, p.Seq, w.sym.syms.PC(p.Regs.RIP))
	}
	return "no position"
}

// positions says how two positions of one vCPU differ.
func (w *walker) positions(pa, pb replaylog.Position) string {
	if pa.Kind == replaylog.PosState && pb.Kind == replaylog.PosState && pa.Exits == pb.Exits && pa.Seq == pb.Seq &&
		pa.Regs.RIP == pb.Regs.RIP {
		if pa.Regs == pb.Regs {
			return fmt.Sprintf("%s in both, but with memory hash %#x in A and %#x in B", w.where(pa), pa.MemHash, pb.MemHash)
		}
		return fmt.Sprintf("%s in both, but with %s", w.where(pa), regsDiff(&pa.Regs, &pb.Regs))
	}
	return fmt.Sprintf("%s in A, %s in B", w.where(pa), w.where(pb))
}

// regsDiff names the registers that differ, with both values: a vCPU
// stopped at the same instruction with other registers had done another
// amount of work (a loop counter, a value loaded from shared memory).
func regsDiff(a, b *replaylog.Regs) string {
	// The general registers in Regs.GPR order.
	gprNames := [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}
	var parts []string
	for i := range a.GPR {
		if a.GPR[i] != b.GPR[i] {
			parts = append(parts, fmt.Sprintf("%s=%#x in A, %#x in B", gprNames[i], a.GPR[i], b.GPR[i]))
		}
	}
	const maxRegs = 4
	if len(parts) > maxRegs {
		parts = append(parts[:maxRegs], fmt.Sprintf("%d more registers", len(parts)-maxRegs))
	}
	// The arithmetic flags follow the registers; they say something only
	// when nothing else differs.
	if len(parts) == 0 && a.RFLAGS&^replaylog.RFLAGSIgnored != b.RFLAGS&^replaylog.RFLAGSIgnored {
		parts = append(parts, fmt.Sprintf("rflags=%#x in A, %#x in B", a.RFLAGS, b.RFLAGS))
	}
	if len(parts) == 0 {
		return "other flags"
	}
	return strings.Join(parts, ", ")
}

// pageName is a page with its first few symbols.
func pageName(pv *PageView) string {
	if pv == nil {
		return "page ?"
	}
	s := fmt.Sprintf("page %#x", pv.Page)
	if len(pv.Symbols) == 0 {
		return s
	}
	names := slices.Clone(pv.Touched)
	for _, n := range pv.Symbols {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	more := pv.More
	if len(names) > 3 {
		more += len(names) - 3
		names = names[:3]
	}
	s += " (" + strings.Join(names, ", ")
	if more > 0 {
		s += ", ..."
	}
	return s + ")"
}

// brief describes an event in a few words.
func (w *walker) brief(e *replaylog.Event, v *EventView) string {
	switch e.Kind {
	case replaylog.KindCREW:
		return fmt.Sprintf("%s's %s fault on %s at %s (-> %s)", w.actor(e.VCPU), e.Access, pageName(v.Page), w.where(e.Pos), e.State)
	case replaylog.KindWake:
		return fmt.Sprintf("%s's wake at %s", w.actor(e.VCPU), w.where(e.Pos))
	case replaylog.KindEnd:
		return "the end of the run"
	case replaylog.KindGuestExit:
		return fmt.Sprintf("the guest's exit with status %d", e.Value)
	}
	if isInput(e.Kind) {
		return w.actor(e.VCPU) + "'s " + inputDesc(e)
	}
	s := fmt.Sprintf("%s's %s", w.actor(e.VCPU), e.Kind)
	if e.Pos.Kind != replaylog.PosNone {
		s += " at " + w.where(e.Pos)
	}
	return s
}

// inputDesc says what an input was.
func inputDesc(e *replaylog.Event) string {
	what, value := inputParts(e)
	if value == "" {
		return what
	}
	return what + " returning " + value
}

// inputParts splits an input into what was asked and what came back.
func inputParts(e *replaylog.Event) (what, value string) {
	switch e.Kind {
	case replaylog.KindPortIn:
		return fmt.Sprintf("port %#x read (%d bytes)", e.Port, e.Size), fmt.Sprintf("%#x", e.Value)
	case replaylog.KindMMIORead:
		return fmt.Sprintf("MMIO read at %#x (%d bytes)", e.Addr, len(e.Data)), fmt.Sprintf("%x", e.Data)
	case replaylog.KindClock:
		return "clock read", fmt.Sprintf("%d ns", e.Value)
	case replaylog.KindHypercall:
		return fmt.Sprintf("hypercall %d", e.Nr), fmt.Sprintf("%#x", e.Value)
	case replaylog.KindTSC:
		return replaylog.TSCInsnName(e.Nr), fmt.Sprintf("%#x", e.Value)
	case replaylog.KindConsoleInput:
		return "console input", fmt.Sprintf("%q", e.Data)
	case replaylog.KindDMA:
		what = fmt.Sprintf("DMA transfer %d of device %d", e.Pos.Exits, e.Device)
		if t, err := replaylog.ParseDMATransfer(e.Data, ^uint64(0)); err == nil {
			return what, fmt.Sprintf("(%s)", t)
		}
		return what, fmt.Sprintf("(%d bytes)", len(e.Data))
	}
	return e.Kind.String(), ""
}

// sameInput reports whether two inputs of one kind returned the same.
func sameInput(a, b *replaylog.Event) bool {
	return a.Port == b.Port && a.Size == b.Size && a.Value == b.Value && a.Nr == b.Nr && a.Addr == b.Addr &&
		a.Device == b.Device && string(a.Data) == string(b.Data)
}

// explain classifies a pair of one actor's events and says in one
// sentence how they differ; a or b is nil when its log has no such event.
func (w *walker) explain(a, b *item, va, vb *EventView) (Class, string) {
	if a == nil || b == nil {
		have, miss, it, v := "A", "B", a, va
		if a == nil {
			have, miss, it, v = "B", "A", b, vb
		}
		return ClassEndsEarly, fmt.Sprintf("%s has only %d %s, while %s goes on with %s",
			miss, it.seq, w.eventsOf(it.ev.VCPU), have, w.brief(it.ev, v))
	}
	ea, eb := a.ev, b.ev
	who := w.actor(ea.VCPU)
	switch {
	case ea.Kind != eb.Kind:
		if eb.Kind == replaylog.KindEnd {
			return ClassEndsEarly, fmt.Sprintf("B's run ends here, while A goes on with %s", w.brief(ea, va))
		}
		if ea.Kind == replaylog.KindEnd {
			return ClassEndsEarly, fmt.Sprintf("A's run ends here, while B goes on with %s", w.brief(eb, vb))
		}
		return ClassKind, fmt.Sprintf("%s's event %d is a %s in A but a %s in B: A has %s, B %s",
			who, a.seq, ea.Kind, eb.Kind, w.brief(ea, va), w.brief(eb, vb))
	case ea.Kind == replaylog.KindCREW:
		return ClassCREW, w.explainCREW(a, b, va, vb)
	case isInput(ea.Kind):
		if sameInput(ea, eb) {
			return ClassInput, fmt.Sprintf("%s's %s came at another point: %s", who, inputDesc(ea), w.positions(ea.Pos, eb.Pos))
		}
		s := fmt.Sprintf("%s's %s in A, %s in B", who, inputDesc(ea), inputDesc(eb))
		if wa, xa := inputParts(ea); true {
			if wb, xb := inputParts(eb); wa == wb {
				s = fmt.Sprintf("%s's %s returned %s in A, %s in B", who, wa, xa, xb)
			}
		}
		if ea.Pos != eb.Pos {
			s += fmt.Sprintf(" (at %s)", w.positions(ea.Pos, eb.Pos))
		}
		return ClassInput, s
	case ea.Kind == replaylog.KindWake:
		at := fmt.Sprintf("at %s in both logs", w.where(ea.Pos))
		if ea.Pos != eb.Pos {
			at = "at " + w.positions(ea.Pos, eb.Pos)
		}
		return ClassWake, fmt.Sprintf("%s resumed from its halt %s; %s", who, at,
			w.constraints(ea.Constraints, eb.Constraints, "woken by"))
	case ea.Kind == replaylog.KindStateHash:
		s := fmt.Sprintf("%s's state check at %s", who, w.where(ea.Pos))
		if ea.Pos != eb.Pos {
			s = fmt.Sprintf("%s's state check is at %s", who, w.positions(ea.Pos, eb.Pos))
		}
		var parts []string
		if ea.Hash != eb.Hash {
			parts = append(parts, fmt.Sprintf("registers hash to %#x in A, %#x in B", ea.Hash, eb.Hash))
		}
		if ea.HasMemHash != eb.HasMemHash || ea.MemHash != eb.MemHash {
			parts = append(parts, fmt.Sprintf("memory hashes to %#x in A, %#x in B", ea.MemHash, eb.MemHash))
		}
		if len(parts) == 0 {
			return ClassState, s
		}
		return ClassState, s + ": " + strings.Join(parts, "; ")
	case ea.Kind == replaylog.KindGuestExit:
		s := fmt.Sprintf("the guest exits with status %d in A, %d in B", ea.Value, eb.Value)
		if ea.Value == eb.Value {
			s = fmt.Sprintf("the guest exits with status %d in both, but from %s at %s", ea.Value, who, w.positions(ea.Pos, eb.Pos))
		}
		return ClassOutcome, s
	}
	return ClassOther, fmt.Sprintf("%s's %s differs: %s in A, %s in B", who, ea.Kind, ea, eb)
}

// explainCREW says how two CREW transitions differ: the page, the vCPU
// it went to, the point of the faulting vCPU, the points at which the
// other vCPUs lost it, or only its order among the page's transitions.
func (w *walker) explainCREW(a, b *item, va, vb *EventView) string {
	ea, eb := a.ev, b.ev
	pa, pb := pageName(va.Page), pageName(vb.Page)
	switch {
	case ea.Page != eb.Page:
		return fmt.Sprintf("%s's transition is on %s in A but on %s in B", w.actor(ea.VCPU), pa, pb)
	case ea.VCPU != eb.VCPU:
		return fmt.Sprintf("%s went to %s in A but to %s in B", pa, w.actor(ea.VCPU), w.actor(eb.VCPU))
	case ea.Pos != eb.Pos:
		return fmt.Sprintf("%s faulted on %s at %s", w.actor(ea.VCPU), pa, w.positions(ea.Pos, eb.Pos))
	case ea.Access != eb.Access || ea.State != eb.State:
		return fmt.Sprintf("%s's fault on %s was a %s (-> %s) in A, a %s (-> %s) in B",
			w.actor(ea.VCPU), pa, ea.Access, ea.State, eb.Access, eb.State)
	case !slices.Equal(ea.Constraints, eb.Constraints):
		return fmt.Sprintf("%s went to %s (%s, %s) at %s in both logs; %s", pa, w.actor(ea.VCPU), ea.Access, ea.State,
			w.where(ea.Pos), w.constraints(ea.Constraints, eb.Constraints, "taken from"))
	}
	return fmt.Sprintf("the same transition of %s to %s, but the page's transition %d in A and %d in B: the page changed hands in the other order",
		pa, w.actor(ea.VCPU), a.ord, b.ord)
}

// constraints says how two constraint lists differ, vCPU by vCPU: verb
// is what the constraint means ("taken from" a vCPU, "woken by" one).
func (w *walker) constraints(ca, cb []replaylog.Constraint, verb string) string {
	find := func(cs []replaylog.Constraint, v uint32) (replaylog.Position, bool) {
		for _, c := range cs {
			if c.VCPU == v {
				return c.Pos, true
			}
		}
		return replaylog.Position{}, false
	}
	var vcpus []uint32
	for _, cs := range [][]replaylog.Constraint{ca, cb} {
		for _, c := range cs {
			if !slices.Contains(vcpus, c.VCPU) {
				vcpus = append(vcpus, c.VCPU)
			}
		}
	}
	var parts []string
	for _, v := range vcpus {
		pa, inA := find(ca, v)
		pb, inB := find(cb, v)
		switch {
		case inA && inB && pa == pb:
			continue
		case inA && inB:
			parts = append(parts, fmt.Sprintf("%s %s at %s", verb, w.actor(v), w.positions(pa, pb)))
		case inA:
			parts = append(parts, fmt.Sprintf("%s %s at %s in A, with no constraint on it in B", verb, w.actor(v), w.where(pa)))
		default:
			parts = append(parts, fmt.Sprintf("%s %s at %s in B, with no constraint on it in A", verb, w.actor(v), w.where(pb)))
		}
	}
	if len(parts) == 0 {
		return "the same constraints"
	}
	return strings.Join(parts, "; ")
}

// finishFirst classifies where the logs part, once the walk has paired
// the two parting events with their partners.
func (w *walker) finishFirst() {
	ea, eb := w.partEv[0], w.partEv[1]
	f := &First{Index: w.part, A: w.view(ea), B: w.view(eb)}
	w.res.First = f
	switch {
	case ea == nil || eb == nil:
		ended, other, e, v := "A", "B", eb, f.B
		if eb == nil {
			ended, other, e, v = "B", "A", ea, f.A
		}
		f.Class = ClassEndsEarly
		f.Summary = fmt.Sprintf("%s ends after %d events, while %s goes on with %s", ended, w.part, other, w.brief(e, v))
	case ea.VCPU == eb.VCPU && w.partDiff[0] != nil:
		f.Class, f.Summary = w.partDiff[0].Class, w.partDiff[0].Summary
		if extra := w.otherGrant(); extra != "" {
			f.Summary += "; " + extra
		}
	case ea.Kind == replaylog.KindCREW && eb.Kind == replaylog.KindCREW && ea.Page == eb.Page:
		f.Class = ClassCREW
		f.Summary = fmt.Sprintf("%s went to %s in A (%s fault at %s) but to %s in B (%s fault at %s)",
			pageName(f.A.Page), w.actor(ea.VCPU), ea.Access, w.where(ea.Pos), w.actor(eb.VCPU), eb.Access, w.where(eb.Pos))
	case w.otherGrant() != "":
		f.Class, f.Summary = ClassCREW, w.otherGrant()
	case ea.Kind == replaylog.KindEnd:
		f.Class, f.Summary = ClassEndsEarly, fmt.Sprintf("A's run ends here, while B goes on with %s", w.brief(eb, f.B))
	case eb.Kind == replaylog.KindEnd:
		f.Class, f.Summary = ClassEndsEarly, fmt.Sprintf("B's run ends here, while A goes on with %s", w.brief(ea, f.A))
	case w.partDiff[0] != nil:
		f.Class, f.Summary = w.partDiff[0].Class, fmt.Sprintf("A goes on with %s, B with %s; %s",
			w.brief(ea, f.A), w.brief(eb, f.B), w.partDiff[0].Summary)
	case w.partDiff[1] != nil:
		f.Class, f.Summary = w.partDiff[1].Class, fmt.Sprintf("A goes on with %s, B with %s; %s",
			w.brief(ea, f.A), w.brief(eb, f.B), w.partDiff[1].Summary)
	default:
		f.Class = ClassInterleaving
		f.Summary = fmt.Sprintf("A logs %s here, B %s: both are in the other log too, in another interleaving",
			w.brief(ea, f.A), w.brief(eb, f.B))
		if w.res.LaterTotal > 0 {
			l := &w.res.Later[0]
			f.Summary += fmt.Sprintf("; the first real difference is %s's event %d: %s", l.Actor, l.Seq, l.Summary)
		}
	}
	w.res.Equivalent = f.Class == ClassInterleaving && w.res.LaterTotal == 0 && w.res.Stopped == ""
}

// otherGrant says where the other log first gives a parting CREW page
// to another actor, if it does: "the other side grants that page to
// another actor".
func (w *walker) otherGrant() string {
	for si, e := range w.partEv {
		o := w.firstOn[1-si]
		if e == nil || e.Kind != replaylog.KindCREW || o == nil || o.VCPU == e.VCPU {
			continue
		}
		name, other := "A", "B"
		if si == 1 {
			name, other = "B", "A"
		}
		return fmt.Sprintf("%s gives %s to %s at #%d, but %s gives it to %s first (#%d, %s fault at %s)",
			name, pageName(w.view(e).Page), w.actor(e.VCPU), e.Index, other, w.actor(o.VCPU), o.Index, o.Access, w.where(o.Pos))
	}
	return ""
}
