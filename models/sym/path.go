package sym

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/crewvm/crewvm/models/z3"
)

// ErrUnknown reports a solver query that returned unknown, usually because
// it ran out of time.
var ErrUnknown = errors.New("solver returned unknown")

// Options configures an Explorer.
type Options struct {
	// QueryTimeout bounds each solver check; zero means no bound. A check
	// that runs out of time fails its path with ErrUnknown.
	QueryTimeout time.Duration
	// MaxBranches bounds the symbolic branches of one path, guarding
	// against models that loop on symbolic conditions. Zero means 10000.
	MaxBranches int
	// Logic selects a specialised Z3 solver (for example "QF_UFLIA");
	// empty means Z3's default solver.
	Logic string
}

// Stats counts what an exploration did.
type Stats struct {
	Runs       int           // executions of the body, feasible or not
	Paths      int           // feasible complete paths handed to visit
	Infeasible int           // runs that ended in an unsatisfiable condition
	Errors     int           // runs that failed (unknown queries, model errors)
	Checks     int           // solver checks
	SolverTime time.Duration // time spent in solver checks
}

// Explorer enumerates the feasible paths of a symbolic function. It owns a
// Z3 solver whose assertion stack mirrors the path condition of the
// current path, one scope per condition, so consecutive paths that share a
// prefix share its assertions. An Explorer is not safe for concurrent use.
type Explorer struct {
	z     *z3.Context
	s     *z3.Solver
	opts  Options
	stack []*z3.AST // formulas asserted in the solver, one scope each
	Stats Stats
	types map[reflect.Type]*typeInfo
	// firstErrs keeps the first few path errors for reporting.
	firstErrs []error
}

// NewExplorer creates an explorer on a Z3 context. The context must stay
// open while the explorer is used.
func NewExplorer(z *z3.Context, opts Options) (*Explorer, error) {
	var s *z3.Solver
	var err error
	if opts.Logic != "" {
		s, err = z.NewSolverForLogic(opts.Logic)
	} else {
		s, err = z.NewSolver()
	}
	if err != nil {
		return nil, fmt.Errorf("sym: creating solver: %w", err)
	}
	if opts.QueryTimeout > 0 {
		if err := s.SetTimeout(opts.QueryTimeout); err != nil {
			return nil, fmt.Errorf("sym: setting query timeout: %w", err)
		}
	}
	if opts.MaxBranches <= 0 {
		opts.MaxBranches = 10000
	}
	return &Explorer{z: z, s: s, opts: opts, types: make(map[reflect.Type]*typeInfo)}, nil
}

// Context returns the explorer's Z3 context.
func (e *Explorer) Context() *z3.Context { return e.z }

// PathErrors returns the first errors of failed paths (at most 10).
func (e *Explorer) PathErrors() []error { return e.firstErrs }

// CondKind classifies the conditions of a path.
type CondKind int

const (
	// Branch is a decision taken at Path.If.
	Branch CondKind = iota
	// Assumption comes from Path.Assume: model behaviour restricted to
	// some inputs.
	Assumption
	// Invariant comes from Path.AssumeInvariant, type invariants and
	// ForAll instantiations: what a well-formed world looks like.
	Invariant
)

func (k CondKind) String() string {
	switch k {
	case Branch:
		return "branch"
	case Assumption:
		return "assume"
	}
	return "invariant"
}

// Cond is one conjunct of a path condition.
type Cond struct {
	Kind CondKind
	Bool Bool
}

// Path is one execution of the explored function. Model code receives it
// to branch (If), constrain (Assume) and create symbolic values.
type Path struct {
	ex    *Explorer
	z     *z3.Context
	ctx   context.Context
	sched []bool

	decisions []bool
	alts      []int // decision indices whose other side is feasible and new
	conds     []Cond
	known     int // length of the prefix of conds known to be satisfiable

	counters  map[string]int
	internals map[uint32]*z3.AST
	decls     map[string]*z3.FuncDecl
	sorts     map[string]*z3.Sort
	atEnd     []func()
	endRan    bool
	scope     bool // a Scope is open on the solver
}

