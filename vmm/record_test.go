package vmm

import (
	"bytes"
	"testing"

	"github.com/bobuhiro11/gokvm/kvm"
)

// FuzzDecodeCPUID: the CPUID table comes from a log header, so any bytes
// must give a table that re-encodes to themselves, or an error.
func FuzzDecodeCPUID(f *testing.F) {
	f.Add(EncodeCPUID([]kvm.CPUIDEntry2{{Function: 1, Ecx: 1 << 30}, {Function: 7, Flags: 1}}))
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

func TestMemoryHashIgnoresZeroPages(t *testing.T) {
	m, err := NewMemory(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mach := &Machine{mem: m}
	empty := mach.memoryHash()
	m.Host()[5000] = 0 // touching a page with a zero keeps it zero
	if got := mach.memoryHash(); got != empty {
		t.Errorf("a backed zero page changed the hash")
	}
	m.Host()[5000] = 1
	if got := mach.memoryHash(); got == empty {
		t.Errorf("a non-zero byte did not change the hash")
	}
}
