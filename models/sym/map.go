package sym

import (
	"fmt"
	"reflect"

	"github.com/crewvm/crewvm/models/z3"
)

// mbase is the initial contents of a container: an uninterpreted function
// from keys to values (and validity bits), read lazily. It is shared by all
// copies of the container within a path, so it also collects the keys the
// path observed, in order.
type mbase[V any] struct {
	p       *Path
	name    string
	dict    bool
	obs     []*mobs[V]
	byID    map[uint32]*mobs[V]
	foralls []func(k *z3.AST)
}

// mobs is one observed initial entry.
type mobs[V any] struct {
	key   *z3.AST
	valid Bool
	val   V
}

// mnode is one write on top of the initial contents. Nodes are immutable,
// so copies of a container share them.
type mnode[V any] struct {
	parent *mnode[V]
	key    *z3.AST
	valid  Bool
	val    V
}

// core implements Map and Dict: a persistent chain of writes over a lazily
// observed initial function.
type core[V any] struct {
	base *mbase[V]
	head *mnode[V]
}

func (c *core[V]) fresh(n namer, dict bool) {
	if len(n.idx) > 0 {
		n.p.Failf("sym: %s: maps cannot be nested in map values; use List or a struct", n.name)
	}
	c.base = &mbase[V]{p: n.p, name: n.name, dict: dict, byID: make(map[uint32]*mobs[V])}
	c.head = nil
}

func (c core[V]) path() *Path {
	if c.base == nil {
		panic(abort{err: fmt.Errorf("sym: use of a container that was not created with Fresh")})
	}
	return c.base.p
}

// observe returns the initial entry at k, creating and recording it on
// first use. Invariants and ForAll instantiations are assumed for it.
func (c core[V]) observe(k *z3.AST) *mobs[V] {
	b := c.base
	if o, ok := b.byID[k.ID()]; ok {
		return o
	}
	p := b.p
	o := &mobs[V]{key: k}
	// Register before assuming anything about the entry: instantiations
	// may read the container at k again.
	b.byID[k.ID()] = o
	b.obs = append(b.obs, o)
	n := namer{p: p, name: b.name, idx: []*z3.AST{k}}
	if b.dict {
		o.valid = Bool{n.child("valid").leaf(p.z.BoolSort())}
	}
	p.fresh(reflect.ValueOf(&o.val).Elem(), n)
	for i := 0; i < len(b.foralls); i++ {
		b.foralls[i](k)
	}
	return o
}

// read returns the validity and value at k.
func (c core[V]) read(k *z3.AST) (Bool, V) {
	p := c.path()
	if k == nil {
		p.Fail(fmt.Errorf("sym: %s: uninitialised key", c.base.name))
	}
	var chain []*mnode[V]
	var eqs []Bool
	var stop *mnode[V]
	for n := c.head; n != nil; n = n.parent {
		eq := eqAST(k, n.key)
		p.valid(eq)
		if eq.IsFalse() {
			continue
		}
		if eq.IsTrue() {
			stop = n
			break
		}
		chain = append(chain, n)
		eqs = append(eqs, eq)
	}
	var valid Bool
	var val V
	if stop != nil {
		valid, val = stop.valid, stop.val
	} else {
		o := c.observe(k)
		valid, val = o.valid, o.val
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if c.base.dict {
			valid = Bool{ite(eqs[i], chain[i].valid.a, valid.a)}
		}
		val = Ite(p, eqs[i], chain[i].val, val)
	}
	return valid, val
}

func (c *core[V]) write(k *z3.AST, valid Bool, v V) {
	p := c.path()
	if k == nil {
		p.Fail(fmt.Errorf("sym: %s: uninitialised key", c.base.name))
	}
	c.head = &mnode[V]{parent: c.head, key: k, valid: valid, val: v}
}

// keys returns the keys written since the initial state, deduplicated.
func (c core[V]) keys(into []*z3.AST) []*z3.AST {
	for n := c.head; n != nil; n = n.parent {
		dup := false
		for _, k := range into {
			if k.Same(n.key) {
				dup = true
				break
			}
		}
		if !dup {
			into = append(into, n.key)
		}
	}
	return into
}

// equal compares two containers with the same initial contents. They can
// only differ at keys written in either, so comparing there is exact and
// needs no quantifier.
func (c core[V]) equal(o core[V]) Bool {
	p := c.path()
	if c.base != o.base {
		p.Failf("sym: comparing containers %s and %s of different origins", c.base.name, o.base.name)
	}
	if c.head == o.head {
		return p.True()
	}
	var bs []Bool
	for _, k := range o.keys(c.keys(nil)) {
		va, a := c.read(k)
		vb, b := o.read(k)
		if c.base.dict {
			bs = append(bs, va.Eq(vb), va.Implies(Equal(p, a, b)))
		} else {
			bs = append(bs, Equal(p, a, b))
		}
	}
	return p.And(bs...)
}

// forAll assumes pred for every entry of the snapshot c at every key that
// is written in c or observed in the path, now or later.
func (c core[V]) forAll(pred func(k *z3.AST, valid Bool, v V) Bool) {
	p := c.path()
	snap := c
	inst := func(k *z3.AST) {
		valid, v := snap.read(k)
		cond := pred(k, valid, v)
		if snap.base.dict {
			cond = valid.Implies(cond)
		}
		p.AssumeInvariant(cond)
	}
	b := c.base
	n0 := len(b.obs)
	b.foralls = append(b.foralls, inst)
	for _, k := range snap.keys(nil) {
		inst(k)
	}
	for i := 0; i < n0; i++ {
		inst(b.obs[i].key)
	}
}

