package devices

import "time"

// Clock is the paravirtual clock behind HC_TIME and the virtual
// time-stamp counter of a trapped rdtsc: nanoseconds since boot, so 1 GHz.
// Its reading is a non-deterministic input: the machine core hands it to
// the engine, which logs it when recording and replaces it when replaying.
type Clock struct{ start time.Time }

// Start sets the clock to zero now.
func (c *Clock) Start() { c.start = time.Now() }

// Now is the time since Start, in nanoseconds.
func (c *Clock) Now() uint64 { return uint64(time.Since(c.start)) }

// Elapsed is the time since Start.
func (c *Clock) Elapsed() time.Duration { return time.Since(c.start) }
