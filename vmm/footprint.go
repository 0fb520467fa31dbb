package vmm

import (
	"fmt"
	"strings"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/x86"
)

// ramReader reads guest-physical memory through the VMM's own view,
// which always has every right: the page walk and the instruction bytes
// are read whatever the faulting vCPU may touch.
type ramReader []byte

func (r ramReader) ReadPhys(gpa uint64, b []byte) bool {
	if gpa > uint64(len(r)) || uint64(len(b)) > uint64(len(r))-gpa {
		return false
	}
	copy(b, r[gpa:])
	return true
}

// x86CPU is the state x86.Analyze needs, from the vCPU's registers.
func (c *vcpu) x86CPU(r *kvm.Regs) (*x86.CPU, error) {
	s, err := c.kvm.Sregs()
	if err != nil {
		return nil, fmt.Errorf("read segment registers: %w", err)
	}
	lr := toLogRegs(r)
	return &x86.CPU{Regs: x86.Regs{GPR: lr.GPR, RIP: r.RIP, RFLAGS: r.RFLAGS},
		FSBase: s.FS.Base, GSBase: s.GS.Base, CR0: s.CR0, CR3: s.CR3, CR4: s.CR4, EFER: s.EFER,
		XSaveSize: c.xsaveSize}, nil
}

// want is one page an instruction needs more rights on.
type want struct {
	page int
	kind crew.Kind
}

// footprint is what the VMM made of a faulting instruction.
type footprint struct {
	wants []want
	fp    *x86.Footprint
	// unknown is why the decoder could not model the instruction; the
	// footprint then holds only its code bytes.
	unknown error
	// cpu is the state it was decoded in.
	cpu *x86.CPU
}

// wanted decodes the instruction c faulted on, translates its accesses
// through the guest's page tables, and lists the CREW pages it needs more
// rights on than c has, in the order the instruction names them: the
// code bytes, the page-table entries the walk reads and writes, the data
// operands. A page needed for a read and a write is wanted once, for the
// write.
func (k *crewCtl) wanted(c *vcpu, ram []byte, r *kvm.Regs) (*footprint, error) {
	cpu, err := c.x86CPU(r)
	if err != nil {
		return nil, err
	}
	fp, err := x86.Analyze(ramReader(ram), cpu)
	if fp == nil {
		return nil, err
	}
	out := &footprint{fp: fp, unknown: err, cpu: cpu}
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
		if c.rights[page] >= need {
			continue
		}
		if i, dup := at[page]; dup {
			if kind == crew.Write {
				out.wants[i].kind = crew.Write
			}
			continue
		}
		at[page] = len(out.wants)
		out.wants = append(out.wants, want{page: page, kind: kind})
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

// describe names the instruction and its footprint for an error.
func (f *footprint) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instruction % x", f.fp.Code)
	if f.fp.Inst.Op != 0 {
		fmt.Fprintf(&b, " (%v)", f.fp.Inst)
	}
	b.WriteString(", footprint [")
	for i, a := range f.fp.Accesses {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s %#x+%d", a.Kind, a.GPA, a.Size)
	}
	b.WriteString("]")
	if len(f.fp.Faults) > 0 {
		fmt.Fprintf(&b, ", unmapped %#x", f.fp.Faults)
	}
	if f.unknown != nil {
		fmt.Fprintf(&b, ", not modelled: %v", f.unknown)
	}
	return b.String()
}
