package machine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/devices"
	"github.com/crewvm/crewvm/vmm/guestmem"
	"github.com/crewvm/crewvm/vmm/kvm"
)

// Config describes the guest a Machine runs; what a mode adds (a log,
// CREW's granularity) is its engine's.
type Config struct {
	CPUs    int
	MemSize uint64
	// Image is the guest ELF.
	Image []byte
	// Args is the workload and its arguments (argv[0] is the name).
	Args []string
	// Input, when set, is loaded into the input region (guest/ABI.md,
	// "Boot state"): a file the guest reads, such as fstest's tests.
	Input   []byte
	Timeout time.Duration
	// Console receives the guest's console output.
	Console io.Writer
	// CPUID, when set, replaces the host's supported CPUID table, so a
	// replay answers CPUID as its recording did.
	CPUID []kvm.CPUIDEntry
	// Disk, when set, gives the guest its virtio-blk disk.
	Disk *Disk
	// Stderr receives the VMM's warnings about the guest, such as a
	// virtio chain it cannot parse (nil: discarded).
	Stderr io.Writer
}

// Result is how a run ended when the guest exited by itself.
type Result struct {
	Status  int
	Elapsed time.Duration
	// Exits counts each vCPU's exits to the VMM.
	Exits []uint64
}

// Label names a guest memory range, from HC_LABEL.
type Label struct {
	CPU  int
	Addr uint64
	Len  uint64
	Name string
}

// Machine is a guest with its vCPUs, each in a KVM VM of its own, all
// sharing one memfd of RAM: the core that every mode runs on.
type Machine struct {
	cfg     Config
	host    *kvm.Host
	mem     *guestmem.Memory
	img     *abi.Image
	cpus    []*VCPU
	halts   *haltState
	console *devices.Console
	clock   devices.Clock
	caps    HostCaps
	// cpuid is the CPUID table before each vCPU's mask (x86.MaskCPUID).
	cpuid  []kvm.CPUIDEntry
	engine Engine
	// disk is the virtio-blk device; nil without one.
	disk *disk

	stop     chan struct{}
	stopOnce sync.Once
	stopping atomic.Bool
	status   int
	err      error

	mu     sync.Mutex
	labels []Label
}

// MinMemory is the smallest --mem accepted.
const MinMemory = 2 << 20

