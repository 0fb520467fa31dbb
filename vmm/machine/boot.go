package machine

import (
	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/x86"
)

const (
	// PageSize is the x86 page: the unit of guest RAM and of its
	// protections.
	PageSize = 4096
	// pdCount page directories of 2 MiB pages make the identity map.
	pdCount = 4
	// MaxMemory is what the identity map covers.
	MaxMemory = pdCount << 30
)

// writeBootState loads the image and builds the GDT, page tables and boot
// information in guest RAM (guest/ABI.md, "Boot state"), and loads the
// input region when there is one.
func writeBootState(ram []byte, img *abi.Image, cpus int, args []string, input []byte) error {
	abi.LoadImage(ram, img)
	x86.WriteGDT(ram, abi.GDTAddr)
	x86.WriteIdentityMap(ram, abi.PML4Addr, pdCount)
	var at uint64
	if len(input) > 0 {
		var err error
		if at, err = abi.InputAddr(img, uint64(len(ram)), cpus, len(input)); err != nil {
			return err
		}
		copy(ram[at:], input)
	}
	return abi.WriteBootInfo(ram[abi.BootInfoAddr:abi.BootInfoAddr+PageSize], img, cpus, uint64(len(ram)), args, at, len(input))
}

// initialRegs is the register state CPU cpu starts with.
func initialRegs(img *abi.Image, cpu, cpus int, memSize uint64) *kvm.Regs {
	b := abi.InitialRegs(img, cpu, cpus, memSize)
	return &kvm.Regs{RIP: b.RIP, RSP: b.RSP, RDI: b.RDI, RSI: b.RSI, RFLAGS: x86.RFLAGSFixed | x86.RFLAGSIOPL3}
}

// setLongMode puts sregs into 64-bit mode at CPL 3 on the boot GDT and
// page tables.
func setLongMode(s *kvm.Sregs) {
	code := kvm.Segment{Base: 0, Limit: 0xffffffff, Selector: x86.SelCode, Typ: 11, Present: 1, S: 1, L: 1, G: 1, DPL: 3}
	data := kvm.Segment{Base: 0, Limit: 0xffffffff, Selector: x86.SelData, Typ: 3, Present: 1, S: 1, DB: 1, G: 1, DPL: 3}
	s.CS = code
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.TR = kvm.Segment{Limit: 0x67, Typ: 11, Present: 1}
	s.LDT = kvm.Segment{Limit: 0xffff, Typ: 2, Present: 1}
	s.GDT = kvm.Descriptor{Base: abi.GDTAddr, Limit: uint16(len(x86.BootGDT())*8 - 1)}
	s.IDT = kvm.Descriptor{Base: 0, Limit: 0}
	s.CR0 = x86.CR0PE | x86.CR0MP | x86.CR0ET | x86.CR0NE | x86.CR0WP | x86.CR0PG
	s.CR3 = abi.PML4Addr
	s.CR4 = x86.CR4PAE | x86.CR4OSFXSR | x86.CR4OSXMMEXCPT
	s.EFER = x86.EFERLME | x86.EFERLMA
}
