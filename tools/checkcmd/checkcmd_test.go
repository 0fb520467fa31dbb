package checkcmd

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/analysis/report"
	"github.com/crewvm/crewvm/tools/testgencmd"
)

// smallTests generates one test per commutative path of four calls'
// pairs (about 220 tests): enough to see both kernels' designs.
func smallTests(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "small.tests")
	var errb bytes.Buffer
	args := []string{"--model", "posix", "--calls", "open,close,stat,rename", "--max-tests-per-path", "1", "-o", path}
	if code := testgencmd.MainContext(context.Background(), args, io.Discard, &errb); code != 0 {
		t.Fatalf("testgen: %d\n%s", code, errb.String())
	}
	return path
}

func readReport(t *testing.T, dir string) *report.Report {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCheckBothKernels runs vmm check on a small call subset: scalable
// is conflict-free but on tests whose sharing the report names (its own
// objects, where the calls touch the same name), and mono conflicts on
// every test, on its file-system lock.
func TestCheckBothKernels(t *testing.T) {
	dir := t.TempDir()
	tests := smallTests(t, dir)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"--tests", tests, "--out", out, "--batch", "120"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, f := range []string{"summary.txt", "report.json", "top.txt", "heatmap.svg", "index.html"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	r := readReport(t, out)
	if len(r.Kernels) != 2 || r.Kernels[0].Name != "mono" || r.Kernels[1].Name != "scalable" {
		t.Fatalf("kernels %+v", r.Kernels)
	}
	mono, scal := r.Kernels[0], r.Kernels[1]
	n, free := mono.Totals()
	if n < 150 || free != 0 {
		t.Errorf("mono: %d tests, %d conflict-free; want every test conflicted", n, free)
	}
	top := mono.TopLocations()
	if len(top) == 0 || !strings.Contains(top[0].Key, "struct mono_fs.lock") || top[0].Tests != n {
		t.Errorf("mono's first conflict is %+v, want its file-system lock in all %d tests", top[0], n)
	}
	n, free = scal.Totals()
	if n < 150 || float64(free) < 0.95*float64(n) {
		t.Errorf("scalable: %d tests, %d conflict-free; want 95%% or more", n, free)
	}
	for _, tt := range scal.Tests {
		for _, s := range tt.Shared {
			if !strings.HasPrefix(s.Addr, "struct scal_") {
				t.Errorf("scalable test %d (%s,%s) shares %s, not an object of the kernel", tt.ID, tt.Pair.A, tt.Pair.B, s.Addr)
			}
		}
	}
	summary, _ := os.ReadFile(filepath.Join(out, "summary.txt"))
	if !strings.HasPrefix(string(summary), "mono: ") || !strings.Contains(stdout.String(), "scalable: ") {
		t.Errorf("summary:\n%s\nstdout:\n%s", summary, stdout.String())
	}

	// A second run against the first as a baseline has no regressions;
	// --resume reuses every batch.
	stdout.Reset()
	if code := Main([]string{"--tests", tests, "--out", out, "--batch", "120", "--resume", "--baseline", filepath.Join(out, "report.json")}, &stdout, &stderr); code != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "no scalability regressions") {
		t.Errorf("rerun output:\n%s", stdout.String())
	}
}

func TestCheckUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--model", "counter"}, "only the posix model"},
		{[]string{"--kernel", "linux"}, "the kernels are mono and scalable"},
		{[]string{"-j", "0"}, "at least 1"},
		{[]string{"--tests", "x", "--calls", "open"}, "with --tests the file decides"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := Main(tt.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("vmm check %v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

// TestCheckFindsPlantedBug turns on scalable's planted bug (a global
// counter that stat increments and every call reads): the report flags
// exactly the pairs with a stat in them, naming the counter.
func TestCheckFindsPlantedBug(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	args := []string{"--calls", "close,stat,rename", "--max-tests-per-path", "1", "--kernel", "scalable", "--plant", "stat", "--out", out}
	if code := Main(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	k := readReport(t, out).Kernels[0]
	withStat := 0
	for _, tt := range k.Tests {
		planted := false
		for _, s := range tt.Shared {
			planted = planted || s.Addr == "scal_planted_stats"
		}
		hasStat := tt.Pair.A == "stat" || tt.Pair.B == "stat"
		if hasStat {
			withStat++
		}
		if planted != hasStat {
			t.Errorf("test %d (%s,%s): planted counter shared %v, want %v; shared %+v", tt.ID, tt.Pair.A, tt.Pair.B, planted, hasStat, tt.Shared)
		}
	}
	if withStat == 0 {
		t.Fatal("no test with a stat")
	}
	top, _ := os.ReadFile(filepath.Join(out, "top.txt"))
	if !strings.Contains(string(top), "1. scal_planted_stats: ") {
		t.Errorf("top.txt does not rank the planted counter first:\n%s", top)
	}
}
