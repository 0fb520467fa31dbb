package virtio

import (
	"strings"
	"testing"

	"github.com/crewvm/crewvm/vmm/abi"
)

func TestRegisterReads(t *testing.T) {
	rw := NewBlk(3<<20+100, false) // rounded down to 6144 sectors
	ro := NewBlk(1<<20, true)
	tests := []struct {
		name string
		b    *Blk
		sel  func(b *Blk) // writes before the read
		off  uint64
		size int
		want uint64
	}{
		{"magic", rw, nil, RegMagicValue, 4, 0x74726976},
		{"version", rw, nil, RegVersion, 4, 2},
		{"device id", rw, nil, RegDeviceID, 4, 2},
		{"vendor id", rw, nil, RegVendorID, 4, 0x57455243},
		{"features low", rw, nil, RegDeviceFeatures, 4, 1<<2 | 1<<6 | 1<<9},
		{"features high", rw, func(b *Blk) { b.Write(RegDeviceFeaturesSel, 4, 1) }, RegDeviceFeatures, 4, 1},
		{"features sel 2", rw, func(b *Blk) { b.Write(RegDeviceFeaturesSel, 4, 2) }, RegDeviceFeatures, 4, 0},
		{"features low read-only", ro, nil, RegDeviceFeatures, 4, 1<<2 | 1<<5 | 1<<6 | 1<<9},
		{"queue num max", rw, nil, RegQueueNumMax, 4, abi.VirtioQueueMax},
		{"queue num max queue 1", rw, func(b *Blk) { b.Write(RegQueueSel, 4, 1) }, RegQueueNumMax, 4, 0},
		{"queue ready", rw, nil, RegQueueReady, 4, 0},
		{"interrupt status", rw, nil, RegInterruptStatus, 4, 0},
		{"status", rw, nil, RegStatus, 4, 0},
		{"config generation", rw, nil, RegConfigGeneration, 4, 0},
		{"shm len", rw, nil, RegSHMLenLow, 4, 0xffffffff},
		{"write-only queue num", rw, nil, RegQueueNum, 4, 0},
		{"unknown register", rw, nil, 0x0f0, 4, 0},
		{"unaligned register", rw, nil, RegMagicValue + 2, 4, 0},
		{"narrow register", rw, nil, RegMagicValue, 2, 0},
		{"wide register", rw, nil, RegMagicValue, 8, 0},
		{"capacity", rw, nil, RegConfig, 8, 6144},
		{"capacity low", rw, nil, RegConfig, 4, 6144},
		{"capacity high", rw, nil, RegConfig + 4, 4, 0},
		{"capacity byte 1", rw, nil, RegConfig + 1, 1, 6144 >> 8},
		{"capacity unaligned", rw, nil, RegConfig + 1, 2, 6144 >> 8},
		{"capacity read-only", ro, nil, RegConfig, 8, 2048},
		{"size_max", rw, nil, RegConfig + 0x08, 4, 0},
		{"seg_max", rw, nil, RegConfig + 0x0c, 4, 254},
		{"geometry", rw, nil, RegConfig + 0x10, 4, 0},
		{"blk_size", rw, nil, RegConfig + 0x14, 4, 512},
		{"blk_size and beyond", rw, nil, RegConfig + 0x14, 8, 512},
		{"config beyond", rw, nil, RegConfig + 0x18, 8, 0},
		{"config end", rw, nil, 0xff8, 8, 0},
		{"config odd width", rw, nil, RegConfig, 3, 0},
		{"config across the end", rw, nil, 0xffc, 8, 0},
		{"outside the window", rw, nil, 0x1000, 4, 0},
		{"far outside", rw, nil, ^uint64(0), 8, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sel != nil {
				tt.sel(tt.b)
				defer tt.b.Write(RegStatus, 4, 0)
			}
			if got := tt.b.Read(tt.off, tt.size); got != tt.want {
				t.Errorf("Read(%#x, %d) = %#x, want %#x", tt.off, tt.size, got, tt.want)
			}
		})
	}
	if rw.Capacity() != 6144 || ro.Capacity() != 2048 {
		t.Errorf("Capacity = %d, %d; want 6144, 2048", rw.Capacity(), ro.Capacity())
	}
}