// Entry is an observed entry of an initial container.
type Entry[K Key, V any] struct {
	Key   K
	Valid Bool // always true for Map
	Val   V
}

func observed[K Key, V any](c core[V]) []Entry[K, V] {
	if c.base == nil {
		return nil
	}
	out := make([]Entry[K, V], 0, len(c.base.obs))
	for _, o := range c.base.obs {
		valid := o.valid
		if !c.base.dict {
			valid = c.base.p.True()
		}
		out = append(out, Entry[K, V]{Key: wrapLeaf[K](o.key), Valid: valid, Val: o.val})
	}
	return out
}

// Dict is a symbolic dictionary: a map with a validity bit per key. Its
// initial contents are unknown and observed lazily (see the package
// documentation). Dict has value semantics: copies are independent.
type Dict[K Key, V any] struct{ c core[V] }

func (d *Dict[K, V]) symFresh(n namer) { d.c.fresh(n, true) }
func (d Dict[K, V]) symEqual(_ *Path, o any) Bool {
	return d.c.equal(o.(Dict[K, V]).c)
}
func (d Dict[K, V]) symIte(p *Path, _ Bool, _ any) any {
	p.Failf("sym: dictionaries cannot be merged")
	return nil
}

// Contains reports whether k is in the dictionary.
func (d Dict[K, V]) Contains(k K) Bool {
	v, _ := d.c.read(k.AST())
	return v
}

// Get returns the value at k. It is unconstrained when k is absent; check
// Contains first.
func (d Dict[K, V]) Get(k K) V {
	_, v := d.c.read(k.AST())
	return v
}

// Lookup returns Contains(k) and Get(k) in one walk.
func (d Dict[K, V]) Lookup(k K) (Bool, V) { return d.c.read(k.AST()) }

// Set maps k to v.
func (d *Dict[K, V]) Set(k K, v V) { d.c.write(k.AST(), d.c.path().True(), v) }

// Delete removes k.
func (d *Dict[K, V]) Delete(k K) {
	_, v := d.c.read(k.AST())
	d.c.write(k.AST(), d.c.path().False(), v)
}

// ForAll assumes, as an invariant, that pred holds for every entry of the
// dictionary as it is now: at every key written so far and at every key of
// the initial dictionary observed by the path, including keys observed
// later. Under the lazy-world rule (tests contain only observed entries)
// this is the quantifier ∀k ∈ d: pred(k, d[k]).
func (d Dict[K, V]) ForAll(p *Path, pred func(k K, v V) Bool) {
	d.c.forAll(func(k *z3.AST, _ Bool, v V) Bool { return pred(wrapLeaf[K](k), v) })
}

// Observed returns the entries of the initial dictionary the path
// observed, in order of first observation. Copies share them.
func (d Dict[K, V]) Observed() []Entry[K, V] { return observed[K, V](d.c) }

// Map is a total symbolic map: every key has a value. Its initial contents
// are unknown and observed lazily. Map has value semantics.
type Map[K Key, V any] struct{ c core[V] }

func (m *Map[K, V]) symFresh(n namer) { m.c.fresh(n, false) }
func (m Map[K, V]) symEqual(_ *Path, o any) Bool {
	return m.c.equal(o.(Map[K, V]).c)
}
func (m Map[K, V]) symIte(p *Path, _ Bool, _ any) any {
	p.Failf("sym: maps cannot be merged")
	return nil
}

// Get returns the value at k.
func (m Map[K, V]) Get(k K) V {
	_, v := m.c.read(k.AST())
	return v
}

// Set maps k to v.
func (m *Map[K, V]) Set(k K, v V) { m.c.write(k.AST(), Bool{}, v) }

// ForAll is Dict.ForAll for total maps.
func (m Map[K, V]) ForAll(p *Path, pred func(k K, v V) Bool) {
	m.c.forAll(func(k *z3.AST, _ Bool, v V) Bool { return pred(wrapLeaf[K](k), v) })
}

// Observed returns the entries of the initial map the path observed.
func (m Map[K, V]) Observed() []Entry[K, V] { return observed[K, V](m.c) }

// EntryAny is an observed entry with its types erased, for generic test
// builders.
type EntryAny struct {
	Key   Leaf
	Valid Bool
	Val   any
}

func observedAny[V any](c core[V]) []EntryAny {
	if c.base == nil {
		return nil
	}
	out := make([]EntryAny, 0, len(c.base.obs))
	for _, o := range c.base.obs {
		valid := o.valid
		if !c.base.dict {
			valid = c.base.p.True()
		}
		out = append(out, EntryAny{Key: anyLeaf{o.key}, Valid: valid, Val: o.val})
	}
	return out
}

// anyLeaf is a Leaf of unknown Go type, used where only the term matters.
type anyLeaf struct{ a *z3.AST }

func (l anyLeaf) AST() *z3.AST          { return l.a }
func (l anyLeaf) sortOf(*Path) *z3.Sort { return l.a.Sort() }
func (l anyLeaf) withAST(a *z3.AST) any { return anyLeaf{a} }

// ObservedAny is Observed with types erased.
func (d Dict[K, V]) ObservedAny() []EntryAny { return observedAny(d.c) }

// ObservedAny is Observed with types erased.
func (m Map[K, V]) ObservedAny() []EntryAny { return observedAny(m.c) }
