package guest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/guest/fstestcheck"
	"github.com/crewvm/crewvm/models/posix"
	"github.com/crewvm/crewvm/models/testgen"
)

// The fstest harness and the kernels under test also build as a Linux
// program (make -C guest host). These tests use it to check the harness's
// parser and both kernels against the model without a VM; the same tests
// on KVM are in vmm/fstest_e2e_test.go.

// samplePath is a few hundred tests, two of every call set, taken from
// the full generated file. Regenerate it after a model change with
//
//	vmm testgen --model posix -o /tmp/posix.tests
//	CREWVM_FSTEST_SAMPLE_FROM=/tmp/posix.tests go test ./guest -run FstestSample
const samplePath = "testdata/fstest-sample.tests"

var hostBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fstest-host")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hostBin = filepath.Join(dir, "fstest-host")
	out, err := exec.Command("make", "-s", "host", "HOST_BIN="+hostBin).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "make host: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runHost runs the host harness on input with args and returns its exit
// status and output; a crash or a hang fails the test.
func runHost(t testing.TB, input []byte, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hostBin, args...)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("fstest-host %v hung on %d bytes of input", args, len(input))
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if !exit.Exited() {
			t.Fatalf("fstest-host %v crashed (%v) on input:\n%.2000s", args, err, input)
		}
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func readSample(t testing.TB) ([]byte, *testgen.File) {
	t.Helper()
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := testgen.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", samplePath, err)
	}
	return data, f
}

// TestFstestSample regenerates the sample when asked and checks that it
// covers every call set with tests the model's concrete implementation
// passes.
func TestFstestSample(t *testing.T) {
	if from := os.Getenv("CREWVM_FSTEST_SAMPLE_FROM"); from != "" {
		writeSample(t, from)
	}
	_, f := readSample(t)
	if want := len(testgen.PosixCalls()) * (len(testgen.PosixCalls()) + 1) / 2; len(f.Sets) != want {
		t.Errorf("sample has %d call sets, want all %d", len(f.Sets), want)
	}
	for _, s := range f.Sets {
		if len(s.Tests) == 0 {
			t.Errorf("set %d %v has no test in the sample", s.ID, s.Calls)
		}
		for _, tt := range s.Tests {
			if err := posix.CheckTest(tt); err != nil {
				t.Error(err)
			}
		}
	}
}