// abort is the panic value that ends a path early; it never escapes the
// explorer.
type abort struct {
	infeasible bool
	err        error
}

// Fail ends the path with an error. It does not return.
func (p *Path) Fail(err error) {
	panic(abort{err: err})
}

// Failf ends the path with a formatted error. It does not return.
func (p *Path) Failf(format string, args ...any) {
	p.Fail(fmt.Errorf(format, args...))
}

// infeasible ends the path as unsatisfiable. It does not return.
func (p *Path) infeasible() { panic(abort{infeasible: true}) }

// Context returns the Z3 context of the path.
func (p *Path) Context() *z3.Context { return p.z }

// Bool returns the literal b.
func (p *Path) Bool(b bool) Bool { return Bool{p.z.Bool(b)} }

// True returns the literal true.
func (p *Path) True() Bool { return Bool{p.z.True()} }

// False returns the literal false.
func (p *Path) False() Bool { return Bool{p.z.False()} }

// Int returns the literal n.
func (p *Path) Int(n int64) Int { return Int{p.z.Int(n)} }

// And returns the conjunction of bs (true when empty).
func (p *Path) And(bs ...Bool) Bool {
	if len(bs) == 0 {
		return p.True()
	}
	return p.valid(and(bs))
}

// Or returns the disjunction of bs (false when empty).
func (p *Path) Or(bs ...Bool) Bool {
	if len(bs) == 0 {
		return p.False()
	}
	return p.valid(or(bs))
}

// valid fails the path if b has no term, which happens when a zero value
// or a term from a failed Z3 operation is used.
func (p *Path) valid(b Bool) Bool {
	if b.a == nil {
		if err := p.z.Err(); err != nil {
			p.Fail(fmt.Errorf("sym: building a condition: %w", err))
		}
		p.Fail(errors.New("sym: use of an uninitialised symbolic value"))
	}
	return b
}

// Unique returns prefix with a suffix that makes it unique within the path.
// Names depend only on the order of calls, so re-executions of a path
// prefix produce the same names.
func (p *Path) Unique(prefix string) string {
	n := p.counters[prefix]
	p.counters[prefix] = n + 1
	return fmt.Sprintf("%s#%d", prefix, n)
}

// markInternal records a as an internal variable.
func (p *Path) markInternal(a *z3.AST) {
	p.internals[a.ID()] = a
}

// If branches on c: it returns whether c holds on this path. When both
// sides are feasible the explorer will also run the other side.
func (p *Path) If(c Bool) bool {
	p.valid(c)
	if c.IsTrue() {
		return true
	}
	if c.IsFalse() {
		return false
	}
	i := len(p.decisions)
	if i >= p.ex.opts.MaxBranches {
		p.Failf("sym: more than %d branches on one path", p.ex.opts.MaxBranches)
	}
	if i < len(p.sched) {
		d := p.sched[i]
		p.decide(c, d)
		// Replayed decisions were feasible when first taken.
		if p.known == len(p.conds)-1 {
			p.known++
		}
		return d
	}
	if err := p.ctx.Err(); err != nil {
		p.Fail(err)
	}
	satT := p.checkWith(c)
	var satF bool
	switch {
	case satT:
		satF = p.checkWith(c.Not())
	case p.known == len(p.conds):
		// The path is satisfiable and c is not: ¬c must be.
		satF = true
	default:
		satF = p.checkWith(c.Not())
	}
	switch {
	case satT && satF:
		p.alts = append(p.alts, i)
		p.decide(c, true)
	case satT:
		p.decide(c, true)
	case satF:
		p.decide(c, false)
	default:
		p.infeasible()
	}
	p.known = len(p.conds)
	return p.decisions[i]
}

