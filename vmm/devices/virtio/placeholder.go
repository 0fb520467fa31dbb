package virtio

// Placeholder is what a guest reads at off in the disk's window when
// the VMM has no disk (guest/ABI.md, "The disk"): virtio-mmio's
// placeholder, a device ID of 0, so that a driver can probe for the disk
// instead of faulting. It is constant, so a recording need not log it.
func Placeholder(off uint64, size int) uint64 {
	if size != 4 {
		return 0
	}
	switch off {
	case RegMagicValue:
		return MagicValue
	case RegVersion:
		return Version
	}
	return 0
}
