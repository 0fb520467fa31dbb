package sym

import (
	"fmt"
	"sort"
)

// Result is what a model call returns: named symbolic values, like
// Commuter's result dictionaries ({"r": -1, "errno": ENOENT}). Results of
// one call in different orders are equal when they have the same names and
// equal values.
type Result struct {
	p      *Path
	fields []ResultField
}

// ResultField is one named value of a Result.
type ResultField struct {
	Name string
	Val  any // a symbolic value: Bool, Int, U[T], a List, a struct of them
}

// Result returns an empty result for this path.
func (p *Path) Result() Result { return Result{p: p} }

// With returns r with name set to the symbolic value v.
func (r Result) With(name string, v any) Result {
	out := Result{p: r.p, fields: make([]ResultField, 0, len(r.fields)+1)}
	for _, f := range r.fields {
		if f.Name != name {
			out.fields = append(out.fields, f)
		}
	}
	out.fields = append(out.fields, ResultField{Name: name, Val: v})
	return out
}

// Int returns r with name set to the literal v.
func (r Result) Int(name string, v int64) Result {
	if r.p == nil {
		panic(abort{err: fmt.Errorf("sym: Result.Int on a result not made by Path.Result")})
	}
	return r.With(name, r.p.Int(v))
}

// Get returns the value named name.
func (r Result) Get(name string) (any, bool) {
	for _, f := range r.fields {
		if f.Name == name {
			return f.Val, true
		}
	}
	return nil, false
}

// Fields returns the values sorted by name.
func (r Result) Fields() []ResultField {
	out := append([]ResultField(nil), r.fields...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ResultsEqual returns the condition under which a and b are the same
// result: same names, equal values.
func ResultsEqual(p *Path, a, b Result) Bool {
	fa, fb := a.Fields(), b.Fields()
	if len(fa) != len(fb) {
		return p.False()
	}
	bs := make([]Bool, 0, len(fa))
	for i := range fa {
		if fa[i].Name != fb[i].Name {
			return p.False()
		}
		bs = append(bs, EqualAny(p, fa[i].Val, fb[i].Val))
	}
	return p.And(bs...)
}
