package crewview

import (
	"fmt"
	"strings"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/vmm/x86"
)

// Want is one page an instruction needs more rights on.
type Want struct {
	Page int
	Kind crew.Kind
}

// Footprint is what the VMM made of a faulting instruction.
type Footprint struct {
	Wants []Want
	FP    *x86.Footprint
	// Unknown is why the decoder could not model the instruction; the
	// footprint then holds only its code bytes.
	Unknown error
	// CPU is the state it was decoded in.
	CPU *x86.CPU
}

// Wanted decodes the instruction cpu faulted on, in state x, translates
// its accesses through the guest's page tables, and lists the CREW pages
// it needs more rights on than cpu has, in the order the instruction
// names them: the code bytes, the page-table entries the walk reads and
// writes, the data operands. A page needed for a read and a write is
// wanted once, for the write.
func (k *Views) Wanted(cpu int, x *x86.CPU) (*Footprint, error) {
	fp, err := x86.Analyze(k.mem, x)
	if fp == nil {
		return nil, err
	}
	out := &Footprint{FP: fp, Unknown: err, CPU: x}
	at := map[int]int{}
	for _, a := range fp.Accesses {
		page, ok := k.st.PageOf(a.GPA)
		if !ok {
			continue // not RAM: an MMIO exit, never this fault
		}
		kind := crewKindOf(a.Kind)
		need := crew.ReadOnly
		if kind == crew.Write {
			need = crew.ReadWrite
		}
		if k.rights[cpu][page] >= need {
			continue
		}
		if i, dup := at[page]; dup {
			if kind == crew.Write {
				out.Wants[i].Kind = crew.Write
			}
			continue
		}
		at[page] = len(out.Wants)
		out.Wants = append(out.Wants, Want{Page: page, Kind: kind})
	}
	return out, nil
}

func crewKindOf(k x86.Kind) crew.Kind {
	switch k {
	case x86.KindWrite:
		return crew.Write
	case x86.KindFetch:
		return crew.Fetch
	}
	return crew.Read
}

// FallbackGrant is what the next stage of a fallback grants cpu where
// an instruction's footprint does not explain its fault (a stale guest
// TLB entry, an instruction outside the decoder's model): read rights on
// every page it cannot read; once it can read all, exclusive write on
// every page it cannot write, except the guest's paging structures in
// state x, whose read rights no vCPU may lose.
func (k *Views) FallbackGrant(cpu int, x *x86.CPU) ([]int, crew.Kind) {
	var grant []int
	for p, r := range k.rights[cpu] {
		if r == crew.None {
			grant = append(grant, p)
		}
	}
	if len(grant) > 0 {
		return grant, crew.Read
	}
	tables := map[int]bool{}
	for _, gpa := range x86.PagingPages(k.mem, x) {
		if p, ok := k.st.PageOf(gpa); ok {
			tables[p] = true
		}
	}
	for p, r := range k.rights[cpu] {
		if r != crew.ReadWrite && !tables[p] {
			grant = append(grant, p)
		}
	}
	return grant, crew.Write
}

// Describe names the instruction and its footprint for an error.
func (f *Footprint) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instruction % x", f.FP.Code)
	if f.FP.Inst.Op != 0 {
		fmt.Fprintf(&b, " (%v)", f.FP.Inst)
	}
	b.WriteString(", footprint [")
	for i, a := range f.FP.Accesses {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s %#x+%d", a.Kind, a.GPA, a.Size)
	}
	b.WriteString("]")
	if len(f.FP.Faults) > 0 {
		fmt.Fprintf(&b, ", unmapped %#x", f.FP.Faults)
	}
	if f.Unknown != nil {
		fmt.Fprintf(&b, ", not modelled: %v", f.Unknown)
	}
	return b.String()
}