func (p *Path) decide(c Bool, d bool) {
	p.decisions = append(p.decisions, d)
	if d {
		p.conds = append(p.conds, Cond{Branch, c})
	} else {
		p.conds = append(p.conds, Cond{Branch, c.Not()})
	}
}

// Assume restricts the path to inputs where c holds. If c contradicts the
// path so far, the path is dropped as infeasible (at the next check).
func (p *Path) Assume(c Bool) { p.assume(Assumption, c) }

// AssumeInvariant is Assume for conditions that describe well-formed
// states rather than behaviour; they do not make terms relevant for test
// generation (see the package documentation).
func (p *Path) AssumeInvariant(c Bool) { p.assume(Invariant, c) }

func (p *Path) assume(k CondKind, c Bool) {
	p.valid(c)
	if c.IsTrue() {
		return
	}
	if c.IsFalse() {
		p.infeasible()
	}
	p.conds = append(p.conds, Cond{k, c})
}

// AtEnd registers f to run once the path's body has finished, before its
// final feasibility check; aggregate invariants over all observations of a
// path belong there. Hooks registered by hooks run too.
func (p *Path) AtEnd(f func()) { p.atEnd = append(p.atEnd, f) }

// RunAtEnd runs the AtEnd hooks now. A body that branches on a condition
// involving everything the path observed (such as a commutativity check)
// calls it before that branch; otherwise the explorer calls it.
func (p *Path) RunAtEnd() {
	for i := 0; i < len(p.atEnd); i++ {
		p.atEnd[i]()
	}
	p.atEnd = nil
	p.endRan = true
}

// Conds returns the path condition, in the order conditions were added.
func (p *Path) Conds() []Cond { return append([]Cond(nil), p.conds...) }

// Condition returns the conjunction of the path's conditions of the given
// kinds (all kinds when none are given).
func (p *Path) Condition(kinds ...CondKind) Bool {
	var bs []Bool
	for _, c := range p.conds {
		if len(kinds) == 0 || containsKind(kinds, c.Kind) {
			bs = append(bs, c.Bool)
		}
	}
	return p.And(bs...)
}

