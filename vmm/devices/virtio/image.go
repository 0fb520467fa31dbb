package virtio

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/crewvm/crewvm/vmm/abi"
)

// MinImage is the smallest image MakeImage writes (guest/ABI.md): the
// disk workloads need room for their tests.
const MinImage = 1 << 20

// FillSector writes sector i of the `vmm disk make` image into p[:512],
// so that the VMM's tests check what the guest's workloads check
// (guest/ABI.md, "The disk"): 64 little-endian words of xorshift64
// seeded with (i+1)*abi.DiskSeedMul, each word x*abi.DiskOutMul. It
// panics if p is shorter than a sector.
func FillSector(i uint64, p []byte) {
	p = p[:abi.SectorSize]
	x := (i + 1) * abi.DiskSeedMul
	for k := 0; k < abi.SectorSize; k += 8 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		binary.LittleEndian.PutUint64(p[k:], x*abi.DiskOutMul)
	}
}

// MakeImage writes the test image of size bytes, whole sectors and at
// least MinImage, to w, in 1 MiB writes.
func MakeImage(w io.Writer, size uint64) error {
	if size < MinImage || size%abi.SectorSize != 0 {
		return fmt.Errorf("disk image size %d: want a multiple of %d bytes, at least %d", size, abi.SectorSize, MinImage)
	}
	buf := make([]byte, 1<<20)
	for off := uint64(0); off < size; {
		chunk := buf[:min(uint64(len(buf)), size-off)]
		for s := 0; s < len(chunk); s += abi.SectorSize {
			FillSector((off+uint64(s))/abi.SectorSize, chunk[s:])
		}
		if _, err := w.Write(chunk); err != nil {
			return fmt.Errorf("writing the disk image at byte %d: %w", off, err)
		}
		off += uint64(len(chunk))
	}
	return nil
}
