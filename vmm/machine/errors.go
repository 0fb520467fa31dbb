package machine

import (
	"fmt"
	"time"

	"github.com/crewvm/crewvm/vmm/kvm"
)

// GuestError is a failure caused by the guest on one vCPU (a triple
// fault, a bad hypercall, an access outside RAM). It carries the vCPU's
// registers because that is the first thing anyone debugging it asks for.
type GuestError struct {
	CPU  int
	Msg  string
	Regs *kvm.Regs
}

func (e *GuestError) Error() string {
	if e.Regs == nil {
		return fmt.Sprintf("vCPU %d: %s", e.CPU, e.Msg)
	}
	return fmt.Sprintf("vCPU %d: %s [%s]", e.CPU, e.Msg, formatRegs(e.Regs))
}

// TimeoutError says the guest did not exit within the --timeout.
type TimeoutError struct {
	After time.Duration
	// Regs holds each vCPU's registers when it was stopped.
	Regs []*kvm.Regs
}

func (e *TimeoutError) Error() string {
	s := fmt.Sprintf("guest did not exit within %v", e.After)
	for i, r := range e.Regs {
		if r != nil {
			s += fmt.Sprintf("; vCPU %d [%s]", i, formatRegs(r))
		}
	}
	return s
}

func formatRegs(r *kvm.Regs) string {
	return fmt.Sprintf("rip=%#x rsp=%#x rflags=%#x rax=%#x rbx=%#x rcx=%#x rdx=%#x rsi=%#x rdi=%#x rbp=%#x r8=%#x r9=%#x r10=%#x r11=%#x r12=%#x r13=%#x r14=%#x r15=%#x",
		r.RIP, r.RSP, r.RFLAGS, r.RAX, r.RBX, r.RCX, r.RDX, r.RSI, r.RDI, r.RBP,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15)
}

// ErrKVMUnavailable says that /dev/kvm cannot be used on this machine.
var ErrKVMUnavailable = kvm.ErrUnavailable
