package record

import (
	"github.com/zeebo/xxh3"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
)

// Read-then-write promotion, after Scribe: a vCPU that reads a page it
// lacks and then writes it costs two transitions, and the second stops
// the page's other readers again, often a holder still running in the
// guest (pingpong's turn, a lock word, a bucket count). Where a page has
// shown that pattern, a read fault on it is granted the write at once.
// The log says what was granted (a write), and replay accepts a logged
// write for a read it decodes (replay's fault.go), so replay needs
// nothing else. A promotion the vCPU did not use (the page unchanged
// when it next changes hands) counts against the page, so read-shared
// pages go back to Concurrent-Read.

// A page is promoted once it has shown promoteAt read-then-write pairs
// more than unused promotions; an unused promotion takes its evidence
// away, so a page read by several vCPUs is not promoted again until it
// shows the pattern twice more. maxPromoteScore bounds the evidence.
const (
	promoteAt       = 2
	maxPromoteScore = 3
	pairWithin      = 2
)

// promoter is the pages' history. Called with the engine's e.mu held.
type promoter struct {
	pages map[int]*pageHistory
	// Promoted counts the reads granted as writes; Unused those found
	// unused.
	Promoted, Unused uint64
}

// pageHistory is what the latest transition on one page was.
type pageHistory struct {
	// reader is the actor whose plain read transition was the page's
	// latest, at its exit readAt; or -1.
	reader int
	readAt uint64
	// promoted: the latest transition was a promoted read, while the
	// page hashed to sum.
	promoted bool
	sum      uint64
	// score is the read-then-write pairs seen, less unused promotions.
	score int
}

func newPromoter() *promoter { return &promoter{pages: map[int]*pageHistory{}} }

// observe is told of every transition on page, before it: a promoted
// read the page's next transition finds unchanged was not needed.
func (p *promoter) observe(page int, bytes []byte) {
	h := p.pages[page]
	if h == nil || !h.promoted {
		return
	}
	h.promoted = false
	if xxh3.Hash(bytes) == h.sum {
		p.Unused++
		h.score = 0
	}
}

// kind is the access to ask crew for on behalf of a vCPU's want w: a
// write where w is a read of a page with a read-then-write history.
func (p *promoter) kind(w crewview.Want) crew.Kind {
	if h := p.pages[w.Page]; w.Kind == crew.Read && h != nil && h.score >= promoteAt {
		return crew.Write
	}
	return w.Kind
}

// granted records actor's transition for want at its exit exits,
// granted as kind; bytes are the page's. Only a write soon after the read
// (within pairWithin exits of it: the next instructions, not the next
// phase of the computation) makes a pair.
func (p *promoter) granted(actor int, exits uint64, want crewview.Want, kind crew.Kind, bytes []byte) {
	h := p.pages[want.Page]
	if h == nil {
		h = &pageHistory{reader: -1}
		p.pages[want.Page] = h
	}
	switch {
	case kind != want.Kind:
		p.Promoted++
		h.reader, h.promoted, h.sum = -1, true, xxh3.Hash(bytes)
	case want.Kind == crew.Write:
		if h.reader == actor && exits <= h.readAt+pairWithin {
			h.score = min(h.score+1, maxPromoteScore)
		}
		h.reader = -1
	case want.Kind == crew.Read:
		h.reader, h.readAt = actor, exits
	default:
		h.reader = -1
	}
}
