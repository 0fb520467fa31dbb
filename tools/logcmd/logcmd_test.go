package logcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/replaylog"
)

const testEvents = 300

// writeTestLog records a small two-vCPU run with a checkpoint and returns
// its path and the file offsets of its blocks.
func writeTestLog(t *testing.T) (string, []replaylog.BlockInfo) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.log")
	h := replaylog.Header{WriterVersion: "0.1.0-test", Guest: "builtin", Args: []string{"racy-counter", "two words"},
		VCPUs: 2, MemSize: 1 << 20, PageSize: 4096, Created: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	w, err := replaylog.Create(path, h, replaylog.WriterOptions{BlockSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	exits := []uint64{0, 0}
	for i := 0; i < testEvents-1; i++ {
		v := uint32(i % 2)
		exits[v] += 2
		var e replaylog.Event
		switch i % 5 {
		case 0:
			e = replaylog.PortIn(v, 0x3fd, 1, 0x60)
		case 1:
			e = replaylog.Clock(v, 1_000_000+uint64(i)*10_000)
		case 2:
			e = replaylog.CREW(v, replaylog.ExitPos(exits[v]), 0x100+uint64(i%7), replaylog.AccessWrite, replaylog.PageExclusive,
				[]replaylog.Constraint{{VCPU: 1 - v, Pos: replaylog.ExitPos(exits[1-v])}})
		case 3:
			e = replaylog.ConsoleInput([]byte("ls -l\n"))
		case 4:
			e = replaylog.Region(replaylog.KindLabel, v, 0x1000, 64, `struct "inode"`)
		}
		if err := w.Append(&e); err != nil {
			t.Fatal(err)
		}
		if i == 100 {
			cp := &replaylog.Checkpoint{VCPUs: make([]replaylog.VCPUState, 2),
				Memory: []replaylog.MemRegion{{GPA: 0, Data: make([]byte, 64<<10)}}}
			if err := w.Checkpoint(cp); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := replaylog.End()
	if err := w.Append(&end); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := replaylog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	blocks, err := r.Blocks()
	if err != nil {
		t.Fatal(err)
	}
	return path, blocks
}

// damaged writes a modified copy of the log next to it.
func damaged(t *testing.T, path, name string, mod func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(filepath.Dir(path), name)
	if err := os.WriteFile(out, mod(b), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	path, blocks := writeTestLog(t)
	var evBlock replaylog.BlockInfo
	for _, b := range blocks {
		if b.Type == replaylog.BlockEvents && b.First > 0 {
			evBlock = b
			break
		}
	}
	cutAt := evBlock.Offset + 20 // inside the second events block's header
	cut := damaged(t, path, "cut.log", func(b []byte) []byte { return b[:cutAt] })
	corrupt := damaged(t, path, "corrupt.log", func(b []byte) []byte { b[evBlock.Offset+60] ^= 0xff; return b })
	notLog := damaged(t, path, "notes.txt", func([]byte) []byte { return []byte("hello\n") })
	missing := filepath.Join(filepath.Dir(path), "missing.log")
	truncMsg := fmt.Sprintf("truncated at byte %d after event %d", evBlock.Offset, evBlock.First-1)
	corruptMsg := fmt.Sprintf("corrupt block %d at byte offset %d", evBlock.Ordinal, evBlock.Offset)

	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  []string // substrings expected on stdout
		stderr  []string // substrings expected on stderr
		noLines bool
	}{
		{"no-args", nil, 2, nil, []string{"usage: vmm log <command>"}, false},
		{"unknown", []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`}, false},
		{"help", []string{"--help"}, 0, []string{"usage: vmm log <command>", "verify"}, nil, false},
		{"stat-help", []string{"stat", "--help"}, 0, []string{"usage: vmm log stat", "--json"}, nil, false},
		{"dump-help", []string{"dump", "-h"}, 0, []string{"usage: vmm log dump", "--from N", "--vcpu I"}, nil, false},
		{"verify-help", []string{"verify", "--help"}, 0, []string{"usage: vmm log verify", "Exit status 0 only"}, nil, false},
		{"stat-no-file", []string{"stat"}, 2, nil, []string{"want exactly one FILE"}, false},
		{"stat-two-files", []string{"stat", path, path}, 2, nil, []string{"want exactly one FILE"}, false},
		{"bad-flag", []string{"dump", "--frm", "3", path}, 2, nil, []string{"unknown flag: --frm"}, false},
		{"stat", []string{"stat", path}, 0, []string{
			"format:", fmt.Sprintf("%d.%d, written by vmm 0.1.0-test", replaylog.FormatMajor, replaylog.FormatMinor), `args:         racy-counter "two words"`, "vcpus:        2",
			fmt.Sprintf("events:       %d", testEvents), "checkpoints:  1 (before events 101)",
			"ratio", "status:       whole", "port-in", "crew", "label", "console-input",
			"events by vCPU:", "guest clock",
		}, nil, false},
		{"stat-cut", []string{"stat", cut}, 1, []string{"status:"}, []string{truncMsg}, false},
		{"stat-corrupt", []string{"stat", corrupt}, 1, nil, []string{corruptMsg, "checksum"}, false},
		{"stat-not-log", []string{"stat", notLog}, 1, nil, []string{"not a crewvm replay log"}, true},
		{"stat-missing", []string{"stat", missing}, 1, nil, []string{"no such file"}, true},
		{"dump", []string{"dump", path}, 0, []string{"#0 vcpu=0 port-in port=0x3fd size=1 value=0x60",
			"--- checkpoint 0: replay can start at event 101 ---", `name="struct \"inode\""`,
			fmt.Sprintf("#%d vcpu=- end", testEvents-1)}, nil, false},
		{"dump-from", []string{"dump", "--from", "250", "--limit", "2", path}, 0, []string{"#250 ", "#251 "}, nil, false},
		{"dump-from-past", []string{"dump", "--from", "1000", path}, 1, nil, []string{"no event 1000, the log has 300 events"}, false},
		{"dump-bad-vcpu", []string{"dump", "--vcpu", "5", path}, 2, nil, []string{"the log has 2 vCPUs"}, false},
		{"dump-cut", []string{"dump", cut}, 1, []string{fmt.Sprintf("#%d ", evBlock.First-1)}, []string{truncMsg}, false},
		{"dump-corrupt", []string{"dump", corrupt}, 1, nil, []string{corruptMsg}, false},
		{"verify", []string{"verify", path}, 0, []string{"whole:", fmt.Sprintf("%d events, 1 checkpoints", testEvents), "every checksum verified"}, nil, false},
		{"verify-quiet", []string{"verify", "-q", path}, 0, nil, nil, true},
		{"verify-cut", []string{"verify", cut}, 1, []string{"NOT WHOLE", truncMsg}, nil, false},
		{"verify-corrupt", []string{"verify", corrupt}, 1, []string{"NOT WHOLE", corruptMsg, "payload checksum mismatch"}, nil, false},
		{"verify-not-log", []string{"verify", notLog}, 1, nil, []string{"not a crewvm replay log"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tc.noLines && stdout != "" {
				t.Errorf("unexpected stdout:\n%s", stdout)
			}
		})
	}
}

func TestDumpFilters(t *testing.T) {
	path, _ := writeTestLog(t)
	code, stdout, stderr := run("dump", "--vcpu", "1", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var n int
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.HasPrefix(line, "---") {
			continue
		}
		n++
		if !strings.Contains(line, " vcpu=1 ") {
			t.Fatalf("line of another vCPU: %s", line)
		}
	}
	if n == 0 || n >= testEvents/2 {
		t.Fatalf("%d lines for vCPU 1", n)
	}
}

func TestDumpJSON(t *testing.T) {
	path, _ := writeTestLog(t)
	code, stdout, stderr := run("dump", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != testEvents {
		t.Fatalf("%d lines, want %d", len(lines), testEvents)
	}
	kinds := map[string]bool{}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		if m["index"] != float64(i) {
			t.Fatalf("line %d has index %v", i, m["index"])
		}
		k := m["kind"].(string)
		kinds[k] = true
		switch k {
		case "crew":
			pos := m["pos"].(map[string]any)
			after := m["after"].([]any)
			if pos["kind"] != "exit" || len(after) != 1 || m["access"] != "write" {
				t.Fatalf("crew line: %s", line)
			}
		case "console-input":
			if m["text"] != "ls -l\n" || m["data"] != "6c73202d6c0a" {
				t.Fatalf("console line: %s", line)
			}
		case "label":
			if m["name"] != `struct "inode"` {
				t.Fatalf("label line: %s", line)
			}
		case "end":
			if m["vcpu"] != nil {
				t.Fatalf("end line: %s", line)
			}
		}
	}
	for _, k := range []string{"port-in", "clock", "crew", "console-input", "label", "end"} {
		if !kinds[k] {
			t.Errorf("no %s line", k)
		}
	}
}

func TestStatJSON(t *testing.T) {
	path, _ := writeTestLog(t)
	code, stdout, stderr := run("stat", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s statResult
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.Events != testEvents || !s.Whole || s.VCPUs != 2 || len(s.ByVCPU) != 3 || s.Ratio <= 0 || len(s.Checkpoints) != 1 {
		t.Fatalf("stat: %+v", s)
	}
	var sum uint64
	for _, k := range s.ByKind {
		sum += k.Count
	}
	if sum != testEvents {
		t.Fatalf("kinds sum to %d", sum)
	}
}

func TestBytesize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"},
	}
	for _, tc := range tests {
		if got := bytesize(tc.n); got != tc.want {
			t.Errorf("bytesize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
