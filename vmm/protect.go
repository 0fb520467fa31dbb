package vmm

import (
	"fmt"
	"unsafe"

	"github.com/bobuhiro11/gokvm/kvm"
	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"
)

// Enforcement primitives for CREW (DESIGN.md section 4) on one vCPU's own
// view of guest RAM: page protections on its mapping, the memory slots of
// its VM, guest debugging for state-matched positions and its VM's dirty
// log. crewprobe_test.go measures how each behaves on the host and
// crew/HOSTFACTS.md records the results; the recorder builds on these.

// ioctls and constants that gokvm lacks or wraps unhelpfully (linux/kvm.h).
const (
	ioctlCheckExtension = 0xae03
	ioctlEnableCap      = 0x4068aea3
	ioctlSetGuestDebug  = 0x4048ae9b
	ioctlGetDirtyLog    = 0x4010ae42

	capNrMemslots      = 10
	capSetGuestDebug   = 23
	capReadonlyMem     = 81
	capDisableQuirks2  = 213
	capMemoryFaultInfo = 232

	slotLogDirty = 1 << 0
	slotReadonly = 1 << 1

	guestDebugEnable     = 0x1
	guestDebugSingleStep = 0x2
	guestDebugUseHWBP    = 0x20000

	// quirkSlotZapAll: deleting or moving a slot zaps every shadow page
	// of the VM unless this quirk is disabled.
	quirkSlotZapAll = 1 << 7
)

// view is v's own mapping of guest RAM [gpa, gpa+n).
func (v *kvmVCPU) view(gpa, n uint64) ([]byte, error) {
	if gpa > uint64(len(v.ram)) || n > uint64(len(v.ram))-gpa {
		return nil, fmt.Errorf("guest range %#x+%#x is outside RAM (%#x bytes)", gpa, n, len(v.ram))
	}
	return v.ram[gpa : gpa+n : gpa+n], nil
}

// protect sets the host protection (unix.PROT_*) of guest pages
// [gpa, gpa+n) in v's mapping only; every other vCPU keeps its view.
// KVM drops its stale translations through its MMU notifier.
func (v *kvmVCPU) protect(gpa, n uint64, prot int) error {
	if gpa%pageSize != 0 || n%pageSize != 0 {
		return fmt.Errorf("protect guest %#x+%#x: not page aligned", gpa, n)
	}
	b, err := v.view(gpa, n)
	if err != nil {
		return fmt.Errorf("protect: %w", err)
	}
	if err := unix.Mprotect(b, prot); err != nil {
		return fmt.Errorf("mprotect guest %#x+%#x to %#x: %w", gpa, n, prot, err)
	}
	return nil
}

// setSlot creates or replaces memory slot slot of v's VM so that it maps
// guest [gpa, gpa+size) onto the same offset of v's mapping; size 0
// deletes the slot. KVM changes only a slot's dirty-logging flag in place:
// anything else (address, size, read-only) needs a delete first.
func (v *kvmVCPU) setSlot(slot, flags uint32, gpa, size uint64) error {
	if gpa%pageSize != 0 || size%pageSize != 0 || gpa >= uint64(len(v.ram)) {
		return fmt.Errorf("memory slot %d at %#x+%#x: not page aligned or outside RAM", slot, gpa, size)
	}
	if _, err := v.view(gpa, size); err != nil {
		return fmt.Errorf("memory slot %d: %w", slot, err)
	}
	r := &kvm.UserspaceMemoryRegion{Slot: slot, Flags: flags, GuestPhysAddr: gpa, MemorySize: size,
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&v.ram[gpa])))}
	if err := kvm.SetUserMemoryRegion(v.vm.Fd(), r); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION slot %d %#x+%#x flags %#x: %w", slot, gpa, size, flags, err)
	}
	return nil
}

// checkExtension is KVM_CHECK_EXTENSION on v's VM (some answers are per VM).
func (v *kvmVCPU) checkExtension(capability uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, v.vm.Fd(), ioctlCheckExtension, capability)
	if errno != 0 {
		return 0, fmt.Errorf("KVM_CHECK_EXTENSION %d: %w", capability, errno)
	}
	return int(r), nil
}

// kvmEnableCap is struct kvm_enable_cap.
type kvmEnableCap struct {
	Cap   uint32
	Flags uint32
	Args  [4]uint64
	_     [64]byte
}

