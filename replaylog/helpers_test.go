package replaylog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func testHeader(vcpus uint32) Header {
	h := Header{
		WriterVersion: "test-1.2.3",
		Guest:         "builtin",
		Args:          []string{"racy-counter", "--iters=1000"},
		VCPUs:         vcpus,
		MemSize:       1 << 20,
		PageSize:      4096,
		CPUID:         []byte{1, 2, 3, 4, 5},
		Created:       time.Unix(1700000000, 123),
		Extra:         []byte("cfg"),
	}
	h.GuestHash[0], h.GuestHash[31] = 0xab, 0xcd
	return h
}

// randValue returns values that exercise every varint length.
func randValue(rng *rand.Rand) uint64 {
	switch rng.IntN(5) {
	case 0:
		return rng.Uint64N(128)
	case 1:
		return rng.Uint64()
	case 2:
		return rng.Uint64N(1 << 20)
	case 3:
		return ^uint64(0) - rng.Uint64N(3)
	}
	return 1<<63 + rng.Uint64N(1000)
}

func randRegs(rng *rand.Rand) Regs {
	var r Regs
	for i := range r.GPR {
		r.GPR[i] = randValue(rng)
	}
	r.RIP, r.RFLAGS = randValue(rng), randValue(rng)
	return r
}

// randPos returns a position; exit counts mostly grow per vCPU, as the
// engine's do, but sometimes jump or go back to exercise the deltas.
func randPos(rng *rand.Rand, exits []uint64, vcpu uint32) Position {
	switch rng.IntN(10) {
	case 0:
		exits[vcpu] = randValue(rng)
	case 1:
		exits[vcpu] -= rng.Uint64N(5)
	default:
		exits[vcpu] += rng.Uint64N(20)
	}
	if rng.IntN(8) == 0 {
		r := randRegs(rng)
		return StatePos(exits[vcpu], 1+rng.Uint64N(3), &r, rng.Uint64())
	}
	return ExitPos(exits[vcpu])
}

func randBytes(rng *rand.Rand, max int) []byte {
	n := rng.IntN(max + 1)
	if rng.IntN(20) == 0 {
		n = 100 + rng.IntN(3000) // forces multi-byte event lengths
	}
	if n == 0 {
		return nil
	}
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.IntN(256))
	}
	return p
}

func randConstraints(rng *rand.Rand, exits []uint64, vcpus uint32) []Constraint {
	n := rng.IntN(int(vcpus) + 1)
	if n == 0 {
		return nil
	}
	cs := make([]Constraint, n)
	for i := range cs {
		v := uint32(rng.IntN(int(vcpus)))
		cs[i] = Constraint{VCPU: v, Pos: randPos(rng, exits, v)}
	}
	return cs
}

// randEvent returns a random valid event of any known kind.
func randEvent(rng *rand.Rand, exits []uint64, vcpus uint32) Event {
	kind := Kind(1 + rng.IntN(int(maxKnownKind)))
	vcpu := uint32(rng.IntN(int(vcpus)))
	e := Event{Kind: kind, VCPU: vcpu}
	if rng.IntN(4) == 0 {
		e.Pos = randPos(rng, exits, vcpu)
	}
	switch kind {
	case KindPortIn:
		e.Port = uint16(rng.IntN(1 << 16))
		e.Size = []uint8{1, 2, 4}[rng.IntN(3)]
		e.Value = randValue(rng)
	case KindMMIORead:
		e.Addr = randValue(rng)
		e.Data = randBytes(rng, 8)
	case KindClock:
		e.Value = randValue(rng)
	case KindHypercall:
		e.Nr, e.Value = randValue(rng), randValue(rng)
	case KindInterrupt:
		e.Vector = uint8(rng.IntN(256))
		e.Pos = randPos(rng, exits, vcpu)
	case KindDMA:
		if rng.IntN(2) == 0 {
			e.VCPU, e.Pos = NoVCPU, Position{}
		}
		e.Device = uint32(randValue(rng))
		e.Addr = randValue(rng)
		e.Data = randBytes(rng, 600)
		e.Constraints = randConstraints(rng, exits, vcpus)
	case KindConsoleInput:
		if rng.IntN(2) == 0 {
			e.VCPU, e.Pos = NoVCPU, Position{}
		}
		e.Data = randBytes(rng, 40)
	case KindCREW:
		e.Pos = randPos(rng, exits, vcpu)
		e.Page = randValue(rng)
		e.Access = Access(1 + rng.IntN(3))
		e.State = PageState(1 + rng.IntN(2))
		e.Constraints = randConstraints(rng, exits, vcpus)
	case KindStateHash:
		e.Pos = randPos(rng, exits, vcpu)
		e.Hash = rng.Uint64()
		if rng.IntN(2) == 0 {
			e.HasMemHash, e.MemHash = true, rng.Uint64()
		}
	case KindRegionBegin, KindRegionEnd, KindLabel:
		e.Addr, e.Len = randValue(rng), randValue(rng)
		e.Name = string(randBytes(rng, 30))
	case KindGuestExit:
		e.Value = randValue(rng)
	case KindEnd:
		e.VCPU, e.Pos = NoVCPU, Position{}
	case KindWake:
		e.Pos = randPos(rng, exits, vcpu)
		e.Constraints = randConstraints(rng, exits, vcpus)
	case KindAccess:
		e.Pos = randPos(rng, exits, vcpu)
		e.Value, e.Nr, e.Addr = randValue(rng), randValue(rng), randValue(rng)
		e.Len = uint64(1 + rng.IntN(64))
		e.Access = Access(1 + rng.IntN(4))
		if e.Access == AccessWrite || e.Access == AccessRMW {
			e.Data = make([]byte, e.Len)
			for i := range e.Data {
				e.Data[i] = byte(rng.IntN(256))
			}
		}
	}
	return e
}

