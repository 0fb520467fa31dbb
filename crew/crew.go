// Package crew is the Concurrent-Read / Exclusive-Write page-ownership
// protocol of crewvm's record and replay (DESIGN.md section 4), as pure
// state: it knows nothing of KVM. The VMM tells it that an actor (a vCPU,
// or the DMA actor) touched a page beyond its rights; crew answers with the
// transition to perform — whose rights to reduce and to what, the faulting
// actor's new rights — and the ordering constraints to log.
//
// # The protocol
//
// Every page is either Concurrent-Read (a set of readers; nobody may
// write) or Exclusive-Write (one owner reads and writes; nobody else has
// access). A read or fetch by a non-reader of a Concurrent-Read page adds
// it to the readers. A read of an Exclusive-Write page turns the page
// Concurrent-Read with the old owner and the reader as readers: the owner
// keeps reading its own data without a fault. A write takes the page
// Exclusive-Write from everybody else. Initially every page is
// Concurrent-Read by every actor: loading the image is the only write
// before the actors start, and nothing needs ordering against it.
//
// # Ordering
//
// Replay must reproduce the order of every pair of conflicting accesses
// (write/write, write/read, read/write) by different actors. The protocol
// makes each such pair meet at a transition: the earlier access happens
// before the rights of its actor are reduced, the later one after the
// rights of its actor are increased. So a transition logs, for every
// reduction, "the reduced actor at the position where it was stopped
// happens-before the faulting actor at its position" (r -> i). A reader
// joining a Concurrent-Read page is ordered after the point where the
// page's last writer lost its write right, although nobody is reduced.
//
// Most of these constraints are implied by earlier ones: the faulting
// actor may already be ordered after a later point of the same actor
// (program order), or after a point of another actor that was itself
// ordered after it (transitivity; the slides' redundant a->d). crew keeps
// a vector clock per actor — for every other actor, the last position
// already ordered before it — and logs a constraint only when the clock
// does not imply it, and only for the maximal sources of one transition.
// The property test checks both halves against a brute-force
// happens-before: every conflicting pair is ordered, and no logged
// constraint is implied by those before it.
//
// # Positions
//
// Positions are opaque to crew except that each actor's positions must
// not decrease along its execution (an exit count does; a kick position
// between exits n and n+1 can be numbered 2n+1 with exits at 2n). Position
// 0 is the start: nothing of an actor precedes it, so constraints from
// position 0 are never logged.
//
// A State is not safe for concurrent use. The recorder serialises
// transitions anyway: their order is the order of the log.
package crew

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Pos is a point of one actor's execution, supplied by the caller.
type Pos uint64

// Kind is the kind of access that faulted.
type Kind uint8

// Access kinds. A fetch needs the same rights as a read; it is kept apart
// because the VMM handles code pages differently (reports, trace mode).
const (
	Read Kind = iota
	Write
	Fetch
)

func (k Kind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	case Fetch:
		return "fetch"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// needs is the rights an access of kind k requires.
func (k Kind) needs() Rights {
	if k == Write {
		return ReadWrite
	}
	return ReadOnly
}

// Rights is what one actor may do with one page. ReadOnly includes
// instruction fetch; ReadWrite includes ReadOnly.
type Rights uint8

// Rights, ordered.
const (
	None Rights = iota
	ReadOnly
	ReadWrite
)

func (r Rights) String() string {
	switch r {
	case None:
		return "none"
	case ReadOnly:
		return "r"
	case ReadWrite:
		return "rw"
	}
	return fmt.Sprintf("Rights(%d)", uint8(r))
}

// Change is one actor's rights on one page going From -> To.
type Change struct {
	Actor    int
	Page     int
	From, To Rights
}

func (c Change) String() string {
	return fmt.Sprintf("actor %d page %d %v->%v", c.Actor, c.Page, c.From, c.To)
}

// Event is a point of one actor's execution.
type Event struct {
	Actor int
	Pos   Pos
}

// Constraint orders two events: replay must not let After's actor run
// past After.Pos before Before's actor has reached Before.Pos.
type Constraint struct {
	Before, After Event
}

func (c Constraint) String() string {
	return fmt.Sprintf("%d@%d -> %d@%d", c.Before.Actor, c.Before.Pos, c.After.Actor, c.After.Pos)
}

// Transition is what one access requires. The VMM performs Reduce first
// (each reduced actor stopped at the position it gave for it), then Grant,
// then lets the faulting actor complete its access, and logs Constraints.
type Transition struct {
	Actor int
	Page  int
	Kind  Kind
	Pos   Pos
	// Reduce lists the other actors' reductions, by actor.
	Reduce []Change
	// Grant is the faulting actor's increase; From == To when the actor
	// already had the rights (nothing to do).
	Grant Change
	// Constraints are the orderings to log, by Before.Actor: only those
	// not implied by earlier constraints and program order.
	Constraints []Constraint
}

// Noop reports that the access needed nothing: the actor had the rights.
func (t Transition) Noop() bool { return t.Grant.From == t.Grant.To && len(t.Reduce) == 0 }

func (t Transition) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v by %d@%d on page %d:", t.Kind, t.Actor, t.Pos, t.Page)
	for _, c := range t.Reduce {
		fmt.Fprintf(&b, " reduce %d %v->%v;", c.Actor, c.From, c.To)
	}
	fmt.Fprintf(&b, " grant %v->%v", t.Grant.From, t.Grant.To)
	for _, c := range t.Constraints {
		fmt.Fprintf(&b, "; %v", c)
	}
	return b.String()
}

