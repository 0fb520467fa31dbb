package x86

import (
	"cmp"
	"errors"
	"slices"
	"testing"
)

const (
	codeVA  = 0x400000
	codeGPA = 0x200000
	dataVA  = 0x600000
	dataGPA = 0x300000
)

// ptEntries are the paging-structure reads of va's walk at levels.
func ptEntries(pt *pageTables, va uint64, levels ...int) []Access {
	var acc []Access
	for _, l := range levels {
		acc = append(acc, Access{GPA: pt.entryAddr(va, l), Size: 8, Kind: KindRead, PageTable: true})
	}
	return acc
}

func sortAccesses(a []Access) []Access {
	a = slices.Clone(a)
	slices.SortFunc(a, func(x, y Access) int {
		return cmp.Or(cmp.Compare(x.GPA, y.GPA), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Size, y.Size))
	})
	return a
}

// analyzeAt writes code at va (already mapped) and analyzes it.
func analyzeAt(t *testing.T, mem *fakePhysMem, cpu *CPU, va uint64, code []byte) *Footprint {
	t.Helper()
	for i, b := range code { // the code may cross a page
		g, _, err := Translate(mem, cpu, va+uint64(i), KindFetch)
		if err != nil {
			break
		}
		mem.write(g, []byte{b})
	}
	cpu.RIP = va
	fp, err := Analyze(mem, cpu)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func checkAccesses(t *testing.T, fp *Footprint, want ...[]Access) {
	t.Helper()
	var all []Access
	for _, w := range want {
		all = append(all, w...)
	}
	if got, w := sortAccesses(fp.Accesses), sortAccesses(all); !slices.Equal(got, w) {
		t.Errorf("accesses\n got  %+v\n want %+v", got, w)
	}
}

func TestAnalyzeLoad(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(dataVA, dataGPA, fAll)
	cpu.GPR[gprRBX] = dataVA + 0x10
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x8b, 0x03}) // mov rax, [rbx]
	if fp.Len != 3 || fp.Inst.Len != 3 || fp.Approximate || len(fp.Faults) != 0 {
		t.Errorf("footprint %+v", fp)
	}
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2, 1),
		ptEntries(pt, dataVA, 2, 1), // PML4E and PDPTE are shared
		[]Access{
			{GPA: codeGPA, Size: 3, Kind: KindFetch, Linear: codeVA},
			{GPA: dataGPA + 0x10, Size: 8, Kind: KindRead, Linear: dataVA + 0x10},
		})
	// Each walk's entries come before the bytes it translates.
	if a := fp.Accesses; !a[3].PageTable || a[4].Kind != KindFetch || a[len(a)-1].Kind != KindRead || a[len(a)-1].PageTable {
		t.Errorf("order: %+v", a)
	}
}

// An instruction crossing a page, its halves mapped to non-adjacent
// physical pages (the second below the first).
func TestAnalyzeInstructionCrossesPage(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(codeVA+page4K, 0x7000, fAll)
	pt.map4K(dataVA, dataGPA, fAll)
	cpu.GPR[gprRBX] = dataVA
	code := []byte{0x48, 0x8b, 0x03}
	fp := analyzeAt(t, mem, cpu, codeVA+page4K-2, code)
	if fp.Len != 3 || !slices.Equal(fp.Code, code) || len(fp.Faults) != 0 {
		t.Fatalf("footprint %+v", fp)
	}
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2, 1),
		ptEntries(pt, codeVA+page4K, 1),
		ptEntries(pt, dataVA, 2, 1),
		[]Access{
			{GPA: codeGPA + page4K - 2, Size: 2, Kind: KindFetch, Linear: codeVA + page4K - 2},
			{GPA: 0x7000, Size: 1, Kind: KindFetch, Linear: codeVA + page4K},
			{GPA: dataGPA, Size: 8, Kind: KindRead, Linear: dataVA},
		})
}

