// Package bisect finds the first instruction where two executions of
// one recording part: the recording's own, replayed with its image, and
// a candidate's, replayed against the same log with another image (vmm
// bisect). Both run side by side in this process, each on a machine of
// its own, and are compared as they go:
//
//  1. at every exit of every vCPU: the registers, and the memory that no
//     other actor can change there (all of RAM with one vCPU, the pages
//     the vCPU owns exclusively under CREW), hashed as often as a quarter
//     of the run's time allows;
//  2. the first exit that differs, or where the candidate stops matching
//     the log, bounds an interval of one vCPU; both executions are run
//     again with that vCPU single-stepped through it, in lockstep,
//     comparing each instruction's address, its registers after and the
//     bytes it wrote;
//  3. at the first instruction that differs, the memory both executions
//     can compare there is bisected by ranges down to the bytes that
//     differ.
//
// Step 1 replaces a binary search over seek points: without checkpoints
// a seek replays from the start, so one side-by-side pass costs less
// than the log2(events) replays a search would.
package bisect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sync"
	"time"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm"
	"github.com/crewvm/crewvm/vmm/kvm"
)

// Options say what to bisect.
type Options struct {
	// Log is the recording's path.
	Log string
	// Image is the recording's own guest image; Candidate the other
	// execution's.
	Image, Candidate []byte
	// Timeout bounds each execution (0: none).
	Timeout time.Duration
	// SeekTimeout is how long a replay seeks a state position; the
	// candidate may never reach one (0: 10 s).
	SeekTimeout time.Duration
	// MaxSteps bounds the instructions single-stepped in step 2 (0:
	// 20 million).
	MaxSteps uint64
	// Progress, when set, receives a line as each step begins.
	Progress io.Writer
	// From, when set, starts both executions at the recording's last
	// checkpoint at or before that log event, the candidate's with the
	// pages where the images differ loaded from its image.
	From *uint64
}

// Result is where the two executions part.
type Result struct {
	// Same says they never differed: every exit compared equal and both
	// matched the recording to its end.
	Same bool `json:"same"`
	// CPU is the vCPU that differs first; Exits the last of its exits at
	// which both agree, and Step how many instructions after it the
	// first differing one is (1: the first after the exit).
	CPU   int    `json:"cpu"`
	Exits uint64 `json:"exits"`
	Step  uint64 `json:"step"`
	// Events counts the log events the vCPU had consumed there, in the
	// recording's execution: the last is event Events-1.
	Events uint64 `json:"events"`
	// Found says how step 1 saw the difference: "registers", "memory",
	// or "log" (the candidate stopped matching the recording first).
	Found string `json:"found"`
	// What says what differs at the first differing instruction.
	What string `json:"what"`
	// Recording and Candidate are the two sides there.
	Recording Side `json:"recording"`
	Candidate Side `json:"candidate"`
	// Regs are the registers that differ after it.
	Regs []RegDiff `json:"regs,omitempty"`
	// Memory are the ranges that differ there, within what both can
	// compare; Compared counts the bytes compared.
	Memory   []MemDiff `json:"memory,omitempty"`
	Compared uint64    `json:"compared_bytes"`
	// Note says what else was seen (the candidate's divergence from the
	// log, an execution that ended first).
	Note string `json:"note,omitempty"`
}

// Side is one execution at the first differing instruction.
type Side struct {
	RIP uint64 `json:"rip"`
	// Code is the instruction in Intel syntax; Where its function and
	// source line.
	Code  string `json:"code"`
	Where string `json:"where"`
	// Writes are the bytes it wrote, as "ADDR=HEX".
	Writes []string `json:"writes,omitempty"`
	// Ended says this execution reached the interval's last exit here
	// instead of executing an instruction.
	Ended bool `json:"ended,omitempty"`
}

// RegDiff is one register that differs.
type RegDiff struct {
	Name      string `json:"name"`
	Recording uint64 `json:"recording"`
	Candidate uint64 `json:"candidate"`
}

