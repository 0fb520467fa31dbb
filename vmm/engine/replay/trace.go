package replay

// Trace mode: a replay that delivers every guest data access to the
// analyses. A traced vCPU is single-stepped: before each instruction the
// VMM decodes its footprint (x86.Analyze, the decoder the recorder uses
// for CREW faults, exact through REP iterations, SSE and page-crossing
// operands), and when the step completes it delivers those accesses, the
// written bytes read back from RAM, with the call stack from the guest's
// frame pointers. The steps are the engine's own
// KVM_RUNs (AfterRun): the machine sees only the exits the recording
// had, and CREW's protections stay on, so the accesses of two vCPUs to a
// page reach the analyses in the order the log gives them. A state
// position is reached by stepping to it instead of seeking it natively,
// so nothing on the way is missed. Outside test regions (unless
// TraceOptions.Everywhere) the vCPU runs at replay speed.

import (
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
	"github.com/crewvm/crewvm/vmm/x86"
)

// TraceOptions turn a replay into a trace-mode replay.
type TraceOptions struct {
	// Sink receives every event; the replay serialises its calls.
	Sink func(*analysis.Event) error
	// Everywhere traces the whole run, not only test regions.
	Everywhere bool
	// Fetches delivers instruction fetches too.
	Fetches bool
	// Ranges, when set, deliver only the accesses that overlap one of
	// these guest-physical ranges.
	Ranges []AddrRange
	// Window, when set, traces only its vCPU between two of its exits,
	// in place of Everywhere and the test regions.
	Window *Window
}

// AddrRange is the guest-physical range [Lo, Hi).
type AddrRange struct{ Lo, Hi uint64 }

// wanted says whether an access of size bytes at addr is delivered.
func (o *TraceOptions) wanted(addr uint64, size uint32) bool {
	if len(o.Ranges) == 0 {
		return true
	}
	for _, r := range o.Ranges {
		if addr < r.Hi && addr+uint64(size) > r.Lo {
			return true
		}
	}
	return false
}

// tracer is the trace-mode state of a replay.
type tracer struct {
	opts TraceOptions
	// mu serialises the sink's calls.
	mu   sync.Mutex
	cpus []traceCPU
}

// traceCPU is one vCPU's: only its own thread touches it.
type traceCPU struct {
	// regions counts the test regions open (HC_REGION_BEGIN/END nest).
	regions int
	// stepping: single-stepping is on in KVM; synced: KVM stores the
	// registers in kvm_run at each exit (kvm.VCPU.SyncRegs), which
	// saves two ioctls a step.
	stepping, synced bool
	// step counts the instructions since the last exit; steps and
	// accesses, those stepped and the accesses delivered in all.
	step, steps, accesses uint64
	// pending is the footprint of the instruction about to be stepped,
	// decoded in registers before and control state cpu (read again
	// after an exit and after an instruction that loads a segment).
	pending []analysis.Access
	before  kvm.Regs
	cpu     *x86.CPU
	segment bool
	// stack is the call stack at the pending instruction (unwind).
	stack []uint64
}

func newTracer(opts TraceOptions, cpus int) *tracer {
	return &tracer{opts: opts, cpus: make([]traceCPU, cpus)}
}

// traced says whether c's instructions are traced now.
func (t *tracer) traced(c *machine.VCPU) bool {
	if t.opts.Window != nil {
		return t.opts.Window.contains(c)
	}
	return t.opts.Everywhere || t.cpus[c.ID()].regions > 0
}

// emit hands one event to the sink.
func (t *tracer) emit(ev *analysis.Event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.opts.Sink(ev); err != nil {
		return fmt.Errorf("analysis: %w", err)
	}
	return nil
}

