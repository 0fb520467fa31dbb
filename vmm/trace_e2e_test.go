package vmm

// End-to-end tests of trace-mode replay on real KVM: the trace-* guest
// workloads make a known set of accesses inside their test regions, so
// the trace must hold exactly those, and the sharing analysis must find
// exactly the planted shared field.

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/analysis"
)

// traceReplay replays the log at path in trace mode with the named
// analyses, writing to a new directory, which it returns with them.
func traceReplay(t *testing.T, path, names string, opts analysis.Options) (string, []analysis.Analysis) {
	t.Helper()
	as, err := analysis.ByName(names, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := replayConfig(t, path)
	cfg.Timeout, cfg.Analyses, cfg.AnalysisDir = 2*time.Minute, as, dir
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Run(context.Background()); err != nil {
		t.Fatalf("trace replay: %v", err)
	}
	return dir, as
}

// readTrace reads the trace an analysis directory holds.
func readTrace(t *testing.T, dir string) []analysis.Event {
	t.Helper()
	var evs []analysis.Event
	if err := analysis.ReadTrace(filepath.Join(dir, analysis.TraceFile), func(ev *analysis.Event) error {
		evs = append(evs, *ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestTraceKnownAccesses(t *testing.T) {
	// Enough increments for the Go runtime's signals to end some steps
	// early (stepped), and for a CREW fault inside a region.
	const n = 3000
	for _, cpus := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%dcpus", cpus), func(t *testing.T) {
			rec := record(t, t.TempDir(), Config{CPUs: cpus, Args: []string{"trace-hits", fmt.Sprint(n)}})
			dir, _ := traceReplay(t, rec.path, "trace", analysis.Options{})
			evs := readTrace(t, dir)
			var label analysis.Label
			perCPU := map[int]int{}
			var last uint64
			for _, ev := range evs {
				switch ev.Kind {
				case analysis.EventLabel:
					if ev.Label.Name == "struct counter:0" {
						label = ev.Label
					}
				case analysis.EventAccess:
					a := ev.Access
					if a.Addr != label.Addr || a.Size != 8 || a.Kind != analysis.RMW || len(a.Value) != 8 {
						t.Fatalf("access %+v, want an 8-byte rmw of counter.hits at %#x", a, label.Addr)
					}
					// lock incq leaves 1, 2, 3, ... in the order CREW
					// gave the vCPUs the line: the trace's order.
					v := binary.LittleEndian.Uint64(a.Value)
					if v != last+1 {
						t.Fatalf("vCPU %d's increment left %d after %d: the trace is out of the log's order", ev.CPU, v, last)
					}
					last = v
					perCPU[ev.CPU]++
				}
			}
			if label.Len == 0 {
				t.Fatal("the trace holds no label of struct counter")
			}
			for c := range cpus {
				if perCPU[c] != n {
					t.Errorf("vCPU %d: %d accesses traced, want %d", c, perCPU[c], n)
				}
			}
			// Each vCPU's stream is the same in every replay; how the
			// independent events of two vCPUs interleave may differ
			// (their conflicting accesses' order may not: the values).
			dir, _ = traceReplay(t, rec.path, "trace", analysis.Options{})
			again := readTrace(t, dir)
			for c := range cpus {
				if a, b := ofCPU(evs, c), ofCPU(again, c); !reflect.DeepEqual(a, b) {
					t.Fatalf("two trace replays of one recording differ on vCPU %d: %d and %d events", c, len(a), len(b))
				}
			}
		})
	}
}

// ofCPU is the events of vCPU c, in order.
func ofCPU(evs []analysis.Event, c int) []analysis.Event {
	var out []analysis.Event
	for _, ev := range evs {
		if ev.CPU == c {
			out = append(out, ev)
		}
	}
	return out
}

// sharedOf runs the sharing analysis on a replay of a recording of args
// on 2 vCPUs.
func sharedOf(t *testing.T, args []string, line bool) []analysis.TestCase {
	t.Helper()
	rec := record(t, t.TempDir(), Config{CPUs: 2, Args: args})
	_, as := traceReplay(t, rec.path, "sharing", analysis.Options{CacheLine: line})
	return as[0].(*analysis.Sharing).Results()
}

func TestSharingFindsThePlantedField(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		line bool
		want []string // the shared ranges, as "symbol/size"
	}{
		{"shared field", []string{"trace-hits", "30"}, false, []string{"struct counter:0.hits/8"}},
		{"shared field by line", []string{"trace-hits", "30"}, true, []string{"struct counter:0.hits/64"}},
		{"own fields", []string{"trace-fields", "30"}, false, nil},
		{"own fields by line", []string{"trace-fields", "30"}, true, []string{"struct fields:0.f[0]/64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sharedOf(t, tc.args, tc.line)
			if len(res) != 1 {
				t.Fatalf("%d regions, want 1: %+v", len(res), res)
			}
			var got []string
			for _, s := range res[0].Shared {
				if !s.Write1 || !s.Write2 || s.CPU1 != 0 || s.CPU2 != 1 {
					t.Errorf("shared %+v: want both vCPUs writing", s)
				}
				// The guest keeps frame pointers: the run function,
				// called by kmain, called by _start.
				for _, st := range [][]string{s.Stack1, s.Stack2} {
					if len(st) != 3 || !strings.HasPrefix(st[1], "kmain+") || !strings.HasPrefix(st[2], "_start+") {
						t.Errorf("call stack %q, want the workload's run function, kmain and _start", st)
					}
				}
				got = append(got, fmt.Sprintf("%s/%d", s.Addr, s.Size))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("shared %v, want %v", got, tc.want)
			}
		})
	}
}
