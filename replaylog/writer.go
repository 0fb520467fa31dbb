package replaylog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ErrClosed is returned by a Writer used after Close.
var ErrClosed = errors.New("replaylog: writer closed")

// WriterOptions tune a Writer. The zero value gives sensible defaults.
type WriterOptions struct {
	// BlockSize is the raw size at which an event block is sealed and
	// handed to the compressor (default 64 KiB). Smaller blocks lose less
	// on a crash and seek finer; larger ones compress better.
	BlockSize int
	// MaxPending bounds the number of sealed blocks waiting for the
	// compressor (default 16): with BlockSize it bounds the writer's
	// memory. When all are in use Append waits: that only happens if the
	// disk or compressor is slower than the guest for MaxPending blocks
	// in a row (see Stats.Stalls).
	MaxPending int
	// FlushInterval seals a partially filled block after this long, so a
	// crash loses at most this much of a slow recording (default 1s;
	// negative disables).
	FlushInterval time.Duration
	// Level is the zstd level (default zstd.SpeedFastest, which keeps
	// pace with any event rate a VM can produce).
	Level zstd.EncoderLevel
	// NoCompression stores blocks uncompressed.
	NoCompression bool
	// Sync calls fsync after every block written to a file by Create, so
	// that whole blocks also survive a machine crash, not just a killed
	// process.
	Sync bool
}

const (
	defaultBlockSize  = 64 << 10
	defaultMaxPending = 16
	defaultFlush      = time.Second
	// pagesPerBlock is how many checkpoint pages go in one BlockPages.
	pagesPerBlock = 64
	// maxKeptBuffer is the largest buffer returned to the pool; bigger
	// ones (from a large checkpoint record) are dropped to keep the
	// resident size bounded.
	maxKeptBuffer = 1 << 20
)

// Stats are a writer's running totals.
type Stats struct {
	Events      uint64 // events appended
	Checkpoints int
	Blocks      int   // blocks written so far
	RawBytes    int64 // uncompressed payload bytes written
	FileBytes   int64 // bytes written to the file, header included
	Pages       uint64
	// DedupPages is the number of checkpoint pages not stored again
	// because an identical page was already in the log.
	DedupPages uint64
	// Stalls counts the times Append or Checkpoint waited for a free
	// buffer because the compressor was behind.
	Stalls uint64
}

// job is one unit of work for the background goroutine.
type job struct {
	typ   BlockType
	buf   []byte
	first uint64
	count uint32
	time  uint64
	// barrier, when set, is answered once every earlier job is written.
	barrier chan error
	// final writes the index and the footer.
	final bool
}

// Writer streams a log. Append and Checkpoint may be called from several
// goroutines; events are logged in the order the calls acquire the
// writer's lock. Appending only encodes the event into the current block
// (tens of nanoseconds); sealed blocks are compressed, checksummed and
// written by a background goroutine, one write per block, so that a
// process killed at any point leaves a log readable up to its last whole
// block.
type Writer struct {
	hdr     Header
	opts    WriterOptions
	created time.Time // when the writer started: the base of block times

	mu       sync.Mutex
	closed   bool
	cur      []byte // current event block payload, nil until needed
	curFirst uint64
	curCount uint32
	events   uint64
	delta    deltaState
	// Checkpoint state.
	dedup       map[[16]byte]uint64 // page content hash -> stored page number
	storedPages uint64
	pageBuf     []byte
	pageFirst   uint64
	runs        runBuilder
	stats       Stats

	free   chan []byte // buffer slots; nil means "allocate"
	jobs   chan job
	done   chan struct{}
	stop   chan struct{}
	failed atomic.Pointer[error]

	// Owned by the background goroutine.
	out      io.Writer
	file     *os.File
	zenc     *zstd.Encoder
	obuf     []byte
	index    []byte
	nindex   uint32
	off      int64
	written  atomic.Int64 // blocks written, for Stats
	rawBytes atomic.Int64
	fileOff  atomic.Int64
}

// Create creates (or truncates) the file at path and starts a log in it.
func Create(path string, h Header, opts WriterOptions) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create replay log: %w", err)
	}
	w, err := newWriter(f, f, h, opts)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("create replay log %s: %w", path, err)
	}
	return w, nil
}

// NewWriter starts a log on out (an in-memory buffer in tests, a pipe).
// The writer never seeks; each block is passed to out in one Write call.
func NewWriter(out io.Writer, h Header, opts WriterOptions) (*Writer, error) {
	return newWriter(out, nil, h, opts)
}

