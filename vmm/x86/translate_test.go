package x86

import (
	"errors"
	"slices"
	"testing"
)

func TestTranslatePageSizes(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(0x400000, 0x2345000, fAll)
	pt.map2M(0x40000000, 0x1600000, fAll)
	pt.map1G(0x7f_8000_0000, 0xC000_0000, fAll)
	mem.size = 8 << 30
	for _, tc := range []struct {
		va, gpa uint64
	}{
		{0x400123, 0x2345123},
		{0x40000000, 0x1600000},
		{0x401ff123, 0x17ff123},
		{0x7f_8000_0000, 0xC000_0000},
		{0x7f_bfff_fff8, 0xFFFF_FFF8},
	} {
		gpa, ad, err := Translate(mem, cpu, tc.va, KindRead)
		if err != nil || gpa != tc.gpa || len(ad) != 0 {
			t.Errorf("Translate(%#x) = %#x, %#x, %v; want %#x", tc.va, gpa, ad, err, tc.gpa)
		}
	}
}

// A large page's frame has its low bits (PAT at bit 12) masked off.
func TestTranslateLargePageFrameBits(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.setEntry(0x40000000, 2, 0x1600000|1<<12|fAll|fPS)
	if gpa, _, err := Translate(mem, cpu, 0x40000010, KindRead); err != nil || gpa != 0x1600010 {
		t.Errorf("got %#x, %v", gpa, err)
	}
}

func TestTranslateFaults(t *testing.T) {
	const va = 0x400000
	for _, tc := range []struct {
		name   string
		setup  func(pt *pageTables, cpu *CPU)
		kind   Kind
		reason FaultReason
		level  int
	}{
		{"PTE not present", func(pt *pageTables, _ *CPU) { pt.map4K(va, 0x5000, fAll&^fP) }, KindRead, FaultNotPresent, 1},
		{"PDE not present", func(pt *pageTables, _ *CPU) { pt.setEntry(va, 2, 0) }, KindRead, FaultNotPresent, 2},
		{"PML4E not present", func(pt *pageTables, _ *CPU) { pt.setEntry(va, 4, 0) }, KindWrite, FaultNotPresent, 4},
		{"supervisor page", func(pt *pageTables, _ *CPU) { pt.map4K(va, 0x5000, fAll&^fUS) }, KindRead, FaultProtection, 1},
		{"supervisor PDPTE", func(pt *pageTables, _ *CPU) {
			pt.map4K(va, 0x5000, fAll)
			pt.setEntry(va, 3, pt.mem.read64(pt.entryAddr(va, 3))&^fUS)
		}, KindRead, FaultProtection, 1},
		{"write to read-only", func(pt *pageTables, _ *CPU) { pt.map4K(va, 0x5000, fAll&^fRW) }, KindWrite, FaultProtection, 1},
		{"write, read-only PDE", func(pt *pageTables, _ *CPU) {
			pt.map4K(va, 0x5000, fAll)
			pt.setEntry(va, 2, pt.mem.read64(pt.entryAddr(va, 2))&^fRW)
		}, KindWrite, FaultProtection, 1},
		{"write, read-only, WP clear (user)", func(pt *pageTables, cpu *CPU) {
			pt.map4K(va, 0x5000, fAll&^fRW)
			cpu.CR0 &^= cr0WP
		}, KindWrite, FaultProtection, 1},
		{"fetch NX", func(pt *pageTables, _ *CPU) { pt.map4K(va, 0x5000, fAll|fXD) }, KindFetch, FaultProtection, 1},
		{"fetch NX in PML4E", func(pt *pageTables, _ *CPU) {
			pt.map4K(va, 0x5000, fAll)
			pt.setEntry(va, 4, pt.mem.read64(pt.entryAddr(va, 4))|fXD)
		}, KindFetch, FaultProtection, 1},
		{"table outside RAM", func(pt *pageTables, _ *CPU) { pt.setEntry(va, 2, 0x7000_0000|fP|fRW|fUS|fA) }, KindRead, FaultNotRAM, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, pt, cpu := newPagedWorld(t)
			tc.setup(pt, cpu)
			_, _, err := Translate(mem, cpu, va+0x10, tc.kind)
			var pf *PageFault
			if !errors.As(err, &pf) {
				t.Fatalf("err = %v, want a *PageFault", err)
			}
			if pf.Reason != tc.reason || pf.Level != tc.level || pf.Addr != va+0x10 || pf.Kind != tc.kind {
				t.Errorf("got %+v, want reason %v at level %d", pf, tc.reason, tc.level)
			}
		})
	}
}

func TestTranslateAllowed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint64
		nxe   bool
		kind  Kind
	}{
		{"read of read-only", fAll &^ fRW, true, KindRead},
		{"fetch of read-only", fAll &^ fRW, true, KindFetch},
		{"fetch of XD page without EFER.NXE", fAll | fXD, false, KindFetch},
		{"read of XD page", fAll | fXD, true, KindRead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, pt, cpu := newPagedWorld(t)
			pt.map4K(0x400000, 0x5000, tc.flags)
			if !tc.nxe {
				cpu.EFER &^= eferNXE
			}
			if gpa, _, err := Translate(mem, cpu, 0x400008, tc.kind); err != nil || gpa != 0x5008 {
				t.Errorf("got %#x, %v", gpa, err)
			}
		})
	}
}

func TestTranslateNonCanonical(t *testing.T) {
	mem, _, cpu := newPagedWorld(t)
	for _, va := range []uint64{0x0000_8000_0000_0000, 0xFFFF_7FFF_FFFF_FFFF, 0x1234_5678_0000_0000} {
		_, _, err := Translate(mem, cpu, va, KindRead)
		var pf *PageFault
		if !errors.As(err, &pf) || pf.Reason != FaultNonCanonical {
			t.Errorf("Translate(%#x): %v, want non-canonical", va, err)
		}
	}
}

