package vmm

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/kvm"
)

// What a recording logs: every input the guest reads from outside (the
// paravirtual clock), the order of halts and wakes, every CREW transition
// with its orderings when there is more than one vCPU (crewrec.go), what
// the guest reports (test regions, labels, its exit status), and at the
// end where each vCPU stopped, its registers and a hash of memory.

// DivergenceError says a replay stopped matching its recording.
type DivergenceError struct {
	// Event is the index of the log event where replay and log disagree.
	Event uint64
	CPU   int
	RIP   uint64
	Msg   string
}

func (e *DivergenceError) Error() string {
	return fmt.Sprintf("replay diverged at log event %d: vCPU %d (rip=%#x): %s", e.Event, e.CPU, e.RIP, e.Msg)
}

// recorder appends the run's events to a log.
type recorder struct {
	w *replaylog.Writer
}

func (r *recorder) append(e replaylog.Event) error {
	if err := r.w.Append(&e); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

func (c *vcpu) divergence(event uint64, format string, args ...any) error {
	var rip uint64
	if r, err := c.kvm.Regs(); err == nil {
		rip = r.RIP
	}
	return &DivergenceError{Event: event, CPU: c.id, RIP: rip, Msg: fmt.Sprintf(format, args...)}
}

// clock answers HC_TIME: live, logged when recording, from the log when
// replaying.
func (m *Machine) clockInput(c *vcpu, live uint64) (uint64, error) {
	if m.rep != nil {
		it, err := m.expect(c, replaylog.KindClock, "the clock")
		if err != nil {
			return 0, err
		}
		return it.ev.Value, nil
	}
	if m.rec != nil {
		ev := replaylog.Clock(uint32(c.id), live)
		ev.Pos = replaylog.ExitPos(c.exits)
		return live, m.rec.append(ev)
	}
	return live, nil
}

// tsc answers a trapped rdtsc or rdtscp: a virtual counter at 1 GHz since
// boot, logged when recording, from the log when replaying.
func (m *Machine) tsc(c *vcpu, insn uint64) (uint64, error) {
	if m.rep != nil {
		it, err := m.expect(c, replaylog.KindTSC, replaylog.TSCInsnName(insn))
		if err != nil {
			return 0, err
		}
		if it.ev.Nr != insn {
			return 0, c.divergence(it.idx, "the guest executed %s, but the log has %s", replaylog.TSCInsnName(insn), it.ev.String())
		}
		return it.ev.Value, nil
	}
	live := m.clock.Now()
	if m.rec != nil {
		return live, m.rec.append(replaylog.TSC(uint32(c.id), insn, live, c.exits))
	}
	return live, nil
}

// report logs (or, on replay, checks) an event the guest produced.
func (m *Machine) report(c *vcpu, ev replaylog.Event, what string) error {
	ev.Pos = replaylog.ExitPos(c.exits)
	if m.rep != nil {
		it, err := m.expect(c, ev.Kind, what)
		if err != nil {
			return err
		}
		got := it.ev
		if got.Value != ev.Value || got.Addr != ev.Addr || got.Len != ev.Len || got.Name != ev.Name {
			return c.divergence(it.idx, "%s differs: replay %s, log %s", what, ev.String(), got.String())
		}
		return nil
	}
	if m.rec != nil {
		return m.rec.append(ev)
	}
	return nil
}

// RecordTo makes the run write its recording to w; call it before Run.
// With more than one vCPU it enforces CREW on their views from now on.
func (m *Machine) RecordTo(w *replaylog.Writer) error {
	m.rec = &recorder{w: w}
	if len(m.cpus) == 1 {
		return nil
	}
	k, err := newCrewCtl(len(m.cpus), m.cfg.MemSize, m.cfg.Granularity, m.cfg.RevokeDeadline)
	if err != nil {
		return err
	}
	m.crew = k
	return k.initViews(m.cpus)
}

func toLogRegs(r *kvm.Regs) replaylog.Regs {
	return replaylog.Regs{
		GPR: [16]uint64{r.RAX, r.RCX, r.RDX, r.RBX, r.RSP, r.RBP, r.RSI, r.RDI,
			r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15},
		RIP: r.RIP, RFLAGS: r.RFLAGS,
	}
}

// regNames names replaylog.Regs.GPR in its (kvm_regs hardware) order.
func regNames() [16]string {
	return [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}
}

// finalState logs, or checks against the log, where every vCPU stopped,
// its registers and the memory hash, then the end of the run.
func (m *Machine) finalState() error {
	mem := m.mem.Hash()
	for _, c := range m.cpus {
		r, err := c.kvm.Regs()
		if err != nil {
			return fmt.Errorf("vCPU %d: read final registers: %w", c.id, err)
		}
		regs := toLogRegs(r)
		// A final state position is compared without the bits a kick
		// or a step may leave either way, as every state position is.
		regs.RFLAGS &^= rflagsIgnored
		if m.rec != nil {
			pos := replaylog.ExitPos(c.exits)
			if m.crew != nil {
				c.gate.Lock()
				p, err := m.takePosition(c)
				c.gate.Unlock()
				if err != nil {
					return err
				}
				pos = m.crew.position(c.id, p)
			}
			if err := m.rec.append(replaylog.StateHash(uint32(c.id), pos, regs.Hash(), true, mem)); err != nil {
				return err
			}
			continue
		}
		it := m.rep.queue[c.id][0]
		want := it.ev
		if want.Hash != regs.Hash() || want.MemHash != mem {
			got := replaylog.StatePos(c.exits, c.seq, &regs, mem)
			wantPos := it.where
			wantPos.MemHash = want.MemHash
			if wantPos.Kind == replaylog.PosExit {
				wantPos.Regs = got.Regs // an exit position logs no registers
			}
			diff := describeStateDiff(&wantPos, &got)
			if diff == "" {
				diff = fmt.Sprintf("register hash recorded %#x, replayed %#x", want.Hash, regs.Hash())
			}
			return c.divergence(it.idx, "final state differs from the recording: %s", diff)
		}
	}
	if m.rec != nil {
		return m.rec.append(replaylog.End())
	}
	return nil
}

// describeStateDiff names the registers and memory that differ between two
// state-matched positions, or returns "".
func describeStateDiff(want, got *replaylog.Position) string {
	var b bytes.Buffer
	names := regNames()
	for i := range want.Regs.GPR {
		if want.Regs.GPR[i] != got.Regs.GPR[i] {
			fmt.Fprintf(&b, "%s recorded %#x, replayed %#x; ", names[i], want.Regs.GPR[i], got.Regs.GPR[i])
		}
	}
	if want.Regs.RIP != got.Regs.RIP {
		fmt.Fprintf(&b, "rip recorded %#x, replayed %#x; ", want.Regs.RIP, got.Regs.RIP)
	}
	if want.Regs.RFLAGS != got.Regs.RFLAGS {
		fmt.Fprintf(&b, "rflags recorded %#x, replayed %#x; ", want.Regs.RFLAGS, got.Regs.RFLAGS)
	}
	if want.Exits != got.Exits {
		fmt.Fprintf(&b, "exits recorded %d, replayed %d; ", want.Exits, got.Exits)
	}
	if want.MemHash != got.MemHash {
		fmt.Fprintf(&b, "memory hash recorded %#x, replayed %#x; ", want.MemHash, got.MemHash)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("; ")))
}

