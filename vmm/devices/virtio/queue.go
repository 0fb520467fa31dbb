package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Memory is guest RAM as the device reaches it. On a recording each call
// takes the DMA actor's CREW rights to the pages it touches first.
type Memory interface {
	// ReadAt fills all of p from guest-physical address gpa, or fails
	// (for example when the range is not RAM).
	ReadAt(p []byte, gpa uint64) error
	// WriteAt writes all of p at gpa, or fails.
	WriteAt(p []byte, gpa uint64) error
}

// The request types (virtio 1.x section 5.2.6).
const (
	TypeIn    = 0
	TypeOut   = 1
	TypeFlush = 4
	TypeGetID = 8
)

// The request status values the device writes (virtio 1.x section
// 5.2.6).
const (
	StatusOK     = 0
	StatusIOErr  = 1
	StatusUnsupp = 2
)

// MaxRequestData bounds the data of one request, so that a hostile guest
// cannot make the VMM allocate without bound: a read or write whose
// segments add up to more completes with VIRTIO_BLK_S_IOERR, without
// the device allocating or copying anything for it. 4 MiB is three times
// the 1280 KiB a Linux guest sends at most by default.
const MaxRequestData = 4 << 20

// Descriptor flags (virtio 1.x section 2.7.5).
const (
	descNext     = 1
	descWrite    = 2
	descIndirect = 4
)

const (
	descSize   = 16 // struct virtq_desc
	headerSize = 16 // struct virtio_blk_req up to the data: type, reserved, sector
	usedElem   = 8  // struct virtq_used_elem
)

// Request is one request of a round: what Fetch parsed from a chain, the
// result Serve adds, and what Complete writes back.
type Request struct {
	// Type and Sector are the request header's.
	Type   uint32
	Sector uint64
	// Head is the index of the chain's first descriptor, the id of its
	// used ring element.
	Head uint16
	// Segments are the chain's data buffers in order: for IN and
	// GET_ID all device-writable, for OUT all device-readable, for
	// other types whatever the driver sent (they are not touched).
	Segments []Segment
	// DataLen is the segments' total length.
	DataLen uint64
	// StatusAddr is the guest-physical address of the status byte.
	StatusAddr uint64
	// Data is OUT's data as the guest wrote it (copied by Fetch; nil if
	// the request fails anyway), or what Serve produced for IN and
	// GET_ID.
	Data []byte
	// Status is the status byte Complete writes: StatusIOErr until Serve
	// sets it.
	Status uint8

	gen uint64 // the device's generation at Fetch
}

// Segment is one data buffer of a request in guest memory.
type Segment struct {
	Addr  uint64
	Len   uint32
	Write bool // device-writable
}

// Written is the number of data bytes Serve produced for the guest's
// buffers, which Complete writes: the data of an IN or the id of a
// GET_ID that succeeded, 0 otherwise. The used ring element's len is one
// more, for the status byte.
func (r *Request) Written() int {
	if r.Status != StatusOK || (r.Type != TypeIn && r.Type != TypeGetID) {
		return 0
	}
	return int(min(uint64(len(r.Data)), r.DataLen))
}

// Fetch takes every available chain of queue 0, the first phase of a
// round and one DMA transaction: the available ring's idx and entries,
// the descriptors (direct ones only), the request headers and the data
// of writes, which it copies. It returns the requests in ring order.
//
// A chain it cannot parse (a ring or descriptor outside RAM, a loop or a
// chain longer than the queue, an index outside the queue, an indirect
// descriptor, a header descriptor shorter than 16 bytes or
// device-writable, a last descriptor that is not 1 device-writable
// status byte, a data descriptor of the wrong direction for the type)
// sets DEVICE_NEEDS_RESET, stops the queue until the driver resets the
// device, and ends the round: Fetch returns the requests before that
// chain, to be served and completed as usual, and an error saying why.
// A device that is not set up, needs a reset, or is reset while Fetch
// runs, gives nothing and no error.
func (b *Blk) Fetch(mem Memory) ([]*Request, error) {
	b.mu.Lock()
	if !b.serving() {
		b.mu.Unlock()
		return nil, nil
	}
	q, gen := b.q, b.gen
	b.mu.Unlock()

	reqs, last, err := b.fetch(mem, &q, gen)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != gen {
		return nil, nil
	}
	b.q.lastAvail = last
	if err != nil {
		b.status |= StatusNeedsReset
		return reqs, fmt.Errorf("virtio-blk: %w; the device needs a reset", err)
	}
	return reqs, nil
}

