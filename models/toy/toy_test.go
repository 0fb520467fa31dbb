package toy

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/models/commute"
	"github.com/crewvm/crewvm/models/sym"
	"github.com/crewvm/crewvm/models/testgen"
	"github.com/crewvm/crewvm/models/z3"
)

// claim is a known fact about the commutativity of one call set.
type claim[S any] struct {
	calls []string
	// iff: the set commutes exactly when iff holds (for deterministic
	// models, where no internal choice can make one input both commute and
	// diverge). nil means "always commutes".
	iff func(pi *commute.PathInfo[S]) sym.Bool
}

// checkClaims explores each call set and checks every path against its
// claim with Z3: a commutative path must imply the condition, and a
// non-commutative path must contradict it.
func checkClaims[S any](t *testing.T, spec *commute.Spec[S], claims []claim[S]) {
	t.Helper()
	for _, c := range claims {
		t.Run(strings.Join(c.calls, "_"), func(t *testing.T) {
			var paths, comm int
			_, err := commute.Explore(context.Background(), spec, c.calls, commute.Options{}, func(pi *commute.PathInfo[S]) error {
				paths++
				cond := pi.Path.True()
				if c.iff != nil {
					cond = c.iff(pi)
				}
				if pi.Commutes {
					comm++
					mustUnsat(t, pi, "commutes without the condition", cond.Not())
				} else {
					mustUnsat(t, pi, "diverges although the condition holds", cond)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if paths == 0 {
				t.Fatal("no feasible paths")
			}
			if c.iff == nil && comm != paths {
				t.Errorf("%d of %d paths commute, want all", comm, paths)
			}
		})
	}
}

func mustUnsat[S any](t *testing.T, pi *commute.PathInfo[S], what string, extra ...sym.Bool) {
	t.Helper()
	st, err := pi.Path.Check(extra...)
	if err != nil {
		t.Fatal(err)
	}
	if st != z3.Unsat {
		t.Errorf("path %s:\n%s", what, pi.Path)
	}
}

func someSat[S any](t *testing.T, spec *commute.Spec[S], calls []string, commutes bool, extra func(pi *commute.PathInfo[S]) sym.Bool) bool {
	t.Helper()
	found := false
	_, err := commute.Explore(context.Background(), spec, calls, commute.Options{}, func(pi *commute.PathInfo[S]) error {
		if pi.Commutes != commutes || found {
			return nil
		}
		st, err := pi.Path.Check(extra(pi))
		if err != nil {
			return err
		}
		found = st == z3.Sat
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestCounter(t *testing.T) {
	n := func(pi *commute.PathInfo[CounterState]) sym.Int { return pi.Init.N }
	checkClaims(t, Counter(), []claim[CounterState]{
		{calls: []string{"inc", "inc"}},
		{calls: []string{"inc", "dec"}},
		{calls: []string{"dec", "dec"}},
		{calls: []string{"iszero", "iszero"}},
		{calls: []string{"inc", "iszero"}, iff: func(pi *commute.PathInfo[CounterState]) sym.Bool { return n(pi).NeN(0) }},
		{calls: []string{"dec", "iszero"}, iff: func(pi *commute.PathInfo[CounterState]) sym.Bool { return n(pi).NeN(1) }},
	})
}

func TestGetSet(t *testing.T) {
	val := func(pi *commute.PathInfo[VarState], slot int) sym.Int { return pi.Args[slot].(SetArgs).Val }
	checkClaims(t, GetSet(), []claim[VarState]{
		{calls: []string{"set", "set"}, iff: func(pi *commute.PathInfo[VarState]) sym.Bool { return val(pi, 0).Eq(val(pi, 1)) }},
		{calls: []string{"get", "get"}},
		{calls: []string{"get", "set"}, iff: func(pi *commute.PathInfo[VarState]) sym.Bool { return pi.Init.Val.Eq(val(pi, 1)) }},
	})
}

func TestWatermark(t *testing.T) {
	checkClaims(t, Watermark(), []claim[WatermarkState]{
		{calls: []string{"put", "put"}},
		{calls: []string{"max", "max"}},
		{calls: []string{"put", "max"}, iff: func(pi *commute.PathInfo[WatermarkState]) sym.Bool {
			return pi.Args[0].(PutArgs).Val.Le(pi.Init.Val)
		}},
	})
}

func TestTrackForget(t *testing.T) {
	forgot := func(pi *commute.PathInfo[TrackerState]) sym.Bool { return pi.Init.Forgot }
	checkClaims(t, TrackForget(), []claim[TrackerState]{
		{calls: []string{"track", "track"}, iff: forgot},
		{calls: []string{"report", "report"}},
		{calls: []string{"forget", "forget"}},
		{calls: []string{"track", "forget"}},
		{calls: []string{"track", "report"}, iff: forgot},
		{calls: []string{"report", "forget"}, iff: func(pi *commute.PathInfo[TrackerState]) sym.Bool {
			return pi.Init.Forgot.Or(pi.Init.Events.Len().EqN(0))
		}},
	})
}

func TestRename(t *testing.T) {
	spec := Rename()
	calls := []string{"rename", "rename"}
	args := func(pi *commute.PathInfo[RenameState]) (RenameArgs, RenameArgs) {
		return pi.Args[0].(RenameArgs), pi.Args[1].(RenameArgs)
	}
	var paths int
	_, err := commute.Explore(context.Background(), spec, calls, commute.Options{}, func(pi *commute.PathInfo[RenameState]) error {
		paths++
		a, b := args(pi)
		p := pi.Path
		// Both sources are read first in every order, so these reads only
		// revisit observed entries.
		srcA, inoA := pi.Init.Dir.Lookup(a.Src)
		srcB, inoB := pi.Init.Dir.Lookup(b.Src)
		distinct := sym.BoolOf(p.Context().Distinct(a.Src.AST(), a.Dst.AST(), b.Src.AST(), b.Dst.AST()))
		// Renames of two existing files to two other fresh-or-not names,
		// all four names distinct, commute.
		if !pi.Commutes {
			mustUnsat(t, pi, "distinct renames diverge", distinct, srcA, srcB)
		}
		// Swapping two different files does not commute.
		swap := a.Src.Eq(b.Dst).And(a.Dst.Eq(b.Src), a.Src.Ne(a.Dst), srcA, srcB, inoA.Ne(inoB))
		if pi.Commutes {
			mustUnsat(t, pi, "swap commutes", swap)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if paths < 4 {
		t.Errorf("only %d paths", paths)
	}
}

func TestUPipe(t *testing.T) {
	spec := UPipe()
	size := func(pi *commute.PathInfo[UPipeState]) sym.Int { return pi.Init.Elems.Len() }
	checkClaims(t, spec, []claim[UPipeState]{{calls: []string{"u_write", "u_write"}}})

	// Reads pick items by internal choice, so commutativity is
	// existential: check each direction separately.
	rr := []string{"u_read", "u_read"}
	_, err := commute.Explore(context.Background(), spec, rr, commute.Options{}, func(pi *commute.PathInfo[UPipeState]) error {
		if pi.Commutes {
			mustUnsat(t, pi, "two reads of a one-item pipe commute", size(pi).EqN(1))
		} else {
			mustUnsat(t, pi, "two reads of an empty pipe diverge", size(pi).EqN(0))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{0, 2, 5} {
		if !someSat(t, spec, rr, true, func(pi *commute.PathInfo[UPipeState]) sym.Bool { return size(pi).EqN(n) }) {
			t.Errorf("no commutative path for two reads of a pipe with %d items", n)
		}
	}
	wr := []string{"u_write", "u_read"}
	_, err = commute.Explore(context.Background(), spec, wr, commute.Options{}, func(pi *commute.PathInfo[UPipeState]) error {
		if pi.Commutes {
			mustUnsat(t, pi, "write and read of an empty pipe commute", size(pi).EqN(0))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !someSat(t, spec, wr, true, func(pi *commute.PathInfo[UPipeState]) sym.Bool { return size(pi).EqN(3) }) {
		t.Errorf("no commutative path for write and read of a non-empty pipe")
	}
}

// TestGeneratedTests checks test generation on the toy models: tests are
// concrete, distinct, agree with the known conditions, and their file
// round-trips.
func TestGeneratedTests(t *testing.T) {
	ctx := context.Background()
	opts := commute.Options{MaxTestsPerPath: 5}

	// Two increments: nothing matters, so exactly one test.
	r := Counter().RunSet(ctx, []string{"inc", "inc"}, opts)
	if r.Status != testgen.StatusOK || len(r.Tests) != 1 || r.Paths != 1 || r.Commutative != 1 {
		t.Errorf("inc,inc: status %s, %d paths, %d commutative, %d tests; want ok 1 1 1 (%v)", r.Status, r.Paths, r.Commutative, len(r.Tests), r.Err)
	}

	// set(x), set(y): every test has x = y.
	r = GetSet().RunSet(ctx, []string{"set", "set"}, opts)
	if r.Status != testgen.StatusOK || len(r.Tests) == 0 {
		t.Fatalf("set,set: %s, %d tests (%v)", r.Status, len(r.Tests), r.Err)
	}
	for _, tt := range r.Tests {
		x, _ := testgen.Record{Fields: tt.Calls[0].Args}.Int("val")
		y, _ := testgen.Record{Fields: tt.Calls[1].Args}.Int("val")
		if x != y {
			t.Errorf("set(%d), set(%d) generated as commutative", x, y)
		}
	}

	// iszero after inc: the counter value is relevant, so several tests,
	// none with a zero counter.
	r = Counter().RunSet(ctx, []string{"inc", "iszero"}, opts)
	if len(r.Tests) < 2 {
		t.Errorf("inc,iszero: %d tests, want several", len(r.Tests))
	}
	for _, tt := range r.Tests {
		if n, _ := tt.Setup[0].Int("n"); n == 0 {
			t.Errorf("inc,iszero test with n = 0")
		}
	}

	// Every model's tests survive the file format.
	for _, m := range Models() {
		info := m.Info()
		var sets []*testgen.Set
		for _, cs := range commute.CallSets(info.CallNames(), 2) {
			r := m.RunSet(ctx, cs, opts)
			if r.Status != testgen.StatusOK || r.Errors > 0 {
				t.Errorf("%s %v: %s, %d errors: %v", info.Name, cs, r.Status, r.Errors, r.Err)
			}
			sets = append(sets, &testgen.Set{Calls: cs, Tests: r.Tests, Summary: r.Summary()})
		}
		var buf bytes.Buffer
		if err := testgen.Write(&buf, &testgen.File{Model: info.Name, Params: info.Params, Sets: sets}); err != nil {
			t.Fatalf("%s: write: %v", info.Name, err)
		}
		f, err := testgen.Read(&buf)
		if err != nil {
			t.Fatalf("%s: read back: %v", info.Name, err)
		}
		if f.NumTests() == 0 {
			t.Errorf("%s: no tests", info.Name)
		}
	}
}
