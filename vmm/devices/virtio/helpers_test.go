package virtio

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// ram is guest RAM from address 0, as the machine's Memory serves it.
type ram []byte

var errOutside = errors.New("outside RAM")

func (r ram) ReadAt(p []byte, gpa uint64) error {
	if gpa > uint64(len(r)) || uint64(len(p)) > uint64(len(r))-gpa {
		return errOutside
	}
	copy(p, r[gpa:])
	return nil
}

func (r ram) WriteAt(p []byte, gpa uint64) error {
	if gpa > uint64(len(r)) || uint64(len(p)) > uint64(len(r))-gpa {
		return errOutside
	}
	copy(r[gpa:], p)
	return nil
}

func (r ram) u16(gpa uint64) uint16 { return binary.LittleEndian.Uint16(r[gpa:]) }
func (r ram) u32(gpa uint64) uint32 { return binary.LittleEndian.Uint32(r[gpa:]) }

// image is a disk image in memory; err makes every access fail.
type image struct {
	b     []byte
	syncs int
	err   error
}

func (m *image) ReadAt(p []byte, off int64) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if off < 0 || off > int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *image) WriteAt(p []byte, off int64) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if off < 0 || off > int64(len(m.b)) {
		return 0, io.ErrShortWrite
	}
	n := copy(m.b[off:], p)
	if n < len(p) {
		return n, io.ErrShortWrite
	}
	return n, nil
}

func (m *image) Sync() error {
	m.syncs++
	return m.err
}

// testImage is the `vmm disk make` image of the given number of sectors.
func testImage(sectors uint64) *image {
	m := &image{b: make([]byte, sectors*512)}
	for i := range sectors {
		FillSector(i, m.b[i*512:])
	}
	return m
}

// The guest layout the driver helper uses.
const (
	ramSize   = 1 << 20
	descAddr  = 0x1000
	availAddr = 0x2000
	usedAddr  = 0x3000
	bufAddr   = 0x10000
)

// driver plays the guest's driver: it sets the device up and puts chains
// on the available ring.
type driver struct {
	t        *testing.T
	b        *Blk
	mem      ram
	num      uint16
	nextDesc uint16
	availIdx uint16
	bump     uint64 // the next free buffer address
}

func mustWrite(t *testing.T, b *Blk, off, val uint64) {
	t.Helper()
	if _, err := b.Write(off, 4, val); err != nil {
		t.Fatalf("write %#x to %#x: %v", val, off, err)
	}
}

// setup runs the set-up sequence of guest/ABI.md for a queue of num.
func setup(t *testing.T, b *Blk, mem ram, num uint16) *driver {
	t.Helper()
	mustWrite(t, b, RegStatus, 0)
	mustWrite(t, b, RegStatus, StatusAcknowledge)
	mustWrite(t, b, RegStatus, StatusAcknowledge|StatusDriver)
	mustWrite(t, b, RegDeviceFeaturesSel, 0)
	lo := b.Read(RegDeviceFeatures, 4)
	mustWrite(t, b, RegDeviceFeaturesSel, 1)
	hi := b.Read(RegDeviceFeatures, 4)
	mustWrite(t, b, RegDriverFeaturesSel, 0)
	mustWrite(t, b, RegDriverFeatures, lo)
	mustWrite(t, b, RegDriverFeaturesSel, 1)
	mustWrite(t, b, RegDriverFeatures, hi)
	mustWrite(t, b, RegStatus, StatusAcknowledge|StatusDriver|StatusFeaturesOK)
	if b.Read(RegStatus, 4)&StatusFeaturesOK == 0 {
		t.Fatal("FEATURES_OK was cleared")
	}
	mustWrite(t, b, RegQueueSel, 0)
	mustWrite(t, b, RegQueueNum, uint64(num))
	mustWrite(t, b, RegQueueDescLow, descAddr)
	mustWrite(t, b, RegQueueDescHigh, 0)
	mustWrite(t, b, RegQueueDriverLow, availAddr)
	mustWrite(t, b, RegQueueDriverHigh, 0)
	mustWrite(t, b, RegQueueDeviceLow, usedAddr)
	mustWrite(t, b, RegQueueDeviceHigh, 0)
	mustWrite(t, b, RegQueueReady, 1)
	mustWrite(t, b, RegStatus, StatusAcknowledge|StatusDriver|StatusFeaturesOK|StatusDriverOK)
	clear(mem[descAddr:bufAddr])
	return &driver{t: t, b: b, mem: mem, num: num, bump: bufAddr}
}

