package vmm

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
		limit := stackBase(mem, 2)
		for _, s := range img.Segments {
			if s.Addr < KernelMin || s.Addr+s.MemSize > limit || uint64(len(s.Data)) > s.MemSize {
				t.Fatalf("segment %#x+%#x escapes [%#x, %#x)", s.Addr, s.MemSize, KernelMin, limit)
			}
		}
	})
}

func TestDecodeTrapped(t *testing.T) {
	tests := []struct {
		code []byte
		ok   bool
		want trappedOp
	}{
		{[]byte{0xef, 0x90}, true, trappedOp{length: 1, size: 4}},
		{[]byte{0xee, 0x90}, true, trappedOp{length: 1, size: 1}},
		{[]byte{0x66, 0xef}, true, trappedOp{length: 2, size: 2}},
		{[]byte{0xec, 0x00}, true, trappedOp{length: 1, size: 1, in: true}},
		{[]byte{0xf4, 0x00}, true, trappedOp{length: 1, size: 4, hlt: true}},
		{[]byte{0x0f, 0xa2}, true, trappedOp{length: 2, cpuid: true}},
		{[]byte{0x0f, 0x0b}, false, trappedOp{}},
		{[]byte{0x66, 0xf4}, false, trappedOp{}},
		{[]byte{0x66}, false, trappedOp{}},
	}
	for _, tt := range tests {
		got, ok := decodeTrapped(tt.code)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("decodeTrapped(% x) = %+v, %v; want %+v, %v", tt.code, got, ok, tt.want, tt.ok)
		}
	}
}
