package vmm

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"github.com/bobuhiro11/gokvm/kvm"
	"golang.org/x/sys/unix"
)

// ErrKVMUnavailable says that /dev/kvm cannot be used on this machine.
var ErrKVMUnavailable = errors.New("/dev/kvm is not available")

const (
	// ioctlKVMRun is KVM_RUN, issued directly: gokvm's kvm.Run hides
	// EINTR, which the vCPU loop needs to see to notice kicks.
	ioctlKVMRun = 0xae80
	tssAddr     = 0xfffbd000
)

// kvmHost is an open /dev/kvm with what every VM of the process shares.
type kvmHost struct {
	fd      *os.File
	runSize int
	cpuid   *kvm.CPUID
}

func openKVM() (*kvmHost, error) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKVMUnavailable, err)
	}
	h := &kvmHost{fd: f}
	v, err := kvm.GetAPIVersion(f.Fd())
	if err != nil || v != 12 {
		f.Close()
		return nil, fmt.Errorf("KVM API version %d (%v), want 12", v, err)
	}
	size, err := kvm.GetVCPUMMmapSize(f.Fd())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	h.runSize = int(size)
	h.cpuid = &kvm.CPUID{Nent: 256, Entries: make([]kvm.CPUIDEntry2, 256)}
	if err := kvm.GetSupportedCPUID(f.Fd(), h.cpuid); err != nil {
		f.Close()
		return nil, fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
	}
	return h, nil
}

func (h *kvmHost) Close() error { return h.fd.Close() }

// guestCPUID is the host's supported CPUID for one vCPU, with the
// instructions that read non-deterministic state hidden.
func (h *kvmHost) guestCPUID(cpu int) *kvm.CPUID {
	c := &kvm.CPUID{Nent: h.cpuid.Nent, Entries: append([]kvm.CPUIDEntry2(nil), h.cpuid.Entries[:h.cpuid.Nent]...)}
	for i := range c.Entries {
		e := &c.Entries[i]
		switch e.Function {
		case 1:
			e.Ecx &^= 1 << 30 // RDRAND
			e.Ebx = e.Ebx&0x00ffffff | uint32(cpu)<<24
		case 7:
			if e.Index == 0 {
				e.Ebx &^= 1 << 18 // RDSEED
				e.Ecx &^= 1 << 22 // RDPID
			}
		case 0xb, 0x1f:
			e.Edx = uint32(cpu)
		case 0x80000001:
			e.Edx &^= 1 << 27 // RDTSCP
		}
	}
	return c
}

// kvmVCPU is one vCPU in a KVM VM of its own, with its own view of RAM.
type kvmVCPU struct {
	vm, fd *os.File
	run    *kvm.RunData
	runMem []byte
	ram    []byte
	// cpuid is what the guest's CPUID instruction answers (see trap.go).
	cpuid []kvm.CPUIDEntry2
}

// msrMiscFeaturesEnables bit 0 turns on CPUID faulting: CPUID at CPL 3
// then traps, so the VMM answers it from the masked table even where the
// host would run it natively (PVM) and leak RDRAND and friends.
const (
	msrMiscFeaturesEnables = 0x140
	cpuidFaulting          = 1
	cpuidSignificantIndex  = 1 // KVM_CPUID_FLAG_SIGNIFCANT_INDEX
	// cpuidSignatureLeaf is the hypervisor leaf the VMM signs.
	cpuidSignatureLeaf = 0x40000000
)

