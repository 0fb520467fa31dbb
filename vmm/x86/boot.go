package x86

import "encoding/binary"

// Architectural bits the boot state uses: a 64-bit guest at CPL 3 on an
// identity map of 2 MiB pages.
const (
	PteP  = 1 << 0
	PteRW = 1 << 1
	PteU  = 1 << 2
	PteA  = 1 << 5
	PteD  = 1 << 6
	PtePS = 1 << 7

	CR0PE = 1 << 0
	CR0MP = 1 << 1
	CR0ET = 1 << 4
	CR0NE = 1 << 5
	CR0WP = 1 << 16
	CR0PG = 1 << 31

	CR4TSD        = 1 << 2 // rdtsc and rdtscp fault outside CPL 0
	CR4PAE        = 1 << 5
	CR4OSFXSR     = 1 << 9
	CR4OSXMMEXCPT = 1 << 10

	EFERLME = 1 << 8
	EFERLMA = 1 << 10

	// RFLAGSIOPL3 grants port I/O at CPL 3; RFLAGSFixed is bit 1,
	// always set.
	RFLAGSIOPL3 = 3 << 12
	RFLAGSFixed = 1 << 1

	bootPageSize = 4096
)

// Selectors of BootGDT's descriptors, with RPL 3.
const (
	SelCode = 0x08 | 3
	SelData = 0x10 | 3
)

// BootGDT is a GDT of null, 64-bit code and data descriptors, both DPL 3,
// with the accessed bit set, so the CPU never writes the table.
func BootGDT() [3]uint64 { return [3]uint64{0, 0x00affb000000ffff, 0x00cff3000000ffff} }

// WriteGDT writes BootGDT at gdt in ram.
func WriteGDT(ram []byte, gdt uint64) {
	for i, d := range BootGDT() {
		binary.LittleEndian.PutUint64(ram[gdt+8*uint64(i):], d)
	}
}

// WriteIdentityMap builds 4-level page tables at pml4 in ram that map the
// first gib GiB of guest-virtual memory onto the same guest-physical
// addresses with 2 MiB user pages, writable, accessed and dirty set (so
// the CPU never writes them). It takes the PML4, a PDPT and gib page
// directories, in consecutive pages from pml4.
func WriteIdentityMap(ram []byte, pml4 uint64, gib int) {
	le := binary.LittleEndian
	pdpt := pml4 + bootPageSize
	le.PutUint64(ram[pml4:], pdpt|PteP|PteRW|PteU|PteA)
	for i := uint64(0); i < uint64(gib); i++ {
		pd := pdpt + bootPageSize*(1+i)
		le.PutUint64(ram[pdpt+8*i:], pd|PteP|PteRW|PteU|PteA)
		for j := uint64(0); j < 512; j++ {
			phys := i<<30 | j<<21
			le.PutUint64(ram[pd+8*j:], phys|PteP|PteRW|PteU|PteA|PteD|PtePS)
		}
	}
}
