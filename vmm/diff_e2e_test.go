package vmm_test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/crewvm/crewvm/analysis/logdiff"
	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/tools/diffcmd"
	"github.com/crewvm/crewvm/tools/recordcmd"
)

var racyCount = regexp.MustCompile(`racy-counter: (\d+) of`)

// TestDiffRacyCounter records racy-counter on two vCPUs until two
// recordings end with different counts, and wants `vmm diff` to find
// where they part: a CREW transition, with the counter's page among the
// differing transitions and named by the counter. What is seen: the logs
// part either at boot (#0, the two vCPUs' first writes to pages 0x3fef
// and 0x3fff logged in the other order, with other constraints) or when
// vCPU 1 joins (#5, vCPU 0 stopped in racy_run at another iteration when
// it gives up page 0x123, its registers saying how far it had got); from
// there every handoff of the counter's page differs, up to the end.
func TestDiffRacyCounter(t *testing.T) {
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		t.Skipf("no KVM: %v", err)
	} else {
		f.Close()
	}
	dir := t.TempDir()
	const tries = 12
	var first, firstCount, second, secondCount string
	for i := 0; i < tries && second == ""; i++ {
		path := filepath.Join(dir, fmt.Sprintf("racy-%d.log", i))
		var out, errOut bytes.Buffer
		code := recordcmd.Main([]string{"-o", path, "--cpus", "2", "--mem", "64M", "--timeout", "1m", "racy-counter", "20000000"},
			&out, &errOut)
		if code != 0 {
			t.Fatalf("vmm record: exit %d\n%s%s", code, out.String(), errOut.String())
		}
		m := racyCount.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no outcome in %q", out.String())
		}
		switch {
		case first == "":
			first, firstCount = path, m[1]
		case m[1] != firstCount:
			second, secondCount = path, m[1]
		}
	}
	if second == "" {
		t.Skipf("%d recordings of racy-counter all counted %s: this host never lost an update differently", tries, firstCount)
	}
	t.Logf("A counted %s, B %s", firstCount, secondCount)

	var text, errOut bytes.Buffer
	if code := diffcmd.Main([]string{"--follow", "200", first, second}, &text, &errOut); code != diffcmd.ExitDiffer {
		t.Fatalf("vmm diff: exit %d, want %d\n%s%s", code, diffcmd.ExitDiffer, text.String(), errOut.String())
	}
	t.Logf("vmm diff A B:\n%s", text.String())
	var js bytes.Buffer
	if code := diffcmd.Main([]string{"--json", "--follow", "200", first, second}, &js, &errOut); code != diffcmd.ExitDiffer {
		t.Fatalf("vmm diff --json: exit %d\n%s", code, errOut.String())
	}
	var res logdiff.Result
	if err := json.Unmarshal(js.Bytes(), &res); err != nil {
		t.Fatalf("vmm diff --json: %v", err)
	}
	if res.First == nil || res.First.Class != logdiff.ClassCREW {
		t.Fatalf("first difference %+v, want a %s", res.First, logdiff.ClassCREW)
	}
	if res.First.A == nil || res.First.B == nil || res.First.A.Page == nil {
		t.Fatalf("first difference lacks an event or its page: %+v", res.First)
	}

	// The counter's page must be among the differing transitions, named
	// by the counter, and the text must say so.
	page := counterAddr(t) / uint64(res.A.PageSize)
	named := false
	views := []*logdiff.EventView{res.First.A, res.First.B}
	for i := range res.Later {
		views = append(views, res.Later[i].A, res.Later[i].B)
	}
	for _, v := range views {
		if v != nil && v.Page != nil && v.Page.Page == page && slices.Contains(v.Page.Symbols, "counter") {
			named = true
		}
	}
	if !named {
		t.Errorf("no differing transition of page %#x names counter", page)
	}
	line := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+page %#x \(gpa %#x\): (.*, )?counter(,|$)`, page, page*uint64(res.A.PageSize)))
	if !line.MatchString(text.String()) {
		t.Errorf("the text does not name counter on page %#x", page)
	}
}

// counterAddr is the address of racy-counter's counter in the built-in
// guest (other files have statics of that name too).
func counterAddr(t *testing.T) uint64 {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(guest.Kernel))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	inFile := false
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FILE {
			inFile = s.Name == "counters.c"
		}
		if inFile && s.Name == "counter" {
			return s.Value
		}
	}
	t.Fatal("no counter in counters.c of the built-in guest")
	return 0
}
