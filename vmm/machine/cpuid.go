package machine

import (
	"bytes"
	"encoding/binary"
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
