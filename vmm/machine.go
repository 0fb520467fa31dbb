package vmm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/devices"
	"github.com/crewvm/crewvm/vmm/guestmem"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/x86"
	"golang.org/x/sys/unix"
)

// Config describes one run of a guest.
type Config struct {
	CPUs    int
	MemSize uint64
	// Image is the guest ELF.
	Image []byte
	// Args is the workload and its arguments (argv[0] is the name).
	Args    []string
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
}

// DefaultSeekTimeout is SeekTimeout's default: seeks take one or two
// exits (BENCHMARKS.md), so a seek that runs this long has gone past its
// position.
const DefaultSeekTimeout = 30 * time.Second

// Result is how a run ended when the guest exited by itself.
type Result struct {
	Status  int
	Elapsed time.Duration
	// Exits counts each vCPU's exits to the VMM.
	Exits []uint64
	// CREW is what the CREW recorder did (multiprocessor recordings).
	CREW CREWStats
}

// Label names a guest memory range, from HC_LABEL.
type Label struct {
	CPU  int
	Addr uint64
	Len  uint64
	Name string
}

// Machine is a guest with its vCPUs, each in a KVM VM of its own, all
// sharing one memfd of RAM.
type Machine struct {
	cfg     Config
	host    *kvm.Host
	mem     *guestmem.Memory
	img     *abi.Image
	cpus    []*vcpu
	halts   *haltState
	console *devices.Console
	clock   devices.Clock
	caps    HostCaps
	// cpuid is the CPUID table before each vCPU's mask (x86.MaskCPUID).
	cpuid []kvm.CPUIDEntry

	stop     chan struct{}
	stopOnce sync.Once
	stopping atomic.Bool
	status   int
	err      error

	rec  *recorder
	rep  *replayer
	crew *crewCtl

	mu     sync.Mutex
	labels []Label
}

// vcpu is the VMM's side of one guest CPU.
type vcpu struct {
	id   int
	kvm  *kvm.VCPU
	view *guestmem.View
	// cpuid is what the guest's CPUID instruction answers (trap.go).
	cpuid []x86.CPUIDEntry
	tid   atomic.Int32
	// exits counts the exits the guest caused: its exit position.
	exits uint64

	// The gate keeps a vCPU out of the guest while a CREW transition
	// changes its rights (crewrec.go).
	gate   sync.Mutex
	unheld *sync.Cond
	left   chan struct{}
	// inGuest: in KVM_RUN or about to be; holds: transitions holding it
	// out; waiting: a transition waits for it to leave.
	inGuest bool
	holds   int
	waiting bool
	// kicked: its last KVM_RUN ended by a kick, not an exit, so it stands
	// at a state position; fresh: it has not been named yet; seq numbers
	// the state positions since the last exit.
	kicked, fresh bool
	seq           uint64
	// rights are its CREW rights per page, as its view enforces them.
	rights []crew.Rights
	// xsaveSize is the XSAVE area size its CPUID gives (leaf 0xd), which
	// bounds what an xsave instruction writes.
	xsaveSize uint64
	// matcher is its private trampoline region for seeking state
	// positions (seek.go): sparse, above RAM, in memory slot 1.
	matcher []byte
}

// MinMemory is the smallest --mem accepted.
const MinMemory = 2 << 20

