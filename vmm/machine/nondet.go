package machine

import (
	"cmp"
	"fmt"
	"slices"

	"golang.org/x/arch/x86/x86asm"

	"github.com/crewvm/crewvm/vmm/abi"
)

// NondetSite is an instruction in the guest image that reads state the
// recording cannot capture on this host.
type NondetSite struct {
	Addr uint64
	Inst string
}

func (s NondetSite) String() string { return fmt.Sprintf("%s at %#x", s.Inst, s.Addr) }

// untrappableSites lists, by a linear sweep of the image's executable
// segments, the instructions whose results this host lets the guest read
// without the VMM seeing them (HostCaps): rdrand, rdseed and rdpid always,
// cpuid, rdtsc and rdtscp where the host runs them natively. A sweep can
// take data for code, so a site is a warning, not a verdict; code the
// guest generates at run time is not seen.
func untrappableSites(img *abi.Image, caps HostCaps) []NondetSite {
	var sites []NondetSite
	for _, s := range img.Segments {
		if !s.Exec {
			continue
		}
		for off := 0; off < len(s.Data); {
			inst, err := x86asm.Decode(s.Data[off:], 64)
			if err != nil || inst.Len == 0 {
				off++
				continue
			}
			if untrappable(inst.Op, caps) {
				sites = append(sites, NondetSite{Addr: s.Addr + uint64(off), Inst: inst.Op.String()})
			}
			off += inst.Len
		}
	}
	slices.SortFunc(sites, func(a, b NondetSite) int { return cmp.Compare(a.Addr, b.Addr) })
	return sites
}

func untrappable(op x86asm.Op, caps HostCaps) bool {
	switch op {
	case x86asm.RDRAND:
		return true
	case x86asm.CPUID:
		return !caps.CPUIDTrapped
	case x86asm.RDTSC, x86asm.RDTSCP:
		return !caps.TSCTrapped
	}
	return op.String() == "RDPID" || op.String() == "RDSEED"
}

// Untrappable lists the guest image's instructions that this host cannot
// trap: a linear sweep of its executable segments, which can take data
// for code, so a site is a warning, not a verdict.
func (m *Machine) Untrappable() []NondetSite { return untrappableSites(m.img, m.caps) }
