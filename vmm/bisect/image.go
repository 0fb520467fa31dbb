package bisect

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/crewvm/crewvm/vmm/abi"
)

// pageSize is the unit in which the two images are compared.
const pageSize = 4096

// imageDiff returns the guest-physical pages, in address order, where
// the two images load different bytes, and the candidate's pages. Step 1 leaves them out of the
// memory it compares: they differ from the first instruction on, and
// what matters is where an execution first does something different
// with them.
func imageDiff(a, b []byte, memSize uint64, cpus int) ([]span, map[uint64][]byte, error) {
	pa, err := imagePages(a, memSize, cpus)
	if err != nil {
		return nil, nil, fmt.Errorf("the recording's guest image: %w", err)
	}
	pb, err := imagePages(b, memSize, cpus)
	if err != nil {
		return nil, nil, fmt.Errorf("the candidate guest image: %w", err)
	}
	var out []span
	add := func(p uint64) {
		if n := len(out); n > 0 && out[n-1].hi == p {
			out[n-1].hi += pageSize
			return
		}
		out = append(out, span{p, p + pageSize})
	}
	zero := make([]byte, pageSize)
	seen := map[uint64]bool{}
	var pages []uint64
	for _, m := range []map[uint64][]byte{pa, pb} {
		for p := range m {
			if !seen[p] {
				seen[p] = true
				pages = append(pages, p)
			}
		}
	}
	slices.Sort(pages)
	for _, p := range pages {
		x, y := pa[p], pb[p]
		if x == nil {
			x = zero
		}
		if y == nil {
			y = zero
		}
		if !bytes.Equal(x, y) {
			add(p)
		}
	}
	return out, pb, nil
}

// imagePages lays an image's segments out in pages, as the loader does.
func imagePages(data []byte, memSize uint64, cpus int) (map[uint64][]byte, error) {
	img, err := abi.ParseImage(data, memSize, cpus)
	if err != nil {
		return nil, err
	}
	pages := map[uint64][]byte{}
	for _, s := range img.Segments {
		for a := s.Addr &^ (pageSize - 1); a < s.Addr+s.MemSize; a += pageSize {
			pg := pages[a]
			if pg == nil {
				pg = make([]byte, pageSize)
				pages[a] = pg
			}
			for i := range uint64(pageSize) {
				off := a + i - s.Addr
				if a+i >= s.Addr && off < uint64(len(s.Data)) {
					pg[i] = s.Data[off]
				}
			}
		}
	}
	return pages, nil
}

// span is the guest-physical range [lo, hi).
type span struct{ lo, hi uint64 }

// without returns r less the spans of mask (both in address order).
func without(r span, mask []span) []span {
	var out []span
	lo := r.lo
	for _, m := range mask {
		if m.hi <= lo || m.lo >= r.hi {
			continue
		}
		if m.lo > lo {
			out = append(out, span{lo, m.lo})
		}
		lo = max(lo, m.hi)
	}
	if lo < r.hi {
		out = append(out, span{lo, r.hi})
	}
	return out
}

// masked says whether addr lies in one of mask's spans.
func masked(mask []span, addr uint64) bool {
	for _, m := range mask {
		if addr >= m.lo && addr < m.hi {
			return true
		}
	}
	return false
}
