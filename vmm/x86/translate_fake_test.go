package x86

import (
	"encoding/binary"
	"testing"
)

// fakeMem is guest RAM [0, size) held in sparse 4 KiB frames.
type fakePhysMem struct {
	size   uint64
	frames map[uint64]*[page4K]byte
}

func newFakePhysMem(size uint64) *fakePhysMem {
	return &fakePhysMem{size: size, frames: map[uint64]*[page4K]byte{}}
}

func (m *fakePhysMem) ReadPhys(gpa uint64, b []byte) bool {
	if gpa >= m.size || uint64(len(b)) > m.size-gpa {
		return false
	}
	for i := range b {
		a := gpa + uint64(i)
		if f := m.frames[a&^page4KMask]; f != nil {
			b[i] = f[a&page4KMask]
		} else {
			b[i] = 0
		}
	}
	return true
}

func (m *fakePhysMem) write(gpa uint64, b []byte) {
	for i, v := range b {
		a := gpa + uint64(i)
		f := m.frames[a&^page4KMask]
		if f == nil {
			f = new([page4K]byte)
			m.frames[a&^page4KMask] = f
		}
		f[a&page4KMask] = v
	}
}

func (m *fakePhysMem) read64(gpa uint64) uint64 {
	var b [8]byte
	m.ReadPhys(gpa, b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func (m *fakePhysMem) write64(gpa, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	m.write(gpa, b[:])
}

// Page-table flags for tests.
const (
	fP   = pteP
	fRW  = pteRW
	fUS  = pteUS
	fA   = pteA
	fD   = pteD
	fPS  = ptePS
	fXD  = pteXD
	fAll = fP | fRW | fUS | fA | fD // a user RW page already accessed and dirty
)

// pageTables builds 4- or 5-level page tables in a fakeMem. Tables are
// allocated from next upwards; intermediate entries are present, user,
// writable and accessed unless a test changes them with setEntry.
type pageTables struct {
	mem    *fakePhysMem
	cr3    uint64
	next   uint64
	levels int
}

func newPageTables(mem *fakePhysMem, tableBase uint64, levels int) *pageTables {
	pt := &pageTables{mem: mem, cr3: tableBase, next: tableBase + page4K, levels: levels}
	mem.write(tableBase, make([]byte, page4K))
	return pt
}

// entryAddr is the gpa of va's entry at level, creating the tables above
// it.
func (pt *pageTables) entryAddr(va uint64, level int) uint64 {
	table := pt.cr3
	for l := pt.levels; ; l-- {
		addr := table + (va>>(12+9*(l-1))&511)*8
		if l == level {
			return addr
		}
		e := pt.mem.read64(addr)
		if e&fP == 0 || e&fPS != 0 {
			e = pt.next | fP | fRW | fUS | fA
			pt.mem.write(pt.next, make([]byte, page4K))
			pt.next += page4K
			pt.mem.write64(addr, e)
		}
		table = e & pteAddr
	}
}

func (pt *pageTables) setEntry(va uint64, level int, e uint64) {
	pt.mem.write64(pt.entryAddr(va, level), e)
}

func (pt *pageTables) map4K(va, gpa, flags uint64) { pt.setEntry(va, 1, gpa|flags) }
func (pt *pageTables) map2M(va, gpa, flags uint64) { pt.setEntry(va, 2, gpa|flags|fPS) }
func (pt *pageTables) map1G(va, gpa, flags uint64) { pt.setEntry(va, 3, gpa|flags|fPS) }

// testCPU is a CPL 3 64-bit vCPU on pt, with NX enabled and CR0.WP set.
func pagedCPU(pt *pageTables) *CPU {
	cpu := &CPU{CR0: cr0PG | cr0WP | 1, CR3: pt.cr3, CR4: cr4PAE, EFER: eferNXE | eferLMA | 1<<8}
	if pt.levels == 5 {
		cpu.CR4 |= cr4LA57
	}
	return cpu
}

// newWorld is 64 MiB of RAM with 4-level tables at 0x100000.
func newPagedWorld(t *testing.T) (*fakePhysMem, *pageTables, *CPU) {
	t.Helper()
	mem := newFakePhysMem(64 << 20)
	pt := newPageTables(mem, 0x100000, 4)
	return mem, pt, pagedCPU(pt)
}
