package virtio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestRound(t *testing.T) {
	b := NewBlk(64*512, false)
	img := testImage(64)
	mem := make(ram, ramSize)
	d := setup(t, b, mem, 32)

	out := bytes.Repeat([]byte("0123456789abcdef"), 64) // 2 sectors
	type want struct {
		status uint8
		len    uint32 // the used element's
	}
	reqs := []struct {
		name            string
		typ             uint32
		sector          uint64
		dataLen         uint32
		segs            int
		fill            []byte
		want            want
		wantData        []byte // what the guest finds in its data buffers
		wantWrittenData int
	}{
		{"in", TypeIn, 3, 1024, 2, nil, want{StatusOK, 1025}, img.b[3*512 : 5*512], 1024},
		{"out", TypeOut, 10, 1024, 4, out, want{StatusOK, 1}, out, 0},
		{"flush", TypeFlush, 0, 0, 0, nil, want{StatusOK, 1}, nil, 0},
		{"get id", TypeGetID, 0, 20, 1, nil, want{StatusOK, 21}, []byte("crewvm-disk\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 20},
		{"get id short", TypeGetID, 0, 6, 2, nil, want{StatusOK, 7}, []byte("crewvm"), 6},
		{"get id long", TypeGetID, 0, 32, 1, nil, want{StatusOK, 21}, append([]byte("crewvm-disk"), make([]byte, 21)...), 20},
		{"unknown", 99, 0, 0, 0, nil, want{StatusUnsupp, 1}, nil, 0},
		{"in of nothing", TypeIn, 64, 0, 0, nil, want{StatusOK, 1}, nil, 0},
	}
	var made []req
	for _, r := range reqs {
		made = append(made, d.request(r.typ, r.sector, r.dataLen, r.segs, r.fill))
	}
	got, err := round(t, b, mem, img)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(got) != len(reqs) {
		t.Fatalf("Fetch took %d requests, want %d", len(got), len(reqs))
	}
	if idx := mem.u16(usedAddr + 2); idx != uint16(len(reqs)) {
		t.Errorf("used idx %d, want %d", idx, len(reqs))
	}
	for k, r := range reqs {
		if got[k].Type != r.typ || got[k].Sector != r.sector || got[k].Head != made[k].head {
			t.Errorf("%s: request %+v, want type %d sector %d head %d", r.name, got[k], r.typ, r.sector, made[k].head)
		}
		if w := got[k].Written(); w != r.wantWrittenData {
			t.Errorf("%s: Written %d, want %d", r.name, w, r.wantWrittenData)
		}
		if st := mem[made[k].status]; st != r.want.status {
			t.Errorf("%s: status %d, want %d", r.name, st, r.want.status)
		}
		id, n := d.used(uint16(k))
		if id != uint32(made[k].head) || n != r.want.len {
			t.Errorf("%s: used element {%d, %d}, want {%d, %d}", r.name, id, n, made[k].head, r.want.len)
		}
		if gotData := mem[made[k].data : made[k].data+uint64(len(r.wantData))]; !bytes.Equal(gotData, r.wantData) {
			t.Errorf("%s: data %q, want %q", r.name, gotData, r.wantData)
		}
	}
	if !bytes.Equal(img.b[10*512:12*512], out) {
		t.Error("OUT did not reach the image")
	}
	if img.syncs != 1 {
		t.Errorf("%d syncs, want 1", img.syncs)
	}

	// A second round takes only what is new.
	r := d.request(TypeIn, 63, 512, 1, nil)
	if got, err := round(t, b, mem, img); err != nil || len(got) != 1 {
		t.Fatalf("second round: %d requests, %v", len(got), err)
	}
	if idx := mem.u16(usedAddr + 2); idx != uint16(len(reqs)+1) {
		t.Errorf("used idx %d, want %d", idx, len(reqs)+1)
	}
	if id, n := d.used(uint16(len(reqs))); id != uint32(r.head) || n != 513 {
		t.Errorf("used element {%d, %d}, want {%d, 513}", id, n, r.head)
	}
	if !bytes.Equal(mem[r.data:r.data+512], img.b[63*512:]) {
		t.Error("second round's IN data is wrong")
	}
	// Nothing new: no round, no writes.
	mem[usedAddr+2] = 0x55
	if got, err := round(t, b, mem, img); err != nil || len(got) != 0 || mem[usedAddr+2] != 0x55 {
		t.Errorf("empty round: %d requests, %v, used idx byte %#x", len(got), err, mem[usedAddr+2])
	}
}

func TestIOErr(t *testing.T) {
	tests := []struct {
		name     string
		readOnly bool
		imgErr   bool
		typ      uint32
		sector   uint64
		dataLen  uint32
		status   uint8
	}{
		{"in beyond the capacity", false, false, TypeIn, 64, 512, StatusIOErr},
		{"in across the end", false, false, TypeIn, 63, 1024, StatusIOErr},
		{"in at a huge sector", false, false, TypeIn, 1 << 63, 512, StatusIOErr},
		{"in not whole sectors", false, false, TypeIn, 0, 100, StatusIOErr},
		{"out not whole sectors", false, false, TypeOut, 0, 513, StatusIOErr},
		{"out beyond the capacity", false, false, TypeOut, 64, 512, StatusIOErr},
		{"out to a read-only disk", true, false, TypeOut, 0, 512, StatusIOErr},
		{"in from a read-only disk", true, false, TypeIn, 0, 512, StatusOK},
		{"flush on a read-only disk", true, false, TypeFlush, 0, 0, StatusOK},
		{"in, image fails", false, true, TypeIn, 0, 512, StatusIOErr},
		{"out, image fails", false, true, TypeOut, 0, 512, StatusIOErr},
		{"flush, image fails", false, true, TypeFlush, 0, 0, StatusIOErr},
		{"get id, image fails", false, true, TypeGetID, 0, 20, StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBlk(64*512, tt.readOnly)
			img := testImage(64)
			if tt.imgErr {
				img.err = errors.New("disk on fire")
			}
			before := bytes.Clone(img.b)
			mem := make(ram, ramSize)
			d := setup(t, b, mem, 4)
			r := d.request(tt.typ, tt.sector, tt.dataLen, 1, bytes.Repeat([]byte{0xaa}, int(tt.dataLen)))
			got, err := round(t, b, mem, img)
			if err != nil || len(got) != 1 {
				t.Fatalf("round: %d requests, %v", len(got), err)
			}
			if st := mem[r.status]; st != tt.status {
				t.Errorf("status %d, want %d", st, tt.status)
			}
			_, n := d.used(0)
			if tt.status != StatusOK && n != 1 {
				t.Errorf("used len %d, want 1", n)
			}
			if tt.status != StatusOK && !bytes.Equal(img.b, before) {
				t.Error("a failed request changed the image")
			}
		})
	}
}

func TestOversizedRequest(t *testing.T) {
	// A request over MaxRequestData fails without the device reading or
	// allocating its data: its descriptors may even point outside RAM.
	for _, typ := range []uint32{TypeIn, TypeOut} {
		b := NewBlk(1<<40, false)
		mem := make(ram, ramSize)
		d := setup(t, b, mem, 8)
		hdr := d.alloc(16)
		binary.LittleEndian.PutUint32(mem[hdr:], typ)
		st := d.alloc(1)
		write := typ == TypeIn
		head := d.chain(buf{hdr, 16, false}, buf{1 << 32, MaxRequestData, write}, buf{2 << 32, 512, write}, buf{st, 1, true})
		d.offer(head)
		got, err := round(t, b, mem, &image{})
		if err != nil || len(got) != 1 || got[0].Data != nil {
			t.Fatalf("type %d: round %v, %v", typ, got, err)
		}
		if mem[st] != StatusIOErr {
			t.Errorf("type %d: status %d, want IOERR", typ, mem[st])
		}
	}
}

func TestNeedsReset(t *testing.T) {
	const num = 8
	// Each bad chain comes after one good request, which holds
	// descriptors 0 and 1, so bad ones built by hand start at 2.
	tests := []struct {
		name   string
		bad    func(d *driver) // offers one bad chain
		noGood bool            // the good request fails along with it
		err    string
	}{
		{"loop", func(d *driver) {
			d.putDesc(2, d.hdr(TypeIn), 16, descNext, 3)
			d.putDesc(3, bufAddr, 512, descNext|descWrite, 2)
			d.offer(2)
		}, false, "longer than the queue"},
		{"self loop", func(d *driver) {
			d.putDesc(2, d.hdr(TypeIn), 16, descNext, 2)
			d.offer(2)
		}, false, "longer than the queue"},
		{"head outside the queue", func(d *driver) { d.offer(num) }, false, "head index 8 is outside"},
		{"next outside the queue", func(d *driver) {
			d.putDesc(2, d.hdr(TypeIn), 16, descNext, 9)
			d.offer(2)
		}, false, "next index 9 is outside"},
		{"descriptor table outside RAM", func(d *driver) {
			mustWrite(d.t, d.b, RegQueueReady, 0)
			mustWrite(d.t, d.b, RegQueueDescHigh, 1)
			mustWrite(d.t, d.b, RegQueueReady, 1)
		}, true, "reading descriptor 0 at 0x100001000: outside RAM"},
		{"available ring outside RAM", func(d *driver) {
			mustWrite(d.t, d.b, RegQueueReady, 0)
			mustWrite(d.t, d.b, RegQueueDriverLow, ramSize)
			mustWrite(d.t, d.b, RegQueueReady, 1)
		}, true, "reading the available ring's idx at 0x100002: outside RAM"},
		{"ring wraps around", func(d *driver) {
			mustWrite(d.t, d.b, RegQueueReady, 0)
			mustWrite(d.t, d.b, RegQueueDeviceLow, 0xfffffff0)
			mustWrite(d.t, d.b, RegQueueDeviceHigh, 0xffffffff)
			mustWrite(d.t, d.b, RegQueueReady, 1)
		}, true, "used ring at 0xfffffffffffffff0 wraps around"},
		{"header outside RAM", func(d *driver) {
			d.offer(d.chain(buf{ramSize - 8, 16, false}, buf{d.alloc(1), 1, true}))
		}, false, "reading the request header"},
		{"out data outside RAM", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeOut), 16, false}, buf{ramSize, 512, false}, buf{d.alloc(1), 1, true}))
		}, false, "reading 512 bytes of write data at 0x100000"},
		{"buffer wraps around", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeIn), 16, false}, buf{^uint64(0) - 100, 512, true}, buf{d.alloc(1), 1, true}))
		}, false, "wraps around"},
		{"one descriptor", func(d *driver) { d.offer(d.chain(buf{d.hdr(TypeFlush), 16, false})) }, false, "one descriptor"},
		{"short header", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeFlush), 8, false}, buf{d.alloc(1), 1, true}))
		}, false, "8 bytes, less than 16"},
		{"writable header", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeFlush), 16, true}, buf{d.alloc(1), 1, true}))
		}, false, "header descriptor is device-writable"},
		{"status of 2 bytes", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeFlush), 16, false}, buf{d.alloc(2), 2, true}))
		}, false, "not the 1 device-writable status byte"},
		{"readable status", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeFlush), 16, false}, buf{d.alloc(1), 1, false}))
		}, false, "device-readable) is not the 1"},
		{"in with readable data", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeIn), 16, false}, buf{bufAddr, 512, false}, buf{d.alloc(1), 1, true}))
		}, false, "type 0 request is device-readable"},
		{"in with data in the header descriptor", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeIn), 528, false}, buf{d.alloc(1), 1, true}))
		}, false, "type 0 request is device-readable"},
		{"out with writable data", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeOut), 16, false}, buf{bufAddr, 512, true}, buf{d.alloc(1), 1, true}))
		}, false, "type 1 request is device-writable"},
		{"get id with readable data", func(d *driver) {
			d.offer(d.chain(buf{d.hdr(TypeGetID), 16, false}, buf{bufAddr, 20, false}, buf{d.alloc(1), 1, true}))
		}, false, "type 8 request is device-readable"},
		{"indirect", func(d *driver) {
			d.putDesc(2, d.hdr(TypeIn), 16, descNext, 3)
			d.putDesc(3, bufAddr, 32, descIndirect, 0)
			d.offer(2)
		}, false, "indirect"},
		{"avail idx too far ahead", func(d *driver) {
			binary.LittleEndian.PutUint16(d.mem[availAddr+2:], d.availIdx+num)
		}, true, "more than the queue size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBlk(64*512, false)
			img := testImage(64)
			mem := make(ram, ramSize)
			d := setup(t, b, mem, num)
			good := d.request(TypeFlush, 0, 0, 0, nil)
			tt.bad(d)
			got, err := b.Fetch(mem)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Fetch error %v, want one saying %q", err, tt.err)
			}
			if !strings.Contains(err.Error(), "needs a reset") {
				t.Errorf("error %q does not say the device needs a reset", err)
			}
			if st := b.Read(RegStatus, 4); st&StatusNeedsReset == 0 {
				t.Errorf("status %#x without NEEDS_RESET", st)
			}
			// The requests before the bad chain complete as usual.
			for _, r := range got {
				b.Serve(r, img)
			}
			if err := b.Complete(mem, got); err != nil && !tt.noGood {
				t.Fatalf("Complete: %v", err)
			}
			if !tt.noGood && (len(got) != 1 || mem[good.status] != StatusOK || mem.u16(usedAddr+2) != 1) {
				t.Errorf("the good request before: %d fetched, status %d, used idx %d", len(got), mem[good.status], mem.u16(usedAddr+2))
			}
			if tt.noGood && len(got) != 0 {
				t.Errorf("Fetch returned %d requests", len(got))
			}
			// The queue is stopped: nothing more is taken, and the
			// driver cannot clear the bit.
			mustWrite(t, b, RegStatus, 0xf)
			if st := b.Read(RegStatus, 4); st != 0xf|StatusNeedsReset {
				t.Errorf("status %#x after the driver rewrote it", st)
			}
			d.request(TypeFlush, 0, 0, 0, nil)
			if got, err := b.Fetch(mem); got != nil || err != nil {
				t.Errorf("Fetch after NEEDS_RESET: %v, %v", got, err)
			}
			// A reset and a new set-up bring the device back.
			d = setup(t, b, mem, num)
			r := d.request(TypeGetID, 0, 20, 1, nil)
			if got, err := round(t, b, mem, img); err != nil || len(got) != 1 || mem[r.status] != StatusOK {
				t.Errorf("after the reset: %d requests, %v, status %d", len(got), err, mem[r.status])
			}
		})
	}
}

