package commute

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/models/sym"
	"github.com/crewvm/crewvm/models/testgen"
)

func TestPermutations(t *testing.T) {
	tests := []struct {
		n, count int
	}{{0, 1}, {1, 1}, {2, 2}, {3, 6}, {4, 24}}
	for _, tt := range tests {
		ps := permutations(tt.n)
		if len(ps) != tt.count {
			t.Errorf("permutations(%d): %d orders, want %d", tt.n, len(ps), tt.count)
		}
		seen := map[string]bool{}
		for i, p := range ps {
			key := fmt.Sprint(p)
			if seen[key] {
				t.Errorf("permutations(%d): %v twice", tt.n, p)
			}
			seen[key] = true
			if i == 0 {
				for j, x := range p {
					if x != j {
						t.Errorf("permutations(%d) does not start with the identity: %v", tt.n, p)
						break
					}
				}
			}
		}
	}
}

func TestCallSets(t *testing.T) {
	calls18 := make([]string, 18)
	for i := range calls18 {
		calls18[i] = fmt.Sprintf("c%d", i)
	}
	tests := []struct {
		calls []string
		n     int
		want  int
	}{
		{calls18, 2, 171}, // 18 choose 2 with replacement: Commuter's POSIX pairs
		{calls18, 1, 18},
		{[]string{"a", "b", "c"}, 3, 10},
		{[]string{"a"}, 0, 0},
	}
	for _, tt := range tests {
		if got := len(CallSets(tt.calls, tt.n)); got != tt.want {
			t.Errorf("CallSets(%d calls, %d) = %d sets, want %d", len(tt.calls), tt.n, got, tt.want)
		}
	}
	got := CallSets([]string{"a", "b"}, 2)
	if fmt.Sprint(got) != "[[a a] [a b] [b b]]" {
		t.Errorf("CallSets(a,b; 2) = %v", got)
	}
}

// A tiny model: a register with a slow, branchy call for timeout tests.
type reg struct{ V sym.Int }

type setArgs struct{ X sym.Int }

func regModel() *Spec[reg] {
	return &Spec[reg]{
		Name: "reg",
		Calls: []Call[reg]{
			NewCall("set", "", func(s *reg, e Env, a setArgs) sym.Result {
				s.V = a.X
				return e.Result()
			}),
			NewCall("get", "", func(s *reg, e Env, _ struct{}) sym.Result {
				return e.Result().With("r", s.V)
			}),
			NewCall("spin", "branches a lot", func(s *reg, e Env, a setArgs) sym.Result {
				for i := range 60 {
					if e.If(a.X.GtN(int64(i))) {
						s.V = s.V.AddN(1)
					}
				}
				return e.Result()
			}),
			NewCall("bad", "uses an uninitialised value", func(s *reg, e Env, _ struct{}) sym.Result {
				var b sym.Bool
				e.If(b)
				return e.Result()
			}),
		},
	}
}

func TestRunSet(t *testing.T) {
	m := regModel()
	r := m.RunSet(context.Background(), []string{"set", "set"}, Options{MaxTestsPerPath: 3})
	if r.Status != testgen.StatusOK || r.Paths != 2 || r.Commutative != 1 || r.Errors != 0 {
		t.Fatalf("set,set: %+v", r)
	}
	if len(r.Tests) != 3 || r.NumTests != 3 {
		t.Errorf("set,set: %d tests, want 3 (one per value of x = y)", len(r.Tests))
	}
	for _, tt := range r.Tests {
		a, _ := testgen.Record{Fields: tt.Calls[0].Args}.Int("x")
		b, _ := testgen.Record{Fields: tt.Calls[1].Args}.Int("x")
		if a != b {
			t.Errorf("commutative test with set(%d), set(%d)", a, b)
		}
		if tt.Path != 1 {
			t.Errorf("path = %d", tt.Path)
		}
	}
	r = m.RunSet(context.Background(), []string{"get", "get"}, Options{MaxTestsPerPath: -1})
	if r.Commutative != 1 || len(r.Tests) != 0 {
		t.Errorf("counting only: %+v", r)
	}
}

