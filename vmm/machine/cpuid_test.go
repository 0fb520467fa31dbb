package machine

import (
	"bytes"
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