// buf is a descriptor to be.
type buf struct {
	addr  uint64
	len   uint32
	write bool
}

// alloc reserves n bytes of buffer space.
func (d *driver) alloc(n uint64) uint64 {
	a := d.bump
	d.bump += (n + 15) &^ 15
	return a
}

// putDesc writes descriptor i as given.
func (d *driver) putDesc(i uint16, addr uint64, n uint32, flags, next uint16) {
	p := d.mem[descAddr+16*uint64(i):]
	binary.LittleEndian.PutUint64(p[0:], addr)
	binary.LittleEndian.PutUint32(p[8:], n)
	binary.LittleEndian.PutUint16(p[12:], flags)
	binary.LittleEndian.PutUint16(p[14:], next)
}

// chain writes bufs as a chain of fresh descriptors and returns its head.
func (d *driver) chain(bufs ...buf) uint16 {
	head := d.nextDesc
	for k, b := range bufs {
		i := (d.nextDesc) % d.num
		d.nextDesc++
		var flags uint16
		if b.write {
			flags |= descWrite
		}
		if k < len(bufs)-1 {
			flags |= descNext
		}
		d.putDesc(i, b.addr, b.len, flags, d.nextDesc%d.num)
	}
	return head % d.num
}

// offer puts head on the available ring.
func (d *driver) offer(head uint16) {
	binary.LittleEndian.PutUint16(d.mem[availAddr+4+2*uint64(d.availIdx%d.num):], head)
	d.availIdx++
	binary.LittleEndian.PutUint16(d.mem[availAddr+2:], d.availIdx)
}

// req is a request the driver made: where its parts are.
type req struct {
	head   uint16
	data   uint64
	status uint64
}

// request makes a well-formed request with dataLen bytes of data in
// segs segments of equal size, writable for IN and GET_ID, fills OUT's
// data from fill, and offers it.
func (d *driver) request(typ uint32, sector uint64, dataLen uint32, segs int, fill []byte) req {
	hdr := d.alloc(16)
	binary.LittleEndian.PutUint32(d.mem[hdr:], typ)
	binary.LittleEndian.PutUint64(d.mem[hdr+8:], sector)
	data := d.alloc(uint64(dataLen))
	copy(d.mem[data:data+uint64(dataLen)], fill)
	st := d.alloc(1)
	d.mem[st] = 0xff
	bufs := []buf{{hdr, 16, false}}
	write := typ != TypeOut
	for k := range segs {
		n := dataLen / uint32(segs)
		bufs = append(bufs, buf{data + uint64(k)*uint64(n), n, write})
	}
	bufs = append(bufs, buf{st, 1, true})
	r := req{head: d.chain(bufs...), data: data, status: st}
	d.offer(r.head)
	return r
}

// round runs Fetch, Serve and Complete as the device thread does.
func round(t *testing.T, b *Blk, mem Memory, img Image) ([]*Request, error) {
	t.Helper()
	reqs, ferr := b.Fetch(mem)
	for _, r := range reqs {
		b.Serve(r, img)
	}
	if err := b.Complete(mem, reqs); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	return reqs, ferr
}

// used returns used ring element k: id and len.
func (d *driver) used(k uint16) (uint32, uint32) {
	a := usedAddr + 4 + 8*uint64(k%d.num)
	return d.mem.u32(a), d.mem.u32(a + 4)
}
