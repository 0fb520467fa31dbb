package machine

import (
	"errors"
	"sync"
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
	wake    []chan Waker
	// last is the latest wake of each CPU, which the token stands for.
	last []Waker
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
	h := &haltState{pending: make([]bool, cpus), waiting: make([]bool, cpus), wake: make([]chan Waker, cpus),
		last: make([]Waker, cpus)}
	for i := range h.wake {
		h.wake[i] = make(chan Waker, 1)
	}
	return h
}

// halt blocks cpu until it is woken or stop closes, and says by which
// wake; it returns errDeadlock when every vCPU would be halted.
func (h *haltState) halt(cpu int, stop <-chan struct{}) (Waker, error) {
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
	h.mu.Unlock()
	select {
	case w := <-h.wake[cpu]:
		if w == deadlocked {
			return Waker{}, errDeadlock
		}
		return w, nil
	case <-stop:
	}
	return Waker{}, nil
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
			h.wake[cpu] <- deadlocked
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
		h.wake[cpu] <- w
		return
	}
	h.pending[cpu] = true
	h.last[cpu] = w
}

// Halt parks c until another vCPU wakes it, and says by which wake;
// the plain and recording engines serve halts with it.
func (m *Machine) Halt(c *VCPU) (Waker, error) {
	w, err := m.halts.halt(c.id, m.stop)
	if err != nil {
		return Waker{}, c.GuestError("%v", err)
	}
	if m.stopping.Load() {
		return Waker{}, ErrStopping
	}
	return w, nil
}
