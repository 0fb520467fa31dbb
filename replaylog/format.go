package replaylog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Format version written by this package. A reader refuses logs of another
// major version and reads every minor version of its major: an older minor
// simply lacks newer kinds and fields; a newer minor may add event kinds
// (delivered as unknown, see Event.Unknown), append fields at the end of an
// existing kind's payload (ignored), add header fields (skipped) and add
// block types (skipped). Anything else is a major bump.
const (
	FormatMajor uint16 = 1
	FormatMinor uint16 = 6
)

// Magic is the first 8 bytes of every log. The leading 0x89 makes text
// tools and text-mode transfers notice that the file is binary, as in PNG.
const Magic = "\x89CREWLOG"

// Limits that keep a damaged or hostile file from making the reader
// allocate without bound. The writer enforces the same limits, so a log it
// writes is always readable.
const (
	// MaxVCPUs bounds Header.VCPUs.
	MaxVCPUs = 4096
	// MaxEventData bounds len(Event.Data).
	MaxEventData = 4 << 20
	// MaxName bounds len(Event.Name).
	MaxName = 4096
	// MaxBlock bounds a block's raw and stored size.
	MaxBlock = 64 << 20
	// maxHeaderBody bounds the header's field area.
	maxHeaderBody = 16 << 20
	// PageBytes is the size of a checkpoint memory page, the unit of
	// deduplication, independent of the CREW granularity.
	PageBytes = 4096
	// PageShift is log2(PageBytes).
	PageShift = 12
)

// castagnoli is CRC32C, hardware-accelerated on amd64 and arm64. The table
// is computed once and only read afterwards.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// Header describes a recording. It is written once at the start of the log.
type Header struct {
	// Major and Minor are the format version; set by the writer, reported
	// by the reader.
	Major, Minor uint16
	// WriterVersion is the version of the vmm that recorded the log.
	WriterVersion string
	// GuestHash is the SHA-256 of the guest image, so that replay refuses
	// a different guest.
	GuestHash [32]byte
	// Guest names the guest image (a path, or "builtin").
	Guest string
	// Args are the workload arguments.
	Args []string
	// VCPUs is the number of vCPUs; events name vCPUs 0..VCPUs-1.
	VCPUs uint32
	// MemSize is the guest memory size in bytes.
	MemSize uint64
	// PageSize is the CREW page granularity in bytes.
	PageSize uint32
	// CPUID is the CPUID table given to the guest, as the engine encodes it.
	CPUID []byte
	// Created is when recording started; the writer sets it when zero.
	Created time.Time
	// Extra is opaque engine configuration.
	Extra []byte
	// Input is the file the guest's input region was loaded with (vmm
	// record --tests), kept so that the recording replays on its own;
	// stored zstd-compressed, at most MaxInput bytes.
	Input []byte
	// DiskSize is the size in bytes of the guest's virtio-blk disk (vmm
	// record --disk), 0 when it had none (since 1.5). A disk makes one
	// more actor, the DMA actor, numbered VCPUs: its events and the
	// constraints on it carry that number (DMAActor).
	DiskSize uint64
	// DiskReadOnly says the disk was read-only.
	DiskReadOnly bool
}

// Actors is the number of actors events may name: the vCPUs, and the
// DMA actor when there is a disk.
func (h *Header) Actors() uint32 {
	if h.DiskSize > 0 {
		return h.VCPUs + 1
	}
	return h.VCPUs
}

// DMAActor is the number the disk's DMA actor has in events; only
// meaningful when DiskSize is set.
func (h *Header) DMAActor() uint32 { return h.VCPUs }

// MaxInput bounds Header.Input, decompressed.
const MaxInput = 64 << 20

// Header field tags. Fields are tag-length-value so that newer minor
// versions can add fields older readers skip.
const (
	hWriterVersion = 1
	hGuestHash     = 2
	hGuest         = 3
	hArgs          = 4
	hVCPUs         = 5
	hMemSize       = 6
	hPageSize      = 7
	hCPUID         = 8
	hCreated       = 9
	hExtra         = 10
	hInput         = 11 // since 1.4
	hDisk          = 12 // since 1.5: size, then 1 when read-only
)

// validate checks what the writer and the reader both rely on.
func (h *Header) validate() error {
	if h.VCPUs == 0 || h.VCPUs > MaxVCPUs {
		return fmt.Errorf("vCPU count %d out of range 1..%d", h.VCPUs, MaxVCPUs)
	}
	if h.MemSize == 0 {
		return fmt.Errorf("memory size is 0")
	}
	if h.PageSize < PageBytes || h.PageSize&(h.PageSize-1) != 0 {
		return fmt.Errorf("page granularity %d is not a power of two >= %d", h.PageSize, PageBytes)
	}
	if len(h.Input) > MaxInput {
		return fmt.Errorf("input of %d bytes exceeds %d", len(h.Input), MaxInput)
	}
	return nil
}

// headerFixed is magic, major, minor and the body length.
const headerFixed = 8 + 2 + 2 + 4

