package crew

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name                string
		actors, pages       int
		granularity         uint64
		ok                  bool
		wantPages, wantGran int
	}{
		{"4 KiB", 3, 16, 4096, true, 16, 4096},
		{"2 MiB", 65, 2, 2 << 20, true, 2, 2 << 20},
		{"one actor", 1, 1, 4096, true, 1, 4096},
		{"no actors", 0, 16, 4096, false, 0, 0},
		{"too many actors", MaxActors + 1, 16, 4096, false, 0, 0},
		{"no pages", 2, 0, 4096, false, 0, 0},
		{"too many pages", 2, MaxPages + 1, 4096, false, 0, 0},
		{"granularity below a host page", 2, 16, 2048, false, 0, 0},
		{"granularity not a power of two", 2, 16, 12288, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.actors, tc.pages, tc.granularity)
			if (err == nil) != tc.ok {
				t.Fatalf("New(%d, %d, %d) error %v, want ok %v", tc.actors, tc.pages, tc.granularity, err, tc.ok)
			}
			if err != nil {
				return
			}
			if s.Pages() != tc.wantPages || s.Granularity() != uint64(tc.wantGran) || s.Actors() != tc.actors {
				t.Errorf("got %d actors %d pages of %d", s.Actors(), s.Pages(), s.Granularity())
			}
			for p := 0; p < s.Pages(); p++ {
				if _, ok := s.Owner(p); ok || len(s.Readers(p)) != tc.actors {
					t.Fatalf("page %d does not start Concurrent-Read by all", p)
				}
			}
		})
	}
}

func TestForMemoryAndPageOf(t *testing.T) {
	for _, tc := range []struct {
		size, gran uint64
		pages      int
		addr       uint64
		page       int
		ok         bool
	}{
		{256 << 20, 4096, 65536, 0x12345, 0x12, true},
		{256 << 20, 2 << 20, 128, 0x12345, 0, true},
		{256 << 20, 2 << 20, 128, 5<<21 + 7, 5, true},
		{256<<20 + 1, 4096, 65537, 256 << 20, 65536, true},
		{8 << 20, 4096, 2048, 8 << 20, 0, false},
	} {
		s, err := ForMemory(2, tc.size, tc.gran)
		if err != nil {
			t.Fatal(err)
		}
		if s.Pages() != tc.pages {
			t.Errorf("ForMemory(%d, %d): %d pages, want %d", tc.size, tc.gran, s.Pages(), tc.pages)
		}
		p, ok := s.PageOf(tc.addr)
		if ok != tc.ok || (ok && p != tc.page) {
			t.Errorf("PageOf(%#x) = %d, %v; want %d, %v", tc.addr, p, ok, tc.page, tc.ok)
		}
		if ok && (s.Addr(p) > tc.addr || tc.addr-s.Addr(p) >= tc.gran) {
			t.Errorf("Addr(%d) = %#x does not hold %#x", p, s.Addr(p), tc.addr)
		}
	}
	for _, bad := range [][2]uint64{{0, 4096}, {1 << 20, 1000}, {1 << 62, 4096}} {
		if _, err := ForMemory(2, bad[0], bad[1]); err == nil {
			t.Errorf("ForMemory(%d, %d) accepted", bad[0], bad[1])
		}
	}
}

// step is one access of a scenario and the transition it must produce.
type step struct {
	actor, page int
	kind        Kind
	pos         Pos
	at          []Pos // where every actor stands (only reduced ones are read)
	reduce      []Change
	grant       [2]Rights
	cons        []Constraint
}

func cons(pairs ...[4]int) []Constraint {
	var out []Constraint
	for _, p := range pairs {
		out = append(out, Constraint{Event{p[0], Pos(p[1])}, Event{p[2], Pos(p[3])}})
	}
	return out
}

func red(page int, changes ...[3]int) []Change {
	var out []Change
	for _, c := range changes {
		out = append(out, Change{Actor: c[0], Page: page, From: Rights(c[1]), To: Rights(c[2])})
	}
	return out
}

const (
	n  = int(None)
	r  = int(ReadOnly)
	rw = int(ReadWrite)
)

