package x86

import "encoding/binary"

// maxTablePages bounds PagingPages: a guest's page tables can name at
// most this many paging-structure pages before the walk stops counting.
const maxTablePages = 1 << 16

// PagingPages lists the guest-physical pages that hold the paging
// structures reachable from cpu.CR3: the pages every page walk of this
// vCPU may read. A recorder must never take read rights on them from a
// vCPU (crew/HOSTFACTS.md), so a fallback that grants pages wholesale
// leaves them shared. Entries outside RAM and large pages end their
// branch; the list is in walk order, without duplicates, and bounded by
// maxTablePages.
func PagingPages(mem Memory, cpu *CPU) []uint64 {
	levels := 4
	if cpu.CR4&cr4LA57 != 0 {
		levels = 5
	}
	seen := map[uint64]bool{}
	var out []uint64
	var visit func(table uint64, level int)
	visit = func(table uint64, level int) {
		if seen[table] || len(out) >= maxTablePages {
			return
		}
		var page [page4K]byte
		if !mem.ReadPhys(table, page[:]) {
			return
		}
		seen[table] = true
		out = append(out, table)
		if level == 1 {
			return
		}
		for i := 0; i < 512; i++ {
			e := binary.LittleEndian.Uint64(page[8*i:])
			if e&pteP == 0 || (e&ptePS != 0 && level <= 3) {
				continue
			}
			visit(e&pteAddr, level-1)
		}
	}
	visit(cpu.CR3&pteAddr, levels)
	return out
}