// MemDiff is a range of guest-physical memory that differs.
type MemDiff struct {
	Addr   uint64 `json:"addr"`
	Len    uint64 `json:"len"`
	Symbol string `json:"symbol"`
	// Recording and Candidate are the first bytes of the range, in hex.
	Recording string `json:"recording"`
	Candidate string `json:"candidate"`
	// InImage says the two images load different bytes there: the
	// change itself, not something an execution did.
	InImage bool `json:"in_image,omitempty"`
}

// Run bisects the two executions o names.
func Run(o Options) (*Result, error) {
	if o.SeekTimeout == 0 {
		o.SeekTimeout = 10 * time.Second
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = 20_000_000
	}
	b := &bisector{o: o, seed: maphash.MakeSeed()}
	r, err := replaylog.Open(o.Log)
	if err != nil {
		return nil, err
	}
	h := r.Header()
	b.cpus = int(h.VCPUs)
	var candPages map[uint64][]byte
	if b.mask, candPages, err = imageDiff(o.Image, o.Candidate, h.MemSize, int(h.VCPUs)); err != nil {
		r.Close()
		return nil, err
	}
	if o.From != nil {
		if err := b.startAt(r, *o.From, candPages); err != nil {
			r.Close()
			return nil, err
		}
	}
	r.Close()
	// An image without debug information still names what it can.
	b.symsRec, _ = analysis.NewSymbols(o.Image)
	b.symsCand, _ = analysis.NewSymbols(o.Candidate)
	b.progress("step 1: running both executions, comparing every exit")
	iv, err := b.exits()
	switch {
	case err != nil:
		return nil, err
	case iv == nil:
		return &Result{Same: true}, nil
	}
	if iv, err = b.narrow(iv); err != nil {
		return nil, err
	}
	b.progress(fmt.Sprintf("step 2: vCPU %d differs between its exits %d and %d (%s); single-stepping both through it",
		iv.cpu, iv.from, iv.to, iv.found))
	res, err := b.steps(iv)
	if err != nil {
		return nil, err
	}
	res.Found, res.Note = iv.found, joinNotes(iv.note, res.Note)
	return res, nil
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

type bisector struct {
	o    Options
	seed maphash.Seed
	// mask is where the two images differ (imageDiff).
	mask []span
	cpus int
	// symsRec and symsCand are the two images' symbols.
	symsRec, symsCand *analysis.Symbols
	// from is the checkpoint both executions start at (nil: the log's
	// start), with the exit count it leaves each vCPU at; overlay is
	// what the candidate's image loads where the images differ.
	from    *int
	start   uint64
	overlay []replaylog.MemRegion
}

// startAt makes both executions start at the last checkpoint at or
// before event (none: the start), with the candidate's image pages
// where the two images differ.
func (b *bisector) startAt(r *replaylog.Reader, event uint64, candPages map[uint64][]byte) error {
	i, ok := r.CheckpointBefore(event)
	if !ok {
		return nil
	}
	cp, err := r.ReadCheckpoint(i)
	if err != nil {
		return fmt.Errorf("%s: %w", b.o.Log, err)
	}
	if len(cp.VCPUs) != 1 {
		return fmt.Errorf("%s: checkpoint %d holds %d vCPUs: starting from a checkpoint needs one", b.o.Log, i, len(cp.VCPUs))
	}
	b.from, b.start = &i, cp.VCPUs[0].Exits
	for _, s := range b.mask {
		for p := s.lo; p < s.hi; p += pageSize {
			page := candPages[p]
			if page == nil {
				page = make([]byte, pageSize)
			}
			b.overlay = append(b.overlay, replaylog.MemRegion{GPA: p, Data: page})
		}
	}
	b.progress(fmt.Sprintf("starting at checkpoint %d, before log event %d", i, cp.Event))
	return nil
}

func (b *bisector) progress(msg string) {
	if b.o.Progress != nil {
		fmt.Fprintf(b.o.Progress, "vmm bisect: %s\n", msg)
	}
}

// execution is one side: a replay of the log on a machine of its own.
type execution struct {
	m      *vmm.Machine
	r      *replaylog.Reader
	cancel context.CancelFunc
	ctx    context.Context
	done   chan struct{}
	err    error
}

// prepare makes the machine that replays the log on image with watch
// (and, if set, window); launch starts it.
func (b *bisector) prepare(image []byte, watch *vmm.Watch, window *vmm.TraceWindow) (*execution, error) {
	r, err := replaylog.Open(b.o.Log)
	if err != nil {
		return nil, err
	}
	cfg, err := vmm.ReplayConfig(r, image)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w", b.o.Log, err)
	}
	cfg.Console, cfg.Timeout, cfg.SeekTimeout = io.Discard, b.o.Timeout, b.o.SeekTimeout
	cfg.Watch, cfg.TraceWindow = watch, window
	if b.from != nil {
		cfg.FromCheckpoint = b.from
		if !bytes.Equal(image, b.o.Image) {
			cfg.Overlay = b.overlay
		}
	}
	m, err := vmm.New(cfg)
	if err != nil {
		r.Close()
		return nil, err
	}
	x := &execution{m: m, r: r, done: make(chan struct{})}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	return x, nil
}

