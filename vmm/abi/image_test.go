package abi

import (
	"testing"

	"github.com/crewvm/crewvm/guest"
)

func TestParseImageBuiltIn(t *testing.T) {
	img, err := ParseImage(guest.Kernel, 256<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if img.Entry < KernelMin || img.End <= img.Entry || len(img.Segments) == 0 {
		t.Errorf("implausible image: entry %#x end %#x, %d segments", img.Entry, img.End, len(img.Segments))
	}
}

// FuzzParseImage feeds arbitrary bytes to the ELF loader: it must return
// an image or an error, never panic, and a returned image must fit.
func FuzzParseImage(f *testing.F) {
	f.Add(guest.Kernel)
	f.Add(guest.Kernel[:64])
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const mem = 16 << 20
		img, err := ParseImage(data, mem, 2)
		if err != nil {
			return
		}
		limit := StackBase(mem, 2)
		for _, s := range img.Segments {
			if s.Addr < KernelMin || s.Addr+s.MemSize > limit || uint64(len(s.Data)) > s.MemSize {
				t.Fatalf("segment %#x+%#x escapes [%#x, %#x)", s.Addr, s.MemSize, KernelMin, limit)
			}
		}
	})
}
