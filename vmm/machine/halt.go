package machine

import (
	"errors"
	"sync"
	"time"
)

// errDeadlock is returned to the last vCPU to halt when nobody is left to wake anyone.
var errDeadlock = errors.New("every vCPU is halted and none can wake another (deadlock)")

// haltState implements HC_HALT and HC_WAKE: a wake is a binary token that
// a later halt consumes, so a wake sent before the halt is never lost.
type haltState struct {
	mu      sync.Mutex
	halted  int
	pending []bool
	waiting []bool
	// woken is posted when a halted CPU is woken, with the wake in
	// last; a futex, as for Hold (wakeup.go): a channel's wake of a
	// vCPU's locked thread took 200 us here.
	woken []wakeup
	// given is the wake a halted CPU was woken by; last is the latest
	// wake of each CPU, which the token stands for.
	given, last []Waker
	// device says the disk has a round asked for or under way, whose
	// wakes may come: a vCPU halting last is then no deadlock.
	device bool
}

// deadlocked is the Waker of no wake: every vCPU halted once the device
// went idle.
var deadlocked = Waker{CPU: -1}

// Waker names a wake: the waking vCPU at the exit of its HC_WAKE.
type Waker struct {
	CPU   int
	Exits uint64
}

func newHaltState(cpus int) *haltState {
	return &haltState{pending: make([]bool, cpus), waiting: make([]bool, cpus), woken: make([]wakeup, cpus),
		given: make([]Waker, cpus), last: make([]Waker, cpus)}
}

// stopWait is how often a halted CPU looks whether the run is over.
const stopWait = 50 * time.Millisecond

// halt blocks cpu until it is woken or stopping says the run is over,
// and says by which wake; it returns errDeadlock when every vCPU would
// be halted.
func (h *haltState) halt(cpu int, stopping func() bool) (Waker, error) {
	h.mu.Lock()
	if h.pending[cpu] {
		h.pending[cpu] = false
		h.mu.Unlock()
		return h.last[cpu], nil
	}
	if h.halted+1 == len(h.waiting) && !h.device {
		h.mu.Unlock()
		return Waker{}, errDeadlock
	}
	h.halted++
	h.waiting[cpu] = true
	h.woken[cpu].reset()
	h.mu.Unlock()
	for !h.woken[cpu].wait(stopWait) {
		if stopping() {
			return Waker{}, nil
		}
	}
	h.mu.Lock()
	w := h.given[cpu]
	h.mu.Unlock()
	if w == deadlocked {
		return Waker{}, errDeadlock
	}
	return w, nil
}

// stop lets every halted CPU see that the run is over.
func (h *haltState) stop() {
	for i := range h.woken {
		h.woken[i].post()
	}
}

// deviceBusy says whether the disk has a round asked for or under way.
// When it goes idle with every vCPU halted, nobody is left to wake them:
// one of them is told of the deadlock.
func (h *haltState) deviceBusy(busy bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.device = busy
	if busy || h.halted < len(h.waiting) {
		return
	}
	for cpu, w := range h.waiting {
		if w {
			h.waiting[cpu] = false
			h.halted--
			h.given[cpu] = deadlocked
			h.woken[cpu].post()
			return
		}
	}
}

// wakeCPU wakes cpu if it is halted, or leaves it a token otherwise.
func (h *haltState) wakeCPU(cpu int, w Waker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiting[cpu] {
		h.waiting[cpu] = false
		h.halted--
		h.given[cpu] = w
		h.woken[cpu].post()
		return
	}
	h.pending[cpu] = true
	h.last[cpu] = w
}

// Halt parks c until another vCPU wakes it, and says by which wake;
// the plain and recording engines serve halts with it.
func (m *Machine) Halt(c *VCPU) (Waker, error) {
	w, err := m.halts.halt(c.id, m.stopping.Load)
	if err != nil {
		return Waker{}, c.GuestError("%v", err)
	}
	if m.stopping.Load() {
		return Waker{}, ErrStopping
	}
	return w, nil
}
