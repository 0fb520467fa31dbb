package replaylog

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

var updateCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// corpusLogs are the logs the reader fuzzer starts from: whole, cut,
// checkpointed, uncompressed, of a newer minor version.
func corpusLogs(tb testing.TB) map[string][]byte {
	rng := rand.New(rand.NewPCG(5, 5))
	// Small logs: the fuzzer minimizes every new interesting input, which
	// takes long for large ones.
	small := writeLog(tb, testHeader(2), WriterOptions{BlockSize: 64}, eventSteps(randEvents(rng, 12, 2)))
	mem := testMemory(rng, 4)
	var steps []step
	for i, e := range randEvents(rng, 9, 3) {
		if i == 3 || i == 6 {
			steps = append(steps, step{cp: testCheckpoint(rng, 3, mem)})
		}
		steps = append(steps, step{ev: e})
	}
	h := testHeader(3)
	h.MemSize = 64 << 10
	ckpt := writeLog(tb, h, WriterOptions{BlockSize: 200}, steps)
	raw := writeLog(tb, testHeader(1), WriterOptions{NoCompression: true, BlockSize: 64},
		eventSteps(randEvents(rng, 8, 1)))
	l := newRawLog(testHeader(2), FormatMajor, FormatMinor+1, appendField(nil, 50, []byte{1}))
	l.block(BlockEvents, 0, 2, append(rawEvent(45|1<<6, 1, 4, 9), rawEvent(byte(KindClock), 2, 8, 1)...))
	l.block(BlockType(9), 1, 1, []byte{1, 2, 3})
	minor := l.finish()
	return map[string][]byte{
		"small":     small,
		"small-cut": small[:len(small)*2/3],
		"ckpt":      ckpt,
		"raw":       raw,
		"minor":     minor,
		"empty":     writeLog(tb, testHeader(1), WriterOptions{}, nil),
	}
}

// FuzzReader feeds arbitrary files to every reading entry point. Beyond
// not panicking, it checks that the reader agrees with itself: a log that
// Verify calls whole reads to io.EOF with exactly the events Verify
// counted.
func FuzzReader(f *testing.F) {
	for _, b := range corpusLogs(f) {
		f.Add(b)
	}
	f.Fuzz(checkReader)
}

func checkReader(t *testing.T, data []byte) {
	{
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		defer r.Close()
		var n uint64
		var nextErr error
		for n < 1e6 {
			e, err := r.Next()
			if err != nil {
				nextErr = err
				break
			}
			_ = e.String()
			n++
		}
		var te *TruncatedError
		var ce *CorruptError
		if !errors.Is(nextErr, io.EOF) && !errors.As(nextErr, &te) && !errors.As(nextErr, &ce) {
			t.Fatalf("Next ended with an untyped error: %v", nextErr)
		}
		v := r.Verify()
		if v.Whole && (nextErr != io.EOF || n != v.Events) {
			t.Fatalf("verify says whole with %d events, Next read %d and ended with %v", v.Events, n, nextErr)
		}
		_, _ = r.Blocks()
		if r.Header().MemSize <= 1<<26 {
			for i := range r.Checkpoints() {
				if _, err := r.SeekCheckpoint(i); err == nil {
					for k := 0; k < 100; k++ {
						if _, err := r.Next(); err != nil {
							break
						}
					}
				}
			}
		}
		if n > 0 {
			if err := r.SeekEvent(n / 2); err == nil {
				e, err := r.Next()
				if err != nil || e.Index != n/2 {
					t.Fatalf("after SeekEvent(%d): %v, %v", n/2, e, err)
				}
			}
		}
	}
}

// FuzzEventBlock decodes arbitrary bytes as an event block payload, past the
// checksum the file format would put in front of it. Whatever decodes must
// re-encode to the same events.
func FuzzEventBlock(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 4; i++ {
		var d deltaState
		d.reset(4)
		var p []byte
		for _, e := range randEvents(rng, 5, 4) {
			p = d.appendEvent(p, &e)
		}
		f.Add(p, uint8(4))
	}
	f.Add([]byte{3, byte(KindClock), 1, 2}, uint8(1))
	f.Fuzz(func(t *testing.T, payload []byte, vcpus uint8) {
		if vcpus == 0 {
			return
		}
		var x eventDecoder
		x.reset(payload, uint32(vcpus), false)
		var got []Event
		var ev Event
		for x.c.more() {
			if reason := x.next(&ev); reason != "" {
				return
			}
			if ev.Unknown() {
				return
			}
			got = append(got, normalize(*ev.Clone()))
		}
		h := Header{VCPUs: uint32(vcpus)}
		var d deltaState
		d.reset(int(vcpus))
		var re []byte
		for i := range got {
			if err := validateEvent(&h, &got[i]); err != nil {
				t.Fatalf("decoded event %d fails validation: %v (%s)", i, err, &got[i])
			}
			re = d.appendEvent(re, &got[i])
		}
		x.reset(re, uint32(vcpus), false)
		for i := range got {
			if reason := x.next(&ev); reason != "" {
				t.Fatalf("re-encoded event %d does not decode: %s", i, reason)
			}
			if !reflect.DeepEqual(normalize(ev), got[i]) {
				t.Fatalf("event %d changed on re-encoding:\n %s\n %s", i, &ev, &got[i])
			}
		}
	})
}

// FuzzCheckpointRecord decodes arbitrary checkpoint records.
func FuzzCheckpointRecord(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 9))
	var rb runBuilder
	for _, p := range []uint64{0, 1, 2, 2, 2, 7, 3} {
		rb.add(uint64(len(rb.runs))*PageBytes*4, p)
	}
	f.Add(appendCheckpointRecord(nil, testCheckpoint(rng, 2, make([]byte, 4*PageBytes)), rb.runs))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := parseCheckpointRecord(b, 8, 1<<16, 16)
		if err != nil {
			return
		}
		if rec.pages > 1<<16 {
			t.Fatalf("record covers %d pages, limit %d", rec.pages, 1<<16)
		}
		cp := &Checkpoint{VCPUs: rec.vcpus, Extra: rec.extra}
		again, err := parseCheckpointRecord(appendCheckpointRecord(nil, cp, rec.runs), 8, 1<<16, 16)
		if err != nil || !reflect.DeepEqual(again.runs, rec.runs) {
			t.Fatalf("record does not re-encode: %v", err)
		}
	})
}

// FuzzRoundTrip is the round-trip property under the fuzzer's control of
// the event mix and the block size.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint16(50), uint16(100), false)
	f.Add(uint64(2), uint16(500), uint16(1), true)
	f.Fuzz(func(t *testing.T, seed uint64, n, blockSize uint16, raw bool) {
		rng := rand.New(rand.NewPCG(seed, 77))
		vcpus := uint32(1 + seed%5)
		evs := randEvents(rng, int(n%2000), vcpus)
		log := writeLog(t, testHeader(vcpus), WriterOptions{BlockSize: int(blockSize) + 1, NoCompression: raw}, eventSteps(evs))
		got, err := readAll(openBytes(t, log))
		if err != nil || len(got) != len(evs) {
			t.Fatalf("%d of %d events, %v", len(got), len(evs), err)
		}
		for i := range evs {
			sameEvent(t, i, got[i], evs[i])
		}
	})
}

// TestFuzzCorpus checks that the seed corpus in testdata/fuzz is present
// and, with -update-fuzz-corpus, rewrites it from corpusLogs.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range corpusLogs(t) {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
			if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no seed corpus in %s (run go test -run TestFuzzCorpus -update-fuzz-corpus): %v", dir, err)
	}
}
