package vmm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"sync"
	"time"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"golang.org/x/sys/unix"
)

// CREW enforcement (DESIGN.md section 4, crew/HOSTFACTS.md): every vCPU's
// own mapping of RAM carries that vCPU's rights, so touching a page
// beyond them makes its KVM_RUN fail with EFAULT at the instruction. The
// VMM decodes the instruction to learn the page, asks package crew for the
// transition, stops the vCPUs whose rights shrink at a replayable position,
// changes the protections, logs the transition and lets the vCPU go on.
//
// Positions. A vCPU stopped outside KVM_RUN after its n-th exit is at exit
// position n: exits happen at the same instruction in every replay, and
// the VMM's handling of an exit touches no guest memory. A vCPU stopped by
// a kick is at a state position: the first point after exit n with its
// registers and the hash of the pages it owns exclusively. crew numbers
// both in one sequence per vCPU: exit n is n<<seqBits, the k-th state
// position after it n<<seqBits|k.

const seqBits = 20

func exitCrewPos(n uint64) crew.Pos { return crew.Pos(n << seqBits) }

// DefaultRevokeDeadline is how long a transition waits for a holder's own
// next exit before kicking it; see BENCHMARKS.md for how it was chosen.
const DefaultRevokeDeadline = 200 * time.Microsecond

// crewCtl is the CREW state of a multiprocessor record or replay.
type crewCtl struct {
	// mu serialises transitions (recording): their order is the log's.
	mu   sync.Mutex
	st   *crew.State
	gran uint64
	// deadline bounds the wait for a holder's own exit (recording).
	deadline time.Duration
	timer    *time.Timer
	// states names the state positions taken, per vCPU, so that a
	// constraint on one can be logged in full.
	states []map[crew.Pos]replaylog.Position
	stats  CREWStats
}

// CREWStats counts what the CREW recorder did.
type CREWStats struct {
	Transitions uint64
	// Constraints counts the orderings logged; Elided those implied.
	Constraints, Elided uint64
	// Deferred counts holders that reached an exit of their own within
	// the deadline; Kicks those that had to be kicked.
	Deferred, Kicks uint64
	// StatePositions counts positions that are not exits.
	StatePositions uint64
	// Approximate counts faults whose footprint the decoder could only
	// bound (an instruction it does not know exactly); Fallbacks those it
	// could not explain at all, served by recordFallback.
	Approximate, Fallbacks uint64
}

func newCrewCtl(cpus int, memSize, gran uint64, deadline time.Duration) (*crewCtl, error) {
	if gran == 0 {
		gran = pageSize
	}
	if gran%pageSize != 0 || gran&(gran-1) != 0 {
		return nil, fmt.Errorf("--granularity %d: must be a power of two multiple of 4 KiB", gran)
	}
	if memSize%gran != 0 {
		return nil, fmt.Errorf("--granularity %d does not divide --mem %d", gran, memSize)
	}
	st, err := crew.ForMemory(cpus, memSize, gran)
	if err != nil {
		return nil, err
	}
	k := &crewCtl{st: st, gran: gran, deadline: deadline, states: make([]map[crew.Pos]replaylog.Position, cpus)}
	for i := range k.states {
		k.states[i] = map[crew.Pos]replaylog.Position{}
	}
	return k, nil
}

// hostProt is the host protection that gives rights r.
func hostProt(r crew.Rights) int {
	switch r {
	case crew.ReadWrite:
		return unix.PROT_READ | unix.PROT_WRITE
	case crew.ReadOnly:
		return unix.PROT_READ
	}
	return unix.PROT_NONE
}

// initViews makes every page Concurrent-Read in every vCPU's view, the
// state package crew starts from.
func (k *crewCtl) initViews(cpus []*vcpu) error {
	for _, c := range cpus {
		c.rights = make([]crew.Rights, k.st.Pages())
		for i := range c.rights {
			c.rights[i] = crew.ReadOnly
		}
		if err := c.view.Protect(0, uint64(len(c.view.Bytes())), unix.PROT_READ); err != nil {
			return fmt.Errorf("vCPU %d: %w", c.id, err)
		}
	}
	return nil
}

