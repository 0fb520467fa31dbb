package replay

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
)

// dispatch reads the whole log into the queues; run on its own goroutine.
func (e *Engine) dispatch(stop <-chan struct{}) {
	for {
		e.mu.Lock()
		for e.total >= maxQueued && e.starving == 0 && e.err == nil {
			e.cond.Wait()
		}
		failed := e.err != nil
		e.mu.Unlock()
		if failed {
			return
		}
		select {
		case <-stop:
			return
		default:
		}
		ev, err := e.r.Next()
		var items map[int][]*item
		if err == nil {
			items, err = e.items(ev.Clone())
		}
		e.mu.Lock()
		switch {
		case errors.Is(err, io.EOF):
			err = fmt.Errorf("replay: the log ends after event %d without an end event", e.read)
		case err != nil:
			err = fmt.Errorf("replay: log event %d: %w", e.read, err)
		}
		if err != nil {
			e.fail(err)
			e.mu.Unlock()
			return
		}
		for v, its := range items {
			e.queue[v] = append(e.queue[v], its...)
			e.total += len(its)
		}
		e.read++
		done := ev.Kind == replaylog.KindEnd
		e.eof = done
		e.cond.Broadcast()
		e.mu.Unlock()
		if done {
			return
		}
	}
}

// fail records the replay's first error; called with e.mu held.
func (e *Engine) fail(err error) {
	if e.err == nil {
		e.err = err
	}
	e.cond.Broadcast()
}

// items turns one log event into the queue items it gives each vCPU.
func (e *Engine) items(ev *replaylog.Event) (map[int][]*item, error) {
	if ev.Kind == replaylog.KindEnd {
		return nil, nil
	}
	if ev.VCPU == replaylog.NoVCPU || int(ev.VCPU) >= e.actors {
		return nil, fmt.Errorf("%s: this VMM logs no such event without a vCPU", ev.String())
	}
	v := int(ev.VCPU)
	if v >= e.cpus && ev.Kind != replaylog.KindCREW && ev.Kind != replaylog.KindDMA {
		return nil, fmt.Errorf("%s: the DMA actor logs only CREW transitions and transfers", ev.String())
	}
	pos, err := e.crewPos(v, ev.Pos)
	if err != nil {
		return nil, err
	}
	own := &item{idx: ev.Index, pos: pos, where: ev.Pos, ev: ev, final: ev.Kind == replaylog.KindStateHash}
	out := map[int][]*item{}
	switch ev.Kind {
	case replaylog.KindWake:
		own.waits = ev.Constraints
	case replaylog.KindCREW:
		if e.st == nil {
			return nil, fmt.Errorf("%s: a CREW transition in a one-vCPU log", ev.String())
		}
		if ev.Pos.Kind != replaylog.PosExit {
			return nil, fmt.Errorf("%s: a CREW fault is always at an exit", ev.String())
		}
		if err := e.crewItems(v, ev, own, out); err != nil {
			return nil, fmt.Errorf("%s: %w", ev.String(), err)
		}
	case replaylog.KindDMA:
		if v < e.cpus {
			return nil, fmt.Errorf("%s: a transfer of a vCPU", ev.String())
		}
		if ev.Pos.Kind != replaylog.PosExit {
			return nil, fmt.Errorf("%s: a transfer is at an exit position", ev.String())
		}
	case replaylog.KindMMIORead:
		if e.actors == e.cpus {
			return nil, fmt.Errorf("%s: an MMIO read in a log without a disk", ev.String())
		}
	case replaylog.KindConsoleInput, replaylog.KindInterrupt, replaylog.KindPortIn:
		return nil, fmt.Errorf("%s: this VMM has no device that logs %s events", ev.String(), ev.Kind)
	}
	out[v] = append(out[v], own)
	return out, nil
}

// crewItems replays the transition of e through crew, queues the
// reductions it makes on other vCPUs and the waits of the faulting one.
func (e *Engine) crewItems(v int, ev *replaylog.Event, own *item, out map[int][]*item) error {
	st := e.st
	if ev.Page >= uint64(st.Pages()) {
		return fmt.Errorf("page %d outside RAM", ev.Page)
	}
	page, kind := int(ev.Page), crewview.Kind(ev.Access)
	plan, err := st.Plan(v, page, kind)
	if err != nil {
		return err
	}
	logged := map[int]crew.Pos{}
	for _, c := range ev.Constraints {
		cp, err := e.crewPos(int(c.VCPU), c.Pos)
		if err != nil {
			return err
		}
		logged[int(c.VCPU)] = cp
	}
	at := make([]crew.Pos, e.actors)
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
		out[r.Actor] = append(out[r.Actor], &item{idx: ev.Index, pos: pos, where: e.position(r.Actor, pos),
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
	for _, c := range ev.Constraints {
		got = append(got, fmt.Sprintf("vcpu%d@%d", c.VCPU, logged[int(c.VCPU)]))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return fmt.Errorf("the log orders it after [%s], the CREW protocol after [%s]", strings.Join(got, " "), strings.Join(want, " "))
	}
	if (tr.Grant.To == crew.ReadWrite) != (ev.State == replaylog.PageExclusive) {
		return fmt.Errorf("the log says the page went %s, the CREW protocol gives %v", ev.State, tr.Grant.To)
	}
	own.page, own.rights, own.t = page, tr.Grant.To, t
	own.waits = ev.Constraints
	return nil
}

// crewPos numbers a log position of vCPU v in crew's sequence and, for a
// state position, remembers it so that crew's positions map back to it.
// Only the dispatcher calls it (the names are its own); the vCPUs use
// crewview.SeqPos.
func (e *Engine) crewPos(v int, at replaylog.Position) (crew.Pos, error) {
	pos, err := crewview.SeqPos(v, at)
	if err == nil && at.Kind == replaylog.PosState && e.st != nil {
		e.names.Name(v, pos, at)
	}
	return pos, err
}

func (e *Engine) position(v int, pos crew.Pos) replaylog.Position {
	if e.st == nil {
		return replaylog.ExitPos(uint64(pos) >> crewview.SeqBits)
	}
	return e.names.Position(v, pos)
}
