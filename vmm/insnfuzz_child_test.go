package vmm

// Instruction fuzzer, part three: recording a program on real KVM and
// replaying the recording, in a child process (this test binary, run
// again), so that a VMM crash (a Go fatal error such as a concurrent map
// write, which no recover catches) or a hang is a finding, not the end
// of the test run. Under go test -race, a data race the child reports is
// a finding too.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/machine"
)

const (
	fuzzMem           = 16 << 20
	fuzzRecordTimeout = 10 * time.Second
	fuzzReplayTimeout = 10 * time.Second
	fuzzReplaySlow    = time.Minute
	// fuzzChildTimeout is when the parent gives up on a child: it hung.
	fuzzChildTimeout = 2 * time.Minute
	// fuzzChildEnv names the job file of a child process.
	fuzzChildEnv = "CREWVM_INSNFUZZ_CHILD"
	// fuzzReplayMark tells the parent that a child's record is done.
	fuzzReplayMark = "insnfuzz: replaying"
)

// fuzzJob is what a child process runs.
type fuzzJob struct {
	ELF      string
	CPUs     int
	Deadline time.Duration
}

// fuzzOutcome is what a child process found.
type fuzzOutcome struct {
	// Stage is "" when the replay matched (see finding.stage).
	Stage, Err string
	// CPU and RIP are where the error happened (CPU -1: unknown).
	CPU   int
	RIP   uint64
	Stats CREWStats
	// Skip says why the child could not use KVM; Fatal is its own error.
	Skip, Fatal string
}

var fuzzJobSeq atomic.Uint64

// fuzzCheck records img on cpus vCPUs with the revoke deadline (0: the
// default) in a child process working in dir, replays the recording there
// and returns the finding, nil when the replay matched, with the
// recorder's statistics. An error is the harness's own; ErrKVMUnavailable
// when the child could not use KVM.
func fuzzCheck(dir string, img *fuzzImage, cpus int, deadline time.Duration) (*finding, CREWStats, error) {
	base := filepath.Join(dir, fmt.Sprintf("job%d", fuzzJobSeq.Add(1)))
	job := fuzzJob{ELF: base + ".elf", CPUs: cpus, Deadline: deadline}
	data, err := json.Marshal(job)
	if err == nil {
		err = os.WriteFile(job.ELF, img.elf, 0o644)
	}
	if err == nil {
		err = os.WriteFile(base+".json", data, 0o644)
	}
	defer func() {
		for _, ext := range []string{".elf", ".json", ".out", ".log"} {
			os.Remove(base + ext)
		}
	}()
	if err != nil {
		return nil, CREWStats{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), fuzzChildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestInsnFuzzHelperProcess$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), fuzzChildEnv+"="+base+".json")
	out, runErr := cmd.CombinedOutput()
	var o fuzzOutcome
	data, err = os.ReadFile(base + ".out")
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, CREWStats{}, fmt.Errorf("child's outcome: %w", err)
		}
		if o.Stage == "" && bytes.Contains(out, []byte(raceReport)) {
			// Under go test -race: the VMM has a data race.
			o = fuzzOutcome{Stage: "race", CPU: -1, Err: fmt.Sprintf("data race %s: %s", crashPhase(out), crashSummary(out, runErr))}
		}
	case ctx.Err() != nil:
		o = fuzzOutcome{Stage: "crash", CPU: -1, Err: fmt.Sprintf("the VMM hung %s: killed after %v", crashPhase(out), fuzzChildTimeout)}
	default:
		o = fuzzOutcome{Stage: "crash", CPU: -1, Err: fmt.Sprintf("the VMM crashed %s: %s", crashPhase(out), crashSummary(out, runErr))}
	}
	switch {
	case o.Skip != "":
		return nil, o.Stats, fmt.Errorf("%w: %s", ErrKVMUnavailable, o.Skip)
	case o.Fatal != "":
		return nil, o.Stats, errors.New(o.Fatal)
	case o.Stage == "":
		return nil, o.Stats, nil
	}
	return newFinding(&o, img), o.Stats, nil
}

// crashPhase says whether a crashed child had got to its replay.
func crashPhase(out []byte) string {
	if strings.Contains(string(out), fuzzReplayMark) {
		return "during the replay"
	}
	return "during the record"
}

const raceReport = "WARNING: DATA RACE"

var (
	crashLine  = regexp.MustCompile(`(?m)^(fatal error: .*|panic: .*|SIG\w+: .*|(?:Write|Read|Previous write|Previous read) at 0x\w+ by goroutine \d+:)$`)
	crashFrame = regexp.MustCompile(`(?m)^\s*github\.com/crewvm/crewvm/(\S+)\(.*\n\s+\S*/(\w+\.go:\d+)`)
)

// crashSummary is the first line of a crashed child's report and the
// first frame of this module's code in its stack, or its exit status.
func crashSummary(out []byte, err error) string {
	s := fmt.Sprint(err)
	if m := crashLine.FindSubmatch(out); m != nil {
		s = string(m[1])
	}
	if m := crashFrame.FindSubmatch(out); m != nil {
		s += fmt.Sprintf(" in %s (%s)", m[1], m[2])
	}
	return s
}