// New validates cfg, creates the VMs and loads the guest.
func New(cfg Config) (m *Machine, err error) {
	if cfg.CPUs < 1 || cfg.CPUs > 64 {
		return nil, fmt.Errorf("--cpus %d: must be between 1 and 64", cfg.CPUs)
	}
	if cfg.MemSize < MinMemory || cfg.MemSize > maxMemory || cfg.MemSize%pageSize != 0 {
		return nil, fmt.Errorf("--mem %d: must be a multiple of 4 KiB between %d MiB and %d GiB",
			cfg.MemSize, MinMemory>>20, maxMemory>>30)
	}
	img, err := abi.ParseImage(cfg.Image, cfg.MemSize, cfg.CPUs)
	if err != nil {
		return nil, err
	}
	if cfg.Console == nil {
		cfg.Console = io.Discard
	}
	if len(cfg.Args) == 0 {
		cfg.Args = []string{"hello"}
	}
	if cfg.RevokeDeadline <= 0 {
		cfg.RevokeDeadline = DefaultRevokeDeadline
	}
	if cfg.SeekTimeout <= 0 {
		cfg.SeekTimeout = DefaultSeekTimeout
	}
	m = &Machine{cfg: cfg, img: img, halts: newHaltState(cfg.CPUs), stop: make(chan struct{}),
		console: devices.NewConsole(cfg.Console)}
	built := m
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if m.host, err = kvm.Open(); err != nil {
		return nil, err
	}
	m.cpuid = m.host.SupportedCPUID()
	if cfg.CPUID != nil {
		m.cpuid = cfg.CPUID
	}
	if m.mem, err = guestmem.New(cfg.MemSize); err != nil {
		return nil, err
	}
	if err := writeBootState(m.mem.Host(), img, cfg.CPUs, cfg.Args); err != nil {
		return nil, err
	}
	for i := 0; i < cfg.CPUs; i++ {
		c, err := m.newVCPU(i)
		if err != nil {
			return nil, err
		}
		m.cpus = append(m.cpus, c)
	}
	if err := m.bootVCPU(m.cpus[0]); err != nil {
		return nil, err
	}
	if m.caps, err = probeCaps(m.cpus[0].kvm, m.cpus[0].view.Bytes()); err != nil {
		return nil, err
	}
	for _, c := range m.cpus {
		if err := m.bootVCPU(c); err != nil {
			return nil, err
		}
	}
	if cfg.Replay != nil {
		if cfg.CPUs > 1 {
			if m.crew, err = newCrewCtl(cfg.CPUs, cfg.MemSize, cfg.Granularity, cfg.RevokeDeadline); err != nil {
				return nil, err
			}
			if err := m.crew.initViews(m.cpus); err != nil {
				return nil, err
			}
		}
		m.rep = newReplayer(cfg.Replay, cfg.CPUs, m.crew)
	}
	return m, nil
}

func (m *Machine) newVCPU(id int) (*vcpu, error) {
	view, err := m.mem.NewView()
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: %w", id, err)
	}
	table := make([]x86.CPUIDEntry, len(m.cpuid))
	for i, e := range m.cpuid {
		table[i] = x86.CPUIDEntry(e)
	}
	table = x86.MaskCPUID(table, id)
	ktable := make([]kvm.CPUIDEntry, len(table))
	for i, e := range table {
		ktable[i] = kvm.CPUIDEntry(e)
	}
	kv, err := m.host.NewVCPU(id, view.Bytes(), ktable)
	if err == nil {
		if err = kv.SetMSR(x86.MSRMiscFeaturesEnables, x86.CPUIDFaulting); err != nil {
			kv.Close()
			err = fmt.Errorf("vCPU %d: enable CPUID faulting: %w", id, err)
		}
	}
	if err != nil {
		view.Close()
		return nil, err
	}
	c := &vcpu{id: id, kvm: kv, view: view, cpuid: table, left: make(chan struct{}, 1)}
	c.unheld = sync.NewCond(&c.gate)
	_, ebx, _, _ := x86.CPUIDLeaf(table, 0xd, 0)
	c.xsaveSize = uint64(ebx)
	return c, nil
}

// bootVCPU gives c its boot registers; CR4.TSD traps the time-stamp
// counter where the host honours it (HostCaps).
func (m *Machine) bootVCPU(c *vcpu) error {
	sregs, err := c.kvm.Sregs()
	if err == nil {
		setLongMode(sregs)
		if m.caps.TSCTrapped {
			sregs.CR4 |= x86.CR4TSD
		}
		err = c.kvm.SetSregs(sregs)
	}
	if err == nil {
		err = c.kvm.SetRegs(initialRegs(m.img, c.id, m.cfg.CPUs, m.cfg.MemSize))
	}
	if err != nil {
		return fmt.Errorf("vCPU %d: set boot registers: %w", c.id, err)
	}
	return nil
}

// Caps says what this host lets the VMM trap (see HostCaps).
func (m *Machine) Caps() HostCaps { return m.caps }

