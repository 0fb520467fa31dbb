package replaycmd

import (
	"testing"

	"github.com/crewvm/crewvm/vmm"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want vmm.TraceRange
		ok   bool
	}{
		{"1000-2000", vmm.TraceRange{Lo: 0x1000, Hi: 0x2000}, true},
		{"0x11af40-0x11af50", vmm.TraceRange{Lo: 0x11af40, Hi: 0x11af50}, true},
		{"2000-1000", vmm.TraceRange{}, false},
		{"1000", vmm.TraceRange{}, false},
		{"zz-10", vmm.TraceRange{}, false},
		{"10-", vmm.TraceRange{}, false},
	} {
		got, err := parseRange(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseRange(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