// launch runs x in a goroutine, which closes x.done when it has ended.
func (x *execution) launch() *execution {
	go func() {
		defer close(x.done)
		_, x.err = x.m.Run(x.ctx)
	}()
	return x
}

// stop ends x, if it still runs, and releases it.
func (x *execution) stop() {
	x.cancel()
	<-x.done
	x.m.Close()
	x.r.Close()
}

// digest is one vCPU at one exit in the recording's execution.
type digest struct {
	regs   uint64
	mem    uint64
	hasMem bool
}

// interval is where step 1 saw a difference: cpu's instructions after
// its exit from, up to its exit to.
type interval struct {
	cpu      int
	from, to uint64
	found    string
	note     string
}

// errFound ends an execution once step 1 or 2 has what it needs.
var errFound = errors.New("bisect: difference found")

// exitLog is the recording's execution's digests, per vCPU, which the
// candidate's catches up with.
type exitLog struct {
	mu    sync.Mutex
	cond  *sync.Cond
	cpus  [][]digest
	ended bool
	// start is the exit count the executions start at.
	start uint64
	// spent and began ration memory hashing per vCPU.
	spent []time.Duration
	began time.Time
}

func (l *exitLog) add(cpu int, d digest) {
	l.mu.Lock()
	l.cpus[cpu] = append(l.cpus[cpu], d)
	l.cond.Broadcast()
	l.mu.Unlock()
}

// get waits for the recording's digest of cpu's exit n (the first after
// start is 1 more than start); ok is false when that execution ended
// with fewer exits.
func (l *exitLog) get(cpu int, n uint64) (digest, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n -= l.start
	for uint64(len(l.cpus[cpu])) < n && !l.ended {
		l.cond.Wait()
	}
	if uint64(len(l.cpus[cpu])) < n {
		return digest{}, false
	}
	return l.cpus[cpu][n-1], true
}

func (l *exitLog) end() {
	l.mu.Lock()
	l.ended = true
	l.cond.Broadcast()
	l.mu.Unlock()
}

