package x86

import "testing"

func TestMaskCPUID(t *testing.T) {
	table := []CPUIDEntry{
		{Function: 1, Ebx: 0x05aabbcc, Ecx: 1<<30 | 1},
		{Function: 7, Index: 0, Flags: CPUIDSignificantIndex, Ebx: 1<<18 | 2, Ecx: 1<<22 | 4},
		{Function: 7, Index: 1, Flags: CPUIDSignificantIndex, Ebx: 1 << 18},
		{Function: 0xb, Edx: 9},
		{Function: 0x80000001, Edx: 1<<27 | 8},
	}
	got := MaskCPUID(table, 3)
	tests := []struct {
		leaf, sub          uint32
		eax, ebx, ecx, edx uint32
	}{
		{1, 0, 0, 0x03aabbcc, 1, 0},
		{7, 0, 0, 2, 4, 0},
		{7, 1, 0, 1 << 18, 0, 0}, // only subleaf 0 is masked
		{0xb, 0, 0, 0, 0, 3},
		{0x80000001, 0, 0, 0, 0, 8},
		{0x12345, 0, 0, 0, 0, 0},
		{CPUIDSignatureLeaf, 0, CPUIDSignatureLeaf, 0x77657263, 0x72636d76, 0x6d767765},
	}
	for _, tt := range tests {
		a, b, c, d := CPUIDLeaf(got, tt.leaf, tt.sub)
		if a != tt.eax || b != tt.ebx || c != tt.ecx || d != tt.edx {
			t.Errorf("leaf %#x.%d = %#x %#x %#x %#x, want %#x %#x %#x %#x", tt.leaf, tt.sub, a, b, c, d, tt.eax, tt.ebx, tt.ecx, tt.edx)
		}
	}
	if table[0].Ecx&(1<<30) == 0 {
		t.Error("MaskCPUID changed its input")
	}
}
