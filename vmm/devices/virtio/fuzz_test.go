package virtio

import (
	"encoding/binary"
	"strings"
	"testing"
)

// The layout of the fuzzers' guest RAM, as the seeds lay it out.
const (
	fuzzRAM   = 0x700 // small, so that the fuzzer's inputs are
	fuzzDesc  = 0x000
	fuzzAvail = 0x100
	fuzzUsed  = 0x140
	fuzzNum   = 16
	fuzzHdr   = 0x200
	fuzzSt    = 0x260
	fuzzID    = 0x270
	fuzzIn    = 0x300
	fuzzOut   = 0x500
)

// fuzzLayout is guest RAM with one round of well-formed requests on a
// queue of fuzzNum at the fuzz addresses: IN, OUT, FLUSH, GET_ID and an
// unknown type, then variants that break one rule each when bad says so.
func fuzzLayout(bad int) ram {
	mem := make(ram, fuzzRAM)
	next := uint16(0)
	var heads []uint16
	put := func(addr uint64, n uint32, flags uint16) {
		p := mem[fuzzDesc+16*uint64(next):]
		binary.LittleEndian.PutUint64(p[0:], addr)
		binary.LittleEndian.PutUint32(p[8:], n)
		binary.LittleEndian.PutUint16(p[12:], flags)
		binary.LittleEndian.PutUint16(p[14:], next+1)
		next++
	}
	add := func(typ uint32, sector uint64, data uint64, n uint32, write bool) {
		k := uint64(len(heads))
		hdr := fuzzHdr + 16*k
		binary.LittleEndian.PutUint32(mem[hdr:], typ)
		binary.LittleEndian.PutUint64(mem[hdr+8:], sector)
		heads = append(heads, next)
		put(hdr, 16, descNext)
		if n > 0 {
			f := uint16(descNext)
			if write {
				f |= descWrite
			}
			put(data, n, f)
		}
		mem[fuzzSt+k] = 0xff
		put(fuzzSt+k, 1, descWrite)
	}
	add(TypeIn, 1, fuzzIn, 512, true)
	add(TypeOut, 2, fuzzOut, 512, false)
	add(TypeFlush, 0, 0, 0, false)
	add(TypeGetID, 0, fuzzID, 20, true)
	add(42, 0, 0, 0, false)
	switch bad {
	case 1: // a loop
		binary.LittleEndian.PutUint16(mem[fuzzDesc+16*1+14:], 0)
		binary.LittleEndian.PutUint16(mem[fuzzDesc+16*1+12:], descNext|descWrite)
	case 2: // a status descriptor of 2 bytes
		binary.LittleEndian.PutUint32(mem[fuzzDesc+16*2+8:], 2)
	case 3: // an OUT buffer outside RAM
		binary.LittleEndian.PutUint64(mem[fuzzDesc+16*4:], fuzzRAM-100)
	}
	for k, h := range heads {
		binary.LittleEndian.PutUint16(mem[fuzzAvail+4+2*uint64(k):], h)
	}
	binary.LittleEndian.PutUint16(mem[fuzzAvail+2:], uint16(len(heads)))
	return mem
}

// fuzzSetup writes the set-up sequence for a queue of num at the given
// addresses, accepting every offered feature.
func fuzzSetup(b *Blk, num uint32, desc, avail, used uint64) {
	w := func(off uint64, v uint64) { b.Write(off, 4, v) }
	w(RegStatus, 0)
	w(RegStatus, StatusAcknowledge|StatusDriver)
	w(RegDeviceFeaturesSel, 0)
	lo := b.Read(RegDeviceFeatures, 4)
	w(RegDeviceFeaturesSel, 1)
	hi := b.Read(RegDeviceFeatures, 4)
	w(RegDriverFeaturesSel, 0)
	w(RegDriverFeatures, lo)
	w(RegDriverFeaturesSel, 1)
	w(RegDriverFeatures, hi)
	w(RegStatus, StatusAcknowledge|StatusDriver|StatusFeaturesOK)
	w(RegQueueNum, uint64(num))
	w(RegQueueDescLow, desc&0xffffffff)
	w(RegQueueDescHigh, desc>>32)
	w(RegQueueDriverLow, avail&0xffffffff)
	w(RegQueueDriverHigh, avail>>32)
	w(RegQueueDeviceLow, used&0xffffffff)
	w(RegQueueDeviceHigh, used>>32)
	w(RegQueueReady, 1)
	w(RegStatus, StatusAcknowledge|StatusDriver|StatusFeaturesOK|StatusDriverOK)
}

