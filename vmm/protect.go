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
