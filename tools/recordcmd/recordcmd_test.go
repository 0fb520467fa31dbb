package recordcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatsAndProfile records a two-vCPU workload with --stats and
// --cpuprofile: the table names every part of a transition, and the
// profile is a gzipped pprof file.
func TestStatsAndProfile(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.pprof")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-o", filepath.Join(dir, "r.log"), "--stats", "--cpuprofile", prof, "pingpong", "200"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"part of a transition", "fault served", "holder kicked", "hash owned pages", "mprotect", "read-then-write"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--stats output lacks %q:\n%s", want, stderr.String())
		}
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("--cpuprofile wrote %d bytes, not a gzipped profile", len(b))
	}
}

func TestBadProfilePath(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-o", filepath.Join(t.TempDir(), "r.log"), "--cpuprofile", "/nonexistent/dir/p", "hello"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--cpuprofile") {
		t.Fatalf("exit %d, %q; want 2 and a --cpuprofile error", code, stderr.String())
	}
}
