package crew

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// checkpointMagic starts every checkpoint; the digit is the format version.
const checkpointMagic = "CREW1"

// ErrCheckpoint reports a checkpoint that cannot be restored.
var ErrCheckpoint = errors.New("crew: bad checkpoint")

// Checkpoint encodes the whole state — every page's rights, where each
// Concurrent-Read page's last writer stopped, the actors' positions and
// clocks — compactly: pages come as runs of equal state, so a fresh state
// or one after a large DMA transfer is a few bytes per run. Restore
// rebuilds an identical State from it.
func (s *State) Checkpoint() []byte {
	b := []byte(checkpointMagic)
	u := func(v uint64) { b = binary.AppendUvarint(b, v) }
	u(uint64(s.actors))
	u(uint64(s.pages))
	u(uint64(s.shift))
	for _, p := range s.last {
		u(uint64(p))
	}
	// Clocks are mostly zero: only the entries set, by index delta.
	nz := 0
	for _, p := range s.vc {
		if p != 0 {
			nz++
		}
	}
	u(uint64(nz))
	prev := -1
	for i, p := range s.vc {
		if p != 0 {
			u(uint64(i - prev))
			u(uint64(p))
			prev = i
		}
	}
	u(s.stats.Transitions)
	u(s.stats.Reductions)
	u(s.stats.Constraints)
	u(s.stats.Elided)

	// Live snapshots, renumbered densely in page order.
	renum := make(map[int32]uint64)
	var order []int32
	for _, w := range s.wend {
		if w.snap >= 0 {
			if _, ok := renum[w.snap]; !ok {
				renum[w.snap] = uint64(len(order))
				order = append(order, w.snap)
			}
		}
	}
	u(uint64(len(order)))
	for _, i := range order {
		for _, p := range s.snaps[i].vc {
			u(uint64(p))
		}
	}

	same := func(p, q int) bool {
		if s.owner[p] != s.owner[q] || s.wend[p].actor != s.wend[q].actor || s.wend[p].pos != s.wend[q].pos ||
			s.wend[p].snap != s.wend[q].snap {
			return false
		}
		for w := 0; w < s.words; w++ {
			if s.readers[p*s.words+w] != s.readers[q*s.words+w] {
				return false
			}
		}
		return true
	}
	for p := 0; p < s.pages; {
		n := 1
		for p+n < s.pages && same(p, p+n) {
			n++
		}
		u(uint64(n))
		u(uint64(s.owner[p] + 1))
		if s.owner[p] < 0 {
			for w := 0; w < s.words; w++ {
				u(s.readers[p*s.words+w])
			}
		}
		w := s.wend[p]
		u(uint64(w.actor + 1))
		if w.actor >= 0 {
			u(uint64(w.pos))
			u(renum[w.snap])
		}
		p += n
	}
	return b
}

// Restore rebuilds a State from a Checkpoint. It checks everything it
// reads, so a truncated or altered checkpoint is an error, never a panic
// or a state that breaks the protocol's invariants.
func Restore(b []byte) (*State, error) {
	r := reader{b: b}
	if len(b) < len(checkpointMagic) || string(b[:len(checkpointMagic)]) != checkpointMagic {
		return nil, fmt.Errorf("%w: no %s header", ErrCheckpoint, checkpointMagic)
	}
	r.b = b[len(checkpointMagic):]
	actors, pages, shift := r.u(MaxActors), r.u(MaxPages), r.u(63)
	if r.err != nil {
		return nil, r.err
	}
	s, err := New(int(actors), int(pages), 1<<shift)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	for a := range s.last {
		s.last[a] = Pos(r.u(1<<64 - 1))
	}
	nz := r.u(uint64(len(s.vc)))
	for i, at := uint64(0), -1; i < nz; i++ {
		d := r.u(uint64(len(s.vc) - 1 - at))
		v := Pos(r.u(1<<64 - 1))
		if d == 0 || v == 0 {
			r.fail("clock entry %d: bad index delta %d or value %d", i, d, v)
		}
		if r.err != nil {
			break
		}
		at += int(d)
		s.vc[at] = v
	}
	for a := 0; a < s.actors; a++ {
		if s.vc[a*s.actors+a] != 0 {
			r.fail("actor %d ordered after itself", a)
		}
	}
	s.stats = Stats{Transitions: r.u(1<<64 - 1), Reductions: r.u(1<<64 - 1), Constraints: r.u(1<<64 - 1), Elided: r.u(1<<64 - 1)}
	nsnap := r.u(uint64(len(b)))
	if r.err != nil {
		return nil, r.err
	}
	for i := uint64(0); i < nsnap && r.err == nil; i++ {
		vc := make([]Pos, s.actors)
		for a := range vc {
			vc[a] = Pos(r.u(1<<64 - 1))
		}
		s.snaps = append(s.snaps, snapshot{vc: vc})
	}
	mask := make([]uint64, s.words)
	for a := 0; a < s.actors; a++ {
		mask[a/64] |= 1 << (a % 64)
	}
	for p := 0; p < s.pages && r.err == nil; {
		n := r.u(uint64(s.pages - p))
		if n == 0 {
			r.fail("empty run at page %d", p)
		}
		owner := int32(r.u(actors)) - 1
		rs := make([]uint64, s.words)
		if owner < 0 {
			for w := range rs {
				rs[w] = r.u(1<<64 - 1)
				if rs[w]&^mask[w] != 0 {
					r.fail("page %d: reader beyond actor %d", p, actors-1)
				}
			}
		}
		w := noWriteEnd()
		w.actor = int32(r.u(actors)) - 1
		if w.actor >= 0 {
			if owner >= 0 {
				r.fail("page %d: exclusive page with a write end", p)
			}
			if rs[w.actor/64]&(1<<(w.actor%64)) == 0 {
				r.fail("page %d: last writer %d is not a reader", p, w.actor)
			}
			w.pos = Pos(r.u(1<<64 - 1))
			if nsnap == 0 {
				r.fail("page %d: write end without snapshots", p)
			}
			w.snap = int32(r.u(nsnap - 1))
		}
		if r.err != nil {
			break
		}
		for i := 0; i < int(n); i++ {
			s.owner[p+i] = owner
			copy(s.readers[(p+i)*s.words:], rs)
			s.wend[p+i] = w
			if w.snap >= 0 {
				s.snaps[w.snap].refs++
			}
		}
		p += int(n)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last page", ErrCheckpoint, len(r.b))
	}
	for i := range s.snaps {
		if s.snaps[i].refs == 0 {
			return nil, fmt.Errorf("%w: snapshot %d is not used", ErrCheckpoint, i)
		}
	}
	return s, nil
}

// reader decodes uvarints, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrCheckpoint}, args...)...)
	}
}

// u reads one uvarint no larger than limit.
func (r *reader) u(limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	if v > limit {
		r.fail("value %d exceeds %d", v, limit)
		return 0
	}
	return v
}
