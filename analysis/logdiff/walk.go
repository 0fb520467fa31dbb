package logdiff

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/crewvm/crewvm/replaylog"
)

// item is an event waiting for its partner in the other log.
type item struct {
	ev *replaylog.Event
	// seq is the event's number among its actor's events in its log.
	seq uint64
	// ord is, for a CREW transition, its number among its page's
	// transitions in its log.
	ord uint64
}

// side is one log being walked.
type side struct {
	r    *replaylog.Reader
	name string
	done bool
	read uint64
	// seq and ord count events per actor and CREW transitions per page
	// from the start of the log.
	seq map[uint32]uint64
	ord map[uint64]uint64
	// pending are the events not yet paired, per actor, in log order.
	pending  map[uint32][]item
	npending int
}

func newSide(r *replaylog.Reader, name string) *side {
	return &side{r: r, name: name, seq: map[uint32]uint64{}, ord: map[uint64]uint64{}, pending: map[uint32][]item{}}
}

// next returns the log's next event (owned by the reader) or nil at its
// end; read errors are wrapped with the log's name.
func (s *side) next() (*replaylog.Event, error) {
	if s.done {
		return nil, nil
	}
	e, err := s.r.Next()
	if errors.Is(err, io.EOF) {
		s.done = true
		return nil, nil
	}
	if err != nil {
		s.done = true
		return nil, readErr(s.name, err)
	}
	s.read++
	return e, nil
}

// count numbers e among its actor's events and, for a CREW transition,
// among its page's.
func (s *side) count(e *replaylog.Event) (seq, ord uint64) {
	seq = s.seq[e.VCPU]
	s.seq[e.VCPU] = seq + 1
	if e.Kind == replaylog.KindCREW {
		ord = s.ord[e.Page]
		s.ord[e.Page] = ord + 1
	}
	return seq, ord
}

// walker compares two logs; see the package comment for how.
type walker struct {
	sides [2]*side
	h     *replaylog.Header
	opts  Options
	sym   *symbolizer
	res   *Result

	// ring holds the last shared events, for Result.Context.
	ring  []*replaylog.Event
	rings int

	part   uint64
	partEv [2]*replaylog.Event
	// partDiff is the difference each parting event was paired into, if
	// it was; partMatched says it found its equal.
	partDiff    [2]*Difference
	partMatched [2]bool
	// firstOn[s] is the first CREW transition in log s, from the parting
	// point on, of the page the other log's parting event transfers.
	firstOn [2]*replaylog.Event

	sync *Sync
}

func newWalker(a, b *replaylog.Reader, h *replaylog.Header, opts Options, sym *symbolizer, res *Result) *walker {
	return &walker{sides: [2]*side{newSide(a, opts.NameA), newSide(b, opts.NameB)}, h: h, opts: opts, sym: sym, res: res}
}

func (w *walker) run() error {
	if err := w.prefix(); err != nil || w.res.Same {
		w.finishInfo()
		return err
	}
	err := w.walk()
	w.finishInfo()
	if err != nil {
		return err
	}
	w.finishFirst()
	return nil
}

func (w *walker) finishInfo() {
	w.res.A.Events, w.res.B.Events = w.sides[0].read, w.sides[1].read
}

// prefix reads both logs in step while they agree. It stops at the
// first pair that differs, keeping it in partEv, or sets Same.
func (w *walker) prefix() error {
	a, b := w.sides[0], w.sides[1]
	for {
		ea, err := a.next()
		if err != nil {
			return err
		}
		eb, err := b.next()
		if err != nil {
			return err
		}
		if ea == nil && eb == nil {
			w.res.Same = true
			w.res.Shared = a.read
			w.setContext()
			return nil
		}
		if ea == nil || eb == nil || !equalEvents(ea, eb) {
			w.part = a.read - 1
			if ea == nil {
				w.part = b.read - 1
			}
			w.res.Shared = w.part
			w.setContext()
			if ea != nil {
				w.partEv[0] = ea.Clone()
			}
			if eb != nil {
				w.partEv[1] = eb.Clone()
			}
			return nil
		}
		if ea.Kind == replaylog.KindLabel {
			w.sym.addLabel(ea)
		}
		a.count(ea)
		b.count(eb)
		w.remember(ea)
	}
}