func TestSetupSequence(t *testing.T) {
	b := NewBlk(1<<20, false)
	steps := []struct {
		name       string
		off, val   uint64
		status     uint64
		queueReady uint64
	}{
		{"reset", RegStatus, 0, 0, 0},
		{"acknowledge", RegStatus, StatusAcknowledge, 1, 0},
		{"driver", RegStatus, StatusAcknowledge | StatusDriver, 3, 0},
		{"driver features sel 0", RegDriverFeaturesSel, 0, 3, 0},
		{"driver features low", RegDriverFeatures, FeatureFlush | FeatureBlkSize, 3, 0},
		{"driver features sel 1", RegDriverFeaturesSel, 1, 3, 0},
		{"driver features high", RegDriverFeatures, FeatureVersion1 >> 32, 3, 0},
		{"features ok", RegStatus, StatusAcknowledge | StatusDriver | StatusFeaturesOK, 0xb, 0},
		{"queue sel", RegQueueSel, 0, 0xb, 0},
		{"queue num", RegQueueNum, 8, 0xb, 0},
		{"desc", RegQueueDescLow, descAddr, 0xb, 0},
		{"avail", RegQueueDriverLow, availAddr, 0xb, 0},
		{"used", RegQueueDeviceLow, usedAddr, 0xb, 0},
		{"queue ready", RegQueueReady, 1, 0xb, 1},
		{"driver ok", RegStatus, 0xf, 0xf, 1},
		{"driver cannot set needs reset", RegStatus, 0xf | StatusNeedsReset, 0xf, 1},
		{"reset again", RegStatus, 0, 0, 0},
	}
	for _, s := range steps {
		if notify, err := b.Write(s.off, 4, s.val); notify || err != nil {
			t.Fatalf("%s: Write = %v, %v", s.name, notify, err)
		}
		if got := b.Read(RegStatus, 4); got != s.status {
			t.Errorf("%s: status %#x, want %#x", s.name, got, s.status)
		}
		if got := b.Read(RegQueueReady, 4); got != s.queueReady {
			t.Errorf("%s: QueueReady %d, want %d", s.name, got, s.queueReady)
		}
	}
}

