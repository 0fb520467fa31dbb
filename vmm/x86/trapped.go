package x86

// TrapKind says which instruction a CPL-3 guest trapped on.
type TrapKind int

// The instructions DecodeTrapped recognises.
const (
	TrapPortIO TrapKind = iota // in or out with the port in DX
	TrapHLT
	TrapCPUID
	TrapRDTSC
	TrapRDTSCP
)

// Trapped is a decoded instruction that a CPL-3 guest reaches the VMM
// with: on PVM its port I/O and hlt raise #GP, CPUID faulting and CR4.TSD
// make cpuid, rdtsc and rdtscp fault, and with no guest exception handler
// each arrives as a shutdown exit with RIP at the instruction.
type Trapped struct {
	Len  int
	Kind TrapKind
	// In and Size (operand bytes: 1, 2 or 4) describe port I/O.
	In   bool
	Size int
}

// DecodeTrapped recognises the instructions of Trapped at the start of b.
func DecodeTrapped(b []byte) (Trapped, bool) {
	switch {
	case len(b) >= 2 && b[0] == 0x0f && b[1] == 0xa2:
		return Trapped{Len: 2, Kind: TrapCPUID}, true
	case len(b) >= 2 && b[0] == 0x0f && b[1] == 0x31:
		return Trapped{Len: 2, Kind: TrapRDTSC}, true
	case len(b) >= 3 && b[0] == 0x0f && b[1] == 0x01 && b[2] == 0xf9:
		return Trapped{Len: 3, Kind: TrapRDTSCP}, true
	case len(b) >= 1 && b[0] == 0xf4:
		return Trapped{Len: 1, Kind: TrapHLT}, true
	}
	op := Trapped{Kind: TrapPortIO, Size: 4}
	i := 0
	if i < len(b) && b[i] == 0x66 {
		op.Size = 2
		i++
	}
	if i >= len(b) {
		return Trapped{}, false
	}
	switch b[i] {
	case 0xee: // out dx, al
		op.Size = 1
	case 0xef: // out dx, ax/eax
	case 0xec: // in al, dx
		op.Size, op.In = 1, true
	case 0xed: // in ax/eax, dx
		op.In = true
	default:
		return Trapped{}, false
	}
	op.Len = i + 1
	return op, true
}