// Stats counts what a State did, for reports.
type Stats struct {
	// Transitions counts accesses that changed rights.
	Transitions uint64
	// Reductions counts rights reduced on other actors.
	Reductions uint64
	// Constraints counts constraints logged; Elided those found implied.
	Constraints uint64
	Elided      uint64
}

// MinGranularity is the smallest page granularity: the host page size.
const MinGranularity = 4096

// MaxActors bounds the actors of one State (64 vCPUs, DMA, and room).
const MaxActors = 1024

// MaxPages bounds the pages of one State (64 GiB at 4 KiB).
const MaxPages = 1 << 24

// State is the CREW state of every page for every actor, and what has
// been ordered so far.
type State struct {
	actors int
	pages  int
	shift  uint // log2 of the granularity
	words  int  // words of a reader set

	// owner is the Exclusive-Write owner of each page, or -1 when the page
	// is Concurrent-Read by the actors in its reader set.
	owner   []int32
	readers []uint64 // pages x words
	wend    []writeEnd

	last []Pos // each actor's latest position seen
	// vc[a*actors+o] is the last position of o ordered before a's
	// current position (0: none).
	vc []Pos

	snaps    []snapshot
	free     []int32
	snapOf   []int32 // per actor: a live snapshot of its current clock, or -1
	snapAt   []Pos   // ... taken at this position
	stats    Stats
	scratchC []candidate
}

// writeEnd is where a Concurrent-Read page's last writer lost its write
// right: (actor, pos), with that actor's clock then (snapshot index).
type writeEnd struct {
	actor int32 // -1: none
	snap  int32
	pos   Pos
}

// noWriteEnd is the write end of a page nobody has written yet, or of an
// Exclusive-Write page (its owner is the writer).
func noWriteEnd() writeEnd { return writeEnd{actor: -1, snap: -1} }

// snapshot is an actor's vector clock at one position (its own entry is
// 0; the write end holds the position), shared by the pages whose last
// writer stopped writing there.
type snapshot struct {
	vc   []Pos
	refs int
}

// New makes the state of pages pages of granularity bytes (a power of two,
// at least 4 KiB) for actors actors, every page Concurrent-Read by all.
func New(actors, pages int, granularity uint64) (*State, error) {
	if actors < 1 || actors > MaxActors {
		return nil, fmt.Errorf("crew: %d actors, want 1 to %d", actors, MaxActors)
	}
	if pages < 1 || pages > MaxPages {
		return nil, fmt.Errorf("crew: %d pages, want 1 to %d", pages, MaxPages)
	}
	if granularity < MinGranularity || granularity&(granularity-1) != 0 {
		return nil, fmt.Errorf("crew: granularity %d is not a power of two of at least %d", granularity, MinGranularity)
	}
	s := &State{actors: actors, pages: pages, shift: uint(bits.TrailingZeros64(granularity)), words: (actors + 63) / 64}
	s.owner = make([]int32, pages)
	s.readers = make([]uint64, pages*s.words)
	s.wend = make([]writeEnd, pages)
	s.last = make([]Pos, actors)
	s.vc = make([]Pos, actors*actors)
	s.snapOf = make([]int32, actors)
	s.snapAt = make([]Pos, actors)
	s.Reset()
	return s, nil
}

