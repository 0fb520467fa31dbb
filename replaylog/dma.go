package replaylog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
)

// DMATransfer is the payload of a KindDMA event: one transaction of a
// device. Replay writes Writes into guest memory at the transfer's place
// in the CREW order, and hashes the guest memory in Reads to check that
// the guest gave the device what it gave the recording (the descriptors
// it parsed, the data of a disk write).
type DMATransfer struct {
	Writes []DMAWrite
	Reads  []DMARange
	// ReadHash is NewDMAHash's sum of the bytes in Reads, in order.
	ReadHash uint64
}

// DMAWrite is guest memory a transfer wrote: Data at guest-physical GPA.
type DMAWrite struct {
	GPA  uint64
	Data []byte
}

// DMARange is guest memory a transfer read.
type DMARange struct {
	GPA, Len uint64
}

// Marshal encodes t as a KindDMA event's Data.
func (t *DMATransfer) Marshal() []byte {
	n := 24
	for _, w := range t.Writes {
		n += 20 + len(w.Data)
	}
	b := make([]byte, 0, n+20*len(t.Reads))
	b = binary.AppendUvarint(b, uint64(len(t.Writes)))
	for _, w := range t.Writes {
		b = binary.AppendUvarint(b, w.GPA)
		b = appendBytes(b, w.Data)
	}
	b = binary.AppendUvarint(b, uint64(len(t.Reads)))
	for _, r := range t.Reads {
		b = binary.AppendUvarint(b, r.GPA)
		b = binary.AppendUvarint(b, r.Len)
	}
	return binary.LittleEndian.AppendUint64(b, t.ReadHash)
}

// ParseDMATransfer decodes a KindDMA event's Data. The writes alias
// data. Every range must lie below memSize.
func ParseDMATransfer(data []byte, memSize uint64) (*DMATransfer, error) {
	c := cursor{b: data}
	t := &DMATransfer{}
	n := c.uvarint()
	if n > uint64(len(data)) {
		return nil, fmt.Errorf("dma transfer: %d writes in %d bytes", n, len(data))
	}
	for i := uint64(0); i < n && !c.bad; i++ {
		gpa := c.uvarint()
		p := c.bytes(c.uvarint())
		if !c.bad && !inRAM(gpa, uint64(len(p)), memSize) {
			return nil, fmt.Errorf("dma transfer: write %d at %#x+%d outside RAM (%#x bytes)", i, gpa, len(p), memSize)
		}
		t.Writes = append(t.Writes, DMAWrite{GPA: gpa, Data: p})
	}
	n = c.uvarint()
	if n > uint64(len(data)) {
		return nil, fmt.Errorf("dma transfer: %d reads in %d bytes", n, len(data))
	}
	for i := uint64(0); i < n && !c.bad; i++ {
		r := DMARange{GPA: c.uvarint(), Len: c.uvarint()}
		if !c.bad && !inRAM(r.GPA, r.Len, memSize) {
			return nil, fmt.Errorf("dma transfer: read %d at %#x+%d outside RAM (%#x bytes)", i, r.GPA, r.Len, memSize)
		}
		t.Reads = append(t.Reads, r)
	}
	t.ReadHash = c.u64()
	if c.bad {
		return nil, errors.New("dma transfer: truncated")
	}
	if c.more() {
		return nil, fmt.Errorf("dma transfer: %d bytes after the end", len(data)-c.i)
	}
	return t, nil
}

func inRAM(gpa, n, memSize uint64) bool { return gpa <= memSize && n <= memSize-gpa }

// NewDMAHash returns the hash of DMATransfer.ReadHash: the recorder and
// the replay feed it the bytes of Reads in order.
func NewDMAHash() hash.Hash64 { return crc64.New(dmaTable) }

var dmaTable = crc64.MakeTable(crc64.ECMA)

// String summarises t for vmm log dump.
func (t *DMATransfer) String() string {
	var wb, rb uint64
	for _, w := range t.Writes {
		wb += uint64(len(w.Data))
	}
	for _, r := range t.Reads {
		rb += r.Len
	}
	return fmt.Sprintf("writes=%d(%dB) reads=%d(%dB) readhash=%#016x", len(t.Writes), wb, len(t.Reads), rb, t.ReadHash)
}
