package z3

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func newCtx(t testing.TB) *Context {
	t.Helper()
	c, err := NewContext(Config{"model": "true"})
	if err != nil {
		t.Fatalf("NewContext: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustSolver(t testing.TB, c *Context) *Solver {
	t.Helper()
	s, err := c.NewSolver()
	if err != nil {
		t.Fatalf("NewSolver: %v", err)
	}
	return s
}

func check(t testing.TB, s *Solver, fs ...*AST) Status {
	t.Helper()
	if err := s.Push(); err != nil {
		t.Fatal(err)
	}
	defer s.Pop(1)
	for _, f := range fs {
		if err := s.Assert(f); err != nil {
			t.Fatalf("Assert(%v): %v", f, err)
		}
	}
	st, err := s.Check()
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return st
}

func TestVersion(t *testing.T) {
	if v := Version(); !strings.Contains(v, "4.") {
		t.Errorf("Version() = %q, want a 4.x version", v)
	}
}

func TestCheckOutcomes(t *testing.T) {
	c := newCtx(t)
	s := mustSolver(t, c)
	x := c.Const("x", c.IntSort())
	y := c.Const("y", c.IntSort())
	b := c.Const("b", c.BoolSort())
	u := c.UninterpretedSort("U")
	p, q := c.Const("p", u), c.Const("q", u)
	f := c.FuncDecl("f", []*Sort{u}, c.IntSort())
	bv := c.Const("v", c.BVSort(8))
	arr := c.Const("arr", c.ArraySort(c.IntSort(), c.IntSort()))
	tests := []struct {
		name string
		fs   []*AST
		want Status
	}{
		{"linear", []*AST{x.Add(y).Eq(c.Int(10)), x.Gt(y), y.Ge(c.Int(0))}, Sat},
		{"contradiction", []*AST{x.Lt(y), y.Lt(x)}, Unsat},
		{"bool", []*AST{b, b.Not()}, Unsat},
		{"ite", []*AST{b.Ite(x, y).Eq(c.Int(3)), x.Eq(c.Int(1)), y.Eq(c.Int(2))}, Unsat},
		{"congruence", []*AST{p.Eq(q), f.Apply(p).Eq(c.Int(1)), f.Apply(q).Eq(c.Int(2))}, Unsat},
		{"distinct", []*AST{c.Distinct(p, q), f.Apply(p).Eq(f.Apply(q))}, Sat},
		{"bv overflow", []*AST{bv.BVAdd(c.BV(1, 8)).Eq(c.BV(0, 8)), bv.BVULT(c.BV(255, 8))}, Unsat},
		{"bv signed", []*AST{bv.BVSLT(c.BV(0, 8)), bv.BVUGT(c.BV(127, 8))}, Sat},
		{"array", []*AST{arr.Store(x, c.Int(5)).Select(x).Eq(c.Int(6))}, Unsat},
		{"const array", []*AST{c.ConstArray(c.IntSort(), c.Int(7)).Select(y).Eq(c.Int(7))}, Sat},
		{"empty and", []*AST{c.And()}, Sat},
		{"empty or", []*AST{c.Or()}, Unsat},
		{"mod", []*AST{x.Mod(c.Int(2)).Eq(c.Int(1)), x.Mul(c.Int(2)).Eq(c.Int(4))}, Unsat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := check(t, s, tt.fs...); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if err := c.Err(); err != nil {
		t.Fatalf("sticky error: %v", err)
	}
}

func TestModelEval(t *testing.T) {
	c := newCtx(t)
	s := mustSolver(t, c)
	x := c.Const("x", c.IntSort())
	u := c.UninterpretedSort("U")
	p, q := c.Const("p", u), c.Const("q", u)
	for _, f := range []*AST{x.Mul(c.Int(3)).Eq(c.Int(21)), p.Eq(q)} {
		if err := s.Assert(f); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := s.Check(); err != nil || st != Sat {
		t.Fatalf("Check = %v, %v", st, err)
	}
	m, err := s.Model()
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Eval(x, true)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := v.Int64(); !ok || n != 7 {
		t.Errorf("x = %v, want 7", v)
	}
	pv, err := m.Eval(p, true)
	if err != nil {
		t.Fatal(err)
	}
	qv, err := m.Eval(q, true)
	if err != nil {
		t.Fatal(err)
	}
	if !pv.Same(qv) {
		t.Errorf("p = %v, q = %v: want the same universe element", pv, qv)
	}
	// Completion gives unconstrained symbols a value.
	z := c.Const("z", c.BoolSort())
	zv, err := m.Eval(z, true)
	if err != nil {
		t.Fatal(err)
	}
	if !zv.IsTrue() && !zv.IsFalse() {
		t.Errorf("completed z = %v, want a literal", zv)
	}
	if !strings.Contains(m.String(), "x") {
		t.Errorf("model string %q does not mention x", m.String())
	}
}

func TestSortErrorIsGoError(t *testing.T) {
	c := newCtx(t)
	x := c.Const("x", c.IntSort())
	b := c.Const("b", c.BoolSort())
	if got := x.Add(b); got != nil {
		t.Fatalf("Int + Bool = %v, want nil", got)
	}
	err := c.Err()
	var ze *Error
	if !errors.As(err, &ze) {
		t.Fatalf("Err() = %v, want *z3.Error", err)
	}
	// Later operations on the failed term propagate nil, and the solver
	// refuses to work on a context with an error.
	if got := x.Add(b).Eq(x); got != nil {
		t.Errorf("operation on nil = %v, want nil", got)
	}
	s, err := c.NewSolver()
	if err == nil || s != nil {
		t.Fatalf("NewSolver after error = %v, %v; want error", s, err)
	}
	c.ResetErr()
	s = mustSolver(t, c)
	if err := s.Assert(nil); !errors.Is(err, ErrNil) {
		t.Errorf("Assert(nil) = %v, want ErrNil", err)
	}
	if err := s.Assert(x); err == nil {
		t.Errorf("Assert(non-Boolean) succeeded")
	}
	if err := s.Pop(3); err == nil {
		t.Errorf("Pop past the bottom succeeded")
	}
}

func TestMixedContexts(t *testing.T) {
	c1, c2 := newCtx(t), newCtx(t)
	x := c1.Const("x", c1.IntSort())
	y := c2.Const("y", c2.IntSort())
	if got := x.Eq(y); got != nil {
		t.Fatalf("cross-context Eq = %v", got)
	}
	if c1.Err() == nil {
		t.Fatal("no error recorded for cross-context operands")
	}
}

func TestClosed(t *testing.T) {
	c, err := NewContext(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := mustSolver(t, c)
	x := c.Const("x", c.IntSort())
	c.Close()
	c.Close() // idempotent
	if _, err := s.Check(); !errors.Is(err, ErrClosed) {
		t.Errorf("Check after Close = %v, want ErrClosed", err)
	}
	if got := x.Add(x); got != nil {
		t.Errorf("Add after Close = %v", got)
	}
	if x.String() != "<closed>" {
		t.Errorf("String after Close = %q", x.String())
	}
	c.Interrupt() // no-op, no crash
}

// hardFormula is a pigeonhole instance, slow enough for timeouts to fire.
func hardFormula(c *Context, n int) []*AST {
	var fs []*AST
	vars := make([][]*AST, n+1)
	for i := range vars {
		vars[i] = make([]*AST, n)
		var row []*AST
		for j := range vars[i] {
			vars[i][j] = c.Const(fmt.Sprintf("p%d_%d", i, j), c.BoolSort())
			row = append(row, vars[i][j])
		}
		fs = append(fs, c.Or(row...))
	}
	for j := 0; j < n; j++ {
		for i := 0; i <= n; i++ {
			for k := i + 1; k <= n; k++ {
				fs = append(fs, c.Or(vars[i][j].Not(), vars[k][j].Not()))
			}
		}
	}
	return fs
}

func TestTimeout(t *testing.T) {
	c := newCtx(t)
	s := mustSolver(t, c)
	for _, f := range hardFormula(c, 12) {
		if err := s.Assert(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetTimeout(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st, err := s.Check()
	if err != nil {
		t.Fatal(err)
	}
	if st == Unknown {
		if r := s.ReasonUnknown(); !strings.Contains(r, "timeout") && !strings.Contains(r, "canceled") {
			t.Errorf("reason = %q", r)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("check with 50ms timeout took %v", d)
	}
}

func TestInterrupt(t *testing.T) {
	c := newCtx(t)
	s := mustSolver(t, c)
	for _, f := range hardFormula(c, 12) {
		if err := s.Assert(f); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(50 * time.Millisecond)
		c.Interrupt()
	}()
	start := time.Now()
	st, err := s.Check()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("interrupted check took %v (status %v)", d, st)
	}
}

func TestInspection(t *testing.T) {
	c := newCtx(t)
	u := c.UninterpretedSort("U")
	f := c.FuncDecl("f", []*Sort{u, c.IntSort()}, c.BoolSort())
	p := c.Const("p", u)
	app := f.Apply(p, c.Int(3))
	if app.NumArgs() != 2 || !app.Arg(0).Same(p) {
		t.Errorf("args of %v wrong", app)
	}
	if n, ok := app.Arg(1).Int64(); !ok || n != 3 {
		t.Errorf("Arg(1) = %v", app.Arg(1))
	}
	if d := app.Decl(); d.Name() != "f" || d.Arity() != 2 || d.Kind() != OpUninterpreted {
		t.Errorf("decl = %v/%d/%v", d.Name(), d.Arity(), d.Kind())
	}
	if app.Arg(5) != nil {
		t.Errorf("Arg out of range not nil")
	}
	if !f.Apply(p, c.Int(3)).Same(app) {
		t.Errorf("hash-consing: equal terms are not the same object")
	}
	if app.Sort().Kind() != SortBool || p.Sort().Kind() != SortUninterpreted || c.BVSort(16).BVSize() != 16 {
		t.Errorf("sort kinds wrong")
	}
	if !c.True().IsTrue() || !c.False().IsFalse() || app.IsTrue() {
		t.Errorf("literal classification wrong")
	}
	if got := app.String(); got != "(f p 3)" {
		t.Errorf("String = %q", got)
	}
	x := c.Const("x", c.IntSort())
	simp := x.Add(c.Int(0)).Eq(x).Simplify()
	if !simp.IsTrue() {
		t.Errorf("Simplify(x+0 = x) = %v", simp)
	}
	set, err := c.Subterms(app.And(x.Gt(c.Int(1))))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*AST{app, p, x, c.Int(1), c.Int(3)} {
		if !set.Has(want) {
			t.Errorf("Subterms misses %v", want)
		}
	}
	if set.Has(c.Int(2)) {
		t.Errorf("Subterms has 2")
	}
}

// TestNoLeak builds and drops many terms and checks that every dropped
// wrapper's reference is released: cleanups queue releases and the owner
// performs them. (Z3's heap size is not a reliable measure: its tables
// grow in steps that depend on how many terms were live at once.)
func TestNoLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation-heavy")
	}
	c := newCtx(t)
	x := c.Const("x", c.IntSort())
	live := func() int { return c.tracked - c.released }
	// settle collects garbage and performs queued releases until only a
	// few objects (x, cached sorts and literals) remain, or gives up.
	settle := func() {
		for i := 0; i < 400 && live() > 100; i++ {
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
			c.drain()
		}
	}
	for k := 0; k < 5; k++ {
		for i := 0; i < 20000; i++ {
			_ = x.Add(c.Int(int64(k*100000 + i))).Gt(c.Int(int64(i)))
		}
		settle()
	}
	if c.tracked < 400000 {
		t.Fatalf("only %d objects tracked", c.tracked)
	}
	if n := live(); n > 100 {
		t.Errorf("%d of %d tracked objects never released", n, c.tracked)
	}
	// Objects still referenced must not be released.
	if got := x.Add(c.Int(1)).String(); got != "(+ x 1)" {
		t.Errorf("live term broken after releases: %q", got)
	}
}

// TestKeepUntilCloseIsDeterministic: in arena mode, the same calls give the
// same model, even with garbage collections in between.
func TestKeepUntilCloseIsDeterministic(t *testing.T) {
	model := func() string {
		c := newCtx(t)
		c.KeepUntilClose()
		s := mustSolver(t, c)
		u := c.UninterpretedSort("U")
		f := c.FuncDecl("f", []*Sort{u}, c.IntSort())
		var vs []*AST
		for i := range 30 {
			v := c.Const(fmt.Sprintf("v%d", i), u)
			vs = append(vs, v)
			for j := 0; j < 200; j++ {
				_ = f.Apply(v).Add(c.Int(int64(j))) // garbage
			}
			runtime.GC()
			if err := s.Assert(f.Apply(v).Gt(c.Int(int64(i % 7)))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Assert(c.Distinct(vs[:10]...)); err != nil {
			t.Fatal(err)
		}
		if st, err := s.Check(); err != nil || st != Sat {
			t.Fatalf("check: %v %v", st, err)
		}
		m, err := s.Model()
		if err != nil {
			t.Fatal(err)
		}
		return m.String()
	}
	if a, b := model(), model(); a != b {
		t.Errorf("models differ between identical runs:\n%s\n---\n%s", a, b)
	}
}
