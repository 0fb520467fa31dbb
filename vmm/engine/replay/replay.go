// Package replay is the replay engine: it runs a guest against a
// recording, feeds it the recorded inputs, makes its vCPUs meet the
// recorded CREW orderings (queue.go, dispatch.go, fault.go), seeks the
// state positions where the recorder stopped a vCPU between exits
// (seek.go, with the in-guest matchers of package matcher), and checks
// every event and the final state against the log.
package replay

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/machine"
)

// DefaultSeekTimeout is Options.SeekTimeout's default: seeks take one or
// two exits (BENCHMARKS.md), so a seek that runs this long has gone past
// its position.
const DefaultSeekTimeout = 30 * time.Second

// Options are what a replay adds to a machine's configuration.
type Options struct {
	// Granularity is the CREW page size of the recording (0: 4 KiB).
	Granularity uint64
	// SeekTimeout bounds how long a vCPU may run to a recorded state
	// position before the replay reports a divergence (0:
	// DefaultSeekTimeout).
	SeekTimeout time.Duration
	// Trace, when set, makes this a trace-mode replay (trace.go).
	Trace *TraceOptions
	// Watch, when set, is shown every vCPU's exits and traced steps.
	Watch *Watch
	// From, when set, starts the replay at that checkpoint of the log
	// (checkpoint.go) instead of its beginning; Overlay is then written
	// over the memory it restores (vmm bisect's candidate image).
	From    *int
	Overlay []replaylog.MemRegion
}

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

func divergence(c *machine.VCPU, event uint64, format string, args ...any) error {
	var rip uint64
	if r, err := c.KVM().Regs(); err == nil {
		rip = r.RIP
	}
	return &DivergenceError{Event: event, CPU: c.ID(), RIP: rip, Msg: fmt.Sprintf(format, args...)}
}

// divergence is a divergence seen by actor: a vCPU, with its RIP, or
// the DMA actor.
func (e *Engine) divergence(actor int, event uint64, format string, args ...any) error {
	if actor < e.cpus {
		return divergence(e.m.VCPUs()[actor], event, format, args...)
	}
	return &DivergenceError{Event: event, CPU: actor, Msg: "the DMA actor: " + fmt.Sprintf(format, args...)}
}

// actorName names an actor for people.
func (e *Engine) actorName(actor int) string {
	if actor < e.cpus {
		return fmt.Sprintf("vCPU %d", actor)
	}
	return fmt.Sprintf("the DMA actor (%d)", actor)
}

// Engine replays a recording on a machine.
type Engine struct {
	m     *machine.Machine
	r     *replaylog.Reader
	opts  Options
	views *crewview.Views // nil with one vCPU and no disk
	// cpus counts the vCPUs; actors adds the DMA actor, numbered cpus,
	// when the recording had a disk (dma.go).
	cpus, actors int
	// st and names are the dispatcher's: crew's state machine, which it
	// runs to know every reduction (the views' with more than one vCPU,
	// nil with one), and the names of the state positions it has read.
	st    *crew.State
	names *crewview.Names
	// seq is the state position each vCPU stands at after its last
	// exit, 0 at the exit; its own thread's.
	seq []uint64
	// dispatched is closed when the dispatcher has ended, dmaEnded when
	// the DMA actor's goroutine has (at once without one).
	dispatched, dmaEnded chan struct{}
	// tr is the trace mode's state; nil in a plain replay.
	tr *tracer

	mu    sync.Mutex
	cond  *sync.Cond
	queue [][]*item
	total int
	// progress is the furthest position each vCPU has reached;
	// consumed, one past the index of the last log event each actor has
	// consumed (0: none yet).
	progress []crew.Pos
	consumed []uint64
	read     uint64 // events dispatched
	eof      bool
	err      error
	// starving counts vCPUs waiting for an item; blocked those waiting
	// for anything; parked those at their final position.
	starving, blocked, parked int
	waitWhy                   []string
	ready                     []func() bool
	status                    int
	exited                    bool
	// dmaDone says the DMA actor has performed every transfer.
	dmaDone bool
}

