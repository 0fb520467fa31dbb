package machine

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestWakeBeforeHaltIsKept(t *testing.T) {
	h := newHaltState(2)
	h.wakeCPU(1, Waker{CPU: 0, Exits: 7})
	done := make(chan error, 1)
	go func() {
		w, err := h.halt(1, func() bool { return false })
		if err == nil && w != (Waker{CPU: 0, Exits: 7}) {
			err = fmt.Errorf("woken by %+v, want vCPU 0 at exit 7", w)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("halt after wake blocked")
	}
}

func TestLastHaltIsDeadlock(t *testing.T) {
	h := newHaltState(2)
	stop := func() bool { return false }
	done := make(chan error, 1)
	go func() { _, err := h.halt(0, stop); done <- err }()
	for {
		h.mu.Lock()
		n := h.halted
		h.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := h.halt(1, stop); !errors.Is(err, errDeadlock) {
		t.Fatalf("second halt: %v, want deadlock", err)
	}
	h.wakeCPU(0, Waker{CPU: 1})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWakesKeepTheirOrder: a CPU woken, then left a token by a second
// wake before it runs, is told the first wake, and its next halt the
// second.
func TestWakesKeepTheirOrder(t *testing.T) {
	h := newHaltState(3)
	done := make(chan Waker, 1)
	go func() {
		w, err := h.halt(0, func() bool { return false })
		if err != nil {
			t.Error(err)
		}
		done <- w
	}()
	for {
		h.mu.Lock()
		n := h.halted
		h.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	h.wakeCPU(0, Waker{CPU: 1, Exits: 1})
	h.wakeCPU(0, Waker{CPU: 2, Exits: 2})
	if w := <-done; w != (Waker{CPU: 1, Exits: 1}) {
		t.Fatalf("first halt woken by %+v, want vCPU 1 at exit 1", w)
	}
	if w, err := h.halt(0, func() bool { return false }); err != nil || w != (Waker{CPU: 2, Exits: 2}) {
		t.Fatalf("second halt: %+v, %v; want vCPU 2 at exit 2", w, err)
	}
}

// TestHaltSeesStop: a halted CPU returns once the run stops.
func TestHaltSeesStop(t *testing.T) {
	h := newHaltState(2)
	var stopped atomic.Bool
	done := make(chan error, 1)
	go func() { _, err := h.halt(0, stopped.Load); done <- err }()
	time.Sleep(10 * time.Millisecond)
	stopped.Store(true)
	h.stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("halt did not see the stop")
	}
}