// report delivers what the guest reported (regions, labels), once the
// replay has checked it, and opens or closes c's tracing.
func (t *tracer) report(c *machine.VCPU, ev *replaylog.Event) error {
	out := analysis.Event{CPU: c.ID()}
	tc := &t.cpus[c.ID()]
	switch ev.Kind {
	case replaylog.KindRegionBegin:
		tc.regions++
		out.Kind, out.Region = analysis.EventRegionBegin, ev.Addr
	case replaylog.KindRegionEnd:
		tc.regions = max(tc.regions-1, 0)
		out.Kind, out.Region = analysis.EventRegionEnd, ev.Addr
	case replaylog.KindLabel:
		out.Kind, out.Label = analysis.EventLabel, analysis.Label{Addr: ev.Addr, Len: ev.Len, Name: ev.Name}
	default:
		return nil
	}
	return t.emit(&out)
}

// enter prepares c's next KVM_RUN: single-stepping with the next
// instruction decoded where c is traced, native otherwise.
func (e *Engine) traceEnter(c *machine.VCPU) error {
	t := e.tr
	tc := &t.cpus[c.ID()]
	if !t.traced(c) {
		if tc.stepping {
			tc.stepping = false
			if tc.synced {
				c.KVM().SyncRegs(false)
			}
			if err := c.KVM().SetGuestDebug(0, [8]uint64{}); err != nil {
				return fmt.Errorf("vCPU %d: end single-stepping: %w", c.ID(), err)
			}
		}
		return nil
	}
	tc.cpu = nil
	r, err := c.KVM().Regs()
	if err != nil {
		return fmt.Errorf("vCPU %d: read registers to trace: %w", c.ID(), err)
	}
	if err := e.decodeNext(c, r); err != nil {
		return err
	}
	// Issued before every entry: a KVM_SET_REGS (a served hypercall)
	// drops single-stepping (crew/HOSTFACTS.md section 4).
	if err := c.KVM().SetGuestDebug(kvm.DebugEnable|kvm.DebugSingleStep, [8]uint64{}); err != nil {
		return fmt.Errorf("vCPU %d: single-step: %w", c.ID(), err)
	}
	if !tc.stepping {
		tc.synced = c.KVM().SyncRegs(true)
	}
	tc.stepping = true
	return nil
}

// decodeNext decodes the data accesses of the instruction c is about to
// execute, with registers r, into its pending footprint.
func (e *Engine) decodeNext(c *machine.VCPU, r *kvm.Regs) error {
	tc := &e.tr.cpus[c.ID()]
	tc.pending = tc.pending[:0]
	tc.before = *r
	if tc.cpu == nil || tc.segment {
		x, err := c.CPU(r)
		if err != nil {
			return fmt.Errorf("vCPU %d: %w", c.ID(), err)
		}
		tc.cpu = x
	}
	x := tc.cpu
	x.Regs = x86.Regs{GPR: machine.GPRs(r), RIP: r.RIP, RFLAGS: r.RFLAGS}
	fp, err := x86.Analyze(e.m.Memory(), x)
	if fp == nil {
		return c.GuestError("trace: %v", err)
	}
	// An instruction the decoder does not model (err != nil) is traced
	// with the accesses it could bound; the guest's own faults
	// (fp.Faults) make no access.
	rmw := isRMW(fp.Inst)
	tc.segment = loadsSegment(fp.Inst)
	for _, a := range fp.Accesses {
		if a.PageTable || a.Kind == x86.KindFetch && !e.tr.opts.Fetches {
			continue
		}
		kind := analysis.Read
		switch {
		case a.Kind == x86.KindFetch:
			kind = analysis.Fetch
		case a.Kind == x86.KindWrite && rmw:
			kind = analysis.RMW
		case a.Kind == x86.KindWrite:
			kind = analysis.Write
		}
		tc.pending = append(tc.pending, analysis.Access{RIP: r.RIP, Addr: a.GPA, Size: uint32(a.Size), Kind: kind})
	}
	return nil
}

