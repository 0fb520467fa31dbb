package replaylog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// realLog writes a log with many small blocks, two checkpoints and an end
// event, and returns it with its events and block list.
func realLog(t testing.TB, nev int, blockSize int) ([]byte, []Event, []BlockInfo) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 13))
	const vcpus = 2
	evs := randEvents(rng, nev, vcpus)
	evs = append(evs, End())
	mem := testMemory(rng, 16)
	var steps []step
	for i, e := range evs {
		if i == nev/3 || i == 2*nev/3 {
			steps = append(steps, step{cp: testCheckpoint(rng, vcpus, mem)})
			mem[i%len(mem)] ^= 1
		}
		steps = append(steps, step{ev: e})
	}
	log := writeLog(t, testHeader(vcpus), WriterOptions{BlockSize: blockSize}, steps)
	blocks, err := openBytes(t, log).Blocks()
	if err != nil {
		t.Fatal(err)
	}
	return log, evs, blocks
}

// eventsBefore returns how many events lie in whole blocks ending at or
// before n, and where the last whole block ends.
func eventsBefore(blocks []BlockInfo, dataStart int64, n int64) (uint64, int64) {
	var events uint64
	end := dataStart
	for _, b := range blocks {
		if b.End() > n {
			break
		}
		end = b.End()
		if b.Type == BlockEvents {
			events = b.First + uint64(b.Count)
		}
	}
	return events, end
}

