package record

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"

	"github.com/crewvm/crewvm/vmm/machine"
)

// HistBuckets is the number of buckets of a Hist: the last holds every
// duration of 2^(HistBuckets-2) µs (about 8 s) and more.
const HistBuckets = 25

// Hist is a histogram of durations in power-of-two microsecond buckets,
// with their count and total: cheap enough to fill on every transition,
// and enough to tell a few long waits from many short ones.
type Hist struct {
	N     uint64
	Total time.Duration
	// Buckets[0] counts durations under 1 µs; Buckets[i], for i > 0,
	// those in [2^(i-1), 2^i) µs.
	Buckets [HistBuckets]uint64
}

// Add counts one duration.
func (h *Hist) Add(d time.Duration) {
	h.N++
	h.Total += d
	us := uint64(max(d, 0) / time.Microsecond)
	h.Buckets[min(bits.Len64(us), HistBuckets-1)]++
}

// Merge adds o's counts to h.
func (h *Hist) Merge(o *Hist) {
	h.N += o.N
	h.Total += o.Total
	for i, n := range o.Buckets {
		h.Buckets[i] += n
	}
}

// Mean is the average duration (0 when empty).
func (h *Hist) Mean() time.Duration {
	if h.N == 0 {
		return 0
	}
	return h.Total / time.Duration(h.N)
}

// Quantile is the upper bound of the bucket that holds the q-th
// quantile (0 < q <= 1): an over-estimate by at most a factor of two.
func (h *Hist) Quantile(q float64) time.Duration {
	want := uint64(math.Ceil(q * float64(h.N)))
	var seen uint64
	for i, n := range h.Buckets {
		seen += n
		if n > 0 && seen >= want {
			return time.Duration(uint64(1)<<i) * time.Microsecond
		}
	}
	return 0
}

// String lists the non-empty buckets, "<1us:3 1-2us:5 ...".
func (h *Hist) String() string {
	var b strings.Builder
	for i, n := range h.Buckets {
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		switch {
		case i == 0:
			fmt.Fprintf(&b, "<1us:%d", n)
		case i == HistBuckets-1:
			fmt.Fprintf(&b, ">=%s:%d", bucketUnit(uint64(1)<<(i-1)), n)
		default:
			fmt.Fprintf(&b, "%s-%s:%d", bucketUnit(uint64(1)<<(i-1)), bucketUnit(uint64(1)<<i), n)
		}
	}
	return b.String()
}

// bucketUnit writes a bucket bound of us microseconds briefly.
func bucketUnit(us uint64) string {
	switch {
	case us >= 1<<20:
		return fmt.Sprintf("%ds", us>>20)
	case us >= 1<<10:
		return fmt.Sprintf("%dms", us>>10)
	}
	return fmt.Sprintf("%dus", us)
}

// Costs say where a recording's CREW time went (vmm record --stats):
// each part of a transition, timed where it happens. The waits for a
// holder are split by how it stopped, since waiting out a deadline and
// kicking cost differently and call for different cures.
type Costs struct {
	// Fault is a protection fault served, from the engine's first look
	// at it to the vCPU's return to the guest, its waits included.
	Fault Hist
	// Lock is a fault's or a DMA transfer's wait for the transition
	// lock that serialises the log's transitions.
	Lock Hist
	// Hold is the wait for each holder whose rights shrink, by how it
	// stopped: it was out of the guest already, it reached an exit of
	// its own within the deadline, or it was kicked (the kick's latency
	// and the holder's settling included).
	HeldOut, Deferred, Kicked Hist
	// Settle is a kicked holder's stepping onto an instruction replay
	// can seek (settle.go); SettleSteps counts its single-steps.
	Settle      Hist
	SettleSteps uint64
	// Hash is the hashing of a holder's owned pages for a state position.
	Hash Hist
	// Protect is each change of a vCPU's protections (mprotect).
	Protect Hist
}

// hold counts one holder's wait.
func (c *Costs) hold(how machine.Stopped, d time.Duration) {
	switch how {
	case machine.Kicked:
		c.Kicked.Add(d)
	case machine.LeftByItself:
		c.Deferred.Add(d)
	default:
		c.HeldOut.Add(d)
	}
}

// Rows names the histograms of c for a table, in a transition's order.
func (c *Costs) Rows() []CostRow {
	return []CostRow{
		{"fault served", &c.Fault},
		{"wait for the transition lock", &c.Lock},
		{"holder already out", &c.HeldOut},
		{"holder exited within the deadline", &c.Deferred},
		{"holder kicked (kick, settle)", &c.Kicked},
		{"settle", &c.Settle},
		{"hash owned pages", &c.Hash},
		{"mprotect", &c.Protect},
	}
}

// CostRow is one named histogram of Costs.
type CostRow struct {
	Name string
	Hist *Hist
}
