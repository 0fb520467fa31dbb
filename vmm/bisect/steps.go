package bisect

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"golang.org/x/arch/x86/x86asm"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/vmm"
	"github.com/crewvm/crewvm/vmm/kvm"
)

// step is one instruction of the interval's vCPU in one execution, or
// its arrival at the interval's last exit (end).
type step struct {
	end bool
	// events counts the log events the vCPU had consumed.
	events uint64
	rip    uint64
	code   []byte
	regs   kvm.Regs
	writes []write
}

type write struct {
	addr uint64
	data []byte
}

// side is one execution in step 2's lockstep: its vCPU hands each step
// to the comparator and waits for the verdict, go on or stop there, in
// which case it first copies the memory it can compare.
type side struct {
	x       *execution
	steps   chan step
	verdict chan bool // true: stop
	snap    chan []memRange
}

// send hands s to the comparator and waits; it returns errFound when the
// execution is to stop.
func (sd *side) send(s step, p *vmm.WatchPoint) error {
	select {
	case sd.steps <- s:
	case <-sd.x.ctx.Done():
		return errFound
	}
	var stop bool
	select {
	case stop = <-sd.verdict:
	case <-sd.x.ctx.Done():
		return errFound
	}
	if !stop {
		return nil
	}
	sd.snap <- snapshot(p)
	return errFound
}

// recv is the next step of sd, or false when its execution ended first.
func (sd *side) recv() (step, bool) {
	select {
	case s := <-sd.steps:
		return s, true
	case <-sd.x.done:
		return step{}, false
	}
}

// watch is the Watch that feeds sd the steps of interval iv.
func (sd *side) watch(iv *interval) *vmm.Watch {
	return &vmm.Watch{
		Step: func(p *vmm.WatchPoint) error {
			s := step{rip: p.RIP, regs: *p.Regs, code: codeAt(p.RAM(), p.RIP), events: p.Events()}
			for _, a := range p.Accesses {
				if a.Kind.Writes() {
					s.writes = append(s.writes, write{a.Addr, bytes.Clone(a.Value)})
				}
			}
			return sd.send(s, p)
		},
		Exit: func(p *vmm.WatchPoint) error {
			if p.CPU != iv.cpu || p.Exits != iv.to {
				return nil
			}
			return sd.send(step{end: true, regs: *p.Regs, events: p.Events()}, p)
		},
	}
}

// codeAt returns the bytes of the instruction at rip, read through the
// identity mapping the guest runs on (empty where RAM ends).
func codeAt(ram []byte, rip uint64) []byte {
	if rip >= uint64(len(ram)) {
		return nil
	}
	b := ram[rip:min(rip+15, uint64(len(ram)))]
	if inst, err := x86asm.Decode(b, 64); err == nil {
		b = b[:inst.Len]
	}
	return bytes.Clone(b)
}

