package machine

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/x86"
)

// HostCaps says which of the guest's non-deterministic instructions this
// host's KVM lets the VMM trap. Both depend on the host CPU and on the
// KVM flavour: PVM on Intel honours CPUID faulting, PVM on AMD ignores it
// and CR4.TSD alike (crew/HOSTFACTS.md), so the VMM measures instead of
// assuming.
type HostCaps struct {
	// CPUIDTrapped: a CPL-3 cpuid faults, so the VMM answers it from the
	// masked table; otherwise the guest reads the host's CPUID natively.
	CPUIDTrapped bool
	// TSCTrapped: with CR4.TSD set a CPL-3 rdtsc or rdtscp faults, so the
	// VMM serves and logs a virtual time-stamp counter; otherwise the
	// guest reads the host's counter and a recording cannot replay it.
	TSCTrapped bool
}

// probeCaps runs cpuid, rdtsc and hlt at guest address 0 on v (whose
// boot state is loaded) with CR4.TSD set, and sees which of them trap.
// The page is zero again afterwards and the registers are the caller's
// to set: nothing of the probe is left in the guest.
func probeCaps(v *kvm.VCPU, ram []byte) (HostCaps, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	code := []byte{0x0f, 0xa2, 0x0f, 0x31, 0xf4} // cpuid; rdtsc; hlt
	copy(ram, code)
	defer clear(ram[:len(code)])
	s, err := v.Sregs()
	if err != nil {
		return HostCaps{}, err
	}
	s.CR4 |= x86.CR4TSD
	if err := v.SetSregs(s); err != nil {
		return HostCaps{}, err
	}
	if err := v.SetRegs(&kvm.Regs{RFLAGS: x86.RFLAGSFixed | x86.RFLAGSIOPL3, RSP: 0x1000}); err != nil {
		return HostCaps{}, err
	}
	var caps HostCaps
	for range 8 {
		errno := v.Run()
		if errno == unix.EINTR || errno == unix.EAGAIN {
			v.Unkick()
			continue
		}
		if errno != 0 {
			return caps, fmt.Errorf("probe host: KVM_RUN: %w", errno)
		}
		r, err := v.Regs()
		if err != nil {
			return caps, err
		}
		switch {
		case v.RunData().ExitReason == kvm.ExitShutdown && r.RIP == 0:
			caps.CPUIDTrapped = true
		case v.RunData().ExitReason == kvm.ExitShutdown && r.RIP == 2:
			caps.TSCTrapped = true
		case r.RIP >= 4:
			return caps, nil // at or past the hlt
		default:
			return caps, fmt.Errorf("probe host: exit reason %d at %#x", v.RunData().ExitReason, r.RIP)
		}
		r.RIP += 2
		if err := v.SetRegs(r); err != nil {
			return caps, err
		}
	}
	return caps, fmt.Errorf("probe host: the probe did not reach its hlt")
}