func TestAnalyzeInstructionIntoUnmappedPage(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(codeVA+page4K, 0x7000, fAll&^fP)
	fp := analyzeAt(t, mem, cpu, codeVA+page4K-2, []byte{0x48, 0x8b, 0x03})
	if !slices.Equal(fp.Faults, []uint64{codeVA + page4K}) || fp.Len != 0 {
		t.Errorf("footprint %+v", fp)
	}
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2, 1),
		ptEntries(pt, codeVA+page4K, 1),
		[]Access{{GPA: codeGPA + page4K - 2, Size: 2, Kind: KindFetch, Linear: codeVA + page4K - 2}})
}

// An instruction that ends on its page needs nothing of the next one.
func TestAnalyzeInstructionEndsBeforeUnmappedPage(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(dataVA, dataGPA, fAll)
	cpu.GPR[gprRSP] = dataVA + 0x100
	fp := analyzeAt(t, mem, cpu, codeVA+page4K-1, []byte{0xc3}) // ret
	if len(fp.Faults) != 0 || fp.Len != 1 {
		t.Errorf("footprint %+v", fp)
	}
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2, 1),
		ptEntries(pt, dataVA, 2, 1),
		[]Access{
			{GPA: codeGPA + page4K - 1, Size: 1, Kind: KindFetch, Linear: codeVA + page4K - 1},
			{GPA: dataGPA + 0x100, Size: 8, Kind: KindRead, Linear: dataVA + 0x100},
		})
}

func TestAnalyzeFetchFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint64
		gpa   uint64
	}{
		{"not present", fAll &^ fP, codeGPA},
		{"no execute", fAll | fXD, codeGPA},
		{"supervisor", fAll &^ fUS, codeGPA},
		{"code outside RAM", fAll, 0x1_0000_0000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, pt, cpu := newPagedWorld(t)
			pt.map4K(codeVA, tc.gpa, tc.flags)
			cpu.RIP = codeVA + 0x10
			fp, err := Analyze(mem, cpu)
			if err != nil || !slices.Equal(fp.Faults, []uint64{codeVA + 0x10}) || fp.Len != 0 {
				t.Errorf("footprint %+v, %v", fp, err)
			}
			checkAccesses(t, fp, ptEntries(pt, codeVA, 4, 3, 2, 1))
		})
	}
}

// Data straddling two virtual pages mapped to non-adjacent physical pages.
func TestAnalyzeDataCrossesPage(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(dataVA, dataGPA, fAll)
	pt.map4K(dataVA+page4K, 0x250000, fAll)
	cpu.GPR[gprRBX] = dataVA + page4K - 4
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x89, 0x03}) // mov [rbx], rax
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2, 1),
		ptEntries(pt, dataVA, 2, 1),
		ptEntries(pt, dataVA+page4K, 1),
		[]Access{
			{GPA: codeGPA, Size: 3, Kind: KindFetch, Linear: codeVA},
			{GPA: dataGPA + page4K - 4, Size: 4, Kind: KindWrite, Linear: dataVA + page4K - 4},
			{GPA: 0x250000, Size: 4, Kind: KindWrite, Linear: dataVA + page4K},
		})
}

func TestAnalyzeDataFaults(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(dataVA, dataGPA, fAll&^fRW)
	pt.map4K(dataVA+page4K, 0x250000, fAll&^fP)
	cpu.GPR[gprRBX] = dataVA + page4K - 4
	// A read: the first page is readable, the second not present.
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x8b, 0x03})
	if !slices.Equal(fp.Faults, []uint64{dataVA + page4K}) {
		t.Errorf("faults %#x", fp.Faults)
	}
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2, 1),
		ptEntries(pt, dataVA, 2, 1),
		ptEntries(pt, dataVA+page4K, 1),
		[]Access{
			{GPA: codeGPA, Size: 3, Kind: KindFetch, Linear: codeVA},
			{GPA: dataGPA + page4K - 4, Size: 4, Kind: KindRead, Linear: dataVA + page4K - 4},
		})
	// A write: the first page is read-only.
	fp = analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x89, 0x03})
	if !slices.Equal(fp.Faults, []uint64{dataVA + page4K - 4, dataVA + page4K}) {
		t.Errorf("faults %#x", fp.Faults)
	}
	// Non-canonical: a #GP, reported as a fault without a walk.
	cpu.GPR[gprRBX] = 0x8000_0000_0000
	fp = analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x8b, 0x03})
	if !slices.Equal(fp.Faults, []uint64{0x8000_0000_0000}) {
		t.Errorf("faults %#x", fp.Faults)
	}
}

