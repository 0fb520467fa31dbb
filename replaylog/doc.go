// Package replaylog is crewvm's recording log: the file a recording writes
// and every replay, bisection and analysis reads. It knows nothing of KVM.
//
// # Events
//
// An Event is one non-deterministic input (a port or MMIO read, a clock
// read, a hypercall result, an interrupt, a DMA transfer, console input)
// or one ordering fact (a CREW ownership transition with the constraints
// it imposes on other vCPUs, a state hash, a test region or label for
// analyses, the guest's exit, the end of the run). Positions name points of
// a vCPU's execution without a hardware counter: an exit count, or an exit
// count plus the full register state and a memory hash where a vCPU was
// stopped between exits (see DESIGN.md section 4).
//
// # Writing
//
// Create a Writer, Append events from any goroutine (each vCPU thread may
// call it directly: it validates and encodes into the current block in
// tens of nanoseconds, with no allocation), call Checkpoint now and then
// with the vCPUs stopped, and Close at the end. Compression, checksumming
// and writing happen on a background goroutine, one write per block, so
// whatever instant the process dies at, the file holds a readable prefix:
// every whole block. Memory stays bounded by WriterOptions.MaxPending
// blocks in flight.
//
// # Reading
//
// Open a Reader and call Next until io.EOF. A log cut short yields every
// event of its whole blocks and then a *TruncatedError saying at which byte
// and after which event it ends; a block that fails its checksum yields a
// *CorruptError naming the block and its byte offset before any of its
// events are returned: a reader never returns an event that was not
// written. Seek
// with SeekCheckpoint (restore the returned Checkpoint, then continue with
// Next) or SeekEvent. Verify checks everything and lists every problem.
//
// # File format
//
//	header     magic "\x89CREWLOG", format major and minor (u16 each),
//	           field area length (u32), tag-length-value fields, CRC32C
//	blocks     each a 48-byte frame (magic, type, codec, stored and raw
//	           length, first event or page number, count, payload CRC32C,
//	           time, header CRC32C) and a payload compressed on its own
//	           with zstd (or stored raw when that is not smaller)
//	index      a block listing every block before it
//	footer     offset of the index, magic "CRWLGEND", CRC32C
//
// Event blocks hold length-prefixed events with varint fields; exit counts,
// clock values, addresses and page numbers are deltas within the block,
// whose contexts reset at every block so that any block decodes on its
// own. A checkpoint seals the current event block, stores the memory pages
// not already in the log (deduplicated across the whole log by SHA-256 of
// their content; zero pages are free) in page blocks, then a checkpoint
// block with registers, device state and runs of page references.
//
// # Versions
//
// FormatMajor changes when an old reader could misread a new log; readers
// refuse another major with a *VersionError. FormatMinor changes when
// kinds, block types, header fields or trailing event fields are added;
// readers read every minor of their major, skipping what they do not know
// and delivering events of unknown kinds with their raw payload (see
// Event.Unknown). To add a kind: give it the next number, encode its fields
// after the common prefix without using another kind's delta context, bump
// FormatMinor.
//
// Minor 6 changed what a state position's memory hash covers the same
// pages with: the sum of per-page xxh3 hashes instead of one CRC-64 (the
// VMM's crewview.OwnedHash; it computes either, after the log's minor).
// A reader older than 1.6 reads a 1.6 log but cannot find its state
// positions: its replay stops with a divergence there.
package replaylog
