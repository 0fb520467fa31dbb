package x86

import (
	"errors"

	"golang.org/x/arch/x86/x86asm"
)

// maxInstLen is the architectural limit on an instruction's length.
const maxInstLen = 15

// fetchAndDecode fetches the instruction at RIP through the page tables,
// up to 15 bytes over at most two virtual pages translated separately,
// decodes it and adds a fetch access for each physical page its bytes
// occupy. ok is false when the fetch itself faults (the fault is in
// Faults and nothing more can be said).
func (a *analysis) fetchAndDecode() (dec decoded, ok bool, err error) {
	rip := a.cpu.RIP
	w1, err1 := walkPage(a.mem, a.cpu, rip, KindFetch, false)
	a.entries(w1)
	n1 := min(maxInstLen, page4K-rip&page4KMask)
	code := make([]byte, maxInstLen)
	if err1 != nil || !a.mem.ReadPhys(w1.gpa, code[:n1]) {
		a.fault(rip)
		return dec, false, nil
	}
	have := n1
	va2 := rip + n1
	var w2 walkResult
	second := false // the second page translated and read
	if n1 < maxInstLen {
		var err2 error
		w2, err2 = walkPage(a.mem, a.cpu, va2, KindFetch, false)
		second = err2 == nil && a.mem.ReadPhys(w2.gpa, code[n1:])
		if second {
			have = maxInstLen
		}
	}
	code = code[:have]
	dec, err = decodeInst(code, a.cpu)
	if err != nil && !second && n1 < maxInstLen && isTruncated(code) {
		// The instruction goes on into a page the guest cannot fetch.
		a.fetched(w1.gpa, rip, n1)
		a.entries(w2)
		a.fault(va2)
		return dec, false, nil
	}
	n := uint64(dec.length)
	if n == 0 {
		n = uint64(have) // unknown length: every byte that may belong to it
		a.fp.Approximate = true
	}
	a.fp.Inst, a.fp.Len, a.fp.Code = dec.inst, int(n), code[:n]
	a.fetched(w1.gpa, rip, min(n, n1))
	if n > n1 {
		a.entries(w2)
		a.fetched(w2.gpa, va2, n-n1)
	}
	return dec, err == nil, err
}

func (a *analysis) fetched(gpa, va, n uint64) {
	a.add(Access{GPA: gpa, Size: n, Kind: KindFetch, Linear: va})
}

// truncated reports whether code is the start of a longer instruction.
func isTruncated(code []byte) bool {
	_, err := parseRaw(code)
	_, xerr := x86Decode(code)
	return errors.Is(err, errTruncated) || errors.Is(xerr, x86asm.ErrTruncated)
}
