package crew_test

import (
	"fmt"

	"github.com/crewvm/crewvm/crew"
)

// The recorder's side of a fault: Plan says whom to stop, the VMM stops
// them (at their next exit, or by a kick) and notes where, Access commits
// the transition, the VMM changes protections in the order given and logs
// the constraints.
func Example() {
	// Two vCPUs (actors 0 and 1) and the DMA actor (2) over 1 MiB of RAM.
	s, err := crew.ForMemory(3, 1<<20, 4096)
	if err != nil {
		panic(err)
	}
	at := []crew.Pos{0, 0, 0} // where each actor stands: its exit count
	page, _ := s.PageOf(0x5008)

	// vCPU 0 faults writing the page at its exit 3. vCPU 1's reads up
	// to where it stops must come first; the DMA actor at 0 has done
	// nothing, so it needs no constraint.
	at[0] = 3
	plan, _ := s.Plan(0, page, crew.Write)
	fmt.Println("stop:", plan.Reduce)
	at[1] = 2 // vCPU 1 reached its exit 2; the DMA actor is idle at 0
	t, _ := s.Access(0, page, crew.Write, at[0], at)
	fmt.Println(t)

	// vCPU 1 reads it at its exit 5; vCPU 0 is stopped at its exit 7.
	at[0], at[1] = 7, 5
	t, _ = s.Access(1, page, crew.Read, at[1], at)
	fmt.Println(t)

	// The DMA actor takes two pages for a transfer at its position 1.
	// 1@5 was ordered after 0@7, so 0@7 -> 2@1 is implied and not logged;
	// the second page needs nothing new.
	at[2] = 1
	ts, _ := s.AccessRange(2, page, 2, crew.Write, at[2], at)
	for _, t := range ts {
		fmt.Println(t)
	}
	fmt.Printf("%+v\n", s.Stats())
	// Output:
	// stop: [actor 1 page 5 r->none actor 2 page 5 r->none]
	// write by 0@3 on page 5: reduce 1 r->none; reduce 2 r->none; grant r->rw; 1@2 -> 0@3
	// read by 1@5 on page 5: reduce 0 rw->r; grant none->r; 0@7 -> 1@5
	// write by 2@1 on page 5: reduce 0 r->none; reduce 1 r->none; grant none->rw; 1@5 -> 2@1
	// write by 2@1 on page 6: reduce 0 r->none; reduce 1 r->none; grant r->rw
	// {Transitions:4 Reductions:7 Constraints:3 Elided:5}
}