// exits is step 1: it returns the interval where the two executions
// first differ, or nil when they never do.
func (b *bisector) exits() (*interval, error) {
	cpus := b.cpus
	l := &exitLog{cpus: make([][]digest, cpus), spent: make([]time.Duration, cpus), began: time.Now(), start: b.start}
	l.cond = sync.NewCond(&l.mu)
	rec, err := b.prepare(b.o.Image, &vmm.Watch{Exit: func(p *vmm.WatchPoint) error {
		d := digest{regs: maphash.Comparable(b.seed, *p.Regs)}
		// Memory is hashed while hashing has taken under a quarter of
		// the time so far, which bounds its cost on a large RAM.
		if l.spent[p.CPU] < time.Since(l.began)/4 {
			t := time.Now()
			d.mem, d.hasMem = b.memHash(p), true
			l.spent[p.CPU] += time.Since(t)
		}
		l.add(p.CPU, d)
		return nil
	}}, nil)
	if err != nil {
		return nil, fmt.Errorf("the recording's execution: %w", err)
	}
	defer rec.launch().stop()
	go func() {
		<-rec.done
		l.end()
	}()

	var mu sync.Mutex
	var found *interval
	matched := make([]uint64, cpus)    // the last exit compared equal
	memMatched := make([]uint64, cpus) // the last whose memory did too: where a divergence
	// from the log, which memory compared less often may have caused, is
	// looked for from
	for i := range matched {
		matched[i], memMatched[i] = b.start, b.start
	}
	cand, err := b.prepare(b.o.Candidate, &vmm.Watch{Exit: func(p *vmm.WatchPoint) error {
		want, ok := l.get(p.CPU, p.Exits)
		iv := &interval{cpu: p.CPU, from: p.Exits - 1, to: p.Exits}
		switch {
		case !ok:
			iv.found, iv.note = "registers", fmt.Sprintf("the recording's execution has no exit %d on vCPU %d", p.Exits, p.CPU)
		case maphash.Comparable(b.seed, *p.Regs) != want.regs:
			iv.found = "registers"
		case want.hasMem && b.memHash(p) != want.mem:
			iv.found, iv.from = "memory", memMatched[p.CPU]
		default:
			matched[p.CPU] = p.Exits
			if want.hasMem {
				memMatched[p.CPU] = p.Exits
			}
			return nil
		}
		mu.Lock()
		if found == nil {
			found = iv
		}
		mu.Unlock()
		return errFound
	}}, nil)
	if err != nil {
		return nil, fmt.Errorf("the candidate's execution: %w", err)
	}
	defer cand.launch().stop()
	<-cand.done
	mu.Lock()
	defer mu.Unlock()
	if found != nil {
		return found, nil
	}
	// The candidate ended without an exit that differs: by matching the
	// log to its end, or by failing to.
	var div *vmm.DivergenceError
	var gerr *vmm.GuestError
	switch {
	case cand.err == nil:
		<-rec.done
		if rec.err != nil {
			return nil, fmt.Errorf("the recording's execution: %w", rec.err)
		}
		return nil, nil
	case errors.As(cand.err, &div) && div.CPU < cpus:
		return &interval{cpu: div.CPU, from: memMatched[div.CPU], to: matched[div.CPU] + 1, found: "log", note: "the candidate: " + div.Error()}, nil
	case errors.As(cand.err, &gerr):
		return &interval{cpu: gerr.CPU, from: memMatched[gerr.CPU], to: matched[gerr.CPU] + 1, found: "log", note: "the candidate: " + gerr.Error()}, nil
	}
	return nil, fmt.Errorf("the candidate's execution: %w", cand.err)
}

