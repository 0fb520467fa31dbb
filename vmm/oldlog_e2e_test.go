package vmm

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOldRecordingsReplay replays recordings that an earlier VMM made
// (testdata/recordings, written by the binary before the packages were
// split into layers, from the built-in guest of that day), so that a
// change to the VMM cannot silently break the replay of existing logs.
// A change to the built-in guest changes its hash, which the logs name:
// re-record them with `vmm record -o FILE --mem 16M --cpus N WORKLOAD
// ARGS` (the arguments are in each log's header, `vmm log stat`).
func TestOldRecordingsReplay(t *testing.T) {
	logs, err := filepath.Glob("testdata/recordings/*.log")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no recordings in testdata/recordings: %v", err)
	}
	for _, path := range logs {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".log"), func(t *testing.T) {
			out, res, err := replayLogWithin(t, path, time.Minute, 30*time.Second)
			if errors.Is(err, ErrKVMUnavailable) {
				t.Skipf("no KVM: %v", err)
			}
			if err != nil {
				t.Fatalf("replay of a recording made before the change: %v\n%s", err, out)
			}
			if res.Status != 0 {
				t.Errorf("guest status %d, want 0\n%s", res.Status, out)
			}
		})
	}
}
