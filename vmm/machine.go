package vmm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bobuhiro11/gokvm/kvm"
	"github.com/crewvm/crewvm/replaylog"
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
	CPUID []kvm.CPUIDEntry2
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
// sharing one memfd of RAM.
type Machine struct {
	cfg     Config
	host    *kvmHost
	mem     *Memory
	img     *Image
	cpus    []*vcpu
	halts   *haltState
	console *lockedWriter

	start    time.Time
	stop     chan struct{}
	stopOnce sync.Once
	stopping atomic.Bool
	status   int
	err      error

	rec *recorder
	rep *replayer

	mu     sync.Mutex
	labels []Label
}

// vcpu is the VMM's side of one guest CPU.
type vcpu struct {
	id    int
	kvm   *kvmVCPU
	tid   atomic.Int32
	exits uint64
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
	img, err := ParseImage(cfg.Image, cfg.MemSize, cfg.CPUs)
	if err != nil {
		return nil, err
	}
	if cfg.Console == nil {
		cfg.Console = io.Discard
	}
	if len(cfg.Args) == 0 {
		cfg.Args = []string{"hello"}
	}
	if cfg.Replay != nil && cfg.CPUs > 1 {
		return nil, fmt.Errorf("log has %d vCPUs: replaying more than one vCPU needs the CREW recorder, which is not built yet", cfg.CPUs)
	}
	m = &Machine{cfg: cfg, img: img, halts: newHaltState(cfg.CPUs), stop: make(chan struct{}),
		console: &lockedWriter{w: cfg.Console}}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.host, err = openKVM(); err != nil {
		return nil, err
	}
	if cfg.CPUID != nil {
		m.host.cpuid = &kvm.CPUID{Nent: uint32(len(cfg.CPUID)), Entries: cfg.CPUID}
	}
	if cfg.Replay != nil {
		m.rep = &replayer{r: cfg.Replay}
	}
	if m.mem, err = NewMemory(cfg.MemSize); err != nil {
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
	return m, nil
}

func (m *Machine) newVCPU(id int) (*vcpu, error) {
	ram, err := m.mem.Map()
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: %w", id, err)
	}
	kv, err := newKVMVCPU(m.host, id, ram)
	if err != nil {
		unix.Munmap(ram)
		return nil, err
	}
	c := &vcpu{id: id, kvm: kv}
	sregs, err := kv.sregs()
	if err == nil {
		setLongMode(sregs)
		err = kv.setSregs(sregs)
	}
	if err == nil {
		err = kv.setRegs(initialRegs(m.img, id, m.cfg.CPUs, m.cfg.MemSize))
	}
	if err != nil {
		kv.Close()
		return nil, fmt.Errorf("vCPU %d: set boot registers: %w", id, err)
	}
	return c, nil
}

// Run starts every vCPU and waits until the guest exits, fails, times out
// or ctx is cancelled. The guest's exit status is in the Result.
func (m *Machine) Run(ctx context.Context) (*Result, error) {
	m.start = time.Now()
	var wg sync.WaitGroup
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
	wg.Wait()
	elapsed := time.Since(m.start)
	if m.err == nil && (m.rec != nil || m.rep != nil) {
		m.err = m.finalState()
	}
	if te, ok := m.err.(*TimeoutError); ok {
		for _, c := range m.cpus {
			r, _ := c.kvm.regs()
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
		c.kvm.run.ImmediateExit = 1
		if tid := c.tid.Load(); tid != 0 {
			unix.Tgkill(os.Getpid(), int(tid), unix.SIGURG)
		}
	}
}

func (m *Machine) runVCPU(c *vcpu) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.tid.Store(int32(unix.Gettid()))
	defer c.tid.Store(0)
	for !m.stopping.Load() {
		err := c.kvm.enter()
		if err == unix.EINTR {
			if !m.stopping.Load() {
				c.kvm.run.ImmediateExit = 0
			}
			continue
		}
		if err != nil {
			m.finish(0, c.guestError("%v", err))
			return
		}
		if err := m.handleExit(c); err != nil {
			m.finish(0, err)
			return
		}
	}
}

// guestError builds a GuestError with the vCPU's current registers.
func (c *vcpu) guestError(format string, args ...any) error {
	r, err := c.kvm.regs()
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
		errs = append(errs, c.kvm.Close())
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

// lockedWriter serialises console output from several vCPU threads.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
