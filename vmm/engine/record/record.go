// Package record is the recording engine. A recording logs every input
// the guest reads from outside (the paravirtual clock, a trapped rdtsc),
// the order of halts and wakes, every CREW transition with its orderings
// when there is more than one vCPU (crew.go), what the guest reports
// (test regions, labels, its exit status), and at the end where each vCPU
// stopped, its registers and a hash of memory.
package record

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/machine"
)

// DefaultRevokeDeadline is how long a transition waits for a holder's own
// next exit before kicking it; see BENCHMARKS.md for how it was chosen.
const DefaultRevokeDeadline = 200 * time.Microsecond

// Options are what a recording adds to a machine's configuration.
type Options struct {
	// Granularity is the CREW page size of a multiprocessor recording
	// (0: 4 KiB).
	Granularity uint64
	// RevokeDeadline is how long a recording waits for the holder of a
	// page to exit by itself before kicking it (0: DefaultRevokeDeadline).
	RevokeDeadline time.Duration
	// CheckpointEvery, when not 0, writes a checkpoint about every this
	// many exits (checkpoint.go): one vCPU and no disk only.
	CheckpointEvery uint64
}

// Stats counts what the CREW recorder did.
type Stats struct {
	Transitions uint64
	// Constraints counts the orderings logged; Elided those implied.
	Constraints, Elided uint64
	// Deferred counts holders that reached an exit of their own within
	// the deadline; Kicks those that had to be kicked.
	Deferred, Kicks uint64
	// StatePositions counts positions that are not exits.
	StatePositions uint64
	// Approximate counts faults whose footprint the decoder could only
	// bound (an instruction it does not know exactly); Fallbacks those it
	// could not explain at all, served by fallback.
	Approximate, Fallbacks uint64
	// Promoted counts read faults granted a write for a page's
	// read-then-write history (promote.go); PromotedUnused those the
	// vCPU did not write.
	Promoted, PromotedUnused uint64
	// Costs say where the time went.
	Costs Costs
}

// Engine records a run to a log.
type Engine struct {
	m    *machine.Machine
	w    *replaylog.Writer
	opts Options
	// views is nil with one vCPU and no disk: nothing races then.
	views *crewview.Views
	// mu serialises transitions: their order is the log's.
	mu    sync.Mutex
	named []named
	stats Stats
	costs Costs
	promo *promoter
	// settles are each vCPU's settling costs, kept by its own thread.
	settles []settleCost
	// dmaN counts the DMA actor's transfers: its position (dma.go).
	dmaN uint64
	// nextCheckpoint is the exit from which the next checkpoint is due.
	nextCheckpoint uint64
}

// settleCost is one vCPU's settling: its time, and its steps.
type settleCost struct {
	Hist
	steps uint64
}

// named is the last state position named for a vCPU: the seq-th after
// exit exits, where kicks kicks had stopped it.
type named struct {
	exits, kicks, seq uint64
}