// hdr writes a request header of type typ for sector 0 and returns its
// address.
func (d *driver) hdr(typ uint32) uint64 {
	a := d.alloc(16)
	binary.LittleEndian.PutUint32(d.mem[a:], typ)
	return a
}

func TestCompleteOutsideRAM(t *testing.T) {
	tests := []struct {
		name   string
		data   uint64
		status uint64
		used   uint64
		err    string
		done   uint16 // used idx after
	}{
		{"in data", ramSize - 256, 0, usedAddr, "writing 512 bytes of data at 0xfff00", 1},
		{"status", 0, ramSize, usedAddr, "writing the status byte at 0x100000", 1},
		{"used ring", 0, 0, ramSize - 4, "writing used ring element", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBlk(64*512, false)
			mem := make(ram, ramSize)
			d := setup(t, b, mem, 8)
			if tt.used != usedAddr {
				mustWrite(t, b, RegQueueReady, 0)
				mustWrite(t, b, RegQueueDeviceLow, tt.used)
				mustWrite(t, b, RegQueueReady, 1)
			}
			good := d.request(TypeFlush, 0, 0, 0, nil)
			data, st := tt.data, tt.status
			if data == 0 {
				data = d.alloc(512)
			}
			if st == 0 {
				st = d.alloc(1)
			}
			d.offer(d.chain(buf{d.hdr(TypeIn), 16, false}, buf{data, 512, true}, buf{st, 1, true}))
			reqs, err := b.Fetch(mem)
			if err != nil || len(reqs) != 2 {
				t.Fatalf("Fetch: %d requests, %v", len(reqs), err)
			}
			img := testImage(64)
			for _, r := range reqs {
				b.Serve(r, img)
			}
			err = b.Complete(mem, reqs)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Complete error %v, want one saying %q", err, tt.err)
			}
			if b.Read(RegStatus, 4)&StatusNeedsReset == 0 {
				t.Error("no NEEDS_RESET")
			}
			if tt.used == usedAddr {
				if idx := mem.u16(usedAddr + 2); idx != tt.done || mem[good.status] != StatusOK {
					t.Errorf("used idx %d, good status %d; want %d, 0", idx, mem[good.status], tt.done)
				}
			}
		})
	}
}

