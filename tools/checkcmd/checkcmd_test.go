package checkcmd

import (
	"bytes"
	"context"
	"fmt"
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

func TestParseShard(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	tests := []struct {
		s      string
		env    map[string]string
		i, n   int
		errMsg string
	}{
		{"", nil, 0, 1, ""},
		{"2/4", nil, 2, 4, ""},
		{"4", map[string]string{"JOB_COMPLETION_INDEX": "3"}, 3, 4, ""},
		{"4", map[string]string{"SLURM_ARRAY_TASK_ID": "1"}, 1, 4, ""},
		{"4", nil, 0, 0, "no index"},
		{"4/4", nil, 0, 0, "0 <= I < N"},
		{"-1/2", nil, 0, 0, "0 <= I < N"},
		{"a/b", nil, 0, 0, "want I/N"},
	}
	for _, tt := range tests {
		i, n, err := parseShard(tt.s, env(tt.env))
		if tt.errMsg != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errMsg) {
				t.Errorf("parseShard(%q) = %d, %d, %v; want an error with %q", tt.s, i, n, err, tt.errMsg)
			}
			continue
		}
		if err != nil || i != tt.i || n != tt.n {
			t.Errorf("parseShard(%q) = %d, %d, %v; want %d, %d", tt.s, i, n, err, tt.i, tt.n)
		}
	}
}

// TestShardsMergeToTheWholeRun: three shards, merged, give the report
// of the unsharded run, byte for byte.
func TestShardsMergeToTheWholeRun(t *testing.T) {
	dir := t.TempDir()
	tests := filepath.Join(dir, "t.tests")
	var errb bytes.Buffer
	if code := testgencmd.MainContext(context.Background(), []string{"--model", "posix", "--calls", "close,stat,link",
		"--max-tests-per-path", "1", "-o", tests}, io.Discard, &errb); code != 0 {
		t.Fatalf("testgen: %d\n%s", code, errb.String())
	}
	run := func(out string, extra ...string) {
		var stdout, stderr bytes.Buffer
		args := append([]string{"--tests", tests, "--kernel", "mono", "--batch", "15", "--out", out}, extra...)
		if code := Main(args, &stdout, &stderr); code != 0 {
			t.Fatalf("vmm check %v: exit %d\n%s\n%s", args, code, stdout.String(), stderr.String())
		}
	}
	run(filepath.Join(dir, "whole"))
	var shards []string
	for i := range 3 {
		out := filepath.Join(dir, fmt.Sprintf("shard%d", i))
		run(out, "--shard", fmt.Sprintf("%d/3", i))
		shards = append(shards, out)
	}
	var stdout, stderr bytes.Buffer
	merged := filepath.Join(dir, "merged")
	if code := Main(append([]string{"merge", "--out", merged}, shards...), &stdout, &stderr); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr.String())
	}
	for _, f := range []string{"report.json", "summary.txt", "top.txt", "heatmap.svg"} {
		want, _ := os.ReadFile(filepath.Join(dir, "whole", f))
		got, _ := os.ReadFile(filepath.Join(merged, f))
		if len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("%s: the merged shards differ from the whole run (%d and %d bytes)", f, len(got), len(want))
		}
	}
	if code := Main([]string{"merge", "--out", merged, shards[0], shards[0]}, &stdout, &stderr); code == 0 {
		t.Error("merging a shard with itself succeeded")
	}
}
