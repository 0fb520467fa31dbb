package record

import (
	"testing"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
)

// TestPromoter follows one page through transitions and checks which
// reads are promoted to writes.
func TestPromoter(t *testing.T) {
	type step struct {
		actor int
		exits uint64
		kind  crew.Kind
		// write: the page's bytes change before this transition.
		write bool
		want  crew.Kind
	}
	r, w := crew.Read, crew.Write
	tests := []struct {
		name  string
		steps []step
	}{
		{"two pairs promote the third read", []step{
			{0, 1, r, false, r}, {0, 2, w, false, w},
			{1, 5, r, true, r}, {1, 6, w, false, w},
			{0, 9, r, true, w},
		}},
		{"a write long after the read is no pair", []step{
			{0, 1, r, false, r}, {0, 10, w, false, w},
			{1, 20, r, true, r}, {1, 30, w, false, w},
			{0, 40, r, true, r},
		}},
		{"a write by another actor is no pair", []step{
			{0, 1, r, false, r}, {1, 2, w, false, w},
			{0, 3, r, true, r}, {1, 4, w, false, w},
			{0, 5, r, true, r},
		}},
		{"an unused promotion takes the evidence away", []step{
			{0, 1, r, false, r}, {0, 2, w, false, w},
			{1, 5, r, true, r}, {1, 6, w, false, w},
			{0, 9, r, true, w},
			// vCPU 0 did not write: the page is unchanged when 1 reads.
			{1, 12, r, false, r},
			{0, 15, r, false, r},
		}},
		{"a used promotion keeps it", []step{
			{0, 1, r, false, r}, {0, 2, w, false, w},
			{1, 5, r, true, r}, {1, 6, w, false, w},
			{0, 9, r, true, w},
			{1, 12, r, true, w},
		}},
		{"fetches are never promoted", []step{
			{0, 1, r, false, r}, {0, 2, w, false, w},
			{1, 5, r, true, r}, {1, 6, w, false, w},
			{0, 9, crew.Fetch, true, crew.Fetch},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPromoter()
			page := make([]byte, 4096)
			for i, s := range tc.steps {
				if s.write {
					page[i]++
				}
				want := crewview.Want{Page: 7, Kind: s.kind}
				p.observe(want.Page, page)
				got := p.kind(want)
				if got != s.want {
					t.Fatalf("step %d (%d %v at %d): asked for %v, want %v", i, s.actor, s.kind, s.exits, got, s.want)
				}
				p.granted(s.actor, s.exits, want, got, page)
			}
		})
	}
}
