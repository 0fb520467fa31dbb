package vmm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOldRecordingsReplay replays recordings that an earlier VMM made
// (testdata/recordings, written by the binary before the packages were
// split into layers), each with the guest image it was recorded with,
// kept beside it as guest-HASH.elf (the built-in guest changes with its
// workloads), so that a change to the VMM cannot silently break the
// replay of existing logs. A new recording goes there with its guest:
// `vmm record -o FILE --mem 16M --cpus N WORKLOAD ARGS` and
// guest/build/kernel.elf. A recording replays only on the kind of
// processor it was made on (ErrHostMismatch; the guest reads CPUID
// natively on AMD hosts), so each is kept from an Intel and an AMD host
// (-amd.log); on a host like neither, both skip.
func TestOldRecordingsReplay(t *testing.T) {
	logs, err := filepath.Glob("testdata/recordings/*.log")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no recordings in testdata/recordings: %v", err)
	}
	images := map[[32]byte][]byte{}
	elfs, _ := filepath.Glob("testdata/recordings/*.elf")
	for _, path := range elfs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		images[sha256.Sum256(b)] = b
	}
	for _, path := range logs {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".log"), func(t *testing.T) {
			cfg := replayConfig(t, path)
			hash := cfg.Replay.Header().GuestHash
			image, ok := images[hash]
			if !ok {
				t.Fatalf("no guest image in testdata/recordings has the hash %x that the log names", hash[:8])
			}
			var out bytes.Buffer
			cfg.Image, cfg.Console, cfg.Timeout, cfg.SeekTimeout = image, &out, time.Minute, 30*time.Second
			m, err := New(cfg)
			if errors.Is(err, ErrKVMUnavailable) {
				t.Skipf("no KVM: %v", err)
			}
			if errors.Is(err, ErrHostMismatch) {
				t.Skipf("cannot replay here: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			res, err := m.Run(context.Background())
			if err != nil {
				t.Fatalf("replay of a recording made before the change: %v\n%s", err, out.String())
			}
			if res.Status != 0 {
				t.Errorf("guest status %d, want 0\n%s", res.Status, out.String())
			}
		})
	}
}