func containsKind(ks []CondKind, k CondKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// String prints the path condition one conjunct per line, each simplified
// by Z3 and labelled with its kind.
func (p *Path) String() string {
	var b strings.Builder
	for _, c := range p.conds {
		s := c.Bool.a.Simplify()
		if s == nil {
			s = c.Bool.a
		}
		fmt.Fprintf(&b, "%-9s %s\n", c.Kind.String()+":", strings.ReplaceAll(s.String(), "\n", "\n          "))
	}
	return b.String()
}

// Decisions returns the branch decisions taken so far.
func (p *Path) Decisions() []bool { return append([]bool(nil), p.decisions...) }

// sync makes the solver's assertion stack equal to the path condition.
func (p *Path) sync() {
	e := p.ex
	k := 0
	for k < len(e.stack) && k < len(p.conds) && e.stack[k].Same(p.conds[k].Bool.a) {
		k++
	}
	if n := len(e.stack) - k; n > 0 {
		if err := e.s.Pop(n); err != nil {
			p.Fail(fmt.Errorf("sym: %w", err))
		}
		e.stack = e.stack[:k]
	}
	for _, c := range p.conds[k:] {
		if err := e.s.Push(); err != nil {
			p.Fail(fmt.Errorf("sym: %w", err))
		}
		if err := e.s.Assert(c.Bool.a); err != nil {
			p.Fail(fmt.Errorf("sym: asserting %v: %w", c.Kind, err))
		}
		e.stack = append(e.stack, c.Bool.a)
	}
}

// check runs one solver check, failing the path on errors and unknowns.
func (p *Path) check() bool {
	e := p.ex
	start := time.Now()
	st, err := e.s.Check()
	e.Stats.Checks++
	e.Stats.SolverTime += time.Since(start)
	if err != nil {
		p.Fail(fmt.Errorf("sym: %w", err))
	}
	if st == z3.Unknown {
		if cerr := p.ctx.Err(); cerr != nil {
			p.Fail(cerr)
		}
		p.Fail(fmt.Errorf("sym: %w (%s)", ErrUnknown, e.s.ReasonUnknown()))
	}
	return st == z3.Sat
}

// checkWith reports whether the path condition and c are satisfiable.
func (p *Path) checkWith(c Bool) bool {
	p.sync()
	e := p.ex
	if err := e.s.Push(); err != nil {
		p.Fail(fmt.Errorf("sym: %w", err))
	}
	defer func() {
		if err := e.s.Pop(1); err != nil {
			p.Fail(fmt.Errorf("sym: %w", err))
		}
	}()
	if err := e.s.Assert(c.a); err != nil {
		p.Fail(fmt.Errorf("sym: asserting branch: %w", err))
	}
	return p.check()
}

// feasible reports whether the path condition is satisfiable.
func (p *Path) feasible() bool {
	if p.known == len(p.conds) {
		return true
	}
	p.sync()
	ok := p.check()
	if ok {
		p.known = len(p.conds)
	}
	return ok
}

// Explore runs body once per feasible path and calls visit for each path
// that completes. body returns an error to fail its path; visit runs with
// the solver holding the path condition (see Path.OpenScope) and returns
// an error to stop the exploration. Failed paths are counted in Stats and
// do not stop the exploration, except when ctx is done: then Explore
// returns ctx's error.
func (e *Explorer) Explore(ctx context.Context, body func(*Path) error, visit func(*Path) error) error {
	work := [][]bool{nil}
	for len(work) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		sched := work[len(work)-1]
		work = work[:len(work)-1]
		p := &Path{
			ex: e, z: e.z, ctx: ctx, sched: sched,
			counters:  make(map[string]int),
			internals: make(map[uint32]*z3.AST),
			decls:     make(map[string]*z3.FuncDecl),
			sorts:     make(map[string]*z3.Sort),
		}
		e.Stats.Runs++
		res := p.run(body)
		// Alternatives found on this run are worth exploring whatever
		// became of the run itself. Pushing shallow ones first explores
		// deep ones first, which keeps solver prefixes shared.
		for _, i := range p.alts {
			next := make([]bool, i+1)
			copy(next, p.decisions[:i])
			next[i] = !p.decisions[i]
			work = append(work, next)
		}
		switch {
		case res.infeasible:
			e.Stats.Infeasible++
			continue
		case res.err != nil:
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if z := e.z.Err(); z != nil {
				// A Z3 error poisons the context: nothing later can
				// be trusted.
				return fmt.Errorf("sym: path %v: %w", p.decisions, res.err)
			}
			e.Stats.Errors++
			if len(e.firstErrs) < 10 {
				e.firstErrs = append(e.firstErrs, fmt.Errorf("path %v: %w", p.decisions, res.err))
			}
			continue
		}
		e.Stats.Paths++
		if err := p.runVisit(visit); err != nil {
			return err
		}
	}
	return nil
}

// run executes body on p, converting aborts and panics into a result.
func (p *Path) run(body func(*Path) error) (res abort) {
	defer func() {
		if r := recover(); r != nil {
			if a, ok := r.(abort); ok {
				res = a
				return
			}
			res = abort{err: fmt.Errorf("sym: model panicked: %v\n%s", r, debug.Stack())}
		}
	}()
	if err := body(p); err != nil {
		return abort{err: err}
	}
	if !p.endRan {
		p.RunAtEnd()
	}
	if err := p.z.Err(); err != nil {
		return abort{err: fmt.Errorf("sym: %w", err)}
	}
	if !p.feasible() {
		return abort{infeasible: true}
	}
	p.sync()
	return abort{}
}