// remember keeps a copy of a shared event in the context ring.
func (w *walker) remember(e *replaylog.Event) {
	n := w.opts.Context
	if n == 0 {
		return
	}
	if len(w.ring) < n {
		w.ring = append(w.ring, e.Clone())
		return
	}
	slot := w.ring[w.rings]
	data, cons := slot.Data[:0], slot.Constraints[:0]
	*slot = *e
	slot.Data = append(data, e.Data...)
	slot.Constraints = append(cons, e.Constraints...)
	if e.Data == nil {
		slot.Data = nil
	}
	if e.Constraints == nil {
		slot.Constraints = nil
	}
	w.rings = (w.rings + 1) % n
}

func (w *walker) setContext() {
	evs := append(slices.Clone(w.ring[w.rings:]), w.ring[:w.rings]...)
	for _, e := range evs {
		w.res.Context = append(w.res.Context, *w.view(e))
	}
}

// walk pairs the events from the parting point on, per actor, until
// both logs end.
func (w *walker) walk() error {
	for i, e := range w.partEv {
		if e != nil {
			w.feed(i, e)
		}
	}
	w.checkSync()
	for !w.sides[0].done || !w.sides[1].done {
		for i, s := range w.sides {
			e, err := s.next()
			if err != nil {
				return err
			}
			if e != nil {
				w.feed(i, e)
			}
		}
		w.checkSync()
		if n := w.sides[0].npending + w.sides[1].npending; n > MaxPending {
			w.res.Stopped = fmt.Sprintf("stopped at %s #%d and %s #%d: more than %d events out of step",
				w.sides[0].name, w.sides[0].read, w.sides[1].name, w.sides[1].read, MaxPending)
			w.sync = nil
			return nil
		}
	}
	// What is left has no partner: its log has more events of that actor.
	type leftover struct {
		side int
		it   item
	}
	var left []leftover
	for i, s := range w.sides {
		for _, q := range s.pending {
			for _, it := range q {
				left = append(left, leftover{i, it})
			}
		}
	}
	slices.SortFunc(left, func(x, y leftover) int {
		return cmp.Or(cmp.Compare(x.it.ev.Index, y.it.ev.Index), cmp.Compare(x.side, y.side))
	})
	for _, l := range left {
		if l.side == 0 {
			w.pair(&l.it, nil)
		} else {
			w.pair(nil, &l.it)
		}
	}
	if w.sync != nil && w.sync.Matched > 0 {
		w.res.Reconverged = w.sync
	}
	return nil
}

// checkSync notes the first point, after the last difference, where no
// event waits for a partner.
func (w *walker) checkSync() {
	if w.sync == nil && w.sides[0].npending == 0 && w.sides[1].npending == 0 {
		w.sync = &Sync{A: w.sides[0].read, B: w.sides[1].read}
	}
}

// feed takes log si's next event: it pairs it with the other log's
// waiting event of the same actor, or makes it wait for one.
func (w *walker) feed(si int, e *replaylog.Event) {
	s, o := w.sides[si], w.sides[1-si]
	if e.Kind == replaylog.KindLabel {
		w.sym.addLabel(e)
	}
	if p := w.partEv[1-si]; e.Kind == replaylog.KindCREW && w.firstOn[si] == nil && p != nil &&
		p.Kind == replaylog.KindCREW && p.Page == e.Page {
		w.firstOn[si] = e.Clone()
	}
	seq, ord := s.count(e)
	it := item{ev: e, seq: seq, ord: ord}
	if !(w.partEv[si] != nil && e == w.partEv[si]) {
		it.ev = e.Clone()
	}
	q := o.pending[e.VCPU]
	if len(q) == 0 {
		s.pending[e.VCPU] = append(s.pending[e.VCPU], it)
		s.npending++
		return
	}
	other := q[0]
	q[0] = item{}
	if len(q) == 1 {
		delete(o.pending, e.VCPU)
	} else {
		o.pending[e.VCPU] = q[1:]
	}
	o.npending--
	if si == 0 {
		w.pair(&it, &other)
	} else {
		w.pair(&other, &it)
	}
}