func randEvents(rng *rand.Rand, n int, vcpus uint32) []Event {
	exits := make([]uint64, vcpus)
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = randEvent(rng, exits, vcpus)
	}
	return evs
}

// normalize makes an event comparable with reflect.DeepEqual: empty and
// nil slices are the same on disk.
func normalize(e Event) Event {
	if len(e.Data) == 0 {
		e.Data = nil
	}
	if len(e.Constraints) == 0 {
		e.Constraints = nil
	}
	return e
}

func sameEvent(t *testing.T, i int, got *Event, want Event) {
	t.Helper()
	want.Index = uint64(i)
	g := normalize(*got.Clone())
	w := normalize(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("event %d differs:\n got  %s\n want %s\n got  %+v\n want %+v", i, &g, &w, g, w)
	}
}

// fingerprint encodes an event on its own: equal fingerprints mean equal
// events (the round-trip tests check that encoding loses nothing). It is
// much cheaper than reflect.DeepEqual for the tests that compare millions
// of events.
func fingerprint(e *Event, vcpus int) string {
	var d deltaState
	d.reset(vcpus)
	return string(d.appendEvent(nil, e))
}

// prefixChecker checks that events read from a damaged log are the
// original's prefix.
type prefixChecker struct {
	want  []string
	vcpus int
}

func newPrefixChecker(evs []Event, vcpus int) *prefixChecker {
	pc := &prefixChecker{vcpus: vcpus}
	for i := range evs {
		pc.want = append(pc.want, fingerprint(&evs[i], vcpus))
	}
	return pc
}

// read reads r to its end, returning the number of events and the error
// that ended it (nil for io.EOF), and failing at the first event that is
// not the original's.
func (pc *prefixChecker) read(t *testing.T, what string, r *Reader) (uint64, error) {
	for n := uint64(0); ; n++ {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if e.Index != n || n >= uint64(len(pc.want)) || fingerprint(e, pc.vcpus) != pc.want[n] {
			t.Fatalf("%s: event %d is not the one written: %s", what, n, e)
		}
	}
}

// step is a scripted writer action: an event, or a checkpoint when cp is
// set.
type step struct {
	ev Event
	cp *Checkpoint
}

// writeLog writes the events (and checkpoints) into an in-memory log.
func writeLog(tb testing.TB, h Header, opts WriterOptions, steps []step) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, opts)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range steps {
		if steps[i].cp != nil {
			if err := w.Checkpoint(steps[i].cp); err != nil {
				tb.Fatalf("checkpoint: %v", err)
			}
			continue
		}
		if err := w.Append(&steps[i].ev); err != nil {
			tb.Fatalf("append %d (%s): %v", i, &steps[i].ev, err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func eventSteps(evs []Event) []step {
	s := make([]step, len(evs))
	for i := range evs {
		s[i].ev = evs[i]
	}
	return s
}

func openBytes(tb testing.TB, b []byte) *Reader {
	tb.Helper()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return r
}

// readAll returns clones of every event and the error that ended reading
// (nil for a clean io.EOF).
func readAll(r *Reader) ([]*Event, error) {
	var evs []*Event
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, e.Clone())
	}
}

// testMemory returns a memory image with zero pages, repeated pages and
// unique pages, so that deduplication has something to do.
func testMemory(rng *rand.Rand, pages int) []byte {
	mem := make([]byte, pages*PageBytes)
	for p := 0; p < pages; p++ {
		page := mem[p*PageBytes : (p+1)*PageBytes]
		switch p % 4 {
		case 0: // zero
		case 1: // same content everywhere
			for i := range page {
				page[i] = 0x5a
			}
		default:
			for i := 0; i < 64; i++ {
				page[rng.IntN(PageBytes)] = byte(rng.IntN(256))
			}
		}
	}
	return mem
}

func testCheckpoint(rng *rand.Rand, vcpus uint32, mem []byte) *Checkpoint {
	cp := &Checkpoint{Extra: []byte(fmt.Sprintf("devices-%d", rng.IntN(1000)))}
	for i := uint32(0); i < vcpus; i++ {
		cp.VCPUs = append(cp.VCPUs, VCPUState{Exits: rng.Uint64N(1e6), Regs: randRegs(rng), Extra: []byte{byte(i), 1, 2}})
	}
	// Two regions with a hole, as with an MMIO gap.
	half := len(mem) / 2 / PageBytes * PageBytes
	cp.Memory = []MemRegion{
		{GPA: 0, Data: append([]byte(nil), mem[:half]...)},
		{GPA: 1 << 32, Data: append([]byte(nil), mem[half:]...)},
	}
	return cp
}