// Run starts every vCPU and waits until the guest exits, fails, times out
// or ctx is cancelled. The guest's exit status is in the Result.
func (m *Machine) Run(ctx context.Context) (*Result, error) {
	m.clock.Start()
	var wg sync.WaitGroup
	if m.rep != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.rep.dispatch(m.stop)
			m.rep.mu.Lock()
			err := m.rep.err
			m.rep.mu.Unlock()
			if err != nil {
				m.finish(0, err)
			}
		}()
	}
	for _, c := range m.cpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.runVCPU(c)
		}()
	}
	var timeout <-chan time.Time
	if m.cfg.Timeout > 0 {
		t := time.NewTimer(m.cfg.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-m.stop:
	case <-ctx.Done():
		m.finish(0, fmt.Errorf("run interrupted: %w", ctx.Err()))
	case <-timeout:
		m.finish(0, &TimeoutError{After: m.cfg.Timeout})
	}
	m.kickAll()
	if m.rep != nil {
		m.rep.mu.Lock()
		m.rep.fail(errStopping)
		m.rep.mu.Unlock()
	}
	wg.Wait()
	elapsed := m.clock.Elapsed()
	if m.err == nil && (m.rec != nil || m.rep != nil) {
		m.err = m.finalState()
	}
	if te, ok := m.err.(*TimeoutError); ok {
		for _, c := range m.cpus {
			r, _ := c.kvm.Regs()
			te.Regs = append(te.Regs, r)
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	res := &Result{Status: m.status, Elapsed: elapsed, CREW: m.CREWStats()}
	for _, c := range m.cpus {
		res.Exits = append(res.Exits, c.exits)
	}
	return res, nil
}

// finish ends the run with a status or an error; the first call wins.
func (m *Machine) finish(status int, err error) {
	m.stopOnce.Do(func() {
		m.status, m.err = status, err
		m.stopping.Store(true)
		close(m.stop)
	})
}

// kickAll makes every vCPU leave KVM_RUN: immediate_exit closes the race
// with a vCPU about to enter, the signal interrupts one already inside.
func (m *Machine) kickAll() {
	for _, c := range m.cpus {
		c.kick()
		c.gate.Lock()
		c.unheld.Broadcast()
		c.gate.Unlock()
	}
}

func (m *Machine) runVCPU(c *vcpu) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.tid.Store(int32(unix.Gettid()))
	defer c.tid.Store(0)
	if err := m.vcpuLoop(c); err != nil && err != errStopping && err != errParked {
		m.finish(0, err)
	}
}

// vcpuLoop enters c's guest and serves its exits until the run ends.
func (m *Machine) vcpuLoop(c *vcpu) error {
	stopping := m.stopping.Load
	for !stopping() {
		if m.rep != nil {
			enter, err := m.replayBeforeEnter(c)
			if !enter || err != nil {
				return err
			}
		}
		if !c.enterGate(stopping) {
			return nil
		}
		errno := c.kvm.Run()
		if (errno == unix.EINTR || errno == unix.EAGAIN) && m.rec != nil && m.crew != nil && c.heldOut() {
			errno = m.settle(c)
		}
		crewFault := errno == unix.EFAULT && m.crew != nil
		counted := crewFault || errno == 0 && c.kvm.RunData().ExitReason != kvm.ExitIntr
		c.leaveGate(errno, counted)
		var err error
		if counted && m.rep != nil {
			m.rep.reach(c, exitCrewPos(c.exits))
		}
		switch {
		case errno == unix.EINTR || errno == unix.EAGAIN:
			if !stopping() {
				c.kvm.Unkick()
			}
			continue
		case crewFault && m.rep != nil:
			err = m.replayFault(c)
		case crewFault:
			err = m.recordFault(c)
		case errno != 0:
			err = c.guestError("KVM_RUN: %v", errno)
		default:
			err = m.handleExit(c)
		}
		if err == errParked {
			return m.park(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// guestError builds a GuestError with the vCPU's current registers.
func (c *vcpu) guestError(format string, args ...any) error {
	r, err := c.kvm.Regs()
	if err != nil {
		r = nil
	}
	return &GuestError{CPU: c.id, Msg: fmt.Sprintf(format, args...), Regs: r}
}

// Labels returns the memory labels the guest declared.
func (m *Machine) Labels() []Label {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Label(nil), m.labels...)
}

// Close releases every vCPU, VM and the guest memory.
func (m *Machine) Close() error {
	var errs []error
	for _, c := range m.cpus {
		errs = append(errs, c.kvm.Close(), c.view.Close())
		if c.matcher != nil {
			errs = append(errs, unix.Munmap(c.matcher))
		}
	}
	m.cpus = nil
	if m.mem != nil {
		errs = append(errs, m.mem.Close())
		m.mem = nil
	}
	if m.host != nil {
		errs = append(errs, m.host.Close())
		m.host = nil
	}
	return errors.Join(errs...)
}
