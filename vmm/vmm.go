package vmm

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/replaylog"
	recordengine "github.com/crewvm/crewvm/vmm/engine/record"
	replayengine "github.com/crewvm/crewvm/vmm/engine/replay"
	runengine "github.com/crewvm/crewvm/vmm/engine/run"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Config describes one run of a guest and its mode.
type Config struct {
	CPUs    int
	MemSize uint64
	// Image is the guest ELF.
	Image []byte
	// Args is the workload and its arguments (argv[0] is the name).
	Args []string
	// Input is loaded into the guest's input region at boot (vmm run
	// --tests); a recording keeps it, and its replay loads it again.
	Input   []byte
	Timeout time.Duration
	// Console receives the guest's console output.
	Console io.Writer
	// Replay, when set, supplies the recorded inputs and is checked
	// against at every event and at the end (vmm replay).
	Replay *replaylog.Reader
	// CPUID, when set, replaces the host's supported CPUID table, so a
	// replay answers CPUID as its recording did.
	CPUID []kvm.CPUIDEntry
	// Granularity is the CREW page size of a multiprocessor record or
	// replay (0: 4 KiB).
	Granularity uint64
	// RevokeDeadline is how long a recording waits for the holder of a
	// page to exit by itself before kicking it (0: DefaultRevokeDeadline).
	RevokeDeadline time.Duration
	// SeekTimeout bounds how long a replay lets a vCPU run to a recorded
	// state position before it reports a divergence (0: DefaultSeekTimeout).
	SeekTimeout time.Duration
	// Analyses, with Replay, make it a trace-mode replay whose events
	// they consume; each writes its results to AnalysisDir.
	Analyses    []analysis.Analysis
	AnalysisDir string
	// TraceEverywhere traces the whole run, not only test regions;
	// TraceFetches delivers instruction fetches too.
	TraceEverywhere, TraceFetches bool
	// TraceRanges limits the accesses delivered to these ranges.
	TraceRanges []TraceRange
	// TraceWindow, with Replay, steps one vCPU between two of its exits
	// (analyses or not) and nothing else.
	TraceWindow *TraceWindow
	// Watch, with Replay, is shown every vCPU's exits and traced steps
	// (vmm bisect).
	Watch *Watch
	// CheckpointEvery, in a recording, writes a checkpoint about every
	// this many exits (one vCPU, no disk); FromCheckpoint, with Replay,
	// starts at that checkpoint of the log.
	CheckpointEvery uint64
	FromCheckpoint  *int
	// Overlay, with FromCheckpoint, is written over the memory the
	// checkpoint restores.
	Overlay []replaylog.MemRegion
	// Disk, when set, gives the guest a virtio-blk disk (vmm run
	// --disk); a replay's has no image. Whoever opened its image closes
	// it (Disk.Close), so one disk serves several runs of a config.
	Disk *Disk
	// Stderr receives the VMM's warnings about the guest (nil: none).
	Stderr io.Writer
}

// The names of the layers below that a user of the VMM meets.
type (
	// CREWStats counts what the CREW recorder did.
	CREWStats = recordengine.Stats
	// CREWCosts say where a recording's CREW time went.
	CREWCosts = recordengine.Costs
	// GuestError is a failure the guest caused on one vCPU.
	GuestError = machine.GuestError
	// TimeoutError says the guest did not exit within the timeout.
	TimeoutError = machine.TimeoutError
	// DivergenceError says a replay stopped matching its recording.
	DivergenceError = replayengine.DivergenceError
	// HostCaps says what this host lets the VMM trap.
	HostCaps = machine.HostCaps
	// NondetSite is an instruction the recording cannot capture here.
	NondetSite = machine.NondetSite
	// Label names a guest memory range, from HC_LABEL.
	Label = machine.Label
	// TraceRange is a guest-physical range a trace is limited to.
	TraceRange = replayengine.AddrRange
	// TraceWindow is one vCPU between two of its exits.
	TraceWindow = replayengine.Window
	// Watch looks at a replay's vCPUs at their exits and steps.
	Watch = replayengine.Watch
	// WatchPoint is where a Watch sees a vCPU.
	WatchPoint = replayengine.Point
	// Disk is the guest's virtio-blk disk.
	Disk = machine.Disk
)

const (
	// DefaultSeekTimeout is Config.SeekTimeout's default.
	DefaultSeekTimeout = replayengine.DefaultSeekTimeout
	// DefaultRevokeDeadline is Config.RevokeDeadline's default.
	DefaultRevokeDeadline = recordengine.DefaultRevokeDeadline
	// MinMemory is the smallest --mem accepted.
	MinMemory = machine.MinMemory
)

// ErrKVMUnavailable says that /dev/kvm cannot be used on this machine.
var ErrKVMUnavailable = machine.ErrKVMUnavailable

// ErrHostMismatch says a recording cannot replay on this kind of host.
var ErrHostMismatch = machine.ErrHostMismatch

// OpenDisk opens an image file as the guest's disk (vmm run --disk).
func OpenDisk(path string, readOnly bool) (*Disk, error) { return machine.OpenDisk(path, readOnly) }

// EncodeCPUID carries a CPUID table in a log header.
func EncodeCPUID(entries []kvm.CPUIDEntry) []byte { return machine.EncodeCPUID(entries) }

// DecodeCPUID reads a CPUID table from a log header.
func DecodeCPUID(b []byte) ([]kvm.CPUIDEntry, error) { return machine.DecodeCPUID(b) }

// Result is how a run ended when the guest exited by itself.
type Result struct {
	machine.Result
	// CREW is what the CREW recorder did (multiprocessor recordings).
	CREW CREWStats
	// Traced is what a trace-mode replay stepped and delivered.
	Traced replayengine.TraceStats
}