// isRMW says whether the instruction's memory writes also read the same
// bytes.
func isRMW(inst x86asm.Inst) bool {
	for _, p := range inst.Prefix {
		if p&0xff == x86asm.PrefixLOCK {
			return true
		}
	}
	switch inst.Op {
	case x86asm.ADD, x86asm.ADC, x86asm.SUB, x86asm.SBB, x86asm.AND, x86asm.OR, x86asm.XOR,
		x86asm.INC, x86asm.DEC, x86asm.NEG, x86asm.NOT,
		x86asm.SHL, x86asm.SHR, x86asm.SAR, x86asm.ROL, x86asm.ROR, x86asm.RCL, x86asm.RCR, x86asm.SHLD, x86asm.SHRD,
		x86asm.BTS, x86asm.BTR, x86asm.BTC,
		x86asm.XCHG, x86asm.XADD, x86asm.CMPXCHG, x86asm.CMPXCHG8B, x86asm.CMPXCHG16B:
		return true
	}
	return false
}

// loadsSegment says whether inst may change a segment register or its
// base, which the footprints of the instructions after it depend on.
func loadsSegment(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.WRFSBASE, x86asm.WRGSBASE, x86asm.LFS, x86asm.LGS, x86asm.LSS, x86asm.SWAPGS:
		return true
	case x86asm.MOV, x86asm.POP:
		r, ok := inst.Args[0].(x86asm.Reg)
		return ok && r >= x86asm.ES && r <= x86asm.GS
	}
	return false
}

// stepped reads c's registers after a KVM_RUN that returned errno while
// single-stepping, delivers the pending instruction's accesses if it
// ran, and says whether c is still stepping at an instruction boundary
// (the KVM_RUN was a completed or a spurious step) with the registers
// there. Whether the instruction ran is told by its registers, which it
// always changes (RIP, or RCX for a REP iteration), not by the exit: a
// signal can end a KVM_RUN after the instruction and before its #DB, and
// leave the #DB to end the next KVM_RUN before any instruction.
func (e *Engine) stepped(c *machine.VCPU, errno unix.Errno) (*kvm.Regs, bool, error) {
	tc := &e.tr.cpus[c.ID()]
	r, vector := new(kvm.Regs), -1
	// A KVM_RUN that a signal ended (EINTR) may not have stored them.
	if tc.synced && errno == 0 {
		*r, vector = c.KVM().Synced()
	} else {
		var err error
		if r, err = c.KVM().Regs(); err != nil {
			return nil, false, fmt.Errorf("vCPU %d: read registers after a step: %w", c.ID(), err)
		}
	}
	// TF and RF are the stepping's, not the instruction's; a CREW fault
	// (EFAULT) stops the instruction before it ran.
	after, before := *r, tc.before
	after.RFLAGS &^= replaylog.RFLAGSIgnored
	before.RFLAGS &^= replaylog.RFLAGSIgnored
	ran := errno != unix.EFAULT && after != before
	if ran {
		if err := e.delivered(c, r); err != nil {
			return nil, false, err
		}
	}
	if errno != 0 || c.KVM().RunData().ExitReason != kvm.ExitShutdown {
		return r, false, nil
	}
	// A shutdown after the instruction ran is its #DB; one before it is
	// a #DB left over, or the guest's own exception at it.
	if vector < 0 {
		vector = c.KVM().Exception()
	}
	return r, ran || vector == 1, nil
}

// traceRun steps c while it is traced, from the KVM_RUN that returned
// errno, delivering each completed instruction's accesses, and returns
// the errno of the first exit that is not a step: one of the
// recording's, which the machine serves (a CREW fault or a trapped
// instruction, before the instruction ran; a kick).
func (e *Engine) traceRun(c *machine.VCPU, errno unix.Errno) unix.Errno {
	tc := &e.tr.cpus[c.ID()]
	for tc.stepping {
		r, more, err := e.stepped(c, errno)
		if err == nil && more {
			err = e.decodeNext(c, r)
		}
		if err != nil {
			e.m.Finish(0, err)
			return unix.EINTR
		}
		if !more {
			tc.pending = tc.pending[:0]
			return errno
		}
		errno = c.KVM().Run()
	}
	return errno
}

