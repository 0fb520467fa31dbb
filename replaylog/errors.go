package replaylog

import (
	"errors"
	"fmt"
)

// ErrNotLog is wrapped by the error Open returns for a file that is not a
// crewvm replay log at all (wrong magic, empty).
var ErrNotLog = errors.New("not a crewvm replay log")

// TruncatedError says that a log ends early: the recorder was killed or the
// file was cut. Every event before Offset was readable.
type TruncatedError struct {
	// Offset is the byte offset where the readable part of the log ends:
	// the end of its last whole block.
	Offset int64
	// Size is the file's size; Size-Offset bytes are an incomplete block
	// (0 when the file ends between blocks but lacks its index trailer).
	Size int64
	// Events is the number of whole events before Offset; the last
	// readable event has index Events-1.
	Events uint64
	// InHeader is set when the file ends inside its header.
	InHeader bool
	// Detail says what was incomplete.
	Detail string
}

func (e *TruncatedError) Error() string {
	if e.InHeader {
		return fmt.Sprintf("log truncated at byte %d inside its header: %s", e.Size, e.Detail)
	}
	where := "before the first event"
	if e.Events > 0 {
		where = fmt.Sprintf("after event %d", e.Events-1)
	}
	return fmt.Sprintf("log truncated at byte %d %s (%d events readable): %s", e.Offset, where, e.Events, e.Detail)
}

// CorruptError says that a block (or the header, or the trailer) failed its
// checks: a checksum, a length, or the decoding of its contents. A block
// whose checksum fails yields none of its events. A block that passes its
// checksum but does not decode (only a writer bug or a crafted file can do
// that) yields its events up to the one that does not decode.
type CorruptError struct {
	// Block is the block's ordinal in the file counted from 0; -1 for the
	// file header, -2 for the index trailer.
	Block int
	// Offset is the block's byte offset in the file.
	Offset int64
	// Events is the number of events of the log before this block.
	Events uint64
	// Reason says what is wrong.
	Reason string
}

// Block numbers of CorruptError for parts that are not numbered blocks.
const (
	BlockHeader  = -1
	BlockTrailer = -2
)

func (e *CorruptError) Error() string {
	switch e.Block {
	case BlockHeader:
		return fmt.Sprintf("corrupt log header at byte offset %d: %s", e.Offset, e.Reason)
	case BlockTrailer:
		return fmt.Sprintf("corrupt index trailer at byte offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("corrupt block %d at byte offset %d (after %d events): %s", e.Block, e.Offset, e.Events, e.Reason)
}

// VersionError says that a log was written in a format major version this
// reader does not understand.
type VersionError struct {
	Major, Minor uint16
}

func (e *VersionError) Error() string {
	if e.Major > FormatMajor {
		return fmt.Sprintf("log format version %d.%d is newer than this vmm reads (%d.x); use a newer vmm to read it",
			e.Major, e.Minor, FormatMajor)
	}
	return fmt.Sprintf("log format version %d.%d is older than this vmm reads (%d.x) and no longer supported",
		e.Major, e.Minor, FormatMajor)
}
