// Package crewview is CREW on the vCPUs' views of RAM, the part the
// record and replay engines share (DESIGN.md section 4,
// crew/HOSTFACTS.md): every vCPU's own mapping of RAM carries that
// vCPU's rights, so touching a page beyond them makes its KVM_RUN fail
// with EFAULT at the instruction. This package keeps those rights and
// the protections in step, decodes a faulting instruction into the pages
// it wants, hashes what a vCPU owns, and numbers positions. Which
// transition to make, and when, is package crew's; logging it is the
// record engine's, and following the log the replay engine's.
package crewview

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"

	"github.com/zeebo/xxh3"
	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/guestmem"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Views is the CREW state of a multiprocessor record or replay: crew's
// state machine and each vCPU's rights as its view enforces them.
type Views struct {
	st    *crew.State
	gran  uint64
	mem   *guestmem.Memory
	views []*guestmem.View
	// rights are each vCPU's rights per page. A vCPU's own thread
	// changes its rights; another changes them only while it holds the
	// vCPU out of the guest (machine.Hold).
	rights [][]crew.Rights
	// crcHash hashes owned pages as logs before format 1.6 did.
	crcHash bool
	*Names
}

// Names maps crew's state positions back to the log positions they
// stand for, per vCPU, so that a constraint on one can be logged, or
// sought, in full.
type Names struct {
	states []map[crew.Pos]replaylog.Position
}

// NewNames returns an empty map for cpus vCPUs.
func NewNames(cpus int) *Names {
	n := &Names{states: make([]map[crew.Pos]replaylog.Position, cpus)}
	for i := range n.states {
		n.states[i] = map[crew.Pos]replaylog.Position{}
	}
	return n
}

// New makes every page Concurrent-Read in every vCPU's view of m's RAM,
// the state package crew starts from, with CREW pages of gran bytes (0:
// 4 KiB).
func New(m *machine.Machine, gran uint64) (*Views, error) {
	if gran == 0 {
		gran = machine.PageSize
	}
	memSize := m.Config().MemSize
	if gran%machine.PageSize != 0 || gran&(gran-1) != 0 {
		return nil, fmt.Errorf("--granularity %d: must be a power of two multiple of 4 KiB", gran)
	}
	if memSize%gran != 0 {
		return nil, fmt.Errorf("--granularity %d does not divide --mem %d", gran, memSize)
	}
	cpus := m.VCPUs()
	st, err := crew.ForMemory(m.Actors(), memSize, gran)
	if err != nil {
		return nil, err
	}
	k := &Views{st: st, gran: gran, mem: m.Memory(), Names: NewNames(m.Actors())}
	for i := range m.Actors() {
		rights := make([]crew.Rights, st.Pages())
		for p := range rights {
			rights[p] = crew.ReadOnly
		}
		k.rights = append(k.rights, rights)
		if i >= len(cpus) {
			// The DMA actor: its rights are bookkeeping, its accesses
			// go through the engine (record's Transfer).
			k.views = append(k.views, nil)
			continue
		}
		v := cpus[i].View()
		k.views = append(k.views, v)
		if err := v.Protect(0, uint64(len(v.Bytes())), unix.PROT_READ); err != nil {
			return nil, fmt.Errorf("vCPU %d: %w", i, err)
		}
	}
	return k, nil
}

// WantedRange lists the pages of guest-physical [gpa, gpa+n) on which
// actor needs more rights for an access of kind: what the DMA actor
// takes before it reads or writes guest memory. The range is in RAM.
func (k *Views) WantedRange(actor int, gpa, n uint64, kind crew.Kind) []Want {
	need := crew.ReadOnly
	if kind == crew.Write {
		need = crew.ReadWrite
	}
	var out []Want
	for p := gpa / k.gran; n > 0 && p <= (gpa+n-1)/k.gran; p++ {
		if k.rights[actor][p] < need {
			out = append(out, Want{Page: int(p), Kind: kind})
		}
	}
	return out
}

// State is package crew's state machine for the run.
func (k *Views) State() *crew.State { return k.st }

// Prot is the host protection of cpu's view at guest address addr.
func (k *Views) Prot(cpu int, addr uint64) int { return hostProt(k.rights[cpu][addr/k.gran]) }

