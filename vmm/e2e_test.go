package vmm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crewvm/crewvm/guest"
)

// runGuest boots the built-in guest on real /dev/kvm and returns its
// console output with the result.
func runGuest(t *testing.T, cfg Config) (string, *Result, error) {
	t.Helper()
	var out bytes.Buffer
	cfg.Console = &out
	if cfg.Image == nil {
		cfg.Image = guest.Kernel
	}
	if cfg.MemSize == 0 {
		cfg.MemSize = 256 << 20
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	m, err := New(cfg)
	if err != nil {
		return "", nil, err
	}
	defer m.Close()
	res, err := m.Run(context.Background())
	return out.String(), res, err
}

func TestHelloEveryCPU(t *testing.T) {
	for _, cpus := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%dcpus", cpus), func(t *testing.T) {
			out, res, err := runGuest(t, Config{CPUs: cpus})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 0 {
				t.Fatalf("status %d, output:\n%s", res.Status, out)
			}
			for i := 0; i < cpus; i++ {
				if want := fmt.Sprintf("cpu %d of %d\n", i, cpus); !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// guestWorkloads lists the built-in workloads that must pass their own check.
func guestWorkloads(t *testing.T) []string {
	out, _, err := runGuest(t, Config{CPUs: 1, Args: []string{"list"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		// fstest needs a test file (fstest_e2e_test.go runs it), the
		// disk workloads a disk (disk_e2e_test.go).
		if len(f) == 0 || strings.HasPrefix(f[0], "bad-") || f[0] == "triple-fault" || f[0] == "spin-forever" || f[0] == "fstest" ||
			strings.HasPrefix(f[0], "disk") {
			continue
		}
		names = append(names, f[0])
	}
	if len(names) < 3 {
		t.Fatalf("guest lists too few workloads:\n%s", out)
	}
	return names
}

func TestEveryWorkloadOnTwoCPUs(t *testing.T) {
	for _, w := range guestWorkloads(t) {
		t.Run(w, func(t *testing.T) {
			out, res, err := runGuest(t, Config{CPUs: 2, Args: []string{w}})
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if res.Status != 0 {
				t.Fatalf("self-check failed, status %d:\n%s", res.Status, out)
			}
		})
	}
}

func TestUnknownWorkloadFails(t *testing.T) {
	out, res, err := runGuest(t, Config{CPUs: 1, Args: []string{"no-such-workload"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 2 || !strings.Contains(out, "unknown workload") {
		t.Fatalf("status %d, output %q", res.Status, out)
	}
}

func TestHostileGuests(t *testing.T) {
	tests := []struct {
		workload string
		want     string
	}{
		{"bad-hypercall", "unknown hypercall 30583"},
		{"bad-address", "outside RAM"},
		{"bad-memory", "not RAM"},
		{"triple-fault", "triple fault"},
	}
	for _, tt := range tests {
		t.Run(tt.workload, func(t *testing.T) {
			_, _, err := runGuest(t, Config{CPUs: 2, Args: []string{tt.workload}})
			var ge *GuestError
			if !errors.As(err, &ge) {
				t.Fatalf("got %v, want a GuestError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, "rip=") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %q with registers", msg, tt.want)
			}
		})
	}
}

func TestTimeoutStopsSpinningGuest(t *testing.T) {
	start := time.Now()
	_, _, err := runGuest(t, Config{CPUs: 2, Args: []string{"spin-forever"}, Timeout: 300 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want a TimeoutError", err)
	}
	if len(te.Regs) != 2 || te.Regs[0] == nil {
		t.Errorf("timeout error lacks registers: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopping took %v", d)
	}
}

func TestBadConfig(t *testing.T) {
	elf := guest.Kernel
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"zero cpus", Config{CPUs: 0, MemSize: 256 << 20, Image: elf}, "--cpus 0"},
		{"not an ELF", Config{CPUs: 1, MemSize: 256 << 20, Image: []byte("#!/bin/sh\necho hi\n")}, "guest ELF"},
		{"truncated ELF", Config{CPUs: 1, MemSize: 256 << 20, Image: elf[:len(elf)/3]}, "guest ELF"},
		{"ELF too big for memory", Config{CPUs: 1, MemSize: 256 << 20, Image: relocated(elf, 0x7ff00000)}, "does not fit"},
		{"no room beside stacks", Config{CPUs: 16, MemSize: 2 << 20, Image: elf}, "does not fit"},
		{"odd memory size", Config{CPUs: 1, MemSize: 3<<20 + 1, Image: elf}, "--mem"},
		{"too many stacks", Config{CPUs: 64, MemSize: 4 << 20, Image: elf}, "stacks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if err == nil {
				m.Close()
				t.Fatal("New accepted a bad configuration")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// relocated returns a copy of an ELF whose first program header is moved
// to physical address addr.
func relocated(elf []byte, addr uint64) []byte {
	b := append([]byte(nil), elf...)
	phoff := binary.LittleEndian.Uint64(b[0x20:])
	binary.LittleEndian.PutUint64(b[phoff+0x18:], addr)
	return b
}