// enableCap is KVM_ENABLE_CAP on v's VM.
func (v *kvmVCPU) enableCap(capability uint32, args ...uint64) error {
	c := kvmEnableCap{Cap: capability}
	copy(c.Args[:], args)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.vm.Fd(), ioctlEnableCap, uintptr(unsafe.Pointer(&c)))
	if errno != 0 {
		return fmt.Errorf("KVM_ENABLE_CAP %d %#x: %w", capability, args, errno)
	}
	return nil
}

// kvmGuestDebug is struct kvm_guest_debug on x86.
type kvmGuestDebug struct {
	Control  uint32
	_        uint32
	DebugReg [8]uint64
}

// setGuestDebug is KVM_SET_GUEST_DEBUG: control is guestDebug* flags,
// dr the debug registers DR0-DR7 for hardware breakpoints (DR4/DR5 unused).
func (v *kvmVCPU) setGuestDebug(control uint32, dr [8]uint64) error {
	d := kvmGuestDebug{Control: control, DebugReg: dr}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.fd.Fd(), ioctlSetGuestDebug, uintptr(unsafe.Pointer(&d)))
	if errno != 0 {
		return fmt.Errorf("KVM_SET_GUEST_DEBUG %#x: %w", control, errno)
	}
	return nil
}

// kvmDirtyLog is struct kvm_dirty_log.
type kvmDirtyLog struct {
	Slot   uint32
	_      uint32
	Bitmap uintptr
}

// dirtyLog fetches and clears the dirty bitmap of slot of v's VM, one bit
// per 4 KiB page of the slot; bitmap must hold that many bits, rounded up
// to 64.
func (v *kvmVCPU) dirtyLog(slot uint32, bitmap []uint64) error {
	if len(bitmap) == 0 {
		return fmt.Errorf("KVM_GET_DIRTY_LOG slot %d: empty bitmap", slot)
	}
	d := kvmDirtyLog{Slot: slot, Bitmap: uintptr(unsafe.Pointer(&bitmap[0]))}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.vm.Fd(), ioctlGetDirtyLog, uintptr(unsafe.Pointer(&d)))
	if errno != 0 {
		return fmt.Errorf("KVM_GET_DIRTY_LOG slot %d: %w", slot, errno)
	}
	return nil
}

// runErrno enters v like enter but returns KVM_RUN's raw errno (0 for an
// exit), for callers that must tell EFAULT from other failures cheaply.
func (v *kvmVCPU) runErrno() unix.Errno {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.fd.Fd(), ioctlKVMRun, 0)
	return errno
}

// memAccess is one guest memory access of an instruction.
type memAccess struct {
	Addr uint64
	Size int
	// Write is set for stores, including read-modify-write.
	Write bool
}

