package virtio

import (
	"io"

	"github.com/crewvm/crewvm/vmm/abi"
)

// Image is the disk's backing store, an *os.File in the VMM.
type Image interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
}

// ID is what GET_ID answers (guest/ABI.md), NUL-padded to IDLen bytes.
const (
	ID    = "crewvm-disk"
	IDLen = 20 // VIRTIO_BLK_ID_BYTES
)

// Serve performs r on img, the second phase of a round, which touches no
// guest memory: IN reads sectors into r.Data, OUT writes r.Data, FLUSH
// syncs the image (there is nothing to sync on a read-only disk), GET_ID
// answers ID, NUL-padded to IDLen bytes and truncated to the buffer.
// Any other type completes with VIRTIO_BLK_S_UNSUPP. A read or write
// beyond the capacity, of a length that is not whole sectors or over
// MaxRequestData, a write to a read-only disk, and an image that fails
// (or is nil) complete with VIRTIO_BLK_S_IOERR. Serve sets r.Status.
func (b *Blk) Serve(r *Request, img Image) {
	if r == nil {
		return
	}
	r.Status = b.serve(r, img)
	if r.Status != StatusOK && r.Type == TypeIn {
		r.Data = nil
	}
}

func (b *Blk) serve(r *Request, img Image) uint8 {
	switch r.Type {
	case TypeIn:
		if st := b.check(r); st != StatusOK {
			return st
		}
		if img == nil {
			return StatusIOErr
		}
		r.Data = make([]byte, r.DataLen)
		if n, err := img.ReadAt(r.Data, int64(r.Sector*abi.SectorSize)); n < len(r.Data) || (err != nil && err != io.EOF) {
			return StatusIOErr
		}
	case TypeOut:
		if st := b.check(r); st != StatusOK {
			return st
		}
		if img == nil || uint64(len(r.Data)) != r.DataLen {
			return StatusIOErr
		}
		if n, err := img.WriteAt(r.Data, int64(r.Sector*abi.SectorSize)); n < len(r.Data) || err != nil {
			return StatusIOErr
		}
	case TypeFlush:
		if b.readOnly {
			return StatusOK
		}
		if img == nil || img.Sync() != nil {
			return StatusIOErr
		}
	case TypeGetID:
		id := make([]byte, min(IDLen, r.DataLen))
		copy(id, ID)
		r.Data = id
	default:
		return StatusUnsupp
	}
	return StatusOK
}

// check says whether a read or write r can be served on the disk: its
// length is whole sectors and at most MaxRequestData, it lies within the
// capacity, and a write is to a disk that is not read-only.
func (b *Blk) check(r *Request) uint8 {
	if r.DataLen > MaxRequestData || r.DataLen%abi.SectorSize != 0 {
		return StatusIOErr
	}
	if n := r.DataLen / abi.SectorSize; r.Sector > b.capacity || n > b.capacity-r.Sector {
		return StatusIOErr
	}
	if r.Type == TypeOut && b.readOnly {
		return StatusIOErr
	}
	return StatusOK
}