// TestInsnFuzzHelperProcess is the child process of fuzzCheck; it does
// nothing unless the instruction fuzzer started it.
func TestInsnFuzzHelperProcess(t *testing.T) {
	path := os.Getenv(fuzzChildEnv)
	if path == "" {
		return
	}
	o := runFuzzJob(path)
	data, err := json.Marshal(o)
	if err == nil {
		err = os.WriteFile(strings.TrimSuffix(path, ".json")+".out", data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// runFuzzJob records and replays the job in the file at path.
func runFuzzJob(path string) *fuzzOutcome {
	o := &fuzzOutcome{CPU: -1}
	var job fuzzJob
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &job)
	}
	var elf []byte
	if err == nil {
		elf, err = os.ReadFile(job.ELF)
	}
	if err != nil {
		o.Fatal = err.Error()
		return o
	}
	log := strings.TrimSuffix(path, ".json") + ".log"
	res, err := fuzzRecord(log, elf, job.CPUs, job.Deadline)
	switch {
	case errors.Is(err, ErrKVMUnavailable):
		o.Skip = err.Error()
		return o
	case err != nil:
		o.Stage = "record"
		if perr := fuzzPlainRun(elf, job.CPUs); perr != nil {
			o.Stage, err = "guest", perr
		}
		o.locate(err)
		return o
	case res.Status != 0:
		o.Stage, o.Err = "record", fmt.Sprintf("guest exited with status %d", res.Status)
		return o
	}
	o.Stats = res.CREW
	fmt.Fprintln(os.Stderr, fuzzReplayMark)
	rres, err := fuzzReplay(log, elf, fuzzReplayTimeout)
	if te := (*TimeoutError)(nil); errors.As(err, &te) {
		// A loaded machine can make a replay slow: only a replay that
		// takes much longer still is taken for a hang.
		rres, err = fuzzReplay(log, elf, fuzzReplaySlow)
	}
	switch {
	case err != nil:
		o.Stage = "replay"
		o.locate(err)
	case rres.Status != res.Status:
		o.Stage, o.Err = "status", fmt.Sprintf("replay exited with status %d, the recording with %d", rres.Status, res.Status)
	}
	return o
}

var ripText = regexp.MustCompile(`vCPU (\d+)[^;]*?rip=(0x[0-9a-f]+)`)

// locate sets o's error to err and where it happened, when err says.
func (o *fuzzOutcome) locate(err error) {
	o.Err = err.Error()
	var ge *GuestError
	var de *DivergenceError
	var te *TimeoutError
	switch {
	case errors.As(err, &ge) && ge.Regs != nil:
		o.CPU, o.RIP = ge.CPU, ge.Regs.RIP
	case errors.As(err, &de):
		o.CPU, o.RIP = de.CPU, de.RIP
	case errors.As(err, &te):
	default:
		if m := ripText.FindStringSubmatch(o.Err); m != nil {
			o.CPU, _ = strconv.Atoi(m[1])
			o.RIP, _ = strconv.ParseUint(m[2], 0, 64)
		}
	}
}

// fuzzRecord runs elf on cpus vCPUs while recording it to path.
func fuzzRecord(path string, elf []byte, cpus int, deadline time.Duration) (*Result, error) {
	cfg := Config{CPUs: cpus, MemSize: fuzzMem, Image: elf, Args: []string{"insnfuzz"}, Timeout: fuzzRecordTimeout,
		RevokeDeadline: deadline}
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	w, err := replaylog.Create(path, replaylog.Header{WriterVersion: "insnfuzz", GuestHash: m.ImageHash(), Guest: "insnfuzz",
		Args: cfg.Args, VCPUs: uint32(cpus), MemSize: cfg.MemSize, PageSize: machine.PageSize, CPUID: EncodeCPUID(m.CPUID())},
		replaylog.WriterOptions{})
	if err != nil {
		return nil, err
	}
	if err := m.RecordTo(w); err != nil {
		w.Close()
		return nil, err
	}
	res, err := m.Run(context.Background())
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("finish the log: %w", cerr)
	}
	return res, err
}

// fuzzPlainRun runs elf without recording: a program that fails so is
// the generator's fault (or the VMM's outside the recorder).
func fuzzPlainRun(elf []byte, cpus int) error {
	m, err := New(Config{CPUs: cpus, MemSize: fuzzMem, Image: elf, Timeout: fuzzRecordTimeout})
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Run(context.Background())
	return err
}

// fuzzReplay replays the log at path with elf, for at most timeout.
func fuzzReplay(path string, elf []byte, timeout time.Duration) (*Result, error) {
	r, err := replaylog.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := r.Header()
	cpuid, err := DecodeCPUID(h.CPUID)
	if err != nil {
		return nil, err
	}
	m, err := New(Config{CPUs: int(h.VCPUs), MemSize: h.MemSize, Image: elf, Args: h.Args, Replay: r,
		CPUID: cpuid, Timeout: timeout, Granularity: uint64(h.PageSize)})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.Run(context.Background())
}
