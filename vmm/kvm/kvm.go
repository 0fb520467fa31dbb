// Package kvm is the VMM's thin layer over /dev/kvm: the host, one VM per
// vCPU with its own mapping of guest RAM, registers, memory slots,
// protections of that mapping, guest debugging, the dirty log and kicks.
// It holds no policy and no knowledge of the guest: which CPUID table a
// vCPU gets, what a protection means and what an exit asks for are the
// callers' (vmm/x86 builds the tables, vmm/core decides). gokvm's kvm
// package stays underneath, for the ioctl structures it already has;
// what it lacks or wraps unhelpfully (KVM_RUN's EINTR, guest debug, the
// dirty log, KVM_ENABLE_CAP) is issued here directly.
//
// Why one VM per vCPU: every vCPU needs its own page protections on guest
// RAM for CREW (DESIGN.md section 4), and a VM has one address space, so
// each vCPU is the only vCPU of a VM whose memory slot is that vCPU's own
// mapping of the one shared memfd (vmm/guestmem).
package kvm

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"
	"golang.org/x/sys/unix"
)

// The register and CPUID structures of the KVM API, as gokvm defines
// them, so that callers need no second import.
type (
	Regs       = gokvm.Regs
	Sregs      = gokvm.Sregs
	Segment    = gokvm.Segment
	Descriptor = gokvm.Descriptor
	CPUIDEntry = gokvm.CPUIDEntry2
	RunData    = gokvm.RunData
)

// ErrUnavailable says that /dev/kvm cannot be used on this machine.
var ErrUnavailable = errors.New("/dev/kvm is not available")

// KVM exit reasons (linux/kvm.h).
const (
	ExitIO            = 2
	ExitDebug         = 4
	ExitHLT           = 5
	ExitMMIO          = 6
	ExitShutdown      = 8
	ExitFailEntry     = 9
	ExitIntr          = 10
	ExitInternalError = 17
)

// Guest debug control bits (KVM_SET_GUEST_DEBUG).
const (
	DebugEnable     = 0x1
	DebugSingleStep = 0x2
	DebugUseHWBP    = 0x20000
)

// Memory slot flags and the capabilities the VMM asks about.
const (
	SlotLogDirty = 1 << 0
	SlotReadonly = 1 << 1

	CapNrMemslots      = 10
	CapSyncRegs        = 74
	CapSetGuestDebug   = 23
	CapReadonlyMem     = 81
	CapDisableQuirks2  = 213
	CapMemoryFaultInfo = 232
	// QuirkSlotZapAll: deleting or moving a slot zaps every shadow page
	// of the VM unless this quirk is disabled.
	QuirkSlotZapAll = 1 << 7
)

// ioctls gokvm lacks or wraps unhelpfully (linux/kvm.h).
const (
	ioctlKVMRun         = 0xae80 // gokvm's Run hides EINTR, which kicks need
	ioctlCheckExtension = 0xae03
	ioctlEnableCap      = 0x4068aea3
	ioctlSetGuestDebug  = 0x4048ae9b
	ioctlGetDirtyLog    = 0x4010ae42
	ioctlGetXSave       = 0x9000aea4 // struct kvm_xsave: 4 KiB
	ioctlSetXSave       = 0x5000aea5
	xsaveBytes          = 4096
	tssAddr             = 0xfffbd000
	pageSize            = 4096
)

// Host is an open /dev/kvm with what every VM of the process shares.
type Host struct {
	fd      *os.File
	runSize int
	cpuid   []CPUIDEntry
}

// Open opens /dev/kvm and reads its supported CPUID table.
func Open() (*Host, error) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	h := &Host{fd: f}
	v, err := gokvm.GetAPIVersion(f.Fd())
	if err != nil || v != 12 {
		f.Close()
		return nil, fmt.Errorf("KVM API version %d (%v), want 12", v, err)
	}
	size, err := gokvm.GetVCPUMMmapSize(f.Fd())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	h.runSize = int(size)
	t := &gokvm.CPUID{Nent: 256, Entries: make([]CPUIDEntry, 256)}
	if err := gokvm.GetSupportedCPUID(f.Fd(), t); err != nil {
		f.Close()
		return nil, fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
	}
	h.cpuid = t.Entries[:t.Nent]
	return h, nil
}

// SupportedCPUID is the host's KVM_GET_SUPPORTED_CPUID table (a copy).
func (h *Host) SupportedCPUID() []CPUIDEntry { return append([]CPUIDEntry(nil), h.cpuid...) }

// Close closes /dev/kvm; the VMs stay usable until closed themselves.
func (h *Host) Close() error { return h.fd.Close() }

