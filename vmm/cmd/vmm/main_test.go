package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run invokes the vmm command line in-process.
func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = mainArgs(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "not-elf")
	os.WriteFile(notELF, []byte("hello"), 0o644)
	empty := filepath.Join(dir, "empty.tests")
	os.WriteFile(empty, nil, 0o644)
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrRe string
	}{
		{"hello", []string{"run", "--cpus", "2", "hello"}, 0, "cpu 1 of 2", ""},
		{"default workload", []string{"run", "--cpus", "1"}, 0, "cpu 0 of 1", ""},
		{"help", []string{"run", "--help"}, 0, "", "usage: vmm run"},
		{"top help", []string{"--help"}, 0, "commands:", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", "unknown command"},
		{"zero cpus", []string{"run", "--cpus", "0"}, 2, "", "at least one vCPU"},
		{"bad mem", []string{"run", "--mem", "lots"}, 2, "", "--mem"},
		{"missing guest", []string{"run", "--guest", filepath.Join(dir, "nope")}, 2, "", "--guest"},
		{"not an ELF", []string{"run", "--guest", notELF}, 125, "", "guest ELF"},
		{"guest failure", []string{"run", "triple-fault"}, 125, "", "triple fault"},
		{"timeout", []string{"run", "--timeout", "200ms", "spin-forever"}, 124, "", "did not exit within"},
		{"guest status", []string{"run", "no-such-workload"}, 2, "unknown workload", ""},
		{"missing tests", []string{"run", "--tests", filepath.Join(dir, "nope"), "fstest"}, 2, "", "--tests"},
		{"empty tests", []string{"run", "--tests", empty, "fstest"}, 2, "", "the file is empty"},
		{"fstest", []string{"run", "--tests", "../../../guest/testdata/fstest-sample.tests", "fstest", "mono", "1-3"}, 0,
			"3 tests run, 3 passed, 0 failed", ""},
		{"bad test file", []string{"run", "--tests", notELF, "fstest"}, 2, "bad test file: line 1: not a test file", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errs, tt.stderrRe) {
				t.Errorf("vmm %v: code %d, stdout %q, stderr %q; want code %d, stdout ~%q, stderr ~%q",
					tt.args, code, out, errs, tt.code, tt.stdout, tt.stderrRe)
			}
			if tt.code == 125 && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("error is not one line: %q", errs)
			}
		})
	}
}

func TestSubcommandsHaveHelp(t *testing.T) {
	for name := range commands() {
		code, out, errs := run(name, "--help")
		if code != 0 || !strings.Contains(strings.ToLower(out+errs), "usage: vmm "+name) {
			t.Errorf("vmm %s --help: code %d, stdout %q, stderr %q", name, code, out, errs)
		}
	}
}
