package virtio

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/crewvm/crewvm/vmm/abi"
)

// The virtio-mmio (version 2) register offsets within the device's
// window (virtio 1.x section 4.2.2), exported so that the machine core's
// tests and tools name them as the guest driver does.
const (
	RegMagicValue        = 0x000
	RegVersion           = 0x004
	RegDeviceID          = 0x008
	RegVendorID          = 0x00c
	RegDeviceFeatures    = 0x010
	RegDeviceFeaturesSel = 0x014
	RegDriverFeatures    = 0x020
	RegDriverFeaturesSel = 0x024
	RegQueueSel          = 0x030
	RegQueueNumMax       = 0x034
	RegQueueNum          = 0x038
	RegQueueReady        = 0x044
	RegQueueNotify       = 0x050
	RegInterruptStatus   = 0x060
	RegInterruptACK      = 0x064
	RegStatus            = 0x070
	RegQueueDescLow      = 0x080
	RegQueueDescHigh     = 0x084
	RegQueueDriverLow    = 0x090 // the available ring
	RegQueueDriverHigh   = 0x094
	RegQueueDeviceLow    = 0x0a0 // the used ring
	RegQueueDeviceHigh   = 0x0a4
	RegSHMSel            = 0x0ac
	RegSHMLenLow         = 0x0b0
	RegSHMLenHigh        = 0x0b4
	RegSHMBaseLow        = 0x0b8
	RegSHMBaseHigh       = 0x0bc
	RegConfigGeneration  = 0x0fc
	RegConfig            = 0x100 // the device-specific configuration space
)

// The identity of the device (guest/ABI.md, "The disk").
const (
	MagicValue = 0x74726976 // "virt"
	Version    = 2          // virtio-mmio with the virtio 1.x layout
	DeviceID   = 2          // block
	VendorID   = 0x57455243 // "CREW"
)

// The device status bits (virtio 1.x section 2.1). NeedsReset is the
// device's own: the driver cannot set or clear it except by a reset.
const (
	StatusAcknowledge = 0x01
	StatusDriver      = 0x02
	StatusDriverOK    = 0x04
	StatusFeaturesOK  = 0x08
	StatusNeedsReset  = 0x40
	StatusFailed      = 0x80
)

// Feature bits the device knows (virtio 1.x sections 5.2.3 and 6).
const (
	FeatureSegMax   = 1 << 2
	FeatureRO       = 1 << 5
	FeatureBlkSize  = 1 << 6
	FeatureFlush    = 1 << 9
	FeatureVersion1 = 1 << 32
)

// The block configuration the device reports (guest/ABI.md): a request
// has at most SegMax data segments, and sectors are BlkSize bytes.
const (
	SegMax  = 254
	BlkSize = abi.SectorSize
)

// Offsets within the configuration space (struct virtio_blk_config).
const (
	cfgCapacity = 0x00 // le64
	cfgSegMax   = 0x0c // le32
	cfgBlkSize  = 0x14 // le32
	cfgLen      = 0x18 // the fields up to blk_size; the rest reads 0
)

// Blk is a virtio-blk device: its register file and queue state. It is
// safe for concurrent use, because Read and Write come from the vCPU
// threads while Fetch, Serve and Complete run on the one device thread;
// Fetch and Complete are meant for that one thread and must not run
// concurrently with each other.
type Blk struct {
	capacity uint64 // sectors
	readOnly bool
	offered  uint64
	config   [cfgLen]byte

	mu         sync.Mutex
	status     uint32
	devFeatSel uint32
	drvFeatSel uint32
	drvFeat    uint64
	drvFeatBad bool // a bit above 63 was accepted
	queueSel   uint32
	q          queue
	// gen counts resets, so that a round that straddles one is dropped.
	gen uint64
}

// queue is queue 0: the driver's configuration and the device's indices.
type queue struct {
	num               uint32
	ready             bool
	desc, avail, used uint64
	lastAvail         uint16 // the next available ring slot the device takes
	usedIdx           uint16 // the used ring's idx the device last wrote
}

