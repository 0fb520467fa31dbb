package sym

import (
	"github.com/crewvm/crewvm/models/z3"
)

// Leaf is implemented by the scalar symbolic types Bool, Int and U[T]: the
// types that can be map keys, list elements and bag items, and that Eval
// can turn into concrete values.
type Leaf interface {
	// AST returns the underlying Z3 term (nil for a zero value).
	AST() *z3.AST
	sortOf(p *Path) *z3.Sort
	withAST(a *z3.AST) any
}

// Key is the constraint on map keys and bag items.
type Key interface {
	Leaf
	comparable
}

// wrapLeaf builds a leaf of type K around a term.
func wrapLeaf[K Leaf](a *z3.AST) K {
	var k K
	return k.withAST(a).(K)
}

// Bool is a symbolic Boolean.
type Bool struct{ a *z3.AST }

// AST returns the underlying Z3 term.
func (b Bool) AST() *z3.AST                      { return b.a }
func (Bool) sortOf(p *Path) *z3.Sort             { return p.z.BoolSort() }
func (Bool) withAST(a *z3.AST) any               { return Bool{a} }
func (b Bool) String() string                    { return b.a.String() }
func (b Bool) symEqual(_ *Path, o any) Bool      { return b.Eq(o.(Bool)) }
func (b Bool) symIte(_ *Path, c Bool, o any) any { return Bool{ite(c, b.a, o.(Bool).a)} }

// BoolOf wraps a Z3 Boolean term.
func BoolOf(a *z3.AST) Bool { return Bool{a} }

// IsTrue reports whether b is the literal true.
func (b Bool) IsTrue() bool { return b.a.IsTrue() }

// IsFalse reports whether b is the literal false.
func (b Bool) IsFalse() bool { return b.a.IsFalse() }

// Not returns ¬b.
func (b Bool) Not() Bool {
	switch {
	case b.a == nil:
		return b
	case b.IsTrue():
		return Bool{b.a.Context().False()}
	case b.IsFalse():
		return Bool{b.a.Context().True()}
	}
	// ¬¬x = x keeps printed conditions readable.
	if b.a.DeclKind() == z3.OpNot {
		return Bool{b.a.Arg(0)}
	}
	return Bool{b.a.Not()}
}

// And returns the conjunction of b and os.
func (b Bool) And(os ...Bool) Bool { return and(append([]Bool{b}, os...)) }

// Or returns the disjunction of b and os.
func (b Bool) Or(os ...Bool) Bool { return or(append([]Bool{b}, os...)) }

// Implies returns b ⇒ o.
func (b Bool) Implies(o Bool) Bool { return b.Not().Or(o) }

// Eq returns b ⇔ o.
func (b Bool) Eq(o Bool) Bool {
	if b.a == nil || o.a == nil {
		return Bool{}
	}
	switch {
	case b.a.Same(o.a):
		return Bool{b.a.Context().True()}
	case b.IsTrue():
		return o
	case o.IsTrue():
		return b
	case b.IsFalse():
		return o.Not()
	case o.IsFalse():
		return b.Not()
	}
	return Bool{b.a.Iff(o.a)}
}

// and folds literals: it drops true operands and duplicates, and returns
// false as soon as one operand is false.
func and(bs []Bool) Bool { return fold(bs, true) }

// or is and's dual: false operands drop out, a true one decides.
func or(bs []Bool) Bool { return fold(bs, false) }

// fold builds the conjunction (conj) or disjunction of bs: operands equal
// to the identity (true for and) are dropped, as are duplicates, and an
// operand equal to the absorbing value decides the result at once.
func fold(bs []Bool, conj bool) Bool {
	var keep []*z3.AST
	var z *z3.Context
	for _, b := range bs {
		if b.a == nil {
			return Bool{}
		}
		z = b.a.Context()
		identity, absorbing := b.IsTrue(), b.IsFalse()
		if !conj {
			identity, absorbing = absorbing, identity
		}
		if identity {
			continue
		}
		if absorbing {
			return b
		}
		dup := false
		for _, k := range keep {
			if k.Same(b.a) {
				dup = true
				break
			}
		}
		if !dup {
			keep = append(keep, b.a)
		}
	}
	switch {
	case len(keep) == 0 && z == nil:
		return Bool{}
	case len(keep) == 0 && conj:
		return Bool{z.True()}
	case len(keep) == 0:
		return Bool{z.False()}
	case len(keep) == 1:
		return Bool{keep[0]}
	case conj:
		return Bool{z.And(keep...)}
	}
	return Bool{z.Or(keep...)}
}

// ite builds if-then-else with literal folding.
func ite(c Bool, t, e *z3.AST) *z3.AST {
	switch {
	case c.a == nil || t == nil || e == nil:
		return nil
	case c.IsTrue():
		return t
	case c.IsFalse():
		return e
	case t.Same(e):
		return t
	}
	return c.a.Ite(t, e)
}

// eqAST builds t = u with folding of identical terms and distinct literals.
func eqAST(t, u *z3.AST) Bool {
	if t == nil || u == nil {
		return Bool{}
	}
	if t.Same(u) {
		return Bool{t.Context().True()}
	}
	if x, ok := t.Int64(); ok {
		if y, ok := u.Int64(); ok {
			return Bool{t.Context().Bool(x == y)}
		}
	}
	if (t.IsTrue() || t.IsFalse()) && (u.IsTrue() || u.IsFalse()) {
		return Bool{t.Context().Bool(t.IsTrue() == u.IsTrue())}
	}
	return Bool{t.Eq(u)}
}

// Int is a symbolic mathematical integer.
type Int struct{ a *z3.AST }

