package replaylog

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRoundTripRandom is the property test: any sequence of valid events
// reads back identical, whatever the block size and codec.
func TestRoundTripRandom(t *testing.T) {
	opts := []struct {
		name string
		o    WriterOptions
	}{
		{"default", WriterOptions{}},
		{"tiny-blocks", WriterOptions{BlockSize: 64, MaxPending: 2}},
		{"small-blocks", WriterOptions{BlockSize: 1000}},
		{"raw", WriterOptions{NoCompression: true, BlockSize: 4096}},
	}
	for _, o := range opts {
		for seed := uint64(1); seed <= 8; seed++ {
			rng := rand.New(rand.NewPCG(seed, 42))
			vcpus := uint32(1 + rng.IntN(8))
			evs := randEvents(rng, 1+rng.IntN(3000), vcpus)
			log := writeLog(t, testHeader(vcpus), o.o, eventSteps(evs))
			r := openBytes(t, log)
			got, err := readAll(r)
			if err != nil {
				t.Fatalf("%s seed %d: %v", o.name, seed, err)
			}
			if len(got) != len(evs) {
				t.Fatalf("%s seed %d: read %d events, wrote %d", o.name, seed, len(got), len(evs))
			}
			for i := range evs {
				sameEvent(t, i, got[i], evs[i])
			}
			if v := r.Verify(); !v.Whole || v.Events != uint64(len(evs)) {
				t.Fatalf("%s seed %d: verify: whole=%v events=%d problems=%v", o.name, seed, v.Whole, v.Events, v.Problems)
			}
		}
	}
}

// TestRoundTripKinds covers every kind with edge values explicitly.
func TestRoundTripKinds(t *testing.T) {
	regs := Regs{RIP: 0xffffffff81000000, RFLAGS: 0x246}
	for i := range regs.GPR {
		regs.GPR[i] = uint64(i) << 60
	}
	big := bytes.Repeat([]byte("dma!"), 4096)
	tests := []struct {
		name string
		ev   Event
	}{
		{"port-in", PortIn(0, 0x3fd, 1, 0x60)},
		{"port-in-max", PortIn(3, 0xffff, 4, 0xffffffff)},
		{"port-in-pos", Event{Kind: KindPortIn, VCPU: 1, Pos: ExitPos(17), Port: 0x70, Size: 2, Value: 7}},
		{"mmio", MMIORead(2, 0xfee00030, []byte{1, 2, 3, 4})},
		{"mmio-empty", MMIORead(2, 0, nil)},
		{"clock", Clock(0, 1<<62)},
		{"clock-back", Clock(1, 5)},
		{"hypercall", Hypercall(1, 9, ^uint64(0))},
		{"interrupt", Interrupt(0, 0x20, ExitPos(4127))},
		{"interrupt-state", Interrupt(1, 0xec, StatePos(99, 2, &regs, 0xdeadbeef))},
		{"dma", Event{Kind: KindDMA, VCPU: 3, Pos: ExitPos(5), Device: 7, Addr: 0x100000, Data: big,
			Constraints: []Constraint{{VCPU: 0, Pos: ExitPos(1)}, {VCPU: 3, Pos: StatePos(5, 2, &regs, 1)}}}},
		{"dma-transfer", DMA(3, 0, 6, (&DMATransfer{Writes: []DMAWrite{{GPA: 0x5000, Data: big}}, ReadHash: 9}).Marshal())},
		{"dma-vcpu", Event{Kind: KindDMA, VCPU: 2, Device: 1, Addr: 8, Data: []byte{9}}},
		{"console", ConsoleInput([]byte("hello\n"))},
		{"crew-read", CREW(0, ExitPos(12), 0x123, AccessRead, PageShared, nil)},
		{"crew-write", CREW(1, ExitPos(1<<40), 7, AccessWrite, PageExclusive, []Constraint{{VCPU: 0, Pos: ExitPos(11)}})},
		{"crew-fetch-state", CREW(3, StatePos(3, 2, &regs, 42), 0, AccessFetch, PageShared,
			[]Constraint{{VCPU: 0, Pos: ExitPos(0)}, {VCPU: 1, Pos: ExitPos(1)}, {VCPU: 2, Pos: StatePos(9, 2, &regs, 3)}})},
		{"statehash", StateHash(2, ExitPos(100), 0x1234, false, 0)},
		{"statehash-mem", StateHash(2, ExitPos(101), 0x1234, true, 0)},
		{"region-begin", Region(KindRegionBegin, 0, 0x7000, 64, "test 17: open/open")},
		{"region-end", Region(KindRegionEnd, 0, 0x7000, 64, "")},
		{"label", Region(KindLabel, 1, 0xffff800000001000, 4096, strings.Repeat("x", MaxName))},
		{"exit", GuestExit(0, 3)},
		{"end", End()},
	}
	var evs []Event
	for _, tc := range tests {
		evs = append(evs, tc.ev)
	}
	for _, o := range []WriterOptions{{}, {BlockSize: 1}} {
		log := writeLog(t, testHeader(4), o, eventSteps(evs))
		got, err := readAll(openBytes(t, log))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tests) {
			t.Fatalf("read %d events, want %d", len(got), len(tests))
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { sameEvent(t, i, got[i], tc.ev) })
		}
	}
}

