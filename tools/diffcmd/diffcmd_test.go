package diffcmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/replaylog"
)

func header(vcpus uint32) replaylog.Header {
	return replaylog.Header{WriterVersion: "test", Guest: "builtin", Args: []string{"racy-counter", "100"},
		VCPUs: vcpus, MemSize: 1 << 20, PageSize: 4096, Created: time.Unix(1700000000, 0)}
}

// writeLog writes a log of evs into dir and returns its path.
func writeLog(t *testing.T, dir, name string, h replaylog.Header, evs []replaylog.Event) string {
	t.Helper()
	path := filepath.Join(dir, name)
	w, err := replaylog.Create(path, h, replaylog.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := w.Append(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func TestMain(t *testing.T) {
	dir := t.TempDir()
	base := []replaylog.Event{
		replaylog.CREW(0, replaylog.ExitPos(1), 0x200, replaylog.AccessWrite, replaylog.PageExclusive, nil),
		replaylog.Clock(1, 100),
	}
	end := []replaylog.Event{replaylog.GuestExit(0, 0), replaylog.End()}
	a := writeLog(t, dir, "a.log", header(2), append(append(base[:len(base):len(base)],
		replaylog.CREW(1, replaylog.ExitPos(2), 0x200, replaylog.AccessWrite, replaylog.PageExclusive,
			[]replaylog.Constraint{{VCPU: 0, Pos: replaylog.ExitPos(2)}})), end...))
	b := writeLog(t, dir, "b.log", header(2), append(append(base[:len(base):len(base)],
		replaylog.CREW(1, replaylog.ExitPos(2), 0x200, replaylog.AccessWrite, replaylog.PageExclusive,
			[]replaylog.Constraint{{VCPU: 0, Pos: replaylog.ExitPos(3)}})), end...))
	other := writeLog(t, dir, "other.log", header(4), end)
	cut := filepath.Join(dir, "cut.log")
	whole, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, whole[:len(whole)-30], 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"same", []string{a, a}, ExitSame, []string{"The logs are the same: 5 events."}, nil},
		{"differ", []string{a, b}, ExitDiffer, []string{"part at event #2", "crew-order", "taken from vcpu0 at exit 2 in A, exit 3 in B"}, nil},
		{"context-follow", []string{"--context", "1", "--follow", "0", a, b}, ExitDiffer, []string{"shared #1 vcpu=1 clock"}, nil},
		{"help", []string{"--help"}, ExitSame, []string{"usage: vmm diff", "Exit status: 0 when", "--follow", "crew-order"}, nil},
		{"one-arg", []string{a}, ExitTrouble, nil, []string{"want two logs"}},
		{"bad-flag", []string{"--frobnicate", a, b}, ExitTrouble, nil, []string{"unknown flag"}},
		{"negative", []string{"--context", "-3", a, b}, ExitTrouble, nil, []string{"--context"}},
		{"mismatch", []string{a, other}, ExitTrouble, nil, []string{"not recordings of one workload", "vCPU count: " + a + " has 2, " + other + " has 4"}},
		{"missing", []string{a, filepath.Join(dir, "nope.log")}, ExitTrouble, nil, []string{"nope.log"}},
		{"truncated", []string{a, cut}, ExitTrouble, nil, []string{"cut.log", "truncated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.code == ExitTrouble && out != "" {
				t.Errorf("trouble, yet stdout:\n%s", out)
			}
		})
	}
	if _, out, _ := run("--context", "0", "--follow", "0", a, b); strings.Contains(out, "shared #") || strings.Contains(out, "  1. ") {
		t.Errorf("--context 0 --follow 0 still lists events:\n%s", out)
	}

	code, out, errOut := run("--json", a, b)
	if code != ExitDiffer {
		t.Fatalf("--json: exit %d, %s", code, errOut)
	}
	var res struct {
		Same  bool `json:"same"`
		First struct {
			Index uint64 `json:"index"`
			Class string `json:"class"`
		} `json:"first"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if res.Same || res.First.Index != 2 || res.First.Class != "crew-order" {
		t.Errorf("--json: %+v", res)
	}
}