// VCPU is one vCPU in a KVM VM of its own, with its own view of RAM.
type VCPU struct {
	vm, fd *os.File
	run    *RunData
	runMem []byte
	ram    []byte
}

// NewVCPU creates a VM with one vCPU whose memory slot 0 is ram (the
// vCPU's own mapping of guest RAM, which stays the caller's) and whose
// CPUID is cpuid.
func (h *Host) NewVCPU(name int, ram []byte, cpuid []CPUIDEntry) (v *VCPU, err error) {
	var vmfd uintptr
	err = retryEINTR(func() (err error) {
		vmfd, err = gokvm.CreateVM(h.fd.Fd())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_CREATE_VM: %w", name, err)
	}
	v = &VCPU{vm: os.NewFile(vmfd, fmt.Sprintf("kvm-vm-%d", name)), ram: ram}
	defer func() {
		if err != nil {
			v.Close()
		}
	}()
	if err := gokvm.SetTSSAddr(v.vm.Fd(), tssAddr); err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_SET_TSS_ADDR: %w", name, err)
	}
	if err := v.MapSlot(0, 0, ram); err != nil {
		return nil, fmt.Errorf("vCPU %d: %w", name, err)
	}
	var fd uintptr
	err = retryEINTR(func() (err error) {
		fd, err = gokvm.CreateVCPU(v.vm.Fd(), 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_CREATE_VCPU: %w", name, err)
	}
	v.fd = os.NewFile(fd, fmt.Sprintf("kvm-vcpu-%d", name))
	v.runMem, err = unix.Mmap(int(fd), 0, h.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: map kvm_run: %w", name, err)
	}
	v.run = (*RunData)(unsafe.Pointer(&v.runMem[0]))
	t := &gokvm.CPUID{Nent: uint32(len(cpuid)), Entries: cpuid}
	if err := gokvm.SetCPUID2(fd, t); err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_SET_CPUID2: %w", name, err)
	}
	return v, nil
}

// retryEINTR runs an ioctl again while a signal interrupts it: creating
// a VM or a vCPU can take long enough for the Go runtime's preemption
// signal to land (KVM_CREATE_VM failed with EINTR under load).
func retryEINTR(ioctl func() error) error {
	for {
		if err := ioctl(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// RunData is the vCPU's kvm_run structure: the exit reason and its data,
// and immediate_exit.
func (v *VCPU) RunData() *RunData { return v.run }

// Fd is the vCPU's file descriptor, for ioctls this package lacks.
func (v *VCPU) Fd() uintptr { return v.fd.Fd() }

// VMFd is the VM's file descriptor, for ioctls this package lacks.
func (v *VCPU) VMFd() uintptr { return v.vm.Fd() }

// Run enters the guest until its next exit and returns KVM_RUN's raw
// errno: 0 for an exit, EINTR or EAGAIN for a kick or a signal, EFAULT
// for an access its mapping of RAM refuses.
func (v *VCPU) Run() unix.Errno {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.fd.Fd(), ioctlKVMRun, 0)
	return errno
}

// Kick makes the vCPU leave KVM_RUN: immediate_exit closes the race with
// a vCPU about to enter, a signal to tid, the thread that runs it (0: none
// does), interrupts one already inside.
func (v *VCPU) Kick(tid int32) {
	v.run.ImmediateExit = 1
	if tid != 0 {
		unix.Tgkill(unix.Getpid(), int(tid), unix.SIGURG)
	}
}

// Offsets in kvm_run of kvm_valid_regs and of the x86 kvm_sync_regs
// that follow it: struct kvm_regs, struct kvm_sregs, struct
// kvm_vcpu_events.
const (
	runValidRegs   = 288
	runSyncRegs    = 304
	runSyncEvents  = runSyncRegs + 144 + 312
	syncX86Regs    = 1
	syncX86Events  = 4
	runSyncRegsEnd = runSyncEvents + 64
)

// SyncRegs makes every KVM_RUN store the general registers and the
// pending exception in kvm_run, where Synced reads them without an
// ioctl (KVM_CAP_SYNC_REGS), or stops it. It reports false where the
// host lacks the capability; the caller then reads them with Regs and
// Exception.
func (v *VCPU) SyncRegs(on bool) bool {
	if n, err := v.CheckExtension(CapSyncRegs); err != nil || n&(syncX86Regs|syncX86Events) != syncX86Regs|syncX86Events ||
		len(v.runMem) < runSyncRegsEnd {
		return false
	}
	var valid uint64
	if on {
		valid = syncX86Regs | syncX86Events
	}
	*(*uint64)(unsafe.Pointer(&v.runMem[runValidRegs])) = valid
	return true
}

// Synced returns a copy of the registers the last KVM_RUN stored, and
// the vector of the exception behind a shutdown exit, after SyncRegs(true).
func (v *VCPU) Synced() (Regs, int) {
	r := *(*Regs)(unsafe.Pointer(&v.runMem[runSyncRegs]))
	ev := (*gokvm.VCPUEvents)(unsafe.Pointer(&v.runMem[runSyncEvents]))
	return r, int(ev.E.Nr)
}

// Unkick clears immediate_exit after a kick was seen.
func (v *VCPU) Unkick() { v.run.ImmediateExit = 0 }

// Regs reads the general registers.
func (v *VCPU) Regs() (*Regs, error) { return gokvm.GetRegs(v.fd.Fd()) }

// SetRegs writes the general registers.
func (v *VCPU) SetRegs(r *Regs) error { return gokvm.SetRegs(v.fd.Fd(), r) }

// Sregs reads the segment and control registers.
func (v *VCPU) Sregs() (*Sregs, error) { return gokvm.GetSregs(v.fd.Fd()) }

// SetSregs writes the segment and control registers.
func (v *VCPU) SetSregs(s *Sregs) error { return gokvm.SetSregs(v.fd.Fd(), s) }

// SetMSR writes one MSR of the vCPU.
func (v *VCPU) SetMSR(index uint32, value uint64) error {
	msrs := struct {
		n, pad uint32
		entry  gokvm.MSREntry
	}{n: 1, entry: gokvm.MSREntry{Index: index, Data: value}}
	r, err := gokvm.Ioctl(v.fd.Fd(), gokvm.IIOW(0x89, 8), uintptr(unsafe.Pointer(&msrs)))
	if err != nil {
		return fmt.Errorf("KVM_SET_MSRS %#x: %w", index, err)
	}
	if r != 1 {
		return fmt.Errorf("KVM_SET_MSRS %#x: refused", index)
	}
	return nil
}

// Exception is the vector of the exception behind a shutdown exit, or -1.
func (v *VCPU) Exception() int {
	var e gokvm.VCPUEvents
	if err := gokvm.GetVCPUEvents(v.fd.Fd(), &e); err != nil {
		return -1
	}
	return int(e.E.Nr)
}

// IOData is the data window of a KVM_EXIT_IO inside kvm_run, or nil when
// the exit names one outside it.
func (v *VCPU) IOData(offset, n uint64) []byte {
	if offset > uint64(len(v.runMem)) || n > uint64(len(v.runMem))-offset {
		return nil
	}
	return v.runMem[offset : offset+n]
}

// SetSlot creates or replaces memory slot slot of the VM so that it maps
// guest [gpa, gpa+size) onto the same offset of the vCPU's mapping; size
// 0 deletes the slot. KVM changes only a slot's dirty-logging flag in
// place: anything else (address, size, read-only) needs a delete first.
func (v *VCPU) SetSlot(slot, flags uint32, gpa, size uint64) error {
	if gpa%pageSize != 0 || size%pageSize != 0 || gpa >= uint64(len(v.ram)) {
		return fmt.Errorf("memory slot %d at %#x+%#x: not page aligned or outside RAM", slot, gpa, size)
	}
	if size > uint64(len(v.ram))-gpa {
		return fmt.Errorf("memory slot %d at %#x+%#x: outside RAM (%#x bytes)", slot, gpa, size, len(v.ram))
	}
	r := &gokvm.UserspaceMemoryRegion{Slot: slot, Flags: flags, GuestPhysAddr: gpa, MemorySize: size,
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&v.ram[gpa])))}
	if err := gokvm.SetUserMemoryRegion(v.vm.Fd(), r); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION slot %d %#x+%#x flags %#x: %w", slot, gpa, size, flags, err)
	}
	return nil
}

