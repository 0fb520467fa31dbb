package sym

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/models/z3"
)

type fnSort struct{}

func (fnSort) SortName() string { return "Fn" }

type Fn = U[fnSort]

func newExplorer(t testing.TB) *Explorer {
	t.Helper()
	z, err := z3.NewContext(z3.Config{"model": "true"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	e, err := NewExplorer(z, Options{QueryTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// explore runs body and returns, per feasible path, what visit extracted.
func explore[T any](t testing.TB, body func(p *Path) T, visit func(p *Path, v T) string) []string {
	t.Helper()
	e := newExplorer(t)
	var out []string
	var last T
	err := e.Explore(context.Background(),
		func(p *Path) error { last = body(p); return nil },
		func(p *Path) error { out = append(out, visit(p, last)); return nil })
	if err != nil {
		t.Fatalf("Explore: %v", err)
	}
	if e.Stats.Errors > 0 {
		t.Fatalf("path errors: %v", e.PathErrors())
	}
	return out
}

func TestBranchEnumeration(t *testing.T) {
	tests := []struct {
		name  string
		body  func(p *Path) string
		paths []string
	}{
		{"two independent bools", func(p *Path) string {
			a, b := Fresh[Bool](p, "a"), Fresh[Bool](p, "b")
			s := ""
			if p.If(a) {
				s += "A"
			} else {
				s += "a"
			}
			if p.If(b) {
				s += "B"
			} else {
				s += "b"
			}
			return s
		}, []string{"AB", "Ab", "aB", "ab"}},
		{"dependent ints", func(p *Path) string {
			x := Fresh[Int](p, "x")
			if p.If(x.GtN(5)) {
				if p.If(x.LtN(3)) {
					return "impossible"
				}
				return "big"
			}
			if p.If(x.EqN(5)) {
				return "five"
			}
			return "small"
		}, []string{"big", "five", "small"}},
		{"assume prunes", func(p *Path) string {
			x := Fresh[Int](p, "x")
			p.Assume(x.GeN(0).And(x.LeN(1)))
			if p.If(x.EqN(0)) {
				return "0"
			}
			if p.If(x.EqN(1)) {
				return "1"
			}
			return "other"
		}, []string{"0", "1"}},
		{"literal conditions do not branch", func(p *Path) string {
			x := Fresh[Int](p, "x")
			if p.If(x.Eq(x)) && !p.If(x.Lt(x)) && p.If(p.Int(2).LtN(3)) {
				return "ok"
			}
			return "bad"
		}, []string{"ok"}},
		{"infeasible assume", func(p *Path) string {
			x := Fresh[Int](p, "x")
			if p.If(x.GtN(0)) {
				p.Assume(x.LtN(0))
				return "never"
			}
			return "le0"
		}, []string{"le0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explore(t, tt.body, func(_ *Path, s string) string { return s })
			if strings.Join(sortStrings(got), ",") != strings.Join(sortStrings(tt.paths), ",") {
				t.Errorf("paths = %v, want %v", got, tt.paths)
			}
		})
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestDictAliasing(t *testing.T) {
	// After d[k1] = v, reading d[k2] depends on whether k1 = k2: both
	// cases must be explored, and when k1 ≠ k2 the initial entry is read.
	got := explore(t, func(p *Path) string {
		d := Fresh[Dict[Fn, Int]](p, "d")
		k1, k2 := Fresh[Fn](p, "k1"), Fresh[Fn](p, "k2")
		d.Set(k1, p.Int(7))
		if !p.If(d.Contains(k2)) {
			return "absent"
		}
		if p.If(d.Get(k2).EqN(7)) {
			if p.If(k1.Eq(k2)) {
				return "alias"
			}
			return "same value"
		}
		return "other value"
	}, func(p *Path, s string) string { return s })
	want := []string{"absent", "alias", "other value", "same value"}
	if strings.Join(sortStrings(got), ",") != strings.Join(want, ",") {
		t.Errorf("paths = %v, want %v", got, want)
	}
}

func TestDictEquality(t *testing.T) {
	// Writing two keys in either order gives equal dictionaries exactly
	// when the keys differ or the values agree.
	e := newExplorer(t)
	var commute, diverge int
	err := e.Explore(context.Background(), func(p *Path) error {
		d := Fresh[Dict[Fn, Int]](p, "d")
		k1, k2 := Fresh[Fn](p, "k1"), Fresh[Fn](p, "k2")
		v1, v2 := Fresh[Int](p, "v1"), Fresh[Int](p, "v2")
		ab, ba := d, d
		ab.Set(k1, v1)
		ab.Set(k2, v2)
		ba.Set(k2, v2)
		ba.Set(k1, v1)
		eq := Equal(p, ab, ba)
		want := k1.Ne(k2).Or(v1.Eq(v2))
		if p.If(eq) {
			commute++
			if st, err := p.Check(want.Not()); err != nil || st != z3.Unsat {
				t.Errorf("equal but not (k1≠k2 ∨ v1=v2): %v %v\n%s", st, err, p)
			}
		} else {
			diverge++
			if st, err := p.Check(want); err != nil || st != z3.Unsat {
				t.Errorf("unequal but k1≠k2 ∨ v1=v2: %v %v", st, err)
			}
		}
		// Untouched copies are equal without any condition.
		if c := Equal(p, d, d); !c.IsTrue() {
			t.Errorf("d = d is %v", c)
		}
		return nil
	}, func(*Path) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if commute == 0 || diverge == 0 {
		t.Errorf("commute %d diverge %d paths; want both", commute, diverge)
	}
}

func TestDeleteAndObserved(t *testing.T) {
	e := newExplorer(t)
	err := e.Explore(context.Background(), func(p *Path) error {
		d := Fresh[Dict[Fn, Int]](p, "d")
		k := Fresh[Fn](p, "k")
		orig := d
		d.Delete(k)
		if p.If(d.Contains(k)) {
			t.Errorf("contains a deleted key")
		}
		if n := len(orig.Observed()); n != 1 {
			t.Errorf("observed %d entries, want 1", n)
		}
		return nil
	}, func(*Path) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
}

func TestForAllLazy(t *testing.T) {
	// ForAll applies to keys observed later, including keys observed
	// through another copy of the dictionary.
	got := explore(t, func(p *Path) string {
		d := Fresh[Dict[Fn, Int]](p, "d")
		bad := Fresh[Int](p, "bad")
		d.ForAll(p, func(_ Fn, v Int) Bool { return v.Ne(bad) })
		other := d
		k := Fresh[Fn](p, "k")
		if p.If(other.Contains(k)) && p.If(other.Get(k).Eq(bad)) {
			return "violated"
		}
		return "ok"
	}, func(p *Path, s string) string { return s })
	for _, s := range got {
		if s != "ok" {
			t.Errorf("ForAll not applied to a later observation")
		}
	}
	if len(got) == 0 {
		t.Fatal("no paths")
	}
}

type pair struct {
	A Int
	B Bool
}

func (q pair) Invariant(p *Path) Bool { return q.A.GeN(0) }

type node struct {
	P     pair
	Items List[Int, Cap4]
}

func TestStructsAndInvariants(t *testing.T) {
	got := explore(t, func(p *Path) string {
		m := Fresh[Map[Int, node]](p, "m")
		k := Fresh[Int](p, "k")
		n := m.Get(k)
		if p.If(n.P.A.LtN(0)) {
			return "negative"
		}
		n.Items = n.Items.Truncate(p.Int(0)).Append(p.Int(5))
		m.Set(k, n)
		got := m.Get(k)
		if p.If(got.Items.Len().EqN(1)) && p.If(got.Items.Get(p.Int(0)).EqN(5)) {
			return "ok"
		}
		return "lost write"
	}, func(p *Path, s string) string { return s })
	if strings.Join(got, ",") != "ok" {
		t.Errorf("paths = %v, want [ok]", got)
	}
}

func TestListOps(t *testing.T) {
	got := explore(t, func(p *Path) string {
		l := Fresh[List[Int, Cap4]](p, "l")
		i := Fresh[Int](p, "i")
		p.Assume(l.Len().EqN(2))
		head, rest := l.PopFront()
		if !p.If(rest.Len().EqN(1)) || !p.If(rest.Get(p.Int(0)).Eq(l.Get(p.Int(1)))) {
			return "pop broken"
		}
		if p.If(head.Ne(l.Get(p.Int(0)))) {
			return "head broken"
		}
		p.Assume(i.GeN(0).And(i.LtN(2)))
		l2 := l.Set(i, p.Int(42))
		if p.If(l2.Get(i).NeN(42)) {
			return "set broken"
		}
		if p.If(Equal(p, l, l2)) {
			return "already 42"
		}
		return "ok"
	}, func(p *Path, s string) string { return s })
	for _, s := range got {
		if s != "ok" && s != "already 42" {
			t.Errorf("path %q", s)
		}
	}
}

func TestBag(t *testing.T) {
	// Two takes from a bag of size 1 cannot both succeed.
	got := explore(t, func(p *Path) string {
		b := Fresh[Bag[Int]](p, "b")
		p.Assume(b.Len().EqN(1))
		_, b2 := b.Take()
		if p.If(b2.Len().GtN(0)) {
			return "size broken"
		}
		b3 := b.Add(p.Int(3)).Add(p.Int(4))
		b4 := b.Add(p.Int(4)).Add(p.Int(3))
		if !p.If(Equal(p, b3, b4)) {
			return "order matters"
		}
		x, _ := b3.Take()
		if p.If(x.EqN(3)) {
			return "took 3"
		}
		return "took other"
	}, func(p *Path, s string) string { return s })
	want := "took 3,took other"
	if strings.Join(sortStrings(got), ",") != want {
		t.Errorf("paths = %v, want %s", got, want)
	}
}

func TestEvalEnumeratesEqualityPatterns(t *testing.T) {
	// Three file names have Bell(3) = 5 equality patterns.
	e := newExplorer(t)
	var tests [][]int
	err := e.Explore(context.Background(), func(p *Path) error {
		a, b, c := Fresh[Fn](p, "a"), Fresh[Fn](p, "b"), Fresh[Fn](p, "c")
		p.Assume(p.Or(a.Eq(b), a.Ne(b), b.Eq(c), c.Eq(a))) // mentions all three
		return nil
	}, func(p *Path) error {
		sc, err := p.OpenScope()
		if err != nil {
			return err
		}
		defer sc.Close()
		for range 20 {
			st, m, err := sc.Check()
			if err != nil {
				return err
			}
			if st != z3.Sat {
				break
			}
			ev := NewEval(p, m, nil)
			names := []string{"a", "b", "c"}
			var cls []int
			for _, n := range names {
				cls = append(cls, ev.Class("fn", Fresh[Fn](p, n)))
			}
			if ev.Err() != nil {
				return ev.Err()
			}
			tests = append(tests, cls)
			if err := sc.Assert(ev.NotSame()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) != 5 {
		t.Errorf("got %d patterns %v, want 5", len(tests), tests)
	}
	seen := map[[3]int]bool{}
	for _, c := range tests {
		k := [3]int{c[0], c[1], c[2]}
		if seen[k] {
			t.Errorf("pattern %v generated twice", c)
		}
		seen[k] = true
	}
}

func TestEvalRelevanceAndInternals(t *testing.T) {
	e := newExplorer(t)
	err := e.Explore(context.Background(), func(p *Path) error {
		x, y := Fresh[Int](p, "x"), Fresh[Int](p, "y")
		in := Internal[Int](p, "choice")
		p.AssumeInvariant(y.GeN(0)) // invariant only: y is irrelevant
		p.Assume(x.Gt(in))
		return nil
	}, func(p *Path) error {
		rel, err := p.RelevantTerms()
		if err != nil {
			return err
		}
		st, m, err := func() (z3.Status, *z3.Model, error) {
			sc, err := p.OpenScope()
			if err != nil {
				return 0, nil, err
			}
			defer sc.Close()
			return sc.Check()
		}()
		if err != nil || st != z3.Sat {
			t.Fatalf("check: %v %v", st, err)
		}
		ev := NewEval(p, m, rel)
		ev.Int(Fresh[Int](p, "x"))
		ev.Int(Fresh[Int](p, "y"))
		ev.Int(Int{p.z.Const("internal.choice#0", p.z.IntSort())})
		if ev.Recorded() != 1 {
			t.Errorf("recorded %d terms, want 1 (x only)", ev.Recorded())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPathString(t *testing.T) {
	explore(t, func(p *Path) int {
		x := Fresh[Int](p, "x")
		f := Fresh[Fn](p, "f")
		g := Fresh[Fn](p, "g")
		p.Assume(x.GtN(2))
		p.If(f.Eq(g))
		return 0
	}, func(p *Path, _ int) string {
		s := p.String()
		if !strings.Contains(s, "assume:") || !strings.Contains(s, "branch:") || !strings.Contains(s, "x") {
			t.Errorf("path string:\n%s", s)
		}
		return s
	})
}

func TestModelErrors(t *testing.T) {
	tests := []struct {
		name string
		body func(p *Path) error
	}{
		{"panic", func(p *Path) error { panic("model bug") }},
		{"error", func(p *Path) error { return errors.New("model error") }},
		{"uninitialised", func(p *Path) error {
			var b Bool
			p.If(b)
			return nil
		}},
		{"unsupported type", func(p *Path) error {
			Fresh[struct{ X int }](p, "s")
			return nil
		}},
		{"uninitialised container", func(p *Path) error {
			var d Dict[Fn, Int]
			d.Contains(Fresh[Fn](p, "k"))
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExplorer(t)
			err := e.Explore(context.Background(), tt.body, func(*Path) error { return nil })
			if err != nil {
				t.Fatalf("Explore: %v (model errors should fail paths, not explorations)", err)
			}
			if e.Stats.Errors != 1 || len(e.PathErrors()) != 1 {
				t.Errorf("errors = %d %v, want 1", e.Stats.Errors, e.PathErrors())
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	e := newExplorer(t)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := e.Explore(ctx, func(p *Path) error {
		x := Fresh[Int](p, "x")
		for i := range 20 {
			p.If(x.GtN(int64(i)))
		}
		return nil
	}, func(*Path) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Explore = %v, want context.Canceled", err)
	}
}
