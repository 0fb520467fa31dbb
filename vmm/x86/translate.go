package x86

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	page4K     = 4096
	page4KMask = page4K - 1

	cr0PG   = 1 << 31
	cr0WP   = 1 << 16
	cr4PAE  = 1 << 5
	cr4LA57 = 1 << 12
	eferNXE = 1 << 11
	eferLMA = 1 << 10

	pteP    = 1 << 0
	pteRW   = 1 << 1
	pteUS   = 1 << 2
	pteA    = 1 << 5
	pteD    = 1 << 6
	ptePS   = 1 << 7
	pteXD   = 1 << 63
	pteAddr = 0x000F_FFFF_FFFF_F000 // bits 51:12
)

// FaultReason says why a translation failed.
type FaultReason uint8

// The reasons a translation fails.
const (
	// FaultNotPresent: a paging-structure entry has P clear.
	FaultNotPresent FaultReason = iota + 1
	// FaultProtection: the entries forbid the access (user, write, NX).
	FaultProtection
	// FaultNonCanonical: the address is not canonical, a #GP for the guest.
	FaultNonCanonical
	// FaultNotRAM: a paging-structure entry lies outside RAM, so the walk
	// cannot go on; not a guest #PF, but no page can be named either.
	FaultNotRAM
)

func (r FaultReason) String() string {
	switch r {
	case FaultNotPresent:
		return "not present"
	case FaultProtection:
		return "protection violation"
	case FaultNonCanonical:
		return "non-canonical address"
	case FaultNotRAM:
		return "paging-structure entry outside RAM"
	}
	return fmt.Sprintf("FaultReason(%d)", uint8(r))
}

// PageFault is a translation the guest's own page tables refuse: the
// guest's fault, not an error of the VMM.
type PageFault struct {
	Addr   uint64 // linear address
	Kind   Kind
	Reason FaultReason
	// Level is the paging level (5 or 4 = PML5/PML4 ... 1 = PT) where the
	// walk stopped; 0 for a non-canonical address.
	Level int
	// Entry is the guest-physical address of the entry at Level.
	Entry uint64
}

func (f *PageFault) Error() string {
	if f.Reason == FaultNonCanonical {
		return fmt.Sprintf("x86: %s at %#x: %s", f.Kind, f.Addr, f.Reason)
	}
	return fmt.Sprintf("x86: %s at %#x: %s (level %d entry at gpa %#x)", f.Kind, f.Addr, f.Reason, f.Level, f.Entry)
}

// walkEntry is one paging-structure entry a walk reads.
type walkEntry struct {
	addr uint64
	sets bool // the walk writes it, to set A (or D on the leaf of a write)
}

// walkResult is the outcome of one page walk; entries are listed, top
// level first, even when the walk faults.
type walkResult struct {
	gpa     uint64
	entries []walkEntry
}

// Translate walks the 4-level (or, with CR4.LA57, 5-level) page tables
// from CR3, with 4 KiB, 2 MiB and 1 GiB pages, and checks present, user
// (the guest runs at CPL 3, so every level must allow user access),
// writable and, with EFER.NXE, no-execute. It returns the guest-physical
// address and the physical addresses of the paging-structure entries the
// hardware would write to set Accessed/Dirty bits: those whose A bit, or
// D bit on the leaf of a write, is clear. Those entries are also returned
// with a *PageFault, since the hardware may set A bits on the way to a
// fault. CR0.WP only matters to supervisor-mode writes, which a CPL 3
// guest makes only implicitly (descriptor tables); Translate makes user
// accesses.
func Translate(mem Memory, cpu *CPU, va uint64, k Kind) (gpa uint64, adWrites []uint64, err error) {
	if err := checkLongMode(cpu); err != nil {
		return 0, nil, err
	}
	w, err := walkPage(mem, cpu, va, k, false)
	for _, e := range w.entries {
		if e.sets {
			adWrites = append(adWrites, e.addr)
		}
	}
	return w.gpa, adWrites, err
}

// checkMode refuses CPU state that is not 64-bit paging.
func checkLongMode(cpu *CPU) error {
	if cpu.CR0&cr0PG == 0 || cpu.CR4&cr4PAE == 0 || cpu.EFER&eferLMA == 0 {
		return errors.New("x86: not in 64-bit mode: CR0.PG, CR4.PAE and EFER.LMA must be set")
	}
	return nil
}

// canonical reports whether va's unused top bits copy its top used bit.
func canonical(cpu *CPU, va uint64) bool {
	bits := 48
	if cpu.CR4&cr4LA57 != 0 {
		bits = 57
	}
	top := int64(va) >> (bits - 1)
	return top == 0 || top == -1
}

// walk translates va for an access of kind k, made in supervisor mode
// when supervisor is set (the implicit accesses to descriptor tables).
// Checks the hardware may make but this walk cannot be sure of (reserved
// bits, protection keys, SMAP) are left out: a fault that hardware would
// not take would hide an access.
func walkPage(mem Memory, cpu *CPU, va uint64, k Kind, supervisor bool) (walkResult, error) {
	var res walkResult
	if !canonical(cpu, va) {
		return res, &PageFault{Addr: va, Kind: k, Reason: FaultNonCanonical}
	}
	levels := 4
	if cpu.CR4&cr4LA57 != 0 {
		levels = 5
	}
	table := cpu.CR3 & pteAddr
	user, writable, nx := true, true, false
	for level := levels; level >= 1; level-- {
		shift := 12 + 9*(level-1)
		addr := table + (va>>shift&511)*8
		fault := func(r FaultReason) error {
			return &PageFault{Addr: va, Kind: k, Reason: r, Level: level, Entry: addr}
		}
		var b [8]byte
		if !mem.ReadPhys(addr, b[:]) {
			return res, fault(FaultNotRAM)
		}
		e := binary.LittleEndian.Uint64(b[:])
		if e&pteP == 0 {
			res.entries = append(res.entries, walkEntry{addr: addr})
			return res, fault(FaultNotPresent)
		}
		user = user && e&pteUS != 0
		writable = writable && e&pteRW != 0
		nx = nx || (cpu.EFER&eferNXE != 0 && e&pteXD != 0)
		leaf := level == 1 || (e&ptePS != 0 && (level == 2 || level == 3))
		if !leaf {
			res.entries = append(res.entries, walkEntry{addr: addr, sets: e&pteA == 0})
			table = e & pteAddr
			continue
		}
		allowed := permitted(cpu, k, supervisor, user, writable, nx)
		sets := e&pteA == 0 || (allowed && k == KindWrite && e&pteD == 0)
		res.entries = append(res.entries, walkEntry{addr: addr, sets: sets})
		if !allowed {
			return res, fault(FaultProtection)
		}
		size := uint64(1) << shift
		res.gpa = e&pteAddr&^(size-1) | va&(size-1)
		return res, nil
	}
	return res, errors.New("x86: page walk ran past level 1")
}

// permitted applies the access rights the walk accumulated.
func permitted(cpu *CPU, k Kind, supervisor, user, writable, nx bool) bool {
	switch {
	case !supervisor && !user:
		return false
	case k == KindWrite && !writable:
		return supervisor && cpu.CR0&cr0WP == 0
	case k == KindFetch && nx:
		return false
	}
	return true
}
