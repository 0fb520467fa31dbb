package sym

import (
	"errors"
	"fmt"

	"github.com/crewvm/crewvm/models/z3"
)

// RelevantTerms returns the subterms of the behaviour-determining part of
// the path condition (branch decisions and assumptions, not invariants).
// Eval records only such terms into a test's isomorphism class.
func (p *Path) RelevantTerms() (*z3.TermSet, error) {
	var roots []*z3.AST
	for _, c := range p.conds {
		if c.Kind != Invariant {
			roots = append(roots, c.Bool.a)
		}
	}
	return p.z.Subterms(roots...)
}

// Eval turns a model of a path condition into concrete values, and records
// which values a generated test depends on, so that the test's
// isomorphism class can be excluded before asking for the next model.
//
// Values are recorded in one of two ways. Exact values (Bool, Int) must be
// equal in an isomorphic test. Class values (U[T], or an Int standing for
// an identity, such as a descriptor number) only need the same equality
// pattern within their group: a test that renames every file is the same
// test. Peek variants evaluate without recording. Terms outside the
// relevant set, and terms mentioning internal variables, are never
// recorded.
type Eval struct {
	p        *Path
	m        *z3.Model
	relevant *z3.TermSet
	internal map[uint32]bool
	exact    []exactRec
	groups   map[string]*evalGroup
	order    []string
	recorded int
	err      error
}

type exactRec struct{ term, val *z3.AST }

type evalGroup struct {
	vals []*z3.AST   // the model value of each class
	recs [][]*z3.AST // recorded terms of each class
}

// NewEval prepares an evaluation of model m for path p. relevant is the
// set of terms that may be recorded (see Path.RelevantTerms); nil records
// every term.
func NewEval(p *Path, m *z3.Model, relevant *z3.TermSet) *Eval {
	return &Eval{p: p, m: m, relevant: relevant, internal: make(map[uint32]bool), groups: make(map[string]*evalGroup)}
}

// Err returns the first evaluation error.
func (e *Eval) Err() error { return e.err }

// Recorded returns how many terms were recorded.
func (e *Eval) Recorded() int { return e.recorded }

func (e *Eval) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *Eval) value(t *z3.AST) *z3.AST {
	if e.err != nil {
		return nil
	}
	if t == nil {
		e.fail(errors.New("sym: evaluating an uninitialised value"))
		return nil
	}
	v, err := e.m.Eval(t, true)
	if err != nil {
		e.fail(fmt.Errorf("sym: evaluating %v: %w", t, err))
		return nil
	}
	return v
}

// recordable reports whether t may join the isomorphism condition.
func (e *Eval) recordable(t *z3.AST) bool {
	if e.relevant != nil && !e.relevant.Has(t) {
		return false
	}
	if len(e.p.internals) == 0 {
		return true
	}
	id := t.ID()
	if in, ok := e.internal[id]; ok {
		return !in
	}
	sub, err := e.p.z.Subterms(t)
	if err != nil {
		e.fail(err)
		return false
	}
	in := false
	for _, a := range e.p.internals {
		if sub.Has(a) {
			in = true
			break
		}
	}
	e.internal[id] = in
	return !in
}

func (e *Eval) boolValue(b Bool, record bool) bool {
	v := e.value(b.a)
	if v == nil {
		return false
	}
	if !v.IsTrue() && !v.IsFalse() {
		e.fail(fmt.Errorf("sym: %v evaluated to %v, not a Boolean literal", b.a, v))
		return false
	}
	if record && e.recordable(b.a) {
		e.exact = append(e.exact, exactRec{b.a, v})
		e.recorded++
	}
	return v.IsTrue()
}

// Bool returns b's value and records it exactly.
func (e *Eval) Bool(b Bool) bool { return e.boolValue(b, true) }

// PeekBool returns b's value without recording it.
func (e *Eval) PeekBool(b Bool) bool { return e.boolValue(b, false) }

func (e *Eval) intValue(x Int, record bool) int64 {
	v := e.value(x.a)
	if v == nil {
		return 0
	}
	n, ok := v.Int64()
	if !ok {
		e.fail(fmt.Errorf("sym: %v evaluated to %v, not a 64-bit integer", x.a, v))
		return 0
	}
	if record && e.recordable(x.a) {
		e.exact = append(e.exact, exactRec{x.a, v})
		e.recorded++
	}
	return n
}

// Int returns x's value and records it exactly.
func (e *Eval) Int(x Int) int64 { return e.intValue(x, true) }

// PeekInt returns x's value without recording it.
func (e *Eval) PeekInt(x Int) int64 { return e.intValue(x, false) }

func (e *Eval) class(group string, t *z3.AST, record bool) (int, *z3.AST) {
	v := e.value(t)
	if v == nil {
		return 0, nil
	}
	g, ok := e.groups[group]
	if !ok {
		g = &evalGroup{}
		e.groups[group] = g
		e.order = append(e.order, group)
	}
	cls := -1
	for i, gv := range g.vals {
		if gv.Same(v) {
			cls = i
			break
		}
	}
	if cls < 0 {
		cls = len(g.vals)
		g.vals = append(g.vals, v)
		g.recs = append(g.recs, nil)
	}
	if record && e.recordable(t) {
		for _, r := range g.recs[cls] {
			if r.Same(t) {
				return cls, v
			}
		}
		g.recs[cls] = append(g.recs[cls], t)
		e.recorded++
	}
	return cls, v
}

// Class returns the equivalence class of v within group: classes are
// numbered 0, 1, ... in order of first evaluation, and two values get the
// same class exactly when the model makes them equal. The value is
// recorded by its equality pattern within the group.
func (e *Eval) Class(group string, v Leaf) int {
	c, _ := e.class(group, v.AST(), true)
	return c
}

// PeekClass is Class without recording.
func (e *Eval) PeekClass(group string, v Leaf) int {
	c, _ := e.class(group, v.AST(), false)
	return c
}

// IntClass returns x's value and records it by equality pattern within
// group, for integers that are identities (descriptor numbers) rather
// than quantities.
func (e *Eval) IntClass(group string, x Int) int64 {
	_, v := e.class(group, x.a, true)
	if v == nil {
		return 0
	}
	n, ok := v.Int64()
	if !ok {
		e.fail(fmt.Errorf("sym: %v evaluated to %v, not a 64-bit integer", x.a, v))
	}
	return n
}

// NotSame returns the condition that excludes the isomorphism class of the
// recorded values: some exact value differs, or the equality pattern of
// some group differs. It is false when nothing was recorded.
func (e *Eval) NotSame() Bool {
	p := e.p
	var same []Bool
	for _, r := range e.exact {
		same = append(same, eqAST(r.term, r.val))
	}
	for _, name := range e.order {
		g := e.groups[name]
		var reps []*z3.AST
		for _, recs := range g.recs {
			if len(recs) == 0 {
				continue
			}
			reps = append(reps, recs[0])
			for _, t := range recs[1:] {
				same = append(same, eqAST(t, recs[0]))
			}
		}
		if len(reps) > 1 {
			same = append(same, Bool{p.z.Distinct(reps...)})
		}
	}
	return p.And(same...).Not()
}

// Fail records err as the evaluation's error, for builders that find a
// model they cannot turn into a test.
func (e *Eval) Fail(err error) { e.fail(err) }