// New makes m replay the recording r. With more than one vCPU it
// enforces CREW on their views, as the recording did.
func New(m *machine.Machine, r *replaylog.Reader, opts Options) (*Engine, error) {
	if opts.SeekTimeout <= 0 {
		opts.SeekTimeout = DefaultSeekTimeout
	}
	cpus, actors := len(m.VCPUs()), m.Actors()
	e := &Engine{m: m, r: r, opts: opts, cpus: cpus, actors: actors, seq: make([]uint64, cpus),
		dispatched: make(chan struct{}), dmaEnded: make(chan struct{}),
		queue: make([][]*item, actors), progress: make([]crew.Pos, actors), consumed: make([]uint64, actors),
		waitWhy: make([]string, actors), ready: make([]func() bool, actors)}
	e.cond = sync.NewCond(&e.mu)
	if opts.Trace != nil {
		if opts.Trace.Sink == nil {
			return nil, fmt.Errorf("replay: trace mode without a sink")
		}
		e.tr = newTracer(*opts.Trace, cpus)
	}
	if actors > 1 {
		var err error
		if e.views, err = crewview.New(m, opts.Granularity); err != nil {
			return nil, err
		}
		e.views.OwnedHashVersion(r.Header().Minor)
		e.st, e.names = e.views.State(), e.views.Names
	}
	if opts.From != nil {
		if err := e.restore(*opts.From); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Start implements machine.Engine: it starts the dispatcher.
func (e *Engine) Start(m *machine.Machine) error {
	if m != e.m {
		return fmt.Errorf("replay: engine made for another machine")
	}
	go func() {
		defer close(e.dispatched)
		e.dispatch(m.Done())
		e.mu.Lock()
		err := e.err
		e.mu.Unlock()
		if err != nil {
			m.Finish(0, err)
		}
	}()
	if e.actors == e.cpus {
		close(e.dmaEnded)
		return nil
	}
	go func() {
		defer close(e.dmaEnded)
		if err := e.serveDMA(); err != nil && err != machine.ErrStopping {
			m.Finish(0, err)
		}
	}()
	return nil
}

// DMA implements machine.Engine: a replay performs the disk's transfers
// from the log (dma.go), so the machine runs no device thread.
func (*Engine) DMA() machine.DMA { return nil }

// Stop implements machine.Engine: it wakes every waiting vCPU and waits
// for the dispatcher.
func (e *Engine) Stop() {
	e.mu.Lock()
	e.fail(machine.ErrStopping)
	e.mu.Unlock()
	<-e.dispatched
	<-e.dmaEnded
}

// AfterRun implements machine.Engine: in trace mode it steps the vCPU
// on to its next exit.
func (e *Engine) AfterRun(c *machine.VCPU, errno unix.Errno) unix.Errno {
	if e.tr != nil {
		return e.traceRun(c, errno)
	}
	return errno
}

// Exited implements machine.Engine: c stands at its next exit position.
func (e *Engine) Exited(c *machine.VCPU) {
	e.seq[c.ID()] = 0
	if e.tr != nil {
		e.tr.cpus[c.ID()].step = 0
	}
	if e.opts.Watch != nil && e.opts.Watch.Exit != nil {
		e.watchExit(c)
	}
	e.reach(c, crewview.ExitPos(c.Exits()))
}

// Halt implements machine.Engine: a replay waits for the wake that let
// the recording go on.
func (e *Engine) Halt(c *machine.VCPU) error {
	_, err := e.expect(c, replaylog.KindWake, "a halt")
	return e.parkAt(c, err)
}

// Input implements machine.Engine: the recorded value.
func (e *Engine) Input(c *machine.VCPU, in machine.Input) (uint64, error) {
	what := "the clock"
	switch in.Kind {
	case replaylog.KindTSC:
		what = replaylog.TSCInsnName(in.Insn)
	case replaylog.KindMMIORead:
		what = "an MMIO read"
	}
	it, err := e.expect(c, in.Kind, what)
	if err != nil {
		return 0, e.parkAt(c, err)
	}
	if in.Kind == replaylog.KindTSC && it.ev.Nr != in.Insn {
		return 0, divergence(c, it.idx, "the guest executed %s, but the log has %s", what, it.ev.String())
	}
	if in.Kind == replaylog.KindMMIORead {
		if it.ev.Addr != in.Addr || len(it.ev.Data) != in.Size {
			return 0, divergence(c, it.idx, "the guest made a %d-byte MMIO read of %#x, but the log has %s", in.Size, in.Addr, it.ev.String())
		}
		var b [8]byte
		copy(b[:], it.ev.Data)
		return binary.LittleEndian.Uint64(b[:]), nil
	}
	return it.ev.Value, nil
}

// Report implements machine.Engine: the event must be the recording's.
func (e *Engine) Report(c *machine.VCPU, ev replaylog.Event, what string) error {
	ev.Pos = replaylog.ExitPos(c.Exits())
	it, err := e.expect(c, ev.Kind, what)
	if err != nil {
		return e.parkAt(c, err)
	}
	got := it.ev
	if got.Value != ev.Value || got.Addr != ev.Addr || got.Len != ev.Len || got.Name != ev.Name {
		return divergence(c, it.idx, "%s differs: replay %s, log %s", what, ev.String(), got.String())
	}
	if e.tr != nil {
		return e.tr.report(c, &ev)
	}
	return nil
}

// GuestExit implements machine.Engine. The replay ends when every vCPU
// has reached its final position (park), not at the exit.
func (e *Engine) GuestExit(c *machine.VCPU, status int) error {
	if err := e.Report(c, replaylog.GuestExit(uint32(c.ID()), uint64(status)), "exit"); err != nil {
		return err
	}
	e.mu.Lock()
	e.status, e.exited = status, true
	e.mu.Unlock()
	return nil
}

// End implements machine.Engine: every vCPU's registers and the memory
// hash must be the recording's at its final position.
func (e *Engine) End() error {
	mem := e.m.Memory().Hash()
	for _, c := range e.m.VCPUs() {
		regs, err := crewview.StateRegs(c)
		if err != nil {
			return err
		}
		it := e.queue[c.ID()][0]
		want := it.ev
		if want.Hash == regs.Hash() && want.MemHash == mem {
			continue
		}
		got := replaylog.StatePos(c.Exits(), e.seq[c.ID()], &regs, mem)
		wantPos := it.where
		wantPos.MemHash = want.MemHash
		if wantPos.Kind == replaylog.PosExit {
			wantPos.Regs = got.Regs // an exit position logs no registers
		}
		diff := describeStateDiff(&wantPos, &got)
		if diff == "" {
			diff = fmt.Sprintf("register hash recorded %#x, replayed %#x", want.Hash, regs.Hash())
		}
		return divergence(c, it.idx, "final state differs from the recording: %s", diff)
	}
	return nil
}

// regNames names replaylog.Regs.GPR in its order.
func regNames() [16]string {
	return [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}
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