// New validates cfg, creates the VMs and loads the guest.
func New(cfg Config) (m *Machine, err error) {
	if cfg.CPUs < 1 || cfg.CPUs > 64 {
		return nil, fmt.Errorf("--cpus %d: must be between 1 and 64", cfg.CPUs)
	}
	if cfg.MemSize < MinMemory || cfg.MemSize > MaxMemory || cfg.MemSize%PageSize != 0 {
		return nil, fmt.Errorf("--mem %d: must be a multiple of 4 KiB between %d MiB and %d GiB",
			cfg.MemSize, MinMemory>>20, MaxMemory>>30)
	}
	if cfg.Disk != nil && cfg.MemSize > abi.VirtioBlkAddr {
		return nil, fmt.Errorf("--mem %d: with a disk RAM must end at or below its registers at %#x (%d MiB)",
			cfg.MemSize, abi.VirtioBlkAddr, abi.VirtioBlkAddr>>20)
	}
	if cfg.Disk != nil && cfg.Disk.Size < abi.SectorSize {
		return nil, fmt.Errorf("disk of %d bytes: smaller than one %d-byte sector", cfg.Disk.Size, abi.SectorSize)
	}
	img, err := abi.ParseImage(cfg.Image, cfg.MemSize, cfg.CPUs)
	if err != nil {
		return nil, err
	}
	if cfg.Console == nil {
		cfg.Console = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if len(cfg.Args) == 0 {
		cfg.Args = []string{"hello"}
	}
	m = &Machine{cfg: cfg, img: img, halts: newHaltState(cfg.CPUs), stop: make(chan struct{}),
		console: devices.NewConsole(cfg.Console)}
	if cfg.Disk != nil {
		m.disk = newDisk(cfg.Disk, cfg.CPUs)
	}
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
	if err := writeBootState(m.mem.Host(), img, cfg.CPUs, cfg.Args, cfg.Input); err != nil {
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
	if cfg.CPUID != nil {
		if err := checkReplayHost(cfg.CPUID, m.host.SupportedCPUID()); err != nil {
			return nil, err
		}
	}
	for _, c := range m.cpus {
		if err := m.bootVCPU(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Config is the configuration the machine was made with.
func (m *Machine) Config() Config { return m.cfg }

// Caps says what this host lets the VMM trap (see HostCaps).
func (m *Machine) Caps() HostCaps { return m.caps }

// VCPUs are the machine's vCPUs, by number.
func (m *Machine) VCPUs() []*VCPU { return m.cpus }

// Memory is the guest's RAM.
func (m *Machine) Memory() *guestmem.Memory { return m.mem }

// Done is closed when the run ends.
func (m *Machine) Done() <-chan struct{} { return m.stop }

// Stopping says whether the run is ending: loops of an engine that run
// the guest check it.
func (m *Machine) Stopping() bool { return m.stopping.Load() }

// Run starts every vCPU under engine e and waits until the guest exits,
// fails, times out or ctx is cancelled. The guest's exit status is in
// the Result.
func (m *Machine) Run(ctx context.Context, e Engine) (*Result, error) {
	if m.engine != nil {
		return nil, errors.New("a machine runs once")
	}
	m.engine = e
	m.clock.Start()
	if err := e.Start(m); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	if dma := e.DMA(); m.disk != nil && m.disk.image != nil && dma != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.serveDisk(dma, m.cfg.Stderr)
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
		m.Finish(0, fmt.Errorf("run interrupted: %w", ctx.Err()))
	case <-timeout:
		m.Finish(0, &TimeoutError{After: m.cfg.Timeout})
	}
	m.kickAll()
	e.Stop()
	wg.Wait()
	elapsed := m.clock.Elapsed()
	if m.err == nil {
		m.err = e.End()
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
	res := &Result{Status: m.status, Elapsed: elapsed}
	for _, c := range m.cpus {
		res.Exits = append(res.Exits, c.exits)
	}
	return res, nil
}

// Finish ends the run with a status or an error; the first call wins.
func (m *Machine) Finish(status int, err error) {
	m.stopOnce.Do(func() {
		m.status, m.err = status, err
		m.stopping.Store(true)
		close(m.stop)
		m.halts.stop()
	})
}

// kickAll makes every vCPU leave KVM_RUN and any gate it waits at.
func (m *Machine) kickAll() {
	for _, c := range m.cpus {
		c.Kick()
		c.gate.Lock()
		c.unheld.Broadcast()
		c.gate.Unlock()
	}
}

func (m *Machine) runVCPU(c *VCPU) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.tid.Store(int32(unix.Gettid()))
	defer c.tid.Store(0)
	if err := m.vcpuLoop(c); err != nil && err != ErrStopping && err != ErrDone {
		m.Finish(0, err)
	}
}

// vcpuLoop enters c's guest and serves its exits until the run ends.
func (m *Machine) vcpuLoop(c *VCPU) error {
	e, stopping := m.engine, m.stopping.Load
	for !stopping() {
		enter, err := e.BeforeEnter(c)
		if !enter || err != nil {
			return err
		}
		if !c.enterGate(stopping) {
			return nil
		}
		errno := e.AfterRun(c, c.kvm.Run())
		kicked := errno == unix.EINTR || errno == unix.EAGAIN
		counted := errno == unix.EFAULT || errno == 0 && c.kvm.RunData().ExitReason != kvm.ExitIntr
		c.leaveGate(kicked, counted)
		if counted {
			e.Exited(c)
		}
		switch {
		case kicked:
			if !stopping() {
				c.kvm.Unkick()
			}
			continue
		case errno == unix.EFAULT:
			err = e.Fault(c)
		case errno != 0:
			err = c.GuestError("KVM_RUN: %v", errno)
		default:
			err = m.handleExit(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
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
		errs = append(errs, c.close())
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
