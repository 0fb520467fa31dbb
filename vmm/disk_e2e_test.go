package vmm

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/devices/virtio"
)

// makeDisk writes a `vmm disk make` image of size bytes into dir.
func makeDisk(t *testing.T, dir string, size uint64) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("disk-%d.img", size))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := virtio.MakeImage(w, size); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return path
}

// openDisk opens the image at path for one run.
func openDisk(t *testing.T, path string, readOnly bool) *Disk {
	t.Helper()
	d, err := OpenDisk(path, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestDiskWorkloads runs the disk workloads under a plain run on one, two
// and four vCPUs: each checks what it read against the image.
func TestDiskWorkloads(t *testing.T) {
	dir := t.TempDir()
	img := makeDisk(t, dir, 4<<20)
	for _, args := range [][]string{
		{"diskread"}, {"diskread", "2048", "poll"}, {"diskwrite"}, {"diskwrite", "1024", "poll"}, {"diskmix", "100"},
	} {
		for _, cpus := range []int{1, 2, 4} {
			if args[0] == "diskmix" && cpus == 1 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%dcpus", strings.Join(args, "-"), cpus), func(t *testing.T) {
				out, res, err := runGuest(t, Config{CPUs: cpus, Args: args, Disk: openDisk(t, img, false)})
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if res.Status != 0 {
					t.Fatalf("status %d:\n%s", res.Status, out)
				}
			})
		}
	}
	// diskwrite left the image as it found it.
	out, res, err := runGuest(t, Config{CPUs: 2, Args: []string{"diskread", "8192"}, Disk: openDisk(t, img, true)})
	if err != nil || res.Status != 0 {
		t.Fatalf("diskread after diskwrite: %v, %+v\n%s", err, res, out)
	}
}

// interleaving hashes the order of a log's events by kind and actor: two
// recordings with the same hash ordered DMA and CPUs alike.
func interleaving(t *testing.T, path string) (uint64, int) {
	t.Helper()
	r, err := replaylog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := fnv.New64a()
	transfers := 0
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == replaylog.KindDMA {
			transfers++
		}
		fmt.Fprintf(h, "%d/%d/%d;", ev.Kind, ev.VCPU, ev.Page)
	}
	return h.Sum64(), transfers
}

// TestDiskRecordReplay records the disk workloads on two and four vCPUs
// several times and replays each recording without the disk file: the
// same output, exactly, whatever the interleaving of DMA and CPUs.
func TestDiskRecordReplay(t *testing.T) {
	dir := t.TempDir()
	img := makeDisk(t, dir, 2<<20)
	for _, args := range [][]string{{"diskread", "1024"}, {"diskwrite", "512"}, {"diskmix", "50"}} {
		for _, cpus := range []int{2, 4} {
			t.Run(fmt.Sprintf("%s/%dcpus", args[0], cpus), func(t *testing.T) {
				orders := map[uint64]bool{}
				for i := 0; i < 3; i++ {
					rec := record(t, dir, Config{CPUs: cpus, Args: args, Disk: openDisk(t, img, false)})
					if rec.status != 0 {
						t.Fatalf("status %d:\n%s", rec.status, rec.out)
					}
					order, transfers := interleaving(t, rec.path)
					if transfers == 0 {
						t.Fatal("the recording logged no DMA transfer")
					}
					orders[order] = true
					checkReplay(t, rec)
				}
				if len(orders) < 2 {
					t.Errorf("3 recordings ordered DMA and CPUs alike: the device does not race with the vCPUs")
				}
			})
		}
	}
}

// TestDiskTamperedTransfer: a recording whose DMA payload was changed,
// or whose guest gave the device other data, replays to a divergence.
func TestDiskTamperedTransfer(t *testing.T) {
	dir := t.TempDir()
	img := makeDisk(t, dir, 1<<20)
	rec := record(t, dir, Config{CPUs: 2, Args: []string{"diskwrite", "256"}, Disk: openDisk(t, img, false)})
	if rec.status != 0 {
		t.Fatalf("status %d:\n%s", rec.status, rec.out)
	}
	for _, tc := range []struct {
		name string
		edit func(tr *replaylog.DMATransfer) bool
		want string
	}{
		{"written data", func(tr *replaylog.DMATransfer) bool {
			for _, w := range tr.Writes {
				if len(w.Data) >= 512 {
					w.Data[100] ^= 1
					return true
				}
			}
			return false
		}, "diverged"},
		{"read hash", func(tr *replaylog.DMATransfer) bool {
			if len(tr.Reads) == 0 {
				return false
			}
			tr.ReadHash ^= 1
			return true
		}, "hashes to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".log")
			rewrite(t, rec.path, bad, func(e *replaylog.Event) bool {
				if e.Kind != replaylog.KindDMA {
					return false
				}
				tr, err := replaylog.ParseDMATransfer(e.Data, 1<<40)
				if err != nil {
					t.Fatal(err)
				}
				if !tc.edit(tr) {
					return false
				}
				e.Data = tr.Marshal()
				return true
			})
			out, res, err := replayLog(t, bad)
			var div *DivergenceError
			if !errors.As(err, &div) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("replay of a tampered transfer: %v (status %+v)\n%s", err, res, out)
			}
		})
	}
}

// TestDiskConfigErrors: a disk that cannot be opened, and RAM that
// reaches the disk's registers, fail at start.
func TestDiskConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenDisk(filepath.Join(dir, "missing.img"), false); err == nil || !strings.Contains(err.Error(), "--disk") {
		t.Errorf("a missing disk: %v", err)
	}
	small := filepath.Join(dir, "small.img")
	if err := os.WriteFile(small, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDisk(small, false); err == nil || !strings.Contains(err.Error(), "sector") {
		t.Errorf("a disk smaller than a sector: %v", err)
	}
	img := makeDisk(t, dir, 1<<20)
	cfg := Config{CPUs: 1, MemSize: 4 << 30, Image: guest.Kernel, Args: []string{"diskread"}, Disk: openDisk(t, img, true)}
	if m, err := New(cfg); err == nil || !strings.Contains(err.Error(), "registers") {
		if m != nil {
			m.Close()
		}
		t.Errorf("4 GiB of RAM with a disk: %v", err)
	}
}
