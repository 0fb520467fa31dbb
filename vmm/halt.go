package vmm

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
	wake    []chan struct{}
}

func newHaltState(cpus int) *haltState {
	h := &haltState{pending: make([]bool, cpus), waiting: make([]bool, cpus), wake: make([]chan struct{}, cpus)}
	for i := range h.wake {
		h.wake[i] = make(chan struct{}, 1)
	}
	return h
}

// halt blocks cpu until it is woken or stop closes; it returns errDeadlock
// when every vCPU would be halted.
func (h *haltState) halt(cpu int, stop <-chan struct{}) error {
	h.mu.Lock()
	if h.pending[cpu] {
		h.pending[cpu] = false
		h.mu.Unlock()
		return nil
	}
	if h.halted+1 == len(h.waiting) {
		h.mu.Unlock()
		return errDeadlock
	}
	h.halted++
	h.waiting[cpu] = true
	h.mu.Unlock()
	select {
	case <-h.wake[cpu]:
	case <-stop:
	}
	return nil
}

// wakeCPU wakes cpu if it is halted, or leaves it a token otherwise.
func (h *haltState) wakeCPU(cpu int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiting[cpu] {
		h.waiting[cpu] = false
		h.halted--
		h.wake[cpu] <- struct{}{}
		return
	}
	h.pending[cpu] = true
}
