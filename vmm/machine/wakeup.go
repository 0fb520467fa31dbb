package machine

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wakeup is the signal a vCPU's thread gives a holder waiting for it to
// leave the guest (Hold), with a timeout that the kernel keeps. It is a
// futex and not a channel with a timer: while the vCPU threads sit in
// KVM_RUN, which holds their Go processors until the runtime's monitor
// takes them back, a Go timer of 200 us fired 1 to 2 ms late here, and
// every kick a recording made paid for it (BENCHMARKS.md section 2b).
type wakeup struct{ word atomic.Uint32 }

// reset forgets an earlier post, before a holder starts waiting.
func (w *wakeup) reset() { w.word.Store(0) }

// post wakes the waiter, or lets its next wait return at once.
func (w *wakeup) post() {
	if w.word.Swap(1) == 0 {
		futex(&w.word, futexWakePrivate, 1, nil)
	}
}

// wait waits up to d for a post and says whether one came; it consumes
// the post.
func (w *wakeup) wait(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if w.word.Swap(0) == 1 {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		ts := unix.NsecToTimespec(left.Nanoseconds())
		// Returns on a post, at the timeout, on a signal, or at once
		// when the word is no longer 0: each is looked at again above.
		futex(&w.word, futexWaitPrivate, 0, &ts)
	}
}

// The futex operations (linux/futex.h), private to this process.
const (
	futexWaitPrivate = 0 | 128
	futexWakePrivate = 1 | 128
)

func futex(word *atomic.Uint32, op int, val uint32, ts *unix.Timespec) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), uintptr(op), uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
}
