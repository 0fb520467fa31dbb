package tracecmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/analysis"
)

func writeTrace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tr := analysis.NewTrace()
	if err := tr.Start(&analysis.Run{CPUs: 1, MemSize: 1 << 20, Out: &analysis.Output{Dir: dir}}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []analysis.Event{
		{Kind: analysis.EventRegionBegin, Region: 1},
		{Kind: analysis.EventAccess, Access: analysis.Access{RIP: 0x1000, Addr: 0x2000, Size: 2, Kind: analysis.Write, Value: []byte{0xab, 0xcd}}},
	} {
		if err := tr.Event(&ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Finish(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, analysis.TraceFile)
}

func TestDump(t *testing.T) {
	path := writeTrace(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dump", path}, 0, "cpu 0 exit 0 step 0 rip 0x1000 write 0x2000+2 = abcd"},
		{[]string{"dump", "--json", path}, 0, `"kind":"write"`},
		{[]string{"dump"}, 2, ""},
		{[]string{"frob"}, 2, ""},
		{[]string{"dump", filepath.Join(t.TempDir(), "none")}, 1, ""},
	} {
		var out, errb bytes.Buffer
		if code := Main(tc.args, &out, &errb); code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("vmm trace %v: exit %d, output %q (stderr %q); want exit %d with %q", tc.args, code, out.String(), errb.String(), tc.code, tc.want)
		}
		if tc.code == 0 && strings.Contains(strings.Join(tc.args, " "), "--json") {
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var v map[string]any
				if err := json.Unmarshal([]byte(line), &v); err != nil {
					t.Errorf("not JSON: %q", line)
				}
			}
		}
	}
	// A damaged trace is an error, not a panic.
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, b, 0o644)
	var out, errb bytes.Buffer
	if code := Main([]string{"dump", bad}, &out, &errb); code != 1 {
		t.Errorf("damaged trace: exit %d, stderr %q", code, errb.String())
	}
}