// writeSample keeps the first two tests of distinct paths of every set of
// the test file at from.
func writeSample(t *testing.T, from string) {
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	full, err := testgen.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := &testgen.File{Model: full.Model, Params: full.Params}
	for _, s := range full.Sets {
		keep := &testgen.Set{Calls: s.Calls, Summary: s.Summary}
		paths := map[int]bool{}
		for _, tt := range s.Tests {
			if len(keep.Tests) < 2 && !paths[tt.Path] {
				paths[tt.Path] = true
				keep.Tests = append(keep.Tests, tt)
			}
		}
		keep.Summary.Tests = len(keep.Tests)
		out.Sets = append(out.Sets, keep)
	}
	var buf bytes.Buffer
	if err := testgen.Write(&buf, out); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(samplePath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFstestHostMatchesModel runs the sample on both kernels built for
// the host: every test passes, and every call returns what the model's
// concrete implementation returns.
func TestFstestHostMatchesModel(t *testing.T) {
	data, f := readSample(t)
	for _, kernel := range []string{"mono", "scalable"} {
		t.Run(kernel, func(t *testing.T) {
			code, out := runHost(t, data, "--results", kernel)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			n, err := fstestcheck.Check(f, out)
			if err != nil {
				t.Fatal(err)
			}
			if n < 300 {
				t.Errorf("only %d calls compared", n)
			}
		})
	}
}

// TestModelAgreesWithLinux runs the sample on the host's own kernel
// (host/kut_linux.c: two real processes, real files, pipes and mappings),
// in both orders of the calls: Linux returns what the model expects. The
// whole generated file is checked the same way by hand (BENCHMARKS.md).
func TestModelAgreesWithLinux(t *testing.T) {
	data, f := readSample(t)
	for _, order := range []string{"sequential", "reverse"} {
		t.Run(order, func(t *testing.T) {
			args := []string{"--results", "linux"}
			if order == "reverse" {
				args = append([]string{"--reverse"}, args...)
			}
			code, out := runHost(t, data, args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			if _, err := fstestcheck.Check(f, out); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sampleHead is the sample cut after its first set, made a whole file.
func sampleHead(t testing.TB) string {
	data, _ := readSample(t)
	s := string(data)
	end := strings.Index(s, "\nset id=2 ")
	if end < 0 {
		t.Fatal("sample has one set")
	}
	head := s[:end+1]
	tests := strings.Count(head, "\ntest id=")
	return head + fmt.Sprintf("eof sets=1 tests=%d\n", tests)
}

// TestFstestBadInput feeds the harness broken files: each is rejected
// with exit status 2 and a message naming the line at fault.
func TestFstestBadInput(t *testing.T) {
	head := sampleHead(t)
	lines := strings.SplitAfter(strings.TrimSuffix(head, "\n"), "\n")
	lines[len(lines)-1] += "\n"
	cut := head[:strings.LastIndex(head[:len(head)*2/3], "\n")+1]
	lineOf := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return i + 1
			}
		}
		t.Fatalf("sample head has no %q line", prefix)
		return 0
	}
	firstCall := lineOf("call slot=0")
	replaceLine := func(n int, with string) string {
		c := append([]string(nil), lines...)
		c[n-1] = with + "\n"
		return strings.Join(c, "")
	}
	insertAt := func(n int, what string) string {
		c := append([]string(nil), lines[:n-1]...)
		c = append(c, what)
		return strings.Join(append(c, lines[n-1:]...), "")
	}
	many := strings.Repeat("inode ino=%d nlink=0 len=0\n", 1)
	var inodes strings.Builder
	for i := range 13 {
		fmt.Fprintf(&inodes, many, 100+i)
	}
	tests := []struct {
		name  string
		input string
		line  int
		msg   string
	}{
		{"empty", "", 0, "empty test file"},
		{"not a test file", "hello\n", 1, "not a test file"},
		{"unknown version", strings.Replace(head, "crewvm-testgen 1", "crewvm-testgen 2", 1), 1, "version"},
		{"other model", strings.Replace(head, "model name=posix", "model name=counter", 1), 2, "posix model only"},
		{"truncated", cut, strings.Count(cut, "\n"), "truncated"},
		{"missing eof", strings.Join(lines[:len(lines)-1], ""), len(lines) - 1, "no eof record"},
		{"record after eof", head + "set id=2 call=open call=open\n", len(lines) + 1, "after eof"},
		{"unknown call", replaceLine(firstCall, "call slot=0 name=fork pid=0"), firstCall, "unknown call name"},
		{"fd out of range", replaceLine(firstCall, strings.Replace(strings.TrimSpace(lines[firstCall-1]), "pid=0", "pid=7", 1)), firstCall, "pid=7 is out of range"},
		{"carriage return", strings.Replace(head, "\n", "\r\n", 3), 1, "invalid byte 0xd"},
		{"too many inodes", insertAt(firstCall, inodes.String()), -1, "more inodes in one test than the harness holds"},
		{"huge integer", replaceLine(firstCall, "call slot=0 name=close pid=0 fd=99999999999999999999"), firstCall, "bad integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runHost(t, []byte(tt.input), "--parse-only")
			if code != 2 {
				t.Fatalf("exit %d, want 2; output:\n%s", code, out)
			}
			want := "bad test file: " // line -1: some line
			if tt.line > 0 {
				want += fmt.Sprintf("line %d: ", tt.line)
			} else if tt.line < 0 {
				want += "line "
			}
			if !strings.Contains(out, want) || !strings.Contains(out, tt.msg) {
				t.Errorf("output %q, want %q and %q", out, want, tt.msg)
			}
		})
	}
}

// limits are rejections of valid files for what the harness cannot hold,
// not for their syntax: a file the Go reader accepts may get one.
var limits = regexp.MustCompile(`than the harness holds|out of range|fstest runs|kernel holds|unknown field in a setup record|param fd_limit`)

// testgenCorpus returns the inputs of the Go reader's fuzz corpus
// (models/testgen/testdata/fuzz/FuzzRead), each a "go test fuzz v1" file
// holding one []byte literal.
func testgenCorpus(f *testing.F) [][]byte {
	paths, err := filepath.Glob("../models/testgen/testdata/fuzz/FuzzRead/*")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no testgen fuzz corpus: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		_, lit, _ := strings.Cut(string(b), "\n[]byte(")
		s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		if err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

// FuzzFstestParse checks the C parser against the Go reader: it never
// crashes or hangs, rejects with exit 2 and a line number, and accepts
// exactly the files the Go reader accepts (but for its own limits).
func FuzzFstestParse(f *testing.F) {
	f.Add([]byte(sampleHead(f)))
	data, _ := readSample(f)
	f.Add(data[:len(data)/3])
	f.Add([]byte("crewvm-testgen 1\nmodel name=posix\nparam unit=4096\nparam fd_limit=8\neof sets=0 tests=0\n"))
	for _, seed := range testgenCorpus(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		code, out := runHost(t, input, "--parse-only")
		_, goErr := testgen.Read(bytes.NewReader(input))
		switch {
		case code != 0 && code != 2:
			t.Fatalf("exit %d:\n%s", code, out)
		case code == 2 && !strings.Contains(out, "bad test file: "):
			t.Fatalf("rejected without a message:\n%s", out)
		case code == 0 && goErr != nil:
			t.Fatalf("the harness accepts a file the Go reader rejects (%v)", goErr)
		case code == 2 && goErr == nil && !limits.MatchString(out):
			t.Fatalf("the harness rejects a file the Go reader accepts: %s", out)
		}
	})
}
