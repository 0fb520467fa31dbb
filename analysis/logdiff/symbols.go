package logdiff

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"slices"

	"golang.org/x/arch/x86/x86asm"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/replaylog"
)

// maxPageSymbols bounds the symbols a PageView lists.
const maxPageSymbols = 8

// symbolizer names what events point at: the functions at the RIPs of
// state positions, the instructions there and the data they access, and
// the objects in a CREW page. Without an image it gives raw addresses.
type symbolizer struct {
	syms     *analysis.Symbols
	loads    []segment
	labels   []analysis.Label
	pageSize uint64
}

// segment is a PT_LOAD program header with its file bytes.
type segment struct {
	vaddr, paddr, memsz uint64
	data                []byte
}

// loadSymbols finds the guest image of header h (or takes image) and
// reads its symbols. The string says where the names come from or, when
// there are none, why; the symbolizer is never nil.
func loadSymbols(h *replaylog.Header, image []byte) (*symbolizer, string) {
	s := &symbolizer{pageSize: uint64(h.PageSize)}
	from := "the image given"
	if image == nil {
		var err error
		if image, from, err = guest.Recorded(h.Guest, "", h.GuestHash); err != nil {
			s.syms, _ = analysis.NewSymbols(nil)
			return s, "raw addresses: " + err.Error()
		}
	} else if err := guest.Matches(image, from, h.GuestHash); err != nil {
		s.syms, _ = analysis.NewSymbols(nil)
		return s, "raw addresses: " + err.Error()
	}
	syms, err := analysis.NewSymbols(image)
	s.syms = syms
	how := "symbols from " + from
	if err != nil {
		how = fmt.Sprintf("%s (%v)", how, err)
	}
	s.readELF(image)
	return s, how
}

// readELF reads the loaded segments, for the code at a RIP; an image
// that is not ELF has none.
func (s *symbolizer) readELF(image []byte) {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p.Open(), int64(min(p.Filesz, 64<<20))))
		if err != nil {
			data = nil
		}
		s.loads = append(s.loads, segment{vaddr: p.Vaddr, paddr: p.Paddr, memsz: p.Memsz, data: data})
	}
}

// addLabel remembers a label event's range, which names memory better
// than the symbol table does (HC_LABEL "struct inode:17").
func (s *symbolizer) addLabel(e *replaylog.Event) {
	l := analysis.Label{Addr: e.Addr, Len: e.Len, Name: e.Name}
	if e.Len > 0 && len(s.labels) < 1<<16 && !slices.Contains(s.labels, l) {
		s.labels = append(s.labels, l)
	}
}

// virt turns a guest-physical address into the image's virtual one, by
// the loaded segments; addresses outside them are taken as identity
// mapped, as the built-in guest is.
func (s *symbolizer) virt(gpa uint64) uint64 {
	for _, l := range s.loads {
		if gpa >= l.paddr && gpa-l.paddr < l.memsz {
			return gpa - l.paddr + l.vaddr
		}
	}
	return gpa
}

// code returns up to 15 bytes of the image at virtual address va.
func (s *symbolizer) code(va uint64) []byte {
	for _, l := range s.loads {
		if va >= l.vaddr && va-l.vaddr < uint64(len(l.data)) {
			off := va - l.vaddr
			return l.data[off:min(uint64(len(l.data)), off+15)]
		}
	}
	return nil
}

// page names CREW page p: the objects and labels in it, those touched
// (by the instructions where vCPUs were stopped) first.
func (s *symbolizer) page(p uint64, touched []string) *PageView {
	gpa := p * s.pageSize
	pv := &PageView{Page: p, GPA: gpa, Symbols: []string{}, Touched: touched}
	lo := s.virt(gpa)
	hi := lo + s.pageSize
	for _, l := range s.labels {
		if l.Addr < hi && l.Addr+l.Len > lo && !slices.Contains(pv.Symbols, l.Name) {
			pv.Symbols = append(pv.Symbols, l.Name)
		}
	}
	for _, n := range s.syms.In(lo, hi) {
		if !slices.Contains(pv.Symbols, n) {
			pv.Symbols = append(pv.Symbols, n)
		}
	}
	if len(pv.Symbols) > maxPageSymbols {
		pv.More = len(pv.Symbols) - maxPageSymbols
		pv.Symbols = pv.Symbols[:maxPageSymbols]
	}
	return pv
}

// stop describes a vCPU stopped at state position pos.
func (s *symbolizer) stop(actor string, pos replaylog.Position) Stop {
	rip := pos.Regs.RIP
	st := Stop{Actor: actor, Pos: pos.String(), RIP: rip, Where: s.syms.PC(rip)}
	if src := s.code(rip); len(src) > 0 {
		if inst, err := x86asm.Decode(src, 64); err == nil {
			st.Insn = x86asm.IntelSyntax(inst, rip, s.syms.Lookup)
		}
	}
	return st
}

// accesses returns the data addresses the instruction at rip names with
// a RIP-relative or absolute memory operand.
func (s *symbolizer) accesses(rip uint64) []uint64 {
	src := s.code(rip)
	if len(src) == 0 {
		return nil
	}
	inst, err := x86asm.Decode(src, 64)
	if err != nil {
		return nil
	}
	var out []uint64
	for _, a := range inst.Args {
		m, ok := a.(x86asm.Mem)
		if !ok || m.Segment == x86asm.FS || m.Segment == x86asm.GS {
			continue
		}
		switch {
		case m.Base == x86asm.RIP && m.Index == 0:
			out = append(out, rip+uint64(inst.Len)+uint64(m.Disp))
		case m.Base == 0 && m.Index == 0:
			out = append(out, uint64(m.Disp))
		}
	}
	return out
}

// touched names the data in page p that the instructions at the RIPs of
// the positions access.
func (s *symbolizer) touched(p uint64, rips []uint64) []string {
	lo := s.virt(p * s.pageSize)
	var out []string
	for _, rip := range rips {
		for _, addr := range s.accesses(rip) {
			if addr >= lo && addr-lo < s.pageSize {
				if n := s.syms.Data(addr, s.labels); !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
	}
	return out
}