// ForMemory makes the state for size bytes of guest memory (rounded up to
// whole pages).
func ForMemory(actors int, size, granularity uint64) (*State, error) {
	if granularity < MinGranularity || granularity&(granularity-1) != 0 {
		return nil, fmt.Errorf("crew: granularity %d is not a power of two of at least %d", granularity, MinGranularity)
	}
	pages := size/granularity + min(1, size%granularity)
	if size == 0 || pages > MaxPages {
		return nil, fmt.Errorf("crew: memory size %d is not 1 to %d pages of %d bytes", size, MaxPages, granularity)
	}
	return New(actors, int(pages), granularity)
}

// Reset returns every page to Concurrent-Read by all actors and forgets
// all positions and orderings.
func (s *State) Reset() {
	all := make([]uint64, s.words)
	for a := 0; a < s.actors; a++ {
		all[a/64] |= 1 << (a % 64)
	}
	for p := range s.owner {
		s.owner[p] = -1
		copy(s.readers[p*s.words:], all)
		s.wend[p] = noWriteEnd()
	}
	clear(s.last)
	clear(s.vc)
	s.snaps, s.free = nil, nil
	for a := range s.snapOf {
		s.snapOf[a] = -1
	}
	s.stats = Stats{}
}

// Actors is the number of actors.
func (s *State) Actors() int { return s.actors }

// Pages is the number of pages.
func (s *State) Pages() int { return s.pages }

// Granularity is the page size in bytes.
func (s *State) Granularity() uint64 { return 1 << s.shift }

// PageOf is the page holding guest-physical address addr; ok is false
// beyond the last page.
func (s *State) PageOf(addr uint64) (page int, ok bool) {
	p := addr >> s.shift
	if p >= uint64(s.pages) {
		return 0, false
	}
	return int(p), true
}

// Addr is the first guest-physical address of page.
func (s *State) Addr(page int) uint64 { return uint64(page) << s.shift }

// Stats returns the counters so far.
func (s *State) Stats() Stats { return s.stats }

// Position is the latest position of actor that crew has seen.
func (s *State) Position(actor int) Pos { return s.last[actor] }

// Rights is what actor may do with page now.
func (s *State) Rights(actor, page int) Rights {
	if o := s.owner[page]; o >= 0 {
		if int(o) == actor {
			return ReadWrite
		}
		return None
	}
	if s.reader(page, actor) {
		return ReadOnly
	}
	return None
}

// Owner is the Exclusive-Write owner of page; ok is false when the page is
// Concurrent-Read.
func (s *State) Owner(page int) (actor int, ok bool) {
	o := s.owner[page]
	return int(o), o >= 0
}

// Readers lists the actors that may read a Concurrent-Read page (nil for
// an Exclusive-Write page: see Owner).
func (s *State) Readers(page int) []int {
	if s.owner[page] >= 0 {
		return nil
	}
	var out []int
	for a := 0; a < s.actors; a++ {
		if s.reader(page, a) {
			out = append(out, a)
		}
	}
	return out
}

// Ordered is the last position of other already ordered before actor's
// current position: a constraint from other at or before it is implied.
func (s *State) Ordered(actor, other int) Pos { return s.vc[actor*s.actors+other] }

func (s *State) reader(page, actor int) bool {
	return s.readers[page*s.words+actor/64]&(1<<(actor%64)) != 0
}

func (s *State) setReader(page, actor int) {
	s.readers[page*s.words+actor/64] |= 1 << (actor % 64)
}

func (s *State) clearReaders(page int) {
	clear(s.readers[page*s.words : (page+1)*s.words])
}

// Plan is the transition Access would perform, without performing it and
// without constraints (they depend on where the reduced actors stop). The
// VMM uses it to learn whom to stop before calling Access.
func (s *State) Plan(actor, page int, kind Kind) (Transition, error) {
	if err := s.check(actor, page, kind); err != nil {
		return Transition{}, err
	}
	return s.plan(actor, page, kind), nil
}

