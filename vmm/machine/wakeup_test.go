package machine

import (
	"testing"
	"time"
)

func TestWakeup(t *testing.T) {
	var w wakeup
	start := time.Now()
	if w.wait(2 * time.Millisecond) {
		t.Fatal("a wait with no post says it was posted")
	}
	if d := time.Since(start); d < 2*time.Millisecond {
		t.Fatalf("the wait returned after %v, before its timeout", d)
	}
	w.post()
	if !w.wait(time.Hour) {
		t.Fatal("a post before the wait was lost")
	}
	if w.wait(time.Millisecond) {
		t.Fatal("one post was consumed twice")
	}
	w.post()
	w.reset()
	if w.wait(time.Millisecond) {
		t.Fatal("a post before reset was kept")
	}
	done := make(chan bool)
	go func() { done <- w.wait(time.Hour) }()
	time.Sleep(time.Millisecond)
	w.post()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("the waiter was not told of the post")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a post did not wake the waiter")
	}
}