func (p *Path) runVisit(visit func(*Path) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if a, ok := r.(abort); ok {
				if a.err == nil {
					a.err = errors.New("sym: path became infeasible during visit")
				}
				err = a.err
				return
			}
			err = fmt.Errorf("sym: visit panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return visit(p)
}

// Scope is an assertion scope on top of a finished path's condition, for
// queries such as test enumeration that add constraints temporarily.
type Scope struct {
	p    *Path
	open bool
}

// OpenScope syncs the solver with the path condition and opens a scope.
// Only one scope may be open; Close it before the path ends.
func (p *Path) OpenScope() (*Scope, error) {
	if p.scope {
		return nil, errors.New("sym: a scope is already open")
	}
	if err := p.safely(p.sync); err != nil {
		return nil, err
	}
	if err := p.ex.s.Push(); err != nil {
		return nil, fmt.Errorf("sym: %w", err)
	}
	p.scope = true
	return &Scope{p: p, open: true}, nil
}

// safely runs f, turning a path abort into an error.
func (p *Path) safely(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(abort)
			if !ok {
				panic(r)
			}
			err = a.err
			if a.infeasible {
				err = errors.New("sym: infeasible")
			}
		}
	}()
	f()
	return nil
}

// Assert adds c to the scope.
func (s *Scope) Assert(c Bool) error {
	if !s.open {
		return errors.New("sym: scope closed")
	}
	if c.a == nil {
		if err := s.p.z.Err(); err != nil {
			return fmt.Errorf("sym: %w", err)
		}
		return errors.New("sym: asserting an uninitialised value")
	}
	return s.p.ex.s.Assert(c.a)
}

// Check decides the path condition with the scope's assertions, returning
// a model when satisfiable.
func (s *Scope) Check() (z3.Status, *z3.Model, error) {
	if !s.open {
		return z3.Unknown, nil, errors.New("sym: scope closed")
	}
	e := s.p.ex
	start := time.Now()
	st, err := e.s.Check()
	e.Stats.Checks++
	e.Stats.SolverTime += time.Since(start)
	if err != nil {
		return st, nil, fmt.Errorf("sym: %w", err)
	}
	switch st {
	case z3.Unknown:
		if cerr := s.p.ctx.Err(); cerr != nil {
			return st, nil, cerr
		}
		return st, nil, fmt.Errorf("sym: %w (%s)", ErrUnknown, e.s.ReasonUnknown())
	case z3.Unsat:
		return st, nil, nil
	}
	m, err := e.s.Model()
	if err != nil {
		return st, nil, fmt.Errorf("sym: %w", err)
	}
	return st, m, nil
}

// CheckPreferring is Check with extra constraints that are only a
// preference: it first checks with them (in a nested scope) and falls back
// to Check when they cannot be met.
func (s *Scope) CheckPreferring(pref Bool) (z3.Status, *z3.Model, error) {
	if pref.a == nil || pref.IsTrue() {
		return s.Check()
	}
	e := s.p.ex
	if err := e.s.Push(); err != nil {
		return z3.Unknown, nil, fmt.Errorf("sym: %w", err)
	}
	st, m, err := func() (z3.Status, *z3.Model, error) {
		if err := e.s.Assert(pref.a); err != nil {
			return z3.Unknown, nil, fmt.Errorf("sym: %w", err)
		}
		return s.Check()
	}()
	if perr := e.s.Pop(1); perr != nil && err == nil {
		err = fmt.Errorf("sym: %w", perr)
	}
	if err != nil || st == z3.Sat {
		return st, m, err
	}
	return s.Check()
}

// Close pops the scope.
func (s *Scope) Close() error {
	if !s.open {
		return nil
	}
	s.open = false
	s.p.scope = false
	return s.p.ex.s.Pop(1)
}

// Check reports the satisfiability of the path condition together with
// extra, for queries about a finished path (for example in tests).
func (p *Path) Check(extra ...Bool) (z3.Status, error) {
	sc, err := p.OpenScope()
	if err != nil {
		return z3.Unknown, err
	}
	defer sc.Close()
	for _, c := range extra {
		if err := sc.Assert(c); err != nil {
			return z3.Unknown, err
		}
	}
	st, _, err := sc.Check()
	return st, err
}
