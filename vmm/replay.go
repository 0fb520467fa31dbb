package vmm

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
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

type replayer struct {
	r     *replaylog.Reader
	crew  *crewCtl // nil with one vCPU
	cpus  int
	mu    sync.Mutex
	cond  *sync.Cond
	queue [][]*item
	total int
	// progress is the furthest position each vCPU has reached.
	progress []crew.Pos
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
}

func newReplayer(r *replaylog.Reader, cpus int, k *crewCtl) *replayer {
	p := &replayer{r: r, crew: k, cpus: cpus, queue: make([][]*item, cpus), progress: make([]crew.Pos, cpus),
		waitWhy: make([]string, cpus), ready: make([]func() bool, cpus)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// dispatch reads the whole log into the queues; run on its own goroutine.
func (p *replayer) dispatch(stop <-chan struct{}) {
	for {
		p.mu.Lock()
		for p.total >= maxQueued && p.starving == 0 && p.err == nil {
			p.cond.Wait()
		}
		failed := p.err != nil
		p.mu.Unlock()
		if failed {
			return
		}
		select {
		case <-stop:
			return
		default:
		}
		e, err := p.r.Next()
		var items map[int][]*item
		if err == nil {
			items, err = p.items(e.Clone())
		}
		p.mu.Lock()
		switch {
		case errors.Is(err, io.EOF):
			err = fmt.Errorf("replay: the log ends after event %d without an end event", p.read)
		case err != nil:
			err = fmt.Errorf("replay: log event %d: %w", p.read, err)
		}
		if err != nil {
			p.fail(err)
			p.mu.Unlock()
			return
		}
		for v, its := range items {
			p.queue[v] = append(p.queue[v], its...)
			p.total += len(its)
		}
		p.read++
		done := e.Kind == replaylog.KindEnd
		p.eof = done
		p.cond.Broadcast()
		p.mu.Unlock()
		if done {
			return
		}
	}
}

// fail records the replay's first error; called with p.mu held.
func (p *replayer) fail(err error) {
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
}

// items turns one log event into the queue items it gives each vCPU.
func (p *replayer) items(e *replaylog.Event) (map[int][]*item, error) {
	if e.Kind == replaylog.KindEnd {
		return nil, nil
	}
	if e.VCPU == replaylog.NoVCPU || int(e.VCPU) >= p.cpus {
		return nil, fmt.Errorf("%s: this VMM logs no such event without a vCPU", e.String())
	}
	v := int(e.VCPU)
	pos, err := p.crewPos(v, e.Pos)
	if err != nil {
		return nil, err
	}
	own := &item{idx: e.Index, pos: pos, where: e.Pos, ev: e, final: e.Kind == replaylog.KindStateHash}
	out := map[int][]*item{}
	switch e.Kind {
	case replaylog.KindWake:
		own.waits = e.Constraints
	case replaylog.KindCREW:
		if p.crew == nil {
			return nil, fmt.Errorf("%s: a CREW transition in a one-vCPU log", e.String())
		}
		if e.Pos.Kind != replaylog.PosExit {
			return nil, fmt.Errorf("%s: a CREW fault is always at an exit", e.String())
		}
		if err := p.crewItems(v, e, own, out); err != nil {
			return nil, fmt.Errorf("%s: %w", e.String(), err)
		}
	case replaylog.KindDMA, replaylog.KindConsoleInput, replaylog.KindInterrupt, replaylog.KindPortIn, replaylog.KindMMIORead:
		return nil, fmt.Errorf("%s: this VMM has no device that logs %s events", e.String(), e.Kind)
	}
	out[v] = append(out[v], own)
	return out, nil
}

// crewItems replays the transition of e through crew, queues the
// reductions it makes on other vCPUs and the waits of the faulting one.
func (p *replayer) crewItems(v int, e *replaylog.Event, own *item, out map[int][]*item) error {
	st := p.crew.st
	if e.Page >= uint64(st.Pages()) {
		return fmt.Errorf("page %d outside RAM", e.Page)
	}
	page, kind := int(e.Page), crewKind(e.Access)
	plan, err := st.Plan(v, page, kind)
	if err != nil {
		return err
	}
	logged := map[int]crew.Pos{}
	for _, c := range e.Constraints {
		cp, err := p.crewPos(int(c.VCPU), c.Pos)
		if err != nil {
			return err
		}
		logged[int(c.VCPU)] = cp
	}
	at := make([]crew.Pos, p.cpus)
	t := &transition{}
	for _, r := range plan.Reduce {
		pos, ok := logged[r.Actor]
		if !ok {
			// Elided: implied by an earlier ordering, so the holder
			// has not moved since crew last saw it.
			pos = st.Position(r.Actor)
		}
		at[r.Actor] = pos
		t.pending++
		out[r.Actor] = append(out[r.Actor], &item{idx: e.Index, pos: pos, where: p.position(r.Actor, pos),
			page: page, rights: r.To, t: t})
	}
	tr, err := st.Access(v, page, kind, own.pos, at)
	if err != nil {
		return err
	}
	var want []string
	for _, c := range tr.Constraints {
		want = append(want, fmt.Sprintf("vcpu%d@%d", c.Before.Actor, c.Before.Pos))
	}
	var got []string
	for _, c := range e.Constraints {
		got = append(got, fmt.Sprintf("vcpu%d@%d", c.VCPU, logged[int(c.VCPU)]))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return fmt.Errorf("the log orders it after [%s], the CREW protocol after [%s]", strings.Join(got, " "), strings.Join(want, " "))
	}
	if (tr.Grant.To == crew.ReadWrite) != (e.State == replaylog.PageExclusive) {
		return fmt.Errorf("the log says the page went %s, the CREW protocol gives %v", e.State, tr.Grant.To)
	}
	own.page, own.rights, own.t = page, tr.Grant.To, t
	own.waits = e.Constraints
	return nil
}

// crewPos numbers a log position of vCPU v in crew's sequence and, for a
// state position, remembers it so that crew's positions map back to it.
// Only the dispatcher calls it (the map is its own); the vCPUs use seqPos.
func (p *replayer) crewPos(v int, at replaylog.Position) (crew.Pos, error) {
	pos, err := seqPos(v, at)
	if err == nil && at.Kind == replaylog.PosState && p.crew != nil {
		p.crew.states[v][pos] = at
	}
	return pos, err
}

// seqPos numbers a log position of vCPU v in crew's sequence.
func seqPos(v int, at replaylog.Position) (crew.Pos, error) {
	if at.Exits >= 1<<(64-seqBits) {
		return 0, fmt.Errorf("vCPU %d: exit count %d out of range", v, at.Exits)
	}
	switch at.Kind {
	case replaylog.PosNone, replaylog.PosExit:
		return exitCrewPos(at.Exits), nil
	}
	if at.Seq < 1 || at.Seq >= 1<<seqBits {
		return 0, fmt.Errorf("vCPU %d: state position %s: sequence number out of range", v, at)
	}
	return exitCrewPos(at.Exits) | crew.Pos(at.Seq), nil
}

func (p *replayer) position(v int, pos crew.Pos) replaylog.Position {
	if p.crew == nil {
		return replaylog.ExitPos(uint64(pos) >> seqBits)
	}
	return p.crew.position(v, pos)
}

// wait blocks c until ready (called with p.mu held) says yes, the replay
// fails or every vCPU waits for another (a deadlock: the log's orderings
// cannot be met, so the replay diverged).
func (p *replayer) wait(c *vcpu, why string, ready func() bool, starving bool) error {
	if starving {
		p.starving++
		defer func() { p.starving-- }()
	}
	p.blocked++
	p.waitWhy[c.id], p.ready[c.id] = why, ready
	defer func() { p.blocked--; p.waitWhy[c.id], p.ready[c.id] = "", nil }()
	// One broadcast, so that the others see c blocked and can tell a
	// deadlock; broadcasting on every wake-up would make the waiters wake
	// each other for ever and starve the vCPUs that run.
	p.cond.Broadcast()
	for !ready() {
		if p.err != nil {
			return p.err
		}
		if p.stuck() {
			var b []string
			for i, w := range p.waitWhy {
				if w != "" {
					b = append(b, fmt.Sprintf("vCPU %d waits for %s", i, w))
				}
			}
			p.fail(c.divergence(p.read, "replay deadlocked: %s", strings.Join(b, "; ")))
			return p.err
		}
		p.cond.Wait()
	}
	return nil
}

// stuck says whether every vCPU waits for something that cannot happen:
// all are blocked or parked, none is ready, and the dispatcher can give
// a starving one nothing more.
func (p *replayer) stuck() bool {
	if p.blocked+p.parked != p.cpus || (p.starving > 0 && !p.eof) {
		return false
	}
	for _, r := range p.ready {
		if r != nil && r() {
			return false
		}
	}
	return true
}

// peek returns c's next item, waiting for the dispatcher.
func (p *replayer) peek(c *vcpu) (*item, error) {
	q := &p.queue[c.id]
	if err := p.wait(c, "the log to go on", func() bool { return len(*q) > 0 || p.eof }, true); err != nil {
		return nil, err
	}
	if len(*q) == 0 {
		return nil, c.divergence(p.read, "the guest goes on, but the log has nothing more for vCPU %d", c.id)
	}
	return (*q)[0], nil
}

func (p *replayer) pop(c *vcpu) {
	p.queue[c.id] = p.queue[c.id][1:]
	p.total--
	p.cond.Broadcast()
}

// reach publishes that c got to pos.
func (p *replayer) reach(c *vcpu, pos crew.Pos) {
	p.mu.Lock()
	if pos > p.progress[c.id] {
		p.progress[c.id] = pos
		p.cond.Broadcast()
	}
	p.mu.Unlock()
}

// current is where c stands between KVM_RUNs.
func (c *vcpu) current() crew.Pos { return exitCrewPos(c.exits) | crew.Pos(c.seq) }

// serveDue applies c's reductions due at its current position and
// returns its next item. Called with p.mu held.
func (m *Machine) serveDue(c *vcpu) (*item, error) {
	p := m.rep
	for {
		it, err := p.peek(c)
		if err != nil {
			return nil, err
		}
		if it.ev != nil || it.pos > c.current() {
			return it, nil
		}
		if it.pos < c.current() {
			return nil, c.divergence(it.idx, "the log reduces vCPU %d's rights at %s, which it has passed (now after exit %d)", c.id, it.where, c.exits)
		}
		if err := m.crew.setRights(c, it.page, it.rights); err != nil {
			return nil, err
		}
		it.t.pending--
		p.pop(c)
	}
}

// expect returns c's own next event, which must be of kind k at c's
// current exit; anything else is a divergence. It waits for the orderings
// the event carries. At c's final position it returns errParked.
func (m *Machine) expect(c *vcpu, k replaylog.Kind, what string) (*item, error) {
	p := m.rep
	p.mu.Lock()
	defer p.mu.Unlock()
	it, err := m.serveDue(c)
	if err != nil {
		return nil, err
	}
	if it.final && it.pos == c.current() {
		return nil, errParked
	}
	if it.ev == nil || it.ev.Kind != k || it.pos != c.current() || it.ev.Pos.Kind == replaylog.PosState {
		return nil, c.divergence(it.idx, "the guest asked for %s at exit %d, but the log has %s", what, c.exits, p.describe(it))
	}
	for _, w := range it.waits {
		v := int(w.VCPU)
		pos, _ := seqPos(v, w.Pos)
		if err := p.wait(c, fmt.Sprintf("vCPU %d to reach %s (event %d)", v, w.Pos, it.idx),
			func() bool { return p.passed(v, pos, it.idx) }, false); err != nil {
			return nil, err
		}
	}
	if it.t != nil {
		if err := p.wait(c, fmt.Sprintf("the reductions of event %d", it.idx), func() bool { return it.t.pending == 0 }, false); err != nil {
			return nil, err
		}
	}
	// Popped only now: until its orderings are met, the event holds back
	// the events that are ordered after c's position (passed).
	p.pop(c)
	return it, nil
}

// passed says whether vCPU v has done, by the time of log event idx,
// what the recording had: it has reached pos, and nothing logged for it
// before idx at pos or earlier is left in its queue. Reaching pos alone
// is not enough, since a vCPU stands at an exit while it serves that
// exit's events, and one of them may itself wait for another vCPU: an
// ordering after "vCPU 2 at exit 73" means after vCPU 2's transitions at
// exit 73 that were logged before it, and after what those waited for.
// Called with p.mu held.
func (p *replayer) passed(v int, pos crew.Pos, idx uint64) bool {
	if p.progress[v] < pos {
		return false
	}
	q := p.queue[v]
	return len(q) == 0 || q[0].idx > idx || q[0].pos > pos
}

func (p *replayer) describe(it *item) string {
	if it.ev != nil {
		return it.ev.String()
	}
	return fmt.Sprintf("a reduction of its rights on page %d at %s (event %d)", it.page, it.where, it.idx)
}

// errParked stops a replaying vCPU at its final position.
var errParked = errors.New("at the final position")

// replayBeforeEnter runs before c enters the guest: it applies what is
// due, seeks a state position that comes before c's next exit, and parks
// c at its final position. It returns false when c must not enter.
func (m *Machine) replayBeforeEnter(c *vcpu) (bool, error) {
	p := m.rep
	for {
		p.mu.Lock()
		it, err := m.serveDue(c)
		p.mu.Unlock()
		if err != nil {
			return false, err
		}
		if it.pos == c.current() {
			if it.final {
				return false, m.park(c)
			}
			return false, c.divergence(it.idx, "the log has %s at exit %d, but the guest did not ask for it", p.describe(it), c.exits)
		}
		if it.where.Kind != replaylog.PosState || it.where.Exits != c.exits {
			return true, nil
		}
		if err := m.seek(c, &it.where, it.idx); err != nil {
			return false, err
		}
		c.seq = uint64(it.pos) & (1<<seqBits - 1)
		p.reach(c, c.current())
	}
}

// park stops c at its final position; the last vCPU to park ends the
// replay, which then compares the final state.
func (m *Machine) park(c *vcpu) error {
	p := m.rep
	p.mu.Lock()
	p.parked++
	last := p.parked == p.cpus
	status, exited := p.status, p.exited
	p.cond.Broadcast()
	p.mu.Unlock()
	if last {
		if !exited {
			return c.divergence(p.read, "every vCPU reached its final position, but the guest did not exit")
		}
		m.finish(status, nil)
	}
	return errParked
}
