package vmm

// The instruction fuzzer checks the recorder's promise: every run it
// records, it replays exactly. It generates random multiprocessor guests
// from instruction templates (insnfuzz_gen_test.go, insnfuzz_tmpl_test.go)
// that race on shared pages with accesses that straddle page boundaries,
// builds them with the system gcc (insnfuzz_run_test.go), records each
// on real KVM and replays the recording, in a child process
// (insnfuzz_child_test.go). A failed recording, a replay that does not
// match, a crash or a hang is a finding: it is shrunk by delta debugging
// and kept in testdata/insnfuzz as an assembly reproducer
// (insnfuzz_min_test.go), which TestInsnFuzzReproducers runs every time.
//
//	go test ./vmm -run InsnFuzz -v                           # fixed seeds and reproducers
//	go test ./vmm -run '^$' -fuzz FuzzInsnRecordReplay -fuzzminimizetime 1x
//	CREWVM_INSNFUZZ_TEMPLATES=mov,bt_reg go test ./vmm -run InsnFuzz -v
//
// Environment:
//
//	CREWVM_INSNFUZZ_TEMPLATES  comma-separated names from fuzzTemplates: the
//	                           generator uses only those, TestInsnFuzzReproducers
//	                           runs only the reproducers whose culprit is one
//	CREWVM_INSNFUZZ_SEEDS      how many fixed seeds to run (default 200, -short 20)
//	CREWVM_INSNFUZZ_MINIMIZE   0: keep findings as found, without shrinking them

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

const (
	// fuzzMinimizeTime bounds the minimization of one finding;
	// fuzzMinimizeTotal all minimization in one test.
	fuzzMinimizeTime  = time.Minute
	fuzzMinimizeTotal = 5 * time.Minute
)

// fuzzMinimized are the signatures minimized in this process, so that a
// fuzzing worker re-running a crasher does not shrink it again.
var fuzzMinimized sync.Map

// fuzzHarness runs generated programs for one test and gathers findings.
type fuzzHarness struct {
	t     testing.TB
	dir   string
	tmpls []fuzzTemplate
	// known maps the signatures of kept, minimized reproducers to their files.
	known map[string]string
	// seeds counts the seeds checked, ran the programs recorded and
	// replayed (minimizing runs more).
	seeds, ran int
	stats      CREWStats
	// unexplained lists the seeds whose recording had faults the decoder
	// could not explain exactly (CREWStats Fallbacks or Approximate).
	unexplained []string
	found       []seedFinding
	minimizeBy  time.Time
}

// seedFinding is a finding of one seed and the reproducer that keeps it.
type seedFinding struct {
	seed uint64
	f    *finding
	file string
	note string
}

// newFuzzHarness skips t without gcc and reads the template selection
// and the kept reproducers.
func newFuzzHarness(t testing.TB) *fuzzHarness {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("the instruction fuzzer builds its guests with gcc, which is missing")
	}
	tmpls, err := selectedTemplates()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := readReproducers()
	if err != nil {
		t.Fatal(err)
	}
	h := &fuzzHarness{t: t, dir: t.TempDir(), tmpls: tmpls, known: map[string]string{},
		minimizeBy: time.Now().Add(fuzzMinimizeTotal)}
	for _, r := range rs {
		if r.minimized {
			h.known[r.signature] = r.file
		}
	}
	return h
}

// selectedTemplates are the templates CREWVM_INSNFUZZ_TEMPLATES names, or all.
func selectedTemplates() ([]fuzzTemplate, error) {
	env := os.Getenv("CREWVM_INSNFUZZ_TEMPLATES")
	if env == "" {
		return fuzzTemplates, nil
	}
	var out []fuzzTemplate
	for _, name := range strings.Split(env, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(fuzzTemplates, func(t fuzzTemplate) bool { return t.name == name })
		if i < 0 {
			var names []string
			for _, t := range fuzzTemplates {
				names = append(names, t.name)
			}
			return nil, fmt.Errorf("CREWVM_INSNFUZZ_TEMPLATES: no template %q; there are %s", name, strings.Join(names, ","))
		}
		out = append(out, fuzzTemplates[i])
	}
	return out, nil
}

// build builds src, failing the test when gcc rejects it.
func (h *fuzzHarness) build(src string) *fuzzImage {
	h.t.Helper()
	img, err := buildFuzzImage(h.dir, src)
	if err != nil {
		h.t.Fatalf("the generator wrote a program gcc rejects: %v\n%s", err, src)
	}
	return img
}

