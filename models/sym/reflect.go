package sym

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/crewvm/crewvm/models/z3"
)

// The interfaces below are implemented by the package's own types (leaves
// and containers); reflection handles user structs and arrays around them.

type freshable interface{ symFresh(n namer) }

type equalable interface {
	symEqual(p *Path, o any) Bool
}

type iteable interface {
	symIte(p *Path, c Bool, o any) any
}

// Invarianter is implemented by types with a well-formedness condition.
// Fresh assumes it (as an invariant) for every value it creates, including
// the values of map entries observed lazily.
type Invarianter interface {
	Invariant(p *Path) Bool
}

var (
	freshableType   = reflect.TypeFor[freshable]()
	equalableType   = reflect.TypeFor[equalable]()
	iteableType     = reflect.TypeFor[iteable]()
	invarianterType = reflect.TypeFor[Invarianter]()
	boolType        = reflect.TypeFor[Bool]()
	pathType        = reflect.TypeFor[*Path]()
)

// typeInfo caches what reflection needs to know about a type.
type typeInfo struct {
	t         reflect.Type
	fresher   bool
	equaler   bool
	iter      bool
	invariant bool
	equalM    int  // index of a user Equal method, or -1
	equalP    bool // the Equal method takes the path first
	fields    []fieldInfo
	err       error
}

type fieldInfo struct {
	index int
	name  string
}

func (e *Explorer) typeInfo(t reflect.Type) *typeInfo {
	if ti, ok := e.types[t]; ok {
		return ti
	}
	pt := reflect.PointerTo(t)
	ti := &typeInfo{
		t:         t,
		fresher:   pt.Implements(freshableType),
		equaler:   t.Implements(equalableType),
		iter:      t.Implements(iteableType),
		invariant: pt.Implements(invarianterType),
		equalM:    -1,
	}
	if m, ok := t.MethodByName("Equal"); ok {
		mt := m.Type // includes the receiver
		if mt.NumOut() == 1 && mt.Out(0) == boolType {
			switch {
			case mt.NumIn() == 2 && mt.In(1) == t:
				ti.equalM = m.Index
			case mt.NumIn() == 3 && mt.In(1) == pathType && mt.In(2) == t:
				ti.equalM, ti.equalP = m.Index, true
			}
		}
	}
	if !ti.fresher && t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				ti.err = fmt.Errorf("sym: %v has unexported field %s; symbolic structs need exported fields", t, f.Name)
				break
			}
			ti.fields = append(ti.fields, fieldInfo{index: i, name: f.Name})
		}
	}
	if !ti.fresher && t.Kind() != reflect.Struct && t.Kind() != reflect.Array {
		ti.err = fmt.Errorf("sym: %v is not a symbolic type (use Bool, Int, U, containers, or structs and arrays of them)", t)
	}
	e.types[t] = ti
	return ti
}

// namer names the leaves of a value being created: leaves of a value with
// no index become constants name.Field...; leaves of an entry of an
// initial container become applications name.Field(key) of uninterpreted
// functions, which is what makes lazily observed entries consistent.
type namer struct {
	p        *Path
	name     string
	idx      []*z3.AST
	internal bool
}

func (n namer) child(s string) namer {
	n.name = n.name + "." + s
	return n
}

// leaf creates the term for one leaf of sort s.
func (n namer) leaf(s *z3.Sort) *z3.AST {
	p := n.p
	var a *z3.AST
	if len(n.idx) == 0 {
		a = p.z.Const(n.name, s)
	} else {
		d, ok := p.decls[n.name]
		if !ok {
			dom := make([]*z3.Sort, len(n.idx))
			for i, x := range n.idx {
				dom[i] = x.Sort()
			}
			d = p.z.FuncDecl(n.name, dom, s)
			p.decls[n.name] = d
		}
		a = d.Apply(n.idx...)
	}
	if a == nil {
		p.Fail(fmt.Errorf("sym: creating %s: %w", n.name, p.z.Err()))
	}
	if n.internal {
		p.markInternal(a)
	}
	return a
}

// usort returns the uninterpreted sort with the given name.
func (p *Path) usort(name string) *z3.Sort {
	if s, ok := p.sorts[name]; ok {
		return s
	}
	s := p.z.UninterpretedSort(name)
	if s == nil {
		p.Fail(fmt.Errorf("sym: sort %s: %w", name, p.z.Err()))
	}
	p.sorts[name] = s
	return s
}

func (b *Bool) symFresh(n namer) { b.a = n.leaf(b.sortOf(n.p)) }
func (x *Int) symFresh(n namer)  { x.a = n.leaf(x.sortOf(n.p)) }
func (u *U[T]) symFresh(n namer) { u.a = n.leaf(u.sortOf(n.p)) }