func appendField(b []byte, tag uint64, v []byte) []byte {
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendUvarintField(b []byte, tag, v uint64) []byte {
	var tmp [binary.MaxVarintLen64]byte
	return appendField(b, tag, binary.AppendUvarint(tmp[:0], v))
}

// marshal encodes the header with the current format version.
func (h *Header) marshal() []byte {
	var body []byte
	body = appendField(body, hWriterVersion, []byte(h.WriterVersion))
	body = appendField(body, hGuestHash, h.GuestHash[:])
	body = appendField(body, hGuest, []byte(h.Guest))
	var args []byte
	args = binary.AppendUvarint(args, uint64(len(h.Args)))
	for _, a := range h.Args {
		args = binary.AppendUvarint(args, uint64(len(a)))
		args = append(args, a...)
	}
	body = appendField(body, hArgs, args)
	body = appendUvarintField(body, hVCPUs, uint64(h.VCPUs))
	body = appendUvarintField(body, hMemSize, h.MemSize)
	body = appendUvarintField(body, hPageSize, uint64(h.PageSize))
	body = appendField(body, hCPUID, h.CPUID)
	body = appendUvarintField(body, hCreated, uint64(h.Created.UnixNano()))
	body = appendField(body, hExtra, h.Extra)
	if len(h.Input) > 0 {
		body = appendField(body, hInput, compressInput(h.Input))
	}
	if h.DiskSize > 0 {
		var disk []byte
		disk = binary.AppendUvarint(disk, h.DiskSize)
		ro := uint64(0)
		if h.DiskReadOnly {
			ro = 1
		}
		disk = binary.AppendUvarint(disk, ro)
		body = appendField(body, hDisk, disk)
	}

	b := make([]byte, 0, headerFixed+len(body)+4)
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint16(b, FormatMajor)
	b = binary.LittleEndian.AppendUint16(b, FormatMinor)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32c(b))
}

// parseHeaderBody decodes the tag-length-value fields of a header whose
// checksum and version have already been checked.
func parseHeaderBody(h *Header, body []byte) error {
	c := cursor{b: body}
	seen := map[uint64]bool{}
	for c.more() {
		tag := c.uvarint()
		v := c.bytes(c.uvarint())
		if c.bad {
			return fmt.Errorf("malformed field after byte %d", c.i)
		}
		if seen[tag] {
			return fmt.Errorf("field %d repeated", tag)
		}
		seen[tag] = true
		f := cursor{b: v}
		switch tag {
		case hWriterVersion:
			h.WriterVersion = string(v)
		case hGuestHash:
			if len(v) != len(h.GuestHash) {
				return fmt.Errorf("guest hash has %d bytes, want %d", len(v), len(h.GuestHash))
			}
			copy(h.GuestHash[:], v)
		case hGuest:
			h.Guest = string(v)
		case hArgs:
			n := f.uvarint()
			if n > uint64(len(v)) {
				return fmt.Errorf("argument count %d exceeds field size", n)
			}
			h.Args = make([]string, 0, n)
			for i := uint64(0); i < n && !f.bad; i++ {
				h.Args = append(h.Args, string(f.bytes(f.uvarint())))
			}
		case hVCPUs:
			v := f.uvarint()
			if v > MaxVCPUs {
				return fmt.Errorf("vCPU count %d exceeds %d", v, MaxVCPUs)
			}
			h.VCPUs = uint32(v)
		case hMemSize:
			h.MemSize = f.uvarint()
		case hPageSize:
			v := f.uvarint()
			if v > 1<<31 {
				return fmt.Errorf("page granularity %d too large", v)
			}
			h.PageSize = uint32(v)
		case hCPUID:
			h.CPUID = append([]byte(nil), v...)
		case hCreated:
			h.Created = time.Unix(0, int64(f.uvarint()))
		case hExtra:
			h.Extra = append([]byte(nil), v...)
		case hInput:
			in, err := decompressInput(v)
			if err != nil {
				return fmt.Errorf("input: %w", err)
			}
			h.Input = in
		case hDisk:
			h.DiskSize = f.uvarint()
			h.DiskReadOnly = f.uvarint() == 1
		default:
			// A field of a newer minor version: skip it.
			continue
		}
		if f.bad {
			return fmt.Errorf("malformed field %d", tag)
		}
	}
	return nil
}

// BlockType says what a block holds.
type BlockType uint8

// Block types. Readers skip types they do not know (newer minor versions).
const (
	// BlockEvents holds encoded events; First is the index of its first
	// event and Count the number of events.
	BlockEvents BlockType = 1
	// BlockPages holds checkpoint memory pages of PageBytes each, unique
	// by content; First is the log-wide number of its first page.
	BlockPages BlockType = 2
	// BlockCheckpoint holds one checkpoint's registers, device state and
	// page table; First is the index of the first event after it.
	BlockCheckpoint BlockType = 3
	// BlockIndex is the trailer: the list of all blocks before it.
	BlockIndex BlockType = 4
)

