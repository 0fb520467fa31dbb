package bisect

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm"
)

// variantPath is the guest that differs from the built-in one in one
// instruction (guest/Makefile's kernel-bisect.elf).
const variantPath = "../../guest/build/kernel-bisect.elf"

// record writes a recording of the built-in guest running args on cpus
// vCPUs into dir and returns its path.
func record(t *testing.T, dir string, cpus int, args ...string) string {
	t.Helper()
	return recordEvery(t, dir, cpus, 0, args...)
}

// recordEvery is record with a checkpoint about every every exits.
func recordEvery(t *testing.T, dir string, cpus int, every uint64, args ...string) string {
	t.Helper()
	cfg := vmm.Config{CPUs: cpus, MemSize: 64 << 20, Image: guest.Kernel, Args: args, Console: io.Discard, Timeout: time.Minute,
		CheckpointEvery: every}
	m, err := vmm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := filepath.Join(dir, args[0]+".log")
	w, err := replaylog.Create(path, replaylog.Header{WriterVersion: "test", GuestHash: m.ImageHash(), Guest: "builtin",
		Args: args, VCPUs: uint32(cpus), MemSize: cfg.MemSize, PageSize: 4096, CPUID: vmm.EncodeCPUID(m.CPUID())}, replaylog.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RecordTo(w); err != nil {
		t.Fatal(err)
	}
	_, err = m.Run(context.Background())
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("record %v: %v", args, err)
	}
	return path
}

// TestBisectVariant bisects recordings of matmul against the variant
// guest: the first difference is the one changed instruction, named by
// its source line, with RAX one higher after it.
func TestBisectVariant(t *testing.T) {
	variant, err := os.ReadFile(variantPath)
	if err != nil {
		t.Fatalf("the variant guest (make -C guest builds it): %v", err)
	}
	for _, tc := range []struct {
		cpus int
		n    string
	}{{1, "8"}, {2, "16"}} {
		t.Run(tc.n, func(t *testing.T) {
			log := record(t, t.TempDir(), tc.cpus, "matmul", tc.n)
			res, err := Run(Options{Log: log, Image: guest.Kernel, Candidate: variant, Timeout: 2 * time.Minute, SeekTimeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			res.WriteText(&text)
			t.Logf("%d vCPUs:\n%s", tc.cpus, text.String())
			if res.Same || res.What != "the instruction" {
				t.Fatalf("want the changed instruction, got same=%v what=%q", res.Same, res.What)
			}
			for _, s := range []Side{res.Recording, res.Candidate} {
				if !strings.Contains(s.Where, "matmul_run") || !strings.Contains(s.Where, "bisect_site.h:") || !strings.HasPrefix(s.Code, "add ") {
					t.Errorf("side %+v: want the add in matmul_run, with its line", s)
				}
			}
			if tc.cpus > 1 && (res.Exits == 0 || res.Events == 0) {
				t.Errorf("on %d vCPUs the change comes after exit %d and %d log events; want both past the start", tc.cpus, res.Exits, res.Events)
			}
			if len(res.Regs) != 1 || res.Regs[0].Name != "rax" || res.Regs[0].Candidate != res.Regs[0].Recording+1 {
				t.Errorf("registers that differ: %+v, want rax one higher", res.Regs)
			}
		})
	}
}

// TestBisectFromCheckpoint bisects a recording of clock with a
// checkpoint every 10 exits from one before the variant's change (at the
// middle reading): both executions start there, the candidate with its
// own code, and the change in clock_run is found as it would be from the
// start, after the checkpoint.
func TestBisectFromCheckpoint(t *testing.T) {
	variant, err := os.ReadFile(variantPath)
	if err != nil {
		t.Fatalf("the variant guest (make -C guest builds it): %v", err)
	}
	log := recordEvery(t, t.TempDir(), 1, 10, "clock", "100")
	r, err := replaylog.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	cps := r.Checkpoints()
	r.Close()
	if len(cps) < 4 {
		t.Fatalf("%d checkpoints, want at least 4", len(cps))
	}
	from := cps[2]
	cpExits, err := checkpointExits(log, from.Number)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		candidate []byte
	}{{"variant", variant}, {"same", guest.Kernel}} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(Options{Log: log, Image: guest.Kernel, Candidate: tc.candidate, From: &from.Event, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "same" {
				if !res.Same {
					t.Fatalf("the image against itself from checkpoint %d differs: %+v", from.Number, res)
				}
				return
			}
			if res.Same || res.What != "the instruction" || !strings.Contains(res.Recording.Where, "clock_run") {
				t.Fatalf("from checkpoint %d: want the changed instruction in clock_run, got %+v", from.Number, res)
			}
			if res.Exits < cpExits {
				t.Errorf("the interval starts at exit %d, before the checkpoint's %d", res.Exits, cpExits)
			}
		})
	}
}

// checkpointExits is the exit count checkpoint i of the log at path
// leaves its vCPU at.
func checkpointExits(path string, i int) (uint64, error) {
	r, err := replaylog.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cp, err := r.ReadCheckpoint(i)
	if err != nil {
		return 0, err
	}
	return cp.VCPUs[0].Exits, nil
}

// TestBisectSame bisects a recording against its own image.
func TestBisectSame(t *testing.T) {
	log := record(t, t.TempDir(), 2, "matmul", "16")
	res, err := Run(Options{Log: log, Image: guest.Kernel, Candidate: guest.Kernel, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Same {
		t.Fatalf("the recording's image against itself differs: %+v", res)
	}
}

// TestBisectBadInput wants a clear error, not a panic or a hang, for a
// candidate that is no guest and for a log that is not there.
func TestBisectBadInput(t *testing.T) {
	log := record(t, t.TempDir(), 1, "hello")
	for _, tc := range []struct {
		name, want string
		o          Options
	}{
		{"not an ELF", "candidate", Options{Log: log, Image: guest.Kernel, Candidate: []byte("not an ELF")}},
		{"truncated ELF", "candidate", Options{Log: log, Image: guest.Kernel, Candidate: guest.Kernel[:4096]}},
		{"no log", "no such file", Options{Log: filepath.Join(t.TempDir(), "none.log"), Image: guest.Kernel, Candidate: guest.Kernel}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