// MapSlot makes memory slot slot of the VM map guest [gpa, gpa+len(mem))
// onto mem, memory outside guest RAM (the replay's trampolines).
func (v *VCPU) MapSlot(slot uint32, gpa uint64, mem []byte) error {
	r := &gokvm.UserspaceMemoryRegion{Slot: slot, GuestPhysAddr: gpa, MemorySize: uint64(len(mem)),
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&mem[0])))}
	if err := gokvm.SetUserMemoryRegion(v.vm.Fd(), r); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION slot %d at %#x: %w", slot, gpa, err)
	}
	return nil
}

// CheckExtension is KVM_CHECK_EXTENSION on the VM (some answers are per VM).
func (v *VCPU) CheckExtension(capability uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, v.vm.Fd(), ioctlCheckExtension, capability)
	if errno != 0 {
		return 0, fmt.Errorf("KVM_CHECK_EXTENSION %d: %w", capability, errno)
	}
	return int(r), nil
}

// enableCapArg is struct kvm_enable_cap.
type enableCapArg struct {
	Cap   uint32
	Flags uint32
	Args  [4]uint64
	_     [64]byte
}

// EnableCap is KVM_ENABLE_CAP on the VM.
func (v *VCPU) EnableCap(capability uint32, args ...uint64) error {
	c := enableCapArg{Cap: capability}
	copy(c.Args[:], args)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.vm.Fd(), ioctlEnableCap, uintptr(unsafe.Pointer(&c)))
	if errno != 0 {
		return fmt.Errorf("KVM_ENABLE_CAP %d %#x: %w", capability, args, errno)
	}
	return nil
}

