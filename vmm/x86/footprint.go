// Package x86 computes the guest-physical footprint of one x86-64
// instruction: every page its fetch, its operands and its page walks touch.
//
// The recorder enforces page ownership with mprotect on each vCPU's own
// mapping of guest RAM; a protection fault comes back from KVM_RUN as a
// bare EFAULT with RIP at the instruction and no address
// (crew/HOSTFACTS.md). The VMM learns which pages were wanted by decoding
// the instruction at RIP and walking the guest's own page tables, which is
// what this package does, without KVM: it reads guest memory through the
// Memory interface only. Where it cannot be exact it over-approximates,
// because a missing page breaks recording while an extra one only costs a
// needless ownership transfer.
//
// The guest runs at CPL 3 in 64-bit mode. Not modelled, and so missing
// from a footprint: event delivery (the IDT, TSS and kernel stack an
// exception or INT n would touch: exceptions reach the VMM as exits),
// CET shadow-stack pushes and pops of CALL and RET, the TSS I/O bitmap of
// IN/OUT, APX (REX2) encodings and MPX bound tables (BND instructions are
// taken as NOPs, as they are with MPX disabled). SGX, SENDUIPI and
// SAVEPREVSSP fail with ErrUnmodelled rather than be guessed.
package x86

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/arch/x86/x86asm"
)

// Regs are the general-purpose registers, RIP and RFLAGS.
type Regs struct {
	// GPR in hardware order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15.
	GPR         [16]uint64
	RIP, RFLAGS uint64
}

// CPU is the vCPU state the footprint depends on.
type CPU struct {
	Regs
	// FSBase and GSBase are added to FS- and GS-relative operands.
	FSBase, GSBase uint64
	// Control registers and EFER select the paging mode and the checks of
	// the page walk (CR0.WP, CR4.LA57, EFER.NXE).
	CR0, CR3, CR4, EFER uint64
	// XSaveSize is the size of the XSAVE area for the enabled features
	// (CPUID 0xD.0 EBX); 0 means use a safe upper bound (4096 bytes, which
	// holds everything up to AVX-512 but not AMX tile data).
	XSaveSize uint64

	// GDTBase, GDTLimit, LDTBase and LDTLimit locate the descriptor tables
	// that instructions loading a segment register read (MOV Sreg, POP FS,
	// LFS, far CALL/JMP/RET, IRET, LAR, VERR...). All zero means unknown:
	// such instructions then fail with ErrDescriptorTables.
	GDTBase  uint64
	GDTLimit uint16
	LDTBase  uint64
	LDTLimit uint32

	// Vector holds the vector registers, needed only by gathers and
	// scatters, whose addresses come from a vector index register. Nil
	// makes such instructions fail with ErrVectorRegs.
	Vector *VectorRegs
}

// VectorRegs are ZMM0-31, where XMMn and YMMn are the low 16 and 32
// bytes of ZMM[n], little-endian as XSAVE lays them out, and the opmask
// registers k0-k7: the index and mask operands of gathers and scatters.
type VectorRegs struct {
	ZMM [32][64]byte
	K   [8]uint64
}

// Memory reads guest-physical memory; ok=false when [gpa,gpa+len(b)) is
// not RAM.
type Memory interface {
	ReadPhys(gpa uint64, b []byte) bool
}

// Kind is the direction of an access.
type Kind uint8

// The kinds of access. A read-modify-write is a KindWrite.
const (
	KindRead Kind = iota
	KindWrite
	KindFetch
)