// fetch parses the chains of q from q.lastAvail on and returns them and
// the new last available index.
func (b *Blk) fetch(mem Memory, q *queue, gen uint64) ([]*Request, uint16, error) {
	last := q.lastAvail
	if err := q.checkRings(); err != nil {
		return nil, last, err
	}
	var idx [2]byte
	if err := mem.ReadAt(idx[:], q.avail+2); err != nil {
		return nil, last, fmt.Errorf("reading the available ring's idx at %#x: %w", q.avail+2, err)
	}
	availIdx := binary.LittleEndian.Uint16(idx[:])
	n := availIdx - last
	if n == 0 {
		return nil, last, nil
	}
	if uint32(n) > q.num {
		return nil, last, fmt.Errorf("the available ring's idx %d is %d entries ahead of the device's %d, more than the queue size %d",
			availIdx, n, last, q.num)
	}

	// The ring entries, in at most two reads: up to the ring's end, then
	// from its start.
	heads := make([]byte, 2*int(n))
	slot := uint32(last) % q.num
	first := min(uint32(n), q.num-slot)
	if err := mem.ReadAt(heads[:2*first], q.avail+4+2*uint64(slot)); err != nil {
		return nil, last, fmt.Errorf("reading the available ring's entries from slot %d: %w", slot, err)
	}
	if first < uint32(n) {
		if err := mem.ReadAt(heads[2*first:], q.avail+4); err != nil {
			return nil, last, fmt.Errorf("reading the available ring's entries from slot 0: %w", err)
		}
	}

	reqs := make([]*Request, 0, n)
	for k := range uint32(n) {
		head := binary.LittleEndian.Uint16(heads[2*k:])
		r, err := b.parseChain(mem, q, head)
		if err != nil {
			return reqs, last, fmt.Errorf("the chain in available ring slot %d (head %d): %w", uint32(last)%q.num, head, err)
		}
		r.gen = gen
		reqs = append(reqs, r)
		last++
	}
	return reqs, last, nil
}

// checkRings checks that none of q's three areas wraps around the
// address space, so that no address computed inside them does.
func (q *queue) checkRings() error {
	n := uint64(q.num)
	for _, a := range []struct {
		name       string
		base, size uint64
	}{
		{"descriptor table", q.desc, descSize * n},
		{"available ring", q.avail, 4 + 2*n},
		{"used ring", q.used, 4 + usedElem*n},
	} {
		if a.base > math.MaxUint64-a.size {
			return fmt.Errorf("the %s at %#x wraps around the address space", a.name, a.base)
		}
	}
	return nil
}

// desc is a descriptor as the driver wrote it.
type desc struct {
	addr  uint64
	len   uint32
	flags uint16
	next  uint16
}

// parseChain reads and checks the chain that starts at descriptor head.
func (b *Blk) parseChain(mem Memory, q *queue, head uint16) (*Request, error) {
	if uint32(head) >= q.num {
		return nil, fmt.Errorf("head index %d is outside the queue of %d", head, q.num)
	}
	var descs []desc
	for i := head; ; {
		if len(descs) == int(q.num) {
			return nil, fmt.Errorf("the chain is longer than the queue of %d (a loop?)", q.num)
		}
		var raw [descSize]byte
		at := q.desc + descSize*uint64(i)
		if err := mem.ReadAt(raw[:], at); err != nil {
			return nil, fmt.Errorf("reading descriptor %d at %#x: %w", i, at, err)
		}
		d := desc{
			addr:  binary.LittleEndian.Uint64(raw[0:]),
			len:   binary.LittleEndian.Uint32(raw[8:]),
			flags: binary.LittleEndian.Uint16(raw[12:]),
			next:  binary.LittleEndian.Uint16(raw[14:]),
		}
		if d.flags&descIndirect != 0 {
			return nil, fmt.Errorf("descriptor %d is indirect, and VIRTIO_F_INDIRECT_DESC was not offered", i)
		}
		if d.addr > math.MaxUint64-uint64(d.len) {
			return nil, fmt.Errorf("descriptor %d's buffer at %#x (%d bytes) wraps around the address space", i, d.addr, d.len)
		}
		descs = append(descs, d)
		if d.flags&descNext == 0 {
			break
		}
		if uint32(d.next) >= q.num {
			return nil, fmt.Errorf("descriptor %d's next index %d is outside the queue of %d", i, d.next, q.num)
		}
		i = d.next
	}

	if len(descs) < 2 {
		return nil, errors.New("the chain is one descriptor: it has no room for both the header and the status byte")
	}
	h, st := descs[0], descs[len(descs)-1]
	if h.flags&descWrite != 0 {
		return nil, errors.New("the header descriptor is device-writable")
	}
	if h.len < headerSize {
		return nil, fmt.Errorf("the header descriptor is %d bytes, less than %d", h.len, headerSize)
	}
	if st.flags&descWrite == 0 || st.len != 1 {
		return nil, fmt.Errorf("the last descriptor (%d bytes, %s) is not the 1 device-writable status byte", st.len, direction(st.flags))
	}
	var hdr [headerSize]byte
	if err := mem.ReadAt(hdr[:], h.addr); err != nil {
		return nil, fmt.Errorf("reading the request header at %#x: %w", h.addr, err)
	}
	r := &Request{
		Type:       binary.LittleEndian.Uint32(hdr[0:]),
		Sector:     binary.LittleEndian.Uint64(hdr[8:]),
		Head:       head,
		StatusAddr: st.addr,
		Status:     StatusIOErr,
	}
	// Bytes of the header descriptor after the header are data (there is
	// no fixed framing in virtio 1.x, section 2.6.4), device-readable.
	if h.len > headerSize {
		r.Segments = append(r.Segments, Segment{Addr: h.addr + headerSize, Len: h.len - headerSize})
	}
	for _, d := range descs[1 : len(descs)-1] {
		r.Segments = append(r.Segments, Segment{Addr: d.addr, Len: d.len, Write: d.flags&descWrite != 0})
	}
	for _, s := range r.Segments {
		r.DataLen += uint64(s.Len)
	}

	var want bool // the direction the type's data has
	switch r.Type {
	case TypeIn, TypeGetID:
		want = true
	case TypeOut:
		want = false
	default:
		return r, nil // FLUSH has no data and unknown types are not served: any goes
	}
	for _, s := range r.Segments {
		if s.Write != want {
			return nil, fmt.Errorf("a data buffer at %#x of a type %d request is %s", s.Addr, r.Type, direction(descFlags(s.Write)))
		}
	}
	if r.Type == TypeOut && b.check(r) == StatusOK {
		r.Data = make([]byte, r.DataLen)
		off := 0
		for _, s := range r.Segments {
			if err := mem.ReadAt(r.Data[off:off+int(s.Len)], s.Addr); err != nil {
				return nil, fmt.Errorf("reading %d bytes of write data at %#x: %w", s.Len, s.Addr, err)
			}
			off += int(s.Len)
		}
	}
	return r, nil
}

