package vmm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Memory is guest RAM: one memfd that every vCPU's KVM VM maps through a
// mapping of its own, so that page protections can differ per vCPU. The
// VMM keeps one more mapping (host) that is always read-write.
type Memory struct {
	fd   int
	size uint64
	host []byte
}

// NewMemory creates size bytes of zeroed guest RAM.
func NewMemory(size uint64) (*Memory, error) {
	if size == 0 || size%pageSize != 0 {
		return nil, fmt.Errorf("guest memory size %d is not a positive multiple of %d", size, pageSize)
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

// Close unmaps the host view and closes the memfd; the per-vCPU mappings
// belong to their vCPUs.
func (m *Memory) Close() error {
	err := unix.Munmap(m.host)
	if cerr := unix.Close(m.fd); err == nil {
		err = cerr
	}
	return err
}
