package logdiff

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
)

// testHeader is the header of a small recording; its guest hash is
// nobody's, so addresses stay raw unless a test sets the built-in one.
func testHeader(vcpus uint32) replaylog.Header {
	h := replaylog.Header{WriterVersion: "test", Guest: "builtin", Args: []string{"racy-counter", "1000"},
		VCPUs: vcpus, MemSize: 1 << 20, PageSize: 4096, Created: time.Unix(1700000000, 0)}
	h.GuestHash[0] = 0xab
	return h
}

// writeLog writes evs as a log in memory, in blocks of blockSize raw
// bytes (0: the default).
func writeLog(t *testing.T, h replaylog.Header, blockSize int, evs []replaylog.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := replaylog.NewWriter(&buf, h, replaylog.WriterOptions{BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := w.Append(&evs[i]); err != nil {
			t.Fatalf("append %d (%s): %v", i, &evs[i], err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openLog(t *testing.T, b []byte) *replaylog.Reader {
	t.Helper()
	r, err := replaylog.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// compare writes both event lists with one header and compares them.
func compare(t *testing.T, h replaylog.Header, a, b []replaylog.Event, opts Options) *Result {
	t.Helper()
	res, err := Compare(openLog(t, writeLog(t, h, 0, a)), openLog(t, writeLog(t, h, 0, b)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func crew(vcpu uint32, exit, page uint64, a replaylog.Access, cons ...replaylog.Constraint) replaylog.Event {
	st := replaylog.PageExclusive
	if a == replaylog.AccessRead {
		st = replaylog.PageShared
	}
	return replaylog.CREW(vcpu, replaylog.ExitPos(exit), page, a, st, cons)
}

func after(vcpu uint32, exit uint64) replaylog.Constraint {
	return replaylog.Constraint{VCPU: vcpu, Pos: replaylog.ExitPos(exit)}
}

// prologue is a few events both logs of a test share.
func prologue() []replaylog.Event {
	return []replaylog.Event{
		replaylog.PortIn(0, 0x3fd, 1, 0x60),
		crew(0, 1, 0x100, replaylog.AccessWrite),
		crew(1, 1, 0x101, replaylog.AccessWrite),
		replaylog.Clock(0, 1000),
		replaylog.Wake(1, 2, 0, replaylog.ExitPos(3)),
		replaylog.Clock(1, 2000),
		replaylog.Hypercall(0, 5, 0),
	}
}

func epilogue() []replaylog.Event {
	return []replaylog.Event{replaylog.GuestExit(0, 0), replaylog.End()}
}

func events(parts ...[]replaylog.Event) []replaylog.Event {
	var out []replaylog.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestCompare(t *testing.T) {
	pro, epi := prologue(), epilogue()
	n := uint64(len(pro))
	tests := []struct {
		name string
		a, b []replaylog.Event
		// want: nil First means the logs are the same.
		same       bool
		class      Class
		summary    []string // substrings of First.Summary
		later      uint64
		equivalent bool
		reconverge bool
		reordered  uint64
	}{
		{name: "identical", a: events(pro, epi), b: events(pro, epi), same: true},
		{
			// Page 0x200 goes to vcpu0 then vcpu1 in A, the other way in B.
			name: "crew-other-order",
			a: events(pro, []replaylog.Event{
				crew(0, 4, 0x200, replaylog.AccessWrite),
				crew(1, 3, 0x200, replaylog.AccessWrite, after(0, 5)),
			}, epi),
			b: events(pro, []replaylog.Event{
				crew(1, 3, 0x200, replaylog.AccessWrite),
				crew(0, 4, 0x200, replaylog.AccessWrite, after(1, 4)),
			}, epi),
			class:      ClassCREW,
			summary:    []string{"page 0x200", "went to vcpu0 in A", "to vcpu1 in B"},
			later:      2,
			reconverge: true,
			reordered:  0,
		},
		{
			name:       "input-value",
			a:          events(pro, []replaylog.Event{replaylog.PortIn(1, 0x3f8, 1, 'a'), replaylog.Clock(0, 5000)}, epi),
			b:          events(pro, []replaylog.Event{replaylog.PortIn(1, 0x3f8, 1, 'b'), replaylog.Clock(0, 5000)}, epi),
			class:      ClassInput,
			summary:    []string{"vcpu1's port 0x3f8 read (1 bytes) returned 0x61 in A, 0x62 in B"},
			reconverge: true,
		},
		{
			name:    "clock-value",
			a:       events(pro, []replaylog.Event{replaylog.Clock(0, 5000)}, epi),
			b:       events(pro, []replaylog.Event{replaylog.Clock(0, 5001)}, epi),
			class:   ClassInput,
			summary: []string{"vcpu0's clock read returned 5000 ns in A, 5001 ns in B"},
			// The guest exits and the run ends alike after it.
			reconverge: true,
		},
		{
			name:    "b-shorter",
			a:       events(pro, []replaylog.Event{replaylog.Clock(0, 5000), replaylog.Clock(1, 6000)}, epi),
			b:       pro,
			class:   ClassEndsEarly,
			summary: []string{"B ends after 7 events", "A goes on with vcpu0's clock read"},
			later:   3, // the rest of A: vcpu1's clock, the exit, the end
		},
		{
			name:    "a-ends-with-end",
			a:       events(pro, []replaylog.Event{replaylog.End()}),
			b:       events(pro, []replaylog.Event{replaylog.Hypercall(1, 3, 0)}, epi),
			class:   ClassEndsEarly,
			summary: []string{"A's run ends here, while B goes on with vcpu1's hypercall 3"},
			// B's hypercall and guest exit have no partner in A; the
			// ends pair up, at other indexes.
			later:     2,
			reordered: 1,
		},
		{
			name:    "wake",
			a:       events(pro, []replaylog.Event{replaylog.Wake(0, 9, 1, replaylog.ExitPos(7))}, epi),
			b:       events(pro, []replaylog.Event{replaylog.Wake(0, 9, 1, replaylog.ExitPos(8))}, epi),
			class:   ClassWake,
			summary: []string{"vcpu0 resumed", "woken by vcpu1 at exit 7 in A, exit 8 in B"},
			// One actor's event differs; the rest agrees.
			reconverge: true,
		},
		{
			name:    "kind",
			a:       events(pro, []replaylog.Event{replaylog.Clock(0, 1)}, epi),
			b:       events(pro, []replaylog.Event{replaylog.Hypercall(0, 2, 0)}, epi),
			class:   ClassKind,
			summary: []string{"is a clock in A but a hypercall in B"},
			// After one differing event of vcpu0, the rest agrees.
			reconverge: true,
		},
		{
			name:    "outcome",
			a:       events(pro, []replaylog.Event{replaylog.GuestExit(0, 0), replaylog.End()}),
			b:       events(pro, []replaylog.Event{replaylog.GuestExit(0, 1), replaylog.End()}),
			class:   ClassOutcome,
			summary: []string{"status 0 in A, 1 in B"},
			// The end of the run is the same.
			reconverge: true,
		},
		{
			// Two independent events logged in the other order, then
			// the same: equivalent recordings.
			name:       "swapped-pair",
			a:          events(pro, []replaylog.Event{replaylog.Clock(0, 7), replaylog.Clock(1, 8), replaylog.Hypercall(1, 1, 0)}, epi),
			b:          events(pro, []replaylog.Event{replaylog.Clock(1, 8), replaylog.Clock(0, 7), replaylog.Hypercall(1, 1, 0)}, epi),
			class:      ClassInterleaving,
			summary:    []string{"another interleaving"},
			equivalent: true,
			reconverge: true,
			reordered:  2,
		},
		{
			// Transitions of two pages logged in the other order, then
			// an input that differs: the interleaving is not the
			// difference, the input is.
			name: "swapped-then-input",
			a: events(pro, []replaylog.Event{crew(0, 4, 0x300, replaylog.AccessRead), crew(1, 3, 0x301, replaylog.AccessRead),
				replaylog.Clock(1, 10)}, epi),
			b: events(pro, []replaylog.Event{crew(1, 3, 0x301, replaylog.AccessRead), crew(0, 4, 0x300, replaylog.AccessRead),
				replaylog.Clock(1, 11)}, epi),
			class:      ClassInterleaving,
			summary:    []string{"the first real difference is vcpu1's event 4", "clock read returned 10 ns in A, 11 ns in B"},
			later:      1,
			reconverge: true,
			reordered:  2,
		},
		{
			// The same transitions per vCPU, but the page changed hands
			// in the other order: a real difference, though every
			// vCPU's events are equal.
			name: "same-page-swapped",
			a: events(pro, []replaylog.Event{crew(0, 4, 0x400, replaylog.AccessWrite, after(1, 1)),
				crew(1, 3, 0x400, replaylog.AccessWrite, after(0, 1))}, epi),
			b: events(pro, []replaylog.Event{crew(1, 3, 0x400, replaylog.AccessWrite, after(0, 1)),
				crew(0, 4, 0x400, replaylog.AccessWrite, after(1, 1))}, epi),
			class:      ClassCREW,
			summary:    []string{"page 0x400 went to vcpu0 in A", "to vcpu1 in B"},
			later:      2,
			reconverge: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := compare(t, testHeader(2), tc.a, tc.b, Options{NameA: "a.log", NameB: "b.log"})
			var text bytes.Buffer
			if err := res.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", text.String())
			if res.Same != tc.same {
				t.Fatalf("Same = %v, want %v", res.Same, tc.same)
			}
			if tc.same {
				if res.First != nil || res.Shared != uint64(len(tc.a)) || !strings.Contains(text.String(), "The logs are the same") {
					t.Errorf("same logs: First %+v, Shared %d", res.First, res.Shared)
				}
				return
			}
			f := res.First
			if f == nil {
				t.Fatal("no First")
			}
			if f.Index != n || res.Shared != n {
				t.Errorf("First.Index %d, Shared %d, want %d", f.Index, res.Shared, n)
			}
			if len(res.Context) != DefaultContext || res.Context[len(res.Context)-1].Index != n-1 {
				t.Errorf("context %+v, want the %d events before #%d", res.Context, DefaultContext, n)
			}
			if f.Class != tc.class {
				t.Errorf("class %s, want %s (%s)", f.Class, tc.class, f.Summary)
			}
			for _, s := range tc.summary {
				if !strings.Contains(f.Summary, s) {
					t.Errorf("summary %q lacks %q", f.Summary, s)
				}
			}
			if res.LaterTotal != tc.later || uint64(len(res.Later)) != tc.later {
				t.Errorf("later %d (%d listed), want %d: %+v", res.LaterTotal, len(res.Later), tc.later, res.Later)
			}
			if res.Equivalent != tc.equivalent {
				t.Errorf("Equivalent = %v, want %v", res.Equivalent, tc.equivalent)
			}
			if (res.Reconverged != nil) != tc.reconverge {
				t.Errorf("Reconverged = %+v, want %v", res.Reconverged, tc.reconverge)
			}
			if res.Reordered != tc.reordered {
				t.Errorf("Reordered = %d, want %d", res.Reordered, tc.reordered)
			}
			if !strings.Contains(text.String(), string(f.Class)) {
				t.Errorf("text lacks the class %s", f.Class)
			}
		})
	}
}

// TestReconvergePoint: after a swapped pair of transitions on one page
// (a real difference), the logs are back in step at the first event
// after the pair, and say so.
func TestReconvergePoint(t *testing.T) {
	pro, epi := prologue(), epilogue()
	tail := []replaylog.Event{replaylog.Clock(0, 1), replaylog.Clock(1, 2), replaylog.Hypercall(0, 3, 4)}
	a := events(pro, []replaylog.Event{crew(0, 4, 0x400, replaylog.AccessWrite), crew(1, 3, 0x400, replaylog.AccessWrite, after(0, 5))}, tail, epi)
	b := events(pro, []replaylog.Event{crew(1, 3, 0x400, replaylog.AccessWrite), crew(0, 4, 0x400, replaylog.AccessWrite, after(1, 4))}, tail, epi)
	res := compare(t, testHeader(2), a, b, Options{})
	want := uint64(len(pro) + 2)
	if r := res.Reconverged; r == nil || r.A != want || r.B != want || r.Matched != uint64(len(tail)+len(epi)) {
		t.Fatalf("Reconverged = %+v, want A=B=%d with %d matched", res.Reconverged, want, len(tail)+len(epi))
	}
	var text bytes.Buffer
	res.WriteText(&text)
	if !strings.Contains(text.String(), "back in step from A #9 and B #9") {
		t.Errorf("text does not say where the logs are back in step:\n%s", text.String())
	}
}

// TestFollowAndContext: the options bound what is listed, not what is
// counted.
func TestFollowAndContext(t *testing.T) {
	var a, b []replaylog.Event
	for i := uint64(0); i < 50; i++ {
		a = append(a, replaylog.Clock(0, i))
		b = append(b, replaylog.Clock(0, i+uint64(min(i/10, 1)))) // the same up to #9
	}
	for _, tc := range []struct {
		opts            Options
		context, follow int
		later           uint64
		contextFirst    uint64
	}{
		{Options{}, DefaultContext, DefaultFollow, 39, 5},
		{Options{Context: 2, Follow: 3}, 2, 3, 39, 8},
		{Options{Context: -1, Follow: -1}, 0, 0, 39, 0},
	} {
		res := compare(t, testHeader(1), a, b, tc.opts)
		if res.First == nil || res.First.Index != 10 {
			t.Fatalf("First = %+v, want #10", res.First)
		}
		if len(res.Context) != tc.context || len(res.Later) != tc.follow || res.LaterTotal != tc.later {
			t.Errorf("%+v: %d context, %d later of %d; want %d, %d of %d", tc.opts, len(res.Context), len(res.Later), res.LaterTotal,
				tc.context, tc.follow, tc.later)
		}
		if tc.context > 0 && res.Context[0].Index != tc.contextFirst {
			t.Errorf("%+v: context starts at #%d, want #%d", tc.opts, res.Context[0].Index, tc.contextFirst)
		}
		if res.Reconverged != nil {
			t.Errorf("logs that differ to the end reconverged at %+v", res.Reconverged)
		}
	}
}

func TestMismatchedHeaders(t *testing.T) {
	evs := events(prologue(), epilogue())
	for _, tc := range []struct {
		name string
		edit func(h *replaylog.Header)
		want []string
	}{
		{"guest", func(h *replaylog.Header) { h.GuestHash[0] = 0xcd }, []string{"guest image: a.log has sha256 ab00", "b.log has sha256 cd00"}},
		{"vcpus", func(h *replaylog.Header) { h.VCPUs = 4 }, []string{"vCPU count: a.log has 2, b.log has 4"}},
		{"args", func(h *replaylog.Header) { h.Args = []string{"racy-counter", "2000"} },
			[]string{"workload arguments: a.log has racy-counter 1000, b.log has racy-counter 2000"}},
		{"mem", func(h *replaylog.Header) { h.MemSize = 2 << 20 }, []string{"memory size: a.log has 1 MiB, b.log has 2 MiB"}},
		{"granularity", func(h *replaylog.Header) { h.PageSize = 8192 }, []string{"CREW granularity: a.log has 4 KiB, b.log has 8 KiB"}},
		{"disk", func(h *replaylog.Header) { h.DiskSize = 1 << 20 }, []string{"disk: a.log has none, b.log has 1048576 bytes"}},
		{"input", func(h *replaylog.Header) { h.Input = []byte("tests") }, []string{"input file (--tests): a.log has none, b.log has 5 bytes"}},
		{"two", func(h *replaylog.Header) { h.VCPUs, h.MemSize = 3, 4<<20 }, []string{"vCPU count: a.log has 2, b.log has 3; memory size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hb := testHeader(2)
			tc.edit(&hb)
			_, err := Compare(openLog(t, writeLog(t, testHeader(2), 0, evs)), openLog(t, writeLog(t, hb, 0, evs)),
				Options{NameA: "a.log", NameB: "b.log"})
			var me *MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want a *MismatchError", err)
			}
			if !strings.HasPrefix(err.Error(), "a.log and b.log are not recordings of one workload: ") {
				t.Errorf("error %q", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// What may differ between two recordings worth comparing is only noted.
	hb := testHeader(2)
	hb.WriterVersion, hb.CPUID = "other", []byte{1}
	res := compare(t, testHeader(2), evs, evs, Options{})
	if len(res.HeaderNotes) != 0 {
		t.Errorf("notes on equal headers: %+v", res.HeaderNotes)
	}
	res, err := Compare(openLog(t, writeLog(t, testHeader(2), 0, evs)), openLog(t, writeLog(t, hb, 0, evs)), Options{})
	if err != nil || !res.Same || len(res.HeaderNotes) != 2 {
		t.Errorf("writer version and CPUID: err %v, same %v, notes %+v", err, res.Same, res.HeaderNotes)
	}
}

// TestDamagedLogs: a truncated or corrupt log is an error naming the
// file and saying what the reader found, never a panic or a result.
func TestDamagedLogs(t *testing.T) {
	var evs []replaylog.Event
	for i := uint64(0); i < 400; i++ {
		evs = append(evs, replaylog.Clock(uint32(i%2), i*1000), crew(uint32(i%2), i, 0x100+i%5, replaylog.AccessWrite))
	}
	evs = append(evs, replaylog.End())
	whole := writeLog(t, testHeader(2), 512, evs)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.log", whole)
	cut := write("cut.log", whole[:len(whole)*2/3])
	flipped := bytes.Clone(whole)
	flipped[len(flipped)/2] ^= 0x40
	bad := write("bad.log", flipped)
	for _, tc := range []struct {
		a, b, want string
		as         any
	}{
		{good, cut, "cut.log: log truncated", new(*replaylog.TruncatedError)},
		{cut, good, "cut.log: log truncated", new(*replaylog.TruncatedError)},
		{good, bad, "bad.log: corrupt", new(*replaylog.CorruptError)},
		{good, filepath.Join(dir, "missing.log"), "missing.log", nil},
		{good, write("empty.log", nil), "not a crewvm replay log", nil},
	} {
		_, err := CompareFiles(tc.a, tc.b, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s vs %s: err %v, want %q", filepath.Base(tc.a), filepath.Base(tc.b), err, tc.want)
			continue
		}
		if tc.as != nil && !errors.As(err, tc.as) {
			t.Errorf("%s vs %s: %v does not wrap %T", filepath.Base(tc.a), filepath.Base(tc.b), err, tc.as)
		}
	}
	if res, err := CompareFiles(good, good, Options{}); err != nil || !res.Same {
		t.Errorf("a log against itself: %v, %+v", err, res)
	}
}

// builtinAddr returns the address of symbol name defined in file of the
// built-in guest.
func builtinAddr(t *testing.T, name, file string) uint64 {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(guest.Kernel))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.Symbols()
	inFile := false
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FILE {
			inFile = s.Name == file
		}
		if inFile && s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("no symbol %s in %s", name, file)
	return 0
}

// TestSymbolized: with the built-in guest's hash in the header, a CREW
// page is named by the objects in it, and a vCPU stopped in racy_run by
// the function, its line and the instruction, which stores to counter.
func TestSymbolized(t *testing.T) {
	h := testHeader(2)
	h.GuestHash = sha256.Sum256(guest.Kernel)
	counter := builtinAddr(t, "counter", "counters.c")
	run := builtinAddr(t, "racy_run", "counters.c")
	// Find racy_run's store to counter.
	sym, _ := loadSymbols(&h, nil)
	store := uint64(0)
	for pc := run; pc < run+64 && store == 0; pc++ {
		for _, a := range sym.accesses(pc) {
			if a == counter && strings.HasPrefix(sym.stop("", replaylog.Position{Regs: replaylog.Regs{RIP: pc}}).Insn, "mov") {
				store = pc
			}
		}
	}
	if store == 0 {
		t.Fatalf("no instruction of racy_run at %#x accesses counter at %#x", run, counter)
	}
	page := counter / 4096
	stopped := func(rax uint64) replaylog.Constraint {
		regs := replaylog.Regs{RIP: store, RFLAGS: 2}
		regs.GPR[0] = rax
		return replaylog.Constraint{VCPU: 0, Pos: replaylog.StatePos(4, 1, &regs, rax*7)}
	}
	pro := prologue()
	a := events(pro, []replaylog.Event{crew(1, 5, page, replaylog.AccessWrite, stopped(1000))}, epilogue())
	b := events(pro, []replaylog.Event{crew(1, 5, page, replaylog.AccessWrite, stopped(2000))}, epilogue())
	res := compare(t, h, a, b, Options{})
	var text bytes.Buffer
	res.WriteText(&text)
	t.Logf("\n%s", text.String())
	if res.First == nil || res.First.Class != ClassCREW {
		t.Fatalf("First = %+v, want a CREW difference", res.First)
	}
	for _, want := range []string{"counter", "racy_run+", "counters.c:", "rax=0x3e8 in A, 0x7d0 in B"} {
		if !strings.Contains(res.First.Summary, want) {
			t.Errorf("summary %q lacks %q", res.First.Summary, want)
		}
	}
	pv := res.First.A.Page
	if pv == nil || len(pv.Touched) != 1 || pv.Touched[0] != "counter" || !strings.Contains(strings.Join(pv.Symbols, " "), "counter") {
		t.Errorf("page %+v: want counter, touched", pv)
	}
	if st := res.First.A.Stops; len(st) != 1 || !strings.Contains(st[0].Insn, "counter") || st[0].Actor != "vcpu0" {
		t.Errorf("stops %+v: want vcpu0 at an instruction naming counter", st)
	}
	if !strings.Contains(res.Symbols, "built-in guest") {
		t.Errorf("Symbols = %q", res.Symbols)
	}

	// Another image than the recorded one gives raw addresses, and says so.
	res = compare(t, h, a, b, Options{Image: []byte("not the guest")})
	if !strings.HasPrefix(res.Symbols, "raw addresses") || strings.Contains(res.First.Summary, "racy_run") {
		t.Errorf("wrong image: Symbols %q, summary %q", res.Symbols, res.First.Summary)
	}
	h.Guest = filepath.Join(t.TempDir(), "moved.elf")
	res = compare(t, h, a, b, Options{})
	if !strings.Contains(res.Symbols, "moved.elf") || !strings.HasPrefix(res.Symbols, "raw addresses") {
		t.Errorf("missing image: Symbols %q", res.Symbols)
	}
}

// TestJSON: the JSON form has the documented, stable field names.
func TestJSON(t *testing.T) {
	pro := prologue()
	res := compare(t, testHeader(2), events(pro, []replaylog.Event{replaylog.Clock(0, 1)}, epilogue()),
		events(pro, []replaylog.Event{replaylog.Clock(0, 2)}, epilogue()), Options{})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "header_notes", "symbols", "same", "equivalent", "shared_events", "context", "first",
		"later", "later_total", "reordered", "reconverged"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	first, _ := m["first"].(map[string]any)
	if first["class"] != "input" || first["index"] != float64(len(pro)) {
		t.Errorf("first = %v", first)
	}
	if a, _ := first["a"].(map[string]any); a["text"] == nil || a["actor"] != "vcpu0" {
		t.Errorf("first.a = %v", a)
	}
}
