// Package fstestcheck reads what the guest's fstest workload prints and
// checks it against the POSIX model: the per-call results that its
// `results` argument prints must equal what models/posix's concrete
// implementation returns for the same test, and the summary must count
// every test as passed. The guest checks each test against the file's
// expect records itself; this is the independent cross-check from the Go
// side, used by the tests of the guest (on the host build and on KVM).
package fstestcheck

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/crewvm/crewvm/models/posix"
	"github.com/crewvm/crewvm/models/testgen"
)

// Call identifies one call of a test: the test id and the call's slot.
type Call struct{ Test, Slot int }

var (
	resultLine  = regexp.MustCompile(`^fstest: test (\d+) slot (\d+) (\w+): (.*)$`)
	summaryLine = regexp.MustCompile(`fstest: kernel (\w+), (\w+): (\d+) tests run, (\d+) passed, (\d+) failed`)
)

// Results parses the result lines of fstest's output.
func Results(out string) (map[Call]map[string]int64, error) {
	got := map[Call]map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		m := resultLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		id, _ := strconv.Atoi(m[1])
		slot, _ := strconv.Atoi(m[2])
		fields := map[string]int64{}
		for _, kv := range strings.Fields(m[4]) {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad result line %q", line)
			}
			fields[k] = n
		}
		got[Call{id, slot}] = fields
	}
	return got, nil
}

// Summary is fstest's last line.
type Summary struct {
	Kernel, Mode        string
	Run, Passed, Failed int
}

// ParseSummary finds the summary line in out.
func ParseSummary(out string) (Summary, error) {
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		return Summary{}, fmt.Errorf("no fstest summary in the output")
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return Summary{Kernel: m[1], Mode: m[2], Run: n(m[3]), Passed: n(m[4]), Failed: n(m[5])}, nil
}

// Check verifies the output of `fstest KERNEL results` run on every test
// of f: all tests passed, and every call's printed results equal
// posix.RunConcrete's. It returns the number of calls compared.
func Check(f *testgen.File, out string) (int, error) {
	sum, err := ParseSummary(out)
	if err != nil {
		return 0, err
	}
	if sum.Run != f.NumTests() || sum.Passed != sum.Run {
		return 0, fmt.Errorf("fstest ran %d tests of %d, %d passed, %d failed", sum.Run, f.NumTests(), sum.Passed, sum.Failed)
	}
	got, err := Results(out)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range f.Sets {
		for _, t := range s.Tests {
			ref, err := posix.RunConcrete(t)
			if err != nil {
				return n, err
			}
			for slot, want := range ref {
				g, ok := got[Call{t.ID, slot}]
				if !ok {
					return n, fmt.Errorf("test %d slot %d: no result printed", t.ID, slot)
				}
				if fmt.Sprint(g) != fmt.Sprint(want) {
					return n, fmt.Errorf("test %d slot %d %s: the kernel returned %v, the model %v", t.ID, slot, t.Calls[slot].Name, g, want)
				}
				n++
			}
		}
	}
	return n, nil
}
