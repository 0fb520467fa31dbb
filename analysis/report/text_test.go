package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/analysis"
)

// sample has a kernel sharing one lock in every test and one sharing
// nothing but in one rename,rename test.
func sample() *Report {
	lock := analysis.Shared{Addr: "struct k_fs:0.lock", Size: 4, Stack1: []string{"k_open+0x10 (k.c:3)"}, Stack2: []string{"k_stat+0x8 (k.c:9)"}, Write1: true, Write2: true}
	ino := analysis.Shared{Addr: "struct s_inode:3.nlink", Size: 8, Stack1: []string{"s_rename+0x4 (s.c:1)"}, Stack2: []string{"s_rename+0x4 (s.c:1)"}, Write1: true}
	ino4 := ino
	ino4.Addr = "struct s_inode:4.nlink"
	open, stat, rename := Pair{"open", "stat"}, Pair{"stat", "stat"}, Pair{"rename", "rename"}
	return &Report{Model: "posix", Calls: []string{"open", "rename", "stat"}, Kernels: []*Kernel{
		{Name: "k", Tests: []*Test{
			{ID: 1, Set: 1, Pair: open, Shared: []analysis.Shared{lock}},
			{ID: 2, Set: 2, Pair: stat, Shared: []analysis.Shared{lock}},
			{ID: 3, Set: 3, Pair: rename, Shared: []analysis.Shared{lock}},
		}},
		{Name: "s", Tests: []*Test{
			{ID: 1, Set: 1, Pair: open, Shared: []analysis.Shared{}},
			{ID: 2, Set: 2, Pair: stat, Shared: []analysis.Shared{}},
			{ID: 3, Set: 3, Pair: rename, Shared: []analysis.Shared{ino, ino4}},
		}},
	}}
}

func TestSummary(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"k: 3 tests, 0 conflict-free (0.0%)\n",
		"s: 3 tests, 2 conflict-free (66.7%)\n",
		"  k (0):\n    (none)\n",
		"  s (2):\n    open,stat stat,stat\n",
		"rename,rename  0/1 (0.0%)  0/1 (0.0%)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// Pairs follow the model's call order: open,stat before rename,rename.
	if strings.Index(out, "  open,stat  ") > strings.Index(out, "  rename,rename") {
		t.Errorf("pairs out of order:\n%s", out)
	}
}

func TestTopMergesInstances(t *testing.T) {
	r := sample()
	locs := r.Kernels[1].TopLocations()
	if len(locs) != 1 || locs[0].Key != "struct s_inode.nlink" || locs[0].Tests != 1 {
		t.Fatalf("locations %+v, want struct s_inode.nlink in 1 test", locs)
	}
	var b bytes.Buffer
	r.WriteTop(&b, 10)
	for _, want := range []string{"1. struct k_fs.lock: 3 tests", "touched at: k_open+0x10 (k.c:3), k_stat+0x8 (k.c:9)", "pairs: open,stat (1), rename,rename (1), stat,stat (1)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("top.txt lacks %q:\n%s", want, b.String())
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := sample()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"name": "test 3"`) || !strings.Contains(b.String(), `"conflict_free": 2`) {
		t.Errorf("report.json lacks mscan's testcases or the totals:\n%s", b.String())
	}
	got, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", got, r)
	}
	if _, err := ReadJSON(strings.NewReader("{")); err == nil {
		t.Error("ReadJSON accepted a truncated file")
	}
}
