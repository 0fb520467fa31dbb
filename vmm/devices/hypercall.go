package devices

import (
	"fmt"

	"github.com/crewvm/crewvm/vmm/abi"
)

// Memory is the guest RAM a hypercall's buffers are read from, bounds
// checked (vmm/guestmem).
type Memory interface {
	Slice(gpa, n uint64) ([]byte, error)
}

// Call is one hypercall, decoded and checked: the machine core carries
// it out.
type Call struct {
	Nr uint64 // abi.HC*
	// Status is HC_EXIT's exit status.
	Status int
	// CPU is HC_WAKE's target.
	CPU int
	// Addr and Len are HC_LABEL's range, Addr HC_REGION_*'s region id.
	Addr, Len uint64
	// Text is HC_CONSOLE's bytes or HC_LABEL's name, in guest RAM.
	Text []byte
}

// HypercallArgs are the registers a hypercall passes (guest/ABI.md): the
// number in RAX, the arguments in RDI, RSI, RCX and R8.
type HypercallArgs struct{ Nr, A0, A1, A2, A3 uint64 }

// DecodeHypercall checks a hypercall of a guest with cpus CPUs against
// the ABI and mem. Its error says what the guest got wrong.
func DecodeHypercall(a HypercallArgs, cpus int, mem Memory) (Call, error) {
	nr := a.Nr & 0xffffffff
	call := Call{Nr: nr}
	switch nr {
	case abi.HCExit:
		call.Status = int(a.A0 & 0xff)
	case abi.HCTime, abi.HCHalt:
	case abi.HCWake:
		if a.A0 >= uint64(cpus) {
			return call, fmt.Errorf("hypercall wake: CPU %d does not exist (%d CPUs)", a.A0, cpus)
		}
		call.CPU = int(a.A0)
	case abi.HCConsole:
		if a.A1 > abi.MaxConsole {
			return call, fmt.Errorf("hypercall console: length %d exceeds %d", a.A1, abi.MaxConsole)
		}
		b, err := mem.Slice(a.A0, a.A1)
		if err != nil {
			return call, fmt.Errorf("hypercall console: %w", err)
		}
		call.Text = b
	case abi.HCRegionBegin, abi.HCRegionEnd:
		call.Addr = a.A0
	case abi.HCLabel:
		if _, err := mem.Slice(a.A0, a.A1); err != nil {
			return call, fmt.Errorf("hypercall label: %w", err)
		}
		if a.A3 > abi.MaxLabel {
			return call, fmt.Errorf("hypercall label: name length %d exceeds %d", a.A3, abi.MaxLabel)
		}
		b, err := mem.Slice(a.A2, a.A3)
		if err != nil {
			return call, fmt.Errorf("hypercall label: name: %w", err)
		}
		call.Addr, call.Len, call.Text = a.A0, a.A1, b
	default:
		return call, fmt.Errorf("unknown hypercall %d", nr)
	}
	return call, nil
}
