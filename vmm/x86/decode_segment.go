package x86

import "fmt"

// descriptors adds the descriptor-table access of a segment load: the
// 8 bytes (size) of selector sel's descriptor when the selector is known,
// else both tables whole, since the selector comes from memory the
// decoder does not read. Loads set the descriptor's accessed bit, so they
// are KindWrite; LAR, LSL, VERR and VERW only read. These are implicit
// supervisor-mode accesses. A null selector loads no descriptor. A
// selector's 13-bit index reaches only the first 64 KiB of a table.
func (b *accessBuilder) descriptors(sel uint16, known bool, k Kind, size uint64) error {
	c := b.cpu
	if known && sel&^3 == 0 {
		return nil
	}
	if c.GDTBase == 0 && c.GDTLimit == 0 {
		return fmt.Errorf("x86: instruction at %#x (% x): %w", c.RIP, b.code, ErrDescriptorTables)
	}
	if known {
		base := c.GDTBase
		if sel&4 != 0 {
			base = c.LDTBase
		}
		b.acc = append(b.acc, LinearAccess{Addr: base + uint64(sel&^7), Size: size, Kind: k, Supervisor: true})
		return nil
	}
	b.acc = append(b.acc, LinearAccess{Addr: c.GDTBase, Size: uint64(c.GDTLimit) + 1, Kind: k,
		Approximate: true, Supervisor: true})
	if c.LDTBase != 0 || c.LDTLimit != 0 {
		b.acc = append(b.acc, LinearAccess{Addr: c.LDTBase, Size: min(uint64(c.LDTLimit)+1, 1<<16), Kind: k,
			Approximate: true, Supervisor: true})
	}
	return nil
}
