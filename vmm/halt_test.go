package vmm

import (
	"errors"
	"testing"
	"time"
)

func TestWakeBeforeHaltIsKept(t *testing.T) {
	h := newHaltState(2)
	h.wakeCPU(1)
	done := make(chan error, 1)
	go func() { done <- h.halt(1, nil) }()
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
	go func() { done <- h.halt(0, stop) }()
	for {
		h.mu.Lock()
		n := h.halted
		h.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := h.halt(1, stop); !errors.Is(err, errDeadlock) {
		t.Fatalf("second halt: %v, want deadlock", err)
	}
	h.wakeCPU(0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