func TestRunSetFailures(t *testing.T) {
	m := regModel()
	tests := []struct {
		name    string
		calls   []string
		timeout time.Duration
		status  string
		errText string
	}{
		{"unknown call", []string{"set", "nope"}, 0, testgen.StatusError, `no call "nope"`},
		{"empty set", nil, 0, testgen.StatusError, "empty call set"},
		{"timeout", []string{"spin", "spin"}, 50 * time.Millisecond, testgen.StatusTimeout, "deadline exceeded"},
		{"model error", []string{"bad", "get"}, 0, testgen.StatusOK, "failed paths"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			r := m.RunSet(ctx, tt.calls, Options{})
			if r.Status != tt.status {
				t.Errorf("status %s, want %s (%v)", r.Status, tt.status, r.Err)
			}
			if r.Err == nil || !strings.Contains(r.Err.Error(), tt.errText) {
				t.Errorf("error %v, want one mentioning %q", r.Err, tt.errText)
			}
			if tt.status != testgen.StatusOK && len(r.Tests) != 0 {
				t.Errorf("failed set kept %d tests", len(r.Tests))
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestExploreReportsPaths(t *testing.T) {
	var commute, diverge int
	_, err := Explore(context.Background(), regModel(), []string{"get", "set"}, Options{}, func(pi *PathInfo[reg]) error {
		if len(pi.Orders) != 2 || len(pi.Results) != 2 || len(pi.Finals) != 2 {
			t.Errorf("path info shape: %d orders", len(pi.Orders))
		}
		if pi.Commutes {
			commute++
		} else {
			diverge++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if commute != 1 || diverge != 1 {
		t.Errorf("get,set: %d commutative and %d divergent paths, want 1 and 1", commute, diverge)
	}
	stop := errors.New("stop")
	_, err = Explore(context.Background(), regModel(), []string{"set", "set"}, Options{}, func(*PathInfo[reg]) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("visit error not returned: %v", err)
	}
}

func TestGenericBuild(t *testing.T) {
	type st struct {
		N     sym.Int
		Flags [2]sym.Bool
		L     sym.List[sym.Int, sym.Cap4]
	}
	m := &Spec[st]{
		Name: "gen",
		Calls: []Call[st]{NewCall("poke", "", func(s *st, e Env, a setArgs) sym.Result {
			e.Assume(s.N.Eq(a.X).And(s.L.Len().EqN(1), s.Flags[1]))
			return e.Result().With("n", s.N).With("l", s.L)
		})},
	}
	r := m.RunSet(context.Background(), []string{"poke"}, Options{MaxTestsPerPath: 1})
	if r.Status != testgen.StatusOK || len(r.Tests) != 1 {
		t.Fatalf("%+v", r)
	}
	tt := r.Tests[0]
	state := tt.Setup[0]
	if state.Kind != "state" {
		t.Fatalf("setup %v", tt.Setup)
	}
	for _, k := range []string{"n", "flags.0", "flags.1", "l.len", "l.0"} {
		if _, ok := state.Get(k); !ok {
			t.Errorf("state record %v lacks %s", state, k)
		}
	}
	if v, _ := state.Int("flags.1"); v != 1 {
		t.Errorf("flags.1 = %d", v)
	}
	exp := testgen.Record{Fields: tt.Expect[0].Fields}
	n, _ := exp.Int("n")
	x, _ := testgen.Record{Fields: tt.Calls[0].Args}.Int("x")
	if n != x {
		t.Errorf("expected n=%d for x=%d", n, x)
	}
	if l, _ := exp.Int("l.len"); l != 1 {
		t.Errorf("expected l.len = %d", l)
	}
}
