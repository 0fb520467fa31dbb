package x86

import (
	"encoding/binary"
	"testing"
)

// TestIdentityMap walks the boot page tables with Translate: every
// address below the mapped size translates to itself.
func TestIdentityMap(t *testing.T) {
	const pml4 = 0x3000
	ram := make([]byte, 0x3000+6*bootPageSize)
	WriteIdentityMap(ram, pml4, 4)
	cpu := &CPU{CR0: CR0PG | CR0PE | CR0WP, CR3: pml4, CR4: CR4PAE, EFER: EFERLME | EFERLMA}
	mem := newFakePhysMem(uint64(len(ram)))
	mem.write(0, ram)
	for _, va := range []uint64{0, 0x1234, 0x200000, 0x3fffffff, 0x40000000, 0xfffff000} {
		gpa, _, err := Translate(mem, cpu, va, KindWrite)
		if err != nil || gpa != va {
			t.Errorf("Translate(%#x) = %#x, %v; want itself", va, gpa, err)
		}
	}
	if got := binary.LittleEndian.Uint64(ram[pml4:]); got&^0xfff != pml4+bootPageSize {
		t.Errorf("PML4[0] = %#x", got)
	}
}
