package machine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/crewvm/crewvm/vmm/kvm"
)

// EncodeCPUID and DecodeCPUID carry the CPUID table in a log header, so a
// replay answers CPUID exactly as the recording did on whatever host.
func EncodeCPUID(entries []kvm.CPUIDEntry) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, entries)
	return b.Bytes()
}

// DecodeCPUID rejects tables that are not whole entries or too long.
func DecodeCPUID(b []byte) ([]kvm.CPUIDEntry, error) {
	const entrySize = 40
	if len(b)%entrySize != 0 || len(b)/entrySize > 256 {
		return nil, fmt.Errorf("CPUID table of %d bytes is not 1 to 256 entries of %d bytes", len(b), entrySize)
	}
	out := make([]kvm.CPUIDEntry, len(b)/entrySize)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, out); err != nil {
		return nil, fmt.Errorf("CPUID table: %w", err)
	}
	return out, nil
}

// CPUID returns the base CPUID table this machine gives its vCPUs.
func (m *Machine) CPUID() []kvm.CPUIDEntry {
	return append([]kvm.CPUIDEntry(nil), m.cpuid...)
}

// ImageHash identifies the guest image, for log headers.
func (m *Machine) ImageHash() [32]byte { return m.img.Hash }

// ErrHostMismatch says a recording cannot replay on this host: the guest
// would read values of this host's processor where the recording's read
// its own.
var ErrHostMismatch = errors.New("the recording was made on another kind of processor")

// cpuIdentity names the processor a CPUID table describes: its vendor and
// its family, model and stepping (leaf 1 EAX).
func cpuIdentity(entries []kvm.CPUIDEntry) string {
	var vendor [12]byte
	var sig uint32
	for _, e := range entries {
		switch e.Function {
		case 0:
			binary.LittleEndian.PutUint32(vendor[0:], e.Ebx)
			binary.LittleEndian.PutUint32(vendor[4:], e.Edx)
			binary.LittleEndian.PutUint32(vendor[8:], e.Ecx)
		case 1:
			sig = e.Eax
		}
	}
	return fmt.Sprintf("%s family/model/stepping %#x", bytes.TrimRight(vendor[:], "\x00"), sig)
}

// checkReplayHost refuses a replay whose recorded CPUID table describes
// another processor than this host's. Where a host cannot trap cpuid
// (AMD PVM) the guest reads the processor's own values, on the recording
// host and on this one, and the log holds only the table the VMM would
// have served; a guest that branches on them (feature tests) diverges at
// once. The log does not say whether its host trapped cpuid, so any
// other processor is refused, as rr refuses another microarchitecture.
func checkReplayHost(recorded, host []kvm.CPUIDEntry) error {
	if r, h := cpuIdentity(recorded), cpuIdentity(host); r != h {
		return fmt.Errorf("%w: recorded on %s, this host is %s; replay it on a host like the recording's",
			ErrHostMismatch, r, h)
	}
	return nil
}
