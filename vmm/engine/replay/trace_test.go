package replay

import "testing"

func TestTraceRanges(t *testing.T) {
	o := &TraceOptions{Ranges: []AddrRange{{Lo: 0x1000, Hi: 0x1010}}}
	for _, tc := range []struct {
		addr uint64
		size uint32
		want bool
	}{
		{0x1000, 8, true}, {0x100c, 8, true}, {0x0ffc, 8, true}, {0x0ff8, 8, false}, {0x1010, 1, false},
	} {
		if got := o.wanted(tc.addr, tc.size); got != tc.want {
			t.Errorf("wanted(%#x, %d) = %v, want %v", tc.addr, tc.size, got, tc.want)
		}
	}
	if !(&TraceOptions{}).wanted(0, 1) {
		t.Error("no ranges must deliver everything")
	}
}