// narrow shrinks an interval that memory bounds (found "memory", or a
// divergence from the log that memory compared less often than every
// exit may have caused) to one exit, by binary search: each probe runs
// both executions to one exit of the interval's vCPU and compares the
// memory they can compare there. A probe costs a replay to that exit at
// native speed, far less than stepping the interval.
func (b *bisector) narrow(iv *interval) (*interval, error) {
	lo, hi := iv.from, iv.to
	if iv.found == "log" && hi-lo > 1 {
		// The candidate reached exit hi-1 with the registers right.
		same, err := b.probe(iv.cpu, hi-1)
		if err != nil {
			return nil, err
		}
		if same {
			lo = hi - 1
		} else {
			hi--
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		b.progress(fmt.Sprintf("step 1b: vCPU %d between its exits %d and %d: comparing memory at exit %d", iv.cpu, lo, hi, mid))
		same, err := b.probe(iv.cpu, mid)
		if err != nil {
			return nil, err
		}
		if same {
			lo = mid
		} else {
			hi = mid
		}
	}
	out := *iv
	out.from, out.to = lo, hi
	return &out, nil
}

// probe runs both executions to cpu's exit n and says whether the
// memory they can compare there is the same.
func (b *bisector) probe(cpu int, n uint64) (bool, error) {
	var hashes [2]uint64
	var reached [2]bool
	var xs [2]*execution
	for i, image := range [][]byte{b.o.Image, b.o.Candidate} {
		x, err := b.prepare(image, &vmm.Watch{Exit: func(p *vmm.WatchPoint) error {
			if p.CPU != cpu || p.Exits != n {
				return nil
			}
			hashes[i], reached[i] = b.memHash(p), true
			return errFound
		}}, nil)
		if err != nil {
			return false, err
		}
		xs[i] = x.launch()
	}
	for _, x := range xs {
		<-x.done
		x.stop()
	}
	if !reached[0] {
		return false, fmt.Errorf("the recording's execution did not reach vCPU %d's exit %d: %v", cpu, n, xs[0].err)
	}
	return reached[1] && hashes[0] == hashes[1], nil
}

// memHash hashes the memory p's vCPU can compare where it stands, but
// for the pages where the images differ.
func (b *bisector) memHash(p *vmm.WatchPoint) uint64 {
	var h maphash.Hash
	h.SetSeed(b.seed)
	ram := p.RAM()
	for _, st := range p.Stable() {
		for _, r := range without(span{st.Lo, st.Hi}, b.mask) {
			maphash.WriteComparable(&h, r)
			h.Write(ram[r.lo:r.hi])
		}
	}
	return h.Sum64()
}

// regNames are kvm.Regs' fields in order, for the report.
var regNames = [...]string{"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"}

// regValues lists r's fields in regNames' order.
func regValues(r *kvm.Regs) [18]uint64 {
	return [18]uint64{r.RAX, r.RBX, r.RCX, r.RDX, r.RSI, r.RDI, r.RSP, r.RBP,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15, r.RIP, r.RFLAGS}
}

// diffRegs lists the registers that differ; RFLAGS' TF and RF are the
// stepping's.
func diffRegs(a, b *kvm.Regs) []RegDiff {
	va, vb := regValues(a), regValues(b)
	va[17] &^= replaylog.RFLAGSIgnored
	vb[17] &^= replaylog.RFLAGSIgnored
	var out []RegDiff
	for i := range va {
		if va[i] != vb[i] {
			out = append(out, RegDiff{Name: regNames[i], Recording: va[i], Candidate: vb[i]})
		}
	}
	return out
}

// memRange is a copy of a range of guest memory.
type memRange struct {
	lo   uint64
	data []byte
}

// snapshot copies the memory p's vCPU can compare where it stands.
func snapshot(p *vmm.WatchPoint) []memRange {
	ram := p.RAM()
	var out []memRange
	for _, r := range p.Stable() {
		out = append(out, memRange{lo: r.Lo, data: bytes.Clone(ram[r.Lo:r.Hi])})
	}
	return out
}

// minBisect is the range size at which bisection compares bytes.
const minBisect = 64

// diffMemory bisects the ranges both snapshots hold down to the bytes
// that differ, and returns them merged, with the count of bytes
// compared.
func diffMemory(a, b []memRange) ([][2]uint64, uint64) {
	var out [][2]uint64
	var compared uint64
	add := func(lo, hi uint64) {
		if n := len(out); n > 0 && out[n-1][1] == lo {
			out[n-1][1] = hi
			return
		}
		out = append(out, [2]uint64{lo, hi})
	}
	var bisect func(base uint64, x, y []byte)
	bisect = func(base uint64, x, y []byte) {
		if bytes.Equal(x, y) {
			return
		}
		if len(x) <= minBisect {
			for i := range x {
				if x[i] != y[i] {
					add(base+uint64(i), base+uint64(i)+1)
				}
			}
			return
		}
		h := len(x) / 2
		bisect(base, x[:h], y[:h])
		bisect(base+uint64(h), x[h:], y[h:])
	}
	// Both lists are in address order: walk their overlaps.
	for i, j := 0, 0; i < len(a) && j < len(b); {
		alo, ahi := a[i].lo, a[i].lo+uint64(len(a[i].data))
		blo, bhi := b[j].lo, b[j].lo+uint64(len(b[j].data))
		lo, hi := max(alo, blo), min(ahi, bhi)
		if lo < hi {
			bisect(lo, a[i].data[lo-alo:hi-alo], b[j].data[lo-blo:hi-blo])
			compared += hi - lo
		}
		if ahi < bhi {
			i++
		} else {
			j++
		}
	}
	return out, compared
}

// byteAt reads n bytes at addr from a snapshot, for the report.
func byteAt(s []memRange, addr, n uint64) []byte {
	for _, r := range s {
		if addr >= r.lo && addr+n <= r.lo+uint64(len(r.data)) {
			return r.data[addr-r.lo : addr-r.lo+n]
		}
	}
	return nil
}
