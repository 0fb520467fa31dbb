package vmm

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
)

// TestCheckpointReplay records clock on one vCPU with a checkpoint about
// every 40 exits, and replays from each checkpoint: every replay matches
// the recording to its end (final registers and memory hash included)
// and prints what the recording printed last.
func TestCheckpointReplay(t *testing.T) {
	rec := record(t, t.TempDir(), Config{CPUs: 1, Args: []string{"clock", "300"}, CheckpointEvery: 40})
	r, err := replaylog.Open(rec.path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cps := r.Checkpoints()
	if len(cps) < 5 {
		t.Fatalf("%d checkpoints in 300 readings at one per 40 exits, want at least 5", len(cps))
	}
	last := rec.out[strings.LastIndex(strings.TrimSuffix(rec.out, "\n"), "\n")+1:]
	for i := range cps {
		cp, err := r.ReadCheckpoint(i)
		if err != nil {
			t.Fatal(err)
		}
		cfg := replayConfig(t, rec.path)
		var out bytes.Buffer
		cfg.Console, cfg.Timeout, cfg.FromCheckpoint = &out, time.Minute, &i
		// The replay starts there: its first exit is the checkpoint's.
		var first uint64
		cfg.Watch = &Watch{Exit: func(p *WatchPoint) error {
			if first == 0 {
				first = p.Exits
			}
			return nil
		}}
		m, err := New(cfg)
		if err != nil {
			t.Fatalf("checkpoint %d: %v", i, err)
		}
		res, err := m.Run(context.Background())
		m.Close()
		if err != nil {
			t.Fatalf("replay from checkpoint %d (before event %d): %v", i, cps[i].Event, err)
		}
		if want := cp.VCPUs[0].Exits + 1; first != want || want < 2 {
			t.Errorf("replay from checkpoint %d: first exit %d, want %d", i, first, want)
		}
		if res.Status != rec.status || !strings.HasSuffix(out.String(), last) {
			t.Errorf("replay from checkpoint %d: status %d, output %q; want %d ending %q", i, res.Status, out.String(), rec.status, last)
		}
	}
}

// TestCheckpointErrors wants a clear error where checkpoints cannot be
// written or started from.
func TestCheckpointErrors(t *testing.T) {
	cfg := Config{CPUs: 2, MemSize: 64 << 20, Image: guest.Kernel, Args: []string{"hello"}, CheckpointEvery: 10}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	w, err := replaylog.Create(t.TempDir()+"/two.log", replaylog.Header{VCPUs: 2, MemSize: cfg.MemSize, PageSize: 4096}, replaylog.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := m.RecordTo(w); err == nil || !strings.Contains(err.Error(), "one vCPU") {
		t.Errorf("checkpoints on 2 vCPUs: %v, want an error saying they need one", err)
	}

	rec := record(t, t.TempDir(), Config{CPUs: 1, Args: []string{"hello"}})
	for _, tc := range []struct {
		name string
		from int
		want string
	}{
		{"no such checkpoint", 0, "does not exist"},
		{"negative", -1, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := replayConfig(t, rec.path)
			cfg.FromCheckpoint = &tc.from
			m, err := New(cfg)
			if err == nil {
				m.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
