// Package devices holds the guest's devices: the serial console, the
// hypercall port and the paravirtual clock (guest/ABI.md), and later the
// virtio block device. Each takes I/O in (a port access, a hypercall's
// registers) and gives effects out (bytes written, a decoded call with
// its arguments checked against guest RAM); none touches KVM, CREW or
// the log. What a device reads from outside the guest (the time) is not
// read here but handed to the machine core's engine, the one seam where
// a recording logs an input and a replay feeds it back.
package devices