func TestResetDropsRound(t *testing.T) {
	b := NewBlk(64*512, false)
	img := testImage(64)
	mem := make(ram, ramSize)
	d := setup(t, b, mem, 4)
	old := d.request(TypeIn, 0, 512, 1, nil)
	reqs, err := b.Fetch(mem)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("Fetch: %d requests, %v", len(reqs), err)
	}
	b.Serve(reqs[0], img)
	mustWrite(t, b, RegStatus, 0) // the driver resets the device meanwhile
	d = setup(t, b, mem, 4)
	if err := b.Complete(mem, reqs); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if mem[old.status] != 0xff || mem.u16(usedAddr+2) != 0 || !bytes.Equal(mem[old.data:old.data+512], make([]byte, 512)) {
		t.Fatalf("a dropped request was completed: status %#x, used idx %d", mem[old.status], mem.u16(usedAddr+2))
	}
	// The new set-up starts from slot 0 of both rings.
	r := d.request(TypeGetID, 0, 20, 1, nil)
	if got, err := round(t, b, mem, img); err != nil || len(got) != 1 {
		t.Fatalf("round after the reset: %d, %v", len(got), err)
	}
	if id, n := d.used(0); mem.u16(usedAddr+2) != 1 || id != uint32(r.head) || n != 21 {
		t.Errorf("used idx %d, element {%d, %d}", mem.u16(usedAddr+2), id, n)
	}
}

