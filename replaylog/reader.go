package replaylog

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Reader reads a log: its header, its events in order, its checkpoints.
// A Reader is not safe for concurrent use.
type Reader struct {
	ra        io.ReaderAt
	size      int64
	file      *os.File
	hdr       Header
	dataStart int64
	lenient   bool
	zd        *zstd.Decoder

	// Sequential cursor.
	off       int64  // next frame
	ordinal   int    // its block number
	nextEvent uint64 // index of the next event
	left      uint32 // events left in the current block
	cur       frame  // the current events block
	dec       eventDecoder
	ev        Event
	err       error // sticky: io.EOF, *TruncatedError, *CorruptError
	stored    []byte
	raw       []byte

	// Index, built on first use.
	indexed  bool
	blocks   []BlockInfo
	indexErr error // why the index is incomplete, nil when whole
}

// Open opens the log at path and checks its header.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open replay log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open replay log: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("open replay log %s: is a directory", path)
	}
	r, err := NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.file = f
	return r, nil
}

// NewReader reads a log of size bytes from ra (a bytes.Reader in tests).
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) {
	r := &Reader{ra: ra, size: size}
	if err := r.readHeader(); err != nil {
		return nil, err
	}
	r.rewind()
	return r, nil
}

// Close releases the reader and closes the file opened by Open.
func (r *Reader) Close() error {
	if r.zd != nil {
		r.zd.Close()
		r.zd = nil
	}
	if r.file != nil {
		err := r.file.Close()
		r.file = nil
		return err
	}
	return nil
}

func (r *Reader) readHeader() error {
	if r.size == 0 {
		return fmt.Errorf("empty file: %w", ErrNotLog)
	}
	var fixed [headerFixed]byte
	n, err := r.ra.ReadAt(fixed[:min(int64(headerFixed), r.size)], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read header: %w", err)
	}
	m := min(n, len(Magic))
	if string(fixed[:m]) != Magic[:m] {
		return fmt.Errorf("%w: it starts with %q, a log starts with %q", ErrNotLog, fixed[:min(n, 8)], Magic)
	}
	if n < headerFixed {
		return &TruncatedError{Size: r.size, InHeader: true, Detail: fmt.Sprintf("%d of at least %d bytes", n, headerFixed)}
	}
	h := &r.hdr
	h.Major = binary.LittleEndian.Uint16(fixed[8:])
	h.Minor = binary.LittleEndian.Uint16(fixed[10:])
	if h.Major != FormatMajor {
		return &VersionError{Major: h.Major, Minor: h.Minor}
	}
	bodyLen := binary.LittleEndian.Uint32(fixed[12:])
	if bodyLen > maxHeaderBody {
		return &CorruptError{Block: BlockHeader, Reason: fmt.Sprintf("header length %d exceeds %d", bodyLen, maxHeaderBody)}
	}
	total := int64(headerFixed) + int64(bodyLen) + 4
	if r.size < total {
		return &TruncatedError{Size: r.size, InHeader: true, Detail: fmt.Sprintf("%d of %d bytes", r.size, total)}
	}
	buf := make([]byte, total)
	if _, err := r.ra.ReadAt(buf, 0); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	if want, got := binary.LittleEndian.Uint32(buf[total-4:]), crc32c(buf[:total-4]); want != got {
		return &CorruptError{Block: BlockHeader, Reason: fmt.Sprintf("checksum mismatch (stored %08x, computed %08x)", want, got)}
	}
	if err := parseHeaderBody(h, buf[headerFixed:total-4]); err != nil {
		return &CorruptError{Block: BlockHeader, Reason: err.Error()}
	}
	if err := h.validate(); err != nil {
		return &CorruptError{Block: BlockHeader, Reason: err.Error()}
	}
	r.dataStart = total
	r.lenient = h.Minor > FormatMinor
	return nil
}

// Header returns the log's header.
func (r *Reader) Header() Header { return r.hdr }

// Size returns the size of the log in bytes.
func (r *Reader) Size() int64 { return r.size }

// rewind moves the cursor to the first event.
func (r *Reader) rewind() {
	r.setCursor(r.dataStart, 0, 0)
}

func (r *Reader) setCursor(off int64, ordinal int, event uint64) {
	r.off, r.ordinal, r.nextEvent = off, ordinal, event
	r.left = 0
	r.cur.count = 0
	r.err = nil
}

