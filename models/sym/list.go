package sym

import (
	"reflect"
	"strconv"
)

// Cap gives a List its capacity; implement it on an empty struct type.
type Cap interface{ Cap() int }

// Cap4 and Cap8 are ready-made capacities.
type (
	Cap4 struct{}
	Cap8 struct{}
)

// Cap returns 4.
func (Cap4) Cap() int { return 4 }

// Cap returns 8.
func (Cap8) Cap() int { return 8 }

// List is a symbolic list of at most C.Cap() elements: a symbolic length
// and one slot per possible element. Fixed slots keep lists usable inside
// map values and make equality a finite conjunction. List has value
// semantics: operations never modify a list in place.
type List[V any, C Cap] struct {
	p     *Path
	elems []V
	n     Int
}

func (l *List[V, C]) symFresh(n namer) {
	var c C
	p := n.p
	l.p = p
	l.elems = make([]V, c.Cap())
	for i := range l.elems {
		p.fresh(reflect.ValueOf(&l.elems[i]).Elem(), n.child(strconv.Itoa(i)))
	}
	l.n.symFresh(n.child("len"))
	p.AssumeInvariant(l.n.GeN(0).And(l.n.LeN(int64(c.Cap()))))
}

func (l List[V, C]) check() *Path {
	if l.p == nil {
		panic(abort{err: errUninitList})
	}
	return l.p
}

func (l List[V, C]) symEqual(_ *Path, o any) Bool {
	p := l.check()
	m := o.(List[V, C])
	bs := []Bool{l.n.Eq(m.n)}
	for i := range l.elems {
		bs = append(bs, l.n.GtN(int64(i)).Implies(Equal(p, l.elems[i], m.elems[i])))
	}
	return p.And(bs...)
}

func (l List[V, C]) symIte(_ *Path, c Bool, o any) any {
	p := l.check()
	m := o.(List[V, C])
	out := List[V, C]{p: p, elems: make([]V, len(l.elems)), n: Ite(p, c, l.n, m.n)}
	for i := range l.elems {
		out.elems[i] = Ite(p, c, l.elems[i], m.elems[i])
	}
	return out
}

// Cap returns the list's capacity.
func (l List[V, C]) Cap() int {
	var c C
	return c.Cap()
}

// Len returns the list's length.
func (l List[V, C]) Len() Int { return l.n }

// Get returns element i. Outside [0, Len()) the result is unconstrained.
func (l List[V, C]) Get(i Int) V {
	p := l.check()
	if k, ok := i.Literal(); ok {
		if k < 0 || k >= int64(len(l.elems)) {
			p.Failf("sym: list index %d out of capacity %d", k, len(l.elems))
		}
		return l.elems[k]
	}
	v := l.elems[len(l.elems)-1]
	for j := len(l.elems) - 2; j >= 0; j-- {
		v = Ite(p, i.EqN(int64(j)), l.elems[j], v)
	}
	return v
}

// Set returns the list with element i replaced by v.
func (l List[V, C]) Set(i Int, v V) List[V, C] {
	p := l.check()
	out := l
	out.elems = make([]V, len(l.elems))
	for j := range l.elems {
		out.elems[j] = Ite(p, i.EqN(int64(j)), v, l.elems[j])
	}
	return out
}

// Append returns the list with v added at the end. It assumes (as an
// invariant) that the list is not full: the capacity bounds the model.
func (l List[V, C]) Append(v V) List[V, C] {
	p := l.check()
	p.AssumeInvariant(l.n.LtN(int64(len(l.elems))))
	out := l.Set(l.n, v)
	out.n = l.n.AddN(1)
	return out
}

// PopFront returns the first element and the rest of the list. The list
// must not be empty; check Len first.
func (l List[V, C]) PopFront() (V, List[V, C]) {
	l.check()
	out := l
	out.elems = make([]V, len(l.elems))
	copy(out.elems, l.elems[1:])
	out.elems[len(out.elems)-1] = l.elems[len(l.elems)-1]
	out.n = l.n.SubN(1)
	return l.elems[0], out
}

// Truncate returns the list with its length set to n (0 ≤ n ≤ Len()).
func (l List[V, C]) Truncate(n Int) List[V, C] {
	l.check()
	out := l
	out.n = n
	return out
}

// Elems returns the element slots (all Cap of them; those at or beyond
// Len are unconstrained).
func (l List[V, C]) Elems() []V { return append([]V(nil), l.elems...) }

// ElemsAny returns the elements below the (model-evaluated) length as
// values of type any, for generic test builders; see Elems.
func (l List[V, C]) ElemsAny() []any {
	out := make([]any, len(l.elems))
	for i, e := range l.elems {
		out[i] = e
	}
	return out
}
