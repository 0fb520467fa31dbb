package crewview

import (
	"testing"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
)

func TestSeqPos(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   replaylog.Position
		want crew.Pos
		err  bool
	}{
		{"none", replaylog.Position{}, 0, false},
		{"exit", replaylog.ExitPos(7), ExitPos(7), false},
		{"state", replaylog.Position{Kind: replaylog.PosState, Exits: 7, Seq: 3}, StatePos(7, 3), false},
		{"state at seq 0", replaylog.Position{Kind: replaylog.PosState, Exits: 7}, 0, true},
		{"seq too large", replaylog.Position{Kind: replaylog.PosState, Exits: 7, Seq: 1 << SeqBits}, 0, true},
		{"exits too large", replaylog.ExitPos(1 << (64 - SeqBits)), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SeqPos(2, tc.at)
			if (err != nil) != tc.err {
				t.Fatalf("SeqPos(%v) error %v, want error %v", tc.at, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("SeqPos(%v) = %#x, want %#x", tc.at, got, tc.want)
			}
		})
	}
}

func TestPositionsOrder(t *testing.T) {
	// Every state position after exit n comes after it and before exit n+1.
	if !(ExitPos(5) < StatePos(5, 1) && StatePos(5, 1) < StatePos(5, 1<<SeqBits-1) && StatePos(5, 1<<SeqBits-1) < ExitPos(6)) {
		t.Fatal("positions are not ordered exit, its states, next exit")
	}
}

func TestAccessKinds(t *testing.T) {
	for _, k := range []crew.Kind{crew.Read, crew.Write, crew.Fetch} {
		if got := Kind(LogAccess(k)); got != k {
			t.Errorf("Kind(LogAccess(%v)) = %v", k, got)
		}
	}
}
