// Package machine is the VMM's core: it boots a guest on KVM with one VM
// per vCPU over one memfd of RAM, runs the vCPU threads and their exit
// loop, dispatches exits to the devices, and keeps vCPUs out of the guest
// while another thread holds them (Hold). It knows nothing of recording
// or replaying: at each point where those modes differ it calls an
// Engine (engine.go), and each mode is one package under vmm/engine.
// What a host's KVM lets it trap is measured at start-up (hostcaps.go).
package machine
