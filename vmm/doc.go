// Package vmm is the VMM as a library: one Config, and a Machine that
// runs a guest on the machine core with the engine of its mode, plain,
// recording (RecordTo) or replaying (Config.Replay). The subcommands in
// tools/ use it; vmm/cmd/vmm only dispatches to them.
//
// # Layers
//
// Each package knows one thing and nothing above it:
//
//	vmm                   Config, New, Run: picks the engine (this package)
//	vmm/engine/run        the plain engine
//	vmm/engine/record     the recording engine: inputs, wakes, CREW transitions, final state
//	vmm/engine/replay     the replay engine: log dispatch, orderings, seeking, checks;
//	                      trace mode (trace.go) steps traced vCPUs for the analyses
//	vmm/engine/crewview   CREW on the vCPUs' views: rights, fault footprints, positions
//	vmm/engine/matcher    in-guest conditional breakpoints for seeking (pure)
//	vmm/machine           the core: vCPU threads, exit loop, device dispatch, halts, holds
//	vmm/devices           console, hypercall port, clock: I/O in, effects out
//	vmm/guestmem          guest RAM: the memfd and each vCPU's protected view of it
//	vmm/kvm               /dev/kvm: host, VMs, vCPUs, slots, debug, dirty log, kicks
//	vmm/x86, vmm/abi      instructions, page walks, boot tables, CPUID; the guest ABI (pure)
//	crew, replaylog       the ownership protocol and the log format (no KVM)
//	analysis              what a trace-mode replay feeds: trace, sharing, symbols (no KVM)
//
// The core calls one interface, machine.Engine, at each point where the
// modes differ: before entering the guest, after each KVM_RUN and each
// exit, on a protection fault, for a halt, for each input from outside,
// for what the guest reports, at its exit and at the end. A mode is one
// package behind that interface. Trace replay is replay's own mode
// (engine/replay/trace.go): it differs from replay only in how a vCPU
// runs between the events, which replay's hooks already decide.
//
// # A CREW fault, file by file
//
//  1. machine/machine.go, vcpuLoop: KVM_RUN (kvm/kvm.go, VCPU.Run) fails
//     with EFAULT because the vCPU's view of RAM (guestmem/view.go) lacks
//     the right the instruction needs; the core counts the exit and
//     calls Engine.Fault.
//  2. Recording: engine/record/crew.go, Fault, decodes the instruction
//     and walks the guest's page tables (engine/crewview/footprint.go,
//     Wanted, over x86.Analyze) to learn the pages it wants; transition
//     asks crew for the transition, holds each vCPU whose rights shrink
//     (machine/vcpu.go, Hold: at its own exit, or kicked, and then
//     engine/record/settle.go moves it to a seekable instruction), names
//     where it stands (crew.go, position), changes the protections
//     (crewview/views.go, Set) and logs the transition with its
//     orderings (replaylog).
//  3. Replay: engine/replay/dispatch.go turns the logged transition into
//     queue items, one for the faulting vCPU and one per reduction of
//     another's rights, at the position where it was made;
//     engine/replay/fault.go serves the reductions due, decodes the same
//     way, and waits (queue.go, expect and passed) until the orderings
//     are met. A reduction at a state position is reached by
//     engine/replay/seek.go, which patches a jump to an in-guest matcher
//     (engine/matcher) over the instructions there.
//
// # A hypercall, file by file
//
//  1. The guest writes RAX to abi.PortHypercall. Hardware KVM exits with
//     KVM_EXIT_IO (machine/exits.go, handleIO); PVM raises #GP, which
//     arrives as a shutdown exit that machine/trap.go decodes
//     (x86.DecodeTrapped) and completes.
//  2. machine/exits.go, hypercall: devices.DecodeHypercall checks the
//     call against the ABI and guest RAM, and the core carries it out:
//     console bytes to devices.Console, a wake to machine/halt.go.
//  3. What differs by mode goes to the engine: a halt (Engine.Halt), the
//     clock and a trapped rdtsc (Engine.Input: live, logged by
//     engine/record/record.go, or fed from the log by
//     engine/replay/replay.go), what the guest reports (Engine.Report,
//     logged or checked) and its exit (Engine.GuestExit).
package vmm
