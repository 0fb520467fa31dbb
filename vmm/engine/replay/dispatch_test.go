package replay

import (
	"strings"
	"testing"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
)

// The dispatcher turns log events into per-vCPU queue items; it is pure
// (crew's state machine and the log), so these tests need no KVM.

const testPages = 16

func newDispatcher(t *testing.T, cpus int) *Engine {
	t.Helper()
	e := &Engine{cpus: cpus, actors: cpus, names: crewview.NewNames(cpus)}
	if cpus > 1 {
		st, err := crew.ForMemory(cpus, testPages*4096, 4096)
		if err != nil {
			t.Fatal(err)
		}
		e.st = st
	}
	return e
}

// recorded is what the recorder logs for vCPU v's access of kind k to
// page at exit, the holders standing at the positions in at: crew on a
// state of its own, as the record engine runs it.
func recorded(t *testing.T, st *crew.State, v, page int, k crew.Kind, exit uint64, at []crew.Pos) replaylog.Event {
	t.Helper()
	tr, err := st.Access(v, page, k, crewview.ExitPos(exit), at)
	if err != nil {
		t.Fatal(err)
	}
	var cons []replaylog.Constraint
	for _, c := range tr.Constraints {
		cons = append(cons, replaylog.Constraint{VCPU: uint32(c.Before.Actor), Pos: replaylog.ExitPos(uint64(c.Before.Pos) >> crewview.SeqBits)})
	}
	state := replaylog.PageShared
	if tr.Grant.To == crew.ReadWrite {
		state = replaylog.PageExclusive
	}
	return replaylog.CREW(uint32(v), replaylog.ExitPos(exit), uint64(page), crewview.LogAccess(k), state, cons)
}

// race is a write of page 3 by vCPU 1 at its exit 2, then a read of it
// by vCPU 0 at its exit 5 while vCPU 1 stands at exit 4: the read must
// come after vCPU 1's exit 4, and vCPU 1 keeps a read right.
func race(t *testing.T) (write, read replaylog.Event) {
	rec, err := crew.ForMemory(2, testPages*4096, 4096)
	if err != nil {
		t.Fatal(err)
	}
	write = recorded(t, rec, 1, 3, crew.Write, 2, []crew.Pos{0, 0})
	read = recorded(t, rec, 0, 3, crew.Read, 5, []crew.Pos{0, crewview.ExitPos(4)})
	write.Index, read.Index = 0, 1
	if len(read.Constraints) != 1 {
		t.Fatalf("crew orders the read after %v, want one ordering", read.Constraints)
	}
	return write, read
}

func TestDispatchCREW(t *testing.T) {
	e := newDispatcher(t, 2)
	write, read := race(t)
	if _, err := e.items(&write); err != nil {
		t.Fatal(err)
	}
	items, err := e.items(&read)
	if err != nil {
		t.Fatal(err)
	}
	own, red := items[0], items[1]
	if len(own) != 1 || len(red) != 1 {
		t.Fatalf("items %v, want one for each vCPU", items)
	}
	if o := own[0]; o.ev == nil || o.pos != crewview.ExitPos(5) || o.page != 3 || o.rights != crew.ReadOnly || o.t == nil || o.t.pending != 1 {
		t.Errorf("own item %+v: want vCPU 0's read of page 3 at exit 5, one reduction pending", o)
	}
	if r := red[0]; r.ev != nil || r.pos != crewview.ExitPos(4) || r.page != 3 || r.rights != crew.ReadOnly || r.t != own[0].t || r.idx != 1 {
		t.Errorf("reduction %+v: want vCPU 1 down to read-only on page 3 at exit 4, of event 1", r)
	}
	if w := own[0].waits; len(w) != 1 || w[0].VCPU != 1 || w[0].Pos != replaylog.ExitPos(4) {
		t.Errorf("own item waits for %v, want vCPU 1 at exit 4", w)
	}
}

func TestDispatchErrors(t *testing.T) {
	write, good := race(t)
	for _, tc := range []struct {
		name string
		cpus int
		ev   func() replaylog.Event
		want string
	}{
		{"no vCPU", 2, func() replaylog.Event { return replaylog.Clock(replaylog.NoVCPU, 1) }, "without a vCPU"},
		{"vCPU out of range", 2, func() replaylog.Event { return replaylog.Clock(5, 1) }, "without a vCPU"},
		{"CREW with one vCPU", 1, func() replaylog.Event { return good }, "one-vCPU log"},
		{"CREW at a state position", 2, func() replaylog.Event {
			ev := good
			ev.Pos = replaylog.Position{Kind: replaylog.PosState, Exits: 5, Seq: 1}
			return ev
		}, "always at an exit"},
		{"page outside RAM", 2, func() replaylog.Event {
			ev := good
			ev.Page = testPages
			return ev
		}, "outside RAM"},
		{"ordering dropped", 2, func() replaylog.Event {
			ev := good
			ev.Constraints = nil
			return ev
		}, "the CREW protocol after"},
		{"ordering added", 2, func() replaylog.Event {
			ev := good
			ev.Constraints = append([]replaylog.Constraint{{VCPU: 0, Pos: replaylog.ExitPos(1)}}, good.Constraints...)
			return ev
		}, "the CREW protocol after"},
		{"wrong page state", 2, func() replaylog.Event {
			ev := good
			ev.State = replaylog.PageExclusive
			return ev
		}, "the page went"},
		{"transfer of a vCPU", 2, func() replaylog.Event {
			return replaylog.DMA(0, 0, 1, nil)
		}, "a transfer of a vCPU"},
		{"mmio read without a disk", 2, func() replaylog.Event {
			ev := replaylog.MMIORead(0, 0xd0000000, []byte{1, 0, 0, 0})
			ev.Pos = replaylog.ExitPos(1)
			return ev
		}, "without a disk"},
		{"device event", 2, func() replaylog.Event {
			return replaylog.PortIn(0, 0x60, 1, 0)
		}, "no device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDispatcher(t, tc.cpus)
			if tc.cpus > 1 {
				if _, err := e.items(&write); err != nil {
					t.Fatal(err)
				}
			}
			ev := tc.ev()
			_, err := e.items(&ev)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("items(%s) = %v, want an error with %q", ev.String(), err, tc.want)
			}
		})
	}
}
