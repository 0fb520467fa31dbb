package x86

import "testing"

func TestDecodeTrapped(t *testing.T) {
	tests := []struct {
		code []byte
		ok   bool
		want Trapped
	}{
		{[]byte{0xef, 0x90}, true, Trapped{Len: 1, Size: 4}},
		{[]byte{0xee, 0x90}, true, Trapped{Len: 1, Size: 1}},
		{[]byte{0x66, 0xef}, true, Trapped{Len: 2, Size: 2}},
		{[]byte{0xec, 0x00}, true, Trapped{Len: 1, Size: 1, In: true}},
		{[]byte{0xf4, 0x00}, true, Trapped{Len: 1, Kind: TrapHLT}},
		{[]byte{0x0f, 0xa2}, true, Trapped{Len: 2, Kind: TrapCPUID}},
		{[]byte{0x0f, 0x31}, true, Trapped{Len: 2, Kind: TrapRDTSC}},
		{[]byte{0x0f, 0x01, 0xf9}, true, Trapped{Len: 3, Kind: TrapRDTSCP}},
		{[]byte{0x0f, 0x0b}, false, Trapped{}},
		{[]byte{0x66, 0xf4}, false, Trapped{}},
		{[]byte{0x66}, false, Trapped{}},
	}
	for _, tt := range tests {
		got, ok := DecodeTrapped(tt.code)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("DecodeTrapped(% x) = %+v, %v; want %+v, %v", tt.code, got, ok, tt.want, tt.ok)
		}
	}
}
