package commute

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/crewvm/crewvm/models/sym"
	"github.com/crewvm/crewvm/models/testgen"
	"github.com/crewvm/crewvm/models/z3"
)

// PathInfo describes one feasible path of a call set.
type PathInfo[S any] struct {
	Path     *sym.Path
	Commutes bool
	Init     S
	Calls    []string
	Args     []any          // by slot
	Orders   [][]int        // Orders[o] lists the slots in the order they ran
	Results  [][]sym.Result // Results[o][slot]
	Finals   []S            // final state per order
}

// Explore runs every order of the named calls from one symbolic initial
// state and calls visit for each feasible path. visit may query the path
// (PathInfo.Path.Check) while it runs. It returns the exploration
// statistics; per-path failures are counted there, and the error is for
// failures of the whole exploration (unknown calls, a Z3 error, ctx).
func Explore[S any](ctx context.Context, spec *Spec[S], calls []string, opts Options, visit func(*PathInfo[S]) error) (sym.Stats, error) {
	var st sym.Stats
	err := explore(ctx, spec, calls, opts, func(e *sym.Explorer, pi *PathInfo[S]) error {
		return visit(pi)
	}, &st)
	return st, err
}

func explore[S any](ctx context.Context, spec *Spec[S], names []string, opts Options,
	visit func(*sym.Explorer, *PathInfo[S]) error, stats *sym.Stats) error {
	calls, err := spec.lookup(names)
	if err != nil {
		return err
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	z, err := z3.NewContext(z3.Config{"model": "true"})
	if err != nil {
		return fmt.Errorf("creating Z3 context: %w", err)
	}
	defer z.Close()
	// One context per call set, freed as a whole when the set is done:
	// cheaper than per-term releases, and it makes generation
	// reproducible (see z3.Context.KeepUntilClose).
	z.KeepUntilClose()
	// Interrupt a running check when ctx ends; Explore notices ctx at its
	// next step.
	stop := context.AfterFunc(ctx, z.Interrupt)
	defer stop()
	ex, err := sym.NewExplorer(z, sym.Options{QueryTimeout: opts.QueryTimeout})
	if err != nil {
		return err
	}
	defer func() { *stats = ex.Stats }()
	orders := permutations(len(calls))
	var cur *PathInfo[S]
	body := func(p *sym.Path) error {
		pi := &PathInfo[S]{Path: p, Calls: names, Orders: orders}
		pi.Init = sym.Fresh[S](p, "s")
		if spec.Init != nil {
			spec.Init(p, &pi.Init)
		}
		pi.Args = make([]any, len(calls))
		for i, c := range calls {
			pi.Args[i] = c.fresh(p, slotName(i), i)
		}
		pi.Results = make([][]sym.Result, len(orders))
		pi.Finals = make([]S, len(orders))
		for o, order := range orders {
			st := pi.Init
			pi.Results[o] = make([]sym.Result, len(calls))
			for _, slot := range order {
				pi.Results[o][slot] = calls[slot].run(&st, Env{Path: p, Slot: slot}, pi.Args[slot])
			}
			pi.Finals[o] = st
		}
		var same []sym.Bool
		for o := 1; o < len(orders); o++ {
			for slot := range calls {
				same = append(same, sym.ResultsEqual(p, pi.Results[0][slot], pi.Results[o][slot]))
			}
			same = append(same, sym.Equal(p, pi.Finals[0], pi.Finals[o]))
		}
		cond := p.And(same...)
		if spec.Finish != nil {
			spec.Finish(p, &pi.Init)
		}
		p.RunAtEnd()
		pi.Commutes = p.If(cond)
		cur = pi
		return nil
	}
	return ex.Explore(ctx, body, func(p *sym.Path) error { return visit(ex, cur) })
}

// RunSet explores a call set and generates tests for its commutative
// paths. A context that ends (a per-set timeout) gives StatusTimeout with
// no tests; other whole-set failures give StatusError.
func (s *Spec[S]) RunSet(ctx context.Context, calls []string, opts Options) *SetResult {
	start := time.Now()
	res := &SetResult{Calls: append([]string(nil), calls...), Status: testgen.StatusOK}
	maxTests := opts.MaxTestsPerPath
	if maxTests == 0 {
		maxTests = DefaultMaxTestsPerPath
	}
	build := s.Build
	if build == nil {
		build = GenericBuild[S]
	}
	seen := make(map[string]bool)
	var firstErr error
	noteErr := func(err error) {
		res.Errors++
		if firstErr == nil {
			firstErr = err
		}
	}
	err := explore(ctx, s, calls, opts, func(ex *sym.Explorer, pi *PathInfo[S]) error {
		res.Paths++
		if !pi.Commutes {
			return nil
		}
		res.Commutative++
		if maxTests < 0 {
			return nil
		}
		tests, err := s.generate(ctx, pi, build, maxTests, res.Commutative)
		for _, t := range tests {
			key := testKey(t)
			if seen[key] {
				res.Duplicates++
				continue
			}
			seen[key] = true
			res.Tests = append(res.Tests, t)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			noteErr(fmt.Errorf("path %d: %w", res.Commutative, err))
		}
		return nil
	}, &res.Stats)
	res.Elapsed = time.Since(start)
	res.Errors += res.Stats.Errors
	switch {
	case err != nil && ctx.Err() != nil:
		// Whatever failed first, the set ran out of time (or was
		// canceled): an interrupted solver can fail in several ways.
		res.Status = testgen.StatusTimeout
		if errors.Is(ctx.Err(), context.Canceled) {
			res.Status = testgen.StatusError
		}
		res.Err = fmt.Errorf("%s: %w after %v", strings.Join(calls, ","), ctx.Err(), res.Elapsed.Round(time.Millisecond))
		res.Tests = nil
	case err != nil:
		res.Status = testgen.StatusError
		res.Err = fmt.Errorf("%s: %w", strings.Join(calls, ","), err)
		res.Tests = nil
	case firstErr != nil:
		res.Err = firstErr
	}
	res.NumTests = len(res.Tests)
	if res.Err == nil && res.Stats.Errors > 0 {
		// Path errors were counted by the explorer; report the first.
		res.Err = fmt.Errorf("%s: %d failed paths", strings.Join(calls, ","), res.Stats.Errors)
	}
	return res
}

// generate enumerates up to max tests for a commutative path, excluding
// each test's isomorphism class before asking for the next.
func (s *Spec[S]) generate(ctx context.Context, pi *PathInfo[S], build func(*Instance[S]) (*testgen.Test, error), max, pathNo int) ([]*testgen.Test, error) {
	p := pi.Path
	rel, err := p.RelevantTerms()
	if err != nil {
		return nil, err
	}
	sc, err := p.OpenScope()
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	pref := absentPreference(p, rel, pi.Init)
	var tests []*testgen.Test
	for len(tests) < max {
		if err := ctx.Err(); err != nil {
			return tests, err
		}
		st, m, err := sc.CheckPreferring(pref)
		if err != nil {
			return tests, err
		}
		if st == z3.Unsat {
			break
		}
		ev := sym.NewEval(p, m, rel)
		t, err := buildSafely(build, &Instance[S]{
			Eval: ev, Path: p, Init: pi.Init, Calls: pi.Calls, Args: pi.Args, Results: pi.Results[0],
		})
		if err == nil {
			err = ev.Err()
		}
		if err != nil {
			return tests, fmt.Errorf("building test: %w", err)
		}
		t.Path = pathNo
		tests = append(tests, t)
		ns := ev.NotSame()
		if ns.IsFalse() {
			break // nothing the test depends on can vary
		}
		if err := sc.Assert(ns); err != nil {
			return tests, err
		}
	}
	return tests, nil
}

// absentPreference returns the condition that every observed dictionary
// entry of the initial state whose validity does not matter to the path
// is absent. Generation prefers such models, so tests do not set up
// descriptors, names or mappings the calls never depend on.
func absentPreference(p *sym.Path, rel *z3.TermSet, init any) sym.Bool {
	var bs []sym.Bool
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if !v.IsValid() {
			return
		}
		if o, ok := v.Interface().(observedLike); ok {
			if _, sized := v.Interface().(sizedLike); sized {
				return // bags: counts, not validity
			}
			for _, e := range o.ObservedAny() {
				if a := e.Valid.AST(); a != nil && !e.Valid.IsTrue() && !rel.Has(a) {
					bs = append(bs, e.Valid.Not())
				}
			}
			return
		}
		switch v.Kind() {
		case reflect.Struct:
			if _, leaf := v.Interface().(sym.Leaf); leaf {
				return
			}
			if _, list := v.Interface().(listLike); list {
				return
			}
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(init))
	return p.And(bs...)
}

// buildSafely runs a builder, turning a panic (a model bug) into an
// error rather than a crash of the whole run.
func buildSafely[S any](build func(*Instance[S]) (*testgen.Test, error), in *Instance[S]) (t *testgen.Test, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("test builder panicked: %v", r)
		}
	}()
	t, err = build(in)
	if err == nil && t == nil {
		err = errors.New("test builder returned no test")
	}
	return t, err
}

// testKey identifies a test's content, to drop duplicates generated by
// different paths of one call set.
func testKey(t *testgen.Test) string {
	var b strings.Builder
	for _, r := range t.Setup {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	for _, c := range t.Calls {
		b.WriteString(testgen.Record{Kind: c.Name, Fields: c.Args}.String())
		b.WriteByte('\n')
	}
	for _, e := range t.Expect {
		b.WriteString(testgen.Record{Kind: "expect", Fields: e.Fields}.String())
		b.WriteByte('\n')
	}
	return b.String()
}
