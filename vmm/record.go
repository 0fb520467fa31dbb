package vmm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/bobuhiro11/gokvm/kvm"
	"github.com/crewvm/crewvm/replaylog"
	"golang.org/x/sys/unix"
)

// What a recording logs today: every input the guest reads from outside
// (the paravirtual clock), what it reports (test regions, labels, its exit
// status), and at the end each vCPU's registers and a hash of memory. That
// is everything a one-vCPU guest can observe. With more vCPUs the order of
// their memory accesses is input too; capturing it needs the CREW
// enforcement of package crew, so New refuses to record more than one vCPU
// until the recorder drives it.

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

// replayer hands out recorded events in log order and checks that the
// replaying guest asks for exactly them.
type replayer struct {
	mu   sync.Mutex
	r    *replaylog.Reader
	next uint64
}

// expect returns the next event, which must be of kind k for vCPU c at c's
// current exit position; anything else is a divergence.
func (p *replayer) expect(c *vcpu, k replaylog.Kind, what string) (replaylog.Event, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx := p.next
	e, err := p.r.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return replaylog.Event{}, c.divergence(idx, "the guest asked for %s, but the log has no more events", what)
		}
		return replaylog.Event{}, fmt.Errorf("replay: read log event %d: %w", idx, err)
	}
	p.next++
	ev := *e
	ev.Data = append([]byte(nil), e.Data...)
	if ev.Kind != k || ev.VCPU != uint32(c.id) || ev.Pos.Exits != c.exits {
		return ev, c.divergence(idx, "the guest asked for %s at exit %d, but the log has %s", what, c.exits, e.String())
	}
	return ev, nil
}

func (c *vcpu) divergence(event uint64, format string, args ...any) error {
	var rip uint64
	if r, err := c.kvm.regs(); err == nil {
		rip = r.RIP
	}
	return &DivergenceError{Event: event, CPU: c.id, RIP: rip, Msg: fmt.Sprintf(format, args...)}
}

// clock answers HC_TIME: live, logged when recording, from the log when
// replaying.
func (m *Machine) clock(c *vcpu, live uint64) (uint64, error) {
	if m.rep != nil {
		e, err := m.rep.expect(c, replaylog.KindClock, "the clock")
		return e.Value, err
	}
	if m.rec != nil {
		ev := replaylog.Clock(uint32(c.id), live)
		ev.Pos = replaylog.ExitPos(c.exits)
		return live, m.rec.append(ev)
	}
	return live, nil
}

// report logs (or, on replay, checks) an event the guest produced.
func (m *Machine) report(c *vcpu, ev replaylog.Event, what string) error {
	ev.Pos = replaylog.ExitPos(c.exits)
	if m.rep != nil {
		got, err := m.rep.expect(c, ev.Kind, what)
		if err == nil && (got.Value != ev.Value || got.Addr != ev.Addr || got.Len != ev.Len || got.Name != ev.Name) {
			err = c.divergence(m.rep.next-1, "%s differs: replay %s, log %s", what, ev.String(), got.String())
		}
		return err
	}
	if m.rec != nil {
		return m.rec.append(ev)
	}
	return nil
}

// memoryHash hashes guest RAM for record and replay to compare: the
// number and contents of every page that is not all zero. Holes of the
// memfd are skipped without touching them (reading them would allocate),
// and zero pages are skipped too, so the hash is the same whether or not
// the kernel happened to back a zero page.
func (m *Machine) memoryHash() uint64 {
	h := sha256.New()
	ram := m.mem.Host()
	var idx [8]byte
	for off := int64(0); off < int64(len(ram)); {
		data, err := unix.Seek(m.mem.fd, off, unix.SEEK_DATA)
		if err != nil {
			break // ENXIO: no data after off
		}
		hole, err := unix.Seek(m.mem.fd, data, unix.SEEK_HOLE)
		if err != nil {
			hole = int64(len(ram))
		}
		for p := data &^ (pageSize - 1); p < hole && p < int64(len(ram)); p += pageSize {
			page := ram[p : p+pageSize]
			if isZero(page) {
				continue
			}
			binary.LittleEndian.PutUint64(idx[:], uint64(p))
			h.Write(idx[:])
			h.Write(page)
		}
		off = hole
	}
	return binary.LittleEndian.Uint64(h.Sum(nil)[:8])
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

// Recordable says whether this machine can be recorded.
func (m *Machine) Recordable() error {
	if len(m.cpus) > 1 {
		return fmt.Errorf("--cpus %d: recording more than one vCPU needs the CREW recorder, which is not built yet; use --cpus 1", len(m.cpus))
	}
	return nil
}

// RecordTo makes the run write its recording to w; call it before Run.
func (m *Machine) RecordTo(w *replaylog.Writer) error {
	if err := m.Recordable(); err != nil {
		return err
	}
	m.rec = &recorder{w: w}
	return nil
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

// finalState logs, or checks against the log, every vCPU's final registers
// and the memory hash, then the end of the run.
func (m *Machine) finalState() error {
	mem := m.memoryHash()
	for _, c := range m.cpus {
		r, err := c.kvm.regs()
		if err != nil {
			return fmt.Errorf("vCPU %d: read final registers: %w", c.id, err)
		}
		regs := toLogRegs(r)
		ev := replaylog.StateHash(uint32(c.id), replaylog.StatePos(c.exits, &regs, mem), regs.Hash(), true, mem)
		if m.rec != nil {
			if err := m.rec.append(ev); err != nil {
				return err
			}
			continue
		}
		got, err := m.rep.expect(c, replaylog.KindStateHash, "the final state check")
		if err != nil {
			return err
		}
		if diff := describeStateDiff(&got.Pos, &ev.Pos); diff != "" {
			return c.divergence(m.rep.next-1, "final state differs from the recording: %s", diff)
		}
	}
	if m.rec != nil {
		return m.rec.append(replaylog.End())
	}
	m.rep.mu.Lock()
	defer m.rep.mu.Unlock()
	e, err := m.rep.r.Next()
	if err != nil || e.Kind != replaylog.KindEnd {
		return fmt.Errorf("replay: the guest finished but the log goes on (event %d: %v)", m.rep.next, describeNext(e, err))
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
func EncodeCPUID(entries []kvm.CPUIDEntry2) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, entries)
	return b.Bytes()
}

// DecodeCPUID rejects tables that are not whole entries or too long.
func DecodeCPUID(b []byte) ([]kvm.CPUIDEntry2, error) {
	const entrySize = 40
	if len(b)%entrySize != 0 || len(b)/entrySize > 256 {
		return nil, fmt.Errorf("CPUID table of %d bytes is not 1 to 256 entries of %d bytes", len(b), entrySize)
	}
	out := make([]kvm.CPUIDEntry2, len(b)/entrySize)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, out); err != nil {
		return nil, fmt.Errorf("CPUID table: %w", err)
	}
	return out, nil
}

// CPUID returns the base CPUID table this machine gives its vCPUs.
func (m *Machine) CPUID() []kvm.CPUIDEntry2 {
	return append([]kvm.CPUIDEntry2(nil), m.host.cpuid.Entries[:m.host.cpuid.Nent]...)
}

// ImageHash identifies the guest image, for log headers.
func (m *Machine) ImageHash() [32]byte { return m.img.Hash }
