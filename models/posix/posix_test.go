package posix

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/models/commute"
	"github.com/crewvm/crewvm/models/sym"
	"github.com/crewvm/crewvm/models/testgen"
	"github.com/crewvm/crewvm/models/z3"
)

// explore runs a call set and hands each path to visit.
func explore(t *testing.T, calls []string, visit func(pi *commute.PathInfo[Fs])) (paths, comm int) {
	t.Helper()
	st, err := commute.Explore(context.Background(), Model(), calls, commute.Options{}, func(pi *commute.PathInfo[Fs]) error {
		paths++
		if pi.Commutes {
			comm++
		}
		visit(pi)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Errors > 0 {
		t.Fatalf("%d failed paths", st.Errors)
	}
	if paths == 0 {
		t.Fatal("no paths")
	}
	return paths, comm
}

func unsat(t *testing.T, pi *commute.PathInfo[Fs], what string, cs ...sym.Bool) {
	t.Helper()
	st, err := pi.Path.Check(cs...)
	if err != nil {
		t.Fatal(err)
	}
	if st != z3.Unsat {
		t.Errorf("%s, on path:\n%s", what, pi.Path)
	}
}

func sat(pi *commute.PathInfo[Fs], cs ...sym.Bool) bool {
	st, err := pi.Path.Check(cs...)
	return err == nil && st == z3.Sat
}

// result returns the integer result field name of slot in the first order.
func result(pi *commute.PathInfo[Fs], slot int, name string) (sym.Int, bool) {
	v, ok := pi.Results[0][slot].Get(name)
	if !ok {
		return sym.Int{}, false
	}
	x, ok := v.(sym.Int)
	return x, ok
}

// TestKnownAnswers pins facts about the POSIX model that follow from its
// specification (and from the Commuter paper's discussion of it).
func TestKnownAnswers(t *testing.T) {
	t.Run("stat,stat always commute", func(t *testing.T) {
		if p, c := explore(t, []string{"stat", "stat"}, func(*commute.PathInfo[Fs]) {}); p != c {
			t.Errorf("%d of %d paths commute", c, p)
		}
	})
	t.Run("unlink,unlink commute iff the names differ or are absent", func(t *testing.T) {
		explore(t, []string{"unlink", "unlink"}, func(pi *commute.PathInfo[Fs]) {
			a, b := pi.Args[0].(PathArgs), pi.Args[1].(PathArgs)
			exists := pi.Init.Dir.Contains(a.Pn)
			cond := a.Pn.Ne(b.Pn).Or(exists.Not())
			if pi.Commutes {
				unsat(t, pi, "commutes although both unlink one existing name", cond.Not())
			} else {
				unsat(t, pi, "diverges although names differ or are absent", cond)
			}
		})
	})
	t.Run("two successful opens in one process never commute", func(t *testing.T) {
		var cross bool
		explore(t, []string{"open", "open"}, func(pi *commute.PathInfo[Fs]) {
			ra, oka := result(pi, 0, "r")
			rb, okb := result(pi, 1, "r")
			if !oka || !okb || !pi.Commutes {
				return
			}
			b := pi.Args[1].(OpenArgs)
			unsat(t, pi, "same-process opens commute", b.Pid.Not(), ra.GeN(0), rb.GeN(0))
			cross = cross || sat(pi, b.Pid, ra.GeN(0), rb.GeN(0))
		})
		if !cross {
			t.Error("no commutative path for two successful opens in different processes")
		}
	})
	t.Run("exclusive creates of one name never commute", func(t *testing.T) {
		explore(t, []string{"open", "open"}, func(pi *commute.PathInfo[Fs]) {
			if !pi.Commutes {
				return
			}
			a, b := pi.Args[0].(OpenArgs), pi.Args[1].(OpenArgs)
			unsat(t, pi, "two O_CREAT|O_EXCL of one absent name commute",
				a.Pn.Eq(b.Pn), pi.Init.Dir.Contains(a.Pn).Not(), a.Creat, a.Excl, b.Creat, b.Excl)
		})
	})
	t.Run("pipes commute only across processes", func(t *testing.T) {
		_, c := explore(t, []string{"pipe", "pipe"}, func(pi *commute.PathInfo[Fs]) {
			if pi.Commutes {
				unsat(t, pi, "two pipes in one process commute", pi.Args[1].(FdlessArgs).Pid.Not())
			}
		})
		if c == 0 {
			t.Error("pipes in different processes do not commute")
		}
	})
	t.Run("closing one open descriptor twice does not commute", func(t *testing.T) {
		explore(t, []string{"close", "close"}, func(pi *commute.PathInfo[Fs]) {
			if !pi.Commutes {
				return
			}
			a, b := pi.Args[0].(FdArgs), pi.Args[1].(FdArgs)
			unsat(t, pi, "double close commutes", b.Pid.Not(), a.Fd.Eq(b.Fd), pi.Init.Procs[0].Fds.Contains(a.Fd))
		})
	})
	t.Run("reads of different units through one offset do not commute", func(t *testing.T) {
		// They do commute when both units hold the same data: the results
		// are then identical in both orders.
		explore(t, []string{"read", "read"}, func(pi *commute.PathInfo[Fs]) {
			da, oka := pi.Results[0][0].Get("data")
			db, okb := pi.Results[0][1].Get("data")
			if !pi.Commutes || !oka || !okb {
				return
			}
			a, b := pi.Args[0].(FdArgs), pi.Args[1].(FdArgs)
			f := pi.Init.Procs[0].Fds.Get(a.Fd)
			unsat(t, pi, "two reads of different data at one offset commute",
				b.Pid.Not(), a.Fd.Eq(b.Fd), f.IsPipe.Not(), da.(DataVal).Ne(db.(DataVal)))
		})
	})
	t.Run("writes of different data to one pipe do not commute", func(t *testing.T) {
		explore(t, []string{"write", "write"}, func(pi *commute.PathInfo[Fs]) {
			ra, _ := result(pi, 0, "r")
			rb, _ := result(pi, 1, "r")
			if !pi.Commutes || ra.AST() == nil || rb.AST() == nil {
				return
			}
			a, b := pi.Args[0].(WriteArgs), pi.Args[1].(WriteArgs)
			fa := pi.Init.Procs[0].Fds.Get(a.Fd)
			unsat(t, pi, "pipe writes of different data commute",
				b.Pid.Not(), a.Fd.Eq(b.Fd), fa.IsPipe, ra.EqN(1), rb.EqN(1), a.Data.Ne(b.Data))
		})
	})
	t.Run("swapping two files by rename does not commute", func(t *testing.T) {
		explore(t, []string{"rename", "rename"}, func(pi *commute.PathInfo[Fs]) {
			if !pi.Commutes {
				return
			}
			a, b := pi.Args[0].(RenameArgs), pi.Args[1].(RenameArgs)
			ea, ia := pi.Init.Dir.Lookup(a.Src)
			eb, ib := pi.Init.Dir.Lookup(b.Src)
			unsat(t, pi, "swap commutes", a.Src.Eq(b.Dst), a.Dst.Eq(b.Src), a.Src.Ne(a.Dst), ea, eb, ia.Ne(ib))
		})
	})
	t.Run("mmap without MAP_FIXED commutes in one process", func(t *testing.T) {
		found := false
		explore(t, []string{"mmap", "mmap"}, func(pi *commute.PathInfo[Fs]) {
			a, b := pi.Args[0].(MmapArgs), pi.Args[1].(MmapArgs)
			if pi.Commutes && sat(pi, b.Pid.Not(), a.Fixed.Not(), b.Fixed.Not(), a.Anon, b.Anon) {
				found = true
			}
		})
		if !found {
			t.Error("two anonymous non-fixed mmaps in one process never commute")
		}
	})
}

// selection is a spread of call sets covering every call, small enough for
// the default test run.
var selection = [][]string{
	{"open", "open"}, {"open", "unlink"}, {"link", "rename"}, {"stat", "fstat"},
	{"lseek", "read"}, {"close", "pipe"}, {"read", "write"}, {"pread", "pwrite"},
	{"mmap", "munmap"}, {"mprotect", "memwrite"}, {"memread", "write"}, {"close", "read"},
	{"fstat", "mmap"}, {"pipe", "write"}, {"unlink", "memread"},
}

// TestGeneratedTestsAreConsistent generates tests for a selection of call
// sets and replays every one on the concrete implementation.
func TestGeneratedTestsAreConsistent(t *testing.T) {
	m := Model()
	var sets []*testgen.Set
	for _, cs := range selection {
		r := m.RunSet(context.Background(), cs, commute.Options{MaxTestsPerPath: 3})
		if r.Status != testgen.StatusOK || r.Errors > 0 {
			t.Fatalf("%v: %s, %d errors: %v", cs, r.Status, r.Errors, r.Err)
		}
		if r.Commutative > 0 && len(r.Tests) == 0 {
			t.Errorf("%v: %d commutative paths but no tests", cs, r.Commutative)
		}
		for _, tt := range r.Tests {
			if err := CheckTest(tt); err != nil {
				t.Errorf("%v: %v\n%s", cs, err, render(tt))
			}
		}
		sets = append(sets, &testgen.Set{Calls: cs, Tests: r.Tests, Summary: r.Summary()})
	}
	var buf bytes.Buffer
	if err := testgen.Write(&buf, &testgen.File{Model: "posix", Params: m.Params, Sets: sets}); err != nil {
		t.Fatal(err)
	}
	f, err := testgen.Read(&buf)
	if err != nil {
		t.Fatalf("generated file does not read back: %v", err)
	}
	if f.NumTests() < 100 {
		t.Errorf("only %d tests", f.NumTests())
	}
}

func render(t *testgen.Test) string {
	var b strings.Builder
	for _, r := range t.Setup {
		b.WriteString(r.String() + "\n")
	}
	for _, c := range t.Calls {
		b.WriteString(testgen.Record{Kind: c.Name, Fields: c.Args}.String() + "\n")
	}
	for _, e := range t.Expect {
		b.WriteString(testgen.Record{Kind: "expect", Fields: e.Fields}.String() + "\n")
	}
	return b.String()
}

// TestCheckTestRejects makes sure the concrete checker is not vacuous.
func TestCheckTestRejects(t *testing.T) {
	f := testgen.F
	tests := []struct {
		name string
		t    *testgen.Test
		want string
	}{
		{"open,open in one process", &testgen.Test{
			Calls: []testgen.Call{
				{Name: "open", Args: []testgen.Field{f("pid", 0), f("pn", 0), f("creat", 1), f("excl", 0), f("trunc", 0)}},
				{Name: "open", Args: []testgen.Field{f("pid", 0), f("pn", 1), f("creat", 1), f("excl", 0), f("trunc", 0)}},
			},
			Expect: []testgen.Expect{{Fields: []testgen.Field{f("r", 0)}}, {Fields: []testgen.Field{f("r", 1)}}},
		}, "returned"},
		{"wrong errno", &testgen.Test{
			Calls:  []testgen.Call{{Name: "unlink", Args: []testgen.Field{f("pid", 0), f("pn", 0)}}},
			Expect: []testgen.Expect{{Fields: []testgen.Field{f("r", -1), f("errno", EEXIST)}}},
		}, "returned"},
		{"divergent state", &testgen.Test{
			Setup: []testgen.Record{
				{Kind: "inode", Fields: []testgen.Field{f("ino", 0), f("nlink", 1), f("len", 0)}},
				{Kind: "fd", Fields: []testgen.Field{f("pid", 0), f("fd", 0), f("ino", 0), f("off", 0)}},
			},
			Calls: []testgen.Call{
				{Name: "write", Args: []testgen.Field{f("pid", 0), f("fd", 0), f("data", 1)}},
				{Name: "pwrite", Args: []testgen.Field{f("pid", 1), f("fd", 0), f("off", 0), f("data", 2)}},
			},
			Expect: []testgen.Expect{{Fields: []testgen.Field{f("r", 1)}}, {Fields: []testgen.Field{f("r", -1), f("errno", EBADF)}}},
		}, ""},
		{"hole", &testgen.Test{
			Setup: []testgen.Record{
				{Kind: "inode", Fields: []testgen.Field{f("ino", 0), f("nlink", 1), f("len", 0)}},
				{Kind: "fd", Fields: []testgen.Field{f("pid", 0), f("fd", 0), f("ino", 0), f("off", 0)}},
			},
			Calls:  []testgen.Call{{Name: "pwrite", Args: []testgen.Field{f("pid", 0), f("fd", 0), f("off", 3), f("data", 2)}}},
			Expect: []testgen.Expect{{Fields: []testgen.Field{f("r", 1)}}},
		}, "holes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTest(tt.t)
			if tt.want == "" {
				if err != nil {
					t.Errorf("rejected a consistent test: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckTest = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// fullModel generates tests for all 171 call sets of the model on the
// given number of workers and checks every test.
func fullModel(tb testing.TB, jobs, maxTests int) (tests int, elapsed time.Duration) {
	m := Model()
	sets := commute.CallSets(m.Info().CallNames(), 2)
	start := time.Now()
	type out struct {
		n   int
		err string
	}
	work := make(chan []string)
	res := make(chan out)
	for range jobs {
		go func() {
			for cs := range work {
				r := m.RunSet(context.Background(), cs, commute.Options{MaxTestsPerPath: maxTests})
				o := out{n: len(r.Tests)}
				if r.Status != testgen.StatusOK || r.Errors > 0 {
					o.err = r.Err.Error()
				}
				for _, tt := range r.Tests {
					if err := CheckTest(tt); err != nil && o.err == "" {
						o.err = err.Error()
					}
				}
				res <- o
			}
		}()
	}
	go func() {
		for _, cs := range sets {
			work <- cs
		}
		close(work)
	}()
	for range sets {
		o := <-res
		tests += o.n
		if o.err != "" {
			tb.Error(o.err)
		}
	}
	return tests, time.Since(start)
}

// TestFullModel generates the whole model; it takes about a minute, so it
// runs only with CREWVM_TESTGEN_FULL=1.
func TestFullModel(t *testing.T) {
	if os.Getenv("CREWVM_TESTGEN_FULL") == "" {
		t.Skip("set CREWVM_TESTGEN_FULL=1 to generate the whole POSIX model")
	}
	n, d := fullModel(t, 2, commute.DefaultMaxTestsPerPath)
	t.Logf("%d tests in %v (%.0f tests/s)", n, d, float64(n)/d.Seconds())
	if n <= 10000 {
		t.Errorf("%d tests, want more than 10000", n)
	}
	if d > 15*time.Minute {
		t.Errorf("took %v, want under 15 minutes", d)
	}
}

// BenchmarkFullModel measures whole-model generation on two workers.
func BenchmarkFullModel(b *testing.B) {
	for b.Loop() {
		n, d := fullModel(b, 2, commute.DefaultMaxTestsPerPath)
		b.ReportMetric(float64(n), "tests")
		b.ReportMetric(float64(n)/d.Seconds(), "tests/s")
	}
}

// TestMmapOfPipeAsLinux checks the model's answer for mmap of a pipe
// descriptor against Linux's: the access mode is checked first (EACCES
// unless the read end is mapped read-only), and only then that a pipe
// cannot be mapped (ENODEV).
func TestMmapOfPipeAsLinux(t *testing.T) {
	r := Model().RunSet(context.Background(), []string{"mmap", "mmap"}, commute.Options{MaxTestsPerPath: 3})
	if r.Status != testgen.StatusOK || r.Errors > 0 {
		t.Fatalf("%s, %d errors: %v", r.Status, r.Errors, r.Err)
	}
	seen := map[int64]int{}
	for _, tt := range r.Tests {
		for slot, c := range tt.Calls {
			if arg(c, "anon") == 1 {
				continue
			}
			writer := int64(-1)
			for _, s := range tt.Setup {
				pid, _ := s.Int("pid")
				fd, _ := s.Int("fd")
				if s.Kind == "pipefd" && pid == arg(c, "pid") && fd == arg(c, "fd") {
					writer, _ = s.Int("writer")
				}
			}
			if writer < 0 {
				continue
			}
			want := int64(ENODEV)
			if writer == 1 || arg(c, "writable") == 1 {
				want = EACCES
			}
			got, _ := testgen.Record{Fields: tt.Expect[slot].Fields}.Int("errno")
			if got != want {
				t.Errorf("test %d slot %d: mmap of a pipe (writer=%d writable=%d) expects errno %d, Linux gives %d\n%s",
					tt.ID, slot, writer, arg(c, "writable"), got, want, render(tt))
			}
			seen[got]++
		}
	}
	if seen[EACCES] == 0 || seen[ENODEV] == 0 {
		t.Errorf("pipe mmaps seen by errno: %v; want both EACCES and ENODEV", seen)
	}
}