func describeNext(e *replaylog.Event, err error) string {
	if err != nil {
		return err.Error()
	}
	return e.String()
}

// EncodeCPUID and DecodeCPUID carry the CPUID table in a log header, so a
// replay answers CPUID exactly as the recording did on whatever host.
func EncodeCPUID(entries []kvm.CPUIDEntry) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, entries)
	return b.Bytes()
}

// DecodeCPUID rejects tables that are not whole entries or too long.
func DecodeCPUID(b []byte) ([]kvm.CPUIDEntry, error) {
	const entrySize = 40
	if len(b)%entrySize != 0 || len(b)/entrySize > 256 {
		return nil, fmt.Errorf("CPUID table of %d bytes is not 1 to 256 entries of %d bytes", len(b), entrySize)
	}
	out := make([]kvm.CPUIDEntry, len(b)/entrySize)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, out); err != nil {
		return nil, fmt.Errorf("CPUID table: %w", err)
	}
	return out, nil
}

// CPUID returns the base CPUID table this machine gives its vCPUs.
func (m *Machine) CPUID() []kvm.CPUIDEntry {
	return append([]kvm.CPUIDEntry(nil), m.cpuid...)
}

// ImageHash identifies the guest image, for log headers.
func (m *Machine) ImageHash() [32]byte { return m.img.Hash }