// Next returns the next event. The Event and its slices belong to the
// Reader and are valid until the next call (Clone to keep one); decoding
// allocates nothing except the Name of region and label events.
//
// At the end of a whole log Next returns io.EOF. A log cut short returns
// every event of its whole blocks and then a *TruncatedError; a block that
// fails its checksum returns a *CorruptError before any of its events.
// Errors are sticky.
func (r *Reader) Next() (*Event, error) {
	if r.left == 0 {
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
	if reason := r.dec.next(&r.ev); reason != "" {
		r.left = 0
		r.err = r.corrupt(&r.cur, r.cur.first, fmt.Sprintf("event %d: %s", r.nextEvent, reason))
		return nil, r.err
	}
	r.ev.Index = r.nextEvent
	r.nextEvent++
	r.left--
	return &r.ev, nil
}

// fill loads the next events block once the current one is used up.
func (r *Reader) fill() error {
	for r.left == 0 {
		if r.err != nil {
			return r.err
		}
		if r.cur.count > 0 && r.dec.c.more() {
			r.err = r.corrupt(&r.cur, r.cur.first, fmt.Sprintf("%d bytes after its last event", len(r.dec.c.b)-r.dec.c.i))
			return r.err
		}
		if err := r.advance(); err != nil {
			r.err = err
			return err
		}
	}
	return nil
}

// Events returns the number of events delivered or skipped so far, i.e.
// the index of the next event.
func (r *Reader) Events() uint64 { return r.nextEvent }

func (r *Reader) corrupt(f *frame, events uint64, reason string) *CorruptError {
	return &CorruptError{Block: f.ordinal, Offset: f.offset, Events: events, Reason: reason}
}

// advance loads the next events block, skipping other block types.
func (r *Reader) advance() error {
	r.cur.count = 0
	for {
		f, err := r.readFrame(r.off, r.ordinal, r.nextEvent)
		if err != nil {
			return err
		}
		switch f.typ {
		case BlockIndex:
			// The index is the end. It is not decoded here (Verify does),
			// but a log whose footer is missing was not closed properly.
			if r.size-f.end() < footerSize {
				return &TruncatedError{Offset: f.end(), Size: r.size, Events: r.nextEvent,
					Detail: "the footer after the index is incomplete"}
			}
			return io.EOF
		case BlockEvents:
			if f.first != r.nextEvent {
				return r.corrupt(&f, r.nextEvent, fmt.Sprintf("block starts at event %d, expected %d", f.first, r.nextEvent))
			}
			payload, err := r.payload(&f, &r.stored, &r.raw, r.nextEvent)
			if err != nil {
				return err
			}
			r.dec.reset(payload, r.hdr.Actors(), r.lenient)
			r.cur = f
			r.left = f.count
		}
		r.off = f.end()
		r.ordinal++
		if r.left > 0 {
			return nil
		}
	}
}

// readFrame reads and checks the frame header at off.
func (r *Reader) readFrame(off int64, ordinal int, events uint64) (frame, error) {
	f := frame{offset: off, ordinal: ordinal}
	switch rest := r.size - off; {
	case rest == 0:
		return f, &TruncatedError{Offset: off, Size: r.size, Events: events,
			Detail: "the log ends without its index trailer (the recorder did not finish)"}
	case rest < frameSize:
		return f, &TruncatedError{Offset: off, Size: r.size, Events: events,
			Detail: fmt.Sprintf("the last %d bytes are an incomplete block header", rest)}
	}
	var b [frameSize]byte
	if _, err := r.ra.ReadAt(b[:], off); err != nil {
		return f, fmt.Errorf("read block %d at offset %d: %w", ordinal, off, err)
	}
	if reason := f.parse(b[:]); reason != "" {
		return f, r.corrupt(&f, events, reason)
	}
	if f.end() > r.size {
		return f, &TruncatedError{Offset: off, Size: r.size, Events: events,
			Detail: fmt.Sprintf("block %d at offset %d needs %d bytes, %d present", ordinal, off, frameSize+int64(f.stored), r.size-off)}
	}
	return f, nil
}

// payload reads, checks and decompresses a block's payload into the given
// buffers, returning the raw bytes.
func (r *Reader) payload(f *frame, stored, raw *[]byte, events uint64) ([]byte, error) {
	s := grow(*stored, int(f.stored))
	*stored = s
	if _, err := r.ra.ReadAt(s, f.offset+frameSize); err != nil {
		return nil, fmt.Errorf("read block %d at offset %d: %w", f.ordinal, f.offset, err)
	}
	if got := crc32c(s); got != f.sum {
		return nil, r.corrupt(f, events, fmt.Sprintf("payload checksum mismatch (stored %08x, computed %08x)", f.sum, got))
	}
	if f.codec == codecRaw {
		return s, nil
	}
	if r.zd == nil {
		// Created on first use: a log of raw blocks (or a fuzz input
		// rejected early) never pays for a decoder.
		zd, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(MaxBlock),
			zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			return nil, fmt.Errorf("zstd decoder: %w", err)
		}
		r.zd = zd
	}
	d := grow(*raw, int(f.raw))[:0]
	out, err := r.zd.DecodeAll(s, d)
	if err != nil {
		return nil, r.corrupt(f, events, fmt.Sprintf("decompression failed: %v", err))
	}
	if len(out) != int(f.raw) {
		return nil, r.corrupt(f, events, fmt.Sprintf("decompressed to %d bytes, header says %d", len(out), f.raw))
	}
	*raw = out
	return out, nil
}