func TestAnalyzeAccessedDirty(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll&^fA)
	pt.map4K(dataVA, dataGPA, fAll&^(fA|fD))
	pt.setEntry(dataVA, 2, mem.read64(pt.entryAddr(dataVA, 2))&^fA)
	cpu.GPR[gprRBX] = dataVA
	adWrite := func(va uint64, level int) Access {
		return Access{GPA: pt.entryAddr(va, level), Size: 8, Kind: KindWrite, PageTable: true}
	}
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x89, 0x03}) // mov [rbx], rax
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2),
		[]Access{adWrite(codeVA, 1), adWrite(dataVA, 2), adWrite(dataVA, 1),
			{GPA: codeGPA, Size: 3, Kind: KindFetch, Linear: codeVA},
			{GPA: dataGPA, Size: 8, Kind: KindWrite, Linear: dataVA},
		})
	// A read of a page with A set and D clear writes no entry.
	pt.map4K(dataVA, dataGPA, fAll&^fD)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.setEntry(dataVA, 2, mem.read64(pt.entryAddr(dataVA, 2))|fA)
	fp = analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x8b, 0x03})
	for _, a := range fp.Accesses {
		if a.Kind == KindWrite {
			t.Errorf("read wrote %+v", a)
		}
	}
}

func TestAnalyzeLargePages(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	mem.size = 8 << 30
	pt.map2M(codeVA&^(2<<20-1), codeGPA&^(2<<20-1), fAll) // code in a 2 MiB page
	pt.map1G(0x80_0000_0000, 0x1_0000_0000, fAll)         // data in a 1 GiB page
	cpu.GPR[gprRBX] = 0x80_1234_5678
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x8b, 0x03})
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2),
		ptEntries(pt, 0x80_0000_0000, 4, 3),
		[]Access{
			{GPA: codeGPA, Size: 3, Kind: KindFetch, Linear: codeVA},
			{GPA: 0x1_1234_5678, Size: 8, Kind: KindRead, Linear: 0x80_1234_5678},
		})
}

// A paging-structure entry outside RAM is a fault, not a panic or error.
func TestAnalyzeTableOutsideRAM(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.setEntry(dataVA, 2, 0x7fff_f000|fP|fRW|fUS|fA)
	cpu.GPR[gprRBX] = dataVA
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0x8b, 0x03})
	if !slices.Equal(fp.Faults, []uint64{dataVA}) {
		t.Errorf("faults %#x", fp.Faults)
	}
}

// Descriptor tables are reached by supervisor-mode walks: a GDT in a
// supervisor-only page is no fault.
func TestAnalyzeDescriptorTable(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(dataVA, dataGPA, fAll)
	pt.map4K(0x7000_0000, 0x280000, fAll&^fUS)
	cpu.GDTBase, cpu.GDTLimit = 0x7000_0000, 0x7f
	cpu.GPR[gprRSP] = dataVA
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0x48, 0xcf}) // iretq
	if len(fp.Faults) != 0 || !fp.Approximate {
		t.Errorf("footprint %+v", fp)
	}
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2, 1),
		ptEntries(pt, dataVA, 2, 1),
		ptEntries(pt, 0x7000_0000, 3, 2, 1),
		[]Access{
			{GPA: codeGPA, Size: 2, Kind: KindFetch, Linear: codeVA},
			{GPA: dataGPA, Size: 40, Kind: KindRead, Linear: dataVA},
			{GPA: 0x280000, Size: 0x80, Kind: KindWrite, Linear: 0x7000_0000},
		})
}