func TestResetDuringFetch(t *testing.T) {
	b := NewBlk(64*512, false)
	mem := make(ram, ramSize)
	d := setup(t, b, mem, 4)
	d.request(TypeFlush, 0, 0, 0, nil)
	// The reset lands while Fetch reads guest memory.
	hook := &hookMem{ram: mem, before: func() { b.Write(RegStatus, 4, 0) }}
	if got, err := b.Fetch(hook); got != nil || err != nil {
		t.Errorf("Fetch across a reset: %v, %v", got, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.q.lastAvail != 0 || b.status != 0 {
		t.Errorf("a Fetch across a reset left last_avail %d, status %#x", b.q.lastAvail, b.status)
	}
}

// hookMem runs before once, at the first access.
type hookMem struct {
	ram
	before func()
}

func (h *hookMem) ReadAt(p []byte, gpa uint64) error {
	if h.before != nil {
		h.before()
		h.before = nil
	}
	return h.ram.ReadAt(p, gpa)
}

func TestIndexWrap(t *testing.T) {
	// Both free-running indices wrap at 65536; a queue of 2 makes every
	// round reuse the same slot pair.
	b := NewBlk(64*512, false)
	mem := make(ram, ramSize)
	d := setup(t, b, mem, 2)
	head := d.chain(buf{d.hdr(99), 16, false}, buf{d.alloc(1), 1, true})
	for i := range 70000 {
		d.offer(head)
		got, err := round(t, b, mem, nil)
		if err != nil || len(got) != 1 {
			t.Fatalf("round %d: %d, %v", i, len(got), err)
		}
		if idx := mem.u16(usedAddr + 2); idx != uint16(i+1) {
			t.Fatalf("round %d: used idx %d", i, idx)
		}
	}
}

func TestRingWrap(t *testing.T) {
	// Three requests a round on a queue of 16: chains and rounds straddle
	// the end of the descriptor table and of both rings.
	b := NewBlk(64*512, false)
	img := testImage(64)
	mem := make(ram, ramSize)
	d := setup(t, b, mem, 16)
	var used uint16
	for rd := range 10 {
		var made []req
		for k := range 3 {
			made = append(made, d.request(TypeIn, uint64(rd*3+k), 512, 1, nil))
		}
		got, err := round(t, b, mem, img)
		if err != nil || len(got) != 3 {
			t.Fatalf("round %d: %d requests, %v", rd, len(got), err)
		}
		for k, r := range made {
			id, n := d.used(used)
			used++
			sector := uint64(rd*3 + k)
			if id != uint32(r.head) || n != 513 || mem[r.status] != StatusOK ||
				!bytes.Equal(mem[r.data:r.data+512], img.b[sector*512:][:512]) {
				t.Errorf("round %d request %d: used {%d, %d}, status %d", rd, k, id, n, mem[r.status])
			}
		}
		if idx := mem.u16(usedAddr + 2); idx != used {
			t.Errorf("round %d: used idx %d, want %d", rd, idx, used)
		}
	}
}

func TestConcurrentRegisters(t *testing.T) {
	// vCPU threads poke the registers while the device thread runs rounds;
	// run with -race.
	b := NewBlk(64*512, false)
	img := testImage(64)
	mem := make(ram, ramSize)
	d := setup(t, b, mem, 256)
	for range 80 { // 3 descriptors each
		d.request(TypeIn, 1, 512, 1, nil)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 1000 {
				b.Read(RegStatus, 4)
				b.Read(RegConfig, 8)
				b.Write(RegQueueNotify, 4, 0)
				b.Write(RegDeviceFeaturesSel, 4, 1)
			}
		})
	}
	for range 10 {
		reqs, _ := b.Fetch(mem)
		for _, r := range reqs {
			b.Serve(r, img)
		}
		b.Complete(mem, reqs)
	}
	wg.Wait()
	if idx := mem.u16(usedAddr + 2); idx != 80 {
		t.Errorf("used idx %d, want 80", idx)
	}
}

