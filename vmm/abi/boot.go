package abi

import (
	"encoding/binary"
	"fmt"
)

// LoadImage copies the image's segments into guest RAM and zeroes the
// rest of each segment.
func LoadImage(ram []byte, img *Image) {
	for _, s := range img.Segments {
		copy(ram[s.Addr:s.Addr+uint64(len(s.Data))], s.Data)
		clear(ram[s.Addr+uint64(len(s.Data)) : s.Addr+s.MemSize])
	}
}

// InputAddr is where an input region of n bytes starts: the whole pages
// just below the CPU stacks, which the heap then ends at. It is an error
// when the region would overlap the image.
func InputAddr(img *Image, memSize uint64, cpus int, n int) (uint64, error) {
	base := StackBase(memSize, cpus)
	size := (uint64(n) + 4095) &^ 4095
	if size > base || base-size < img.End {
		return 0, fmt.Errorf("an input of %d bytes does not fit in %d bytes of guest RAM beside the kernel and %d stacks", n, memSize, cpus)
	}
	return base - size, nil
}

// WriteBootInfo fills struct bootinfo (guest/include/abi.h) in page, the
// guest page at BootInfoAddr. The input region is inputLen bytes at
// inputAddr (from InputAddr), where the heap then ends; inputLen 0 is none.
func WriteBootInfo(page []byte, img *Image, cpus int, memSize uint64, args []string, inputAddr uint64, inputLen int) error {
	if len(args) > MaxArgs {
		return fmt.Errorf("workload has %d arguments, at most %d fit", len(args), MaxArgs)
	}
	heapEnd := StackBase(memSize, cpus)
	le := binary.LittleEndian
	if inputLen > 0 {
		heapEnd = inputAddr
		le.PutUint64(page[InputOffset:], inputAddr)
		le.PutUint64(page[InputOffset+8:], uint64(inputLen))
	}
	le.PutUint64(page[0:], BootMagic)
	le.PutUint32(page[8:], BootVersion)
	le.PutUint32(page[12:], uint32(cpus))
	le.PutUint64(page[16:], memSize)
	le.PutUint64(page[24:], img.End)
	le.PutUint64(page[32:], heapEnd)
	le.PutUint32(page[40:], uint32(len(args)))
	const argvOff = 48
	const strOff = argvOff + 8*MaxArgs
	at := 0
	for i, a := range args {
		if at+len(a)+1 > ArgsSize {
			return fmt.Errorf("workload arguments are longer than %d bytes", ArgsSize)
		}
		le.PutUint64(page[argvOff+8*i:], uint64(BootInfoAddr+strOff+at))
		copy(page[strOff+at:], a)
		page[strOff+at+len(a)] = 0
		at += len(a) + 1
	}
	return nil
}

// BootRegs are the registers a vCPU starts with besides RFLAGS (which
// the x86 layer sets): the entry point, its own stack, its CPU number in
// RDI and the boot information in RSI.
type BootRegs struct{ RIP, RSP, RDI, RSI uint64 }

// InitialRegs is where CPU cpu of cpus starts.
func InitialRegs(img *Image, cpu, cpus int, memSize uint64) BootRegs {
	return BootRegs{RIP: img.Entry, RSP: memSize - uint64(cpu)*StackSize, RDI: uint64(cpu), RSI: BootInfoAddr}
}
