package replay

import (
	"errors"
	"fmt"
	"strings"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Replay. A dispatcher goroutine reads the log in order and gives every
// vCPU a queue of what concerns it: its own events (inputs, checks, its
// CREW transitions with the orderings to wait for) and the reductions of
// its rights that other vCPUs' transitions made, at the position where
// they were made. It runs crew's state machine itself, so it knows every
// reduction although the log lists only the constraints that are needed,
// and it checks that the logged constraints are exactly crew's.
//
// Each vCPU runs on its own until the position of its next item, serves
// it, and goes on: vCPUs run in parallel wherever the constraints allow.
// A vCPU leaves a position only once its queue holds an item beyond it;
// everything logged at that position comes before such an item, because
// the recorder logs reductions while their holder is still stopped.

// maxQueued bounds the events read ahead of the vCPUs (unless a vCPU is
// starving, when the dispatcher reads on).
const maxQueued = 1 << 16

// item is one thing a replaying vCPU must do at a position of its own.
type item struct {
	idx uint64 // log event index, for errors
	pos crew.Pos
	// where is the log position of pos; a state position is sought.
	where replaylog.Position
	// ev is the vCPU's own event; nil for a reduction.
	ev *replaylog.Event
	// A reduction of the vCPU's rights on page to rights, for t.
	page   int
	rights crew.Rights
	t      *transition
	// waits are the other vCPUs' positions to reach before ev proceeds.
	waits []replaylog.Constraint
	final bool
}

// transition counts the reductions a CREW event waits for.
type transition struct{ pending int }

// wait blocks c until ready (called with e.mu held) says yes, the replay
// fails or every vCPU waits for another (a deadlock: the log's orderings
// cannot be met, so the replay diverged).
func (e *Engine) wait(actor int, why string, ready func() bool, starving bool) error {
	if starving {
		e.starving++
		defer func() { e.starving-- }()
	}
	e.blocked++
	e.waitWhy[actor], e.ready[actor] = why, ready
	defer func() { e.blocked--; e.waitWhy[actor], e.ready[actor] = "", nil }()
	// One broadcast, so that the others see c blocked and can tell a
	// deadlock; broadcasting on every wake-up would make the waiters wake
	// each other for ever and starve the vCPUs that run.
	e.cond.Broadcast()
	for !ready() {
		if e.err != nil {
			return e.err
		}
		if e.stuck() {
			var b []string
			for i, w := range e.waitWhy {
				if w != "" {
					b = append(b, fmt.Sprintf("%s waits for %s", e.actorName(i), w))
				}
			}
			e.fail(e.divergence(actor, e.read, "replay deadlocked: %s", strings.Join(b, "; ")))
			return e.err
		}
		e.cond.Wait()
	}
	return nil
}

// stuck says whether every vCPU waits for something that cannot happen:
// all are blocked or parked, none is ready, and the dispatcher can give
// a starving one nothing more.
func (e *Engine) stuck() bool {
	done := e.parked
	if e.dmaDone {
		done++
	}
	if e.blocked+done != e.actors || (e.starving > 0 && !e.eof) {
		return false
	}
	for _, r := range e.ready {
		if r != nil && r() {
			return false
		}
	}
	return true
}

// peek returns c's next item, waiting for the dispatcher.
func (e *Engine) peek(c *machine.VCPU) (*item, error) {
	q := &e.queue[c.ID()]
	if err := e.wait(c.ID(), "the log to go on", func() bool { return len(*q) > 0 || e.eof }, true); err != nil {
		return nil, err
	}
	if len(*q) == 0 {
		return nil, divergence(c, e.read, "the guest goes on, but the log has nothing more for vCPU %d", c.ID())
	}
	return (*q)[0], nil
}

func (e *Engine) pop(actor int) {
	e.consumed[actor] = e.queue[actor][0].idx + 1
	e.queue[actor] = e.queue[actor][1:]
	e.total--
	e.cond.Broadcast()
}

// reach publishes that c got to pos.
func (e *Engine) reach(c *machine.VCPU, pos crew.Pos) {
	e.mu.Lock()
	if pos > e.progress[c.ID()] {
		e.progress[c.ID()] = pos
		e.cond.Broadcast()
	}
	e.mu.Unlock()
}

// current is where c stands between KVM_RUNs. Only c's thread calls it.
func (e *Engine) current(c *machine.VCPU) crew.Pos {
	return crewview.StatePos(c.Exits(), e.seq[c.ID()])
}

// serveDue applies c's reductions due at its current position and
// returns its next item. Called with e.mu held.
func (e *Engine) serveDue(c *machine.VCPU) (*item, error) {
	for {
		it, err := e.peek(c)
		if err != nil {
			return nil, err
		}
		if it.ev != nil || it.pos > e.current(c) {
			return it, nil
		}
		if it.pos < e.current(c) {
			return nil, divergence(c, it.idx, "the log reduces vCPU %d's rights at %s, which it has passed (now after exit %d)", c.ID(), it.where, c.Exits())
		}
		if err := e.views.Set(c.ID(), it.page, it.rights); err != nil {
			return nil, err
		}
		it.t.pending--
		e.pop(c.ID())
	}
}

// expect returns c's own next event, which must be of kind k at c's
// current exit; anything else is a divergence. It waits for the orderings
// the event carries. At c's final position it returns errParked.
func (e *Engine) expect(c *machine.VCPU, k replaylog.Kind, what string) (*item, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, err := e.serveDue(c)
	if err != nil {
		return nil, err
	}
	if it.final && it.pos == e.current(c) {
		return nil, errParked
	}
	if it.ev == nil || it.ev.Kind != k || it.pos != e.current(c) || it.ev.Pos.Kind == replaylog.PosState {
		return nil, divergence(c, it.idx, "the guest asked for %s at exit %d, but the log has %s", what, c.Exits(), e.describe(it))
	}
	if err := e.meet(c.ID(), it); err != nil {
		return nil, err
	}
	// Popped only now: until its orderings are met, the event holds back
	// the events that are ordered after c's position (passed).
	e.pop(c.ID())
	return it, nil
}

// meet waits until the orderings of actor's own item it are met: the
// other actors it names have passed their positions, and the reductions
// its transition made are done. Called with e.mu held.
func (e *Engine) meet(actor int, it *item) error {
	for _, w := range it.waits {
		v := int(w.VCPU)
		pos, _ := crewview.SeqPos(v, w.Pos)
		if err := e.wait(actor, fmt.Sprintf("%s to reach %s (event %d)", e.actorName(v), w.Pos, it.idx),
			func() bool { return e.passed(v, pos, it.idx) }, false); err != nil {
			return err
		}
	}
	if it.t != nil {
		return e.wait(actor, fmt.Sprintf("the reductions of event %d", it.idx), func() bool { return it.t.pending == 0 }, false)
	}
	return nil
}

// passed says whether vCPU v has done, by the time of log event idx,
// what the recording had: it has reached pos, and nothing logged for it
// before idx at pos or earlier is left in its queue. Reaching pos alone
// is not enough, since a vCPU stands at an exit while it serves that
// exit's events, and one of them may itself wait for another vCPU: an
// ordering after "vCPU 2 at exit 73" means after vCPU 2's transitions at
// exit 73 that were logged before it, and after what those waited for.
// Called with e.mu held.
func (e *Engine) passed(v int, pos crew.Pos, idx uint64) bool {
	if e.progress[v] < pos {
		return false
	}
	q := e.queue[v]
	return len(q) == 0 || q[0].idx > idx || q[0].pos > pos
}

func (e *Engine) describe(it *item) string {
	if it.ev != nil {
		return it.ev.String()
	}
	return fmt.Sprintf("a reduction of its rights on page %d at %s (event %d)", it.page, it.where, it.idx)
}

// errParked says that a vCPU is at its final position: it parks there.
var errParked = errors.New("at the final position")

// parkAt parks c if err says it is at its final position.
func (e *Engine) parkAt(c *machine.VCPU, err error) error {
	if err == errParked {
		return e.park(c)
	}
	return err
}

// BeforeEnter implements machine.Engine: before c enters the guest it
// applies what is due, seeks a state position that comes before c's next
// exit, and parks c at its final position.
func (e *Engine) BeforeEnter(c *machine.VCPU) (bool, error) {
	for {
		e.mu.Lock()
		it, err := e.serveDue(c)
		e.mu.Unlock()
		if err != nil {
			return false, err
		}
		if it.pos == e.current(c) {
			if it.final {
				return false, e.park(c)
			}
			return false, divergence(c, it.idx, "the log has %s at exit %d, but the guest did not ask for it", e.describe(it), c.Exits())
		}
		if it.where.Kind != replaylog.PosState || it.where.Exits != c.Exits() {
			if e.tr != nil {
				return true, e.traceEnter(c)
			}
			return true, nil
		}
		seek := e.seek
		if e.tr != nil && e.tr.traced(c) {
			seek = e.stepTo
		}
		if err := seek(c, &it.where, it.idx); err != nil {
			return false, err
		}
		e.seq[c.ID()] = uint64(it.pos) & (1<<crewview.SeqBits - 1)
		e.reach(c, e.current(c))
	}
}

// park stops c at its final position; the last vCPU to park ends the
// replay, which then compares the final state (End). It returns
// machine.ErrDone, which ends c's thread.
func (e *Engine) park(c *machine.VCPU) error {
	e.mu.Lock()
	e.parked++
	err := e.finishIfDone(c.ID())
	e.cond.Broadcast()
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return machine.ErrDone
}

// finishIfDone ends the replay once every vCPU is at its final position
// and the DMA actor, if any, has performed every transfer: then End
// compares the final state. Called with e.mu held by actor, the last to
// get there.
func (e *Engine) finishIfDone(actor int) error {
	if e.parked < e.cpus || e.actors > e.cpus && !e.dmaDone {
		return nil
	}
	if !e.exited {
		return e.divergence(actor, e.read, "every vCPU reached its final position, but the guest did not exit")
	}
	e.m.Finish(e.status, nil)
	return nil
}