// setRights changes c's rights on page in its own view.
func (k *crewCtl) setRights(c *vcpu, page int, r crew.Rights) error {
	if c.rights[page] == r {
		return nil
	}
	if err := c.view.Protect(k.st.Addr(page), k.gran, hostProt(r)); err != nil {
		if errors.Is(err, unix.ENOMEM) {
			return fmt.Errorf("vCPU %d: %w (vm.max_map_count is too low for this many protected ranges: raise it with sysctl or use a larger --granularity)", c.id, err)
		}
		return fmt.Errorf("vCPU %d: %w", c.id, err)
	}
	c.rights[page] = r
	return nil
}

// ownedHash hashes the pages c may write (it owns them exclusively): with
// its registers, what a state position compares.
func (k *crewCtl) ownedHash(c *vcpu, ram []byte) uint64 {
	h := crc64.New(crcTable)
	var idx [8]byte
	for p, r := range c.rights {
		if r != crew.ReadWrite {
			continue
		}
		binary.LittleEndian.PutUint64(idx[:], uint64(p))
		h.Write(idx[:])
		a := k.st.Addr(p)
		h.Write(ram[a : a+k.gran])
	}
	return h.Sum64()
}

var crcTable = crc64.MakeTable(crc64.ECMA)

func logAccess(k crew.Kind) replaylog.Access {
	switch k {
	case crew.Write:
		return replaylog.AccessWrite
	case crew.Fetch:
		return replaylog.AccessFetch
	}
	return replaylog.AccessRead
}

func crewKind(a replaylog.Access) crew.Kind {
	switch a {
	case replaylog.AccessWrite:
		return crew.Write
	case replaylog.AccessFetch:
		return crew.Fetch
	}
	return crew.Read
}

// recordTransition performs and logs one transition for c's access w.
func (m *Machine) recordTransition(c *vcpu, w want) error {
	k := m.crew
	plan, err := k.st.Plan(c.id, w.page, w.kind)
	if err != nil {
		return c.guestError("%v", err)
	}
	at := make([]crew.Pos, len(m.cpus))
	var held []*vcpu
	defer func() {
		for _, h := range held {
			h.release()
		}
	}()
	for _, r := range plan.Reduce {
		h := m.cpus[r.Actor]
		held = append(held, h)
		pos, err := m.stopHolder(h)
		if err != nil {
			return err
		}
		at[r.Actor] = pos
		if err := k.setRights(h, w.page, r.To); err != nil {
			return err
		}
	}
	t, err := k.st.Access(c.id, w.page, w.kind, exitCrewPos(c.exits), at)
	if err != nil {
		return c.guestError("%v", err)
	}
	if err := k.setRights(c, w.page, t.Grant.To); err != nil {
		return err
	}
	state := replaylog.PageShared
	if t.Grant.To == crew.ReadWrite {
		state = replaylog.PageExclusive
	}
	var cons []replaylog.Constraint
	for _, x := range t.Constraints {
		cons = append(cons, replaylog.Constraint{VCPU: uint32(x.Before.Actor), Pos: k.position(x.Before.Actor, x.Before.Pos)})
	}
	ev := replaylog.CREW(uint32(c.id), replaylog.ExitPos(c.exits), uint64(w.page), logAccess(w.kind), state, cons)
	k.stats.Transitions++
	return m.rec.append(ev)
}

// position turns a crew position of cpu back into a log position.
func (k *crewCtl) position(cpu int, p crew.Pos) replaylog.Position {
	if p&(1<<seqBits-1) == 0 {
		return replaylog.ExitPos(uint64(p) >> seqBits)
	}
	return k.states[cpu][p]
}