func TestFeatureNegotiation(t *testing.T) {
	all := uint64(FeatureVersion1 | FeatureSegMax | FeatureBlkSize | FeatureFlush)
	tests := []struct {
		name     string
		readOnly bool
		low, hi  uint64
		sel2     uint64 // written with DriverFeaturesSel 2
		keep     bool
	}{
		{"all offered", false, all & 0xffffffff, all >> 32, 0, true},
		{"version 1 alone", false, 0, 1, 0, true},
		{"no version 1", false, all & 0xffffffff, 0, 0, false},
		{"nothing", false, 0, 0, 0, false},
		{"unoffered low bit", false, 1 << 29, 1, 0, false}, // VIRTIO_RING_F_EVENT_IDX
		{"unoffered high bit", false, 0, 1 | 1<<1, 0, false},
		{"RO not offered", false, FeatureRO, 1, 0, false},
		{"RO offered", true, FeatureRO | FeatureFlush, 1, 0, true},
		{"bit above 63", false, 0, 1, 1, false},
		{"zero above 63", false, 0, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBlk(1<<20, tt.readOnly)
			mustWrite(t, b, RegStatus, StatusAcknowledge|StatusDriver)
			mustWrite(t, b, RegDriverFeaturesSel, 0)
			mustWrite(t, b, RegDriverFeatures, tt.low)
			mustWrite(t, b, RegDriverFeaturesSel, 1)
			mustWrite(t, b, RegDriverFeatures, tt.hi)
			mustWrite(t, b, RegDriverFeaturesSel, 2)
			mustWrite(t, b, RegDriverFeatures, tt.sel2)
			mustWrite(t, b, RegStatus, StatusAcknowledge|StatusDriver|StatusFeaturesOK)
			got := b.Read(RegStatus, 4)&StatusFeaturesOK != 0
			if got != tt.keep {
				t.Fatalf("FEATURES_OK kept = %v, want %v", got, tt.keep)
			}
			if !got {
				return
			}
			// The set is final now: a later write changes nothing.
			mustWrite(t, b, RegDriverFeaturesSel, 0)
			mustWrite(t, b, RegDriverFeatures, 1<<29)
			mustWrite(t, b, RegStatus, StatusAcknowledge|StatusDriver|StatusFeaturesOK|StatusDriverOK)
			if b.Read(RegStatus, 4)&StatusFeaturesOK == 0 {
				t.Error("a feature write after FEATURES_OK was taken")
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name   string
		before func(t *testing.T, b *Blk)
		off    uint64
		val    uint64
		notify bool
		err    string
	}{
		{"queue num 0", nil, RegQueueNum, 0, false, "QueueNum 0 is not a power of two"},
		{"queue num 3", nil, RegQueueNum, 3, false, "QueueNum 3"},
		{"queue num 512", nil, RegQueueNum, 512, false, "QueueNum 512"},
		{"queue num high bits", nil, RegQueueNum, 1 << 32, false, "QueueNum 0"},
		{"queue num 1", nil, RegQueueNum, 1, false, ""},
		{"queue num 256", nil, RegQueueNum, 256, false, ""},
		{"queue num of queue 1", func(t *testing.T, b *Blk) { mustWrite(t, b, RegQueueSel, 1) }, RegQueueNum, 3, false, ""},
		{"notify on a reset device", nil, RegQueueNotify, 0, false, "before FEATURES_OK"},
		{"notify before driver ok", func(t *testing.T, b *Blk) {
			setup(t, b, make(ram, ramSize), 8)
			mustWrite(t, b, RegStatus, StatusAcknowledge|StatusDriver|StatusFeaturesOK)
		}, RegQueueNotify, 0, false, "before DRIVER_OK"},
		{"notify before queue ready", func(t *testing.T, b *Blk) {
			setup(t, b, make(ram, ramSize), 8)
			mustWrite(t, b, RegQueueReady, 0)
		}, RegQueueNotify, 0, false, "before QueueReady"},
		{"notify", func(t *testing.T, b *Blk) { setup(t, b, make(ram, ramSize), 8) }, RegQueueNotify, 0, true, ""},
		{"notify queue 1", func(t *testing.T, b *Blk) { setup(t, b, make(ram, ramSize), 8) }, RegQueueNotify, 1, false, ""},
		{"notify a device that needs a reset", func(t *testing.T, b *Blk) {
			setup(t, b, make(ram, ramSize), 8)
			b.mu.Lock()
			b.status |= StatusNeedsReset
			b.mu.Unlock()
		}, RegQueueNotify, 0, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBlk(1<<20, false)
			if tt.before != nil {
				tt.before(t, b)
			}
			notify, err := b.Write(tt.off, 4, tt.val)
			if notify != tt.notify {
				t.Errorf("notify = %v, want %v", notify, tt.notify)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one saying %q", err, tt.err)
			}
		})
	}
}

func TestQueueConfigFixedWhileReady(t *testing.T) {
	b := NewBlk(1<<20, false)
	mem := make(ram, ramSize)
	d := setup(t, b, mem, 4)
	// Moving a ready queue is ignored: the requests still use the rings
	// set up first.
	mustWrite(t, b, RegQueueNum, 8)
	mustWrite(t, b, RegQueueDescLow, 0x8000)
	mustWrite(t, b, RegQueueDeviceLow, 0x9000)
	d.request(TypeGetID, 0, 20, 1, nil)
	if _, err := round(t, b, mem, nil); err != nil {
		t.Fatal(err)
	}
	if got := mem.u16(usedAddr + 2); got != 1 {
		t.Errorf("used idx %d, want 1", got)
	}
}