// NewBlk returns a device for a disk of size bytes, rounded down to whole
// sectors, offering VIRTIO_BLK_F_RO when readOnly. It starts reset.
func NewBlk(size uint64, readOnly bool) *Blk {
	b := &Blk{
		capacity: size / abi.SectorSize,
		readOnly: readOnly,
		offered:  FeatureVersion1 | FeatureSegMax | FeatureBlkSize | FeatureFlush,
	}
	if readOnly {
		b.offered |= FeatureRO
	}
	binary.LittleEndian.PutUint64(b.config[cfgCapacity:], b.capacity)
	binary.LittleEndian.PutUint32(b.config[cfgSegMax:], SegMax)
	binary.LittleEndian.PutUint32(b.config[cfgBlkSize:], BlkSize)
	b.reset()
	return b
}

// Capacity is the disk's size in sectors, as the config space reports it.
func (b *Blk) Capacity() uint64 { return b.capacity }

// ReadOnly says whether the disk refuses writes.
func (b *Blk) ReadOnly() bool { return b.readOnly }

// reset returns the device to its state after power-on (virtio 1.x
// section 2.4); b.mu is held or b is new.
func (b *Blk) reset() {
	b.gen++
	b.status = 0
	b.devFeatSel, b.drvFeatSel = 0, 0
	b.drvFeat, b.drvFeatBad = 0, false
	b.queueSel = 0
	b.q = queue{num: abi.VirtioQueueMax}
}

// Read serves a guest load of size bytes (1, 2, 4 or 8) at off within the
// register window. Registers are read 32 bits wide at aligned offsets;
// the config space is read at any width and alignment, byte by byte,
// as long as the access stays in the window. Anything else, and
// registers that are write-only or unknown, read 0, so that no load
// stops the guest.
func (b *Blk) Read(off uint64, size int) uint64 {
	if off >= RegConfig {
		return b.readConfig(off, size)
	}
	if size != 4 || off%4 != 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch off {
	case RegMagicValue:
		return MagicValue
	case RegVersion:
		return Version
	case RegDeviceID:
		return DeviceID
	case RegVendorID:
		return VendorID
	case RegDeviceFeatures:
		switch b.devFeatSel {
		case 0:
			return b.offered & 0xffffffff
		case 1:
			return b.offered >> 32
		}
	case RegQueueNumMax:
		if b.queueSel == 0 {
			return abi.VirtioQueueMax
		}
	case RegQueueReady:
		if b.queueSel == 0 && b.q.ready {
			return 1
		}
	case RegStatus:
		return uint64(b.status)
	case RegSHMLenLow, RegSHMLenHigh, RegSHMBaseLow, RegSHMBaseHigh:
		// No shared memory region exists: its length and base read -1.
		return 0xffffffff
	}
	// InterruptStatus and ConfigGeneration are 0 too: the device raises
	// no interrupts and its configuration never changes.
	return 0
}

// readConfig reads the config space, which never changes, so without
// the lock.
func (b *Blk) readConfig(off uint64, size int) uint64 {
	switch size {
	case 1, 2, 4, 8:
	default:
		return 0
	}
	if off >= abi.VirtioBlkSize || uint64(size) > abi.VirtioBlkSize-off {
		return 0
	}
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v <<= 8
		if c := off - RegConfig + uint64(i); c < cfgLen {
			v |= uint64(b.config[c])
		}
	}
	return v
}