func newWriter(out io.Writer, file *os.File, h Header, opts WriterOptions) (*Writer, error) {
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("bad header: %w", err)
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = defaultBlockSize
	}
	if opts.BlockSize > MaxBlock/2 {
		return nil, fmt.Errorf("block size %d exceeds %d", opts.BlockSize, MaxBlock/2)
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = defaultMaxPending
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = defaultFlush
	}
	if opts.Level == 0 {
		opts.Level = zstd.SpeedFastest
	}
	now := time.Now()
	if h.Created.IsZero() {
		h.Created = now
	}
	h.Major, h.Minor = FormatMajor, FormatMinor
	w := &Writer{
		hdr:     h,
		opts:    opts,
		created: now,
		dedup:   make(map[[16]byte]uint64),
		free:    make(chan []byte, opts.MaxPending),
		jobs:    make(chan job, opts.MaxPending+2),
		done:    make(chan struct{}),
		stop:    make(chan struct{}),
		out:     out,
		file:    file,
	}
	for i := 0; i < opts.MaxPending; i++ {
		w.free <- nil
	}
	w.delta.reset(int(h.Actors()))
	if !opts.NoCompression {
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(opts.Level),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false),
			zstd.WithWindowSize(windowFor(opts.BlockSize)))
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		w.zenc = enc
	}
	hb := h.marshal()
	if _, err := out.Write(hb); err != nil {
		if w.zenc != nil {
			w.zenc.Close()
		}
		return nil, fmt.Errorf("write header: %w", err)
	}
	w.off = int64(len(hb))
	w.fileOff.Store(w.off)
	go w.run()
	if opts.FlushInterval > 0 {
		go w.flusher(opts.FlushInterval)
	}
	return w, nil
}

// windowFor returns a zstd window covering a whole block (blocks are
// compressed independently, a larger window would only cost memory).
func windowFor(block int) int {
	n := zstd.MinWindowSize
	for n < block+block/2 && n < zstd.MaxWindowSize {
		n <<= 1
	}
	return max(n, pagesPerBlock*PageBytes)
}

// Header returns the header as written (with version and creation time).
func (w *Writer) Header() Header { return w.hdr }

// Append logs e. It copies everything it needs, so e and its slices may be
// reused as soon as it returns. It returns an error for an invalid event
// (the log is unchanged) and the first write error of the background
// goroutine (the log is then unusable).
func (w *Writer) Append(e *Event) error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	if err := validateEvent(&w.hdr, e); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.cur == nil {
		w.cur = w.acquire()
		w.curFirst = w.events
	}
	w.cur = w.delta.appendEvent(w.cur, e)
	w.curCount++
	w.events++
	w.stats.Events++
	if len(w.cur) >= w.opts.BlockSize {
		w.sealEventsLocked()
	}
	return nil
}

// acquire returns an empty buffer, waiting for one when MaxPending blocks
// are already queued.
func (w *Writer) acquire() []byte {
	var b []byte
	select {
	case b = <-w.free:
	default:
		w.stats.Stalls++
		b = <-w.free
	}
	if b == nil {
		b = make([]byte, 0, max(w.opts.BlockSize+w.opts.BlockSize/4, pagesPerBlock*PageBytes))
	}
	return b
}

func (w *Writer) release(b []byte) {
	if cap(b) > maxKeptBuffer && cap(b) > 2*w.opts.BlockSize {
		b = nil
	}
	w.free <- b[:0]
}

func (w *Writer) elapsed() uint64 {
	d := time.Since(w.created)
	if d < 0 {
		return 0
	}
	return uint64(d)
}

// sealEventsLocked queues the current event block.
func (w *Writer) sealEventsLocked() {
	if w.cur == nil {
		return
	}
	if w.curCount == 0 {
		w.release(w.cur)
		w.cur = nil
		return
	}
	w.jobs <- job{typ: BlockEvents, buf: w.cur, first: w.curFirst, count: w.curCount, time: w.elapsed()}
	w.cur = nil
	w.curCount = 0
	w.delta.reset(int(w.hdr.Actors()))
}

// Flush seals the current block and waits until every block so far is in
// the file (and on disk with WriterOptions.Sync).
func (w *Writer) Flush() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.sealEventsLocked()
	ch := make(chan error, 1)
	w.jobs <- job{barrier: ch}
	w.mu.Unlock()
	return <-ch
}

