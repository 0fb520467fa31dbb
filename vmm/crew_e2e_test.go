package vmm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
)

// recording is one recorded run: its log and what the guest did.
type recording struct {
	path   string
	out    string
	status int
	stats  CREWStats
}

// record runs cfg on real KVM while writing a log into dir.
func record(t *testing.T, dir string, cfg Config) *recording {
	t.Helper()
	cfg.Image, cfg.MemSize, cfg.Timeout = guest.Kernel, 64<<20, 2*time.Minute
	var out bytes.Buffer
	cfg.Console = &out
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := filepath.Join(dir, fmt.Sprintf("%s-%dcpu-%d.log", cfg.Args[0], cfg.CPUs, time.Now().UnixNano()))
	hdr := replaylog.Header{WriterVersion: "test", GuestHash: m.ImageHash(), Guest: "builtin",
		Args: cfg.Args, Input: cfg.Input, VCPUs: uint32(cfg.CPUs), MemSize: cfg.MemSize, PageSize: 4096, CPUID: EncodeCPUID(m.CPUID())}
	if cfg.Disk != nil {
		hdr.DiskSize, hdr.DiskReadOnly = cfg.Disk.Size, cfg.Disk.ReadOnly
	}
	w, err := replaylog.Create(path, hdr, replaylog.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RecordTo(w); err != nil {
		t.Fatal(err)
	}
	res, err := m.Run(context.Background())
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("record %v on %d vCPUs: %v\n%s", cfg.Args, cfg.CPUs, err, out.String())
	}
	return &recording{path: path, out: out.String(), status: res.Status, stats: res.CREW}
}

// replayLog replays the log at path and returns the console output.
func replayLog(t *testing.T, path string) (string, *Result, error) {
	t.Helper()
	return replayLogWithin(t, path, 2*time.Minute, 0)
}

// replayLogWithin is replayLog with a timeout for the whole replay and
// one for each seek (0: the default).
func replayLogWithin(t *testing.T, path string, timeout, seek time.Duration) (string, *Result, error) {
	t.Helper()
	cfg := replayConfig(t, path)
	var out bytes.Buffer
	cfg.Console, cfg.Timeout, cfg.SeekTimeout = &out, timeout, seek
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := m.Run(context.Background())
	return out.String(), res, err
}

// replayConfig is the configuration that replays the log at path on the
// built-in guest; the log is closed when t ends.
func replayConfig(t *testing.T, path string) Config {
	t.Helper()
	r, err := replaylog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cfg, err := ReplayConfig(r, guest.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// checkReplay replays rec and wants the same output and status.
func checkReplay(t *testing.T, rec *recording) {
	t.Helper()
	out, res, err := replayLog(t, rec.path)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if res.Status != rec.status || out != rec.out {
		t.Fatalf("replay: status %d, output\n%s\nrecorded: status %d, output\n%s", res.Status, out, rec.status, rec.out)
	}
}

func TestRecordReplayEveryWorkload(t *testing.T) {
	workloads := [][]string{
		{"hello"}, {"clock"}, {"cpuid"}, {"racy-counter", "200000"}, {"locked-counter", "5000"},
		{"msgpass", "2000"}, {"pingpong", "1000"}, {"falseshare", "200000"}, {"matmul", "96"},
		{"radix", "16384", "2"}, {"lu", "96"}, {"fft", "10", "2"}, {"stencil", "64", "10"}, {"nbody", "128", "2"},
	}
	if testing.Short() {
		workloads = workloads[:4]
	}
	dir := t.TempDir()
	for _, cpus := range []int{2, 4} {
		for _, args := range workloads {
			t.Run(fmt.Sprintf("%s/%dcpus", args[0], cpus), func(t *testing.T) {
				rec := record(t, dir, Config{CPUs: cpus, Args: args})
				if rec.status != 0 {
					t.Fatalf("status %d:\n%s", rec.status, rec.out)
				}
				checkReplay(t, rec)
			})
		}
	}
}

var racyOutcome = regexp.MustCompile(`racy-counter: (\d+) of`)

// TestRacyCounterOutcomes: lost updates differ from recording to
// recording, and each recording replays its own outcome exactly.
func TestRacyCounterOutcomes(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for i := 0; i < 10 && len(seen) < 2; i++ {
		rec := record(t, dir, Config{CPUs: 2, Args: []string{"racy-counter", "20000000"}})
		m := racyOutcome.FindStringSubmatch(rec.out)
		if m == nil {
			t.Fatalf("no outcome in %q", rec.out)
		}
		seen[m[1]] = true
		checkReplay(t, rec)
	}
	if len(seen) < 2 {
		t.Fatalf("10 recordings gave one outcome: %v", seen)
	}
}

// TestStatePositionsReplayed: vCPUs that compute without exits while
// another needs their pages are kicked; replay must stop them at the same
// state. A short deadline makes kicks the rule.
func TestStatePositionsReplayed(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"racy-counter", "50000000"}, {"falseshare", "20000000"}, {"matmul", "160"}} {
		t.Run(args[0], func(t *testing.T) {
			for i := 0; ; i++ {
				rec := record(t, dir, Config{CPUs: 2, Args: args, RevokeDeadline: time.Microsecond})
				if rec.stats.StatePositions == 0 {
					// On a fast host the vCPUs often finish before they
					// overlap: kicks then land on exits, not state positions.
					if i == 19 {
						t.Fatalf("no state positions in 20 recordings: %+v", rec.stats)
					}
					continue
				}
				checkReplay(t, rec)
				return
			}
		})
	}
}

// rewrite copies the log at src to dst through edit, with valid checksums.
func rewrite(t *testing.T, src, dst string, edit func(*replaylog.Event) bool) {
	t.Helper()
	r, err := replaylog.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := replaylog.Create(dst, r.Header(), replaylog.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edited := false
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ev := e.Clone()
		if !edited {
			edited = edit(ev)
		}
		if err := w.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !edited {
		t.Fatal("nothing to edit in the log")
	}
}

func TestTamperedMultiprocessorLog(t *testing.T) {
	dir := t.TempDir()
	rec := record(t, dir, Config{CPUs: 2, Args: []string{"msgpass", "500"}})
	n := 0
	tests := []struct {
		name string
		edit func(*replaylog.Event) bool
		want string
	}{
		{"crew page", func(e *replaylog.Event) bool {
			if e.Kind == replaylog.KindCREW {
				if n++; n == 20 {
					e.Page++
					return true
				}
			}
			return false
		}, "log event"},
		{"crew access", func(e *replaylog.Event) bool {
			if e.Kind == replaylog.KindCREW && e.Access == replaylog.AccessWrite && e.VCPU == 1 {
				e.Access = replaylog.AccessRead
				return true
			}
			return false
		}, "log event"},
		{"wake order", func(e *replaylog.Event) bool {
			if e.Kind == replaylog.KindWake {
				e.Constraints[0].Pos.Exits += 1000
				return true
			}
			return false
		}, "deadlocked"},
		{"final memory", func(e *replaylog.Event) bool {
			if e.Kind == replaylog.KindStateHash {
				e.MemHash ^= 1
				return true
			}
			return false
		}, "memory hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n = 0
			bad := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".log")
			rewrite(t, rec.path, bad, tt.edit)
			_, _, err := replayLog(t, bad)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("replay of a log with its %s altered: %v; want an error mentioning %q", tt.name, err, tt.want)
			}
		})
	}
}