// grow returns b resized to n bytes, reallocating only when it is too small.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// Blocks returns every whole block of the log in file order. It uses the
// index trailer when the log has a valid one and otherwise scans the block
// headers. The error is nil when the log is whole; otherwise it says why
// the list may be incomplete (a *TruncatedError, a *CorruptError), and the
// list still holds every block found.
func (r *Reader) Blocks() ([]BlockInfo, error) {
	r.buildIndex()
	return r.blocks, r.indexErr
}

// CheckpointBefore returns the checkpoint (see Checkpoints) to start
// from to reach event: of those after which replay continues at or
// before it, one with the latest such event, and of several with that
// event the first, which no instruction of the run between them is
// before; false when there is none.
func (r *Reader) CheckpointBefore(event uint64) (int, bool) {
	i, at := -1, uint64(0)
	for _, cp := range r.Checkpoints() {
		if cp.Event <= event && (i < 0 || cp.Event > at) {
			i, at = cp.Number, cp.Event
		}
	}
	return i, i >= 0
}

// Checkpoints lists the checkpoints in whole blocks, in order. A truncated
// or damaged log still lists every checkpoint before the damage (and those
// after a block whose payload alone is damaged); see Blocks for why a list
// may be incomplete.
func (r *Reader) Checkpoints() []CheckpointInfo {
	r.buildIndex()
	var cps []CheckpointInfo
	for _, b := range r.blocks {
		if b.Type == BlockCheckpoint {
			cps = append(cps, CheckpointInfo{Number: len(cps), Event: b.First, Block: b.Ordinal, Offset: b.Offset, Time: b.Time})
		}
	}
	return cps
}

func (r *Reader) buildIndex() {
	if r.indexed {
		return
	}
	r.indexed = true
	if blocks, err := r.readTrailer(); err == nil {
		r.blocks = blocks
		return
	}
	r.blocks, r.indexErr = r.scanFrames()
}