func (s *State) check(actor, page int, kind Kind) error {
	if actor < 0 || actor >= s.actors {
		return fmt.Errorf("crew: actor %d out of range (%d actors)", actor, s.actors)
	}
	if page < 0 || page >= s.pages {
		return fmt.Errorf("crew: page %d out of range (%d pages)", page, s.pages)
	}
	if kind > Fetch {
		return fmt.Errorf("crew: unknown access kind %d", kind)
	}
	return nil
}

func (s *State) plan(actor, page int, kind Kind) Transition {
	t := Transition{Actor: actor, Page: page, Kind: kind}
	have, need := s.Rights(actor, page), kind.needs()
	t.Grant = Change{Actor: actor, Page: page, From: have, To: have}
	if have >= need {
		return t
	}
	t.Grant.To = need
	if o := s.owner[page]; o >= 0 {
		// Exclusive-Write by another: a read leaves it a reader, a
		// write leaves it nothing.
		to := ReadOnly
		if need == ReadWrite {
			to = None
		}
		t.Reduce = []Change{{Actor: int(o), Page: page, From: ReadWrite, To: to}}
		return t
	}
	if need == ReadWrite {
		for a := 0; a < s.actors; a++ {
			if a != actor && s.reader(page, a) {
				t.Reduce = append(t.Reduce, Change{Actor: a, Page: page, From: ReadOnly, To: None})
			}
		}
	}
	return t
}

// ErrPosition reports a position that goes backwards along an actor's
// execution.
var ErrPosition = errors.New("crew: position goes backwards")

// Access performs the transition for actor's access of kind to page at
// position pos. at[o] is where each other actor o stands now: for every
// actor whose rights the transition reduces, the VMM must have it stopped
// there (at an exit, or kicked) while it changes its protections; other
// entries are not read, and at[actor] is ignored. When the actor already
// has the rights, Access changes nothing and returns a Noop transition.
//
// It fails, changing nothing, on an actor, page or kind out of range or a
// position that goes backwards for its actor.
func (s *State) Access(actor, page int, kind Kind, pos Pos, at []Pos) (Transition, error) {
	if err := s.check(actor, page, kind); err != nil {
		return Transition{}, err
	}
	if pos < s.last[actor] {
		return Transition{}, fmt.Errorf("%w: actor %d at %d, already seen at %d", ErrPosition, actor, pos, s.last[actor])
	}
	t := s.plan(actor, page, kind)
	t.Pos = pos
	if t.Noop() {
		s.last[actor] = pos
		return t, nil
	}
	if len(t.Reduce) > 0 && len(at) != s.actors {
		return Transition{}, fmt.Errorf("crew: %d positions given for %d actors", len(at), s.actors)
	}
	for _, c := range t.Reduce {
		if at[c.Actor] < s.last[c.Actor] {
			return Transition{}, fmt.Errorf("%w: actor %d stopped at %d, already seen at %d", ErrPosition, c.Actor, at[c.Actor], s.last[c.Actor])
		}
	}

	// Sources that must happen before the increase: each reduced actor
	// where it stands, and the page's last writer where it stopped
	// writing when the faulting actor joins (or empties) a
	// Concurrent-Read page.
	cands := s.scratchC[:0]
	for _, c := range t.Reduce {
		s.last[c.Actor] = at[c.Actor]
		cands = append(cands, candidate{actor: c.Actor, pos: at[c.Actor], vc: s.row(c.Actor)})
	}
	if w := s.wend[page]; s.owner[page] < 0 && w.actor >= 0 && int(w.actor) != actor {
		cands = append(cands, candidate{actor: int(w.actor), pos: w.pos, vc: s.snaps[w.snap].vc})
	}
	s.last[actor] = pos
	t.Constraints = s.order(actor, pos, cands)
	s.scratchC = cands[:0]

	// New ownership.
	if t.Grant.To == ReadWrite {
		s.setWriteEnd(page, noWriteEnd())
		s.clearReaders(page)
		s.owner[page] = int32(actor)
	} else {
		if o := s.owner[page]; o >= 0 {
			s.owner[page] = -1
			s.clearReaders(page)
			s.setReader(page, int(o))
			s.setWriteEnd(page, writeEnd{actor: o, pos: at[o], snap: s.snapshot(int(o), at[o])})
		}
		s.setReader(page, actor)
	}
	s.stats.Transitions++
	s.stats.Reductions += uint64(len(t.Reduce))
	return t, nil
}

