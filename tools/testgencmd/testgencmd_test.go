package testgencmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/models/posix"
	"github.com/crewvm/crewvm/models/testgen"
	"github.com/crewvm/crewvm/tools/cli"
)

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = MainContext(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpAndList(t *testing.T) {
	code, out, _ := runMain(t, "--help")
	if code != 0 || !strings.Contains(out, "usage: vmm testgen") || !strings.Contains(out, "--max-tests-per-path") {
		t.Errorf("--help: code %d, output:\n%s", code, out)
	}
	code, out, _ = runMain(t, "--list")
	if code != 0 {
		t.Fatalf("--list: code %d", code)
	}
	for _, want := range []string{"posix:", "memwrite", "counter:", "iszero", "getset:", "rename:", "upipe:", "u_read", "watermark:", "trackforget:", "forget"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list output lacks %q:\n%s", want, out)
		}
	}
}

func TestBadUsage(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.tests")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"-o", out}, "--model is required"},
		{"unknown model", []string{"--model", "nfs", "-o", out}, `unknown model "nfs"`},
		{"unknown call", []string{"--model", "posix", "--calls", "open,fork", "-o", out}, `no call "fork"`},
		{"no output", []string{"--model", "counter"}, "-o FILE is required"},
		{"bad n", []string{"--model", "counter", "-n", "0", "-o", out}, "-n 0"},
		{"bad jobs", []string{"--model", "counter", "-j", "0", "-o", out}, "-j 0"},
		{"negative tests", []string{"--model", "counter", "--max-tests-per-path", "-1", "-o", out}, "--max-tests-per-path -1"},
		{"unknown flag", []string{"--frobnicate"}, "unknown flag"},
		{"stray argument", []string{"--model", "counter", "-o", out, "extra"}, `unexpected argument "extra"`},
		{"bad duration", []string{"--model", "counter", "--timeout-per-set", "soon", "-o", out}, "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runMain(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q does not mention %q", errOut, tt.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed command wrote %s", out)
	}
}

func readFile(t *testing.T, path string) *testgen.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tf, err := testgen.Read(f)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	return tf
}

func TestGenerateToy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "counter.tests")
	code, stdout, stderr := runMain(t, "--model", "counter", "-j", "2", "-v", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f := readFile(t, out)
	if f.Model != "counter" || len(f.Sets) != 6 {
		t.Errorf("model %s with %d sets, want counter with 6", f.Model, len(f.Sets))
	}
	// Sets are written in call-set order whatever the parallelism.
	var got []string
	for _, s := range f.Sets {
		got = append(got, strings.Join(s.Calls, ","))
	}
	if strings.Join(got, " ") != "inc,inc inc,dec inc,iszero dec,dec dec,iszero iszero,iszero" {
		t.Errorf("set order %v", got)
	}
	for _, line := range []string{"inc,inc", "counter: 6 call sets", "tests/s", "wrote " + out} {
		if !strings.Contains(stdout, line) {
			t.Errorf("summary lacks %q:\n%s", line, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("unexpected stderr (no terminal, so no progress bar): %q", stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("output mode: %v %v", fi.Mode(), err)
	}
}

func TestGeneratePosixSubset(t *testing.T) {
	out := filepath.Join(t.TempDir(), "posix.tests")
	code, stdout, stderr := runMain(t, "--model", "posix", "--calls", "open,close,read", "--max-tests-per-path", "2", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f := readFile(t, out)
	if len(f.Sets) != 6 || f.NumTests() == 0 {
		t.Fatalf("%d sets, %d tests", len(f.Sets), f.NumTests())
	}
	for _, s := range f.Sets {
		if s.Summary.Status != testgen.StatusOK {
			t.Errorf("set %v: %s", s.Calls, s.Summary.Status)
		}
		for _, tt := range s.Tests {
			if err := posix.CheckTest(tt); err != nil {
				t.Error(err)
			}
		}
	}
	if !strings.Contains(stdout, "posix: 6 call sets") {
		t.Errorf("summary:\n%s", stdout)
	}
}

func TestStdoutOutput(t *testing.T) {
	code, stdout, stderr := runMain(t, "--model", "getset", "--calls", "set", "-o", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := testgen.Read(strings.NewReader(stdout))
	if err != nil {
		t.Fatalf("stdout is not a test file: %v\n%s", err, stdout)
	}
	if len(f.Sets) != 1 || f.NumTests() == 0 {
		t.Errorf("%d sets, %d tests", len(f.Sets), f.NumTests())
	}
	if !strings.Contains(stderr, "getset: 1 call sets") {
		t.Errorf("summary should go to stderr with -o -: %q", stderr)
	}
}

// TestTimeoutsAreReportedAndSkipped: every set times out, the command
// still finishes quickly, writes a valid file recording the timeouts, and
// only --strict turns them into a failure.
func TestTimeoutsAreReportedAndSkipped(t *testing.T) {
	out := filepath.Join(t.TempDir(), "t.tests")
	args := []string{"--model", "posix", "--calls", "open,rename,read", "--timeout-per-set", "1ms", "-o", out}
	start := time.Now()
	code, stdout, stderr := runMain(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v", d)
	}
	f := readFile(t, out)
	timeouts := 0
	for _, s := range f.Sets {
		if s.Summary.Status == testgen.StatusTimeout {
			timeouts++
		}
	}
	if timeouts == 0 {
		t.Errorf("no set timed out in 1ms")
	}
	if !strings.Contains(stdout, "timeout") || !strings.Contains(stdout, "deadline exceeded") {
		t.Errorf("timeouts not reported:\n%s", stdout)
	}
	if code, _, _ := runMain(t, append(args, "--strict")...); code != exitFail {
		t.Errorf("--strict with timeouts: exit %d, want %d", code, exitFail)
	}
}

func TestInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "t.tests")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var so, se bytes.Buffer
	code := MainContext(ctx, []string{"--model", "posix", "-o", out}, &so, &se)
	if code != exitFail || !strings.Contains(se.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, se.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("interrupted run left an output file")
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestUnwritableOutput(t *testing.T) {
	code, _, stderr := runMain(t, "--model", "counter", "-o", filepath.Join(t.TempDir(), "missing", "dir", "t.tests"))
	if code != exitFail || !strings.Contains(stderr, "creating output") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, total: 4, start: time.Now().Add(-2 * time.Second), done: make(chan struct{})}
	p.update(totals{sets: 2, tests: 17})
	p.stop()
	p.stop()
	s := buf.String()
	for _, want := range []string{"\r[", "2/4 sets", "17 tests", "left", "\r\033[K"} {
		if !strings.Contains(s, want) {
			t.Errorf("progress output %q lacks %q", s, want)
		}
	}
	if cli.IsTerminal(&buf) {
		t.Error("a buffer is not a terminal")
	}
}
