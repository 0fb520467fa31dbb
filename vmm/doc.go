// Package vmm is the machine: it boots a guest on KVM with one VM per
// vCPU, runs the vCPU threads and their exit loop, dispatches exits to
// the devices, and records or replays the run with CREW (DESIGN.md).
//
// # Layers
//
// Each package below vmm knows one thing and nothing above it:
//
//	vmm/kvm       /dev/kvm: host, VMs, vCPUs, slots, debug, dirty log, kicks
//	vmm/guestmem  guest RAM: the memfd and each vCPU's protected view of it
//	vmm/x86       instructions, page walks, boot tables, CPUID (pure)
//	vmm/abi       the guest ABI: constants, ELF image, boot information (pure)
//	vmm/devices   console, hypercall port, clock: I/O in, effects out
//	crew, replaylog  the ownership protocol and the log format (no KVM)
//
// The command line lives in tools/ (one package per subcommand);
// vmm/cmd/vmm only dispatches to them.
//
// # A CREW fault, file by file
//
//  1. machine.go, vcpuLoop: KVM_RUN (kvm/kvm.go, VCPU.Run) fails with
//     EFAULT because the vCPU's view of RAM (guestmem/view.go) lacks the
//     right the instruction needs.
//  2. Recording: crewfault.go, recordFault, decodes the instruction and
//     walks the guest's page tables (footprint.go over x86.Analyze) to
//     learn the pages it wants; crewrec.go, recordTransition, asks crew
//     for the transition, stops each holder whose rights shrink at an
//     exit or at a state position (a kick: kvm.VCPU.Kick; settle.go makes
//     it a seekable one), changes the protections (View.Protect) and
//     logs the transition with its orderings (replaylog).
//  3. Replay: replay.go's dispatcher turns the logged transition into
//     queue items, one for the faulting vCPU and one per reduction of
//     another's rights, at the position where it was made; crewfault.go,
//     replayFault, serves the reductions due, decodes the same way, and
//     waits (replay.go, expect and passed) until the orderings are met.
//     A reduction at a state position is reached by seek.go, which
//     patches a jump to an in-guest matcher (matcher*.go) over the
//     instructions there.
//
// # A hypercall, file by file
//
//  1. The guest writes RAX to abi.PortHypercall. Hardware KVM exits with
//     KVM_EXIT_IO (exits.go, handleIO); PVM raises #GP, which arrives as
//     a shutdown exit that trap.go decodes (x86.DecodeTrapped) and
//     completes.
//  2. exits.go, hypercall: devices.DecodeHypercall checks the call
//     against the ABI and guest RAM, and the machine carries it out:
//     console bytes to devices.Console, a halt or wake to halt.go.
//  3. What the guest reads from outside passes one seam, record.go: the
//     clock (devices.Clock) and a trapped rdtsc are logged when
//     recording and fed from the log when replaying; what the guest
//     reports (exit status, regions, labels) is logged or checked.
package vmm
