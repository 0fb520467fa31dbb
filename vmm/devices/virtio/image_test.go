package virtio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestFillSector(t *testing.T) {
	// The formula of guest/ABI.md, written out again with its constants.
	words := func(i uint64) [2]uint64 {
		x := (i + 1) * 0x9e3779b97f4a7c15
		var w [2]uint64
		for k := range w {
			x ^= x >> 12
			x ^= x << 25
			x ^= x >> 27
			w[k] = x * 0x2545f4914f6cdd1d
		}
		return w
	}
	tests := []struct {
		sector uint64
		golden [2]uint64 // computed outside Go
	}{
		{0, [2]uint64{0x0d83b3e29a21487a, 0x54c44c79f1fe9d67}},
		{1, [2]uint64{0x121d5c5683af6e11, 0x4ee9809797c677eb}},
	}
	for _, tt := range tests {
		p := make([]byte, 512)
		FillSector(tt.sector, p)
		got := [2]uint64{binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])}
		if want := words(tt.sector); got != want || got != tt.golden {
			t.Errorf("sector %d starts %#x, want %#x (golden %#x)", tt.sector, got, want, tt.golden)
		}
	}
	// The last word is the 64th of the sequence, and sectors differ.
	a, b := make([]byte, 512), make([]byte, 512)
	FillSector(7, a)
	FillSector(8, b)
	if bytes.Equal(a, b) || binary.LittleEndian.Uint64(a[504:]) == 0 {
		t.Error("sectors 7 and 8 are alike or end in 0")
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestMakeImage(t *testing.T) {
	tests := []struct {
		size uint64
		err  string
	}{
		{1 << 20, ""},
		{1<<20 + 512, ""},
		{3<<20 + 1024, ""},
		{1<<20 - 512, "at least"},
		{1<<20 + 1, "multiple of 512"},
		{0, "at least"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		err := MakeImage(&buf, tt.size)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("size %d: error %v, want one saying %q", tt.size, err, tt.err)
			}
			continue
		}
		if err != nil || uint64(buf.Len()) != tt.size {
			t.Errorf("size %d: %d bytes, %v", tt.size, buf.Len(), err)
			continue
		}
		img := buf.Bytes()
		want := make([]byte, 512)
		for _, i := range []uint64{0, 1, 2047, 2048, tt.size/512 - 1} {
			if i >= tt.size/512 {
				continue
			}
			FillSector(i, want)
			if !bytes.Equal(img[i*512:][:512], want) {
				t.Errorf("size %d: sector %d is not FillSector's", tt.size, i)
			}
		}
	}
	err := MakeImage(&failWriter{n: 1}, 2<<20)
	if err == nil || !strings.Contains(err.Error(), "at byte 1048576: disk full") {
		t.Errorf("a failing writer gave %v", err)
	}
}