// decodeAccesses decodes the 64-bit instruction at the start of code,
// fetched at r.RIP, and lists the guest memory it accesses with registers
// r: its explicit memory operand, the stack for push, pop, call and ret,
// [RSI]/[RDI] for string instructions (the current iteration of a REP).
// Where a page protection makes KVM_RUN fail with EFAULT and no address
// (HOSTFACTS.md), this is how the VMM learns which page was wanted. It
// fails for FS/GS-relative operands and instructions it does not model.
func decodeAccesses(code []byte, r *kvm.Regs) (x86asm.Inst, []memAccess, error) {
	inst, err := x86asm.Decode(code, 64)
	if err != nil {
		return inst, nil, fmt.Errorf("decode instruction at %#x: %w", r.RIP, err)
	}
	if inst.Op == 0 {
		return inst, nil, fmt.Errorf("decode instruction at %#x: truncated or unknown (% x)", r.RIP, code[:min(len(code), 15)])
	}
	next := r.RIP + uint64(inst.Len)
	var acc []memAccess
	stack := func(off int64, size int, write bool) {
		acc = append(acc, memAccess{Addr: r.RSP + uint64(off), Size: size, Write: write})
	}
	str := func(reg uint64, write bool) {
		acc = append(acc, memAccess{Addr: reg, Size: stringSize(inst.Op), Write: write})
	}
	switch inst.Op {
	case x86asm.LEA, x86asm.NOP, x86asm.PREFETCHNTA, x86asm.PREFETCHT0, x86asm.PREFETCHT1,
		x86asm.PREFETCHT2, x86asm.PREFETCHW:
		return inst, nil, nil
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ:
		if inst.Args[0] == nil || isMem(inst.Args[0]) { // not the SSE movsd
			str(r.RSI, false)
			str(r.RDI, true)
			return inst, acc, nil
		}
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ:
		str(r.RDI, true)
		return inst, acc, nil
	case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		str(r.RSI, false)
		return inst, acc, nil
	case x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
		str(r.RDI, false)
		return inst, acc, nil
	case x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ:
		if inst.Args[0] == nil || isMem(inst.Args[0]) {
			str(r.RSI, false)
			str(r.RDI, false)
			return inst, acc, nil
		}
	case x86asm.PUSH, x86asm.CALL, x86asm.PUSHFQ:
		stack(-8, 8, true)
	case x86asm.POP, x86asm.POPFQ, x86asm.RET:
		stack(0, 8, false)
	case x86asm.LEAVE:
		acc = append(acc, memAccess{Addr: r.RBP, Size: 8})
	case x86asm.ENTER, x86asm.IRETQ, x86asm.XLATB:
		return inst, nil, fmt.Errorf("instruction at %#x: %v is not modelled", r.RIP, inst)
	}
	for i, a := range inst.Args {
		m, ok := a.(x86asm.Mem)
		if !ok {
			continue
		}
		addr, err := effectiveAddress(m, r, next, inst.AddrSize)
		if err != nil {
			return inst, nil, fmt.Errorf("instruction at %#x (%v): %w", r.RIP, inst, err)
		}
		write := i == 0 && !readsDestination(inst.Op)
		if inst.Op == x86asm.POP {
			// pop [mem] computes its address after incrementing RSP.
			addr += 8
		}
		acc = append(acc, memAccess{Addr: addr, Size: inst.MemBytes, Write: write})
	}
	return inst, acc, nil
}

func isMem(a x86asm.Arg) bool { _, ok := a.(x86asm.Mem); return ok }

func stringSize(op x86asm.Op) int {
	switch op {
	case x86asm.MOVSW, x86asm.STOSW, x86asm.LODSW, x86asm.SCASW, x86asm.CMPSW:
		return 2
	case x86asm.MOVSD, x86asm.STOSD, x86asm.LODSD, x86asm.SCASD, x86asm.CMPSD:
		return 4
	case x86asm.MOVSQ, x86asm.STOSQ, x86asm.LODSQ, x86asm.SCASQ, x86asm.CMPSQ:
		return 8
	}
	return 1
}

// readsDestination: instructions whose first operand is only read.
func readsDestination(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.BT, x86asm.PUSH, x86asm.CALL, x86asm.JMP,
		x86asm.UCOMISS, x86asm.UCOMISD, x86asm.COMISS, x86asm.COMISD, x86asm.PTEST,
		x86asm.CLFLUSH, x86asm.LGDT, x86asm.LIDT:
		return true
	}
	return false
}

// effectiveAddress computes m's linear address; next is the address of
// the following instruction (the base of RIP-relative operands).
func effectiveAddress(m x86asm.Mem, r *kvm.Regs, next uint64, addrSize int) (uint64, error) {
	if m.Segment == x86asm.FS || m.Segment == x86asm.GS {
		return 0, fmt.Errorf("%v-relative operand", m.Segment)
	}
	base, err := regValue(m.Base, r, next)
	if err != nil {
		return 0, err
	}
	index, err := regValue(m.Index, r, next)
	if err != nil {
		return 0, err
	}
	addr := base + index*uint64(m.Scale) + uint64(m.Disp)
	if addrSize == 32 {
		addr &= 0xffffffff
	}
	return addr, nil
}

// regValue is the value of an address register (0 for none).
func regValue(reg x86asm.Reg, r *kvm.Regs, next uint64) (uint64, error) {
	gprs := [16]uint64{r.RAX, r.RCX, r.RDX, r.RBX, r.RSP, r.RBP, r.RSI, r.RDI,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15}
	switch {
	case reg == 0:
		return 0, nil
	case reg == x86asm.RIP:
		return next, nil
	case reg == x86asm.EIP:
		return next & 0xffffffff, nil
	case reg >= x86asm.RAX && reg <= x86asm.R15:
		return gprs[reg-x86asm.RAX], nil
	case reg >= x86asm.EAX && reg <= x86asm.R15L:
		return gprs[reg-x86asm.EAX] & 0xffffffff, nil
	}
	return 0, fmt.Errorf("address register %v", reg)
}