func (k Kind) String() string {
	switch k {
	case KindRead:
		return "read"
	case KindWrite:
		return "write"
	case KindFetch:
		return "fetch"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Access is one guest-physical byte range an instruction may touch. It
// never crosses a 4 KiB page.
type Access struct {
	GPA, Size uint64
	Kind      Kind
	// PageTable marks a paging-structure entry that the walk reads
	// (KindRead) or updates to set its Accessed or Dirty bit (KindWrite).
	// The recorder must not revoke rights on those pages as if they were
	// data.
	PageTable bool
	// Linear is the linear address of the first byte; 0 for PageTable.
	Linear uint64
}

// Footprint is everything the instruction at cpu.RIP may touch.
type Footprint struct {
	// Inst is x86asm's decoding; Op is 0 when x86asm cannot decode the
	// instruction and the package's own fallback parser named its operand.
	Inst x86asm.Inst
	// Len is the instruction's length in bytes, and Code its bytes.
	Len  int
	Code []byte
	// Accesses are the code fetch pages, the data operands and the
	// paging-structure entries of every walk, each walk's entries before
	// the bytes it translates.
	Accesses []Access
	// Faults lists linear addresses the guest's page tables do not map (or
	// forbid) for the needed access, or that are not canonical: the guest's
	// own page fault (or #GP), not a VMM error. A walk that reads a
	// paging-structure entry outside RAM also lands here.
	Faults []uint64
	// Approximate is set when the footprint is a superset (a conservative
	// bound) rather than exact.
	Approximate bool
}

// maxAccess bounds one linear access, so that a corrupt XSaveSize or
// descriptor-table limit cannot make Analyze walk for ever.
const maxAccess = 1 << 20

// Analyze computes the footprint of the instruction at cpu.RIP: it
// fetches the instruction through the guest's page tables, decodes it and
// translates every access it makes. Guest faults go to Faults, not to
// the error. When the instruction cannot be decoded or modelled, the
// error is non-nil (a *DecodeError, or wraps ErrUnmodelled,
// ErrVectorRegs or ErrDescriptorTables) and the Footprint still holds the
// fetch of its bytes, so that a fault on the code page can be served.
func Analyze(mem Memory, cpu *CPU) (*Footprint, error) {
	if mem == nil || cpu == nil {
		return nil, errors.New("x86: Analyze needs a Memory and a CPU")
	}
	if err := checkLongMode(cpu); err != nil {
		return nil, err
	}
	a := &analysis{mem: mem, cpu: cpu, fp: &Footprint{}}
	dec, ok, err := a.fetchAndDecode()
	if !ok || err != nil {
		return a.fp, err
	}
	a.fp.Approximate = a.fp.Approximate || dec.approx
	for _, la := range dec.acc {
		if la.Size > maxAccess {
			return a.fp, fmt.Errorf("x86: instruction at %#x: %s of %d bytes at %#x is implausible",
				cpu.RIP, la.Kind, la.Size, la.Addr)
		}
		a.fp.Approximate = a.fp.Approximate || la.Approximate
		a.linear(la.Addr, la.Size, la.Kind, la.Supervisor)
	}
	return a.fp, nil
}

// analysis accumulates one footprint.
type analysis struct {
	mem Memory
	cpu *CPU
	fp  *Footprint
}

// add appends acc unless it is already there.
func (a *analysis) add(acc Access) {
	for _, old := range a.fp.Accesses {
		if old == acc {
			return
		}
	}
	a.fp.Accesses = append(a.fp.Accesses, acc)
}

func (a *analysis) fault(va uint64) {
	for _, old := range a.fp.Faults {
		if old == va {
			return
		}
	}
	a.fp.Faults = append(a.fp.Faults, va)
}

// entries adds the paging-structure entries of a walk. An entry that one
// walk reads and another writes (a read and a write through one PTE with
// D clear) is listed once, as a write.
func (a *analysis) entries(w walkResult) {
	for _, e := range w.entries {
		acc := Access{GPA: e.addr, Size: 8, Kind: KindRead, PageTable: true}
		if e.sets {
			acc.Kind = KindWrite
		}
		i := slices.IndexFunc(a.fp.Accesses, func(old Access) bool { return old.PageTable && old.GPA == e.addr })
		switch {
		case i < 0:
			a.fp.Accesses = append(a.fp.Accesses, acc)
		case acc.Kind == KindWrite:
			a.fp.Accesses[i].Kind = KindWrite
		}
	}
}

// linear translates [va, va+size), one virtual page at a time, since two
// virtual pages may map anywhere.
func (a *analysis) linear(va, size uint64, k Kind, supervisor bool) {
	for size > 0 {
		n := min(size, page4K-va&page4KMask)
		w, err := walkPage(a.mem, a.cpu, va, k, supervisor)
		a.entries(w)
		if err != nil {
			a.fault(va)
		} else {
			a.add(Access{GPA: w.gpa, Size: n, Kind: k, Linear: va})
		}
		va += n
		size -= n
	}
}