// readTrailer reads the footer and the index block it points to and checks
// that the index describes a gapless sequence of blocks.
func (r *Reader) readTrailer() ([]BlockInfo, error) {
	if r.size < r.dataStart+frameSize+footerSize {
		return nil, errors.New("no room for a trailer")
	}
	var foot [footerSize]byte
	footOff := r.size - footerSize
	if _, err := r.ra.ReadAt(foot[:], footOff); err != nil {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	idxOff, reason := parseFooter(foot[:])
	if reason != "" {
		return nil, &CorruptError{Block: BlockTrailer, Offset: footOff, Reason: reason}
	}
	if idxOff < r.dataStart || idxOff > footOff-frameSize {
		return nil, &CorruptError{Block: BlockTrailer, Offset: footOff, Reason: fmt.Sprintf("index offset %d out of range", idxOff)}
	}
	f, err := r.readFrame(idxOff, BlockTrailer, 0)
	if err != nil {
		return nil, err
	}
	if f.typ != BlockIndex || f.end() != footOff {
		return nil, &CorruptError{Block: BlockTrailer, Offset: idxOff, Reason: "footer does not point at the index block"}
	}
	var stored, raw []byte
	payload, err := r.payload(&f, &stored, &raw, 0)
	if err != nil {
		return nil, err
	}
	blocks, reason := parseIndex(payload, f.count, r.dataStart, idxOff)
	if reason != "" {
		return nil, &CorruptError{Block: BlockTrailer, Offset: idxOff, Reason: reason}
	}
	return blocks, nil
}

// parseIndex decodes index entries, which must tile [start, end) exactly.
func parseIndex(p []byte, count uint32, start, end int64) ([]BlockInfo, string) {
	c := cursor{b: p}
	if uint64(count) > uint64(len(p))/6 {
		return nil, fmt.Sprintf("%d entries in %d bytes", count, len(p))
	}
	blocks := make([]BlockInfo, 0, count)
	off := start
	for i := 0; i < int(count); i++ {
		b := BlockInfo{Ordinal: i, Offset: off, Type: BlockType(c.byte1())}
		b.First = c.uvarint()
		cnt, stored, raw, t := c.uvarint(), c.uvarint(), c.uvarint(), c.uvarint()
		if c.bad {
			return nil, "index too short"
		}
		if cnt > 1<<32-1 || stored > MaxBlock || raw > MaxBlock || t > 1<<63-1 {
			return nil, fmt.Sprintf("bad index entry %d", i)
		}
		b.Count, b.Stored, b.Raw, b.Time = uint32(cnt), uint32(stored), uint32(raw), time.Duration(t)
		off = b.End()
		if off > end {
			return nil, fmt.Sprintf("index entry %d runs past the index", i)
		}
		blocks = append(blocks, b)
	}
	if c.more() {
		return nil, "trailing bytes in the index"
	}
	if off != end {
		return nil, fmt.Sprintf("index covers up to byte %d, the index block is at %d", off, end)
	}
	return blocks, ""
}

// scanFrames walks the block headers from the start, without reading
// payloads. It stops at the index block, at the end of the file or at a
// damaged header.
func (r *Reader) scanFrames() ([]BlockInfo, error) {
	var blocks []BlockInfo
	off := r.dataStart
	var events uint64
	for ord := 0; ; ord++ {
		f, err := r.readFrame(off, ord, events)
		if err != nil {
			return blocks, err
		}
		if f.typ == BlockIndex {
			// The trailer is present but did not check out.
			return blocks, &CorruptError{Block: BlockTrailer, Offset: off, Reason: "index trailer unreadable"}
		}
		blocks = append(blocks, BlockInfo{Ordinal: ord, Offset: off, Type: f.typ, First: f.first, Count: f.count,
			Stored: f.stored, Raw: f.raw, Time: time.Duration(f.time)})
		if f.typ == BlockEvents {
			events = f.first + uint64(f.count)
		}
		off = f.end()
	}
}

// SeekEvent positions the reader so that Next returns the event with index
// n, decoding from the start of the block that holds it. It returns io.EOF
// when the log has no such event, or the error that ends the log before it.
func (r *Reader) SeekEvent(n uint64) error {
	r.buildIndex()
	r.rewind()
	// Start from the last events block that starts at or before n.
	for j := len(r.blocks) - 1; j >= 0; j-- {
		if b := &r.blocks[j]; b.Type == BlockEvents && b.First <= n {
			r.setCursor(b.Offset, b.Ordinal, b.First)
			break
		}
	}
	for r.nextEvent < n {
		if _, err := r.Next(); err != nil {
			return err
		}
	}
	// Make sure event n exists, so that a seek past the end fails here.
	if r.left == 0 {
		if err := r.fill(); err != nil {
			return err
		}
	}
	return nil
}

// ReadCheckpoint loads checkpoint i (see Checkpoints) with its memory,
// without moving the event cursor.
func (r *Reader) ReadCheckpoint(i int) (*Checkpoint, error) {
	cp, rec, pageBlocks, err := r.openCheckpoint(i)
	if err != nil {
		return nil, err
	}
	// Merge adjacent runs into regions and allocate each region once.
	var sizes []uint64
	for _, run := range rec.runs {
		n := len(cp.Memory)
		if n > 0 && cp.Memory[n-1].GPA+sizes[n-1] == run.gpa {
			sizes[n-1] += run.count * PageBytes
			continue
		}
		cp.Memory = append(cp.Memory, MemRegion{GPA: run.gpa})
		sizes = append(sizes, run.count*PageBytes)
	}
	for i := range cp.Memory {
		cp.Memory[i].Data = make([]byte, sizes[i])
	}
	err = r.walkPages(cp, rec, pageBlocks, func(gpa uint64, page []byte) {
		j, _ := slices.BinarySearchFunc(cp.Memory, gpa, func(m MemRegion, a uint64) int { return cmp.Compare(m.GPA, a) })
		if j == len(cp.Memory) || cp.Memory[j].GPA != gpa {
			j--
		}
		m := &cp.Memory[j]
		copy(m.Data[gpa-m.GPA:], page)
	})
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// openCheckpoint reads checkpoint i's record: everything but the pages,
// with the page blocks stored before it.
func (r *Reader) openCheckpoint(i int) (*Checkpoint, *checkpointRecord, []BlockInfo, error) {
	cps := r.Checkpoints()
	if i < 0 || i >= len(cps) {
		return nil, nil, nil, fmt.Errorf("checkpoint %d does not exist (the log has %d)", i, len(cps))
	}
	info := cps[i]
	f, err := r.readFrame(info.Offset, info.Block, info.Event)
	if err != nil {
		return nil, nil, nil, err
	}
	if f.typ != BlockCheckpoint || f.first != info.Event {
		return nil, nil, nil, r.corrupt(&f, info.Event, "index does not match the checkpoint block")
	}
	var stored, raw []byte
	payload, err := r.payload(&f, &stored, &raw, info.Event)
	if err != nil {
		return nil, nil, nil, err
	}
	// Stored pages before this checkpoint, and where they are.
	var pageBlocks []BlockInfo
	var storedPages uint64
	for _, b := range r.blocks[:info.Block] {
		if b.Type == BlockPages && b.First == storedPages {
			pageBlocks = append(pageBlocks, b)
			storedPages += uint64(b.Count)
		}
	}
	rec, err := parseCheckpointRecord(payload, r.hdr.VCPUs, r.hdr.MemSize/PageBytes, storedPages)
	if err != nil {
		return nil, nil, nil, r.corrupt(&f, info.Event, "checkpoint record: "+err.Error())
	}
	return &Checkpoint{Number: i, Event: info.Event, VCPUs: rec.vcpus, Extra: rec.extra}, rec, pageBlocks, nil
}

// walkPages hands every page of a checkpoint's memory to emit, with its
// guest-physical address, reading each page block once (so in the order
// of the stored pages, not of addresses). page is valid during the call.
func (r *Reader) walkPages(cp *Checkpoint, rec *checkpointRecord, pageBlocks []BlockInfo, emit func(gpa uint64, page []byte)) error {
	type ref struct{ page, gpa uint64 }
	refs := make([]ref, 0, rec.pages)
	for _, run := range rec.runs {
		for k := uint64(0); k < run.count; k++ {
			refs = append(refs, ref{page: run.page + k*run.step, gpa: run.gpa + k*PageBytes})
		}
	}
	slices.SortFunc(refs, func(a, b ref) int { return cmp.Compare(a.page, b.page) })
	var stored, raw []byte
	var have *BlockInfo
	var data []byte
	for _, rf := range refs {
		if have == nil || rf.page >= have.First+uint64(have.Count) {
			j := sort.Search(len(pageBlocks), func(j int) bool {
				return pageBlocks[j].First+uint64(pageBlocks[j].Count) > rf.page
			})
			if j == len(pageBlocks) {
				return fmt.Errorf("checkpoint %d: stored page %d not found", cp.Number, rf.page)
			}
			have = &pageBlocks[j]
			f, err := r.readFrame(have.Offset, have.Ordinal, cp.Event)
			if err != nil {
				return err
			}
			if f.typ != BlockPages || f.first != have.First || f.count != have.Count {
				return r.corrupt(&f, cp.Event, "index does not match the page block")
			}
			data, err = r.payload(&f, &stored, &raw, cp.Event)
			if err != nil {
				return err
			}
			if len(data) != int(f.count)*PageBytes {
				return r.corrupt(&f, cp.Event, fmt.Sprintf("page block of %d bytes for %d pages", len(data), f.count))
			}
		}
		o := (rf.page - have.First) * PageBytes
		emit(rf.gpa, data[o:o+PageBytes])
	}
	return nil
}

// SeekCheckpoint loads checkpoint i and positions the reader at the first
// event after it, so that a replay can restore the checkpoint and continue
// with Next.
func (r *Reader) SeekCheckpoint(i int) (*Checkpoint, error) {
	cp, err := r.ReadCheckpoint(i)
	if err != nil {
		return nil, err
	}
	r.seekAfter(i)
	return cp, nil
}

// SeekCheckpointPages is SeekCheckpoint handing each page of memory to
// emit (as walkPages does) instead of loading it: the checkpoint it
// returns has no Memory. A replay writes the pages straight into guest
// RAM with it.
func (r *Reader) SeekCheckpointPages(i int, emit func(gpa uint64, page []byte)) (*Checkpoint, error) {
	cp, rec, pageBlocks, err := r.openCheckpoint(i)
	if err != nil {
		return nil, err
	}
	if err := r.walkPages(cp, rec, pageBlocks, emit); err != nil {
		return nil, err
	}
	r.seekAfter(i)
	return cp, nil
}

// seekAfter positions the reader at the first event after checkpoint i.
func (r *Reader) seekAfter(i int) {
	info := r.Checkpoints()[i]
	b := r.blocks[info.Block]
	r.setCursor(b.End(), b.Ordinal+1, info.Event)
}