// Checkpoint logs a checkpoint between the events appended before and
// after it. It seals the current event block (so a reader can start at the
// block after the checkpoint), hashes every memory page (SHA-256, on the
// caller's goroutine: memory must not change during the call, which is the
// case when the vCPUs are stopped), copies the pages not already in the
// log and queues them for compression. cp.Event is set to the index of the
// next event.
func (w *Writer) Checkpoint(cp *Checkpoint) error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	if len(cp.VCPUs) != int(w.hdr.VCPUs) {
		return fmt.Errorf("checkpoint has %d vCPUs, log has %d", len(cp.VCPUs), w.hdr.VCPUs)
	}
	var total, end uint64
	for i, r := range cp.Memory {
		if r.GPA%PageBytes != 0 || len(r.Data)%PageBytes != 0 {
			return fmt.Errorf("checkpoint memory region %d (gpa %#x, %d bytes) not page aligned", i, r.GPA, len(r.Data))
		}
		if i > 0 && r.GPA < end {
			return fmt.Errorf("checkpoint memory region %d (gpa %#x) overlaps or is out of order", i, r.GPA)
		}
		end = r.GPA + uint64(len(r.Data))
		if end < r.GPA || end>>PageShift > maxGPAPages {
			return fmt.Errorf("checkpoint memory region %d beyond the guest-physical address space", i)
		}
		total += uint64(len(r.Data))
	}
	if total > w.hdr.MemSize {
		return fmt.Errorf("checkpoint has %d bytes of memory, log header says %d", total, w.hdr.MemSize)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.sealEventsLocked()
	w.runs.runs = w.runs.runs[:0]
	var zero [PageBytes]byte
	for _, r := range cp.Memory {
		for off := 0; off < len(r.Data); off += PageBytes {
			page := r.Data[off : off+PageBytes]
			var key [16]byte
			if !bytes.Equal(page, zero[:]) {
				sum := sha256.Sum256(page)
				copy(key[:], sum[:])
				key[0] |= 1 // never collides with the zero page's key
			}
			n, ok := w.dedup[key]
			if ok {
				w.stats.DedupPages++
			} else {
				n = w.storePageLocked(page)
				w.dedup[key] = n
			}
			w.stats.Pages++
			w.runs.add(r.GPA+uint64(off), n)
		}
	}
	w.sealPagesLocked()
	rec := appendCheckpointRecord(w.acquire(), cp, w.runs.runs)
	if len(rec) > MaxBlock {
		w.release(rec)
		return fmt.Errorf("checkpoint record of %d bytes exceeds %d", len(rec), MaxBlock)
	}
	cp.Event = w.events
	cp.Number = w.stats.Checkpoints
	w.jobs <- job{typ: BlockCheckpoint, buf: rec, first: w.events, count: uint32(len(cp.VCPUs)), time: w.elapsed()}
	w.stats.Checkpoints++
	return nil
}

// storePageLocked copies a page into the current page block and returns
// its log-wide stored page number.
func (w *Writer) storePageLocked(page []byte) uint64 {
	if w.pageBuf == nil {
		w.pageBuf = w.acquire()
		w.pageFirst = w.storedPages
	}
	w.pageBuf = append(w.pageBuf, page...)
	n := w.storedPages
	w.storedPages++
	if len(w.pageBuf) >= pagesPerBlock*PageBytes {
		w.sealPagesLocked()
	}
	return n
}

func (w *Writer) sealPagesLocked() {
	if w.pageBuf == nil {
		return
	}
	w.jobs <- job{typ: BlockPages, buf: w.pageBuf, first: w.pageFirst,
		count: uint32(len(w.pageBuf) / PageBytes), time: w.elapsed()}
	w.pageBuf = nil
}

// Stats returns the running totals. Blocks and bytes count what the
// background goroutine has written so far.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	s := w.stats
	w.mu.Unlock()
	s.Blocks = int(w.written.Load())
	s.RawBytes = w.rawBytes.Load()
	s.FileBytes = w.fileOff.Load()
	return s
}

// Close seals the last block, writes the index trailer and waits until
// everything is written; it closes the file opened by Create. It does not
// append KindEnd: the engine logs the end of the run itself.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.sealEventsLocked()
	w.sealPagesLocked()
	w.closed = true
	w.jobs <- job{final: true}
	close(w.jobs)
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	var err error
	if p := w.failed.Load(); p != nil {
		err = *p
	}
	if w.file != nil {
		if w.opts.Sync && err == nil {
			if serr := w.file.Sync(); serr != nil {
				err = fmt.Errorf("sync replay log: %w", serr)
			}
		}
		if cerr := w.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close replay log: %w", cerr)
		}
	}
	if w.zenc != nil {
		w.zenc.Close()
	}
	return err
}