func TestTranslateAccessedDirty(t *testing.T) {
	const va = 0x400000
	for _, tc := range []struct {
		name            string
		pdeA, pteA, pte bool // which entries have A (pte: D) clear
		kind            Kind
		want            []int // levels whose entries are written
	}{
		{"all set, write", false, false, false, KindWrite, nil},
		{"PTE A clear, read", false, true, false, KindRead, []int{1}},
		{"PTE D clear, read", false, false, true, KindRead, nil},
		{"PTE D clear, write", false, false, true, KindWrite, []int{1}},
		{"PDE A clear, fetch", true, false, false, KindFetch, []int{2}},
		{"PDE and PTE A clear, write", true, true, false, KindWrite, []int{2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, pt, cpu := newPagedWorld(t)
			leaf := uint64(fAll)
			if tc.pteA {
				leaf &^= fA
			}
			if tc.pte {
				leaf &^= fD
			}
			pt.map4K(va, 0x5000, leaf)
			if tc.pdeA {
				pt.setEntry(va, 2, pt.mem.read64(pt.entryAddr(va, 2))&^fA)
			}
			var want []uint64
			for _, l := range tc.want {
				want = append(want, pt.entryAddr(va, l))
			}
			_, ad, err := Translate(mem, cpu, va, tc.kind)
			if err != nil || !slices.Equal(ad, want) {
				t.Errorf("got %#x, %v; want %#x", ad, err, want)
			}
		})
	}
}

// A faulting write does not set D, but the walk may set A on the way.
func TestTranslateFaultStillSetsAccessed(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(0x400000, 0x5000, fAll&^(fRW|fA|fD))
	_, ad, err := Translate(mem, cpu, 0x400000, KindWrite)
	if err == nil || !slices.Equal(ad, []uint64{pt.entryAddr(0x400000, 1)}) {
		t.Errorf("got %#x, %v", ad, err)
	}
}

func TestTranslateFiveLevel(t *testing.T) {
	mem := newFakePhysMem(64 << 20)
	pt := newPageTables(mem, 0x100000, 5)
	cpu := pagedCPU(pt)
	const va = 0x00AB_CDEF_1234_5000 // needs 57 bits
	pt.map4K(va, 0x7000, fAll)
	if gpa, _, err := Translate(mem, cpu, va+8, KindRead); err != nil || gpa != 0x7008 {
		t.Errorf("got %#x, %v", gpa, err)
	}
	cpu.CR4 &^= cr4LA57
	if _, _, err := Translate(mem, cpu, va, KindRead); err == nil {
		t.Error("57-bit address translated with 4-level paging")
	}
}

func TestTranslateNotLongMode(t *testing.T) {
	mem, _, cpu := newPagedWorld(t)
	cpu.EFER = 0
	if _, _, err := Translate(mem, cpu, 0, KindRead); err == nil {
		t.Error("translated outside long mode")
	}
}

// Implicit supervisor accesses (descriptor tables) need no user bit, and
// write to read-only pages only when CR0.WP is clear.
func TestWalkSupervisor(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(0x400000, 0x5000, fAll&^(fUS|fRW))
	if w, err := walkPage(mem, cpu, 0x400000, KindRead, true); err != nil || w.gpa != 0x5000 {
		t.Errorf("supervisor read: %#x, %v", w.gpa, err)
	}
	if _, err := walkPage(mem, cpu, 0x400000, KindWrite, true); err == nil {
		t.Error("supervisor write to read-only page with CR0.WP")
	}
	cpu.CR0 &^= cr0WP
	if _, err := walkPage(mem, cpu, 0x400000, KindWrite, true); err != nil {
		t.Errorf("supervisor write without CR0.WP: %v", err)
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{KindRead.String(), "read"},
		{KindWrite.String(), "write"},
		{KindFetch.String(), "fetch"},
		{Kind(7).String(), "Kind(7)"},
		{FaultNotPresent.String(), "not present"},
		{FaultReason(9).String(), "FaultReason(9)"},
		{(&PageFault{Addr: 0x1000, Kind: KindWrite, Reason: FaultProtection, Level: 1, Entry: 0x2008}).Error(),
			"x86: write at 0x1000: protection violation (level 1 entry at gpa 0x2008)"},
		{(&PageFault{Addr: 1 << 63, Kind: KindRead, Reason: FaultNonCanonical}).Error(),
			"x86: read at 0x8000000000000000: non-canonical address"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestPagingPages(t *testing.T) {
	mem := newFakePhysMem(1 << 20)
	// PML4 at 0x1000 -> PDPT at 0x2000 -> PD at 0x3000 (one 2 MiB page)
	// and PT at 0x4000; a second PML4 entry names the same PDPT.
	mem.write64(0x1000, 0x2000|pteP|pteRW|pteUS)
	mem.write64(0x1008, 0x2000|pteP|pteRW|pteUS)
	mem.write64(0x2000, 0x3000|pteP|pteRW|pteUS)
	mem.write64(0x3000, 0x200000|pteP|pteRW|pteUS|ptePS)
	mem.write64(0x3008, 0x4000|pteP|pteRW|pteUS)
	mem.write64(0x4000, 0x5000|pteP)
	got := PagingPages(mem, &CPU{CR3: 0x1000})
	want := []uint64{0x1000, 0x2000, 0x3000, 0x4000}
	if !slices.Equal(got, want) {
		t.Fatalf("PagingPages = %#x, want %#x", got, want)
	}
}
