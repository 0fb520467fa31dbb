package analysis

import (
	"fmt"
	"slices"
	"strings"
)

// Sharing is the sharing analysis (mtrace's mscan): within each test
// region, the memory that two CPUs touched, at least one of them writing.
// A region is the span between HC_REGION_BEGIN and HC_REGION_END with one
// id; the CPUs that open it make one test case. Accesses outside regions
// are not counted. Byte-exact by default; by 64-byte cache line when
// asked, so that false sharing shows too.
type Sharing struct {
	line bool
	out  *Output
	// open is the region each CPU is in (ok false: none).
	open []openRegion
	// regions by id, in the order first opened.
	regions map[uint64]*region
	order   []uint64
	labels  []Label
	syms    *Symbols
	// warning says what the symbols lack (no debug information).
	warning string
}

type openRegion struct {
	id uint64
	ok bool
}

// region is what each CPU touched in one region: per unit (byte or
// line), whether it wrote, and the first PC of its first access there
// (of its first write once it wrote).
type region struct {
	cpus map[int]map[uint64]touch
}

type touch struct {
	wrote bool
	pc    uint64
	stack []uint64
}

// NewSharing returns a sharing analysis, by cache line when line is set.
func NewSharing(line bool) *Sharing { return &Sharing{line: line, regions: map[uint64]*region{}} }

// Name implements Analysis.
func (s *Sharing) Name() string { return "sharing" }

// Start implements Analysis.
func (s *Sharing) Start(run *Run) error {
	s.out, s.open = run.Out, make([]openRegion, run.CPUs)
	var err error
	if s.syms, err = NewSymbols(run.Image); err != nil {
		s.warning = err.Error()
	}
	return nil
}

const cacheLine = 64

// Event implements Analysis.
func (s *Sharing) Event(ev *Event) error {
	if ev.CPU < 0 || ev.CPU >= len(s.open) {
		return nil
	}
	switch ev.Kind {
	case EventRegionBegin:
		s.open[ev.CPU] = openRegion{id: ev.Region, ok: true}
		if s.regions[ev.Region] == nil {
			s.regions[ev.Region] = &region{cpus: map[int]map[uint64]touch{}}
			s.order = append(s.order, ev.Region)
		}
	case EventRegionEnd:
		s.open[ev.CPU] = openRegion{}
	case EventLabel:
		s.labels = append(s.labels, ev.Label)
	case EventAccess:
		o := s.open[ev.CPU]
		if !o.ok || ev.Access.Kind == Fetch {
			return nil
		}
		r := s.regions[o.id]
		units := r.cpus[ev.CPU]
		if units == nil {
			units = map[uint64]touch{}
			r.cpus[ev.CPU] = units
		}
		a := &ev.Access
		wrote := a.Kind.Writes()
		first, last := a.Addr, a.Addr+uint64(a.Size)-1
		if s.line {
			first, last = first/cacheLine, last/cacheLine
		}
		var stack []uint64
		for u := first; u <= last; u++ {
			t, seen := units[u]
			if !seen || wrote && !t.wrote {
				if stack == nil {
					stack = append([]uint64{}, a.Stack...)
				}
				units[u] = touch{wrote: t.wrote || wrote, pc: a.RIP, stack: stack}
			}
		}
	}
	return nil
}

// Shared is one range two CPUs touched in a region, one at least
// writing; JSON in mscan's layout plus the CPUs and write flags.
type Shared struct {
	Addr    string `json:"addr"`
	RawAddr uint64 `json:"rawaddr"`
	Size    uint64 `json:"size"`
	PC1     uint64 `json:"pc1"`
	PC2     uint64 `json:"pc2"`
	// Stack1 and Stack2 are the symbolized call stacks, innermost
	// first: the PC's frame, then each caller's call site (from the
	// guest's frame pointers, guest/ABI.md).
	Stack1 []string `json:"stack1"`
	Stack2 []string `json:"stack2"`
	CPU1   int      `json:"cpu1"`
	CPU2   int      `json:"cpu2"`
	Write1 bool     `json:"write1"`
	Write2 bool     `json:"write2"`
}