// Write serves a guest store of size bytes at off. Registers are written
// 32 bits wide at aligned offsets; other stores, stores to read-only or
// unknown registers and to the config space (which has nothing
// writable) are ignored. notify is true for a write of 0 to QueueNotify
// that asks the device thread for a round. A non-nil error is a guest
// error the machine reports naming the vCPU: a QueueNum that is not a
// power of two from 1 to QueueNumMax, or a notify before FEATURES_OK,
// DRIVER_OK and QueueReady. A notify while the device needs a reset is
// no error: it asks for a round, which takes nothing.
func (b *Blk) Write(off uint64, size int, val uint64) (notify bool, err error) {
	if off >= RegConfig || size != 4 || off%4 != 0 {
		return false, nil
	}
	v := uint32(val)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch off {
	case RegDeviceFeaturesSel:
		b.devFeatSel = v
	case RegDriverFeaturesSel:
		b.drvFeatSel = v
	case RegDriverFeatures:
		// Once FEATURES_OK holds, the negotiated set is final (virtio
		// 1.x section 3.1.1).
		if b.status&StatusFeaturesOK != 0 {
			break
		}
		switch b.drvFeatSel {
		case 0:
			b.drvFeat = b.drvFeat&^0xffffffff | uint64(v)
		case 1:
			b.drvFeat = b.drvFeat&0xffffffff | uint64(v)<<32
		default:
			if v != 0 {
				b.drvFeatBad = true
			}
		}
	case RegQueueSel:
		b.queueSel = v
	case RegQueueNum:
		if b.queueSel != 0 {
			break
		}
		if v == 0 || v&(v-1) != 0 || v > abi.VirtioQueueMax {
			return false, fmt.Errorf("virtio-blk: QueueNum %d is not a power of two from 1 to %d", v, abi.VirtioQueueMax)
		}
		if !b.q.ready {
			b.q.num = v
		}
	case RegQueueReady:
		if b.queueSel == 0 {
			b.q.ready = v&1 != 0
		}
	case RegQueueDescLow, RegQueueDescHigh:
		b.setAddr(&b.q.desc, off == RegQueueDescHigh, v)
	case RegQueueDriverLow, RegQueueDriverHigh:
		b.setAddr(&b.q.avail, off == RegQueueDriverHigh, v)
	case RegQueueDeviceLow, RegQueueDeviceHigh:
		b.setAddr(&b.q.used, off == RegQueueDeviceHigh, v)
	case RegQueueNotify:
		return b.notify(v)
	case RegStatus:
		b.setStatus(v)
	}
	return false, nil
}

// setAddr writes one half of a queue address of queue 0. The driver may
// not move a queue it made ready (virtio 1.x section 4.2.2.2), so such
// writes are ignored.
func (b *Blk) setAddr(a *uint64, high bool, v uint32) {
	if b.queueSel != 0 || b.q.ready {
		return
	}
	if high {
		*a = *a&0xffffffff | uint64(v)<<32
	} else {
		*a = *a&^0xffffffff | uint64(v)
	}
}

// notify checks a write of v to QueueNotify.
func (b *Blk) notify(v uint32) (bool, error) {
	if v != 0 {
		return false, nil // no such queue
	}
	switch {
	case b.status&StatusFeaturesOK == 0:
		return false, fmt.Errorf("virtio-blk: queue notify before FEATURES_OK (status %#x)", b.status)
	case b.status&StatusDriverOK == 0:
		return false, fmt.Errorf("virtio-blk: queue notify before DRIVER_OK (status %#x)", b.status)
	case !b.q.ready:
		return false, fmt.Errorf("virtio-blk: queue notify before QueueReady")
	}
	return true, nil
}

// setStatus writes the device status: 0 resets the device, anything
// else is stored, except that FEATURES_OK does not stick unless the
// accepted features are acceptable and NEEDS_RESET is the device's.
func (b *Blk) setStatus(v uint32) {
	v &= 0xff
	if v == 0 {
		b.reset()
		return
	}
	v = v&^StatusNeedsReset | b.status&StatusNeedsReset
	if v&StatusFeaturesOK != 0 && !b.featuresOK() {
		v &^= StatusFeaturesOK
	}
	b.status = v
}

// featuresOK says whether the driver accepted VERSION_1 (this device has
// no legacy interface) and nothing the device did not offer.
func (b *Blk) featuresOK() bool {
	return !b.drvFeatBad && b.drvFeat&FeatureVersion1 != 0 && b.drvFeat&^b.offered == 0
}

// serving says whether the device takes requests from queue 0: the
// driver finished setting up and the device has not given up; b.mu is
// held.
func (b *Blk) serving() bool {
	const want = StatusFeaturesOK | StatusDriverOK
	return b.status&want == want && b.status&StatusNeedsReset == 0 && b.q.ready
}