func descFlags(write bool) uint16 {
	if write {
		return descWrite
	}
	return 0
}

func direction(flags uint16) string {
	if flags&descWrite != 0 {
		return "device-writable"
	}
	return "device-readable"
}

// Complete writes a round's results, the third phase and one DMA
// transaction: for each request in order its data (IN's sectors,
// GET_ID's id) into the guest's buffers, its status byte and its used
// ring element (the id its head index, the len the bytes written
// including the status byte); then the used ring's idx, once, if any
// request was completed. Requests fetched before a reset are dropped. A
// buffer or used ring outside RAM sets DEVICE_NEEDS_RESET and returns
// an error; the requests completed before it are published.
//
// A reset that comes while Complete is writing cannot stop the writes
// already under way; it only keeps Complete from recording the new used
// idx.
func (b *Blk) Complete(mem Memory, reqs []*Request) error {
	b.mu.Lock()
	q, gen := b.q, b.gen
	b.mu.Unlock()

	err := q.checkRings()
	idx := q.usedIdx
	done := 0
	for _, r := range reqs {
		if err != nil {
			break
		}
		if r == nil || r.gen != gen {
			continue
		}
		if err = q.complete(mem, r, idx); err != nil {
			err = fmt.Errorf("completing the request of head %d: %w", r.Head, err)
			break
		}
		idx++
		done++
	}
	if done > 0 {
		var raw [2]byte
		binary.LittleEndian.PutUint16(raw[:], idx)
		if werr := mem.WriteAt(raw[:], q.used+2); werr != nil && err == nil {
			err = fmt.Errorf("writing the used ring's idx at %#x: %w", q.used+2, werr)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != gen {
		return nil
	}
	b.q.usedIdx = idx
	if err != nil {
		b.status |= StatusNeedsReset
		return fmt.Errorf("virtio-blk: %w; the device needs a reset", err)
	}
	return nil
}

// complete writes r's data, status and used ring element at used ring
// index idx.
func (q *queue) complete(mem Memory, r *Request, idx uint16) error {
	n := r.Written()
	data := r.Data[:n]
	for _, s := range r.Segments {
		if len(data) == 0 {
			break
		}
		if !s.Write {
			continue
		}
		k := min(int(s.Len), len(data))
		if err := mem.WriteAt(data[:k], s.Addr); err != nil {
			return fmt.Errorf("writing %d bytes of data at %#x: %w", k, s.Addr, err)
		}
		data = data[k:]
	}
	n -= len(data) // what did not fit, if a caller's Data outgrew the buffers
	if err := mem.WriteAt([]byte{r.Status}, r.StatusAddr); err != nil {
		return fmt.Errorf("writing the status byte at %#x: %w", r.StatusAddr, err)
	}
	var elem [usedElem]byte
	binary.LittleEndian.PutUint32(elem[0:], uint32(r.Head))
	binary.LittleEndian.PutUint32(elem[4:], uint32(n)+1)
	at := q.used + 4 + usedElem*uint64(uint32(idx)%q.num)
	if err := mem.WriteAt(elem[:], at); err != nil {
		return fmt.Errorf("writing used ring element %d at %#x: %w", idx, at, err)
	}
	return nil
}
