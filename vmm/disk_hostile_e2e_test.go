package vmm

import (
	"errors"
	"strings"
	"testing"
)

// TestDiskHostile runs the bad-disk workload's modes, each a guest that
// drives the virtio-blk device wrongly (guest/ABI.md, "The disk"). A
// bad QueueNum or an early notify stops the run with a guest error; a
// chain the device cannot parse sets DEVICE_NEEDS_RESET, which the guest
// sees, and after a reset the guest reads sector 0 again; a bad type or
// sector completes with the status byte the ABI says. The guest exits 0
// when the device did what it should.
func TestDiskHostile(t *testing.T) {
	dir := t.TempDir()
	img := makeDisk(t, dir, 1<<20)
	tests := []struct {
		mode string
		stop string // for a run that must stop: what the error names
		out  string // for one that must finish: what the guest prints
	}{
		{mode: "queue-size", stop: "QueueNum 3"},
		{mode: "early-notify", stop: "queue notify before"},
		{mode: "outside-ram", out: "bad-disk: outside-ram: device needs reset"},
		{mode: "loop", out: "bad-disk: loop: device needs reset"},
		{mode: "ring-outside", out: "bad-disk: ring-outside: device needs reset"},
		{mode: "bad-type", out: "status 2 (UNSUPP)"},
		{mode: "beyond", out: "status 1 (IOERR)"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			out, res, err := runGuest(t, Config{CPUs: 2, Args: []string{"bad-disk", tt.mode}, Disk: openDisk(t, img, false)})
			if tt.stop != "" {
				var ge *GuestError
				if !errors.As(err, &ge) {
					t.Fatalf("got %v (result %+v), want a GuestError\n%s", err, res, out)
				}
				msg := err.Error()
				if !strings.Contains(msg, "virtio-blk") || !strings.Contains(msg, tt.stop) || !strings.Contains(msg, "vCPU 0") {
					t.Errorf("error %q: want it to name vCPU 0, virtio-blk and %q", msg, tt.stop)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if res.Status != 0 || !strings.Contains(out, tt.out) {
				t.Fatalf("status %d, want 0 and output naming %q:\n%s", res.Status, tt.out, out)
			}
		})
	}
}