// New makes m's run write its recording to w. With more than one vCPU
// it enforces CREW on their views from now on.
func New(m *machine.Machine, w *replaylog.Writer, opts Options) (*Engine, error) {
	if opts.RevokeDeadline <= 0 {
		opts.RevokeDeadline = DefaultRevokeDeadline
	}
	if err := checkCheckpoints(m, opts.CheckpointEvery); err != nil {
		return nil, err
	}
	e := &Engine{m: m, w: w, opts: opts, named: make([]named, len(m.VCPUs())), settles: make([]settleCost, len(m.VCPUs())), promo: newPromoter(), nextCheckpoint: opts.CheckpointEvery}
	if m.Actors() > 1 {
		var err error
		if e.views, err = crewview.New(m, opts.Granularity); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *Engine) append(ev replaylog.Event) error {
	if err := e.w.Append(&ev); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// Start implements machine.Engine.
func (e *Engine) Start(m *machine.Machine) error {
	if m != e.m {
		return fmt.Errorf("record: engine made for another machine")
	}
	return nil
}

// BeforeEnter implements machine.Engine.
func (*Engine) BeforeEnter(*machine.VCPU) (bool, error) { return true, nil }

// AfterRun implements machine.Engine: a vCPU kicked for a transition is
// first moved on to a position replay can seek cheaply (settle.go).
func (e *Engine) AfterRun(v *machine.VCPU, errno unix.Errno) unix.Errno {
	if (errno == unix.EINTR || errno == unix.EAGAIN) && e.views != nil && v.HeldOut() {
		start := time.Now()
		errno, steps := settle(e.m, v)
		s := &e.settles[v.ID()]
		s.Add(time.Since(start))
		s.steps += uint64(steps)
		return errno
	}
	return errno
}

// Exited implements machine.Engine: it writes the checkpoints.
func (e *Engine) Exited(v *machine.VCPU) {
	if e.opts.CheckpointEvery == 0 {
		return
	}
	if err := e.maybeCheckpoint(v); err != nil {
		e.m.Finish(0, err)
	}
}

// Halt implements machine.Engine: which wake let v go is logged; a
// replay waits for that wake instead.
func (e *Engine) Halt(v *machine.VCPU) error {
	w, err := e.m.Halt(v)
	if err != nil {
		return err
	}
	return e.append(replaylog.Wake(uint32(v.ID()), v.Exits(), uint32(w.CPU), replaylog.ExitPos(w.Exits)))
}

// Input implements machine.Engine: the live value, logged.
func (e *Engine) Input(v *machine.VCPU, in machine.Input) (uint64, error) {
	ev := replaylog.TSC(uint32(v.ID()), in.Insn, in.Live, v.Exits())
	switch in.Kind {
	case replaylog.KindClock:
		ev = replaylog.Clock(uint32(v.ID()), in.Live)
		ev.Pos = replaylog.ExitPos(v.Exits())
	case replaylog.KindMMIORead:
		ev = replaylog.MMIORead(uint32(v.ID()), in.Addr, binary.LittleEndian.AppendUint64(nil, in.Live)[:in.Size])
		ev.Pos = replaylog.ExitPos(v.Exits())
	}
	return in.Live, e.append(ev)
}

// Report implements machine.Engine.
func (e *Engine) Report(v *machine.VCPU, ev replaylog.Event, _ string) error {
	ev.Pos = replaylog.ExitPos(v.Exits())
	return e.append(ev)
}

// GuestExit implements machine.Engine.
func (e *Engine) GuestExit(v *machine.VCPU, status int) error {
	if err := e.Report(v, replaylog.GuestExit(uint32(v.ID()), uint64(status)), "exit"); err != nil {
		return err
	}
	e.m.Finish(status, nil)
	return nil
}

// Stop implements machine.Engine.
func (*Engine) Stop() {}

// End implements machine.Engine: it logs where every vCPU stopped, its
// registers and the memory hash, then the end of the run.
func (e *Engine) End() error {
	mem := e.m.Memory().Hash()
	for _, c := range e.m.VCPUs() {
		regs, err := crewview.StateRegs(c)
		if err != nil {
			return err
		}
		pos := replaylog.ExitPos(c.Exits())
		if e.views != nil {
			p, err := e.position(c, c.Stand())
			if err != nil {
				return err
			}
			pos = e.views.Position(c.ID(), p)
		}
		if err := e.append(replaylog.StateHash(uint32(c.ID()), pos, regs.Hash(), true, mem)); err != nil {
			return err
		}
	}
	return e.append(replaylog.End())
}

// Stats reports what the CREW recorder did; zero with one vCPU.
func (e *Engine) Stats() Stats {
	if e.views == nil {
		return Stats{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	cs := e.views.State().Stats()
	s.Constraints, s.Elided = cs.Constraints, cs.Elided
	s.Costs = e.costs
	s.Promoted, s.PromotedUnused = e.promo.Promoted, e.promo.Unused
	for i := range e.settles {
		s.Costs.Settle.Merge(&e.settles[i].Hist)
		s.Costs.SettleSteps += e.settles[i].steps
	}
	return s
}