// isPart reports whether it is log si's parting event.
func (w *walker) isPart(si int, it *item) bool {
	return it != nil && w.partEv[si] != nil && it.ev == w.partEv[si]
}

// pair judges a's and b's events, the same actor's seq-th in each log
// (either may be nil: no partner).
func (w *walker) pair(a, b *item) {
	partA, partB := w.isPart(0, a), w.isPart(1, b)
	if a != nil && b != nil && equalEvents(a.ev, b.ev) && (a.ev.Kind != replaylog.KindCREW || a.ord == b.ord) {
		if a.ev.Index != b.ev.Index {
			w.res.Reordered++
		}
		w.partMatched[0] = w.partMatched[0] || partA
		w.partMatched[1] = w.partMatched[1] || partB
		if w.sync != nil {
			w.sync.Matched++
		}
		return
	}
	w.sync = nil
	d := w.difference(a, b)
	if partA {
		w.partDiff[0] = d
	}
	if partB {
		w.partDiff[1] = d
	}
	if (partA || a == nil && w.partEv[0] == nil) && (partB || b == nil && w.partEv[1] == nil) {
		return // First shows this pair
	}
	w.res.LaterTotal++
	if len(w.res.Later) < w.opts.Follow {
		w.res.Later = append(w.res.Later, *d)
	}
}

func (w *walker) difference(a, b *item) *Difference {
	d := &Difference{A: w.view(evOf(a)), B: w.view(evOf(b))}
	if a != nil {
		d.Actor, d.Seq = w.actor(a.ev.VCPU), a.seq
	} else {
		d.Actor, d.Seq = w.actor(b.ev.VCPU), b.seq
	}
	d.Class, d.Summary = w.explain(a, b, d.A, d.B)
	return d
}

func evOf(it *item) *replaylog.Event {
	if it == nil {
		return nil
	}
	return it.ev
}

// equalEvents compares everything but the index.
func equalEvents(a, b *replaylog.Event) bool {
	return a.Kind == b.Kind && a.VCPU == b.VCPU && a.Pos == b.Pos && a.Port == b.Port && a.Size == b.Size &&
		a.Vector == b.Vector && a.Value == b.Value && a.Nr == b.Nr && a.Addr == b.Addr && a.Len == b.Len &&
		a.Page == b.Page && a.Device == b.Device && a.Access == b.Access && a.State == b.State &&
		a.HasMemHash == b.HasMemHash && a.Hash == b.Hash && a.MemHash == b.MemHash &&
		slices.Equal(a.Constraints, b.Constraints) && bytes.Equal(a.Data, b.Data) && a.Name == b.Name
}

// actor names an event's actor.
func (w *walker) actor(v uint32) string {
	switch {
	case v == replaylog.NoVCPU:
		return "-"
	case w.h.DiskSize > 0 && v == w.h.DMAActor():
		return "dma"
	}
	return fmt.Sprintf("vcpu%d", v)
}

// view renders an event, symbolized.
func (w *walker) view(e *replaylog.Event) *EventView {
	if e == nil {
		return nil
	}
	v := &EventView{Index: e.Index, Actor: w.actor(e.VCPU), Kind: e.Kind.String(), Text: e.String()}
	var rips []uint64
	addStop := func(actor uint32, p replaylog.Position) {
		if p.Kind == replaylog.PosState {
			v.Stops = append(v.Stops, w.sym.stop(w.actor(actor), p))
			rips = append(rips, p.Regs.RIP)
		}
	}
	addStop(e.VCPU, e.Pos)
	for _, c := range e.Constraints {
		addStop(c.VCPU, c.Pos)
	}
	if e.Kind == replaylog.KindCREW {
		v.Page = w.sym.page(e.Page, w.sym.touched(e.Page, rips))
	}
	return v
}