func TestAppendRejectsInvalid(t *testing.T) {
	regs := Regs{}
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"zero", Event{}, "unknown event kind"},
		{"future-kind", Event{Kind: 200}, "unknown event kind"},
		{"vcpu-range", PortIn(4, 1, 1, 1), "out of range"},
		{"port-size", PortIn(0, 1, 3, 1), "size 3"},
		{"interrupt-no-pos", Interrupt(0, 1, Position{}), "position required"},
		{"crew-no-pos", CREW(0, Position{}, 1, AccessRead, PageShared, nil), "position required"},
		{"crew-access", CREW(0, ExitPos(1), 1, 0, PageShared, nil), "access"},
		{"crew-state", CREW(0, ExitPos(1), 1, AccessRead, 3, nil), "page state"},
		{"crew-constraint-vcpu", CREW(0, ExitPos(1), 1, AccessRead, PageShared, []Constraint{{VCPU: 9, Pos: ExitPos(1)}}), "out of range"},
		{"crew-constraint-nopos", CREW(0, ExitPos(1), 1, AccessRead, PageShared, []Constraint{{VCPU: 1}}), "without a position"},
		{"crew-too-many", CREW(0, ExitPos(1), 1, AccessRead, PageShared, make([]Constraint, 5)), "constraints"},
		{"pos-kind", Event{Kind: KindClock, Pos: Position{Kind: 3}}, "position kind"},
		{"pos-novcpu", Event{Kind: KindConsoleInput, VCPU: NoVCPU, Pos: StatePos(1, 2, &regs, 1)}, "needs a vCPU"},
		{"data-size", ConsoleInput(make([]byte, MaxEventData+1)), "data bytes"},
		{"name-size", Region(KindLabel, 0, 0, 0, strings.Repeat("n", MaxName+1)), "name"},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(4), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := w.Append(&tc.ev)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Append = %v, want error containing %q", err, tc.want)
			}
		})
	}
	// The rejected events left no trace: the writer still works.
	ok := Clock(0, 1)
	if err := w.Append(&ok); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(openBytes(t, buf.Bytes()))
	if err != nil || len(got) != 1 {
		t.Fatalf("read %d events, %v", len(got), err)
	}
	if err := w.Append(&ok); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
}

func TestBadHeaders(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Header)
	}{
		{"no-vcpus", func(h *Header) { h.VCPUs = 0 }},
		{"too-many-vcpus", func(h *Header) { h.VCPUs = MaxVCPUs + 1 }},
		{"no-memory", func(h *Header) { h.MemSize = 0 }},
		{"granularity", func(h *Header) { h.PageSize = 6000 }},
		{"small-granularity", func(h *Header) { h.PageSize = 1024 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := testHeader(2)
			tc.mod(&h)
			if _, err := NewWriter(io.Discard, h, WriterOptions{}); err == nil {
				t.Fatal("NewWriter accepted a bad header")
			}
		})
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		input    []byte
		disk     uint64
		readOnly bool
	}{
		{"no input", nil, 0, false},
		{"input", []byte("crewvm-testgen 1\nmodel name=posix\n"), 0, false},
		{"large input", bytes.Repeat([]byte("test id=1 set=1 path=1\n"), 200000), 0, false},
		{"disk", nil, 16 << 20, false},
		{"read-only disk", nil, 1 << 40, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader(3)
			h.Input = tt.input
			h.DiskSize, h.DiskReadOnly = tt.disk, tt.readOnly
			log := writeLog(t, h, WriterOptions{}, nil)
			if len(tt.input) > 1<<20 && len(log) > len(tt.input)/10 {
				t.Errorf("a log of %d bytes for an input of %d: the input is not compressed", len(log), len(tt.input))
			}
			got := openBytes(t, log).Header()
			h.Major, h.Minor = FormatMajor, FormatMinor
			if !got.Created.Equal(h.Created) {
				t.Fatalf("created %v, want %v", got.Created, h.Created)
			}
			got.Created = h.Created
			if !reflect.DeepEqual(got, h) {
				t.Fatalf("header\n got  %+v\n want %+v", got, h)
			}
		})
	}
}

