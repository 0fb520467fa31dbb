package x86

import (
	"encoding/binary"
	"testing"
)

// fuzzWorld maps a small guest: two code pages on non-adjacent frames, a
// data window of pages with assorted rights and A/D states, a 2 MiB page,
// a 1 GiB page that runs past the end of RAM and a table outside RAM.
func fuzzWorld() (*fakePhysMem, *pageTables) {
	mem := newFakePhysMem(16 << 20)
	pt := newPageTables(mem, 0x100000, 4)
	pt.map4K(codeVA, codeGPA, fAll)
	pt.map4K(codeVA+page4K, 0x7000, fAll&^fA)
	flags := []uint64{fAll, fAll &^ fRW, fAll &^ fP, fAll &^ (fA | fD), fAll | fXD, fAll &^ fUS, fAll &^ fD}
	for i := uint64(0); i < 16; i++ {
		pt.map4K(dataVA+i*page4K, dataGPA+(15-i)*page4K, flags[i%uint64(len(flags))])
	}
	pt.map2M(0x4000_0000, 0x800000, fAll)
	pt.map1G(0x80_0000_0000, 0, fAll&^fA)
	pt.setEntry(0xA00000, 2, 0x7fff_f000|fP|fRW|fUS)
	return mem, pt
}

// fuzzCPU derives the registers from regs: each GPR is either taken as is
// or folded into the data window, so that most operands hit mapped pages.
func fuzzCPU(pt *pageTables, ripOff uint16, regs []byte) *CPU {
	cpu := pagedCPU(pt)
	word := func(i int) uint64 {
		var b [8]byte
		if 8*i < len(regs) {
			copy(b[:], regs[8*i:])
		}
		return binary.LittleEndian.Uint64(b[:])
	}
	raw := word(0)
	for i := range cpu.GPR {
		v := word(i + 1)
		if raw>>i&1 == 0 {
			v = dataVA + v%0x11000
		}
		cpu.GPR[i] = v
	}
	cpu.RIP = codeVA + uint64(ripOff)%(2*page4K)
	cpu.RFLAGS = word(17)
	cpu.FSBase, cpu.GSBase = dataVA+word(18)%0x1000, word(19)
	cpu.XSaveSize = word(20) % 0x3000
	if raw>>16&1 != 0 {
		cpu.GDTBase, cpu.GDTLimit = dataVA, uint16(word(21))
		cpu.LDTBase, cpu.LDTLimit = 0x4000_0000, uint32(word(21)>>16)&0xffff
	}
	if raw>>17&1 != 0 {
		cpu.Vector = &VectorRegs{}
		for i := range cpu.Vector.ZMM {
			for j := range cpu.Vector.ZMM[i] {
				cpu.Vector.ZMM[i][j] = byte(word(22+j%8) >> (8 * (i % 8)))
			}
		}
		for i := range cpu.Vector.K {
			cpu.Vector.K[i] = word(30 + i)
		}
	}
	return cpu
}

// FuzzAnalyze feeds random instruction bytes and registers to Analyze:
// it must not panic, and every access it names must lie within one page.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte{0x48, 0x8b, 0x03}, uint16(page4K-2), []byte{})
	f.Add([]byte{0xf3, 0x48, 0xa5}, uint16(0), []byte{0xff, 0xff})
	f.Add([]byte{0x62, 0xf5, 0x74, 0x48, 0x58, 0x46, 0x02}, uint16(100), []byte{1})
	f.Fuzz(func(t *testing.T, code []byte, ripOff uint16, regs []byte) {
		mem, pt := fuzzWorld()
		cpu := fuzzCPU(pt, ripOff, regs)
		for i, b := range code[:min(len(code), maxInstLen)] {
			if g, _, err := Translate(mem, cpu, cpu.RIP+uint64(i), KindFetch); err == nil {
				mem.write(g, []byte{b})
			}
		}
		fp, err := Analyze(mem, cpu)
		if fp == nil {
			if err == nil {
				t.Fatal("no footprint and no error")
			}
			return
		}
		if fp.Len != len(fp.Code) || fp.Len > maxInstLen {
			t.Fatalf("Len %d, Code % x", fp.Len, fp.Code)
		}
		if err == nil && len(fp.Faults) == 0 && fp.Len == 0 && !fp.Approximate {
			t.Fatalf("no length, no fault: %+v", fp)
		}
		fetched := 0
		for _, a := range fp.Accesses {
			if a.Size == 0 || a.Kind > KindFetch || a.GPA&^page4KMask != (a.GPA+a.Size-1)&^page4KMask {
				t.Fatalf("bad access %+v", a)
			}
			if a.Kind == KindFetch {
				fetched += int(a.Size)
			}
		}
		if fp.Len > 0 && fetched != fp.Len {
			t.Fatalf("fetched %d bytes of %d: %+v", fetched, fp.Len, fp.Accesses)
		}
		// DecodeAccesses must not panic on any bytes or registers either.
		DecodeAccesses(code, cpu)
	})
}