// run records src on cpus vCPUs with the revoke deadline (0: the
// default) and replays it; it skips without KVM.
func (h *fuzzHarness) run(src string, cpus int, deadline time.Duration) *finding {
	h.t.Helper()
	if hostSplitLocksSlow() {
		// A locked access across a cache line costs this host some
		// 10^4 times a plain one (crew/HOSTFACTS.md section 6), and the
		// templates make many: the loops run 1/100 as long. What is
		// kept (reproducers) keeps the generator's counts.
		src = shortenLoops(src)
	}
	f, stats, err := fuzzCheck(h.dir, h.build(src), cpus, deadline)
	if errors.Is(err, ErrKVMUnavailable) {
		h.t.Skipf("no KVM: %v", err)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	h.ran++
	addStats(&h.stats, stats)
	return f
}

// check generates, runs and, on a finding, minimizes and keeps seed's program.
func (h *fuzzHarness) check(seed uint64) {
	h.t.Helper()
	h.seeds++
	p := newProgram(seed, h.tmpls)
	before := h.stats
	f := h.run(p.asm(fmt.Sprintf("/* insnfuzz seed %d */\n", seed)), p.cpus, p.deadline)
	if n := unexplainedFaults(h.stats) - unexplainedFaults(before); n > 0 {
		h.unexplained = append(h.unexplained, fmt.Sprintf("%d (%d)", seed, n))
	}
	if f == nil {
		return
	}
	sf := seedFinding{seed: seed, f: f, file: filepath.Join(fuzzReproDir, reproName(f))}
	sig := f.signature()
	if file, ok := h.known[sig]; ok {
		sf.file, sf.note = file, "known"
		h.found = append(h.found, sf)
		return
	}
	if f.stage == "guest" {
		sf.file, sf.note = "", "the program fails without recording too: a generator bug, or the VMM's outside the recorder"
		h.found = append(h.found, sf)
		return
	}
	if _, again := fuzzMinimized.LoadOrStore(sig, true); again {
		sf.note = "kept already in this run"
		h.found = append(h.found, sf)
		return
	}
	small, done := p, false
	if os.Getenv("CREWVM_INSNFUZZ_MINIMIZE") != "0" {
		start := time.Now()
		fails := func(c *program) bool {
			for range fuzzTries {
				if g := h.run(c.asm(""), c.cpus, c.deadline); g != nil && g.signature() == sig {
					f = g
					return true
				}
			}
			return false
		}
		deadline := start.Add(fuzzMinimizeTime)
		if h.minimizeBy.Before(deadline) {
			deadline = h.minimizeBy
		}
		small, done = minimize(p, f.culprit(), fails, deadline)
		sf.note = fmt.Sprintf("minimized in %v from %d to %d groups", time.Since(start).Round(time.Millisecond),
			groupCount(p), groupCount(small))
		if !done {
			sf.note += ", out of time"
		}
	}
	file, err := writeReproducer(small, f, done)
	if err != nil {
		h.t.Fatal(err)
	}
	sf.f, sf.file = f, file
	h.found = append(h.found, sf)
}

// unexplainedFaults is s's Fallbacks plus Approximate, where the VMM
// counts them.
func unexplainedFaults(s CREWStats) uint64 {
	var n uint64
	v := reflect.ValueOf(s)
	for _, name := range []string{"Fallbacks", "Approximate"} {
		if f := v.FieldByName(name); f.IsValid() && f.CanUint() {
			n += f.Uint()
		}
	}
	return n
}

// groupCount is how many groups p's bodies hold.
func groupCount(p *program) int {
	n := 0
	for _, b := range p.bodies {
		n += len(b)
	}
	return n
}

// report logs what ran and fails the test with every finding, grouped by
// signature.
func (h *fuzzHarness) report() {
	h.t.Helper()
	h.t.Logf("%d seeds; %d programs recorded and replayed (the rest while minimizing); CREW totals: %+v", h.seeds, h.ran, h.stats)
	if len(h.unexplained) > 0 {
		h.t.Logf("faults the decoder could not explain exactly (fallbacks and approximations), by seed: %s", strings.Join(h.unexplained, " "))
	}
	if len(h.found) == 0 {
		return
	}
	bySig := map[string][]seedFinding{}
	var sigs []string
	for _, sf := range h.found {
		sig := sf.f.signature()
		if bySig[sig] == nil {
			sigs = append(sigs, sig)
		}
		bySig[sig] = append(bySig[sig], sf)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d findings of %d kinds:", len(h.found), len(sigs))
	for _, sig := range sigs {
		sfs := bySig[sig]
		var seeds []string
		for _, sf := range sfs {
			seeds = append(seeds, fmt.Sprint(sf.seed))
		}
		first := sfs[0]
		fmt.Fprintf(&b, "\n\n[%s] seeds %s\n\t%v\n\treproducer %s", first.f.culprit(), strings.Join(seeds, " "), first.f, first.file)
		if first.note != "" {
			fmt.Fprintf(&b, " (%s)", first.note)
		}
	}
	h.t.Error(b.String())
}

// fuzzFixedSeeds is how many seeds TestInsnFuzzFixedSeeds runs (-short:
// 20; CREWVM_INSNFUZZ_SEEDS overrides both).
const fuzzFixedSeeds = 200

// TestInsnFuzzFixedSeeds records and replays the programs of seeds 1..200.
func TestInsnFuzzFixedSeeds(t *testing.T) {
	h := newFuzzHarness(t)
	n := uint64(fuzzFixedSeeds)
	if testing.Short() {
		n = 20
	}
	if env := os.Getenv("CREWVM_INSNFUZZ_SEEDS"); env != "" {
		var err error
		if n, err = strconv.ParseUint(env, 10, 64); err != nil {
			t.Fatalf("CREWVM_INSNFUZZ_SEEDS: %v", err)
		}
	}
	start := time.Now()
	for seed := uint64(1); seed <= n; seed++ {
		h.check(seed)
	}
	t.Logf("%d seeds in %v", n, time.Since(start).Round(time.Millisecond))
	h.report()
}

// FuzzInsnRecordReplay is the fuzzer proper: the input is the seed.
func FuzzInsnRecordReplay(f *testing.F) {
	f.Fuzz(func(t *testing.T, seed uint64) {
		h := newFuzzHarness(t)
		h.check(seed)
		h.report()
	})
}

// TestInsnFuzzReproducers runs every kept reproducer a few times.
func TestInsnFuzzReproducers(t *testing.T) {
	rs, err := readReproducers()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Skipf("no reproducers in %s", fuzzReproDir)
	}
	selected := map[string]bool{}
	if os.Getenv("CREWVM_INSNFUZZ_TEMPLATES") != "" {
		tmpls, err := selectedTemplates()
		if err != nil {
			t.Fatal(err)
		}
		for _, tm := range tmpls {
			selected[tm.name] = true
		}
	}
	for _, r := range rs {
		t.Run(strings.TrimSuffix(filepath.Base(r.file), ".S"), func(t *testing.T) {
			if len(selected) > 0 && !selected[r.culprit] {
				t.Skipf("culprit %s is not in CREWVM_INSNFUZZ_TEMPLATES", r.culprit)
			}
			h := newFuzzHarness(t)
			for range fuzzTries {
				if f := h.run(r.src, r.cpus, r.deadline); f != nil {
					t.Fatalf("%s (seed %d) still fails:\n%v\nkept as: %s", r.file, r.seed, f, r.signature)
				}
			}
		})
	}
}

// hostSplitLocksSlow says whether this host makes a split lock (a locked
// access across two cache lines) far slower than an aligned one: Intel
// hosts with split-lock detection trap each one, which costs ~0.5 ms.
// The same holds for the guest, whose programs then take minutes.
var hostSplitLocksSlow = sync.OnceValue(func() bool {
	buf := make([]byte, 256)
	line := (64 - uintptr(unsafe.Pointer(&buf[0]))%64) % 64
	split := (*uint64)(unsafe.Add(unsafe.Pointer(&buf[0]), line+60))
	start := time.Now()
	for range 20 {
		atomic.AddUint64(split, 1)
	}
	return time.Since(start) > 20*20*time.Microsecond
})

// loopCount is the loop count a program loads (see program.asm).
var loopCount = regexp.MustCompile(`movl \$(\d+), %r15d`)

// shortenLoops makes a program's loops 1/100 as long (at least 10
// iterations).
func shortenLoops(src string) string {
	return loopCount.ReplaceAllStringFunc(src, func(m string) string {
		n, _ := strconv.Atoi(loopCount.FindStringSubmatch(m)[1])
		return fmt.Sprintf("movl $%d, %%r15d", max(10, n/100))
	})
}