// fuzzRound runs a round and checks what holds whatever the guest wrote.
func fuzzRound(t *testing.T, b *Blk, mem Memory, img Image) {
	b.mu.Lock()
	num := b.q.num
	b.mu.Unlock()
	reqs, err := b.Fetch(mem)
	if err != nil && err.Error() == "" {
		t.Fatal("Fetch returned an empty error")
	}
	if err != nil && b.Read(RegStatus, 4)&StatusNeedsReset == 0 {
		t.Fatalf("Fetch failed (%v) without NEEDS_RESET", err)
	}
	if uint32(len(reqs)) > num {
		t.Fatalf("Fetch took %d requests from a queue of %d", len(reqs), num)
	}
	for _, r := range reqs {
		if uint32(r.Head) >= num {
			t.Fatalf("request head %d in a queue of %d", r.Head, num)
		}
		if r.Type == TypeOut && r.Data != nil && uint64(len(r.Data)) != r.DataLen {
			t.Fatalf("OUT data of %d bytes for %d in segments", len(r.Data), r.DataLen)
		}
		b.Serve(r, img)
		if w := r.Written(); w < 0 || uint64(w) > r.DataLen || w > MaxRequestData {
			t.Fatalf("Written %d for %d bytes of buffers", w, r.DataLen)
		}
	}
	if err := b.Complete(mem, reqs); err != nil && err.Error() == "" {
		t.Fatal("Complete returned an empty error")
	}
}

// FuzzFetch makes the fuzzer's bytes guest memory and queue
// configuration: data[0] picks the queue size, data[1] options, data[2:8]
// the three ring addresses (16 bits each), and the rest is RAM from 0.
// Two rounds must never panic, and errors must say something.
func FuzzFetch(f *testing.F) {
	seed := func(bad int, num uint8, opts uint8) []byte {
		b := []byte{num, opts, 0, 0, 0, 0, 0, 0}
		binary.LittleEndian.PutUint16(b[2:], fuzzDesc)
		binary.LittleEndian.PutUint16(b[4:], fuzzAvail)
		binary.LittleEndian.PutUint16(b[6:], fuzzUsed)
		return append(b, fuzzLayout(bad)...)
	}
	f.Add(seed(0, 4, 0)) // a queue of 16
	f.Add(seed(0, 4, 1)) // read-only
	f.Add(seed(0, 4, 4)) // reset between Fetch and Complete
	f.Add(seed(1, 4, 0))
	f.Add(seed(2, 4, 0))
	f.Add(seed(3, 4, 0))
	f.Add(seed(0, 2, 0)) // a queue of 4: the avail idx is too far ahead
	f.Add(seed(0, 8, 2)) // a queue of 256, rings overlapping
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var hdr [8]byte
		copy(hdr[:], data)
		mem := make(ram, fuzzRAM)
		if len(data) > len(hdr) {
			copy(mem, data[len(hdr):])
		}
		num := uint32(1) << (hdr[0] % 9)
		opts := hdr[1]
		addr := func(k int) uint64 {
			a := uint64(binary.LittleEndian.Uint16(hdr[2+2*k:]))
			if opts&8 != 0 && k == int(opts>>4)%3 {
				a |= 0xffffffff << 32 // far outside RAM, or wrapping
			}
			return a
		}
		b := NewBlk(32*512, opts&1 != 0)
		img := testImage(32)
		fuzzSetup(b, num, addr(0), addr(1), addr(2))
		if opts&4 != 0 {
			reqs, _ := b.Fetch(mem)
			for _, r := range reqs {
				b.Serve(r, img)
			}
			b.Write(RegStatus, 4, 0)
			if err := b.Complete(mem, reqs); err != nil {
				t.Fatalf("Complete after a reset: %v", err)
			}
			fuzzSetup(b, num, addr(0), addr(1), addr(2))
		}
		fuzzRound(t, b, mem, img)
		fuzzRound(t, b, mem, img)
	})
}

