package replaycmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/tools/cli"
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

func TestMainBadAnalysisFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--analysis", "nope", "--out", t.TempDir(), "x.log"}, `no analysis "nope"`},
		{[]string{"--analysis", "trace", "x.log"}, "needs --out"},
		{[]string{"--analysis", "trace", "--out", filepath.Join(file, "sub"), "x.log"}, "--out"},
		{[]string{"--trace-range", "9-1", "x.log"}, "empty range"},
	} {
		var out, errb bytes.Buffer
		if code := Main(tc.args, &out, &errb); code != cli.ExitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("vmm replay %v: exit %d, stderr %q; want %d with %q", tc.args, code, errb.String(), cli.ExitUsage, tc.want)
		}
	}
}