func (t BlockType) String() string {
	switch t {
	case BlockEvents:
		return "events"
	case BlockPages:
		return "pages"
	case BlockCheckpoint:
		return "checkpoint"
	case BlockIndex:
		return "index"
	}
	return "block(" + strconv.Itoa(int(t)) + ")"
}

// Codecs of a block's stored payload.
const (
	codecRaw  = 0
	codecZstd = 1
)

// Every block starts with a fixed-size frame header:
//
//	0  magic "CRWB"
//	4  type, codec, 2 reserved zero bytes
//	8  stored length (u32), 12 raw length (u32)
//	16 first (u64), 24 count (u32)
//	28 CRC32C of the stored payload (u32)
//	32 time since recording started in ns (u64)
//	40 reserved zero (u32)
//	44 CRC32C of bytes 0..43 (u32)
//
// The header has its own checksum so that a damaged length is reported as
// corruption (not as truncation) and so that a tool can skip a block whose
// payload is damaged.
const (
	frameSize  = 48
	frameMagic = "CRWB"
)

type frame struct {
	typ     BlockType
	codec   uint8
	stored  uint32
	raw     uint32
	first   uint64
	count   uint32
	sum     uint32
	time    uint64
	offset  int64 // where the frame starts; not stored
	ordinal int   // block number; not stored
}

func (f *frame) put(b []byte) {
	_ = b[frameSize-1]
	copy(b[0:4], frameMagic)
	b[4] = byte(f.typ)
	b[5] = f.codec
	b[6], b[7] = 0, 0
	binary.LittleEndian.PutUint32(b[8:], f.stored)
	binary.LittleEndian.PutUint32(b[12:], f.raw)
	binary.LittleEndian.PutUint64(b[16:], f.first)
	binary.LittleEndian.PutUint32(b[24:], f.count)
	binary.LittleEndian.PutUint32(b[28:], f.sum)
	binary.LittleEndian.PutUint64(b[32:], f.time)
	binary.LittleEndian.PutUint32(b[40:], 0)
	binary.LittleEndian.PutUint32(b[44:], crc32c(b[:44]))
}

// parse decodes a frame header, returning a reason when it is damaged.
func (f *frame) parse(b []byte) string {
	_ = b[frameSize-1]
	if string(b[0:4]) != frameMagic {
		return fmt.Sprintf("bad block magic %q", b[0:4])
	}
	if want, got := binary.LittleEndian.Uint32(b[44:]), crc32c(b[:44]); want != got {
		return fmt.Sprintf("block header checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	f.typ = BlockType(b[4])
	f.codec = b[5]
	f.stored = binary.LittleEndian.Uint32(b[8:])
	f.raw = binary.LittleEndian.Uint32(b[12:])
	f.first = binary.LittleEndian.Uint64(b[16:])
	f.count = binary.LittleEndian.Uint32(b[24:])
	f.sum = binary.LittleEndian.Uint32(b[28:])
	f.time = binary.LittleEndian.Uint64(b[32:])
	switch {
	case f.codec != codecRaw && f.codec != codecZstd:
		return fmt.Sprintf("unknown codec %d", f.codec)
	case f.stored > MaxBlock || f.raw > MaxBlock:
		return fmt.Sprintf("block size %d/%d exceeds %d", f.stored, f.raw, MaxBlock)
	case f.codec == codecRaw && f.stored != f.raw:
		return fmt.Sprintf("uncompressed block with stored size %d != raw size %d", f.stored, f.raw)
	}
	return ""
}

// end returns the offset just past the block.
func (f *frame) end() int64 { return f.offset + frameSize + int64(f.stored) }

// The file ends with a footer after the index block:
//
//	0  offset of the index block (u64)
//	8  magic "CRWLGEND"
//	16 CRC32C of bytes 0..15 (u32)
//	20 reserved zero (u32)
const (
	footerSize  = 24
	footerMagic = "CRWLGEND"
)

func putFooter(b []byte, indexOff int64) {
	binary.LittleEndian.PutUint64(b[0:], uint64(indexOff))
	copy(b[8:16], footerMagic)
	binary.LittleEndian.PutUint32(b[16:], crc32c(b[:16]))
	binary.LittleEndian.PutUint32(b[20:], 0)
}

// parseFooter returns the index offset, or a reason the footer is bad.
func parseFooter(b []byte) (int64, string) {
	if string(b[8:16]) != footerMagic {
		return 0, "no footer magic"
	}
	if binary.LittleEndian.Uint32(b[20:]) != 0 {
		return 0, "footer reserved bytes not zero"
	}
	if want, got := binary.LittleEndian.Uint32(b[16:]), crc32c(b[:16]); want != got {
		return 0, fmt.Sprintf("footer checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	return int64(binary.LittleEndian.Uint64(b[0:])), ""
}

// compressInput is the header's encoding of Header.Input: one zstd frame.
func compressInput(in []byte) []byte {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder with default options: %v", err)) // cannot happen
	}
	defer enc.Close()
	return enc.EncodeAll(in, nil)
}

func decompressInput(v []byte) ([]byte, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxInput))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	return dec.DecodeAll(v, nil)
}
