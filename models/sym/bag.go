package sym

import "errors"

var errUninitList = errors.New("sym: use of a List or Bag that was not created with Fresh")

// Bag is a symbolic multiset. Its initial contents are unknown: a count per
// item, observed lazily, and a total size at least the sum of the observed
// counts (the rest are items the path never looked at). Bag has value
// semantics.
type Bag[V Key] struct {
	p      *Path
	counts Map[V, Int]
	size   Int
}

func (b *Bag[V]) symFresh(n namer) {
	p := n.p
	b.p = p
	b.counts.symFresh(n.child("count"))
	b.size.symFresh(n.child("size"))
	p.AssumeInvariant(b.size.GeN(0))
	b.counts.ForAll(p, func(_ V, c Int) Bool { return c.GeN(0) })
	init := *b
	p.AtEnd(func() { init.aggregate() })
}

// aggregate assumes that the initial size covers the counts of all
// distinct observed items.
func (b Bag[V]) aggregate() {
	p := b.p
	obs := b.counts.Observed()
	sum := p.Int(0)
	for j, o := range obs {
		distinct := make([]Bool, 0, j)
		for _, prev := range obs[:j] {
			distinct = append(distinct, eqAST(prev.Key.AST(), o.Key.AST()).Not())
		}
		sum = sum.Add(Ite(p, p.And(distinct...), o.Val, p.Int(0)))
	}
	p.AssumeInvariant(sum.Le(b.size))
}

func (b Bag[V]) check() *Path {
	if b.p == nil {
		panic(abort{err: errUninitList})
	}
	return b.p
}

func (b Bag[V]) symEqual(_ *Path, o any) Bool {
	c := o.(Bag[V])
	return b.size.Eq(c.size).And(b.counts.c.equal(c.counts.c))
}

func (b Bag[V]) symIte(p *Path, _ Bool, _ any) any {
	p.Failf("sym: bags cannot be merged")
	return nil
}

// Len returns the number of items.
func (b Bag[V]) Len() Int { return b.size }

// Count returns how many times v is in the bag.
func (b Bag[V]) Count(v V) Int { return b.counts.Get(v) }

// Add returns the bag with v added.
func (b Bag[V]) Add(v V) Bag[V] {
	b.check()
	b.counts.Set(v, b.counts.Get(v).AddN(1))
	b.size = b.size.AddN(1)
	return b
}

// Take removes some item and returns it with the new bag. Which item is an
// internal choice (see Internal). The bag must not be empty; check Len
// first, or the path becomes infeasible.
func (b Bag[V]) Take() (V, Bag[V]) {
	p := b.check()
	x := Internal[V](p, "bag.take")
	c := b.counts.Get(x)
	p.AssumeInvariant(c.GtN(0))
	b.counts.Set(x, c.SubN(1))
	b.size = b.size.SubN(1)
	return x, b
}

// Observed returns the observed initial counts, in order of observation.
func (b Bag[V]) Observed() []Entry[V, Int] { return b.counts.Observed() }

// ObservedAny is Observed with types erased.
func (b Bag[V]) ObservedAny() []EntryAny { return b.counts.ObservedAny() }
