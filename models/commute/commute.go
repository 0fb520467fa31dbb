// Package commute checks models for commutativity and generates tests,
// following Commuter: for a set of calls, it runs every order of the calls
// from one symbolic initial state; a path commutes when each call returns
// the same result in every order and the final states are equal. For every
// commutative path it asks Z3 for concrete models, one per isomorphism
// class, and turns each into a test (see package testgen).
//
// A model is Go code: a state type S (a struct of sym values) and calls
// written as functions func(s *S, e Env, a A) sym.Result, where A is a
// struct of symbolic arguments. Spec bundles them.
package commute

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crewvm/crewvm/models/sym"
	"github.com/crewvm/crewvm/models/testgen"
)

// Env is what a call receives besides its state and arguments: the path
// (to branch and assume on) and the call's slot in the call set (0 for the
// first call, "a"; 1 for "b"; ...). Slots never depend on the order the
// calls run in.
type Env struct {
	*sym.Path
	Slot int
}

// SlotNormalizer may be implemented (with a pointer receiver) by argument
// structs to adjust fresh arguments per slot. The POSIX model uses it to
// run the first call in process 0 without loss of generality, as Commuter
// does.
type SlotNormalizer interface {
	NormalizeSlot(p *sym.Path, slot int)
}

// Call is one call of a model.
type Call[S any] struct {
	Name string
	Doc  string
	// argsType is the argument struct type, for fresh argument creation.
	fresh func(p *sym.Path, prefix string, slot int) any
	run   func(s *S, e Env, args any) sym.Result
}

// NewCall declares a call. Its arguments are a fresh value of type A per
// slot, named after the slot ("a.pn", "b.fd"); A's invariants (see
// sym.Invarianter) are assumed.
func NewCall[S, A any](name, doc string, fn func(s *S, e Env, a A) sym.Result) Call[S] {
	return Call[S]{
		Name: name,
		Doc:  doc,
		fresh: func(p *sym.Path, prefix string, slot int) any {
			a := sym.Fresh[A](p, prefix)
			if n, ok := any(&a).(SlotNormalizer); ok {
				n.NormalizeSlot(p, slot)
			}
			return a
		},
		run: func(s *S, e Env, args any) sym.Result { return fn(s, e, args.(A)) },
	}
}

// Instance is what a test builder gets for one model of a commutative path.
type Instance[S any] struct {
	Eval    *sym.Eval
	Path    *sym.Path
	Init    S            // the symbolic initial state
	Calls   []string     // call names by slot
	Args    []any        // argument structs by slot
	Results []sym.Result // results by slot (equal in every order on this path)
}

// Spec is a model: a state type, its calls and, optionally, hooks.
type Spec[S any] struct {
	Name  string
	Doc   string
	Calls []Call[S]
	// Init runs once per path on the fresh initial state, for example to
	// register sym ForAll invariants. Optional.
	Init func(p *sym.Path, s *S)
	// Finish runs after all orders ran, before the commutativity branch,
	// to assume aggregate invariants over everything the path observed.
	// Optional.
	Finish func(p *sym.Path, init *S)
	// Build turns a model into a test. Optional: the default records the
	// whole initial state generically (fine for toy models).
	Build func(in *Instance[S]) (*testgen.Test, error)
	// Params are written to the test file header.
	Params []testgen.Field
}

// Model is the type-erased view of a Spec used by the command line.
type Model interface {
	Info() ModelInfo
	// RunSet explores one call set and generates its tests. It never
	// returns an error: failures are reported in the result.
	RunSet(ctx context.Context, calls []string, opts Options) *SetResult
}

// Options configures exploration and test generation.
type Options struct {
	// MaxTestsPerPath bounds the tests generated per commutative path;
	// zero means DefaultMaxTestsPerPath, negative means no tests (only
	// count paths).
	MaxTestsPerPath int
	// QueryTimeout bounds each Z3 check (default DefaultQueryTimeout).
	QueryTimeout time.Duration
}

// Defaults for Options.
const (
	DefaultMaxTestsPerPath = 10
	DefaultQueryTimeout    = 30 * time.Second
)

// SetResult is the outcome of one call set.
type SetResult struct {
	Calls       []string
	Paths       int
	Commutative int
	Errors      int
	Status      string // testgen.StatusOK, StatusTimeout or StatusError
	Err         error  // why the status is not ok, and the first path error
	Tests       []*testgen.Test
	NumTests    int // len(Tests) when RunSet returned, kept if Tests is dropped
	Duplicates  int // tests dropped because an earlier path generated them
	Elapsed     time.Duration
	Stats       sym.Stats
}

// Summary returns the file summary of the result.
func (r *SetResult) Summary() testgen.Summary {
	return testgen.Summary{Paths: r.Paths, Commutative: r.Commutative, Tests: r.NumTests, Errors: r.Errors, Status: r.Status}
}

// ModelInfo describes a model for listings and file headers.
type ModelInfo struct {
	Name   string
	Doc    string
	Calls  []CallInfo
	Params []testgen.Field
}

// CallInfo describes a call.
type CallInfo struct {
	Name string
	Doc  string
}

// CallNames returns the call names in declaration order.
func (m ModelInfo) CallNames() []string {
	out := make([]string, len(m.Calls))
	for i, c := range m.Calls {
		out[i] = c.Name
	}
	return out
}

// Info describes the model.
func (s *Spec[S]) Info() ModelInfo {
	mi := ModelInfo{Name: s.Name, Doc: s.Doc, Params: s.Params}
	for _, c := range s.Calls {
		mi.Calls = append(mi.Calls, CallInfo{Name: c.Name, Doc: c.Doc})
	}
	return mi
}

// lookup resolves call names, with an error listing the known calls.
func (s *Spec[S]) lookup(names []string) ([]Call[S], error) {
	out := make([]Call[S], 0, len(names))
	for _, n := range names {
		found := false
		for _, c := range s.Calls {
			if c.Name == n {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("model %s has no call %q (calls: %s)", s.Name, n, strings.Join(s.Info().CallNames(), ", "))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("model %s: empty call set", s.Name)
	}
	return out, nil
}

// slotName names the arguments of slot i: a, b, c, ...
func slotName(i int) string {
	if i < 26 {
		return string(rune('a' + i))
	}
	return fmt.Sprintf("s%d", i)
}

// permutations returns every order of 0..n-1, the identity first.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, rest := range permutations(n - 1) {
		for pos := len(rest); pos >= 0; pos-- {
			perm := make([]int, 0, n)
			perm = append(perm, rest[:pos]...)
			perm = append(perm, n-1)
			perm = append(perm, rest[pos:]...)
			out = append(out, perm)
		}
	}
	return out
}

// CallSets returns the multisets of n calls drawn from calls, in
// lexicographic order of positions (Commuter's
// combinations_with_replacement).
func CallSets(calls []string, n int) [][]string {
	var out [][]string
	var rec func(start int, cur []string)
	rec = func(start int, cur []string) {
		if len(cur) == n {
			out = append(out, append([]string(nil), cur...))
			return
		}
		for i := start; i < len(calls); i++ {
			rec(i, append(cur, calls[i]))
		}
	}
	if n > 0 {
		rec(0, nil)
	}
	return out
}