func TestTransitions(t *testing.T) {
	zero := []Pos{0, 0, 0}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"reads of the initial state need nothing", []step{
			{actor: 1, page: 0, kind: Read, pos: 1, grant: [2]Rights{ReadOnly, ReadOnly}},
			{actor: 2, page: 1, kind: Fetch, pos: 1, grant: [2]Rights{ReadOnly, ReadOnly}},
		}},
		{"a first write takes the page from the initial readers, ordering nothing", []step{
			{actor: 0, page: 0, kind: Write, pos: 5, at: zero, reduce: red(0, [3]int{1, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 0, page: 0, kind: Write, pos: 6, grant: [2]Rights{ReadWrite, ReadWrite}},
			{actor: 0, page: 0, kind: Read, pos: 7, grant: [2]Rights{ReadWrite, ReadWrite}},
		}},
		{"readers join after the writer, writer keeps reading; a write takes it all back", []step{
			{actor: 0, page: 0, kind: Write, pos: 1, at: zero, reduce: red(0, [3]int{1, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 1, page: 0, kind: Read, pos: 1, at: []Pos{3, 0, 0}, reduce: red(0, [3]int{0, rw, r}), grant: [2]Rights{None, ReadOnly},
				cons: cons([4]int{0, 3, 1, 1})},
			// Nobody is reduced, but 2 must follow where 0 stopped
			// writing (3), not where 0 is now (7).
			{actor: 2, page: 0, kind: Read, pos: 2, at: []Pos{7, 1, 0}, grant: [2]Rights{None, ReadOnly},
				cons: cons([4]int{0, 3, 2, 2})},
			{actor: 1, page: 0, kind: Write, pos: 4, at: []Pos{8, 4, 5}, reduce: red(0, [3]int{0, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite},
				cons: cons([4]int{0, 8, 1, 4}, [4]int{2, 5, 1, 4})},
			{actor: 2, page: 0, kind: Write, pos: 6, at: []Pos{8, 9, 6}, reduce: red(0, [3]int{1, rw, n}), grant: [2]Rights{None, ReadWrite},
				cons: cons([4]int{1, 9, 2, 6})},
		}},
		{"program order: the owner has not moved, so the second constraint is implied (a->d)", []step{
			{actor: 0, page: 0, kind: Write, pos: 1, at: zero, reduce: red(0, [3]int{1, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 0, page: 1, kind: Write, pos: 2, at: zero, reduce: red(1, [3]int{1, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 1, page: 0, kind: Read, pos: 1, at: []Pos{5, 0, 0}, reduce: red(0, [3]int{0, rw, r}), grant: [2]Rights{None, ReadOnly},
				cons: cons([4]int{0, 5, 1, 1})},
			{actor: 1, page: 1, kind: Read, pos: 2, at: []Pos{5, 1, 0}, reduce: red(1, [3]int{0, rw, r}), grant: [2]Rights{None, ReadOnly}},
		}},
		{"program order: the owner moved on and may have written, so it is needed", []step{
			{actor: 0, page: 0, kind: Write, pos: 1, at: zero, reduce: red(0, [3]int{1, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 0, page: 1, kind: Write, pos: 2, at: zero, reduce: red(1, [3]int{1, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 1, page: 0, kind: Read, pos: 1, at: []Pos{5, 0, 0}, reduce: red(0, [3]int{0, rw, r}), grant: [2]Rights{None, ReadOnly},
				cons: cons([4]int{0, 5, 1, 1})},
			{actor: 1, page: 1, kind: Read, pos: 2, at: []Pos{6, 1, 0}, reduce: red(1, [3]int{0, rw, r}), grant: [2]Rights{None, ReadOnly},
				cons: cons([4]int{0, 6, 1, 2})},
		}},
		{"transitivity: 2 follows 1 which followed 0, so 0 -> 2 is implied", []step{
			{actor: 0, page: 0, kind: Write, pos: 1, at: zero, reduce: red(0, [3]int{1, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 1, page: 0, kind: Read, pos: 1, at: []Pos{4, 0, 0}, reduce: red(0, [3]int{0, rw, r}), grant: [2]Rights{None, ReadOnly},
				cons: cons([4]int{0, 4, 1, 1})},
			{actor: 1, page: 1, kind: Write, pos: 2, at: []Pos{4, 1, 0}, reduce: red(1, [3]int{0, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 2, page: 1, kind: Read, pos: 3, at: []Pos{4, 6, 0}, reduce: red(1, [3]int{1, rw, r}), grant: [2]Rights{None, ReadOnly},
				cons: cons([4]int{1, 6, 2, 3})},
			{actor: 2, page: 0, kind: Read, pos: 4, at: []Pos{9, 6, 3}, grant: [2]Rights{None, ReadOnly}},
		}},
		{"only the maximal source of one transition is logged", []step{
			{actor: 0, page: 0, kind: Write, pos: 1, at: zero, reduce: red(0, [3]int{1, r, n}, [3]int{2, r, n}), grant: [2]Rights{ReadOnly, ReadWrite}},
			{actor: 1, page: 0, kind: Read, pos: 1, at: []Pos{3, 0, 0}, reduce: red(0, [3]int{0, rw, r}), grant: [2]Rights{None, ReadOnly},
				cons: cons([4]int{0, 3, 1, 1})},
			// 0@3 and the write end 0@3 are known to 1@2.
			{actor: 2, page: 0, kind: Write, pos: 1, at: []Pos{3, 2, 0}, reduce: red(0, [3]int{0, r, n}, [3]int{1, r, n}), grant: [2]Rights{None, ReadWrite},
				cons: cons([4]int{1, 2, 2, 1})},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(3, 2, 4096)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				plan, err := s.Plan(st.actor, st.page, st.kind)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Access(st.actor, st.page, st.kind, st.pos, st.at)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				want := Transition{Actor: st.actor, Page: st.page, Kind: st.kind, Pos: st.pos, Reduce: st.reduce,
					Grant: Change{Actor: st.actor, Page: st.page, From: st.grant[0], To: st.grant[1]}, Constraints: st.cons}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d:\n got %v\nwant %v", i, got, want)
				}
				plan.Pos, plan.Constraints = got.Pos, got.Constraints
				if !reflect.DeepEqual(plan, got) {
					t.Errorf("step %d: Plan %v differs from Access %v", i, plan, got)
				}
				if got.Noop() != (st.grant[0] == st.grant[1]) {
					t.Errorf("step %d: Noop %v", i, got.Noop())
				}
			}
		})
	}
}

func TestAccessErrors(t *testing.T) {
	s, err := New(2, 4, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Access(0, 0, Write, 5, []Pos{0, 0}); err != nil {
		t.Fatal(err)
	}
	before := s.Checkpoint()
	for _, tc := range []struct {
		name        string
		actor, page int
		kind        Kind
		pos         Pos
		at          []Pos
		is          error
	}{
		{"actor out of range", 2, 0, Read, 1, nil, nil},
		{"negative actor", -1, 0, Read, 1, nil, nil},
		{"page out of range", 1, 4, Read, 1, nil, nil},
		{"unknown kind", 1, 0, Kind(7), 1, nil, nil},
		{"own position goes back", 0, 1, Write, 4, []Pos{0, 0}, ErrPosition},
		{"reduced actor's position goes back", 1, 0, Read, 1, []Pos{4, 0}, ErrPosition},
		{"positions missing", 1, 0, Read, 1, []Pos{6}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Access(tc.actor, tc.page, tc.kind, tc.pos, tc.at)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			if string(s.Checkpoint()) != string(before) {
				t.Error("a failed Access changed the state")
			}
		})
	}
	if _, err := s.AccessRange(1, 3, 2, Write, 1, []Pos{5, 0}); err == nil {
		t.Error("AccessRange beyond the last page accepted")
	}
}

// TestDMA: the DMA actor takes a transfer's pages exclusively at one
// position, after the vCPUs that read or wrote them.
func TestDMA(t *testing.T) {
	const dma = 2
	s, err := New(3, 8, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Access(0, 3, Write, 2, []Pos{0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	ts, err := s.AccessRange(dma, 2, 3, Write, 1, []Pos{4, 7, 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 {
		t.Fatalf("%d transitions, want 3", len(ts))
	}
	var all []Constraint
	for _, tr := range ts {
		all = append(all, tr.Constraints...)
	}
	// Pages 2 and 4: readers 0 and 1 reduced; page 3: owner 0 reduced. Each
	// source is logged once.
	if want := cons([4]int{0, 4, dma, 1}, [4]int{1, 7, dma, 1}); !reflect.DeepEqual(all, want) {
		t.Errorf("constraints %v, want %v", all, want)
	}
	for p := 2; p < 5; p++ {
		if o, ok := s.Owner(p); !ok || o != dma {
			t.Errorf("page %d owner %d %v", p, o, ok)
		}
	}
	if st := s.Stats(); st.Transitions != 4 || st.Constraints != 2 || st.Reductions != 2+2+1+2 {
		t.Errorf("stats %+v", st)
	}
}

func TestCheckpoint(t *testing.T) {
	s, err := New(65, 65536, 4096)
	if err != nil {
		t.Fatal(err)
	}
	fresh := s.Checkpoint()
	if len(fresh) > 200 {
		t.Errorf("fresh checkpoint of 65536 pages x 65 actors is %d bytes", len(fresh))
	}
	at := make([]Pos, 65)
	if _, err := s.AccessRange(64, 100, 1000, Write, 1, at); err != nil {
		t.Fatal(err)
	}
	at[64] = 1
	if _, err := s.Access(3, 500, Read, 2, at); err != nil {
		t.Fatal(err)
	}
	b := s.Checkpoint()
	if len(b) > 400 {
		t.Errorf("checkpoint after one transfer is %d bytes", len(b))
	}
	c, err := Restore(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Checkpoint()) != string(b) {
		t.Error("Restore(Checkpoint()) does not round-trip")
	}
	s.Reset()
	if string(s.Checkpoint()) != string(fresh) {
		t.Error("Reset does not return to the initial state")
	}
}

func TestRestoreRejects(t *testing.T) {
	s, _ := New(3, 8, 8192)
	at := []Pos{0, 0, 0}
	s.Access(0, 1, Write, 1, at)
	s.Access(1, 1, Read, 1, []Pos{2, 0, 0})
	good := s.Checkpoint()
	if _, err := Restore(good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"wrong magic", append([]byte("CREW9"), good[5:]...)},
		{"trailing byte", append(slices.Clone(good), 0)},
	} {
		if _, err := Restore(tc.b); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	for i := len(checkpointMagic); i < len(good); i++ {
		if _, err := Restore(good[:i]); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("truncated to %d bytes: %v", i, err)
		}
	}
	// Any single altered byte is an error or a state that still keeps
	// the invariants.
	for i := len(checkpointMagic); i < len(good); i++ {
		for _, v := range []byte{0, 1, 2, 0x7f, 0x80, 0xff} {
			b := slices.Clone(good)
			b[i] = v
			if c, err := Restore(b); err == nil {
				checkInvariants(t, c)
			}
		}
	}
}

func FuzzRestore(f *testing.F) {
	s, _ := New(3, 8, 4096)
	f.Add(s.Checkpoint())
	s.Access(0, 1, Write, 1, []Pos{0, 0, 0})
	s.Access(1, 1, Read, 1, []Pos{2, 0, 0})
	f.Add(s.Checkpoint())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Restore(b)
		if err != nil {
			return
		}
		checkInvariants(t, c)
		// A restored state must also survive use.
		at := make([]Pos, c.Actors())
		for a := range at {
			at[a] = c.Position(a)
		}
		for p := 0; p < min(c.Pages(), 4); p++ {
			if _, err := c.Access(p%c.Actors(), p, Write, at[p%c.Actors()], at); err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, c)
		}
	})
}

// checkInvariants: never two writers, never a writer beside a reader.
func checkInvariants(t *testing.T, s *State) {
	t.Helper()
	for p := 0; p < s.Pages(); p++ {
		writers, readers := 0, 0
		for a := 0; a < s.Actors(); a++ {
			switch s.Rights(a, p) {
			case ReadWrite:
				writers++
			case ReadOnly:
				readers++
			}
		}
		if writers > 1 || (writers == 1 && readers > 0) {
			t.Fatalf("page %d: %d writers and %d readers", p, writers, readers)
		}
	}
}

func TestQueriesAndStrings(t *testing.T) {
	s, err := New(3, 2, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Plan(3, 0, Read); err == nil {
		t.Error("Plan accepted actor 3 of 3")
	}
	s.Access(0, 0, Write, 1, []Pos{0, 0, 0})
	if got := s.Readers(0); got != nil {
		t.Errorf("Readers of an exclusive page: %v", got)
	}
	tr, err := s.Access(1, 0, Read, 2, []Pos{4, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Readers(0); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("Readers %v, want [0 1]", got)
	}
	if s.Ordered(1, 0) != 4 || s.Ordered(0, 1) != 0 || s.Position(0) != 4 || s.Position(1) != 2 {
		t.Errorf("Ordered(1,0)=%d Ordered(0,1)=%d positions %d %d", s.Ordered(1, 0), s.Ordered(0, 1), s.Position(0), s.Position(1))
	}
	if got, want := tr.String(), "read by 1@2 on page 0: reduce 0 rw->r; grant none->r; 0@4 -> 1@2"; got != want {
		t.Errorf("String %q, want %q", got, want)
	}
	if got := tr.Reduce[0].String(); got != "actor 0 page 0 rw->r" {
		t.Errorf("Change.String %q", got)
	}
	for _, tc := range []struct{ got, want string }{
		{Read.String(), "read"}, {Write.String(), "write"}, {Fetch.String(), "fetch"}, {Kind(9).String(), "Kind(9)"},
		{None.String(), "none"}, {ReadOnly.String(), "r"}, {ReadWrite.String(), "rw"}, {Rights(7).String(), "Rights(7)"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}