// Fresh returns a new symbolic value of type T whose leaves are constants
// named after name and T's fields. Invariants of T and of its parts are
// assumed. Fresh values with equal names are equal, so use distinct names
// (or Path.Unique) for distinct values.
func Fresh[T any](p *Path, name string) T {
	var v T
	p.fresh(reflect.ValueOf(&v).Elem(), namer{p: p, name: name})
	return v
}

// Internal returns a fresh value standing for an implementation choice,
// such as which inode number a new file gets. Internal values are
// existential: a path commutes if some choice makes it commute, and test
// generation never turns them into test inputs. Each call creates a new
// value, named internal.<name>#k.
func Internal[T any](p *Path, name string) T {
	var v T
	p.fresh(reflect.ValueOf(&v).Elem(), namer{p: p, name: p.Unique("internal." + name), internal: true})
	return v
}

func (p *Path) fresh(v reflect.Value, n namer) {
	ti := p.ex.typeInfo(v.Type())
	switch {
	case ti.fresher:
		v.Addr().Interface().(freshable).symFresh(n)
	case ti.err != nil:
		p.Fail(ti.err)
	case v.Kind() == reflect.Struct:
		for _, f := range ti.fields {
			p.fresh(v.Field(f.index), n.child(f.name))
		}
	case v.Kind() == reflect.Array:
		for i := 0; i < v.Len(); i++ {
			p.fresh(v.Index(i), n.child(strconv.Itoa(i)))
		}
	}
	if ti.invariant {
		p.AssumeInvariant(v.Addr().Interface().(Invarianter).Invariant(p))
	}
}

// Equal returns the symbolic equality of two values of a symbolic type.
// Structs compare field by field unless they have an Equal(T) Bool or
// Equal(*Path, T) Bool method.
func Equal[T any](p *Path, a, b T) Bool {
	return p.valid(p.equal(reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()))
}

// EqualAny is Equal for values held in interfaces; values of different
// types are unequal.
func EqualAny(p *Path, a, b any) Bool {
	if a == nil || b == nil {
		return p.Bool(a == nil && b == nil)
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Type() != vb.Type() {
		return p.False()
	}
	return p.valid(p.equal(va, vb))
}

func (p *Path) equal(a, b reflect.Value) Bool {
	ti := p.ex.typeInfo(a.Type())
	switch {
	case ti.equalM >= 0 && ti.equalP:
		return a.Method(ti.equalM).Call([]reflect.Value{reflect.ValueOf(p), b})[0].Interface().(Bool)
	case ti.equalM >= 0:
		return a.Method(ti.equalM).Call([]reflect.Value{b})[0].Interface().(Bool)
	case ti.equaler:
		return a.Interface().(equalable).symEqual(p, b.Interface())
	case ti.err != nil:
		p.Fail(ti.err)
	case a.Kind() == reflect.Struct:
		bs := make([]Bool, 0, len(ti.fields))
		for _, f := range ti.fields {
			bs = append(bs, p.equal(a.Field(f.index), b.Field(f.index)))
		}
		return p.And(bs...)
	case a.Kind() == reflect.Array:
		bs := make([]Bool, 0, a.Len())
		for i := 0; i < a.Len(); i++ {
			bs = append(bs, p.equal(a.Index(i), b.Index(i)))
		}
		return p.And(bs...)
	}
	p.Failf("sym: cannot compare %v", a.Type())
	return Bool{}
}

// Ite returns a if c holds and b otherwise, as one symbolic value.
func Ite[T any](p *Path, c Bool, a, b T) T {
	p.valid(c)
	if c.IsTrue() {
		return a
	}
	if c.IsFalse() {
		return b
	}
	return p.ite(c, reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()).Interface().(T)
}

func (p *Path) ite(c Bool, a, b reflect.Value) reflect.Value {
	ti := p.ex.typeInfo(a.Type())
	switch {
	case ti.iter:
		return reflect.ValueOf(a.Interface().(iteable).symIte(p, c, b.Interface()))
	case ti.err != nil:
		p.Fail(ti.err)
	case a.Kind() == reflect.Struct:
		out := reflect.New(a.Type()).Elem()
		for _, f := range ti.fields {
			out.Field(f.index).Set(p.ite(c, a.Field(f.index), b.Field(f.index)))
		}
		return out
	case a.Kind() == reflect.Array:
		out := reflect.New(a.Type()).Elem()
		for i := 0; i < a.Len(); i++ {
			out.Index(i).Set(p.ite(c, a.Index(i), b.Index(i)))
		}
		return out
	}
	p.Failf("sym: cannot merge values of type %v", a.Type())
	return reflect.Value{}
}
