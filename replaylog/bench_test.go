package replaylog

import (
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// An event mix is a generator of realistic event streams: values follow
// the patterns the engine produces (exit counts growing per vCPU, a clock
// advancing by tens of microseconds, a hot set of shared pages), which is
// what the delta encoding and zstd see in practice.
type mix struct {
	name  string
	vcpus uint32
	gen   func(rng *rand.Rand, st *mixState) Event
}

type mixState struct {
	exits  []uint64
	clock  uint64
	owner  []int    // per hot page: exclusive owner or -1
	reader [][]bool // per hot page: which vCPUs may read
	sector []byte
}

func newMixState(vcpus uint32) *mixState {
	st := &mixState{exits: make([]uint64, vcpus), clock: 3_000_000_000, sector: make([]byte, 512)}
	st.owner = make([]int, 16)
	st.reader = make([][]bool, 16)
	for i := range st.owner {
		st.owner[i] = -1
		st.reader[i] = make([]bool, vcpus)
	}
	return st
}

func (st *mixState) exit(rng *rand.Rand, v uint32) Position {
	st.exits[v] += 1 + rng.Uint64N(3)
	return ExitPos(st.exits[v])
}

// ioEvent is a device-heavy single guest: serial status polls, clock
// reads, hypercalls, an occasional MMIO read.
func ioEvent(rng *rand.Rand, st *mixState, vcpu uint32) Event {
	switch p := rng.IntN(100); {
	case p < 50:
		v := uint64(0x60)
		if rng.IntN(8) == 0 {
			v = 0x20
		}
		return PortIn(vcpu, 0x3fd, 1, v)
	case p < 75:
		st.clock += 8_000 + rng.Uint64N(20_000)
		return Clock(vcpu, st.clock)
	case p < 95:
		return Hypercall(vcpu, 1+rng.Uint64N(4), rng.Uint64N(3))
	default:
		return MMIORead(vcpu, 0xfee00030+uint64(rng.IntN(4))*0x10, []byte{0x14, 0, 0, 0})
	}
}

// crewEvent is a sharing-heavy run (racy counters, ping-pong): mostly
// ownership transitions on a small set of hot pages, with exactly the
// constraints a CREW recorder logs, some at state-matched positions.
func crewEvent(rng *rand.Rand, st *mixState, vcpus uint32) Event {
	v := uint32(rng.IntN(int(vcpus)))
	switch p := rng.IntN(100); {
	case p < 10:
		st.clock += 8_000 + rng.Uint64N(20_000)
		return Clock(v, st.clock)
	case p < 20:
		return Hypercall(v, 2, 0)
	case p < 22:
		return Interrupt(v, 0x20, st.exit(rng, v))
	}
	pg := rng.IntN(len(st.owner))
	write := rng.IntN(3) > 0
	e := Event{Kind: KindCREW, VCPU: v, Pos: st.exit(rng, v), Page: 0x1000 + uint64(pg), Access: AccessRead, State: PageShared}
	var cs []Constraint
	addConstraint := func(o uint32) {
		pos := ExitPos(st.exits[o])
		if rng.IntN(30) == 0 {
			// The owner had no exit within the deadline and was kicked.
			regs := Regs{RIP: 0xffffffff81000000 + rng.Uint64N(4096), RFLAGS: 0x246}
			regs.GPR[0], regs.GPR[1] = rng.Uint64N(1<<20), 0xffff888000000000+rng.Uint64N(1<<24)
			pos = StatePos(st.exits[o], 1, &regs, rng.Uint64())
		}
		cs = append(cs, Constraint{VCPU: o, Pos: pos})
	}
	if write {
		e.Access, e.State = AccessWrite, PageExclusive
		for o := uint32(0); o < vcpus; o++ {
			if o != v && (st.reader[pg][o] || st.owner[pg] == int(o)) {
				addConstraint(o)
			}
			st.reader[pg][o] = false
		}
		st.owner[pg] = int(v)
	} else {
		if o := st.owner[pg]; o >= 0 && o != int(v) {
			addConstraint(uint32(o))
			st.reader[pg][o] = true
		}
		st.owner[pg] = -1
		st.reader[pg][v] = true
	}
	e.Constraints = cs
	return e
}

// dmaEvent is a disk-backed run: the io mix plus 512-byte sector DMA
// writes of text-like data.
func dmaEvent(rng *rand.Rand, st *mixState, vcpu uint32) Event {
	if rng.IntN(5) > 0 {
		return ioEvent(rng, st, vcpu)
	}
	const words = "the quick brown fox jumps over lazy dog data block inode file "
	for i := range st.sector {
		st.sector[i] = words[rng.IntN(len(words))]
	}
	t := DMATransfer{Writes: []DMAWrite{{GPA: 0x200000 + uint64(rng.IntN(1024))*512, Data: st.sector}}}
	return DMA(1, 0, 1, t.Marshal())
}

var mixes = []mix{
	{"io", 2, func(rng *rand.Rand, st *mixState) Event { return ioEvent(rng, st, uint32(rng.IntN(2))) }},
	{"crew", 4, crewEvent4},
	{"dma", 2, func(rng *rand.Rand, st *mixState) Event { return dmaEvent(rng, st, uint32(rng.IntN(2))) }},
}

func crewEvent4(rng *rand.Rand, st *mixState) Event { return crewEvent(rng, st, 4) }

// mixEvents returns n events of a mix; slices are copied so that events
// stay valid.
func mixEvents(m mix, n int) []Event {
	rng := rand.New(rand.NewPCG(1, 1))
	st := newMixState(m.vcpus)
	evs := make([]Event, n)
	for i := range evs {
		e := m.gen(rng, st)
		evs[i] = *e.Clone()
	}
	return evs
}

// countWriter counts bytes and throws them away, so that benchmarks
// measure the writer, not a disk.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// BenchmarkAppend measures the cost of Append per event as the engine
// pays it, including the amortized background compression (Close is
// inside the timing). It also reports the bytes per event on disk, raw
// (encoded, before zstd) and the compression ratio.
func BenchmarkAppend(b *testing.B) {
	for _, m := range mixes {
		b.Run(m.name, func(b *testing.B) {
			evs := mixEvents(m, 1<<16)
			var cw countWriter
			w, err := NewWriter(&cw, testHeader(m.vcpus), WriterOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := w.Append(&evs[i&(len(evs)-1)]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := w.Stats()
			b.ReportMetric(float64(cw.n)/float64(b.N), "B/event")
			b.ReportMetric(float64(st.RawBytes)/float64(b.N), "rawB/event")
			b.ReportMetric(float64(st.RawBytes)/float64(cw.n), "ratio")
			b.ReportMetric(float64(st.Stalls), "stalls")
		})
	}
}

// BenchmarkAppendParallel appends from GOMAXPROCS goroutines at once, as
// several vCPU threads do.
func BenchmarkAppendParallel(b *testing.B) {
	m := mixes[1]
	evs := mixEvents(m, 1<<16)
	var cw countWriter
	w, err := NewWriter(&cw, testHeader(m.vcpus), WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := w.Append(&evs[i&(len(evs)-1)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDecode measures Next on one goroutine over a log of a mix,
// decompression included, and reports events per second.
func BenchmarkDecode(b *testing.B) {
	for _, m := range mixes {
		b.Run(m.name, func(b *testing.B) {
			evs := mixEvents(m, 1<<18)
			log := writeLog(b, testHeader(m.vcpus), WriterOptions{}, eventSteps(evs))
			r := openBytes(b, log)
			b.ReportAllocs()
			b.SetBytes(int64(len(log)) / int64(len(evs)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := r.Next(); err != nil {
					if !errors.Is(err, io.EOF) {
						b.Fatal(err)
					}
					if err := r.SeekEvent(0); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkCheckpoint writes a checkpoint of 64 MiB of guest memory of
// which a quarter is zero and 1/64 changes between checkpoints.
func BenchmarkCheckpoint(b *testing.B) {
	const memSize = 64 << 20
	rng := rand.New(rand.NewPCG(2, 2))
	mem := make([]byte, memSize)
	for p := 0; p < memSize/PageBytes; p++ {
		if p%4 != 0 {
			for i := 0; i < 32; i++ {
				mem[p*PageBytes+rng.IntN(PageBytes)] = byte(rng.IntN(256))
			}
		}
	}
	h := testHeader(2)
	h.MemSize = memSize
	var cw countWriter
	w, err := NewWriter(&cw, h, WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cp := &Checkpoint{VCPUs: make([]VCPUState, 2), Memory: []MemRegion{{GPA: 0, Data: mem}}}
	b.SetBytes(memSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < memSize/PageBytes/64; k++ {
			mem[rng.IntN(memSize)]++
		}
		if err := w.Checkpoint(cp); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cw.n)/float64(b.N)/(1<<20), "MiB/checkpoint")
	w.Close()
}

// TestMixesAreValid makes sure the benchmark generators produce events the
// writer accepts and that round-trip.
func TestMixesAreValid(t *testing.T) {
	for _, m := range mixes {
		evs := mixEvents(m, 5000)
		log := writeLog(t, testHeader(m.vcpus), WriterOptions{}, eventSteps(evs))
		got, err := readAll(openBytes(t, log))
		if err != nil || len(got) != len(evs) {
			t.Fatalf("%s: %d events, %v", m.name, len(got), err)
		}
		for i := range evs {
			sameEvent(t, i, got[i], evs[i])
		}
		t.Logf("%s: %.2f bytes/event", m.name, float64(len(log))/float64(len(evs)))
	}
}

// BenchmarkEncode is the part of Append that runs on the caller's
// goroutine besides the lock: validation and encoding into the block.
func BenchmarkEncode(b *testing.B) {
	for _, m := range mixes {
		b.Run(m.name, func(b *testing.B) {
			evs := mixEvents(m, 1<<16)
			h := testHeader(m.vcpus)
			var d deltaState
			d.reset(int(m.vcpus))
			buf := make([]byte, 0, 1<<20)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e := &evs[i&(len(evs)-1)]
				if err := validateEvent(&h, e); err != nil {
					b.Fatal(err)
				}
				buf = d.appendEvent(buf, e)
				if len(buf) > 64<<10 {
					buf = buf[:0]
					d.reset(int(m.vcpus))
				}
			}
		})
	}
}

// BenchmarkAppendPaced appends from one goroutine paced at one event per
// microsecond (ten times the rate of VM exits on our machines; the pacing
// spins, so on a 2-core machine one spinner leaves a core to the
// compressor) and reports the Append latency a vCPU thread sees and how
// often it waited for the compressor.
func BenchmarkAppendPaced(b *testing.B) {
	m := mixes[1]
	evs := mixEvents(m, 1<<16)
	var cw countWriter
	w, err := NewWriter(&cw, testHeader(m.vcpus), WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	const threads = 1
	lat := make([][]time.Duration, threads)
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := 0; g < threads; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, b.N/threads+1)
			next := time.Now()
			for i := g; i < b.N; i += threads {
				for time.Now().Before(next) {
				}
				next = next.Add(time.Microsecond)
				t0 := time.Now()
				if err := w.Append(&evs[i&(len(evs)-1)]); err != nil {
					b.Error(err)
					return
				}
				l = append(l, time.Since(t0))
			}
			lat[g] = l
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
		b.ReportMetric(float64(all[len(all)-1].Nanoseconds()), "max-ns")
	}
	b.ReportMetric(float64(w.Stats().Stalls), "stalls")
}
