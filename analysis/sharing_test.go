package analysis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func access(cpu int, addr uint64, size uint32, kind AccessKind, pc uint64) Event {
	return Event{Kind: EventAccess, CPU: cpu, Access: Access{RIP: pc, Addr: addr, Size: size, Kind: kind}}
}

func regionEvent(kind EventKind, cpu int, id uint64) Event {
	return Event{Kind: kind, CPU: cpu, Region: id}
}

func runSharing(t *testing.T, line bool, evs []Event) []TestCase {
	t.Helper()
	s := NewSharing(line)
	if err := s.Start(&Run{CPUs: 2, Out: &Output{Dir: t.TempDir()}}); err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := s.Event(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	return s.Results()
}

func TestSharing(t *testing.T) {
	open := []Event{regionEvent(EventRegionBegin, 0, 7), regionEvent(EventRegionBegin, 1, 7),
		{Kind: EventLabel, Label: Label{Addr: 0x1000, Len: 16, Name: "struct counter:0"}}}
	for _, tc := range []struct {
		name string
		line bool
		evs  []Event
		want []Shared
	}{
		{"write-write on one field", false, []Event{access(0, 0x1000, 8, RMW, 0xa), access(1, 0x1000, 8, RMW, 0xb)},
			[]Shared{{Addr: "struct counter:0+0x0", RawAddr: 0x1000, Size: 8, PC1: 0xa, PC2: 0xb, CPU1: 0, CPU2: 1, Write1: true, Write2: true}}},
		{"read-read is not shared", false, []Event{access(0, 0x1000, 8, Read, 0xa), access(1, 0x1000, 8, Read, 0xb)}, nil},
		{"read against write", false, []Event{access(0, 0x1004, 2, Read, 0xa), access(1, 0x1000, 8, Write, 0xb)},
			[]Shared{{Addr: "struct counter:0+0x4", RawAddr: 0x1004, Size: 2, PC1: 0xa, PC2: 0xb, CPU1: 0, CPU2: 1, Write2: true}}},
		{"neighbouring fields, bytes", false, []Event{access(0, 0x1000, 8, Write, 0xa), access(1, 0x1008, 8, Write, 0xb)}, nil},
		{"neighbouring fields, lines", true, []Event{access(0, 0x1000, 8, Write, 0xa), access(1, 0x1008, 8, Write, 0xb)},
			[]Shared{{Addr: "struct counter:0+0x0", RawAddr: 0x1000, Size: 64, PC1: 0xa, PC2: 0xb, CPU1: 0, CPU2: 1, Write1: true, Write2: true}}},
		{"outside the region", false, []Event{regionEvent(EventRegionEnd, 0, 7), access(0, 0x1000, 8, Write, 0xa), access(1, 0x1000, 8, Write, 0xb)}, nil},
		{"unlabelled", false, []Event{access(0, 0x2000, 1, Write, 0xa), access(1, 0x2000, 1, Read, 0xb)},
			[]Shared{{Addr: "0x2000", RawAddr: 0x2000, Size: 1, PC1: 0xa, PC2: 0xb, CPU1: 0, CPU2: 1, Write1: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runSharing(t, tc.line, append(append([]Event(nil), open...), tc.evs...))
			if len(res) != 1 {
				t.Fatalf("%d test cases, want 1", len(res))
			}
			got := res[0].Shared
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			for i := range got {
				if len(got[i].Stack1) != 1 || len(got[i].Stack2) != 1 {
					t.Fatalf("stacks %v %v, want the PCs' frames", got[i].Stack1, got[i].Stack2)
				}
				got[i].Stack1, got[i].Stack2 = nil, nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("shared %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSharingOutput(t *testing.T) {
	dir := t.TempDir()
	s := NewSharing(false)
	if err := s.Start(&Run{CPUs: 2, Out: &Output{Dir: dir}}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []Event{regionEvent(EventRegionBegin, 0, 1), regionEvent(EventRegionBegin, 1, 1),
		access(0, 0x10, 4, Write, 1), access(1, 0x10, 4, Write, 2)} {
		if err := s.Event(&ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "sharing.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TestCases []struct {
			Name   string           `json:"name"`
			Shared []map[string]any `json:"shared"`
		} `json:"testcases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.TestCases) != 1 || len(doc.TestCases[0].Shared) != 1 {
		t.Fatalf("sharing.json: %s", b)
	}
	for _, k := range []string{"addr", "rawaddr", "size", "pc1", "pc2", "cpu1", "cpu2", "write1", "write2"} {
		if _, ok := doc.TestCases[0].Shared[0][k]; !ok {
			t.Errorf("sharing.json lacks %q: %s", k, b)
		}
	}
	txt, err := os.ReadFile(filepath.Join(dir, "sharing.txt"))
	if err != nil || !strings.Contains(string(txt), "1 shared ranges") {
		t.Fatalf("sharing.txt: %q, %v", txt, err)
	}
}

func TestByName(t *testing.T) {
	for _, tc := range []struct {
		list string
		n    int
		err  string
	}{
		{"trace", 1, ""},
		{"trace,sharing,trace", 2, ""},
		{"nope", 0, `no analysis "nope"`},
		{",", 0, "no analysis named"},
	} {
		as, err := ByName(tc.list, Options{})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ByName(%q) error %v, want %q", tc.list, err, tc.err)
			}
			continue
		}
		if err != nil || len(as) != tc.n {
			t.Errorf("ByName(%q) = %d analyses, %v; want %d", tc.list, len(as), err, tc.n)
		}
	}
}

func TestTraceRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tr := NewTrace()
	if err := tr.Start(&Run{CPUs: 2, MemSize: 1 << 20, Out: &Output{Dir: dir}}); err != nil {
		t.Fatal(err)
	}
	in := []Event{
		{Kind: EventLabel, CPU: 0, Label: Label{Addr: 0x100, Len: 8, Name: "struct x:0"}},
		regionEvent(EventRegionBegin, 1, 3),
		{Kind: EventAccess, CPU: 1, Access: Access{RIP: 0x1000, Addr: 0x100, Size: 8, Kind: RMW, Value: []byte{1, 0, 0, 0, 0, 0, 0, 0}, Exits: 4, Step: 9}},
		{Kind: EventAccess, CPU: 0, Access: Access{RIP: 0x1004, Addr: 0x108, Size: 2, Kind: Read, Exits: 1, Step: 0}},
		regionEvent(EventRegionEnd, 1, 3),
	}
	for i := range in {
		if err := tr.Event(&in[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Finish(); err != nil {
		t.Fatal(err)
	}
	var out []Event
	if err := ReadTrace(filepath.Join(dir, TraceFile), func(ev *Event) error { out = append(out, *ev); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if len(out[i].Access.Value) == 0 {
			out[i].Access.Value = nil
		}
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("read back\n%+v\nwant\n%+v", out, in)
	}
	// Cut short: a clear error, not a panic.
	path := filepath.Join(dir, TraceFile)
	b, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.crewlog")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	if err := ReadTrace(cut, func(*Event) error { return nil }); err == nil {
		t.Fatal("a trace cut in half read without an error")
	}
}
