// Package abi is the VMM's side of the guest ABI (guest/ABI.md): the
// ports, hypercall numbers and boot addresses that guest/include/abi.h
// defines for the guest, the ELF image the VMM loads, and the boot
// information and registers each vCPU starts with. It is pure data and
// functions over bytes, so a bad image is refused before anything
// touches KVM; TestABIMatchesHeader keeps it in step with the header.
package abi
