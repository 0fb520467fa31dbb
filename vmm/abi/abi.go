package abi

// The guest ABI, mirrored from guest/include/abi.h (prose in guest/ABI.md).
// TestABIMatchesHeader fails when the two drift apart.
const (
	PortSerial     = 0x3f8
	PortSerialLSR  = 0x3fd
	PortHypercall  = 0x500
	SerialLSRReady = 0x60 // the LSR value that says the transmitter is empty

	HCExit        = 1
	HCTime        = 2
	HCHalt        = 3
	HCWake        = 4
	HCConsole     = 5
	HCRegionBegin = 6
	HCRegionEnd   = 7
	HCLabel       = 8

	MaxConsole = 4096
	MaxLabel   = 128

	GDTAddr      = 0x1000
	BootInfoAddr = 0x2000
	PML4Addr     = 0x3000
	KernelMin    = 0x100000
	StackSize    = 0x10000

	BootMagic   = 0x544f4f4257455243
	BootVersion = 1
	MaxArgs     = 32
	ArgsSize    = 2048
	InputOffset = 2352 // offset of input_addr in struct bootinfo

	VirtioBlkAddr  = 0xd0000000 // the virtio-mmio register window of the disk
	VirtioBlkSize  = 0x1000
	VirtioQueueMax = 256 // QueueNumMax of the disk's only queue
	SectorSize     = 512
	DiskSeedMul    = 0x9e3779b97f4a7c15 // vmm disk make's generator (guest/ABI.md, "The disk")
	DiskOutMul     = 0x2545f4914f6cdd1d
)
