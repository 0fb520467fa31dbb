package machine

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/devices/virtio"
)

// Disk is the guest's virtio-blk disk (guest/ABI.md, "The disk").
type Disk struct {
	// Size is the image's size in bytes.
	Size     uint64
	ReadOnly bool
	// Image backs the disk. A replay has none: its engine re-performs
	// the recorded transfers (Engine.DMA is nil), and the device only
	// answers register reads, which the log overrides.
	Image virtio.Image
}

// OpenDisk opens the image file at path as a disk, read-only when
// readOnly is set; the file's size is the disk's.
func OpenDisk(path string, readOnly bool) (*Disk, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("--disk: %w", err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() && st.Mode()&os.ModeDevice == 0 {
		err = fmt.Errorf("not a regular file or a block device")
	}
	size := st.Size()
	if err == nil && st.Mode()&os.ModeDevice != 0 {
		size, err = f.Seek(0, io.SeekEnd)
	}
	if err == nil && size < abi.SectorSize {
		err = fmt.Errorf("%d bytes: a disk holds at least one %d-byte sector", size, abi.SectorSize)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("--disk %s: %w", path, err)
	}
	return &Disk{Size: uint64(size), ReadOnly: readOnly, Image: f}, nil
}

// Close closes the disk's image, if it has one that closes; a nil disk
// has nothing to close.
func (d *Disk) Close() error {
	if d == nil {
		return nil
	}
	if c, ok := d.Image.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// DMA is how a device reaches guest memory. It is the engine's, so that
// a recording orders every transfer with the vCPUs as CREW's DMA actor.
type DMA interface {
	// Transfer runs fn as one transaction of the device and returns its
	// number (1, 2, ...): the DMA actor's position once it is done.
	Transfer(fn func(mem virtio.Memory) error) (uint64, error)
}

// disk is the device and the thread that serves it.
type disk struct {
	blk   *virtio.Blk
	image virtio.Image
	// kick asks the device thread for a round; notified holds the vCPUs
	// that wrote QueueNotify since the current round began.
	kick     chan struct{}
	mu       sync.Mutex
	notified []bool
}

func newDisk(d *Disk, cpus int) *disk {
	return &disk{blk: virtio.NewBlk(d.Size, d.ReadOnly), image: d.Image, kick: make(chan struct{}, 1),
		notified: make([]bool, cpus)}
}

// Actors is the number of actors CREW orders: the vCPUs, and the DMA
// actor when the guest has a disk.
func (m *Machine) Actors() int {
	if m.disk != nil {
		return len(m.cpus) + 1
	}
	return len(m.cpus)
}

// DMAActor is the DMA actor's number, after the vCPUs'; it means
// nothing without a disk.
func (m *Machine) DMAActor() int { return len(m.cpus) }

// mmio serves c's MMIO exit: the disk's registers, or an error for an
// address that is neither RAM nor the disk.
func (m *Machine) mmio(c *VCPU) error {
	run := c.kvm.RunData()
	gpa := run.Data[0]
	size := int(uint32(run.Data[2]))
	write := byte(run.Data[2]>>32) != 0
	in := gpa >= abi.VirtioBlkAddr && gpa-abi.VirtioBlkAddr < abi.VirtioBlkSize
	if !in || size < 1 || size > 8 {
		what := "read"
		if write {
			what = "write"
		}
		return c.GuestError("%d-byte %s of guest-physical address %#x, which is not RAM (%#x bytes)", size, what, gpa, m.cfg.MemSize)
	}
	off := gpa - abi.VirtioBlkAddr
	if m.disk == nil {
		// The placeholder of guest/ABI.md: constant, so nothing to log.
		if !write {
			run.Data[1] = virtio.Placeholder(off, size)
		}
		return nil
	}
	// kvm_run's data holds the access's bytes, little-endian, and stale
	// ones above them.
	mask := ^uint64(0) >> (64 - 8*size)
	if write {
		notify, err := m.disk.blk.Write(off, size, run.Data[1]&mask)
		if err != nil {
			return c.GuestError("%v", err)
		}
		if notify {
			m.notifyDisk(c)
		}
		return nil
	}
	v, err := m.engine.Input(c, Input{Kind: replaylog.KindMMIORead, Addr: gpa, Size: size, Live: m.disk.blk.Read(off, size)})
	if err != nil {
		return err
	}
	run.Data[1] = v & mask
	return nil
}

// notifyDisk asks the device thread for a round on behalf of c.
func (m *Machine) notifyDisk(c *VCPU) {
	d := m.disk
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notified[c.id] = true
	m.halts.deviceBusy(true)
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// serveDisk is the device thread: one round per kick, each two
// transfers (take the available chains, complete them) around the disk
// I/O, then the wakes of the vCPUs that asked for the round.
func (m *Machine) serveDisk(dma DMA, stderr io.Writer) {
	d := m.disk
	// warn reports what the device could not parse: the guest's doing,
	// which the device answers with DEVICE_NEEDS_RESET.
	warn := func(bad error, wake []int) {
		if bad != nil {
			fmt.Fprintf(stderr, "vmm: queue 0 notified by vCPU %v: %v\n", wake, bad)
		}
	}
	for {
		select {
		case <-m.stop:
			return
		case <-d.kick:
		}
		d.mu.Lock()
		var wake []int
		for cpu, n := range d.notified {
			if n {
				wake = append(wake, cpu)
				d.notified[cpu] = false
			}
		}
		d.mu.Unlock()
		var reqs []*virtio.Request
		var bad error
		if _, err := dma.Transfer(func(mem virtio.Memory) error {
			reqs, bad = d.blk.Fetch(mem)
			return nil
		}); err != nil {
			m.Finish(0, fmt.Errorf("virtio-blk: %w", err))
			return
		}
		warn(bad, wake)
		for _, r := range reqs {
			d.blk.Serve(r, d.image)
		}
		pos, err := dma.Transfer(func(mem virtio.Memory) error {
			bad = d.blk.Complete(mem, reqs)
			return nil
		})
		if err != nil {
			m.Finish(0, fmt.Errorf("virtio-blk: %w", err))
			return
		}
		warn(bad, wake)
		for _, cpu := range wake {
			m.halts.wakeCPU(cpu, Waker{CPU: m.DMAActor(), Exits: pos})
		}
		d.mu.Lock()
		if len(d.kick) == 0 {
			m.halts.deviceBusy(false)
		}
		d.mu.Unlock()
	}
}
