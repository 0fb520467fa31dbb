package machine

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/replaylog"
)

// Engine is what makes a run plain, recorded or replayed. The machine
// core calls it at each point where those modes differ and nowhere
// else, so a mode lives in one package (vmm/engine/...) instead of in
// checks spread over the core. Every method but Start, Stop and End runs
// on the thread of the vCPU it names.
type Engine interface {
	// Start is called once by Run before any vCPU enters the guest.
	Start(m *Machine) error
	// BeforeEnter runs before each KVM_RUN of v. Returning false ends
	// v's thread without ending the run (with ErrDone, or nil).
	BeforeEnter(v *VCPU) (enter bool, err error)
	// AfterRun sees the errno of each KVM_RUN first and may replace it:
	// a recording moves a kicked vCPU on to a position it can name.
	AfterRun(v *VCPU, errno unix.Errno) unix.Errno
	// Exited is told of each exit the guest caused, once v.Exits()
	// counts it: an exit position every mode agrees on.
	Exited(v *VCPU)
	// Fault serves a KVM_RUN that failed with EFAULT: where the engine
	// enforces CREW on v's view of RAM, a protection fault.
	Fault(v *VCPU) error
	// Halt serves a halt of v (HC_HALT or hlt).
	Halt(v *VCPU) error
	// Input returns the value of a non-deterministic input the guest
	// reads; in.Live is what the device says now.
	Input(v *VCPU, in Input) (uint64, error)
	// Report handles an event the guest reports about itself (test
	// regions and labels): a recording logs it, a replay checks it.
	Report(v *VCPU, ev replaylog.Event, what string) error
	// GuestExit handles HC_EXIT with the guest's status; an engine
	// ends the run with Machine.Finish when it is complete.
	GuestExit(v *VCPU, status int) error
	// Stop is called once the run ends, while the vCPU threads are
	// still leaving: the engine lets go of anything that waits.
	Stop()
	// End is called after every vCPU thread has ended, when the run has
	// no error: a recording logs the final state, a replay checks it.
	End() error
	// DMA is how the disk's device thread reaches guest memory; nil
	// when the engine performs the disk's transfers itself (a replay,
	// from the log), and the machine then runs no device thread.
	DMA() DMA
}

// Input is one non-deterministic input: the kind of log event that
// carries it (replaylog.KindClock, KindTSC or KindMMIORead), for a TSC
// the instruction (replaylog.TSCInsn*), for an MMIO read its
// guest-physical address and size, and the live value.
type Input struct {
	Kind replaylog.Kind
	Insn uint64
	Addr uint64
	Size int
	Live uint64
}

// ErrDone ends one vCPU's thread without ending the run: a replayed
// vCPU at its final position waits for the others.
var ErrDone = errors.New("vCPU at its final position")

// ErrStopping ends a vCPU's handling of an exit because the run is over.
var ErrStopping = errors.New("run stopping")