// TestTruncateEverywhere cuts a real log at every offset: every whole block
// stays readable, the events read are exactly the original's prefix, and
// the error says where the log ends and after which event.
func TestTruncateEverywhere(t *testing.T) {
	log, evs, blocks := realLog(t, 200, 256)
	pc := newPrefixChecker(evs, 2)
	full := openBytes(t, log)
	dataStart := full.dataStart
	stepBy := 1
	if testing.Short() {
		stepBy = 7
	}
	for n := 0; n < len(log); n += stepBy {
		cut := log[:n]
		r, err := NewReader(bytes.NewReader(cut), int64(n))
		if int64(n) < dataStart {
			var te *TruncatedError
			switch {
			case n == 0 && errors.Is(err, ErrNotLog):
			case errors.As(err, &te) && te.InHeader:
			default:
				t.Fatalf("cut at %d (in header): err = %v", n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: open: %v", n, err)
		}
		got, err := pc.read(t, fmt.Sprintf("cut at %d", n), r)
		wantEvents, wantEnd := eventsBefore(blocks, dataStart, int64(n))
		if n >= len(log)-footerSize {
			// Cut inside the footer: every event is there.
			wantEvents, wantEnd = uint64(len(evs)), int64(len(log)-footerSize)
		}
		var te *TruncatedError
		if !errors.As(err, &te) {
			t.Fatalf("cut at %d: err = %v, want *TruncatedError", n, err)
		}
		if te.Offset != wantEnd || te.Events != wantEvents || te.Size != int64(n) {
			t.Fatalf("cut at %d: %v (offset %d events %d), want offset %d events %d", n, te, te.Offset, te.Events, wantEnd, wantEvents)
		}
		want := fmt.Sprintf("truncated at byte %d after event %d", wantEnd, wantEvents-1)
		if wantEvents > 0 && !strings.Contains(te.Error(), want) {
			t.Fatalf("cut at %d: message %q lacks %q", n, te.Error(), want)
		}
		if got != wantEvents {
			t.Fatalf("cut at %d: read %d events, want %d", n, got, wantEvents)
		}
		v := r.Verify()
		if v.Whole || len(v.Problems) == 0 || v.Events != wantEvents {
			t.Fatalf("cut at %d: verify whole=%v events=%d problems=%v", n, v.Whole, v.Events, v.Problems)
		}
		// Checkpoints in whole blocks still load (sampled: it is slow).
		if n%5 != 0 {
			continue
		}
		for i, cp := range r.Checkpoints() {
			if _, err := r.SeekCheckpoint(i); err != nil {
				t.Fatalf("cut at %d: checkpoint %d (event %d): %v", n, i, cp.Event, err)
			}
		}
	}
}

// TestFlipEveryByte flips one bit at every offset of a real log: the reader
// never panics, never returns an event that differs from the original,
// names the damaged block and its offset, and Verify never calls the log
// whole.
func TestFlipEveryByte(t *testing.T) {
	log, evs, blocks := realLog(t, 200, 300)
	pc := newPrefixChecker(evs, 2)
	dataStart := openBytes(t, log).dataStart
	stepBy := 1
	if testing.Short() {
		stepBy = 5
	}
	damaged := make([]byte, len(log))
	for off := 0; off < len(log); off += stepBy {
		copy(damaged, log)
		damaged[off] ^= 1 << (off % 8)
		r, err := NewReader(bytes.NewReader(damaged), int64(len(damaged)))
		if int64(off) < dataStart {
			if err == nil {
				t.Fatalf("flip at %d (header): opened", off)
			}
			continue
		}
		if err != nil {
			t.Fatalf("flip at %d: open: %v", off, err)
		}
		got, err := pc.read(t, fmt.Sprintf("flip at %d", off), r)
		// Which block was hit?
		var hit *BlockInfo
		for i := range blocks {
			if int64(off) >= blocks[i].Offset && int64(off) < blocks[i].End() {
				hit = &blocks[i]
			}
		}
		inFrame := hit != nil && int64(off) < hit.Offset+frameSize
		if hit != nil && (hit.Type == BlockEvents || inFrame) {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Block != hit.Ordinal || ce.Offset != hit.Offset {
				t.Fatalf("flip at %d in block %d at %d: err = %v", off, hit.Ordinal, hit.Offset, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("block %d at byte offset %d", hit.Ordinal, hit.Offset)) {
				t.Fatalf("flip at %d: message %q does not name the block", off, err)
			}
			if hit.Type == BlockEvents && got != hit.First {
				t.Fatalf("flip at %d: %d events before the damaged block, want %d", off, got, hit.First)
			}
		}
		if v := r.Verify(); v.Whole || len(v.Problems) == 0 {
			t.Fatalf("flip at %d: verify says whole", off)
		}
		// Loading checkpoints either works or fails cleanly.
		for i := range r.Checkpoints() {
			_, _ = r.ReadCheckpoint(i)
		}
	}
}

// TestCorruptBlockIsSkippedByVerify damages two separate blocks: Next stops
// at the first, Verify reports both.
func TestCorruptBlockIsSkippedByVerify(t *testing.T) {
	log, _, blocks := realLog(t, 600, 200)
	var evBlocks []BlockInfo
	for _, b := range blocks {
		if b.Type == BlockEvents {
			evBlocks = append(evBlocks, b)
		}
	}
	a, b := evBlocks[2], evBlocks[len(evBlocks)-3]
	damaged := append([]byte(nil), log...)
	damaged[a.Offset+frameSize+2] ^= 0x40 // payload
	damaged[b.Offset+9] ^= 0x01           // header (length field)
	r := openBytes(t, damaged)
	_, err := readAll(r)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != a.Offset || !strings.Contains(ce.Reason, "checksum") {
		t.Fatalf("Next: %v", err)
	}
	v := r.Verify()
	var offs []int64
	for _, p := range v.Problems {
		if errors.As(p, &ce) {
			offs = append(offs, ce.Offset)
		}
	}
	if len(offs) < 2 || offs[0] != a.Offset || offs[1] != b.Offset {
		t.Fatalf("verify problems %v", v.Problems)
	}
	if v.Whole {
		t.Fatal("verify says whole")
	}
	// Verify skipped both damaged blocks and decoded everything else.
	last := evBlocks[len(evBlocks)-1]
	if want := last.First + uint64(last.Count) - uint64(a.Count) - uint64(b.Count); v.Events != want {
		t.Fatalf("verify decoded %d events, want %d", v.Events, want)
	}
}

func TestNotALog(t *testing.T) {
	valid := writeLog(t, testHeader(1), WriterOptions{}, nil)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file: not a crewvm replay log"},
		{"text", []byte("hello, world\nthis is text\n"), `not a crewvm replay log: it starts with "hello, w"`},
		{"elf", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "not a crewvm replay log"},
		{"one-byte", []byte{0}, "not a crewvm replay log"},
		{"magic-prefix", []byte(Magic[:4]), "inside its header"},
		{"magic-only", []byte(Magic), "inside its header"},
		{"header-cut", valid[:30], "inside its header"},
		{"header-crc", flip(valid, 20), "corrupt log header"},
		{"header-len", patch(valid, 12, []byte{0xff, 0xff, 0xff, 0x7f}), "header length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// Through Open, the message names the file.
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("just some notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil || !errors.Is(err, ErrNotLog) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v", err)
	}
}

func flip(b []byte, off int) []byte {
	c := append([]byte(nil), b...)
	c[off] ^= 0x10
	return c
}

func patch(b []byte, off int, p []byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[off:], p)
	return c
}

// rawLog assembles a log by hand, to build files the writer never writes:
// other versions, unknown kinds and block types, checksummed garbage.
type rawLog struct {
	b   []byte
	idx []byte
	n   uint32
}

func newRawLog(h Header, major, minor uint16, extraField []byte) *rawLog {
	hb := h.marshal()
	body := hb[headerFixed : len(hb)-4]
	if extraField != nil {
		body = append(append([]byte(nil), body...), extraField...)
	}
	var b []byte
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint16(b, major)
	b = binary.LittleEndian.AppendUint16(b, minor)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	b = binary.LittleEndian.AppendUint32(b, crc32c(b))
	return &rawLog{b: b}
}

func (l *rawLog) block(typ BlockType, first uint64, count uint32, payload []byte) {
	f := frame{typ: typ, codec: codecRaw, stored: uint32(len(payload)), raw: uint32(len(payload)),
		first: first, count: count, sum: crc32c(payload)}
	var hdr [frameSize]byte
	f.put(hdr[:])
	l.b = append(l.b, hdr[:]...)
	l.b = append(l.b, payload...)
	l.idx = appendIndexEntry(l.idx, &BlockInfo{Type: typ, First: first, Count: count, Stored: f.stored, Raw: f.raw})
	l.n++
}

func (l *rawLog) finish() []byte {
	off := int64(len(l.b))
	idx := l.idx
	l.block(BlockIndex, 0, l.n, idx)
	var foot [footerSize]byte
	putFooter(foot[:], off)
	return append(l.b, foot[:]...)
}

// rawEvent encodes one event body by hand: kind byte, vCPU+1, rest.
func rawEvent(kindByte byte, vcpu1 uint64, rest ...byte) []byte {
	body := []byte{kindByte}
	body = binary.AppendUvarint(body, vcpu1)
	body = append(body, rest...)
	return append(binary.AppendUvarint(nil, uint64(len(body))), body...)
}

func TestVersions(t *testing.T) {
	h := testHeader(2)
	t.Run("newer-major", func(t *testing.T) {
		l := newRawLog(h, FormatMajor+1, 0, nil)
		_, err := NewReader(bytes.NewReader(l.b), int64(len(l.b)))
		var ve *VersionError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "is newer than this vmm reads") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("older-major", func(t *testing.T) {
		l := newRawLog(h, 0, 9, nil)
		_, err := NewReader(bytes.NewReader(l.b), int64(len(l.b)))
		if err == nil || !strings.Contains(err.Error(), "older") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("newer-minor", func(t *testing.T) {
		// A 1.5 log: an unknown header field, an unknown block type, an
		// event of an unknown kind with a position (whose delta must
		// still count), and a known kind with an appended field.
		field := appendField(nil, 99, []byte("future"))
		l := newRawLog(h, FormatMajor, FormatMinor+5, field)
		var p []byte
		p = append(p, rawEvent(40|byte(PosExit)<<6, 2, 10, 0xaa, 0xbb)...)           // vcpu 1, exit +5 (zigzag 10)
		p = append(p, rawEvent(byte(KindInterrupt)|byte(PosExit)<<6, 2, 2, 0x20)...) // exit +1
		p = append(p, rawEvent(byte(KindClock), 1, 14, 0x99, 0x98)...)               // clock 7 + 2 new bytes
		p = append(p, rawEvent(kindEscape, 5, 1, 1, 2)...)                           // extended kind 63+5, vcpu 0
		l.block(BlockEvents, 0, 4, p)
		l.block(BlockType(77), 0, 0, []byte("a block type from the future"))
		e := rawEvent(byte(KindEnd), 0)
		l.block(BlockEvents, 4, 1, e)
		log := l.finish()
		r := openBytes(t, log)
		if got := r.Header(); got.Minor != FormatMinor+5 || got.VCPUs != 2 {
			t.Fatalf("header %+v", got)
		}
		got, err := readAll(r)
		if err != nil {
			t.Fatal(err)
		}
		want := []Event{
			{Kind: 40, VCPU: 1, Pos: ExitPos(5), Data: []byte{0xaa, 0xbb}},
			Interrupt(1, 0x20, ExitPos(6)),
			Clock(0, 7),
			{Kind: 68, VCPU: 0, Data: []byte{1, 2}},
			End(),
		}
		if len(got) != len(want) {
			t.Fatalf("%d events, want %d", len(got), len(want))
		}
		for i := range want {
			sameEvent(t, i, got[i], want[i])
		}
		if !got[0].Unknown() || got[1].Unknown() {
			t.Fatal("Unknown() wrong")
		}
		if v := r.Verify(); !v.Whole {
			t.Fatalf("verify: %v", v.Problems)
		}
	})
	t.Run("same-minor-strict", func(t *testing.T) {
		// The same trailing bytes in a log of our own version are damage.
		l := newRawLog(h, FormatMajor, FormatMinor, nil)
		l.block(BlockEvents, 0, 1, rawEvent(byte(KindClock), 1, 14, 0x99))
		_, err := readAll(openBytes(t, l.finish()))
		if err == nil || !strings.Contains(err.Error(), "trailing bytes") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestChecksummedGarbage feeds event payloads that pass their checksum but
// are not valid events (a writer bug, or a crafted file): the reader
// reports a corrupt block and never panics.
func TestChecksummedGarbage(t *testing.T) {
	h := testHeader(2)
	tests := []struct {
		name    string
		payload []byte
		count   uint32
		want    string
	}{
		{"length-past-end", []byte{50, 1}, 1, "runs past the end"},
		{"kind-zero", rawEvent(0, 1), 1, "bad event kind"},
		{"vcpu-range", rawEvent(byte(KindClock), 9, 0), 1, "out of range"},
		{"pos-without-vcpu", rawEvent(byte(KindClock)|1<<6, 0, 0, 0), 1, "position"},
		{"pos-kind-3", rawEvent(byte(KindClock)|3<<6, 1, 0, 0), 1, "position kind"},
		{"port-size", rawEvent(byte(KindPortIn), 1, 1, 3, 0), 1, "port access"},
		{"crew-state", rawEvent(byte(KindCREW)|1<<6, 1, 0, 0, 0xff, 0), 1, "access/state"},
		{"crew-no-pos", rawEvent(byte(KindCREW), 1, 0, 1|1<<2, 0), 1, "without a position"},
		{"constraints", rawEvent(byte(KindCREW)|1<<6, 1, 0, 0, 1|1<<2, 9), 1, "constraints"},
		{"constraint-vcpu", rawEvent(byte(KindCREW)|1<<6, 1, 0, 0, 1|1<<2, 1, 7<<2|1, 0), 1, "bad constraint"},
		{"statehash-flag", rawEvent(byte(KindStateHash)|1<<6, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9), 1, "memory hash flag"},
		{"short", rawEvent(byte(KindHypercall), 1), 1, "too short"},
		{"data-huge", rawEvent(byte(KindConsoleInput), 0, 0xff, 0xff, 0xff, 0xff, 0x0f), 1, "too short"},
		{"name-huge", rawEvent(byte(KindLabel), 1, 0, 0, 0xff, 0xff, 0x03), 1, "name"},
		{"count-too-high", rawEvent(byte(KindEnd), 0), 2, "runs past the end"},
		{"count-too-low", append(rawEvent(byte(KindEnd), 0), rawEvent(byte(KindEnd), 0)...), 1, "after its last event"},
		{"varint-overflow", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 1, "runs past"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newRawLog(h, FormatMajor, FormatMinor, nil)
			l.block(BlockEvents, 0, tc.count, tc.payload)
			r := openBytes(t, l.finish())
			_, err := readAll(r)
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want corrupt block with %q", err, tc.want)
			}
			if r.Verify().Whole {
				t.Fatal("verify says whole")
			}
		})
	}
	t.Run("event-gap", func(t *testing.T) {
		l := newRawLog(h, FormatMajor, FormatMinor, nil)
		l.block(BlockEvents, 0, 1, rawEvent(byte(KindEnd), 0))
		l.block(BlockEvents, 5, 1, rawEvent(byte(KindEnd), 0))
		_, err := readAll(openBytes(t, l.finish()))
		if err == nil || !strings.Contains(err.Error(), "starts at event 5, expected 1") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad-checkpoint-ref", func(t *testing.T) {
		l := newRawLog(h, FormatMajor, FormatMinor, nil)
		cp := &Checkpoint{VCPUs: make([]VCPUState, 2)}
		rec := appendCheckpointRecord(nil, cp, []pageRun{{gpa: 0, count: 1, page: 3, step: 1}})
		l.block(BlockCheckpoint, 0, 2, rec)
		r := openBytes(t, l.finish())
		if _, err := r.ReadCheckpoint(0); err == nil || !strings.Contains(err.Error(), "refers to stored page 3") {
			t.Fatalf("err = %v", err)
		}
	})
}

// crashEnv makes the test binary act as a recorder that is killed.
const crashEnv = "REPLAYLOG_CRASH_CHILD"

// crashEvent is the deterministic event stream of the crash child.
func crashEvents(seed uint64) func() Event {
	rng := rand.New(rand.NewPCG(seed, 5))
	exits := make([]uint64, 4)
	return func() Event { return randEvent(rng, exits, 4) }
}

func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only runs as the child of TestKilledRecorder")
	}
	w, err := Create(path, testHeader(4), WriterOptions{BlockSize: 1024, MaxPending: 4})
	if err != nil {
		t.Fatal(err)
	}
	next := crashEvents(99)
	mem := testMemory(rand.New(rand.NewPCG(1, 2)), 32)
	for i := 0; ; i++ {
		e := next()
		if err := w.Append(&e); err != nil {
			t.Fatal(err)
		}
		if i%5000 == 4999 {
			if err := w.Checkpoint(testCheckpoint(rand.New(rand.NewPCG(uint64(i), 3)), 4, mem)); err != nil {
				t.Fatal(err)
			}
		}
		if i%2000 == 0 {
			time.Sleep(time.Millisecond) // let the parent's kill land anywhere
		}
	}
}

// TestKilledRecorder kills a real recording process with SIGKILL at
// various sizes: the log is readable up to its last whole block, every
// event read is the one written, and the error says where it ends.
func TestKilledRecorder(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, killAt := range []int64{20 << 10, 150 << 10, 400 << 10} {
		t.Run(strconv.FormatInt(killAt, 10), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "killed.log")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
			cmd.Env = append(os.Environ(), crashEnv+"="+path)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				fi, err := os.Stat(path)
				if err == nil && fi.Size() >= killAt {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal("child did not write enough")
				}
				time.Sleep(time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			next := crashEvents(99)
			var n uint64
			for {
				e, err := r.Next()
				if err != nil {
					var te *TruncatedError
					if !errors.As(err, &te) || te.Events != n || te.Events == 0 {
						t.Fatalf("after %d events: %v", n, err)
					}
					t.Logf("killed at %d bytes: %v", r.Size(), err)
					break
				}
				sameEvent(t, int(n), e, next())
				n++
			}
			v := r.Verify()
			if v.Whole || len(v.Problems) != 1 || v.Events != n {
				t.Fatalf("verify: %+v", v)
			}
			for i := range r.Checkpoints() {
				if _, err := r.ReadCheckpoint(i); err != nil {
					t.Fatalf("checkpoint %d: %v", i, err)
				}
			}
		})
	}
}
