package z3

/*
#include <stdlib.h>
#include <z3.h>

static Z3_ast goz3_ref(Z3_context c, Z3_ast a) { if (a) Z3_inc_ref(c, a); return a; }

// The wrappers below take the new term's reference in the same cgo call
// that creates it, halving the number of calls on hot paths.
#define GOZ3_UN(n) static Z3_ast goz3_##n(Z3_context c, Z3_ast a) { return goz3_ref(c, Z3_##n(c, a)); }
#define GOZ3_BIN(n) static Z3_ast goz3_##n(Z3_context c, Z3_ast a, Z3_ast b) { return goz3_ref(c, Z3_##n(c, a, b)); }
#define GOZ3_TRI(n) static Z3_ast goz3_##n(Z3_context c, Z3_ast a, Z3_ast b, Z3_ast d) { return goz3_ref(c, Z3_##n(c, a, b, d)); }
#define GOZ3_NARY(n) static Z3_ast goz3_##n(Z3_context c, unsigned k, Z3_ast const *a) { return goz3_ref(c, Z3_##n(c, k, a)); }

GOZ3_UN(mk_not) GOZ3_UN(mk_unary_minus) GOZ3_UN(mk_bvnot) GOZ3_UN(mk_bvneg) GOZ3_UN(simplify)
GOZ3_BIN(mk_eq) GOZ3_BIN(mk_implies) GOZ3_BIN(mk_iff) GOZ3_BIN(mk_xor)
GOZ3_BIN(mk_div) GOZ3_BIN(mk_mod) GOZ3_BIN(mk_rem)
GOZ3_BIN(mk_lt) GOZ3_BIN(mk_le) GOZ3_BIN(mk_gt) GOZ3_BIN(mk_ge)
GOZ3_BIN(mk_select)
GOZ3_BIN(mk_bvadd) GOZ3_BIN(mk_bvsub) GOZ3_BIN(mk_bvmul) GOZ3_BIN(mk_bvudiv) GOZ3_BIN(mk_bvurem)
GOZ3_BIN(mk_bvsdiv) GOZ3_BIN(mk_bvsrem) GOZ3_BIN(mk_bvand) GOZ3_BIN(mk_bvor) GOZ3_BIN(mk_bvxor)
GOZ3_BIN(mk_bvshl) GOZ3_BIN(mk_bvlshr) GOZ3_BIN(mk_bvashr)
GOZ3_BIN(mk_bvult) GOZ3_BIN(mk_bvule) GOZ3_BIN(mk_bvugt) GOZ3_BIN(mk_bvuge)
GOZ3_BIN(mk_bvslt) GOZ3_BIN(mk_bvsle) GOZ3_BIN(mk_bvsgt) GOZ3_BIN(mk_bvsge)
GOZ3_BIN(mk_concat)
GOZ3_TRI(mk_ite) GOZ3_TRI(mk_store)
GOZ3_NARY(mk_and) GOZ3_NARY(mk_or) GOZ3_NARY(mk_add) GOZ3_NARY(mk_mul) GOZ3_NARY(mk_sub)
GOZ3_NARY(mk_distinct)

static Z3_ast goz3_mk_const(Z3_context c, Z3_symbol s, Z3_sort t) { return goz3_ref(c, Z3_mk_const(c, s, t)); }
static Z3_ast goz3_mk_app(Z3_context c, Z3_func_decl d, unsigned n, Z3_ast const *a) { return goz3_ref(c, Z3_mk_app(c, d, n, a)); }
static Z3_ast goz3_mk_int64(Z3_context c, int64_t v, Z3_sort t) { return goz3_ref(c, Z3_mk_int64(c, v, t)); }
static Z3_ast goz3_mk_uint64(Z3_context c, uint64_t v, Z3_sort t) { return goz3_ref(c, Z3_mk_unsigned_int64(c, v, t)); }
static Z3_ast goz3_mk_extract(Z3_context c, unsigned hi, unsigned lo, Z3_ast a) { return goz3_ref(c, Z3_mk_extract(c, hi, lo, a)); }
static Z3_ast goz3_mk_zero_ext(Z3_context c, unsigned i, Z3_ast a) { return goz3_ref(c, Z3_mk_zero_ext(c, i, a)); }
static Z3_ast goz3_mk_sign_ext(Z3_context c, unsigned i, Z3_ast a) { return goz3_ref(c, Z3_mk_sign_ext(c, i, a)); }
static Z3_ast goz3_mk_const_array(Z3_context c, Z3_sort d, Z3_ast v) { return goz3_ref(c, Z3_mk_const_array(c, d, v)); }
static Z3_ast goz3_app_arg(Z3_context c, Z3_ast a, unsigned i) { return goz3_ref(c, Z3_get_app_arg(c, Z3_to_app(c, a), i)); }

static Z3_ast goz3_sort_ast(Z3_context c, Z3_sort s) { Z3_ast a = Z3_sort_to_ast(c, s); if (a) Z3_inc_ref(c, a); return a; }
static Z3_ast goz3_decl_ast(Z3_context c, Z3_func_decl d) { Z3_ast a = Z3_func_decl_to_ast(c, d); if (a) Z3_inc_ref(c, a); return a; }
static Z3_sort goz3_get_sort(Z3_context c, Z3_ast a) { return Z3_get_sort(c, a); }
static Z3_func_decl goz3_app_decl(Z3_context c, Z3_ast a) { return Z3_get_app_decl(c, Z3_to_app(c, a)); }
static int goz3_app_decl_kind(Z3_context c, Z3_ast a) {
	Z3_ast_kind k = Z3_get_ast_kind(c, a);
	if (k != Z3_APP_AST && k != Z3_NUMERAL_AST) return -1;
	return (int)Z3_get_decl_kind(c, Z3_get_app_decl(c, Z3_to_app(c, a)));
}
static unsigned goz3_app_num_args(Z3_context c, Z3_ast a) { return Z3_get_app_num_args(c, Z3_to_app(c, a)); }

static int goz3_numeral_int64(Z3_context c, Z3_ast a, int64_t *out) {
	if (!Z3_is_numeral_ast(c, a)) return 0;
	return Z3_get_numeral_int64(c, a, out) ? 1 : 0;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// SortKind classifies sorts.
type SortKind int

// Sort kinds used by this binding. Other Z3 kinds map to SortOther.
const (
	SortOther SortKind = iota
	SortUninterpreted
	SortBool
	SortInt
	SortBV
	SortArray
)

// Sort is a Z3 sort (type).
type Sort struct {
	c   *Context
	raw C.Z3_sort
}

// Context returns the context that owns the sort.
func (s *Sort) Context() *Context { return s.c }

func (c *Context) wrapSort(raw C.Z3_sort, op string) *Sort {
	if raw == nil {
		c.failed(op)
		return nil
	}
	a := C.goz3_sort_ast(c.raw, raw)
	s := &Sort{c: c, raw: raw}
	track(c, s, refAST, unsafe.Pointer(a))
	return s
}

// BoolSort returns the Boolean sort.
func (c *Context) BoolSort() *Sort { return c.boolSort }

// IntSort returns the sort of mathematical integers.
func (c *Context) IntSort() *Sort { return c.intSort }

// BVSort returns the sort of bit-vectors of the given width.
func (c *Context) BVSort(bits uint) *Sort {
	if !c.usable() {
		return nil
	}
	if bits == 0 {
		c.fail(&Error{Op: "BVSort", Code: -1, Msg: "zero width"})
		return nil
	}
	return c.wrapSort(C.Z3_mk_bv_sort(c.raw, C.unsigned(bits)), "BVSort")
}

// UninterpretedSort returns the uninterpreted sort with the given name.
// Sorts with equal names are the same sort.
func (c *Context) UninterpretedSort(name string) *Sort {
	if !c.usable() {
		return nil
	}
	return c.wrapSort(C.Z3_mk_uninterpreted_sort(c.raw, c.mkSymbol(name)), "UninterpretedSort")
}

// ArraySort returns the sort of arrays from dom to rng.
func (c *Context) ArraySort(dom, rng *Sort) *Sort {
	if !c.usable() || !c.sortsOK("ArraySort", dom, rng) {
		return nil
	}
	return c.wrapSort(C.Z3_mk_array_sort(c.raw, dom.raw, rng.raw), "ArraySort")
}

// Kind returns the sort's kind.
func (s *Sort) Kind() SortKind {
	if s == nil || s.c.closed {
		return SortOther
	}
	switch C.Z3_get_sort_kind(s.c.raw, s.raw) {
	case C.Z3_UNINTERPRETED_SORT:
		return SortUninterpreted
	case C.Z3_BOOL_SORT:
		return SortBool
	case C.Z3_INT_SORT:
		return SortInt
	case C.Z3_BV_SORT:
		return SortBV
	case C.Z3_ARRAY_SORT:
		return SortArray
	}
	return SortOther
}

// BVSize returns the width of a bit-vector sort, or 0 for other sorts.
func (s *Sort) BVSize() uint {
	if s.Kind() != SortBV {
		return 0
	}
	return uint(C.Z3_get_bv_sort_size(s.c.raw, s.raw))
}

// Same reports whether s and t are the same sort.
func (s *Sort) Same(t *Sort) bool {
	return s != nil && t != nil && s.c == t.c &&
		bool(C.Z3_is_eq_sort(s.c.raw, s.raw, t.raw))
}

func (s *Sort) String() string {
	if s == nil {
		return "<nil sort>"
	}
	if s.c.closed {
		return "<closed>"
	}
	return goString(C.Z3_sort_to_string(s.c.raw, s.raw))
}

// FuncDecl is a function symbol: an uninterpreted function created with
// Context.FuncDecl, or the declaration of an application returned by
// AST.Decl.
type FuncDecl struct {
	c   *Context
	raw C.Z3_func_decl
}

// DeclKind classifies function declarations. Only the kinds this module
// inspects are named; the rest map to OpOther.
type DeclKind int

// Declaration kinds.
const (
	OpOther DeclKind = iota
	OpUninterpreted
	OpTrue
	OpFalse
	OpEq
	OpDistinct
	OpITE
	OpAnd
	OpOr
	OpNot
	OpImplies
)

func (c *Context) wrapDecl(raw C.Z3_func_decl, op string) *FuncDecl {
	if raw == nil {
		c.failed(op)
		return nil
	}
	a := C.goz3_decl_ast(c.raw, raw)
	d := &FuncDecl{c: c, raw: raw}
	track(c, d, refAST, unsafe.Pointer(a))
	return d
}

// FuncDecl declares an uninterpreted function name: dom[0] x ... -> rng.
// Declarations with equal names and signatures are the same function.
func (c *Context) FuncDecl(name string, dom []*Sort, rng *Sort) *FuncDecl {
	if !c.usable() || !c.sortsOK("FuncDecl", append([]*Sort{rng}, dom...)...) {
		return nil
	}
	raws := make([]C.Z3_sort, len(dom))
	for i, s := range dom {
		raws[i] = s.raw
	}
	var p *C.Z3_sort
	if len(raws) > 0 {
		p = &raws[0]
	}
	return c.wrapDecl(C.Z3_mk_func_decl(c.raw, c.mkSymbol(name), C.unsigned(len(dom)), p, rng.raw), "FuncDecl")
}

// Name returns the declaration's name.
func (d *FuncDecl) Name() string {
	if d == nil || d.c.closed {
		return ""
	}
	s := C.Z3_get_decl_name(d.c.raw, d.raw)
	return goString(C.Z3_get_symbol_string(d.c.raw, s))
}

// Arity returns the number of arguments the function takes.
func (d *FuncDecl) Arity() int {
	if d == nil || d.c.closed {
		return 0
	}
	return int(C.Z3_get_arity(d.c.raw, d.raw))
}

// Kind returns the declaration's kind.
func (d *FuncDecl) Kind() DeclKind {
	if d == nil || d.c.closed {
		return OpOther
	}
	return declKind(C.Z3_get_decl_kind(d.c.raw, d.raw))
}

// DeclKind returns the kind of an application's declaration (OpOther for
// terms that are not applications) without wrapping the declaration.
func (a *AST) DeclKind() DeclKind {
	if a == nil || a.c.closed {
		return OpOther
	}
	k := C.goz3_app_decl_kind(a.c.raw, a.raw)
	if k < 0 {
		return OpOther
	}
	return declKind(C.Z3_decl_kind(k))
}

func declKind(k C.Z3_decl_kind) DeclKind {
	switch k {
	case C.Z3_OP_UNINTERPRETED:
		return OpUninterpreted
	case C.Z3_OP_TRUE:
		return OpTrue
	case C.Z3_OP_FALSE:
		return OpFalse
	case C.Z3_OP_EQ:
		return OpEq
	case C.Z3_OP_DISTINCT:
		return OpDistinct
	case C.Z3_OP_ITE:
		return OpITE
	case C.Z3_OP_AND:
		return OpAnd
	case C.Z3_OP_OR:
		return OpOr
	case C.Z3_OP_NOT:
		return OpNot
	case C.Z3_OP_IMPLIES:
		return OpImplies
	}
	return OpOther
}

// Apply applies the function to args. Sort errors are recorded on the
// context (see package documentation).
func (d *FuncDecl) Apply(args ...*AST) *AST {
	if d == nil {
		return nil
	}
	c := d.c
	raws, ok := c.raws("Apply", args)
	if !ok {
		return nil
	}
	var p *C.Z3_ast
	if len(raws) > 0 {
		p = &raws[0]
	}
	return c.wrapRef(C.goz3_mk_app(c.raw, d.raw, C.unsigned(len(raws)), p), "Apply "+d.Name())
}

// AST is a Z3 term. Terms are hash-consed: two structurally equal terms of
// one context are the same object, so Same is a constant-time structural
// equality test.
type AST struct {
	c   *Context
	raw C.Z3_ast
	// lit caches what kind of literal the term is: 0 not yet known,
	// litNone, litTrue, litFalse, or litInt (then val holds the value).
	lit int8
	val int64
}

const (
	litNone int8 = iota + 1
	litTrue
	litFalse
	litInt
)

// wrapRef wraps a term whose reference the C helper already took.
func (c *Context) wrapRef(raw C.Z3_ast, op string) *AST {
	if raw == nil {
		c.failed(op)
		return nil
	}
	a := &AST{c: c, raw: raw}
	track(c, a, refAST, unsafe.Pointer(raw))
	return a
}

// wrap takes a reference to raw and wraps it.
func (c *Context) wrap(raw C.Z3_ast, op string) *AST {
	if raw == nil {
		c.failed(op)
		return nil
	}
	C.Z3_inc_ref(c.raw, raw)
	return c.wrapRef(raw, op)
}

// Context returns the context that owns the term.
func (a *AST) Context() *Context { return a.c }

// raws converts operands, refusing nil operands and operands of other
// contexts.
func (c *Context) raws(op string, args []*AST) ([]C.Z3_ast, bool) {
	if !c.usable() {
		return nil, false
	}
	out := make([]C.Z3_ast, len(args))
	for i, a := range args {
		if a == nil {
			if c.err == nil {
				c.err = fmt.Errorf("z3: %s: operand %d: %w", op, i, ErrNil)
			}
			return nil, false
		}
		if a.c != c {
			c.fail(&Error{Op: op, Code: -1, Msg: "operand from another context"})
			return nil, false
		}
		out[i] = a.raw
	}
	return out, true
}

func (c *Context) sortsOK(op string, sorts ...*Sort) bool {
	for _, s := range sorts {
		if s == nil {
			c.fail(fmt.Errorf("z3: %s: %w", op, ErrNil))
			return false
		}
		if s.c != c {
			c.fail(&Error{Op: op, Code: -1, Msg: "sort from another context"})
			return false
		}
	}
	return true
}

// Const returns the constant name of sort s. Constants with equal names
// and sorts are the same term.
func (c *Context) Const(name string, s *Sort) *AST {
	if !c.usable() || !c.sortsOK("Const", s) {
		return nil
	}
	return c.wrapRef(C.goz3_mk_const(c.raw, c.mkSymbol(name), s.raw), "Const")
}

// True returns the Boolean literal true.
func (c *Context) True() *AST { return c.trueAST }

// False returns the Boolean literal false.
func (c *Context) False() *AST { return c.falseAST }

// Bool returns the Boolean literal b.
func (c *Context) Bool(b bool) *AST {
	if b {
		return c.trueAST
	}
	return c.falseAST
}

// Int returns the integer literal v.
func (c *Context) Int(v int64) *AST {
	if !c.usable() {
		return nil
	}
	a := c.wrapRef(C.goz3_mk_int64(c.raw, C.int64_t(v), c.intSort.raw), "Int")
	if a != nil {
		a.lit, a.val = litInt, v
	}
	return a
}

// BV returns the bit-vector literal v (taken modulo 2^bits) of width bits.
func (c *Context) BV(v uint64, bits uint) *AST {
	s := c.BVSort(bits)
	if s == nil {
		return nil
	}
	return c.wrapRef(C.goz3_mk_uint64(c.raw, C.uint64_t(v), s.raw), "BV")
}

// nary builds an n-ary term; zero operands give empty (true for And,
// false for Or, 0 for Add).
func (c *Context) nary(op string, f func(C.Z3_context, C.unsigned, *C.Z3_ast) C.Z3_ast, args []*AST, empty func() *AST) *AST {
	if len(args) == 0 {
		if empty == nil {
			c.fail(&Error{Op: op, Code: -1, Msg: "no operands"})
			return nil
		}
		return empty()
	}
	raws, ok := c.raws(op, args)
	if !ok {
		return nil
	}
	return c.wrapRef(f(c.raw, C.unsigned(len(raws)), &raws[0]), op)
}

// And returns the conjunction of args (true when empty).
func (c *Context) And(args ...*AST) *AST {
	return c.nary("And", func(x C.Z3_context, n C.unsigned, p *C.Z3_ast) C.Z3_ast { return C.goz3_mk_and(x, n, p) }, args, c.True)
}

// Or returns the disjunction of args (false when empty).
func (c *Context) Or(args ...*AST) *AST {
	return c.nary("Or", func(x C.Z3_context, n C.unsigned, p *C.Z3_ast) C.Z3_ast { return C.goz3_mk_or(x, n, p) }, args, c.False)
}

// Add returns the sum of args (0 when empty).
func (c *Context) Add(args ...*AST) *AST {
	return c.nary("Add", func(x C.Z3_context, n C.unsigned, p *C.Z3_ast) C.Z3_ast { return C.goz3_mk_add(x, n, p) }, args, func() *AST { return c.Int(0) })
}

// Distinct says that all args are pairwise different (true for fewer
// than two operands).
func (c *Context) Distinct(args ...*AST) *AST {
	if len(args) < 2 {
		if _, ok := c.raws("Distinct", args); !ok {
			return nil
		}
		return c.True()
	}
	return c.nary("Distinct", func(x C.Z3_context, n C.unsigned, p *C.Z3_ast) C.Z3_ast { return C.goz3_mk_distinct(x, n, p) }, args, nil)
}

// un, bin and tri apply a wrapped Z3 constructor to the receiver and
// operands, propagating nil and recording errors.
func (a *AST) un(op string, f func(C.Z3_context, C.Z3_ast) C.Z3_ast) *AST {
	if a == nil {
		return nil
	}
	c := a.c
	if _, ok := c.raws(op, []*AST{a}); !ok {
		return nil
	}
	return c.wrapRef(f(c.raw, a.raw), op)
}

func (a *AST) bin(op string, b *AST, f func(C.Z3_context, C.Z3_ast, C.Z3_ast) C.Z3_ast) *AST {
	if a == nil {
		return nil
	}
	c := a.c
	if _, ok := c.raws(op, []*AST{a, b}); !ok {
		return nil
	}
	return c.wrapRef(f(c.raw, a.raw, b.raw), op)
}

func (a *AST) tri(op string, b, d *AST, f func(C.Z3_context, C.Z3_ast, C.Z3_ast, C.Z3_ast) C.Z3_ast) *AST {
	if a == nil {
		return nil
	}
	c := a.c
	if _, ok := c.raws(op, []*AST{a, b, d}); !ok {
		return nil
	}
	return c.wrapRef(f(c.raw, a.raw, b.raw, d.raw), op)
}

// Boolean operators.

// Not returns ¬a.
func (a *AST) Not() *AST {
	return a.un("Not", func(c C.Z3_context, x C.Z3_ast) C.Z3_ast { return C.goz3_mk_not(c, x) })
}

// And returns a ∧ b.
func (a *AST) And(b *AST) *AST {
	if a == nil {
		return nil
	}
	return a.c.And(a, b)
}

// Or returns a ∨ b.
func (a *AST) Or(b *AST) *AST {
	if a == nil {
		return nil
	}
	return a.c.Or(a, b)
}

// Implies returns a ⇒ b.
func (a *AST) Implies(b *AST) *AST {
	return a.bin("Implies", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_implies(c, x, y) })
}

// Iff returns a ⇔ b.
func (a *AST) Iff(b *AST) *AST {
	return a.bin("Iff", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_iff(c, x, y) })
}

// Xor returns a ⊕ b.
func (a *AST) Xor(b *AST) *AST {
	return a.bin("Xor", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_xor(c, x, y) })
}

// Ite returns "if a then t else e"; a must be Boolean, t and e of one sort.
func (a *AST) Ite(t, e *AST) *AST {
	return a.tri("Ite", t, e, func(c C.Z3_context, x, y, z C.Z3_ast) C.Z3_ast { return C.goz3_mk_ite(c, x, y, z) })
}

// Eq returns a = b.
func (a *AST) Eq(b *AST) *AST {
	return a.bin("Eq", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_eq(c, x, y) })
}

// Integer arithmetic.

// Add returns a + b.
func (a *AST) Add(b *AST) *AST {
	if a == nil {
		return nil
	}
	return a.c.Add(a, b)
}

// Sub returns a - b.
func (a *AST) Sub(b *AST) *AST {
	if a == nil {
		return nil
	}
	return a.c.nary("Sub", func(x C.Z3_context, n C.unsigned, p *C.Z3_ast) C.Z3_ast { return C.goz3_mk_sub(x, n, p) }, []*AST{a, b}, nil)
}

// Mul returns a * b.
func (a *AST) Mul(b *AST) *AST {
	if a == nil {
		return nil
	}
	return a.c.nary("Mul", func(x C.Z3_context, n C.unsigned, p *C.Z3_ast) C.Z3_ast { return C.goz3_mk_mul(x, n, p) }, []*AST{a, b}, nil)
}

// Neg returns -a.
func (a *AST) Neg() *AST {
	return a.un("Neg", func(c C.Z3_context, x C.Z3_ast) C.Z3_ast { return C.goz3_mk_unary_minus(c, x) })
}

// Div returns integer division a div b.
func (a *AST) Div(b *AST) *AST {
	return a.bin("Div", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_div(c, x, y) })
}

// Mod returns a mod b.
func (a *AST) Mod(b *AST) *AST {
	return a.bin("Mod", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_mod(c, x, y) })
}

// Rem returns a rem b.
func (a *AST) Rem(b *AST) *AST {
	return a.bin("Rem", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_rem(c, x, y) })
}

// Lt returns a < b.
func (a *AST) Lt(b *AST) *AST {
	return a.bin("Lt", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_lt(c, x, y) })
}

// Le returns a ≤ b.
func (a *AST) Le(b *AST) *AST {
	return a.bin("Le", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_le(c, x, y) })
}

// Gt returns a > b.
func (a *AST) Gt(b *AST) *AST {
	return a.bin("Gt", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_gt(c, x, y) })
}

// Ge returns a ≥ b.
func (a *AST) Ge(b *AST) *AST {
	return a.bin("Ge", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_ge(c, x, y) })
}

// Bit-vector operators.

// BVAdd returns a + b modulo 2^n.
func (a *AST) BVAdd(b *AST) *AST {
	return a.bin("BVAdd", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvadd(c, x, y) })
}

// BVSub returns a - b modulo 2^n.
func (a *AST) BVSub(b *AST) *AST {
	return a.bin("BVSub", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvsub(c, x, y) })
}

// BVMul returns a * b modulo 2^n.
func (a *AST) BVMul(b *AST) *AST {
	return a.bin("BVMul", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvmul(c, x, y) })
}

// BVUDiv returns unsigned a / b.
func (a *AST) BVUDiv(b *AST) *AST {
	return a.bin("BVUDiv", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvudiv(c, x, y) })
}

// BVURem returns unsigned a % b.
func (a *AST) BVURem(b *AST) *AST {
	return a.bin("BVURem", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvurem(c, x, y) })
}

// BVSDiv returns signed a / b.
func (a *AST) BVSDiv(b *AST) *AST {
	return a.bin("BVSDiv", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvsdiv(c, x, y) })
}

// BVSRem returns signed a % b (sign follows a).
func (a *AST) BVSRem(b *AST) *AST {
	return a.bin("BVSRem", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvsrem(c, x, y) })
}

// BVAnd returns bitwise a & b.
func (a *AST) BVAnd(b *AST) *AST {
	return a.bin("BVAnd", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvand(c, x, y) })
}

// BVOr returns bitwise a | b.
func (a *AST) BVOr(b *AST) *AST {
	return a.bin("BVOr", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvor(c, x, y) })
}

// BVXor returns bitwise a ^ b.
func (a *AST) BVXor(b *AST) *AST {
	return a.bin("BVXor", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvxor(c, x, y) })
}

// BVNot returns bitwise ^a.
func (a *AST) BVNot() *AST {
	return a.un("BVNot", func(c C.Z3_context, x C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvnot(c, x) })
}

// BVNeg returns two's complement -a.
func (a *AST) BVNeg() *AST {
	return a.un("BVNeg", func(c C.Z3_context, x C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvneg(c, x) })
}

// BVShl returns a << b.
func (a *AST) BVShl(b *AST) *AST {
	return a.bin("BVShl", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvshl(c, x, y) })
}

// BVLShr returns logical a >> b.
func (a *AST) BVLShr(b *AST) *AST {
	return a.bin("BVLShr", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvlshr(c, x, y) })
}

// BVAShr returns arithmetic a >> b.
func (a *AST) BVAShr(b *AST) *AST {
	return a.bin("BVAShr", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvashr(c, x, y) })
}

// BVULT returns unsigned a < b.
func (a *AST) BVULT(b *AST) *AST {
	return a.bin("BVULT", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvult(c, x, y) })
}

// BVULE returns unsigned a ≤ b.
func (a *AST) BVULE(b *AST) *AST {
	return a.bin("BVULE", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvule(c, x, y) })
}

// BVUGT returns unsigned a > b.
func (a *AST) BVUGT(b *AST) *AST {
	return a.bin("BVUGT", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvugt(c, x, y) })
}

// BVUGE returns unsigned a ≥ b.
func (a *AST) BVUGE(b *AST) *AST {
	return a.bin("BVUGE", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvuge(c, x, y) })
}

// BVSLT returns signed a < b.
func (a *AST) BVSLT(b *AST) *AST {
	return a.bin("BVSLT", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvslt(c, x, y) })
}

// BVSLE returns signed a ≤ b.
func (a *AST) BVSLE(b *AST) *AST {
	return a.bin("BVSLE", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvsle(c, x, y) })
}

// BVSGT returns signed a > b.
func (a *AST) BVSGT(b *AST) *AST {
	return a.bin("BVSGT", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvsgt(c, x, y) })
}

// BVSGE returns signed a ≥ b.
func (a *AST) BVSGE(b *AST) *AST {
	return a.bin("BVSGE", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_bvsge(c, x, y) })
}

// Concat returns the bit-vector a followed by b (a in the high bits).
func (a *AST) Concat(b *AST) *AST {
	return a.bin("Concat", b, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_concat(c, x, y) })
}

// Extract returns bits hi..lo of a.
func (a *AST) Extract(hi, lo uint) *AST {
	return a.un("Extract", func(c C.Z3_context, x C.Z3_ast) C.Z3_ast {
		return C.goz3_mk_extract(c, C.unsigned(hi), C.unsigned(lo), x)
	})
}

// ZeroExt returns a widened by n zero bits.
func (a *AST) ZeroExt(n uint) *AST {
	return a.un("ZeroExt", func(c C.Z3_context, x C.Z3_ast) C.Z3_ast { return C.goz3_mk_zero_ext(c, C.unsigned(n), x) })
}

// SignExt returns a widened by n copies of its sign bit.
func (a *AST) SignExt(n uint) *AST {
	return a.un("SignExt", func(c C.Z3_context, x C.Z3_ast) C.Z3_ast { return C.goz3_mk_sign_ext(c, C.unsigned(n), x) })
}

// Arrays.

// Select returns a[i].
func (a *AST) Select(i *AST) *AST {
	return a.bin("Select", i, func(c C.Z3_context, x, y C.Z3_ast) C.Z3_ast { return C.goz3_mk_select(c, x, y) })
}

// Store returns a with a[i] replaced by v.
func (a *AST) Store(i, v *AST) *AST {
	return a.tri("Store", i, v, func(c C.Z3_context, x, y, z C.Z3_ast) C.Z3_ast { return C.goz3_mk_store(c, x, y, z) })
}

// ConstArray returns the array over dom that maps every index to v.
func (c *Context) ConstArray(dom *Sort, v *AST) *AST {
	if !c.sortsOK("ConstArray", dom) {
		return nil
	}
	if _, ok := c.raws("ConstArray", []*AST{v}); !ok {
		return nil
	}
	return c.wrapRef(C.goz3_mk_const_array(c.raw, dom.raw, v.raw), "ConstArray")
}

// Simplify returns Z3's simplification of a.
func (a *AST) Simplify() *AST {
	return a.un("Simplify", func(c C.Z3_context, x C.Z3_ast) C.Z3_ast { return C.goz3_simplify(c, x) })
}

// Inspection.

// Same reports whether a and b are the same term. Because Z3 hash-conses
// terms, this is structural equality.
func (a *AST) Same(b *AST) bool {
	return a != nil && b != nil && a.raw == b.raw
}

// ID returns Z3's identifier for the term, unique among the live terms of
// its context.
func (a *AST) ID() uint32 {
	if a == nil || a.c.closed {
		return 0
	}
	return uint32(C.Z3_get_ast_id(a.c.raw, a.raw))
}

// Sort returns the term's sort.
func (a *AST) Sort() *Sort {
	if a == nil || !a.c.usable() {
		return nil
	}
	return a.c.wrapSort(C.goz3_get_sort(a.c.raw, a.raw), "Sort")
}

func (a *AST) classify() {
	if a.lit != 0 || a.c.closed {
		return
	}
	a.lit = litNone
	switch C.Z3_get_bool_value(a.c.raw, a.raw) {
	case C.Z3_L_TRUE:
		a.lit = litTrue
		return
	case C.Z3_L_FALSE:
		a.lit = litFalse
		return
	}
	var v C.int64_t
	if C.goz3_numeral_int64(a.c.raw, a.raw, &v) != 0 {
		a.lit, a.val = litInt, int64(v)
	}
}

// IsTrue reports whether a is the literal true.
func (a *AST) IsTrue() bool {
	if a == nil {
		return false
	}
	a.classify()
	return a.lit == litTrue
}

// IsFalse reports whether a is the literal false.
func (a *AST) IsFalse() bool {
	if a == nil {
		return false
	}
	a.classify()
	return a.lit == litFalse
}

// Int64 returns the value of an integer or bit-vector literal that fits in
// an int64; ok is false for any other term.
func (a *AST) Int64() (v int64, ok bool) {
	if a == nil {
		return 0, false
	}
	a.classify()
	return a.val, a.lit == litInt
}

// IsApp reports whether a is an application (constants and literals
// included), as opposed to a bound variable or quantifier.
func (a *AST) IsApp() bool {
	if a == nil || a.c.closed {
		return false
	}
	k := C.Z3_get_ast_kind(a.c.raw, a.raw)
	return k == C.Z3_APP_AST || k == C.Z3_NUMERAL_AST
}

// Decl returns the declaration of an application, or nil.
func (a *AST) Decl() *FuncDecl {
	if !a.IsApp() {
		return nil
	}
	return a.c.wrapDecl(C.goz3_app_decl(a.c.raw, a.raw), "Decl")
}

// NumArgs returns the number of arguments of an application.
func (a *AST) NumArgs() int {
	if !a.IsApp() {
		return 0
	}
	return int(C.goz3_app_num_args(a.c.raw, a.raw))
}

// Arg returns argument i of an application, or nil if out of range.
func (a *AST) Arg(i int) *AST {
	if i < 0 || i >= a.NumArgs() {
		return nil
	}
	return a.c.wrapRef(C.goz3_app_arg(a.c.raw, a.raw, C.unsigned(i)), "Arg")
}

// String renders the term in SMT-LIB syntax.
func (a *AST) String() string {
	if a == nil {
		return "<nil>"
	}
	if a.c.closed {
		return "<closed>"
	}
	return goString(C.Z3_ast_to_string(a.c.raw, a.raw))
}
