package commute

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/crewvm/crewvm/models/sym"
	"github.com/crewvm/crewvm/models/testgen"
	"github.com/crewvm/crewvm/models/z3"
)

// The interfaces the generic builder uses to look inside containers.
type (
	listLike interface {
		Len() sym.Int
		ElemsAny() []any
	}
	observedLike interface{ ObservedAny() []sym.EntryAny }
	sizedLike    interface{ Len() sym.Int }
)

// GenericBuild is the default test builder. It writes the initial state as
// one "state" record of its scalar leaves (lists included) plus one
// "entry" record per observed container entry, the arguments as call
// fields and the results as expectations. Integers and Booleans are
// recorded exactly, uninterpreted values by equality pattern (their class
// number is written). Models whose tests a harness runs (POSIX) provide
// their own builder with a dedicated vocabulary.
func GenericBuild[S any](in *Instance[S]) (*testgen.Test, error) {
	g := &genericBuilder{ev: in.Eval}
	t := &testgen.Test{}
	var state []testgen.Field
	var entries []testgen.Record
	g.walk(reflect.ValueOf(in.Init), "", true, &state, &entries)
	if len(state) > 0 {
		t.Setup = append(t.Setup, testgen.Record{Kind: "state", Fields: state})
	}
	t.Setup = append(t.Setup, entries...)
	for i, name := range in.Calls {
		var args []testgen.Field
		g.walk(reflect.ValueOf(in.Args[i]), "", true, &args, nil)
		t.Calls = append(t.Calls, testgen.Call{Slot: i, Name: name, Args: args})
		var exp []testgen.Field
		for _, f := range in.Results[i].Fields() {
			g.walk(reflect.ValueOf(f.Val), keyName(f.Name), false, &exp, nil)
		}
		t.Expect = append(t.Expect, testgen.Expect{Slot: i, Fields: exp})
	}
	if g.err != nil {
		return nil, g.err
	}
	return t, nil
}

type genericBuilder struct {
	ev  *sym.Eval
	err error
}

func keyName(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || (out[0] >= '0' && out[0] <= '9') {
		out = "v" + out
	}
	return out
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// leaf evaluates one leaf into a field value.
func (g *genericBuilder) leaf(l sym.Leaf, record bool) int64 {
	a := l.AST()
	if a == nil {
		if g.err == nil {
			g.err = fmt.Errorf("uninitialised value in test")
		}
		return 0
	}
	s := a.Sort()
	switch s.Kind() {
	case z3.SortBool:
		b := sym.BoolOf(a)
		var v bool
		if record {
			v = g.ev.Bool(b)
		} else {
			v = g.ev.PeekBool(b)
		}
		if v {
			return 1
		}
		return 0
	case z3.SortInt:
		x := sym.IntOf(a)
		if record {
			return g.ev.Int(x)
		}
		return g.ev.PeekInt(x)
	default:
		if record {
			return int64(g.ev.Class(s.String(), l))
		}
		return int64(g.ev.PeekClass(s.String(), l))
	}
}

// walk appends the fields of v under prefix; container entries go to
// entries (dropped when entries is nil).
func (g *genericBuilder) walk(v reflect.Value, prefix string, record bool, out *[]testgen.Field, entries *[]testgen.Record) {
	if g.err != nil || !v.IsValid() {
		return
	}
	iface := v.Interface()
	switch x := iface.(type) {
	case sym.Leaf:
		name := prefix
		if name == "" {
			name = "v"
		}
		*out = append(*out, testgen.F(name, g.leaf(x, record)))
		return
	case listLike:
		n := g.leaf(x.Len(), record)
		*out = append(*out, testgen.F(join(prefix, "len"), n))
		for i, e := range x.ElemsAny() {
			if int64(i) >= n {
				break
			}
			g.walk(reflect.ValueOf(e), join(prefix, strconv.Itoa(i)), record, out, entries)
		}
		return
	case observedLike:
		if s, ok := iface.(sizedLike); ok {
			*out = append(*out, testgen.F(join(prefix, "len"), g.leaf(s.Len(), record)))
		}
		if entries == nil {
			return
		}
		of := strings.ReplaceAll(prefix, ".", "_")
		if of == "" {
			of = "map"
		}
		for _, e := range x.ObservedAny() {
			valid := g.leaf(e.Valid, record)
			fields := []testgen.Field{testgen.FI("of", of), testgen.F("key", g.leaf(e.Key, record)), testgen.F("valid", valid)}
			if valid == 1 {
				var val []testgen.Field
				g.walk(reflect.ValueOf(e.Val), "val", record, &val, nil)
				fields = append(fields, val...)
			}
			*entries = append(*entries, testgen.Record{Kind: "entry", Fields: fields})
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			g.walk(v.Field(i), join(prefix, keyName(t.Field(i).Name)), record, out, entries)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			g.walk(v.Index(i), join(prefix, strconv.Itoa(i)), record, out, entries)
		}
	default:
		if g.err == nil {
			g.err = fmt.Errorf("generic builder: cannot encode %v", v.Type())
		}
	}
}
