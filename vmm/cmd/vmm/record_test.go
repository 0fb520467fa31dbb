package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/tools/cli"
)

func TestRecordReplayMatches(t *testing.T) {
	for _, w := range []string{"clock", "hello", "matmul 96", "radix 100000"} {
		t.Run(w, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "run.log")
			code, recOut, errs := run(append([]string{"record", "-o", log}, strings.Fields(w)...)...)
			if code != 0 {
				t.Fatalf("record: code %d, stderr %q", code, errs)
			}
			code, repOut, errs := run("replay", log)
			if code != 0 || !strings.Contains(errs, "matched the recording") {
				t.Fatalf("replay: code %d, stderr %q", code, errs)
			}
			if recOut != repOut {
				t.Errorf("replay printed\n%q\nrecording printed\n%q", repOut, recOut)
			}
			if code, _, errs := run("log", "verify", "-q", log); code != 0 {
				t.Errorf("log verify: code %d, %s", code, errs)
			}
		})
	}
}

// rewriteLog copies a log event by event through edit, as a tamperer
// would; the writer computes fresh checksums.
func rewriteLog(t *testing.T, src, dst string, edit func(*replaylog.Event)) {
	t.Helper()
	r, err := replaylog.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := replaylog.Create(dst, r.Header(), replaylog.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ev := e.Clone()
		edit(ev)
		if err := w.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReplayBadLogs(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	if code, _, errs := run("record", "-o", good, "clock"); code != 0 {
		t.Fatalf("record: %s", errs)
	}
	tampered := filepath.Join(dir, "tampered.log")
	n := 0
	rewriteLog(t, good, tampered, func(e *replaylog.Event) {
		if e.Kind == replaylog.KindClock {
			if n++; n == 8 {
				e.Value += 12345
			}
		}
	})
	data, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.log")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	other := filepath.Join(dir, "other.elf")
	os.WriteFile(other, append(append([]byte(nil), guest.Kernel...), 0), 0o644)
	notLog := filepath.Join(dir, "not.log")
	os.WriteFile(notLog, []byte("hello, world\n"), 0o644)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"tampered clock", []string{"replay", tampered}, cli.ExitFailure, "diverged"},
		{"truncated", []string{"replay", truncated}, cli.ExitFailure, "truncated"},
		{"other guest", []string{"replay", "--guest", other, good}, cli.ExitFailure, "another guest image"},
		{"not a log", []string{"replay", notLog}, cli.ExitFailure, "not"},
		{"missing", []string{"replay", filepath.Join(dir, "nope")}, cli.ExitFailure, "no such file"},
		{"no file", []string{"replay"}, cli.ExitUsage, "exactly one FILE"},
		{"record needs -o", []string{"record", "hello"}, cli.ExitUsage, "-o FILE"},
		{"bad granularity", []string{"record", "-o", filepath.Join(dir, "x.log"), "--granularity", "6K", "hello"}, cli.ExitUsage, "power of two"},
		{"bad deadline", []string{"record", "-o", filepath.Join(dir, "x.log"), "--revoke-deadline", "0s", "hello"}, cli.ExitUsage, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := run(tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("vmm %v: code %d, stderr %q; want code %d mentioning %q", tt.args, code, errs, tt.code, tt.want)
			}
		})
	}
}
