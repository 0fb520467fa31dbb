package guestmem

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// View is one vCPU's own mapping of all of guest RAM. Its protections are
// that vCPU's rights: the vCPU's VM maps RAM through it, so an access the
// protections refuse makes that vCPU's KVM_RUN fail with EFAULT, while
// every other vCPU keeps its own view.
type View struct {
	mem *Memory
	b   []byte
}

// NewView maps all of guest RAM read-write for one vCPU.
func (m *Memory) NewView() (*View, error) {
	b, err := m.Map()
	if err != nil {
		return nil, err
	}
	return &View{mem: m, b: b}, nil
}

// Bytes is the mapping, to hand to KVM as the vCPU's RAM slot, and to
// read or write through with the vCPU's protections.
func (v *View) Bytes() []byte { return v.b }

// Slice is [gpa, gpa+n) of the view, or an error when it leaves RAM.
func (v *View) Slice(gpa, n uint64) ([]byte, error) {
	if gpa > uint64(len(v.b)) || n > uint64(len(v.b))-gpa {
		return nil, fmt.Errorf("guest range %#x+%#x is outside RAM (%#x bytes)", gpa, n, len(v.b))
	}
	return v.b[gpa : gpa+n : gpa+n], nil
}

// Protect sets the host protection (unix.PROT_*) of guest pages
// [gpa, gpa+n) in this view only. KVM drops its stale translations
// through its MMU notifier.
func (v *View) Protect(gpa, n uint64, prot int) error {
	if gpa%PageSize != 0 || n%PageSize != 0 {
		return fmt.Errorf("protect guest %#x+%#x: not page aligned", gpa, n)
	}
	b, err := v.Slice(gpa, n)
	if err != nil {
		return fmt.Errorf("protect: %w", err)
	}
	if err := unix.Mprotect(b, prot); err != nil {
		return fmt.Errorf("mprotect guest %#x+%#x to %#x: %w", gpa, n, prot, err)
	}
	return nil
}

// PrivatePage replaces the view's page at gpa by a private copy-on-write
// copy, readable and writable, that no other view sees: a patch written
// there (replay's breakpoints) stays this vCPU's.
func (v *View) PrivatePage(gpa uint64) error {
	return v.remap(gpa, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
}

// SharePage maps the view's page at gpa back onto shared RAM with
// protection prot, dropping a private copy.
func (v *View) SharePage(gpa uint64, prot int) error {
	return v.remap(gpa, prot, unix.MAP_SHARED)
}

func (v *View) remap(gpa uint64, prot, flags int) error {
	if gpa%PageSize != 0 || gpa >= uint64(len(v.b)) {
		return fmt.Errorf("remap guest page %#x: not a page of RAM", gpa)
	}
	if _, err := unix.MmapPtr(v.mem.fd, int64(gpa), unsafe.Pointer(&v.b[gpa]), PageSize, prot, flags|unix.MAP_FIXED); err != nil {
		return fmt.Errorf("remap guest page %#x: %w", gpa, err)
	}
	return nil
}

// Close unmaps the view.
func (v *View) Close() error {
	if v.b == nil {
		return nil
	}
	err := unix.Munmap(v.b)
	v.b = nil
	return err
}