// Machine is a guest on the machine core with the engine of its mode:
// plain, replaying (Config.Replay) or recording (RecordTo).
type Machine struct {
	cfg    Config
	core   *machine.Machine
	engine machine.Engine
	rec    *recordengine.Engine
	rep    *replayengine.Engine
}

// New validates cfg, creates the VMs and loads the guest.
func New(cfg Config) (*Machine, error) {
	core, err := machine.New(machine.Config{CPUs: cfg.CPUs, MemSize: cfg.MemSize, Image: cfg.Image, Args: cfg.Args, Input: cfg.Input,
		Timeout: cfg.Timeout, Console: cfg.Console, CPUID: cfg.CPUID, Disk: cfg.Disk, Stderr: cfg.Stderr})
	if err != nil {
		return nil, err
	}
	m := &Machine{cfg: cfg, core: core, engine: runengine.New()}
	if cfg.Replay != nil {
		opts := replayengine.Options{Granularity: cfg.Granularity, SeekTimeout: cfg.SeekTimeout, Watch: cfg.Watch, From: cfg.FromCheckpoint,
			Overlay: cfg.Overlay}
		if len(cfg.Analyses) > 0 || cfg.TraceWindow != nil {
			opts.Trace = &replayengine.TraceOptions{Sink: m.analyse, Everywhere: cfg.TraceEverywhere, Fetches: cfg.TraceFetches,
				Ranges: cfg.TraceRanges, Window: cfg.TraceWindow}
		}
		e, err := replayengine.New(core, cfg.Replay, opts)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.engine, m.rep = e, e
	}
	return m, nil
}

// RecordTo makes the run write its recording to w; call it before Run.
// With more than one vCPU it enforces CREW on their views from now on.
func (m *Machine) RecordTo(w *replaylog.Writer) error {
	e, err := recordengine.New(m.core, w, recordengine.Options{Granularity: m.cfg.Granularity, RevokeDeadline: m.cfg.RevokeDeadline,
		CheckpointEvery: m.cfg.CheckpointEvery})
	if err != nil {
		return err
	}
	m.engine, m.rec = e, e
	return nil
}

// analyse hands one event of a trace-mode replay to every analysis.
func (m *Machine) analyse(ev *analysis.Event) error {
	for _, a := range m.cfg.Analyses {
		if err := a.Event(ev); err != nil {
			return fmt.Errorf("%s: %w", a.Name(), err)
		}
	}
	return nil
}

// Run starts every vCPU and waits until the guest exits, fails, times out
// or ctx is cancelled. The guest's exit status is in the Result. The
// analyses of a trace-mode replay write their results once it matched.
func (m *Machine) Run(ctx context.Context) (*Result, error) {
	run := &analysis.Run{CPUs: m.cfg.CPUs, MemSize: m.cfg.MemSize, Image: m.cfg.Image, Out: &analysis.Output{Dir: m.cfg.AnalysisDir}}
	for _, a := range m.cfg.Analyses {
		if err := a.Start(run); err != nil {
			return nil, fmt.Errorf("%s: %w", a.Name(), err)
		}
	}
	res, err := m.core.Run(ctx, m.engine)
	if err != nil {
		// An analysis that holds a file lets go of it; what it wrote
		// stays incomplete, as its reader then says.
		for _, a := range m.cfg.Analyses {
			if c, ok := a.(io.Closer); ok {
				c.Close()
			}
		}
		return nil, err
	}
	for _, a := range m.cfg.Analyses {
		if err := a.Finish(); err != nil {
			return nil, fmt.Errorf("%s: %w", a.Name(), err)
		}
	}
	out := &Result{Result: *res}
	if m.rec != nil {
		out.CREW = m.rec.Stats()
	}
	if m.rep != nil {
		out.Traced = m.rep.TraceStats()
	}
	return out, nil
}

// Caps says what this host lets the VMM trap.
func (m *Machine) Caps() HostCaps { return m.core.Caps() }

// CPUID returns the base CPUID table this machine gives its vCPUs.
func (m *Machine) CPUID() []kvm.CPUIDEntry { return m.core.CPUID() }

// ImageHash identifies the guest image, for log headers.
func (m *Machine) ImageHash() [32]byte { return m.core.ImageHash() }

// Untrappable lists the guest image's instructions that this host cannot
// trap (machine.Machine.Untrappable).
func (m *Machine) Untrappable() []NondetSite { return m.core.Untrappable() }

// Labels returns the memory labels the guest declared.
func (m *Machine) Labels() []Label { return m.core.Labels() }

// Close releases every vCPU, VM and the guest memory.
func (m *Machine) Close() error { return m.core.Close() }

// ReplayConfig is the configuration that replays the recording r on the
// guest image: the machine its header describes, fed from r. The caller
// adds the console, timeouts and analyses.
func ReplayConfig(r *replaylog.Reader, image []byte) (Config, error) {
	h := r.Header()
	if h.Minor < 1 {
		return Config{}, fmt.Errorf("format %d.%d was written before halts were logged; record it again", h.Major, h.Minor)
	}
	cpuid, err := DecodeCPUID(h.CPUID)
	if err != nil {
		return Config{}, fmt.Errorf("header: %w", err)
	}
	cfg := Config{CPUs: int(h.VCPUs), MemSize: h.MemSize, Image: image, Args: h.Args, Input: h.Input,
		Replay: r, CPUID: cpuid, Granularity: uint64(h.PageSize)}
	if h.DiskSize > 0 {
		cfg.Disk = &Disk{Size: h.DiskSize, ReadOnly: h.DiskReadOnly}
	}
	return cfg, nil
}