// stopHolder keeps h out of the guest and returns where it stands. A
// holder in the guest gets the deadline to reach an exit of its own,
// which is an exact position; after that it is kicked and stands at a
// state position. The caller releases h when its rights are changed.
func (m *Machine) stopHolder(h *vcpu) (crew.Pos, error) {
	k := m.crew
	h.gate.Lock()
	h.holds++
	if h.inGuest {
		h.waiting = true
		h.gate.Unlock()
		kicked := false
		if k.timer == nil {
			k.timer = time.NewTimer(k.deadline)
		} else {
			k.timer.Reset(k.deadline)
		}
		for done := false; !done; {
			select {
			case <-h.left:
				done = true
			case <-k.timer.C:
				kicked = true
				h.kick()
			case <-m.stop:
				k.timer.Stop()
				return 0, errStopping
			}
		}
		k.timer.Stop()
		if kicked {
			k.stats.Kicks++
		} else {
			k.stats.Deferred++
		}
		h.gate.Lock()
		h.waiting = false
	}
	defer h.gate.Unlock()
	return m.takePosition(h)
}

// takePosition names where h, stopped, stands. Called with h.gate held.
func (m *Machine) takePosition(h *vcpu) (crew.Pos, error) {
	if !h.kicked {
		return exitCrewPos(h.exits), nil
	}
	k := m.crew
	if h.fresh {
		r, err := h.kvm.Regs()
		if err != nil {
			return 0, h.guestError("read registers of a kicked vCPU: %v", err)
		}
		if h.seq+1 >= 1<<seqBits {
			return 0, h.guestError("more than %d kicks between two exits", 1<<seqBits-1)
		}
		h.seq++
		h.fresh = false
		regs := toLogRegs(r)
		regs.RFLAGS &^= rflagsIgnored
		p := exitCrewPos(h.exits) | crew.Pos(h.seq)
		k.states[h.id][p] = replaylog.StatePos(h.exits, h.seq, &regs, k.ownedHash(h, m.mem.Host()))
		k.stats.StatePositions++
	}
	return exitCrewPos(h.exits) | crew.Pos(h.seq), nil
}

// errStopping ends a vCPU's handling of an exit because the run is over.
var errStopping = errors.New("run stopping")

// kick makes c leave KVM_RUN: immediate_exit closes the race with a vCPU
// about to enter, the signal interrupts one already inside.
func (c *vcpu) kick() {
	c.kvm.RunData().ImmediateExit = 1
	if tid := c.tid.Load(); tid != 0 {
		unix.Tgkill(unix.Getpid(), int(tid), unix.SIGURG)
	}
}

// release lets a held vCPU enter the guest again once nobody holds it.
func (c *vcpu) release() {
	c.gate.Lock()
	c.holds--
	if c.holds == 0 {
		c.unheld.Broadcast()
	}
	c.gate.Unlock()
}

// enterGate waits until nobody holds c, then marks it in the guest.
func (c *vcpu) enterGate(stopping func() bool) bool {
	c.gate.Lock()
	defer c.gate.Unlock()
	for c.holds > 0 && !stopping() {
		c.unheld.Wait()
	}
	if stopping() {
		return false
	}
	c.inGuest = true
	return true
}

// leaveGate marks c out of the guest after KVM_RUN returned errno, counts
// exits the guest caused, and tells a waiting stopper.
func (c *vcpu) leaveGate(errno unix.Errno, counted bool) {
	c.gate.Lock()
	c.inGuest = false
	if counted {
		c.exits++
		c.kicked, c.fresh, c.seq = false, false, 0
	} else if errno == unix.EINTR || errno == unix.EAGAIN {
		c.kicked, c.fresh = true, true
	}
	if c.waiting {
		select {
		case c.left <- struct{}{}:
		default:
		}
	}
	c.gate.Unlock()
}

// Stats reports what the CREW recorder did; zero without one.
func (m *Machine) CREWStats() CREWStats {
	if m.crew == nil {
		return CREWStats{}
	}
	m.crew.mu.Lock()
	defer m.crew.mu.Unlock()
	s := m.crew.stats
	cs := m.crew.st.Stats()
	s.Constraints, s.Elided = cs.Constraints, cs.Elided
	return s
}
