package record

import (
	"testing"
	"time"
)

func TestHist(t *testing.T) {
	var h Hist
	for _, d := range []time.Duration{500 * time.Nanosecond, time.Microsecond, 3 * time.Microsecond, 3 * time.Microsecond, time.Millisecond, time.Hour} {
		h.Add(d)
	}
	if h.N != 6 || h.Buckets[0] != 1 || h.Buckets[1] != 1 || h.Buckets[2] != 2 || h.Buckets[10] != 1 || h.Buckets[HistBuckets-1] != 1 {
		t.Fatalf("buckets %v (n %d)", h.Buckets, h.N)
	}
	if got, want := h.String(), "<1us:1 1us-2us:1 2us-4us:2 512us-1ms:1 >=8s:1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.1, time.Microsecond}, {0.5, 4 * time.Microsecond}, {0.8, 1024 * time.Microsecond}, {1, time.Duration(1<<(HistBuckets-1)) * time.Microsecond}}
	for _, tc := range tests {
		if got := h.Quantile(tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	var sum Hist
	sum.Merge(&h)
	sum.Merge(&h)
	if sum.N != 12 || sum.Total != 2*h.Total || sum.Buckets[2] != 4 {
		t.Errorf("merged %+v", sum)
	}
	if (&Hist{}).Mean() != 0 || (&Hist{}).Quantile(0.5) != 0 {
		t.Error("an empty histogram has a mean or a quantile")
	}
}
