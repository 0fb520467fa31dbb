package z3

/*
#include <stdlib.h>
#include <z3.h>

static Z3_solver goz3_mk_solver(Z3_context c, Z3_symbol logic, int useLogic) {
	Z3_solver s = useLogic ? Z3_mk_solver_for_logic(c, logic) : Z3_mk_solver(c);
	if (s) Z3_solver_inc_ref(c, s);
	return s;
}

static Z3_model goz3_solver_model(Z3_context c, Z3_solver s) {
	Z3_model m = Z3_solver_get_model(c, s);
	if (m) Z3_model_inc_ref(c, m);
	return m;
}

static int goz3_set_timeout(Z3_context c, Z3_solver s, Z3_symbol key, unsigned ms) {
	Z3_params p = Z3_mk_params(c);
	if (!p) return 0;
	Z3_params_inc_ref(c, p);
	Z3_params_set_uint(c, p, key, ms);
	Z3_solver_set_params(c, s, p);
	Z3_params_dec_ref(c, p);
	return 1;
}

static int goz3_model_eval(Z3_context c, Z3_model m, Z3_ast t, int completion, Z3_ast *out) {
	Z3_ast r = 0;
	if (!Z3_model_eval(c, m, t, completion ? true : false, &r)) return 0;
	if (r) Z3_inc_ref(c, r);
	*out = r;
	return r ? 1 : 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// Status is the outcome of a satisfiability check.
type Status int

// Check outcomes.
const (
	Unknown Status = iota
	Sat
	Unsat
)

func (s Status) String() string {
	switch s {
	case Sat:
		return "sat"
	case Unsat:
		return "unsat"
	}
	return "unknown"
}

// Solver is an incremental Z3 solver with a stack of assertion scopes.
type Solver struct {
	c   *Context
	raw C.Z3_solver
}

// NewSolver returns Z3's general-purpose incremental solver.
func (c *Context) NewSolver() (*Solver, error) { return c.newSolver("") }

// NewSolverForLogic returns a solver specialised for an SMT-LIB logic such
// as "QF_UFLIA".
func (c *Context) NewSolverForLogic(logic string) (*Solver, error) {
	if logic == "" {
		return nil, errors.New("z3: NewSolverForLogic: empty logic")
	}
	return c.newSolver(logic)
}

func (c *Context) newSolver(logic string) (*Solver, error) {
	if err := c.ready("NewSolver"); err != nil {
		return nil, err
	}
	use := C.int(0)
	var sym C.Z3_symbol
	if logic != "" {
		use, sym = 1, c.mkSymbol(logic)
	}
	raw := C.goz3_mk_solver(c.raw, sym, use)
	if raw == nil {
		return nil, c.opErr("NewSolver")
	}
	s := &Solver{c: c, raw: raw}
	track(c, s, refSolver, unsafe.Pointer(raw))
	return s, nil
}

// ready returns the sticky error, or ErrClosed, so that a solver never
// works on formulas built after a failure.
func (c *Context) ready(op string) error {
	if c.closed {
		return fmt.Errorf("z3: %s: %w", op, ErrClosed)
	}
	if c.err != nil {
		return fmt.Errorf("z3: %s: earlier error: %w", op, c.err)
	}
	c.drain()
	return nil
}

// opErr returns the error for op reported by Z3, or a generic one.
func (c *Context) opErr(op string) error {
	if err := c.check(op); err != nil {
		return err
	}
	return &Error{Op: op, Code: -1, Msg: "failed without an error code"}
}

// SetTimeout bounds each later Check; a check that runs out of time
// returns Unknown with reason "timeout" (or "canceled"). Zero removes
// the bound.
func (s *Solver) SetTimeout(d time.Duration) error {
	c := s.c
	if err := c.ready("SetTimeout"); err != nil {
		return err
	}
	ms := d.Milliseconds()
	if d > 0 && ms == 0 {
		ms = 1
	}
	if ms < 0 || ms > int64(^uint32(0)) {
		return fmt.Errorf("z3: SetTimeout: %v out of range", d)
	}
	if C.goz3_set_timeout(c.raw, s.raw, c.mkSymbol("timeout"), C.unsigned(ms)) == 0 {
		return c.opErr("SetTimeout")
	}
	return c.check("SetTimeout")
}

// Assert adds a Boolean formula to the current scope.
func (s *Solver) Assert(a *AST) error {
	c := s.c
	if err := c.ready("Assert"); err != nil {
		return err
	}
	if a == nil {
		return fmt.Errorf("z3: Assert: %w", ErrNil)
	}
	if a.c != c {
		return &Error{Op: "Assert", Code: -1, Msg: "formula from another context"}
	}
	C.Z3_solver_assert(c.raw, s.raw, a.raw)
	return c.check("Assert")
}

// Push opens a new assertion scope.
func (s *Solver) Push() error {
	c := s.c
	if err := c.ready("Push"); err != nil {
		return err
	}
	C.Z3_solver_push(c.raw, s.raw)
	return c.check("Push")
}

// Pop discards the n innermost scopes and their assertions.
func (s *Solver) Pop(n int) error {
	c := s.c
	if err := c.ready("Pop"); err != nil {
		return err
	}
	if n < 0 || n > s.NumScopes() {
		return fmt.Errorf("z3: Pop(%d) with %d scopes open", n, s.NumScopes())
	}
	if n == 0 {
		return nil
	}
	C.Z3_solver_pop(c.raw, s.raw, C.unsigned(n))
	return c.check("Pop")
}

// NumScopes returns the number of open scopes.
func (s *Solver) NumScopes() int {
	if s.c.closed {
		return 0
	}
	return int(C.Z3_solver_get_num_scopes(s.c.raw, s.raw))
}

// Reset removes all assertions and scopes.
func (s *Solver) Reset() error {
	c := s.c
	if err := c.ready("Reset"); err != nil {
		return err
	}
	C.Z3_solver_reset(c.raw, s.raw)
	return c.check("Reset")
}

// Check decides the conjunction of the asserted formulas. Unknown is not an
// error (ReasonUnknown says why: a timeout, an interrupt, incompleteness);
// the error is for API failures such as a closed context.
func (s *Solver) Check() (Status, error) {
	c := s.c
	if err := c.ready("Check"); err != nil {
		return Unknown, err
	}
	r := C.Z3_solver_check(c.raw, s.raw)
	if err := c.check("Check"); err != nil {
		// An interrupted check reports Z3_CANCELED in some versions;
		// it is an Unknown outcome, not a broken context.
		var ze *Error
		if errors.As(err, &ze) && ze.Code == int(C.Z3_EXCEPTION) {
			return Unknown, nil
		}
		return Unknown, err
	}
	switch r {
	case C.Z3_L_TRUE:
		return Sat, nil
	case C.Z3_L_FALSE:
		return Unsat, nil
	}
	return Unknown, nil
}

// ReasonUnknown explains the last Unknown outcome.
func (s *Solver) ReasonUnknown() string {
	if s.c.closed {
		return "context closed"
	}
	r := goString(C.Z3_solver_get_reason_unknown(s.c.raw, s.raw))
	C.Z3_set_error(s.c.raw, C.Z3_OK)
	return r
}

// Model returns a model of the assertions after a Sat check.
func (s *Solver) Model() (*Model, error) {
	c := s.c
	if err := c.ready("Model"); err != nil {
		return nil, err
	}
	raw := C.goz3_solver_model(c.raw, s.raw)
	if raw == nil {
		return nil, c.opErr("Model")
	}
	m := &Model{c: c, raw: raw}
	track(c, m, refModel, unsafe.Pointer(raw))
	return m, nil
}

// String renders the solver's assertions in SMT-LIB syntax.
func (s *Solver) String() string {
	if s.c.closed {
		return "<closed>"
	}
	return goString(C.Z3_solver_to_string(s.c.raw, s.raw))
}

// Model is an assignment satisfying a solver's assertions.
type Model struct {
	c   *Context
	raw C.Z3_model
}

// Eval evaluates t in the model. With completion, symbols the model does
// not mention get default values (and the result is always a literal for
// quantifier-free t); without it, such symbols stay symbolic.
func (m *Model) Eval(t *AST, completion bool) (*AST, error) {
	c := m.c
	if err := c.ready("Eval"); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("z3: Eval: %w", ErrNil)
	}
	if t.c != c {
		return nil, &Error{Op: "Eval", Code: -1, Msg: "term from another context"}
	}
	var out C.Z3_ast
	comp := C.int(0)
	if completion {
		comp = 1
	}
	if C.goz3_model_eval(c.raw, m.raw, t.raw, comp, &out) == 0 {
		return nil, c.opErr("Eval")
	}
	a := &AST{c: c, raw: out}
	track(c, a, refAST, unsafe.Pointer(out))
	return a, nil
}

// String renders the model.
func (m *Model) String() string {
	if m.c.closed {
		return "<closed>"
	}
	return goString(C.Z3_model_to_string(m.c.raw, m.raw))
}