// AST returns the underlying Z3 term.
func (x Int) AST() *z3.AST                      { return x.a }
func (Int) sortOf(p *Path) *z3.Sort             { return p.z.IntSort() }
func (Int) withAST(a *z3.AST) any               { return Int{a} }
func (x Int) String() string                    { return x.a.String() }
func (x Int) symEqual(_ *Path, o any) Bool      { return x.Eq(o.(Int)) }
func (x Int) symIte(_ *Path, c Bool, o any) any { return Int{ite(c, x.a, o.(Int).a)} }

// IntOf wraps a Z3 integer term.
func IntOf(a *z3.AST) Int { return Int{a} }

// Literal returns the value of an integer literal; ok is false for other
// terms.
func (x Int) Literal() (int64, bool) { return x.a.Int64() }

// Const returns the literal n in x's context.
func (x Int) Const(n int64) Int {
	if x.a == nil {
		return x
	}
	return Int{x.a.Context().Int(n)}
}

// arith applies op, folding literals with fold.
func (x Int) arith(y Int, fold func(a, b int64) int64, op func(a, b *z3.AST) *z3.AST) Int {
	if x.a == nil || y.a == nil {
		return Int{}
	}
	if a, ok := x.a.Int64(); ok {
		if b, ok := y.a.Int64(); ok {
			return x.Const(fold(a, b))
		}
	}
	return Int{op(x.a, y.a)}
}

// Add returns x + y.
func (x Int) Add(y Int) Int {
	if v, ok := y.Literal(); ok && v == 0 {
		return x
	}
	return x.arith(y, func(a, b int64) int64 { return a + b }, (*z3.AST).Add)
}

// Sub returns x - y.
func (x Int) Sub(y Int) Int {
	if v, ok := y.Literal(); ok && v == 0 {
		return x
	}
	return x.arith(y, func(a, b int64) int64 { return a - b }, (*z3.AST).Sub)
}

// Mul returns x * y.
func (x Int) Mul(y Int) Int {
	return x.arith(y, func(a, b int64) int64 { return a * b }, (*z3.AST).Mul)
}

// AddN returns x + n.
func (x Int) AddN(n int64) Int { return x.Add(x.Const(n)) }

// SubN returns x - n.
func (x Int) SubN(n int64) Int { return x.Sub(x.Const(n)) }

// cmp builds a comparison, folding literals.
func (x Int) cmp(y Int, fold func(a, b int64) bool, op func(a, b *z3.AST) *z3.AST) Bool {
	if x.a == nil || y.a == nil {
		return Bool{}
	}
	if a, ok := x.a.Int64(); ok {
		if b, ok := y.a.Int64(); ok {
			return Bool{x.a.Context().Bool(fold(a, b))}
		}
	}
	return Bool{op(x.a, y.a)}
}

// Eq returns x = y.
func (x Int) Eq(y Int) Bool { return eqAST(x.a, y.a) }

// Ne returns x ≠ y.
func (x Int) Ne(y Int) Bool { return x.Eq(y).Not() }

// Lt returns x < y.
func (x Int) Lt(y Int) Bool {
	if x.a != nil && x.a.Same(y.a) {
		return Bool{x.a.Context().False()}
	}
	return x.cmp(y, func(a, b int64) bool { return a < b }, (*z3.AST).Lt)
}

// Le returns x ≤ y.
func (x Int) Le(y Int) Bool {
	if x.a != nil && x.a.Same(y.a) {
		return Bool{x.a.Context().True()}
	}
	return x.cmp(y, func(a, b int64) bool { return a <= b }, (*z3.AST).Le)
}

// Gt returns x > y.
func (x Int) Gt(y Int) Bool { return y.Lt(x) }

// Ge returns x ≥ y.
func (x Int) Ge(y Int) Bool { return y.Le(x) }

// EqN returns x = n.
func (x Int) EqN(n int64) Bool { return x.Eq(x.Const(n)) }

// NeN returns x ≠ n.
func (x Int) NeN(n int64) Bool { return x.Ne(x.Const(n)) }

// LtN returns x < n.
func (x Int) LtN(n int64) Bool { return x.Lt(x.Const(n)) }

// LeN returns x ≤ n.
func (x Int) LeN(n int64) Bool { return x.Le(x.Const(n)) }

// GtN returns x > n.
func (x Int) GtN(n int64) Bool { return x.Gt(x.Const(n)) }

// GeN returns x ≥ n.
func (x Int) GeN(n int64) Bool { return x.Ge(x.Const(n)) }

// Sorter names an uninterpreted sort; U[T] uses T's SortName. Implement it
// on an empty struct type, one per sort.
type Sorter interface{ SortName() string }

// U is a value of the uninterpreted sort named by T. Its only operation is
// equality, which is what identities (file names, inode numbers, pipe ids)
// need, and it lets test generation enumerate equality patterns instead of
// concrete numbers.
type U[T Sorter] struct{ a *z3.AST }

// AST returns the underlying Z3 term.
func (u U[T]) AST() *z3.AST { return u.a }
func (U[T]) sortOf(p *Path) *z3.Sort {
	var t T
	return p.usort(t.SortName())
}
func (U[T]) withAST(a *z3.AST) any               { return U[T]{a} }
func (u U[T]) String() string                    { return u.a.String() }
func (u U[T]) symEqual(_ *Path, o any) Bool      { return u.Eq(o.(U[T])) }
func (u U[T]) symIte(_ *Path, c Bool, o any) any { return U[T]{ite(c, u.a, o.(U[T]).a)} }

// Eq returns u = v.
func (u U[T]) Eq(v U[T]) Bool { return eqAST(u.a, v.a) }

// Ne returns u ≠ v.
func (u U[T]) Ne(v U[T]) Bool { return u.Eq(v).Not() }
