// Package report turns the sharing analysis of commutativity tests into
// the report of `vmm check`: per kernel, which tests are conflict-free
// (their two calls share no memory, one at least writing it), aggregated
// per call pair, with the shared locations that cause the most conflicts.
// It writes summary.txt, report.json, top.txt, heatmap.svg and
// index.html; it has no KVM code and knows nothing of how the tests ran.
package report

import (
	"errors"
	"fmt"
	"slices"

	"github.com/crewvm/crewvm/analysis"
)

// Test is one commutativity test's outcome on one kernel.
type Test struct {
	ID   int  `json:"id"`   // test id in the test file
	Set  int  `json:"set"`  // call set id
	Path int  `json:"path"` // the model's commutative path
	Pair Pair `json:"pair"`
	// Shared lists what the two calls share (mscan's layout); empty for a
	// conflict-free test.
	Shared []analysis.Shared `json:"shared"`
}

// ConflictFree says the test's calls share nothing.
func (t *Test) ConflictFree() bool { return len(t.Shared) == 0 }

// Pair is a call set of two calls, in the model's call order (A <= B).
type Pair struct {
	A string `json:"a"`
	B string `json:"b"`
}

// Kernel is one kernel's results.
type Kernel struct {
	Name  string  `json:"name"`
	Tests []*Test `json:"tests"`
}

// Report is the results of every kernel on the same tests.
type Report struct {
	Model string `json:"model"`
	// Calls is the model's calls in their canonical order: the heat
	// map's rows and columns.
	Calls   []string  `json:"calls"`
	Kernels []*Kernel `json:"kernels"`
}

// PairStats counts one pair's tests on one kernel.
type PairStats struct {
	Pair         Pair `json:"pair"`
	Tests        int  `json:"tests"`
	ConflictFree int  `json:"conflict_free"`
}

// Conflicted is the number of the pair's tests that share something.
func (p PairStats) Conflicted() int { return p.Tests - p.ConflictFree }

// Pairs aggregates k's tests per call pair, in the order of calls (row
// A, then column B).
func (k *Kernel) Pairs(calls []string) []PairStats {
	byPair := map[Pair]*PairStats{}
	for _, t := range k.Tests {
		s := byPair[t.Pair]
		if s == nil {
			s = &PairStats{Pair: t.Pair}
			byPair[t.Pair] = s
		}
		s.Tests++
		if t.ConflictFree() {
			s.ConflictFree++
		}
	}
	var out []PairStats
	for i, a := range calls {
		for _, b := range calls[i:] {
			if s := byPair[Pair{a, b}]; s != nil {
				out = append(out, *s)
			}
		}
	}
	return out
}

// Totals counts k's tests and conflict-free tests.
func (k *Kernel) Totals() (tests, conflictFree int) {
	for _, t := range k.Tests {
		tests++
		if t.ConflictFree() {
			conflictFree++
		}
	}
	return tests, conflictFree
}

// Merge joins reports of disjoint slices of one run's tests (vmm check
// --shard): each kernel's tests in id order, kernels in the order of the
// first report that has them. It refuses reports of other models, and a
// test that two slices both hold.
func Merge(parts []*Report) (*Report, error) {
	if len(parts) == 0 {
		return nil, errors.New("no reports to merge")
	}
	out := &Report{Model: parts[0].Model, Calls: parts[0].Calls}
	byName := map[string]*Kernel{}
	seen := map[string]map[int]bool{}
	for _, p := range parts {
		if p.Model != out.Model || !slices.Equal(p.Calls, out.Calls) {
			return nil, fmt.Errorf("a report of model %s among reports of %s", p.Model, out.Model)
		}
		for _, k := range p.Kernels {
			m := byName[k.Name]
			if m == nil {
				m = &Kernel{Name: k.Name}
				byName[k.Name] = m
				seen[k.Name] = map[int]bool{}
				out.Kernels = append(out.Kernels, m)
			}
			for _, t := range k.Tests {
				if seen[k.Name][t.ID] {
					return nil, fmt.Errorf("%s: test %d is in two of the reports", k.Name, t.ID)
				}
				seen[k.Name][t.ID] = true
				m.Tests = append(m.Tests, t)
			}
		}
	}
	for _, k := range out.Kernels {
		slices.SortFunc(k.Tests, func(a, b *Test) int { return a.ID - b.ID })
	}
	return out, nil
}