// TestDMAActor: a log with a disk has one more actor, numbered VCPUs,
// whose events and constraints round-trip; without a disk it is out of
// range.
func TestDMAActor(t *testing.T) {
	tr := (&DMATransfer{Writes: []DMAWrite{{GPA: 0x8000, Data: []byte("sector")}}, Reads: []DMARange{{GPA: 0x9000, Len: 16}}, ReadHash: 7}).Marshal()
	evs := []Event{
		CREW(2, ExitPos(1), 9, AccessWrite, PageExclusive, []Constraint{{VCPU: 0, Pos: ExitPos(4)}}),
		DMA(2, 0, 1, tr),
		CREW(0, ExitPos(5), 9, AccessRead, PageShared, []Constraint{{VCPU: 2, Pos: ExitPos(1)}}),
		End(),
	}
	h := testHeader(2)
	h.DiskSize = 1 << 20
	got, err := readAll(openBytes(t, writeLog(t, h, WriterOptions{}, eventSteps(evs))))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("read back %d events, want %d", len(got), len(evs))
	}
	for i := range evs {
		evs[i].Index = uint64(i)
		if got[i].String() != evs[i].String() || !bytes.Equal(got[i].Data, evs[i].Data) {
			t.Errorf("event %d: read back %v, want %v", i, &got[i], &evs[i])
		}
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(2), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(&evs[1]); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("a DMA actor's event in a log without a disk: %v", err)
	}
}