// steps is step 2 and 3: it runs both executions with iv's vCPU stepped
// through iv in lockstep, and reports the first instruction that differs
// and the memory that differs there.
func (b *bisector) steps(iv *interval) (*Result, error) {
	window := &vmm.TraceWindow{CPU: iv.cpu, From: iv.from, To: iv.to}
	mk := func(image []byte, who string) (*side, error) {
		sd := &side{steps: make(chan step), verdict: make(chan bool), snap: make(chan []memRange, 1)}
		x, err := b.prepare(image, sd.watch(iv), window)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", who, err)
		}
		sd.x = x
		x.launch()
		return sd, nil
	}
	rec, err := mk(b.o.Image, "the recording's execution")
	if err != nil {
		return nil, err
	}
	defer rec.x.stop()
	cand, err := mk(b.o.Candidate, "the candidate's execution")
	if err != nil {
		return nil, err
	}
	defer cand.x.stop()

	res := &Result{CPU: iv.cpu, Exits: iv.from}
	var sa, sb step
	for n := uint64(1); ; n++ {
		var okA, okB bool
		sa, okA = rec.recv()
		sb, okB = cand.recv()
		if !okA && rec.x.err != nil {
			return nil, fmt.Errorf("the recording's execution, stepping vCPU %d after exit %d: %w", iv.cpu, iv.from, rec.x.err)
		}
		if !okA {
			// The recording ended at its exit iv.from and the candidate
			// did not match the log's end there: nothing stepped differs.
			if okB {
				cand.verdict <- true
				<-cand.snap
				res.Candidate = describe(b.symsCand, sb)
			}
			res.Step, res.What = n, "no instruction: the recording ends at this exit, and the candidate does not match the log's end"
			return res, nil
		}
		if !okB {
			// The candidate failed on its way: the report is where it
			// last stood.
			rec.verdict <- true
			<-rec.snap
			res.Step = n
			res.What = "the candidate's execution ended here"
			if cand.x.err != nil {
				res.Note = "the candidate: " + cand.x.err.Error()
			}
			res.Recording = describe(b.symsRec, sa)
			return res, nil
		}
		res.What = compareSteps(&sa, &sb)
		if res.What == "" && n > b.o.MaxSteps {
			res.What = fmt.Sprintf("nothing, in the %d instructions stepped", b.o.MaxSteps)
		}
		stop := res.What != "" || sa.end && sb.end
		rec.verdict <- stop
		cand.verdict <- stop
		if stop {
			res.Step, res.Events = n, sa.events
			break
		}
	}
	ma, mb := <-rec.snap, <-cand.snap
	res.Recording, res.Candidate = describe(b.symsRec, sa), describe(b.symsCand, sb)
	if sa.end && sb.end {
		res.What = fmt.Sprintf("no instruction: both reach exit %d alike", iv.to)
	} else if !sa.end && !sb.end {
		res.Regs = diffRegs(&sa.regs, &sb.regs)
	}
	labels := toLabels(rec.x.m.Labels())
	ranges, compared := diffMemory(ma, mb)
	res.Compared = compared
	for _, r := range ranges {
		n := min(r[1]-r[0], 16)
		d := MemDiff{Addr: r[0], Len: r[1] - r[0], Symbol: b.symsRec.Data(r[0], labels), InImage: masked(b.mask, r[0]),
			Recording: hex.EncodeToString(byteAt(ma, r[0], n)), Candidate: hex.EncodeToString(byteAt(mb, r[0], n))}
		if d.InImage {
			d.Symbol = b.symsRec.PC(r[0])
		}
		res.Memory = append(res.Memory, d)
	}
	return res, nil
}

// compareSteps says what differs between the two executions' steps, or
// "" when nothing does.
func compareSteps(a, b *step) string {
	switch {
	case a.end && b.end:
		return ""
	case a.end:
		return "the recording's execution reaches the interval's last exit here; the candidate's executes another instruction"
	case b.end:
		return "the candidate's execution reaches the interval's last exit here; the recording's executes another instruction"
	case a.rip != b.rip:
		return "the instruction's address"
	case !bytes.Equal(a.code, b.code):
		return "the instruction"
	case len(diffRegs(&a.regs, &b.regs)) > 0:
		return "the registers after it"
	case !sameWrites(a.writes, b.writes):
		return "the bytes it wrote"
	}
	return ""
}

func sameWrites(a, b []write) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].addr != b[i].addr || !bytes.Equal(a[i].data, b[i].data) {
			return false
		}
	}
	return true
}

// describe names one execution's step, with its image's symbols, for
// the report.
func describe(syms *analysis.Symbols, s step) Side {
	out := Side{RIP: s.rip, Ended: s.end}
	if s.end {
		out.RIP = s.regs.RIP
		return out
	}
	if inst, err := x86asm.Decode(s.code, 64); err == nil {
		out.Code = x86asm.IntelSyntax(inst, s.rip, nil)
	} else {
		out.Code = fmt.Sprintf("(cannot decode % x)", s.code)
	}
	out.Where = syms.PC(s.rip)
	for _, w := range s.writes {
		out.Writes = append(out.Writes, fmt.Sprintf("%#x=%s", w.addr, hex.EncodeToString(w.data)))
	}
	return out
}

func toLabels(ls []vmm.Label) []analysis.Label {
	out := make([]analysis.Label, len(ls))
	for i, l := range ls {
		out[i] = analysis.Label{Addr: l.Addr, Len: l.Len, Name: l.Name}
	}
	return out
}
