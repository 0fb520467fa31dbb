package vmm

import (
	"encoding/binary"
	"fmt"

	"github.com/bobuhiro11/gokvm/kvm"
)

// Boot-state constants; guest/ABI.md describes the state they build.
const (
	pdCount = 4 // page directories: 4 x 1 GiB of 2 MiB pages

	pteP  = 1 << 0
	pteRW = 1 << 1
	pteU  = 1 << 2
	pteA  = 1 << 5
	pteD  = 1 << 6
	ptePS = 1 << 7

	cr0PE = 1 << 0
	cr0MP = 1 << 1
	cr0ET = 1 << 4
	cr0NE = 1 << 5
	cr0WP = 1 << 16
	cr0PG = 1 << 31

	cr4PAE        = 1 << 5
	cr4OSFXSR     = 1 << 9
	cr4OSXMMEXCPT = 1 << 10

	eferLME = 1 << 8
	eferLMA = 1 << 10

	// The guest runs at CPL 3 (see guest/ABI.md, "Privilege"): selectors
	// carry RPL 3 and RFLAGS grants I/O with IOPL 3.
	selCode    = 0x08 | 3
	selData    = 0x10 | 3
	rflagsIOPL = 3 << 12

	// maxMemory is what the identity map covers.
	maxMemory = pdCount << 30
)

// bootGDT holds null, 64-bit code and data descriptors with the accessed
// bit set, so the CPU never writes the table.
func bootGDT() [3]uint64 { return [3]uint64{0, 0x00affb000000ffff, 0x00cff3000000ffff} }

// writeBootState loads the image and builds the GDT, page tables and boot
// information in guest RAM.
func writeBootState(ram []byte, img *Image, cpus int, args []string) error {
	memSize := uint64(len(ram))
	for _, s := range img.Segments {
		copy(ram[s.Addr:s.Addr+uint64(len(s.Data))], s.Data)
		clear(ram[s.Addr+uint64(len(s.Data)) : s.Addr+s.MemSize])
	}
	for i, d := range bootGDT() {
		binary.LittleEndian.PutUint64(ram[GDTAddr+8*i:], d)
	}
	pdpt := uint64(PML4Addr + pageSize)
	binary.LittleEndian.PutUint64(ram[PML4Addr:], pdpt|pteP|pteRW|pteU|pteA)
	for i := uint64(0); i < pdCount; i++ {
		pd := pdpt + pageSize*(1+i)
		binary.LittleEndian.PutUint64(ram[pdpt+8*i:], pd|pteP|pteRW|pteU|pteA)
		for j := uint64(0); j < 512; j++ {
			phys := (i<<30 | j<<21)
			binary.LittleEndian.PutUint64(ram[pd+8*j:], phys|pteP|pteRW|pteU|pteA|pteD|ptePS)
		}
	}
	return writeBootInfo(ram[BootInfoAddr:BootInfoAddr+pageSize], img, cpus, memSize, args)
}

// writeBootInfo fills struct bootinfo (guest/include/abi.h).
func writeBootInfo(page []byte, img *Image, cpus int, memSize uint64, args []string) error {
	if len(args) > MaxArgs {
		return fmt.Errorf("workload has %d arguments, at most %d fit", len(args), MaxArgs)
	}
	le := binary.LittleEndian
	le.PutUint64(page[0:], BootMagic)
	le.PutUint32(page[8:], BootVersion)
	le.PutUint32(page[12:], uint32(cpus))
	le.PutUint64(page[16:], memSize)
	le.PutUint64(page[24:], img.End)
	le.PutUint64(page[32:], stackBase(memSize, cpus))
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

// initialRegs is the register state every vCPU starts with.
func initialRegs(img *Image, cpu, cpus int, memSize uint64) *kvm.Regs {
	return &kvm.Regs{
		RIP:    img.Entry,
		RSP:    memSize - uint64(cpu)*StackSize,
		RDI:    uint64(cpu),
		RSI:    BootInfoAddr,
		RFLAGS: 0x2 | rflagsIOPL,
	}
}

// setLongMode puts sregs into 64-bit mode on the boot GDT and page tables.
func setLongMode(s *kvm.Sregs) {
	code := kvm.Segment{Base: 0, Limit: 0xffffffff, Selector: selCode, Typ: 11, Present: 1, S: 1, L: 1, G: 1, DPL: 3}
	data := kvm.Segment{Base: 0, Limit: 0xffffffff, Selector: selData, Typ: 3, Present: 1, S: 1, DB: 1, G: 1, DPL: 3}
	s.CS = code
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.TR = kvm.Segment{Limit: 0x67, Typ: 11, Present: 1}
	s.LDT = kvm.Segment{Limit: 0xffff, Typ: 2, Present: 1}
	s.GDT = kvm.Descriptor{Base: GDTAddr, Limit: uint16(len(bootGDT())*8 - 1)}
	s.IDT = kvm.Descriptor{Base: 0, Limit: 0}
	s.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0PG
	s.CR3 = PML4Addr
	s.CR4 = cr4PAE | cr4OSFXSR | cr4OSXMMEXCPT
	s.EFER = eferLME | eferLMA
}
