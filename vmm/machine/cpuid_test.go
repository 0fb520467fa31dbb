package machine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/crewvm/crewvm/vmm/kvm"
)

// FuzzDecodeCPUID: the CPUID table comes from a log header, so any bytes
// must give a table that re-encodes to themselves, or an error.
func FuzzDecodeCPUID(f *testing.F) {
	f.Add(EncodeCPUID([]kvm.CPUIDEntry{{Function: 1, Ecx: 1 << 30}, {Function: 7, Flags: 1}}))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := DecodeCPUID(b)
		if err != nil {
			return
		}
		if got := EncodeCPUID(entries); !bytes.Equal(got, b) {
			t.Fatalf("round trip changed %d bytes into %d", len(b), len(got))
		}
	})
}

func TestCheckReplayHost(t *testing.T) {
	table := func(vendor string, sig uint32, avx bool) []kvm.CPUIDEntry {
		v := []byte(vendor)
		le := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
		ecx := uint32(0)
		if avx {
			ecx = 1 << 28
		}
		return []kvm.CPUIDEntry{{Function: 0, Eax: 0xd, Ebx: le(v[0:]), Edx: le(v[4:]), Ecx: le(v[8:])}, {Function: 1, Eax: sig, Ecx: ecx}}
	}
	amd, intel := table("AuthenticAMD", 0xb00f21, true), table("GenuineIntel", 0xa0678, true)
	tests := []struct {
		name           string
		recorded, host []kvm.CPUIDEntry
		ok             bool
	}{
		{"same processor", amd, amd, true},
		{"same processor, other features", amd, table("AuthenticAMD", 0xb00f21, false), true},
		{"other vendor", intel, amd, false},
		{"other model", table("AuthenticAMD", 0xa00f11, true), amd, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkReplayHost(tt.recorded, tt.host)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrHostMismatch)) {
				t.Errorf("checkReplayHost = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
