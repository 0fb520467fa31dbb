package x86

import (
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// vsib covers gathers and scatters, whose operand m has a vector index:
// element i is at base + index[i]*scale + disp. Elements that the mask
// (a vector register's sign bits for VEX, a k register for EVEX) leaves
// out are not accessed.
func (b *accessBuilder) vsib(m x86asm.Mem, argIndex int) error {
	idxSize, dataSize, ok := vsibSizes(b.inst.Op)
	if !ok {
		if strings.Contains(b.inst.Op.String(), "PF") {
			return nil // gather/scatter prefetches touch nothing
		}
		return fmt.Errorf("x86: %v at %#x: vector index of an unknown kind: %w", b.inst.Op, b.cpu.RIP, ErrUnmodelled)
	}
	v := b.cpu.Vector
	if v == nil {
		return fmt.Errorf("x86: %v at %#x: %w", b.inst.Op, b.cpu.RIP, ErrVectorRegs)
	}
	k := KindRead
	if argIndex == 0 {
		k = KindWrite // scatter
	}
	index := &v.ZMM[vecNum(m.Index)]
	mask := b.vsibMask()
	var base uint64
	if b.raw.base >= 0 {
		base = b.cpu.GPR[b.raw.base]
	}
	n := min(b.inst.MemBytes/int(dataSize), 64/int(max(idxSize, dataSize)))
	for i := 0; i < n; i++ {
		if !mask(i, dataSize) {
			continue
		}
		var idx int64
		if idxSize == 4 {
			idx = int64(int32(binary.LittleEndian.Uint32(index[4*i:])))
		} else {
			idx = int64(binary.LittleEndian.Uint64(index[8*i:]))
		}
		ea := b.trunc(base + uint64(idx)*b.raw.scale + uint64(m.Disp))
		b.operand(ea, dataSize, k, false)
	}
	return nil
}

// vsibMask returns whether element i (of size bytes) is enabled.
func (b *accessBuilder) vsibMask() func(i int, size uint64) bool {
	v := b.cpu.Vector
	for j, a := range b.inst.Args {
		r, ok := a.(x86asm.Reg)
		switch {
		case !ok:
		case r >= x86asm.K0 && r <= x86asm.K7:
			kr := v.K[r-x86asm.K0]
			return func(i int, _ uint64) bool { return kr>>i&1 != 0 }
		case j == 2 && isVector(r): // VEX: the sign bit of each element
			mr := &v.ZMM[vecNum(r)]
			return func(i int, size uint64) bool { return mr[uint64(i+1)*size-1]&0x80 != 0 }
		}
	}
	return func(int, uint64) bool { return true }
}

// vecNum is the register number of an XMM, YMM or ZMM register.
func vecNum(r x86asm.Reg) int {
	switch {
	case r >= x86asm.Z0:
		return int(r - x86asm.Z0)
	case r >= x86asm.Y0:
		return int(r - x86asm.Y0)
	}
	return int(r - x86asm.X0)
}

// vsibSizes gives the index and data element sizes of a gather or
// scatter; ok is false for the prefetch forms.
func vsibSizes(op x86asm.Op) (idx, data uint64, ok bool) {
	switch op {
	case x86asm.VPGATHERDD, x86asm.VGATHERDPS, x86asm.VPSCATTERDD, x86asm.VSCATTERDPS:
		return 4, 4, true
	case x86asm.VPGATHERDQ, x86asm.VGATHERDPD, x86asm.VPSCATTERDQ, x86asm.VSCATTERDPD:
		return 4, 8, true
	case x86asm.VPGATHERQD, x86asm.VGATHERQPS, x86asm.VPSCATTERQD, x86asm.VSCATTERQPS:
		return 8, 4, true
	case x86asm.VPGATHERQQ, x86asm.VGATHERQPD, x86asm.VPSCATTERQQ, x86asm.VSCATTERQPD:
		return 8, 8, true
	}
	return 0, 0, false
}