// newKVMVCPU creates a VM with one vCPU whose RAM slot is ram.
func newKVMVCPU(h *kvmHost, cpu int, ram []byte) (v *kvmVCPU, err error) {
	vmfd, err := kvm.CreateVM(h.fd.Fd())
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_CREATE_VM: %w", cpu, err)
	}
	v = &kvmVCPU{vm: os.NewFile(vmfd, fmt.Sprintf("kvm-vm-%d", cpu)), ram: ram}
	defer func() {
		if err != nil {
			v.Close()
		}
	}()
	if err := kvm.SetTSSAddr(v.vm.Fd(), tssAddr); err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_SET_TSS_ADDR: %w", cpu, err)
	}
	region := &kvm.UserspaceMemoryRegion{
		Slot: 0, GuestPhysAddr: 0, MemorySize: uint64(len(ram)),
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&ram[0]))),
	}
	if err := kvm.SetUserMemoryRegion(v.vm.Fd(), region); err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_SET_USER_MEMORY_REGION: %w", cpu, err)
	}
	fd, err := kvm.CreateVCPU(v.vm.Fd(), 0)
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_CREATE_VCPU: %w", cpu, err)
	}
	v.fd = os.NewFile(fd, fmt.Sprintf("kvm-vcpu-%d", cpu))
	v.runMem, err = unix.Mmap(int(fd), 0, h.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: map kvm_run: %w", cpu, err)
	}
	v.run = (*kvm.RunData)(unsafe.Pointer(&v.runMem[0]))
	cpuid := h.guestCPUID(cpu)
	if err := kvm.SetCPUID2(fd, cpuid); err != nil {
		return nil, fmt.Errorf("vCPU %d: KVM_SET_CPUID2: %w", cpu, err)
	}
	v.cpuid = cpuid.Entries
	if err := v.setMSR(msrMiscFeaturesEnables, cpuidFaulting); err != nil {
		return nil, fmt.Errorf("vCPU %d: enable CPUID faulting: %w", cpu, err)
	}
	return v, nil
}

// enter runs the vCPU until its next exit. It returns unix.EINTR when the
// run was interrupted by a kick rather than by the guest.
func (v *kvmVCPU) enter() error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, v.fd.Fd(), ioctlKVMRun, 0)
	if errno == unix.EINTR || errno == unix.EAGAIN {
		return unix.EINTR
	}
	if errno != 0 {
		return fmt.Errorf("KVM_RUN: %w", errno)
	}
	return nil
}

// setMSR writes one MSR of the vCPU.
func (v *kvmVCPU) setMSR(index uint32, value uint64) error {
	msrs := struct {
		n, pad uint32
		entry  kvm.MSREntry
	}{n: 1, entry: kvm.MSREntry{Index: index, Data: value}}
	r, err := kvm.Ioctl(v.fd.Fd(), kvm.IIOW(0x89, 8), uintptr(unsafe.Pointer(&msrs)))
	if err != nil {
		return fmt.Errorf("KVM_SET_MSRS %#x: %w", index, err)
	}
	if r != 1 {
		return fmt.Errorf("KVM_SET_MSRS %#x: refused", index)
	}
	return nil
}

// cpuidLeaf answers CPUID (leaf, sub) from the vCPU's table; leaves it
// does not list read as zero.
func (v *kvmVCPU) cpuidLeaf(leaf, sub uint32) (eax, ebx, ecx, edx uint32) {
	if leaf == cpuidSignatureLeaf {
		// "crewvmcrewvm": a guest can tell that the VMM, not the host,
		// answers its CPUID (guest/ABI.md).
		return cpuidSignatureLeaf, 0x77657263, 0x72636d76, 0x6d767765
	}
	for _, e := range v.cpuid {
		if e.Function == leaf && (e.Flags&cpuidSignificantIndex == 0 || e.Index == sub) {
			return e.Eax, e.Ebx, e.Ecx, e.Edx
		}
	}
	return 0, 0, 0, 0
}

func (v *kvmVCPU) regs() (*kvm.Regs, error) { return kvm.GetRegs(v.fd.Fd()) }

func (v *kvmVCPU) setRegs(r *kvm.Regs) error { return kvm.SetRegs(v.fd.Fd(), r) }

func (v *kvmVCPU) sregs() (*kvm.Sregs, error) { return kvm.GetSregs(v.fd.Fd()) }

func (v *kvmVCPU) setSregs(s *kvm.Sregs) error { return kvm.SetSregs(v.fd.Fd(), s) }

// ioData is the data window of a KVM_EXIT_IO inside kvm_run.
func (v *kvmVCPU) ioData(offset, n uint64) []byte {
	if offset > uint64(len(v.runMem)) || n > uint64(len(v.runMem))-offset {
		return nil
	}
	return v.runMem[offset : offset+n]
}

// Close releases the vCPU, its VM and its mapping of RAM.
func (v *kvmVCPU) Close() error {
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
	if v.ram != nil {
		errs = append(errs, unix.Munmap(v.ram))
	}
	return errors.Join(errs...)
}
