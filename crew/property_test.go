package crew

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// event is one simulated access: actor at pos touched page.
type event struct {
	actor int
	pos   Pos
	page  int
	kind  Kind
}

// TestProperty drives random access sequences through a State the way the
// recorder does — an actor touching a page beyond its rights is stopped,
// the holders are stopped where they stand, the transition applied — and
// checks against a brute-force happens-before built from program order and
// the logged constraints that:
//   - no page ever has two writers, or a writer and a reader;
//   - every access was allowed by the rights at the time, and each
//     transition's Reduce and Grant describe exactly the rights it changed;
//   - every pair of conflicting accesses by different actors is ordered;
//   - no logged constraint is implied by the ones logged before it;
//   - a state restored from a checkpoint behaves identically.
func TestProperty(t *testing.T) {
	runs := 600
	if testing.Short() {
		runs = 100
	}
	for seed := range uint64(runs) {
		rng := rand.New(rand.NewPCG(seed, 0x637265770a))
		actors := 2 + rng.IntN(4)
		pages := 1 + rng.IntN(4)
		steps := 20 + rng.IntN(120)
		propertyRun(t, seed, rng, actors, pages, steps)
		if t.Failed() {
			return
		}
	}
}

func propertyRun(t *testing.T, seed uint64, rng *rand.Rand, actors, pages, steps int) {
	s, err := New(actors, pages, 4096)
	if err != nil {
		t.Fatal(err)
	}
	var twin *State // restored from a checkpoint, must agree with s
	cur := make([]Pos, actors)
	var events []event
	var log []Constraint
	rights := func(st *State) [][]Rights {
		out := make([][]Rights, actors)
		for a := range out {
			out[a] = make([]Rights, pages)
			for p := range out[a] {
				out[a][p] = st.Rights(a, p)
			}
		}
		return out
	}
	for i := 0; i < steps; i++ {
		a, p := rng.IntN(actors), rng.IntN(pages)
		kind := Kind(rng.IntN(3))
		if rng.IntN(3) == 0 {
			kind = Write
		}
		cur[a] += Pos(1 + rng.IntN(3))
		before := rights(s)
		tr, err := s.Access(a, p, kind, cur[a], cur)
		if err != nil {
			t.Fatalf("seed %d step %d: %v", seed, i, err)
		}
		if twin != nil {
			tw, err := twin.Access(a, p, kind, cur[a], cur)
			if err != nil || !reflect.DeepEqual(tw, tr) {
				t.Fatalf("seed %d step %d: restored state gives %v (%v), original %v", seed, i, tw, err, tr)
			}
		}
		after := rights(s)
		checkInvariants(t, s)
		if after[a][p] < kind.needs() {
			t.Fatalf("seed %d step %d: %v by %d left it %v", seed, i, kind, a, after[a][p])
		}
		checkChanges(t, seed, i, tr, before, after)
		log = append(log, tr.Constraints...)
		events = append(events, event{actor: a, pos: cur[a], page: p, kind: kind})
		if twin == nil && rng.IntN(40) == 0 {
			if twin, err = Restore(s.Checkpoint()); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, i, err)
			}
		}
	}
	checkOrdered(t, seed, events, log)
}

// checkChanges: Reduce and Grant name exactly the rights that changed.
func checkChanges(t *testing.T, seed uint64, step int, tr Transition, before, after [][]Rights) {
	t.Helper()
	changed := map[int]Change{}
	for _, c := range append(tr.Reduce, tr.Grant) {
		if c.Page != tr.Page || c.From == c.To && c.Actor != tr.Actor {
			t.Fatalf("seed %d step %d: odd change %v in %v", seed, step, c, tr)
		}
		changed[c.Actor] = c
	}
	for a := range before {
		for p := range before[a] {
			c, ok := changed[a]
			switch {
			case p == tr.Page && ok:
				if before[a][p] != c.From || after[a][p] != c.To {
					t.Fatalf("seed %d step %d: actor %d went %v->%v, transition says %v", seed, step, a, before[a][p], after[a][p], c)
				}
			case before[a][p] != after[a][p]:
				t.Fatalf("seed %d step %d: actor %d page %d went %v->%v unannounced in %v", seed, step, a, p, before[a][p], after[a][p], tr)
			}
		}
	}
}

// checkOrdered builds happens-before over the events — program order plus
// the constraints, where (o,q) -> (a,p) orders o's event at q before a's
// event at p — and checks that it orders every conflicting pair and that
// no constraint was implied by the earlier ones.
func checkOrdered(t *testing.T, seed uint64, events []event, log []Constraint) {
	t.Helper()
	index := map[Event]int{}
	for i, e := range events {
		index[Event{e.actor, e.pos}] = i
	}
	node := func(e Event) int {
		i, ok := index[e]
		if !ok {
			t.Fatalf("seed %d: constraint names %d@%d, which is no access", seed, e.Actor, e.Pos)
		}
		return i
	}
	edges := make([][]int, len(events))
	lastOf := map[int]int{}
	for i, e := range events {
		if j, ok := lastOf[e.actor]; ok {
			edges[j] = append(edges[j], i)
		}
		lastOf[e.actor] = i
	}
	// reach computes reachability with the first k constraints. Every
	// edge goes forward in the sequence, so one backward sweep does.
	reach := func(k int) []bitset {
		ed := make([][]int, len(events))
		for i := range edges {
			ed[i] = append(ed[i], edges[i]...)
		}
		for _, c := range log[:k] {
			if c.Before.Pos == 0 {
				t.Fatalf("seed %d: constraint %v from position 0", seed, c)
			}
			from, to := node(c.Before), node(c.After)
			if from >= to {
				t.Fatalf("seed %d: constraint %v goes backwards in time", seed, c)
			}
			ed[from] = append(ed[from], to)
		}
		rs := make([]bitset, len(events))
		for i := len(events) - 1; i >= 0; i-- {
			rs[i] = newBitset(len(events))
			for _, j := range ed[i] {
				rs[i].set(j)
				rs[i].or(rs[j])
			}
		}
		return rs
	}
	all := reach(len(log))
	for i, x := range events {
		for j := i + 1; j < len(events); j++ {
			y := events[j]
			if x.actor != y.actor && x.page == y.page && (x.kind == Write || y.kind == Write) && !all[i].has(j) {
				t.Fatalf("seed %d: %v by %d@%d and %v by %d@%d on page %d are not ordered", seed, x.kind, x.actor, x.pos, y.kind, y.actor, y.pos, x.page)
			}
		}
	}
	for k, c := range log {
		if reach(k)[node(c.Before)].has(node(c.After)) {
			t.Fatalf("seed %d: constraint %d (%v) is implied by the earlier ones", seed, k, c)
		}
	}
}

type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) or(c bitset) {
	for i := range b {
		b[i] |= c[i]
	}
}
