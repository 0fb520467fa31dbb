// Package guest carries the built-in guest kernel (freestanding C, built by
// guest/Makefile) so that `vmm` runs without any file beside it.
package guest

import _ "embed"

// Kernel is the built-in guest's ELF image; ABI.md says what it expects.
//
//go:embed build/kernel.elf
var Kernel []byte
