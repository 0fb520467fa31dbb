package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
)

func percent(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// WriteSummary writes summary.txt: a line per kernel ("mono: 13664
// tests, 9389 conflict-free (68.7%)"), the call pairs conflict-free on
// every test, and every pair's counts on each kernel.
func (r *Report) WriteSummary(w io.Writer) error {
	for _, k := range r.Kernels {
		n, free := k.Totals()
		fmt.Fprintf(w, "%s: %d tests, %d conflict-free (%.1f%%)\n", k.Name, n, free, percent(free, n))
	}
	fmt.Fprintln(w, "\ncall pairs conflict-free on every test:")
	for _, k := range r.Kernels {
		var free []string
		for _, p := range k.Pairs(r.Calls) {
			if p.ConflictFree == p.Tests {
				free = append(free, p.Pair.A+","+p.Pair.B)
			}
		}
		n := len(free)
		if n == 0 {
			free = []string{"(none)"}
		}
		fmt.Fprintf(w, "  %s (%d):\n%s", k.Name, n, wrap(free, "    ", 100))
	}
	fmt.Fprintln(w, "\nper call pair, conflict-free tests of all:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  pair")
	for _, k := range r.Kernels {
		fmt.Fprintf(tw, "\t%s", k.Name)
	}
	fmt.Fprintln(tw)
	stats := make([]map[Pair]PairStats, len(r.Kernels))
	var order []Pair
	seen := map[Pair]bool{}
	for i, k := range r.Kernels {
		stats[i] = map[Pair]PairStats{}
		for _, p := range k.Pairs(r.Calls) {
			stats[i][p.Pair] = p
			if !seen[p.Pair] {
				seen[p.Pair] = true
				order = append(order, p.Pair)
			}
		}
	}
	for _, p := range order {
		fmt.Fprintf(tw, "  %s,%s", p.A, p.B)
		for i := range r.Kernels {
			s := stats[i][p]
			fmt.Fprintf(tw, "\t%d/%d (%.1f%%)", s.ConflictFree, s.Tests, percent(s.ConflictFree, s.Tests))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// wrap joins words with spaces into lines of at most width bytes, each
// starting with indent and ending with a newline.
func wrap(words []string, indent string, width int) string {
	var b, line strings.Builder
	for _, w := range words {
		if line.Len() > 0 && line.Len()+1+len(w) > width-len(indent) {
			b.WriteString(indent + line.String() + "\n")
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(w)
	}
	if line.Len() > 0 {
		b.WriteString(indent + line.String() + "\n")
	}
	return b.String()
}

// jsonKernel is a kernel in report.json: its totals, per-pair
// aggregates, and mscan's per-test layout ("testcases", each with its
// "shared" ranges) extended with the model's ids.
type jsonKernel struct {
	Name         string      `json:"name"`
	Tests        int         `json:"tests"`
	ConflictFree int         `json:"conflict_free"`
	Pairs        []PairStats `json:"pairs"`
	TestCases    []jsonTest  `json:"testcases"`
}

type jsonTest struct {
	Name string `json:"name"`
	*Test
}

type jsonReport struct {
	Model   string       `json:"model"`
	Calls   []string     `json:"calls"`
	Kernels []jsonKernel `json:"kernels"`
}

// WriteJSON writes report.json.
func (r *Report) WriteJSON(w io.Writer) error {
	out := jsonReport{Model: r.Model, Calls: r.Calls}
	for _, k := range r.Kernels {
		n, free := k.Totals()
		jk := jsonKernel{Name: k.Name, Tests: n, ConflictFree: free, Pairs: k.Pairs(r.Calls), TestCases: []jsonTest{}}
		for _, t := range k.Tests {
			jk.TestCases = append(jk.TestCases, jsonTest{Name: fmt.Sprintf("test %d", t.ID), Test: t})
		}
		out.Kernels = append(out.Kernels, jk)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}

// ReadJSON reads a report.json back (for --baseline).
func ReadJSON(rd io.Reader) (*Report, error) {
	var in jsonReport
	if err := json.NewDecoder(rd).Decode(&in); err != nil {
		return nil, fmt.Errorf("report.json: %w", err)
	}
	r := &Report{Model: in.Model, Calls: in.Calls}
	for _, jk := range in.Kernels {
		k := &Kernel{Name: jk.Name}
		for _, t := range jk.TestCases {
			if t.Test == nil {
				return nil, fmt.Errorf("report.json: kernel %s: %s has no test fields", jk.Name, t.Name)
			}
			k.Tests = append(k.Tests, t.Test)
		}
		r.Kernels = append(r.Kernels, k)
	}
	return r, nil
}

// instance is the ":<n>" of a label's instance ("struct inode:3.nlink").
var instance = regexp.MustCompile(`:\d+`)

// Location is one shared location aggregated over a kernel's tests:
// instances of one labelled type count as one ("struct mono_file.off").
type Location struct {
	Key       string         // the address with label instances removed
	Example   string         // one address as the sharing analysis named it
	Tests     int            // conflicted tests it appears in
	Pairs     map[Pair]int   // and their call pairs
	Functions map[string]int // innermost frames on either side
}

// TopLocations ranks the locations shared in k's tests by the number of
// tests they appear in.
func (k *Kernel) TopLocations() []*Location {
	byKey := map[string]*Location{}
	for _, t := range k.Tests {
		inTest := map[string]bool{}
		for _, s := range t.Shared {
			key := instance.ReplaceAllString(s.Addr, "")
			l := byKey[key]
			if l == nil {
				l = &Location{Key: key, Example: s.Addr, Pairs: map[Pair]int{}, Functions: map[string]int{}}
				byKey[key] = l
			}
			for _, st := range [][]string{s.Stack1, s.Stack2} {
				if len(st) > 0 {
					l.Functions[st[0]]++
				}
			}
			if !inTest[key] {
				inTest[key] = true
				l.Tests++
				l.Pairs[t.Pair]++
			}
		}
	}
	var out []*Location
	for _, l := range byKey {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *Location) int {
		return cmp.Or(cmp.Compare(b.Tests, a.Tests), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// ranked returns m's keys by falling count, at most n of them.
func ranked[K cmp.Ordered](m map[K]int, n int) []K {
	var keys []K
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	return keys[:min(n, len(keys))]
}

// WriteTop writes top.txt: per kernel, the shared locations that cause
// the most conflicts, each with the functions touching it and the call
// pairs it affects: what to fix first.
func (r *Report) WriteTop(w io.Writer, limit int) error {
	for i, k := range r.Kernels {
		if i > 0 {
			fmt.Fprintln(w)
		}
		locs := k.TopLocations()
		n, free := k.Totals()
		fmt.Fprintf(w, "%s: %d conflicted tests; the locations they share, most tests first:\n", k.Name, n-free)
		if len(locs) == 0 {
			fmt.Fprintln(w, "  (none)")
		}
		for j, l := range locs[:min(limit, len(locs))] {
			fmt.Fprintf(w, "%3d. %s: %d tests (e.g. %s)\n", j+1, l.Key, l.Tests, l.Example)
			var fns []string
			for _, f := range ranked(l.Functions, 4) {
				fns = append(fns, f)
			}
			fmt.Fprintf(w, "     touched at: %s\n", strings.Join(fns, ", "))
			pairKeys := map[string]int{}
			for p, c := range l.Pairs {
				pairKeys[p.A+","+p.B] = c
			}
			var pairs []string
			for _, p := range ranked(pairKeys, 8) {
				pairs = append(pairs, fmt.Sprintf("%s (%d)", p, pairKeys[p]))
			}
			more := ""
			if len(pairKeys) > 8 {
				more = fmt.Sprintf(" and %d more", len(pairKeys)-8)
			}
			fmt.Fprintf(w, "     pairs: %s%s\n", strings.Join(pairs, ", "), more)
		}
	}
	return nil
}