// hostProt is the host protection that gives rights r.
func hostProt(r crew.Rights) int {
	switch r {
	case crew.ReadWrite:
		return unix.PROT_READ | unix.PROT_WRITE
	case crew.ReadOnly:
		return unix.PROT_READ
	}
	return unix.PROT_NONE
}

// Set changes cpu's rights on page in its own view.
func (k *Views) Set(cpu, page int, r crew.Rights) error {
	if k.rights[cpu][page] == r {
		return nil
	}
	if k.views[cpu] == nil {
		k.rights[cpu][page] = r
		return nil
	}
	if err := k.views[cpu].Protect(k.st.Addr(page), k.gran, hostProt(r)); err != nil {
		if errors.Is(err, unix.ENOMEM) {
			return fmt.Errorf("vCPU %d: %w (vm.max_map_count is too low for this many protected ranges: raise it with sysctl or use a larger --granularity)", cpu, err)
		}
		return fmt.Errorf("vCPU %d: %w", cpu, err)
	}
	k.rights[cpu][page] = r
	return nil
}

// PageBytes is CREW page page of RAM.
func (k *Views) PageBytes(page int) []byte {
	a := k.st.Addr(page)
	return k.mem.Host()[a : a+k.gran]
}

// OwnedHashVersion makes OwnedHash hash as the given format minor
// version of replaylog did: a replay follows its log's.
func (k *Views) OwnedHashVersion(minor uint16) { k.crcHash = minor < 6 }

// OwnedHash hashes the pages cpu may write (it owns them exclusively):
// with its registers, what a state position compares. It is the sum
// over those pages of a hash of each page's number and bytes: xxh3,
// which hashes a page some twenty times faster than CRC-64 did (the
// hash is on the path of every kick), summed so that the pages can be
// taken in any order and one page's change accounted for alone.
func (k *Views) OwnedHash(cpu int) uint64 {
	if k.crcHash {
		return k.ownedCRC(cpu)
	}
	var sum uint64
	for p, r := range k.rights[cpu] {
		if r == crew.ReadWrite {
			sum += PageHash(uint64(p), k.PageBytes(p))
		}
	}
	return sum
}

// PageHash is one page's part of an owned hash: its bytes' xxh3, mixed
// with its number (a splitmix64 finaliser) so that equal pages at two
// places count differently.
func PageHash(page uint64, b []byte) uint64 {
	x := xxh3.Hash(b) ^ page*0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// ownedCRC is OwnedHash before format 1.6: CRC-64 over each owned
// page's number and bytes, in page order.
func (k *Views) ownedCRC(cpu int) uint64 {
	h := crc64.New(crcTable)
	var idx [8]byte
	for p, r := range k.rights[cpu] {
		if r != crew.ReadWrite {
			continue
		}
		binary.LittleEndian.PutUint64(idx[:], uint64(p))
		h.Write(idx[:])
		a := k.st.Addr(p)
		h.Write(k.mem.Host()[a : a+k.gran])
	}
	return h.Sum64()
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// Owned calls f with each run of pages cpu owns exclusively, as the
// guest-physical range [lo, hi), adjacent pages merged, in address order.
func (k *Views) Owned(cpu int, f func(lo, hi uint64)) {
	var lo, hi uint64
	for p, r := range k.rights[cpu] {
		if r != crew.ReadWrite {
			continue
		}
		a := k.st.Addr(p)
		if hi != a || hi == 0 {
			if hi != 0 {
				f(lo, hi)
			}
			lo = a
		}
		hi = a + k.gran
	}
	if hi != 0 {
		f(lo, hi)
	}
}

// Name remembers the log position of cpu's state position p, which a
// constraint on it names in full.
func (n *Names) Name(cpu int, p crew.Pos, at replaylog.Position) { n.states[cpu][p] = at }

// Position turns a crew position of cpu back into a log position.
func (n *Names) Position(cpu int, p crew.Pos) replaylog.Position {
	if p&(1<<SeqBits-1) == 0 {
		return replaylog.ExitPos(uint64(p) >> SeqBits)
	}
	return n.states[cpu][p]
}
