package replaylog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// VerifyResult is what Verify found.
type VerifyResult struct {
	// Whole is true when every block, the index trailer and the footer
	// checked out and nothing follows the footer.
	Whole       bool
	Blocks      int    // blocks whose payload verified
	Events      uint64 // events decoded
	Checkpoints int
	Pages       uint64 // stored checkpoint pages
	RawBytes    int64
	Duration    time.Duration // time of the last block, since recording started
	// Problems lists every problem found, in file order: *CorruptError,
	// *TruncatedError, or an I/O error.
	Problems []error
}

// maxProblems bounds the report of a badly damaged file.
const maxProblems = 100

// Verify reads the whole log independently of the event cursor: every
// block header and payload checksum, every event, every checkpoint record
// and its page references, the index trailer against the blocks actually
// present, and the footer. Unlike Next it does not stop at the first
// damaged block: it skips a block whose header is intact, and searches for
// the next block header after a damaged one, so the report lists all the
// damage.
func (r *Reader) Verify() *VerifyResult {
	v := &VerifyResult{}
	add := func(err error) {
		if len(v.Problems) < maxProblems {
			v.Problems = append(v.Problems, err)
		}
	}
	var (
		stored, raw []byte
		dec         eventDecoder
		ev          Event
		scanned     []byte // index entries of the blocks seen, to compare
		nscanned    uint32
		events      uint64
		pages       uint64
		cleanChain  = true // no block skipped by resynchronizing
		resynced    bool   // just skipped damaged bytes
	)
	off := r.dataStart
	for ord := 0; ; ord++ {
		f, err := r.readFrame(off, ord, events)
		if err != nil {
			add(err)
			if _, ok := err.(*CorruptError); !ok {
				return v
			}
			next, found, serr := r.findFrame(off + 1)
			if serr != nil {
				add(serr)
				return v
			}
			if !found {
				return v
			}
			add(&CorruptError{Block: ord, Offset: off, Events: events,
				Reason: fmt.Sprintf("skipped %d bytes to the next block header at offset %d", next-off, next)})
			cleanChain, resynced = false, true
			off = next
			continue
		}
		if f.typ == BlockIndex {
			r.verifyTrailer(v, &f, scanned, nscanned, cleanChain, &stored, &raw)
			v.Whole = len(v.Problems) == 0
			return v
		}
		if t := time.Duration(f.time); t > v.Duration {
			v.Duration = t
		}
		scanned = appendIndexEntry(scanned, &BlockInfo{Type: f.typ, First: f.first, Count: f.count,
			Stored: f.stored, Raw: f.raw, Time: time.Duration(f.time)})
		nscanned++
		off = f.end()
		// After skipping damaged bytes, blocks were lost: accept where the
		// next ones start rather than report the gap again.
		if !cleanChain && resynced {
			switch f.typ {
			case BlockEvents:
				events, resynced = f.first, false
			case BlockPages:
				pages = f.first
			}
		}
		payload, err := r.payload(&f, &stored, &raw, events)
		if err != nil {
			// The header is intact: its counts keep the checks of the
			// following blocks meaningful.
			add(err)
			switch f.typ {
			case BlockEvents:
				events = f.first + uint64(f.count)
			case BlockPages:
				pages = f.first + uint64(f.count)
			}
			continue
		}
		v.Blocks++
		v.RawBytes += int64(len(payload))
		switch f.typ {
		case BlockEvents:
			if f.first != events {
				add(r.corrupt(&f, events, fmt.Sprintf("block starts at event %d, expected %d", f.first, events)))
			}
			dec.reset(payload, r.hdr.Actors(), r.lenient)
			ok := true
			for k := uint32(0); k < f.count; k++ {
				if reason := dec.next(&ev); reason != "" {
					add(r.corrupt(&f, f.first, fmt.Sprintf("event %d: %s", f.first+uint64(k), reason)))
					ok = false
					break
				}
			}
			if ok && dec.c.more() {
				add(r.corrupt(&f, f.first, fmt.Sprintf("%d bytes after its last event", len(dec.c.b)-dec.c.i)))
				ok = false
			}
			if ok {
				v.Events += uint64(f.count)
			}
			events = f.first + uint64(f.count)
		case BlockPages:
			switch {
			case f.first != pages:
				add(r.corrupt(&f, events, fmt.Sprintf("page block starts at page %d, expected %d", f.first, pages)))
			case len(payload) != int(f.count)*PageBytes:
				add(r.corrupt(&f, events, fmt.Sprintf("page block of %d bytes for %d pages", len(payload), f.count)))
			}
			pages = f.first + uint64(f.count)
			v.Pages = pages
		case BlockCheckpoint:
			if f.first != events {
				add(r.corrupt(&f, events, fmt.Sprintf("checkpoint at event %d, expected %d", f.first, events)))
			}
			if _, err := parseCheckpointRecord(payload, r.hdr.VCPUs, r.hdr.MemSize/PageBytes, pages); err != nil {
				add(r.corrupt(&f, events, "checkpoint record: "+err.Error()))
			} else {
				v.Checkpoints++
			}
		}
	}
}

