// Package guestmem is guest RAM: one memfd, the VMM's own always
// read-write view of it, the per-vCPU views (each mapped by the vCPU's
// own KVM VM, vmm/kvm, so that page protections differ per vCPU), and
// bounds-checked access for everything the VMM reads or writes on the
// guest's behalf. A range a hostile guest names is checked here, once,
// instead of at every device.
package guestmem

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// PageSize is the size of the pages protections and hashes work on.
const PageSize = 4096

// Memory is guest RAM: one memfd that every vCPU's KVM VM maps through a
// mapping of its own, so that page protections can differ per vCPU. The
// VMM keeps one more mapping (host) that is always read-write.
type Memory struct {
	fd   int
	size uint64
	host []byte
}

// New creates size bytes of zeroed guest RAM.
func New(size uint64) (*Memory, error) {
	if size == 0 || size%PageSize != 0 {
		return nil, fmt.Errorf("guest memory size %d is not a positive multiple of %d", size, PageSize)
	}
	fd, err := unix.MemfdCreate("crewvm-ram", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("size guest memory to %d bytes: %w", size, err)
	}
	m := &Memory{fd: fd, size: size}
	if m.host, err = m.Map(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return m, nil
}

// Map returns a new read-write mapping of all of guest RAM.
func (m *Memory) Map() ([]byte, error) {
	b, err := unix.Mmap(m.fd, 0, int(m.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map guest memory: %w", err)
	}
	return b, nil
}

// Size is the RAM size in bytes.
func (m *Memory) Size() uint64 { return m.size }

// Host is the VMM's own view of guest RAM.
func (m *Memory) Host() []byte { return m.host }

// Slice returns guest RAM [gpa, gpa+n) or an error when the range leaves RAM.
func (m *Memory) Slice(gpa, n uint64) ([]byte, error) {
	if gpa > m.size || n > m.size-gpa {
		return nil, fmt.Errorf("guest range %#x+%#x is outside RAM (%#x bytes)", gpa, n, m.size)
	}
	return m.host[gpa : gpa+n : gpa+n], nil
}

// ReadAt copies guest RAM at gpa into p, or fails when the range leaves
// RAM: a device's read of guest memory where nothing orders it (a plain
// run), which makes Memory a virtio.Memory.
func (m *Memory) ReadAt(p []byte, gpa uint64) error {
	s, err := m.Slice(gpa, uint64(len(p)))
	copy(p, s)
	return err
}

// WriteAt copies p into guest RAM at gpa, or fails when the range
// leaves RAM.
func (m *Memory) WriteAt(p []byte, gpa uint64) error {
	s, err := m.Slice(gpa, uint64(len(p)))
	copy(s, p)
	return err
}

// ReadPhys copies guest-physical memory at gpa into b through the VMM's
// view, which has every right whatever a vCPU may touch; false when the
// range is not all RAM. It makes Memory an x86.Memory, for page walks
// and instruction fetches.
func (m *Memory) ReadPhys(gpa uint64, b []byte) bool {
	if gpa > uint64(len(m.host)) || uint64(len(b)) > uint64(len(m.host))-gpa {
		return false
	}
	copy(b, m.host[gpa:])
	return true
}

// Close unmaps the host view and closes the memfd; the per-vCPU mappings
// belong to their vCPUs.
func (m *Memory) Close() error {
	err := unix.Munmap(m.host)
	if cerr := unix.Close(m.fd); err == nil {
		err = cerr
	}
	return err
}

// Zero makes all of RAM zero by giving the memfd's pages back, without
// backing a page: a checkpoint's restore then writes only what is not
// zero. Only while no vCPU runs.
func (m *Memory) Zero() error {
	if err := unix.Fallocate(m.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, int64(m.size)); err != nil {
		return fmt.Errorf("zero guest RAM: %w", err)
	}
	return nil
}

// Fd is the memfd, for private copy-on-write mappings of single pages
// (replay's patched code pages).
func (m *Memory) Fd() int { return m.fd }

// Hash hashes guest RAM for record and replay to compare: the number and
// contents of every page that is not all zero. Holes of the memfd are
// skipped without touching them (reading them would allocate), and zero
// pages are skipped too, so the hash is the same whether or not the
// kernel happened to back a zero page.
func (m *Memory) Hash() uint64 {
	h := sha256.New()
	ram := m.host
	var idx [8]byte
	for off := int64(0); off < int64(len(ram)); {
		data, err := unix.Seek(m.fd, off, unix.SEEK_DATA)
		if err != nil {
			break // ENXIO: no data after off
		}
		hole, err := unix.Seek(m.fd, data, unix.SEEK_HOLE)
		if err != nil {
			hole = int64(len(ram))
		}
		for p := data &^ (PageSize - 1); p < hole && p < int64(len(ram)); p += PageSize {
			page := ram[p : p+PageSize]
			if IsZero(page) {
				continue
			}
			binary.LittleEndian.PutUint64(idx[:], uint64(p))
			h.Write(idx[:])
			h.Write(page)
		}
		off = hole
	}
	return binary.LittleEndian.Uint64(h.Sum(nil)[:8])
}

// IsZero says whether b is all zero bytes.
func IsZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}