// FuzzMMIO feeds the register file a sequence of accesses, 8 bytes each:
// the kind (read, write, round), a 16-bit offset, the size and a 32-bit
// value. Rounds run on a RAM with well-formed requests at the fuzz
// addresses, so a sequence that sets the queue up there serves them.
// Whatever the order, nothing panics, errors say something, and the
// identity registers and the status rules hold.
func FuzzMMIO(f *testing.F) {
	op := func(kind uint8, off uint16, size uint8, val uint32) []byte {
		b := []byte{kind, 0, 0, size, 0, 0, 0, 0}
		binary.LittleEndian.PutUint16(b[1:], off)
		binary.LittleEndian.PutUint32(b[4:], val)
		return b
	}
	var setup []byte
	for _, w := range [][2]uint32{
		{RegStatus, 0}, {RegStatus, 3}, {RegDriverFeaturesSel, 0}, {RegDriverFeatures, FeatureFlush},
		{RegDriverFeaturesSel, 1}, {RegDriverFeatures, 1}, {RegStatus, 0xb}, {RegQueueNum, fuzzNum},
		{RegQueueDescLow, fuzzDesc}, {RegQueueDriverLow, fuzzAvail}, {RegQueueDeviceLow, fuzzUsed},
		{RegQueueReady, 1}, {RegStatus, 0xf},
	} {
		setup = append(setup, op(1, uint16(w[0]), 4, w[1])...)
	}
	notify := op(1, RegQueueNotify, 4, 0)
	round := op(2, 0, 0, 0)
	f.Add(append(append(append([]byte{}, setup...), notify...), round...))
	f.Add(append(append(append(append([]byte{}, setup...), op(1, RegStatus, 4, 0)...), round...), notify...))
	f.Add(append(append([]byte{}, notify...), op(1, RegQueueNum, 4, 3)...))
	f.Add(append(op(0, RegConfig+1, 2, 0), op(0, RegDeviceFeatures, 4, 0)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewBlk(32*512, len(data)%2 == 1)
		img := testImage(32)
		mem := fuzzLayout(0)
		sizes := [...]int{1, 2, 4, 8, 3, 0, 16, -1}
		for len(data) >= 8 {
			kind, off := data[0]%3, uint64(binary.LittleEndian.Uint16(data[1:]))
			size, val := sizes[data[3]%8], uint64(binary.LittleEndian.Uint32(data[4:]))
			if data[3]&0x80 != 0 {
				val |= 0xdead << 32
			}
			data = data[8:]
			switch kind {
			case 0:
				b.Read(off, size)
			case 1:
				notify, err := b.Write(off, size, val)
				if err != nil && err.Error() == "" {
					t.Fatal("Write returned an empty error")
				}
				if notify {
					const want = StatusFeaturesOK | StatusDriverOK
					if st := b.Read(RegStatus, 4); st&want != want || err != nil {
						t.Fatalf("notify with status %#x, error %v", st, err)
					}
				}
			case 2:
				fuzzRound(t, b, mem, img)
			}
			if b.Read(RegMagicValue, 4) != MagicValue || b.Read(RegVersion, 4) != Version ||
				b.Read(RegInterruptStatus, 4) != 0 || b.Read(RegConfigGeneration, 4) != 0 ||
				b.Read(RegConfig, 8) != 32 {
				t.Fatal("an identity register changed")
			}
			if n := b.Read(RegQueueNumMax, 4); n != 0 && n != 256 {
				t.Fatalf("QueueNumMax %d", n)
			}
			b.mu.Lock()
			ok := b.status&StatusFeaturesOK == 0 || b.featuresOK()
			n := b.q.num
			b.mu.Unlock()
			if !ok {
				t.Fatal("FEATURES_OK holds for features the device does not accept")
			}
			if n == 0 || n&(n-1) != 0 || n > 256 {
				t.Fatalf("queue size %d", n)
			}
		}
	})
}

// TestFuzzLayout checks that the fuzzers' seeds reach what they are
// meant to: a full round, and one parse error each for the bad ones.
func TestFuzzLayout(t *testing.T) {
	tests := []struct {
		bad  int
		reqs int
		err  string
	}{
		{0, 5, ""},
		{1, 0, "longer than the queue"},
		{2, 0, "not the 1 device-writable status byte"},
		{3, 1, "reading 512 bytes of write data at 0x69c"},
	}
	for _, tt := range tests {
		b := NewBlk(32*512, false)
		mem := fuzzLayout(tt.bad)
		fuzzSetup(b, fuzzNum, fuzzDesc, fuzzAvail, fuzzUsed)
		reqs, err := b.Fetch(mem)
		if len(reqs) != tt.reqs || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("layout %d: %d requests, %v; want %d, %q", tt.bad, len(reqs), err, tt.reqs, tt.err)
		}
		for _, r := range reqs {
			b.Serve(r, testImage(32))
		}
		if err := b.Complete(mem, reqs); err != nil {
			t.Errorf("layout %d: Complete: %v", tt.bad, err)
		}
		if tt.bad == 0 {
			for k := range 5 {
				if want := []uint8{0, 0, 0, 0, StatusUnsupp}[k]; mem[fuzzSt+k] != want {
					t.Errorf("request %d: status %d, want %d", k, mem[fuzzSt+k], want)
				}
			}
		}
	}
}