func (w *Writer) flusher(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			if !w.closed && w.curCount > 0 {
				w.sealEventsLocked()
			}
			w.mu.Unlock()
		}
	}
}

func (w *Writer) fail(err error) {
	w.failed.CompareAndSwap(nil, &err)
}

// run is the background goroutine: compress, frame, write, in order.
func (w *Writer) run() {
	defer close(w.done)
	for j := range w.jobs {
		switch {
		case j.barrier != nil:
			var err error
			if p := w.failed.Load(); p != nil {
				err = *p
			}
			j.barrier <- err
		case j.final:
			if w.failed.Load() == nil {
				if err := w.writeTrailer(); err != nil {
					w.fail(err)
				}
			}
		default:
			if w.failed.Load() == nil {
				if err := w.writeBlock(j); err != nil {
					w.fail(err)
				}
			}
			w.release(j.buf)
		}
	}
}

func (w *Writer) writeBlock(j job) error {
	f := frame{typ: j.typ, codec: codecRaw, raw: uint32(len(j.buf)), first: j.first, count: j.count, time: j.time}
	w.obuf = grow(w.obuf, frameSize)
	if w.zenc != nil {
		w.obuf = w.zenc.EncodeAll(j.buf, w.obuf)
		f.codec = codecZstd
		if len(w.obuf)-frameSize >= len(j.buf) {
			w.obuf = append(w.obuf[:frameSize], j.buf...)
			f.codec = codecRaw
		}
	} else {
		w.obuf = append(w.obuf, j.buf...)
	}
	payload := w.obuf[frameSize:]
	f.stored = uint32(len(payload))
	f.sum = crc32c(payload)
	f.put(w.obuf)
	if _, err := w.out.Write(w.obuf); err != nil {
		return fmt.Errorf("write %s block at offset %d: %w", j.typ, w.off, err)
	}
	if w.opts.Sync && w.file != nil {
		if err := w.file.Sync(); err != nil {
			return fmt.Errorf("sync replay log: %w", err)
		}
	}
	w.index = appendIndexEntry(w.index, &BlockInfo{
		Type: j.typ, First: j.first, Count: j.count, Stored: f.stored, Raw: f.raw, Time: time.Duration(j.time),
	})
	w.nindex++
	w.off += int64(len(w.obuf))
	w.written.Add(1)
	w.rawBytes.Add(int64(len(j.buf)))
	w.fileOff.Store(w.off)
	if cap(w.obuf) > maxKeptBuffer {
		w.obuf = nil
	}
	return nil
}

func (w *Writer) writeTrailer() error {
	indexOff := w.off
	if err := w.writeBlock(job{typ: BlockIndex, buf: w.index, count: w.nindex, time: w.elapsed()}); err != nil {
		return err
	}
	var foot [footerSize]byte
	putFooter(foot[:], indexOff)
	if _, err := w.out.Write(foot[:]); err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	w.off += footerSize
	w.fileOff.Store(w.off)
	return nil
}

// BlockInfo describes one block of a log.
type BlockInfo struct {
	Ordinal int
	Offset  int64
	Type    BlockType
	// First and Count: see the BlockType constants.
	First uint64
	Count uint32
	// Stored and Raw are the payload's size in the file and uncompressed.
	Stored, Raw uint32
	// Time is when the block was sealed, since recording started.
	Time time.Duration
}

// End returns the offset just past the block.
func (b *BlockInfo) End() int64 { return b.Offset + frameSize + int64(b.Stored) }

// Index entries (payload of BlockIndex, one per block before it, which
// follow each other without gaps from the end of the header): byte type,
// uvarint first, count, stored, raw, time in ns. Offsets are implied.
func appendIndexEntry(b []byte, bi *BlockInfo) []byte {
	b = append(b, byte(bi.Type))
	b = binary.AppendUvarint(b, bi.First)
	b = binary.AppendUvarint(b, uint64(bi.Count))
	b = binary.AppendUvarint(b, uint64(bi.Stored))
	b = binary.AppendUvarint(b, uint64(bi.Raw))
	return binary.AppendUvarint(b, uint64(bi.Time))
}
