package abi

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestABIMatchesHeader keeps abi.go and guest/include/abi.h in step: every
// #define of the header must have the same value on the Go side.
func TestABIMatchesHeader(t *testing.T) {
	goNames := map[string]uint64{
		"ABI_PORT_SERIAL": PortSerial, "ABI_PORT_SERIAL_LSR": PortSerialLSR,
		"ABI_PORT_HYPERCALL": PortHypercall,
		"HC_EXIT":            HCExit, "HC_TIME": HCTime, "HC_HALT": HCHalt, "HC_WAKE": HCWake,
		"HC_CONSOLE": HCConsole, "HC_REGION_BEGIN": HCRegionBegin, "HC_REGION_END": HCRegionEnd,
		"HC_LABEL": HCLabel, "ABI_MAX_CONSOLE": MaxConsole, "ABI_MAX_LABEL": MaxLabel,
		"ABI_GDT_ADDR": GDTAddr, "ABI_BOOTINFO_ADDR": BootInfoAddr, "ABI_PML4_ADDR": PML4Addr,
		"ABI_KERNEL_MIN": KernelMin, "ABI_STACK_SIZE": StackSize,
		"ABI_BOOT_MAGIC": BootMagic, "ABI_BOOT_VERSION": BootVersion,
		"ABI_MAX_ARGS": MaxArgs, "ABI_ARGS_SIZE": ArgsSize, "ABI_INPUT_OFFSET": InputOffset,
		"ABI_VIRTIO_BLK_ADDR": VirtioBlkAddr, "ABI_VIRTIO_BLK_SIZE": VirtioBlkSize,
		"ABI_VIRTIO_QUEUE_MAX": VirtioQueueMax, "ABI_SECTOR_SIZE": SectorSize,
		"ABI_DISK_SEED_MUL": DiskSeedMul, "ABI_DISK_OUT_MUL": DiskOutMul,
	}
	f, err := os.Open("../../guest/include/abi.h")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] != "#define" {
			continue
		}
		name := fields[1]
		v, err := strconv.ParseUint(strings.TrimSuffix(fields[2], "ULL"), 0, 64)
		if err != nil {
			t.Errorf("abi.h: %s: cannot parse %q", name, fields[2])
			continue
		}
		want, ok := goNames[name]
		if !ok {
			t.Errorf("abi.h defines %s, which vmm/abi/abi.go does not mirror", name)
			continue
		}
		seen[name] = true
		if v != want {
			t.Errorf("%s: abi.h says %#x, abi.go says %#x", name, v, want)
		}
	}
	for name := range goNames {
		if !seen[name] {
			t.Errorf("abi.go mirrors %s, which abi.h does not define", name)
		}
	}
}
