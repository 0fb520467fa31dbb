package machine

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestWakeBeforeHaltIsKept(t *testing.T) {
	h := newHaltState(2)
	h.wakeCPU(1, Waker{CPU: 0, Exits: 7})
	done := make(chan error, 1)
	go func() {
		w, err := h.halt(1, nil)
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
	stop := make(chan struct{})
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