// delivered hands the accesses of the instruction c just completed,
// which left registers r, to the analyses, with the bytes it wrote, and
// to the Step watch.
func (e *Engine) delivered(c *machine.VCPU, r *kvm.Regs) error {
	t := e.tr
	tc := &t.cpus[c.ID()]
	ram := e.m.Memory().Host()
	for i := range tc.pending {
		a := &tc.pending[i]
		a.Exits, a.Step = c.Exits(), tc.step
		if a.Kind.Writes() {
			a.Value = ram[a.Addr : a.Addr+uint64(a.Size)]
		}
		if !t.opts.wanted(a.Addr, a.Size) {
			continue
		}
		if i == 0 || tc.pending[i-1].RIP != a.RIP {
			tc.stack = e.unwind(tc.cpu, &tc.before, tc.stack[:0])
		}
		a.Stack = tc.stack
		if err := t.emit(&analysis.Event{Kind: analysis.EventAccess, CPU: c.ID(), Access: *a}); err != nil {
			return err
		}
		tc.accesses++
	}
	tc.step++
	tc.steps++
	if w := e.opts.Watch; w != nil && w.Step != nil {
		p := &Point{CPU: c.ID(), Exits: c.Exits(), Step: tc.step, RIP: tc.before.RIP, Regs: r, Accesses: tc.pending, e: e, c: c}
		if err := w.Step(p); err != nil {
			return err
		}
	}
	tc.pending = tc.pending[:0]
	return nil
}

// maxFrames bounds a call stack.
const maxFrames = 32

// unwind appends to stack the return addresses of the frames above an
// instruction with registers r, following the guest's frame pointers:
// [RBP] is the caller's RBP, [RBP+8] the return address. It stops at a
// zero or unmapped frame pointer, or one that does not go up the stack.
// In a function's prologue and epilogue the chain still names the
// caller's frame as current, as every frame-pointer unwinder does.
func (e *Engine) unwind(x *x86.CPU, r *kvm.Regs, stack []uint64) []uint64 {
	mem := e.m.Memory()
	fp := r.RBP
	var b [16]byte
	for len(stack) < maxFrames && fp != 0 {
		gpa, _, err := x86.Translate(mem, x, fp, x86.KindRead)
		if err != nil || gpa&0xfff > 0xff0 || !mem.ReadPhys(gpa, b[:]) {
			break
		}
		next, ret := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
		if ret == 0 {
			break
		}
		stack = append(stack, ret)
		if next <= fp {
			break
		}
		fp = next
	}
	return stack
}

// stepTo is seek for a traced vCPU: it steps c, delivering what it
// touches, until c is at the state position want (logged at event idx).
// It has no time bound: stepping is a thousand times slower than the
// native run whose position it seeks, so a traced seek may take minutes;
// a vCPU that went past the position stops at its next exit, a
// divergence, and one that never exits meets the replay's --timeout.
func (e *Engine) stepTo(c *machine.VCPU, want *replaylog.Position, idx uint64) error {
	if err := e.traceEnter(c); err != nil {
		return err
	}
	r := new(kvm.Regs)
	*r = e.tr.cpus[c.ID()].before
	for {
		if e.atState(c, r, want) {
			return nil
		}
		errno := c.KVM().Run()
		if e.m.Stopping() {
			return machine.ErrStopping
		}
		var more bool
		var err error
		r, more, err = e.stepped(c, errno)
		switch {
		case err != nil:
			return err
		case errno == unix.EINTR || errno == unix.EAGAIN:
			c.KVM().Unkick()
		case !more:
			return divergence(c, idx, "the vCPU left the guest (%s) before reaching the recorded state position %s",
				describeExit(errno, c.KVM().RunData().ExitReason, c.KVM().Exception()), want)
		}
		if err := e.decodeNext(c, r); err != nil {
			return err
		}
	}
}

// TraceStats are what a trace-mode replay delivered.
type TraceStats struct {
	Steps, Accesses uint64
}

// TraceStats reports what the trace mode delivered, once the run is
// over; zero without it.
func (e *Engine) TraceStats() TraceStats {
	var s TraceStats
	if e.tr != nil {
		for _, tc := range e.tr.cpus {
			s.Steps += tc.steps
			s.Accesses += tc.accesses
		}
	}
	return s
}