// AccessRange performs Access for n pages from first, as one transaction
// at one position: the DMA actor takes a transfer's pages this way before
// writing them. It returns the transitions that changed rights; on an
// error, those before it have been performed.
func (s *State) AccessRange(actor, first, n int, kind Kind, pos Pos, at []Pos) ([]Transition, error) {
	if n < 0 || first < 0 || first > s.pages || n > s.pages-first {
		return nil, fmt.Errorf("crew: pages %d+%d out of range (%d pages)", first, n, s.pages)
	}
	var out []Transition
	for p := first; p < first+n; p++ {
		t, err := s.Access(actor, p, kind, pos, at)
		if err != nil {
			return out, err
		}
		if !t.Noop() {
			out = append(out, t)
		}
	}
	return out, nil
}

// candidate is an event that must happen before the faulting actor goes
// on, with the clock of its actor there (own entry not included).
type candidate struct {
	actor int
	pos   Pos
	vc    []Pos
	drop  bool
}

// knows reports whether the clock of candidate d orders c before it.
func (d *candidate) knows(c *candidate) bool {
	if d.actor == c.actor {
		return d.pos >= c.pos
	}
	return d.vc[c.actor] >= c.pos
}

// order returns the constraints actor at pos needs from cands that its
// clock does not imply, keeping only maximal sources, and advances its
// clock past all of them.
func (s *State) order(actor int, pos Pos, cands []candidate) []Constraint {
	mine := s.row(actor)
	for i := range cands {
		c := &cands[i]
		if mine[c.actor] >= c.pos {
			c.drop = true
			continue
		}
		for j := range cands {
			if d := &cands[j]; i != j && d.knows(c) && !(c.knows(d) && j > i) {
				c.drop = true
				break
			}
		}
	}
	var out []Constraint
	for i := range cands {
		c := &cands[i]
		if c.drop {
			s.stats.Elided++
			continue
		}
		out = append(out, Constraint{Before: Event{c.actor, c.pos}, After: Event{actor, pos}})
	}
	// Merge after deciding: the sources' clocks are rows of this same
	// table (or snapshots), never the faulting actor's own row, whose
	// own entry stays 0 (an actor is not ordered after itself).
	for i := range cands {
		c := &cands[i]
		for x, v := range c.vc {
			mine[x] = max(mine[x], v)
		}
		mine[c.actor] = max(mine[c.actor], c.pos)
	}
	mine[actor] = 0
	slices.SortFunc(out, func(a, b Constraint) int { return a.Before.Actor - b.Before.Actor })
	s.stats.Constraints += uint64(len(out))
	return out
}

func (s *State) row(actor int) []Pos { return s.vc[actor*s.actors : (actor+1)*s.actors] }

// snapshot returns a snapshot of actor's clock at pos, sharing the last
// one while the clock has not changed, with one more reference.
func (s *State) snapshot(actor int, pos Pos) int32 {
	if i := s.snapOf[actor]; i >= 0 && s.snapAt[actor] == pos && slices.Equal(s.snaps[i].vc, s.row(actor)) {
		s.snaps[i].refs++
		return i
	}
	vc := slices.Clone(s.row(actor))
	var i int32
	if n := len(s.free); n > 0 {
		i, s.free = s.free[n-1], s.free[:n-1]
		s.snaps[i] = snapshot{vc: vc, refs: 1}
	} else {
		i = int32(len(s.snaps))
		s.snaps = append(s.snaps, snapshot{vc: vc, refs: 1})
	}
	s.snapOf[actor], s.snapAt[actor] = i, pos
	return i
}

// setWriteEnd replaces page's write end, releasing the old snapshot.
func (s *State) setWriteEnd(page int, w writeEnd) {
	if old := s.wend[page]; old.snap >= 0 {
		sn := &s.snaps[old.snap]
		if sn.refs--; sn.refs == 0 {
			sn.vc = nil
			s.free = append(s.free, old.snap)
			if s.snapOf[old.actor] == old.snap {
				s.snapOf[old.actor] = -1
			}
		}
	}
	s.wend[page] = w
}