// TestConcurrentAppend appends from several goroutines, as the vCPU threads
// do: every event arrives once, and each goroutine's events keep their
// order.
func TestConcurrentAppend(t *testing.T) {
	const vcpus, per = 4, 5000
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(vcpus), WriterOptions{BlockSize: 512, MaxPending: 2})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for v := uint32(0); v < vcpus; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := Event{Kind: KindHypercall, VCPU: v}
			for i := uint64(0); i < per; i++ {
				e.Nr, e.Value, e.Pos = 1, i, ExitPos(i)
				if err := w.Append(&e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Checkpoints and flushes race with the appends too.
	mem := testMemory(rand.New(rand.NewPCG(1, 1)), 8)
	for i := 0; i < 5; i++ {
		if err := w.Checkpoint(testCheckpoint(rand.New(rand.NewPCG(uint64(i), 2)), vcpus, mem)); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(openBytes(t, buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	next := make([]uint64, vcpus)
	for _, e := range got {
		if e.Value != next[e.VCPU] || e.Pos.Exits != next[e.VCPU] {
			t.Fatalf("vCPU %d: event %d out of order (want %d)", e.VCPU, e.Value, next[e.VCPU])
		}
		next[e.VCPU]++
	}
	for v, n := range next {
		if n != per {
			t.Fatalf("vCPU %d: %d events, want %d", v, n, per)
		}
	}
}

// TestCheckpoints writes events around checkpoints and checks that each
// checkpoint reads back exactly, that identical pages are stored once, and
// that a reader seeking to a checkpoint continues with the right event.
func TestCheckpoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const vcpus = 3
	mem := testMemory(rng, 256)
	var steps []step
	var cps []*Checkpoint
	var evIndex []int // event index after each checkpoint
	nev := 0
	for round := 0; round < 4; round++ {
		for _, e := range randEvents(rng, 500, vcpus) {
			steps = append(steps, step{ev: e})
			nev++
		}
		// Change a few pages between checkpoints.
		for i := 0; i < 3; i++ {
			mem[rng.IntN(len(mem))] ^= 0xff
		}
		cp := testCheckpoint(rng, vcpus, mem)
		cps = append(cps, cp)
		evIndex = append(evIndex, nev)
		steps = append(steps, step{cp: cp})
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(vcpus), WriterOptions{BlockSize: 2048})
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for i := range steps {
		if steps[i].cp != nil {
			if err := w.Checkpoint(steps[i].cp); err != nil {
				t.Fatal(err)
			}
			continue
		}
		evs = append(evs, steps[i].ev)
		if err := w.Append(&steps[i].ev); err != nil {
			t.Fatal(err)
		}
	}
	// Three (or fewer) modified pages per later checkpoint, plus the
	// unique pages of the first: everything else is deduplicated.
	st := w.Stats()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	stored := st.Pages - st.DedupPages
	if st.Pages != 4*256 || stored > 2+128+4*3 {
		t.Fatalf("stored %d of %d pages; deduplication failed", stored, st.Pages)
	}
	r := openBytes(t, buf.Bytes())
	infos := r.Checkpoints()
	if len(infos) != len(cps) {
		t.Fatalf("%d checkpoints, want %d", len(infos), len(cps))
	}
	for i, cp := range cps {
		if infos[i].Event != uint64(evIndex[i]) || cp.Event != uint64(evIndex[i]) {
			t.Fatalf("checkpoint %d at event %d (writer said %d), want %d", i, infos[i].Event, cp.Event, evIndex[i])
		}
		got, err := r.SeekCheckpoint(i)
		if err != nil {
			t.Fatal(err)
		}
		want := *cp
		want.Number = i
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("checkpoint %d differs:\n got  %+v\n want %+v", i, got.VCPUs, want.VCPUs)
		}
		rest, err := readAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != len(evs)-evIndex[i] {
			t.Fatalf("after checkpoint %d: %d events, want %d", i, len(rest), len(evs)-evIndex[i])
		}
		for k, e := range rest {
			sameEvent(t, evIndex[i]+k, e, evs[evIndex[i]+k])
		}
		// The same pages, one at a time, and the same events after them.
		paged := map[uint64][]byte{}
		pcp, err := r.SeekCheckpointPages(i, func(gpa uint64, page []byte) { paged[gpa] = bytes.Clone(page) })
		if err != nil {
			t.Fatal(err)
		}
		var pages int
		for _, m := range want.Memory {
			for off := 0; off < len(m.Data); off += PageBytes {
				if !bytes.Equal(paged[m.GPA+uint64(off)], m.Data[off:off+PageBytes]) {
					t.Fatalf("checkpoint %d by pages: page at %#x differs from its loaded form", i, m.GPA+uint64(off))
				}
				pages++
			}
		}
		if len(paged) != pages || pcp.Memory != nil || !reflect.DeepEqual(pcp.VCPUs, want.VCPUs) {
			t.Fatalf("checkpoint %d by pages: %d pages (want %d), memory %v, vCPUs equal %v", i, len(paged), pages, pcp.Memory != nil, reflect.DeepEqual(pcp.VCPUs, want.VCPUs))
		}
		if rest2, err := readAll(r); err != nil || len(rest2) != len(rest) {
			t.Fatalf("after checkpoint %d by pages: %d events (%v), want %d", i, len(rest2), err, len(rest))
		}
	}
	if _, err := r.SeekCheckpoint(len(cps)); err == nil {
		t.Fatal("seek to a missing checkpoint succeeded")
	}
	v := r.Verify()
	if !v.Whole || v.Checkpoints != len(cps) {
		t.Fatalf("verify: %+v", v)
	}
}

func TestCheckpointRejectsBadMemory(t *testing.T) {
	w, err := NewWriter(io.Discard, testHeader(1), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	page := make([]byte, PageBytes)
	tests := []struct {
		name string
		cp   Checkpoint
	}{
		{"vcpus", Checkpoint{}},
		{"unaligned-gpa", Checkpoint{VCPUs: make([]VCPUState, 1), Memory: []MemRegion{{GPA: 1, Data: page}}}},
		{"unaligned-len", Checkpoint{VCPUs: make([]VCPUState, 1), Memory: []MemRegion{{GPA: 0, Data: page[:100]}}}},
		{"overlap", Checkpoint{VCPUs: make([]VCPUState, 1), Memory: []MemRegion{{GPA: 4096, Data: page}, {GPA: 0, Data: page}}}},
		{"too-much", Checkpoint{VCPUs: make([]VCPUState, 1), Memory: []MemRegion{{GPA: 0, Data: make([]byte, 2<<20)}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := w.Checkpoint(&tc.cp); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestSeekEvent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	evs := randEvents(rng, 2000, 2)
	log := writeLog(t, testHeader(2), WriterOptions{BlockSize: 300}, eventSteps(evs))
	r := openBytes(t, log)
	for _, n := range []int{0, 1, 2, 37, 500, 1000, 1999, 1234, 0} {
		if err := r.SeekEvent(uint64(n)); err != nil {
			t.Fatalf("seek %d: %v", n, err)
		}
		e, err := r.Next()
		if err != nil {
			t.Fatalf("seek %d: %v", n, err)
		}
		sameEvent(t, n, e, evs[n])
	}
	for _, n := range []uint64{2000, 1 << 40} {
		if err := r.SeekEvent(n); !errors.Is(err, io.EOF) {
			t.Fatalf("seek past the end (%d) = %v, want io.EOF", n, err)
		}
	}
}

// TestFileWriter exercises Create/Open on a real file, Flush, and the
// writer's Stats.
func TestFileWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.log")
	w, err := Create(path, testHeader(2), WriterOptions{Sync: true, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := Clock(1, 1000)
	if err := w.Append(&e); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// After Flush the event is in the file, readable while the writer
	// is still open (as a truncated log).
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	var te *TruncatedError
	if len(got) != 1 || !errors.As(err, &te) || te.Events != 1 {
		t.Fatalf("mid-recording read: %d events, %v", len(got), err)
	}
	r.Close()
	// The flush interval seals a block on its own.
	e.Value++
	if err := w.Append(&e); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Blocks < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if w.Stats().Blocks < 2 {
		t.Fatal("flush interval did not seal the block")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	st := w.Stats()
	if fi, _ := os.Stat(path); st.FileBytes != fi.Size() || st.Events != 2 {
		t.Fatalf("stats %+v, file %d bytes", st, fi.Size())
	}
	if _, err := Create(filepath.Join(path, "x"), testHeader(1), WriterOptions{}); err == nil {
		t.Fatal("Create under a file succeeded")
	}
	if _, err := Open(filepath.Dir(path)); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
	if _, err := Open(filepath.Join(filepath.Dir(path), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing file = %v", err)
	}
}

// failWriter fails after n writes, like a full disk.
type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestWriteErrorIsSticky(t *testing.T) {
	if _, err := NewWriter(&failWriter{n: 0}, testHeader(1), WriterOptions{}); err == nil || !strings.Contains(err.Error(), "write header") {
		t.Fatalf("NewWriter on a full disk = %v", err)
	}
	w, err := NewWriter(&failWriter{n: 2}, testHeader(1), WriterOptions{BlockSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	e := Clock(0, 1)
	var got error
	for i := 0; i < 10000 && got == nil; i++ {
		got = w.Append(&e)
	}
	if got == nil || !strings.Contains(got.Error(), "disk full") {
		t.Fatalf("Append error = %v", got)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close error = %v", err)
	}
}

func TestEventString(t *testing.T) {
	regs := Regs{RIP: 0x1000}
	tests := []struct {
		ev   Event
		want string
	}{
		{PortIn(1, 0x3f8, 1, 0x41), "#0 vcpu=1 port-in port=0x3f8 size=1 value=0x41"},
		{ConsoleInput([]byte("hi\n")), `#0 vcpu=- console-input data="hi\n"`},
		{CREW(0, ExitPos(5), 0x10, AccessWrite, PageExclusive, []Constraint{{VCPU: 1, Pos: ExitPos(9)}}),
			"#0 vcpu=0 crew at=exit:5 page=0x10 access=write state=exclusive after=[vcpu1@exit:9]"},
		{Interrupt(0, 0x20, StatePos(3, 2, &regs, 1)), "#0 vcpu=0 interrupt at=state:3.2/rip=0x1000,rflags=0x0,mem=0x0000000000000001 vector=0x20"},
		{End(), "#0 vcpu=- end"},
		{Event{Kind: 99, Data: []byte{1}}, "#0 vcpu=0 kind(99) payload=01"},
	}
	for _, tc := range tests {
		if got := tc.ev.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	for _, k := range Kinds() {
		if strings.HasPrefix(k.String(), "kind(") {
			t.Errorf("kind %d has no name", k)
		}
	}
}

func TestRegsHashStable(t *testing.T) {
	// The value is part of the format: KindStateHash events recorded by
	// one vmm are checked by another.
	var r Regs
	if got := r.Hash(); got != 0xec32669a74fcae65 {
		t.Fatalf("hash of zero registers = %#x, want FNV-1a of 144 zero bytes", got)
	}
	r2 := r
	r2.GPR[15] = 1
	if r.Hash() == r2.Hash() {
		t.Fatal("hash ignores R15")
	}
}