// TestCase is one region's result.
type TestCase struct {
	Name   string   `json:"name"`
	CPUs   []int    `json:"cpus"`
	Shared []Shared `json:"shared"`
}

// Results lists each region's shared ranges.
func (s *Sharing) Results() []TestCase {
	var out []TestCase
	for _, id := range s.order {
		r := s.regions[id]
		tc := TestCase{Name: fmt.Sprintf("region %d", id), Shared: []Shared{}}
		for c := range r.cpus {
			tc.CPUs = append(tc.CPUs, c)
		}
		slices.Sort(tc.CPUs)
		for i, c1 := range tc.CPUs {
			for _, c2 := range tc.CPUs[i+1:] {
				tc.Shared = append(tc.Shared, s.pair(r, c1, c2)...)
			}
		}
		out = append(out, tc)
	}
	return out
}

// pair lists what c1 and c2 share in r, adjacent units with the same
// PCs and write flags merged into one range.
func (s *Sharing) pair(r *region, c1, c2 int) []Shared {
	a, b := r.cpus[c1], r.cpus[c2]
	var units []uint64
	for u, t := range a {
		if o, ok := b[u]; ok && (t.wrote || o.wrote) {
			units = append(units, u)
		}
	}
	slices.Sort(units)
	unit := uint64(1)
	if s.line {
		unit = cacheLine
	}
	var out []Shared
	var stacks [][2][]uint64
	for _, u := range units {
		t, o := a[u], b[u]
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.RawAddr+p.Size == u*unit && p.PC1 == t.pc && p.PC2 == o.pc && p.Write1 == t.wrote && p.Write2 == o.wrote {
				p.Size += unit
				continue
			}
		}
		out = append(out, Shared{RawAddr: u * unit, Size: unit, PC1: t.pc, PC2: o.pc, CPU1: c1, CPU2: c2,
			Write1: t.wrote, Write2: o.wrote})
		stacks = append(stacks, [2][]uint64{t.stack, o.stack})
	}
	for i := range out {
		sh := &out[i]
		sh.Addr = s.syms.Data(sh.RawAddr, s.labels)
		sh.Stack1, sh.Stack2 = s.stack(sh.PC1, stacks[i][0]), s.stack(sh.PC2, stacks[i][1])
	}
	return out
}

// stack symbolizes the frames of an access at pc: pc itself, then each
// return address's call site (the byte before it).
func (s *Sharing) stack(pc uint64, rets []uint64) []string {
	out := []string{s.syms.PC(pc)}
	for _, r := range rets {
		out = append(out, s.syms.PC(r-1))
	}
	return out
}

// Finish implements Analysis.
func (s *Sharing) Finish() error {
	res := s.Results()
	var b strings.Builder
	unit := "byte-exact"
	if s.line {
		unit = "by 64-byte cache line"
	}
	free := 0
	for _, tc := range res {
		if len(tc.Shared) == 0 {
			free++
		}
	}
	if s.warning != "" {
		fmt.Fprintf(&b, "warning: %s\n", s.warning)
	}
	fmt.Fprintf(&b, "sharing (%s): %d regions, %d conflict-free\n", unit, len(res), free)
	for _, tc := range res {
		if len(tc.Shared) == 0 {
			fmt.Fprintf(&b, "%s (cpus %v): conflict-free\n", tc.Name, tc.CPUs)
			continue
		}
		fmt.Fprintf(&b, "%s (cpus %v): %d shared ranges\n", tc.Name, tc.CPUs, len(tc.Shared))
		for _, sh := range tc.Shared {
			fmt.Fprintf(&b, "  %s (%#x, %d bytes): cpu %d %s at %s, cpu %d %s at %s\n", sh.Addr, sh.RawAddr, sh.Size,
				sh.CPU1, verb(sh.Write1), sh.Stack1[0], sh.CPU2, verb(sh.Write2), sh.Stack2[0])
		}
	}
	if err := s.out.Text(s.Name(), b.String()); err != nil {
		return err
	}
	return s.out.JSON(s.Name(), struct {
		Warning   string     `json:"warning,omitempty"`
		TestCases []TestCase `json:"testcases"`
	}{s.warning, res})
}

func verb(wrote bool) string {
	if wrote {
		return "wrote"
	}
	return "read"
}
