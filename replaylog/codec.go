package replaylog

import (
	"encoding/binary"
	"fmt"
)

// Event encoding inside a BlockEvents payload. Each event is
//
//	uvarint  length of the rest
//	byte     kind (low 6 bits; 63 = an extended kind varint follows)
//	         | position kind << 6
//	uvarint  vCPU + 1 (0 = NoVCPU)
//	[position]  when the position kind is not PosNone
//	payload  per kind, see appendEvent
//
// The length prefix lets a reader skip kinds it does not know and lets a
// newer minor version append fields to a kind. Positions, clock values,
// addresses and page numbers are deltas against the previous value in the
// same block (exit counts per vCPU); the contexts reset at every block so
// that each block decodes on its own after a seek.

// deltaState holds the delta contexts of one block.
type deltaState struct {
	exits []uint64 // last exit count, per vCPU
	clock uint64
	addr  uint64
	page  uint64
}

func (d *deltaState) reset(vcpus int) {
	if cap(d.exits) < vcpus {
		d.exits = make([]uint64, vcpus)
	} else {
		d.exits = d.exits[:vcpus]
		clear(d.exits)
	}
	d.clock, d.addr, d.page = 0, 0, 0
}

func appendZigzag(b []byte, v int64) []byte {
	return binary.AppendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// appendPos encodes the body of a position of vcpu; the caller encodes its
// kind.
func (d *deltaState) appendPos(b []byte, vcpu uint32, p *Position) []byte {
	b = appendZigzag(b, int64(p.Exits-d.exits[vcpu]))
	d.exits[vcpu] = p.Exits
	if p.Kind == PosState {
		for _, r := range p.Regs.GPR {
			b = binary.AppendUvarint(b, r)
		}
		b = binary.AppendUvarint(b, p.Regs.RIP)
		b = binary.AppendUvarint(b, p.Regs.RFLAGS)
		b = binary.LittleEndian.AppendUint64(b, p.MemHash)
		b = binary.AppendUvarint(b, p.Seq)
	}
	return b
}

func (d *deltaState) appendConstraints(b []byte, cs []Constraint) []byte {
	b = binary.AppendUvarint(b, uint64(len(cs)))
	for i := range cs {
		c := &cs[i]
		b = binary.AppendUvarint(b, uint64(c.VCPU)<<2|uint64(c.Pos.Kind))
		b = d.appendPos(b, c.VCPU, &c.Pos)
	}
	return b
}

// appendEvent encodes e, which validateEvent accepted, at the end of b.
func (d *deltaState) appendEvent(b []byte, e *Event) []byte {
	start := len(b)
	b = append(b, 0, byte(e.Kind)|byte(e.Pos.Kind)<<6)
	b = binary.AppendUvarint(b, uint64(e.VCPU+1))
	if e.Pos.Kind != PosNone {
		b = d.appendPos(b, e.VCPU, &e.Pos)
	}
	switch e.Kind {
	case KindPortIn:
		b = binary.AppendUvarint(b, uint64(e.Port))
		b = append(b, e.Size)
		b = binary.AppendUvarint(b, e.Value)
	case KindMMIORead:
		b = appendZigzag(b, int64(e.Addr-d.addr))
		d.addr = e.Addr
		b = appendBytes(b, e.Data)
	case KindClock:
		b = appendZigzag(b, int64(e.Value-d.clock))
		d.clock = e.Value
	case KindHypercall, KindTSC:
		b = binary.AppendUvarint(b, e.Nr)
		b = binary.AppendUvarint(b, e.Value)
	case KindInterrupt:
		b = append(b, e.Vector)
	case KindDMA:
		b = binary.AppendUvarint(b, uint64(e.Device))
		b = appendZigzag(b, int64(e.Addr-d.addr))
		d.addr = e.Addr
		b = appendBytes(b, e.Data)
		b = d.appendConstraints(b, e.Constraints)
	case KindConsoleInput:
		b = appendBytes(b, e.Data)
	case KindCREW:
		b = appendZigzag(b, int64(e.Page-d.page))
		d.page = e.Page
		b = append(b, byte(e.Access)|byte(e.State)<<2)
		b = d.appendConstraints(b, e.Constraints)
	case KindWake:
		b = d.appendConstraints(b, e.Constraints)
	case KindStateHash:
		b = binary.LittleEndian.AppendUint64(b, e.Hash)
		if e.HasMemHash {
			b = append(b, 1)
			b = binary.LittleEndian.AppendUint64(b, e.MemHash)
		} else {
			b = append(b, 0)
		}
	case KindRegionBegin, KindRegionEnd, KindLabel:
		b = appendZigzag(b, int64(e.Addr-d.addr))
		d.addr = e.Addr
		b = binary.AppendUvarint(b, e.Len)
		b = binary.AppendUvarint(b, uint64(len(e.Name)))
		b = append(b, e.Name...)
	case KindGuestExit:
		b = binary.AppendUvarint(b, e.Value)
	case KindAccess:
		b = binary.AppendUvarint(b, e.Value)
		b = binary.AppendUvarint(b, e.Nr)
		b = appendZigzag(b, int64(e.Addr-d.addr))
		d.addr = e.Addr
		b = binary.AppendUvarint(b, e.Len)
		b = append(b, byte(e.Access))
		b = appendBytes(b, e.Data)
	case KindEnd:
	}
	n := len(b) - start - 1
	if n < 0x80 {
		b[start] = byte(n)
		return b
	}
	// Rare (large data): the length needs more than one byte, so shift
	// the body to make room.
	var tmp [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(tmp[:], uint64(n))
	b = append(b, tmp[:l-1]...)
	copy(b[start+l:], b[start+1:start+1+n])
	copy(b[start:], tmp[:l])
	return b
}

// validateEvent checks e against the header before anything is encoded, so
// that a bad event is refused without damaging the block being built.
func validateEvent(h *Header, e *Event) error {
	if !e.Kind.Known() {
		return fmt.Errorf("unknown event kind %d", e.Kind)
	}
	if e.VCPU >= h.Actors() && e.VCPU != NoVCPU {
		return fmt.Errorf("%s event: vCPU %d out of range (log has %d)", e.Kind, e.VCPU, h.Actors())
	}
	if e.Pos.Kind > PosState {
		return fmt.Errorf("%s event: bad position kind %d", e.Kind, e.Pos.Kind)
	}
	if e.Pos.Kind != PosNone && e.VCPU == NoVCPU {
		return fmt.Errorf("%s event: a position needs a vCPU", e.Kind)
	}
	switch e.Kind {
	case KindInterrupt, KindCREW, KindStateHash, KindWake, KindAccess:
		if e.Pos.Kind == PosNone {
			return fmt.Errorf("%s event: position required", e.Kind)
		}
	case KindPortIn:
		if e.Size != 1 && e.Size != 2 && e.Size != 4 {
			return fmt.Errorf("port-in event: size %d is not 1, 2 or 4", e.Size)
		}
	}
	if len(e.Data) > MaxEventData {
		return fmt.Errorf("%s event: %d data bytes exceed %d", e.Kind, len(e.Data), MaxEventData)
	}
	if len(e.Name) > MaxName {
		return fmt.Errorf("%s event: name of %d bytes exceeds %d", e.Kind, len(e.Name), MaxName)
	}
	switch e.Kind {
	case KindAccess:
		if e.Access < AccessRead || e.Access > AccessRMW {
			return fmt.Errorf("access event: bad access kind %d", e.Access)
		}
		if e.Len == 0 || e.Len > MaxEventData || e.Data != nil && uint64(len(e.Data)) != e.Len {
			return fmt.Errorf("access event: %d data bytes for an access of %d", len(e.Data), e.Len)
		}
	case KindCREW:
		if e.Access < AccessRead || e.Access > AccessFetch {
			return fmt.Errorf("crew event: bad access kind %d", e.Access)
		}
		if e.State != PageShared && e.State != PageExclusive {
			return fmt.Errorf("crew event: bad page state %d", e.State)
		}
		fallthrough
	case KindDMA, KindWake:
		if len(e.Constraints) > int(h.Actors()) {
			return fmt.Errorf("%s event: %d constraints for %d actors", e.Kind, len(e.Constraints), h.Actors())
		}
		for i := range e.Constraints {
			c := &e.Constraints[i]
			if c.VCPU >= h.Actors() {
				return fmt.Errorf("%s event: constraint on vCPU %d out of range", e.Kind, c.VCPU)
			}
			if c.Pos.Kind != PosExit && c.Pos.Kind != PosState {
				return fmt.Errorf("%s event: constraint on vCPU %d without a position", e.Kind, c.VCPU)
			}
		}
	}
	return nil
}

// cursor reads varints and byte strings from a buffer. A failed read sets
// bad and moves to the end, so later reads return zeros: callers check bad
// once per record instead of after every field, and nothing can index out
// of range.
type cursor struct {
	b   []byte
	i   int
	bad bool
}

func (c *cursor) fail() {
	c.bad = true
	c.i = len(c.b)
}

func (c *cursor) more() bool { return c.i < len(c.b) }

func (c *cursor) uvarint() uint64 {
	if c.i < len(c.b) && c.b[c.i] < 0x80 {
		v := c.b[c.i]
		c.i++
		return uint64(v)
	}
	v, n := binary.Uvarint(c.b[c.i:])
	if n <= 0 {
		c.fail()
		return 0
	}
	c.i += n
	return v
}

func (c *cursor) zigzag() int64 {
	u := c.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (c *cursor) byte1() byte {
	if c.i >= len(c.b) {
		c.fail()
		return 0
	}
	v := c.b[c.i]
	c.i++
	return v
}

func (c *cursor) u64() uint64 {
	if len(c.b)-c.i < 8 {
		c.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(c.b[c.i:])
	c.i += 8
	return v
}

// bytes returns the next n bytes, aliasing the buffer (capacity clipped so
// that an append by the caller cannot overwrite what follows).
func (c *cursor) bytes(n uint64) []byte {
	if n > uint64(len(c.b)-c.i) {
		c.fail()
		return nil
	}
	j := c.i + int(n)
	p := c.b[c.i:j:j]
	c.i = j
	return p
}

// eventDecoder decodes the events of one block.
type eventDecoder struct {
	c     cursor
	d     deltaState
	vcpus uint32
	// lenient accepts trailing bytes in known kinds: set when the log is
	// of a newer minor version, which may append fields.
	lenient bool
}

func (x *eventDecoder) reset(payload []byte, vcpus uint32, lenient bool) {
	x.c = cursor{b: payload}
	x.vcpus = vcpus
	x.lenient = lenient
	x.d.reset(int(vcpus))
}

// pos decodes a position body of vcpu whose kind was already read.
func (x *eventDecoder) pos(c *cursor, vcpu uint32, k PosKind, p *Position) {
	p.Kind = k
	p.Exits = x.d.exits[vcpu] + uint64(c.zigzag())
	x.d.exits[vcpu] = p.Exits
	if k == PosState {
		for i := range p.Regs.GPR {
			p.Regs.GPR[i] = c.uvarint()
		}
		p.Regs.RIP = c.uvarint()
		p.Regs.RFLAGS = c.uvarint()
		p.MemHash = c.u64()
		p.Seq = c.uvarint()
	}
}

func (x *eventDecoder) constraints(c *cursor, e *Event) string {
	n := c.uvarint()
	if n > uint64(x.vcpus) {
		return fmt.Sprintf("%d constraints for %d vCPUs", n, x.vcpus)
	}
	cs := e.Constraints[:0]
	for i := uint64(0); i < n; i++ {
		v := c.uvarint()
		vcpu, k := v>>2, PosKind(v&3)
		if c.bad {
			break
		}
		if vcpu >= uint64(x.vcpus) || k == PosNone || k > PosState {
			return fmt.Sprintf("bad constraint (vCPU %d, position kind %d)", vcpu, k)
		}
		cs = append(cs, Constraint{VCPU: uint32(vcpu)})
		x.pos(c, uint32(vcpu), k, &cs[len(cs)-1].Pos)
	}
	e.Constraints = cs
	return ""
}

func (x *eventDecoder) data(c *cursor) []byte {
	n := c.uvarint()
	if n > MaxEventData {
		c.fail()
		return nil
	}
	return c.bytes(n)
}

// next decodes the next event into e, keeping e's Constraints storage. It
// returns a description of the damage when the bytes do not decode to a
// valid event.
func (x *eventDecoder) next(e *Event) string {
	c := &x.c
	body := c.bytes(c.uvarint())
	if c.bad {
		return fmt.Sprintf("event length runs past the end of the block (at byte %d)", c.i)
	}
	ec := cursor{b: body}
	kb := ec.byte1()
	kind := uint64(kb & 63)
	if kind == kindEscape {
		kind += ec.uvarint()
	}
	pk := PosKind(kb >> 6)
	v := ec.uvarint()
	if ec.bad {
		return "event too short"
	}
	if kind == 0 || kind > 255 {
		return fmt.Sprintf("bad event kind %d", kind)
	}
	if v > uint64(x.vcpus) {
		return fmt.Sprintf("vCPU %d out of range (log has %d)", v-1, x.vcpus)
	}
	*e = Event{Kind: Kind(kind), VCPU: uint32(v) - 1, Constraints: e.Constraints[:0]}
	if pk != PosNone {
		if pk > PosState || e.VCPU == NoVCPU {
			return fmt.Sprintf("bad position kind %d on vCPU %d", pk, int32(e.VCPU))
		}
		x.pos(&ec, e.VCPU, pk, &e.Pos)
	}
	switch e.Kind {
	case KindPortIn:
		port := ec.uvarint()
		e.Size = ec.byte1()
		e.Value = ec.uvarint()
		if port > 0xffff || (e.Size != 1 && e.Size != 2 && e.Size != 4) {
			return fmt.Sprintf("bad port access (port %#x, size %d)", port, e.Size)
		}
		e.Port = uint16(port)
	case KindMMIORead:
		e.Addr = x.d.addr + uint64(ec.zigzag())
		x.d.addr = e.Addr
		e.Data = x.data(&ec)
	case KindClock:
		e.Value = x.d.clock + uint64(ec.zigzag())
		x.d.clock = e.Value
	case KindHypercall, KindTSC:
		e.Nr = ec.uvarint()
		e.Value = ec.uvarint()
	case KindInterrupt:
		e.Vector = ec.byte1()
	case KindDMA:
		dev := ec.uvarint()
		if dev > 0xffffffff {
			return fmt.Sprintf("bad device id %d", dev)
		}
		e.Device = uint32(dev)
		e.Addr = x.d.addr + uint64(ec.zigzag())
		x.d.addr = e.Addr
		e.Data = x.data(&ec)
		if r := x.constraints(&ec, e); r != "" {
			return r
		}
	case KindConsoleInput:
		e.Data = x.data(&ec)
	case KindCREW:
		e.Page = x.d.page + uint64(ec.zigzag())
		x.d.page = e.Page
		as := ec.byte1()
		e.Access, e.State = Access(as&3), PageState(as>>2)
		if e.Access == 0 || e.State < PageShared || e.State > PageExclusive {
			return fmt.Sprintf("bad access/state byte %#x", as)
		}
		if r := x.constraints(&ec, e); r != "" {
			return r
		}
	case KindWake:
		if r := x.constraints(&ec, e); r != "" {
			return r
		}
	case KindStateHash:
		e.Hash = ec.u64()
		switch ec.byte1() {
		case 0:
		case 1:
			e.HasMemHash = true
			e.MemHash = ec.u64()
		default:
			return "bad memory hash flag"
		}
	case KindRegionBegin, KindRegionEnd, KindLabel:
		e.Addr = x.d.addr + uint64(ec.zigzag())
		x.d.addr = e.Addr
		e.Len = ec.uvarint()
		n := ec.uvarint()
		if n > MaxName {
			return fmt.Sprintf("name of %d bytes exceeds %d", n, MaxName)
		}
		e.Name = string(ec.bytes(n))
	case KindGuestExit:
		e.Value = ec.uvarint()
	case KindAccess:
		e.Value = ec.uvarint()
		e.Nr = ec.uvarint()
		e.Addr = x.d.addr + uint64(ec.zigzag())
		x.d.addr = e.Addr
		e.Len = ec.uvarint()
		e.Access = Access(ec.byte1())
		if e.Data = x.data(&ec); len(e.Data) == 0 {
			e.Data = nil
		}
		if e.Access < AccessRead || e.Access > AccessRMW || e.Len == 0 || e.Data != nil && uint64(len(e.Data)) != e.Len {
			return fmt.Sprintf("bad access event (kind %d, %d bytes, %d data bytes)", e.Access, e.Len, len(e.Data))
		}
	case KindEnd:
	default:
		// A kind of a newer minor version: hand over its payload.
		if ec.bad {
			return "event too short"
		}
		e.Data = ec.b[ec.i:]
		return ""
	}
	if ec.bad {
		return fmt.Sprintf("%s event too short", e.Kind)
	}
	if ec.more() && !x.lenient {
		return fmt.Sprintf("%s event has %d trailing bytes", e.Kind, len(ec.b)-ec.i)
	}
	switch e.Kind {
	case KindInterrupt, KindCREW, KindStateHash, KindWake:
		if e.Pos.Kind == PosNone {
			return fmt.Sprintf("%s event without a position", e.Kind)
		}
	}
	return ""
}
