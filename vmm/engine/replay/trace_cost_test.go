package replay

import (
	"errors"
	"testing"
	"time"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/vmm/internal/probe"
	"github.com/crewvm/crewvm/vmm/kvm"
)

// TestTraceCost measures what trace mode costs per delivered access, in
// units of one trapped-instruction exit served by the VMM (an out that
// PVM turns into a shutdown exit, registers read and RIP moved on: the
// HC_TIME unit of crew/HOSTFACTS.md without the clock), on a loop of
// "mov rax, [rbx]; add rax, 1; mov [rbx], rax; jmp": two accesses in
// four instructions. It reports, and asserts only that the accesses are
// the loop's.
func TestTraceCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	const n = 20000
	probe.LockThread(t)

	// The baseline: n trapped outs.
	p := probe.New(t, 1)
	p.Load(probe.Code, []byte{0xef, 0xeb, 0xfd}) // out; jmp back
	p.Start(0, probe.Code, nil)
	v := p.VCPU(0)
	t0 := time.Now()
	for range n {
		if errno := probe.Enter(v); errno != 0 || v.RunData().ExitReason != kvm.ExitShutdown {
			t.Fatalf("baseline exit: %v, reason %d", errno, v.RunData().ExitReason)
		}
		r := p.Regs(0)
		r.RIP++
		p.SetRegs(0, r)
		// (the jmp back runs natively before the next out)
	}
	exit := time.Since(t0) / n

	// Traced: the loop under the tracer, until n accesses are delivered.
	p = probe.New(t, 1)
	p.Load(probe.Code, []byte{0x48, 0x8b, 0x03, 0x48, 0x83, 0xc0, 0x01, 0x48, 0x89, 0x03, 0xeb, 0xf4})
	p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX = probe.A })
	var got, reads, writes int
	done := errors.New("enough")
	sink := func(ev *analysis.Event) error {
		if ev.Kind != analysis.EventAccess || ev.Access.Addr != probe.A || ev.Access.Size != 8 {
			t.Fatalf("traced %+v, want 8-byte accesses of %#x", ev, probe.A)
		}
		if ev.Access.Kind == analysis.Read {
			reads++
		} else {
			writes++
		}
		if got++; got == n {
			return done
		}
		return nil
	}
	e, err := New(p.M, nil, Options{Trace: &TraceOptions{Sink: sink, Everywhere: true}})
	if err != nil {
		t.Fatal(err)
	}
	c := p.M.VCPUs()[0]
	t0 = time.Now()
	// As the machine's loop does: enter (traceEnter), run, and the
	// tracer steps on until an exit, here a signal's.
	for got < n && !p.M.Stopping() {
		if err := e.traceEnter(c); err != nil {
			t.Fatal(err)
		}
		e.traceRun(c, c.KVM().Run())
	}
	access := time.Since(t0) / time.Duration(got)
	if got != n || reads != writes {
		t.Fatalf("%d accesses, %d reads and %d writes; want %d, half each", got, reads, writes, n)
	}
	st := e.TraceStats()
	t.Logf("trace mode: %.2f exits per access (%.2f per instruction stepped), %.2f accesses per exit-time; %d steps for %d accesses",
		float64(access)/float64(exit), float64(access)*float64(got)/float64(st.Steps)/float64(exit),
		float64(exit)/float64(access), st.Steps, got)
}