// guestDebugArg is struct kvm_guest_debug on x86.
type guestDebugArg struct {
	Control  uint32
	_        uint32
	DebugReg [8]uint64
}

// SetGuestDebug is KVM_SET_GUEST_DEBUG: control is Debug* flags, dr the
// debug registers DR0-DR7 for hardware breakpoints (DR4/DR5 unused).
func (v *VCPU) SetGuestDebug(control uint32, dr [8]uint64) error {
	d := guestDebugArg{Control: control, DebugReg: dr}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.fd.Fd(), ioctlSetGuestDebug, uintptr(unsafe.Pointer(&d)))
	if errno != 0 {
		return fmt.Errorf("KVM_SET_GUEST_DEBUG %#x: %w", control, errno)
	}
	return nil
}

// dirtyLogArg is struct kvm_dirty_log.
type dirtyLogArg struct {
	Slot   uint32
	_      uint32
	Bitmap uintptr
}

// DirtyLog fetches and clears the dirty bitmap of slot of the VM, one bit
// per 4 KiB page of the slot; bitmap must hold that many bits, rounded up
// to 64.
func (v *VCPU) DirtyLog(slot uint32, bitmap []uint64) error {
	if len(bitmap) == 0 {
		return fmt.Errorf("KVM_GET_DIRTY_LOG slot %d: empty bitmap", slot)
	}
	d := dirtyLogArg{Slot: slot, Bitmap: uintptr(unsafe.Pointer(&bitmap[0]))}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.vm.Fd(), ioctlGetDirtyLog, uintptr(unsafe.Pointer(&d)))
	if errno != 0 {
		return fmt.Errorf("KVM_GET_DIRTY_LOG slot %d: %w", slot, errno)
	}
	return nil
}

// ArchState returns the vCPU's state beyond its general registers, as a
// checkpoint keeps it: the special registers (segments, control
// registers, EFER) and the XSAVE area (x87, SSE, AVX), in this
// process's layout of their ioctl structures.
func (v *VCPU) ArchState() ([]byte, error) {
	s, err := v.Sregs()
	if err != nil {
		return nil, fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	out := append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(s)), unsafe.Sizeof(*s))...)
	xsave := make([]byte, xsaveBytes)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, v.fd.Fd(), ioctlGetXSave, uintptr(unsafe.Pointer(&xsave[0]))); errno != 0 {
		return nil, fmt.Errorf("KVM_GET_XSAVE: %w", errno)
	}
	return append(out, xsave...), nil
}

// SetArchState gives the vCPU the state ArchState returned.
func (v *VCPU) SetArchState(b []byte) error {
	var s Sregs
	n := int(unsafe.Sizeof(s))
	if len(b) != n+xsaveBytes {
		return fmt.Errorf("architectural state of %d bytes, want %d", len(b), n+xsaveBytes)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&s)), n), b)
	if err := v.SetSregs(&s); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	xsave := append([]byte(nil), b[n:]...)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, v.fd.Fd(), ioctlSetXSave, uintptr(unsafe.Pointer(&xsave[0]))); errno != 0 {
		return fmt.Errorf("KVM_SET_XSAVE: %w", errno)
	}
	return nil
}

// Close releases the vCPU and its VM.
func (v *VCPU) Close() error {
	var errs []error
	if v.runMem != nil {
		errs = append(errs, unix.Munmap(v.runMem))
	}
	if v.fd != nil {
		errs = append(errs, v.fd.Close())
	}
	if v.vm != nil {
		errs = append(errs, v.vm.Close())
	}
	return errors.Join(errs...)
}