// XSAVE of an unknown size at an unaligned address covers two pages and
// is approximate.
func TestAnalyzeXsaveApproximate(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(dataVA, dataGPA, fAll)
	pt.map4K(dataVA+page4K, 0x250000, fAll)
	cpu.GPR[gprRBX] = dataVA + 0x40
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0x0f, 0xae, 0x23})
	if !fp.Approximate {
		t.Error("not approximate")
	}
	var data []Access
	for _, a := range fp.Accesses {
		if !a.PageTable && a.Kind == KindWrite {
			data = append(data, a)
		}
	}
	want := []Access{
		{GPA: dataGPA + 0x40, Size: page4K - 0x40, Kind: KindWrite, Linear: dataVA + 0x40},
		{GPA: 0x250000, Size: 0x40, Kind: KindWrite, Linear: dataVA + page4K},
	}
	if !slices.Equal(data, want) {
		t.Errorf("got %+v", data)
	}
}

// MOVSB with both operands in one page walks that page's tables twice
// but lists each entry once; the PTE, with D clear, as the write's.
func TestAnalyzeDeduplicates(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(dataVA, dataGPA, fAll&^fD)
	cpu.GPR[gprRSI], cpu.GPR[gprRDI] = dataVA+1, dataVA+2
	fp := analyzeAt(t, mem, cpu, codeVA, []byte{0xa4})
	checkAccesses(t, fp,
		ptEntries(pt, codeVA, 4, 3, 2, 1),
		ptEntries(pt, dataVA, 2),
		[]Access{
			{GPA: pt.entryAddr(dataVA, 1), Size: 8, Kind: KindWrite, PageTable: true},
			{GPA: codeGPA, Size: 1, Kind: KindFetch, Linear: codeVA},
			{GPA: dataGPA + 1, Size: 1, Kind: KindRead, Linear: dataVA + 1},
			{GPA: dataGPA + 2, Size: 1, Kind: KindWrite, Linear: dataVA + 2},
		})
}

// An undecodable instruction is an error, and the footprint still names
// its code pages.
func TestAnalyzeDecodeError(t *testing.T) {
	mem, pt, cpu := newPagedWorld(t)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(codeVA+page4K, 0x7000, fAll)
	mem.write(codeGPA+page4K-2, []byte{0xd5, 0x00}) // APX REX2: unknown
	cpu.RIP = codeVA + page4K - 2
	fp, err := Analyze(mem, cpu)
	var de *DecodeError
	if !errors.As(err, &de) || fp == nil {
		t.Fatalf("%v, %v", fp, err)
	}
	if !fp.Approximate || fp.Len != 15 {
		t.Errorf("footprint %+v", fp)
	}
	var fetches []Access
	for _, a := range fp.Accesses {
		if a.Kind == KindFetch {
			fetches = append(fetches, a)
		}
	}
	want := []Access{
		{GPA: codeGPA + page4K - 2, Size: 2, Kind: KindFetch, Linear: codeVA + page4K - 2},
		{GPA: 0x7000, Size: 13, Kind: KindFetch, Linear: codeVA + page4K},
	}
	if !slices.Equal(fetches, want) {
		t.Errorf("fetches %+v", fetches)
	}
}

func TestAnalyzeRefuses(t *testing.T) {
	mem, _, cpu := newPagedWorld(t)
	if _, err := Analyze(nil, cpu); err == nil {
		t.Error("nil memory")
	}
	if _, err := Analyze(mem, nil); err == nil {
		t.Error("nil CPU")
	}
	cpu.CR0 = 0
	if _, err := Analyze(mem, cpu); err == nil {
		t.Error("paging off")
	}
}