// verifyTrailer checks the index block f against the blocks scanned before
// it, and the footer after it.
func (r *Reader) verifyTrailer(v *VerifyResult, f *frame, scanned []byte, n uint32, clean bool, stored, raw *[]byte) {
	f.ordinal = BlockTrailer
	payload, err := r.payload(f, stored, raw, 0)
	if err != nil {
		v.Problems = append(v.Problems, err)
		return
	}
	if clean && (f.count != n || !bytes.Equal(payload, scanned)) {
		v.Problems = append(v.Problems, &CorruptError{Block: BlockTrailer, Offset: f.offset,
			Reason: fmt.Sprintf("index lists %d blocks that do not match the %d blocks in the file", f.count, n)})
	}
	end := f.end()
	if r.size-end < footerSize {
		v.Problems = append(v.Problems, &TruncatedError{Offset: end, Size: r.size, Events: v.Events,
			Detail: "the footer is incomplete"})
		return
	}
	var foot [footerSize]byte
	if _, err := r.ra.ReadAt(foot[:], end); err != nil {
		v.Problems = append(v.Problems, fmt.Errorf("read footer: %w", err))
		return
	}
	idx, reason := parseFooter(foot[:])
	if reason == "" && idx != f.offset {
		reason = fmt.Sprintf("footer points at offset %d, the index block is at %d", idx, f.offset)
	}
	if reason != "" {
		v.Problems = append(v.Problems, &CorruptError{Block: BlockTrailer, Offset: end, Reason: reason})
	}
	if extra := r.size - end - footerSize; extra > 0 {
		v.Problems = append(v.Problems, &CorruptError{Block: BlockTrailer, Offset: end + footerSize,
			Reason: fmt.Sprintf("%d unexpected bytes after the footer", extra)})
	}
}

// findFrame searches from off for the next offset holding a block header
// with a valid checksum.
func (r *Reader) findFrame(off int64) (int64, bool, error) {
	const chunk = 1 << 20
	buf := make([]byte, chunk+frameSize)
	var f frame
	for off+frameSize <= r.size {
		n := int(min(int64(len(buf)), r.size-off))
		if _, err := r.ra.ReadAt(buf[:n], off); err != nil {
			return 0, false, fmt.Errorf("read at offset %d: %w", off, err)
		}
		for i := 0; i+frameSize <= n; {
			j := bytes.Index(buf[i:n], []byte(frameMagic))
			if j < 0 || i+j+frameSize > n {
				break
			}
			i += j
			if f.parse(buf[i:i+frameSize]) == "" && binary.LittleEndian.Uint32(buf[i+40:]) == 0 {
				return off + int64(i), true, nil
			}
			i++
		}
		if n < len(buf) {
			break
		}
		off += chunk
	}
	return 0, false, nil
}
