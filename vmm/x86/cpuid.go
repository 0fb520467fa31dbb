package x86

// CPUIDEntry is one entry of a CPUID table, laid out as struct
// kvm_cpuid_entry2 so that the KVM layer converts it field for field.
type CPUIDEntry struct {
	Function uint32
	Index    uint32
	Flags    uint32
	Eax      uint32
	Ebx      uint32
	Ecx      uint32
	Edx      uint32
	Padding  [3]uint32
}

// CPUID faulting (MSR_MISC_FEATURES_ENABLES bit 0): a CPL-3 cpuid then
// faults, so the VMM answers it from the masked table even where the
// host would run it natively and leak RDRAND and friends. Not every host
// honours it (crew/HOSTFACTS.md).
const (
	MSRMiscFeaturesEnables = 0x140
	CPUIDFaulting          = 1
	// CPUIDSignificantIndex is KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the entry
	// answers one subleaf only.
	CPUIDSignificantIndex = 1
	// CPUIDSignatureLeaf is the hypervisor leaf the VMM signs.
	CPUIDSignatureLeaf = 0x40000000
)

// MaskCPUID is table as CPU cpu's guest sees it: the instructions that
// read state a recording cannot capture (RDRAND, RDSEED, RDPID, RDTSCP)
// hidden, and the APIC IDs set to the CPU number.
func MaskCPUID(table []CPUIDEntry, cpu int) []CPUIDEntry {
	out := append([]CPUIDEntry(nil), table...)
	for i := range out {
		e := &out[i]
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
	return out
}

// CPUIDLeaf answers CPUID (leaf, sub) from table; leaves it does not list
// read as zero, and the signature leaf says "crewvmcrewvm", so that a
// guest can tell that the VMM, not the host, answers (guest/ABI.md).
func CPUIDLeaf(table []CPUIDEntry, leaf, sub uint32) (eax, ebx, ecx, edx uint32) {
	if leaf == CPUIDSignatureLeaf {
		return CPUIDSignatureLeaf, 0x77657263, 0x72636d76, 0x6d767765
	}
	for _, e := range table {
		if e.Function == leaf && (e.Flags&CPUIDSignificantIndex == 0 || e.Index == sub) {
			return e.Eax, e.Ebx, e.Ecx, e.Edx
		}
	}
	return 0, 0, 0, 0
}