func TestFetchIdle(t *testing.T) {
	// A device that does not serve takes nothing and touches no memory.
	tests := []struct {
		name  string
		after func(t *testing.T, b *Blk)
	}{
		{"reset", func(t *testing.T, b *Blk) { mustWrite(t, b, RegStatus, 0) }},
		{"before DRIVER_OK", func(t *testing.T, b *Blk) { mustWrite(t, b, RegStatus, 0xb) }},
		{"queue not ready", func(t *testing.T, b *Blk) { mustWrite(t, b, RegQueueReady, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBlk(64*512, false)
			mem := make(ram, ramSize)
			d := setup(t, b, mem, 8)
			d.request(TypeFlush, 0, 0, 0, nil)
			tt.after(t, b)
			if got, err := b.Fetch(ram(nil)); got != nil || err != nil {
				t.Errorf("Fetch = %v, %v", got, err)
			}
		})
	}
}

func TestServeWithoutImage(t *testing.T) {
	b := NewBlk(64*512, false)
	b.Serve(nil, nil)
	for _, typ := range []uint32{TypeIn, TypeOut, TypeFlush} {
		r := &Request{Type: typ, DataLen: 512, Data: make([]byte, 512)}
		if typ == TypeFlush {
			r.DataLen, r.Data = 0, nil
		}
		b.Serve(r, nil)
		if r.Status != StatusIOErr || r.Written() != 0 {
			t.Errorf("type %d without an image: status %d, written %d", typ, r.Status, r.Written())
		}
	}
}
