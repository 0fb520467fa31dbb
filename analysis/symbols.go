package analysis

import (
	"bytes"
	"cmp"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Symbols turns guest addresses into names from the guest image: a PC
// into its function and file:line, a data address into a global
// variable down to its struct field and array index (counter.hits,
// fs_inodes[3].nlink) through the DWARF types, or into a labelled object
// (HC_LABEL "struct inode:17") and its field. An image without debug
// information gives function and variable symbols only; one that is not
// ELF gives raw addresses.
type Symbols struct {
	funcs, objects []symbol
	lines          []line
	// types are the DWARF struct, union and typedef types by name
	// ("struct counter", "inode_t").
	types map[string]dwarf.Type
	// vars are the global variables with their DWARF types, by address.
	vars []variable
}

type symbol struct {
	name       string
	addr, size uint64
}

type line struct {
	addr uint64
	file string
	line int
}

type variable struct {
	name       string
	addr, size uint64
	typ        dwarf.Type
}

// NewSymbols reads the symbols of image. The error says what is missing
// (not ELF, no debug information); the Symbols it returns with it still
// work, with what there is.
func NewSymbols(image []byte) (*Symbols, error) {
	s := &Symbols{types: map[string]dwarf.Type{}}
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return s, fmt.Errorf("guest image: %w", err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, sym := range syms {
		e := symbol{name: sym.Name, addr: sym.Value, size: sym.Size}
		switch elf.ST_TYPE(sym.Info) {
		case elf.STT_FUNC:
			s.funcs = append(s.funcs, e)
		case elf.STT_OBJECT:
			s.objects = append(s.objects, e)
		}
	}
	byAddr := func(a, b symbol) int { return cmp.Compare(a.addr, b.addr) }
	slices.SortFunc(s.funcs, byAddr)
	slices.SortFunc(s.objects, byAddr)
	d, err := f.DWARF()
	if err != nil {
		return s, fmt.Errorf("guest image has no debug information (symbols only): %w", err)
	}
	if err := s.readDWARF(d); err != nil {
		return s, fmt.Errorf("guest image's debug information: %w", err)
	}
	return s, nil
}

func (s *Symbols) readDWARF(d *dwarf.Data) error {
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e == nil {
			break
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			s.readLines(d, e)
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagTypedef:
			name, _ := e.Val(dwarf.AttrName).(string)
			if name == "" {
				continue
			}
			t, err := d.Type(e.Offset)
			if err != nil {
				continue
			}
			key := name
			switch e.Tag {
			case dwarf.TagStructType:
				key = "struct " + name
			case dwarf.TagUnionType:
				key = "union " + name
			}
			if _, seen := s.types[key]; !seen || t.Size() > 0 {
				s.types[key] = t
			}
		case dwarf.TagVariable:
			s.readVariable(d, e)
		}
	}
	slices.SortFunc(s.lines, func(a, b line) int { return cmp.Compare(a.addr, b.addr) })
	slices.SortFunc(s.vars, func(a, b variable) int { return cmp.Compare(a.addr, b.addr) })
	return nil
}

// readLines adds a compile unit's line table.
func (s *Symbols) readLines(d *dwarf.Data, cu *dwarf.Entry) {
	lr, err := d.LineReader(cu)
	if err != nil || lr == nil {
		return
	}
	var le dwarf.LineEntry
	for {
		if err := lr.Next(&le); err != nil {
			return // io.EOF, or a damaged table: the lines read so far
		}
		if le.EndSequence || le.File == nil {
			continue
		}
		s.lines = append(s.lines, line{addr: le.Address, file: le.File.Name, line: le.Line})
	}
}

// readVariable adds a global variable whose location is a fixed address
// (DW_OP_addr).
func (s *Symbols) readVariable(d *dwarf.Data, e *dwarf.Entry) {
	name, _ := e.Val(dwarf.AttrName).(string)
	loc, _ := e.Val(dwarf.AttrLocation).([]byte)
	off, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
	if name == "" || len(loc) != 9 || loc[0] != 0x03 || !ok {
		return
	}
	t, err := d.Type(off)
	if err != nil || t.Size() <= 0 {
		return
	}
	s.vars = append(s.vars, variable{name: name, addr: binary.LittleEndian.Uint64(loc[1:]), size: uint64(t.Size()), typ: t})
}

// find returns the entry of a sorted table that covers addr.
func find[T any](table []T, addr uint64, start func(T) uint64, size func(T) uint64) (T, bool) {
	i, _ := slices.BinarySearchFunc(table, addr, func(e T, a uint64) int { return cmp.Compare(start(e), a) })
	for _, j := range []int{i, i - 1} {
		if j >= 0 && j < len(table) && addr >= start(table[j]) && addr-start(table[j]) < max(size(table[j]), 1) {
			return table[j], true
		}
	}
	var zero T
	return zero, false
}

// PC names a code address: "function+0x12 (file.c:34)", with what is
// known of it.
func (s *Symbols) PC(pc uint64) string {
	var b strings.Builder
	if f, ok := find(s.funcs, pc, func(e symbol) uint64 { return e.addr }, func(e symbol) uint64 { return e.size }); ok {
		fmt.Fprintf(&b, "%s+%#x", f.name, pc-f.addr)
	} else {
		fmt.Fprintf(&b, "%#x", pc)
	}
	i, _ := slices.BinarySearchFunc(s.lines, pc, func(l line, a uint64) int { return cmp.Compare(l.addr, a) })
	if i < len(s.lines) && s.lines[i].addr == pc || i > 0 {
		if i == len(s.lines) || s.lines[i].addr != pc {
			i--
		}
		l := s.lines[i]
		fmt.Fprintf(&b, " (%s:%d)", l.file[strings.LastIndexByte(l.file, '/')+1:], l.line)
	}
	return b.String()
}

// Data names a data address: a labelled object and its field, a global
// variable and its field, a symbol plus offset, or the address in hex.
func (s *Symbols) Data(addr uint64, labels []Label) string {
	for _, l := range labels {
		if addr < l.Addr || addr-l.Addr >= l.Len {
			continue
		}
		typ, _, _ := strings.Cut(l.Name, ":")
		if t, ok := s.types[typ]; ok {
			return l.Name + fieldPath(t, addr-l.Addr)
		}
		return fmt.Sprintf("%s+%#x", l.Name, addr-l.Addr)
	}
	if v, ok := find(s.vars, addr, func(e variable) uint64 { return e.addr }, func(e variable) uint64 { return e.size }); ok {
		return v.name + fieldPath(v.typ, addr-v.addr)
	}
	if o, ok := find(s.objects, addr, func(e symbol) uint64 { return e.addr }, func(e symbol) uint64 { return e.size }); ok {
		if addr == o.addr {
			return o.name
		}
		return fmt.Sprintf("%s+%#x", o.name, addr-o.addr)
	}
	return fmt.Sprintf("%#x", addr)
}

// fieldPath names the byte at offset off in a value of type t:
// ".field", "[index]" and so on down to a scalar, then "+off" for a byte
// inside it.
func fieldPath(t dwarf.Type, off uint64) string {
	var b strings.Builder
	for depth := 0; t != nil && depth < 32; depth++ {
		switch tt := t.(type) {
		case *dwarf.TypedefType:
			t = tt.Type
		case *dwarf.QualType:
			t = tt.Type
		case *dwarf.StructType:
			t = nil
			for _, f := range tt.Field {
				size := uint64(max(f.Type.Size(), 1))
				if off >= uint64(f.ByteOffset) && off-uint64(f.ByteOffset) < size {
					b.WriteString("." + f.Name)
					off -= uint64(f.ByteOffset)
					t = f.Type
					break
				}
			}
		case *dwarf.ArrayType:
			elem := uint64(max(tt.Type.Size(), 1))
			fmt.Fprintf(&b, "[%d]", off/elem)
			off %= elem
			t = tt.Type
		default:
			t = nil
		}
	}
	if off != 0 {
		fmt.Fprintf(&b, "+%#x", off)
	}
	return b.String()
}

// In names what lies in [lo, hi): the objects that overlap it (one that
// begins below lo as name+offset), or, where there are none, the
// functions that begin in it, as "name()". vmm diff names a CREW page
// with it.
func (s *Symbols) In(lo, hi uint64) []string {
	var out []string
	i, _ := slices.BinarySearchFunc(s.objects, lo, func(e symbol, a uint64) int { return cmp.Compare(e.addr, a) })
	if i > 0 && s.objects[i-1].addr+s.objects[i-1].size > lo {
		i--
	}
	for ; i < len(s.objects) && s.objects[i].addr < hi; i++ {
		name := s.objects[i].name
		if s.objects[i].addr < lo {
			name = fmt.Sprintf("%s+%#x", name, lo-s.objects[i].addr)
		}
		out = append(out, name)
	}
	if len(out) > 0 {
		return out
	}
	j, _ := slices.BinarySearchFunc(s.funcs, lo, func(e symbol, a uint64) int { return cmp.Compare(e.addr, a) })
	for ; j < len(s.funcs) && s.funcs[j].addr < hi; j++ {
		out = append(out, s.funcs[j].name+"()")
	}
	return out
}

// Lookup returns the symbol that covers addr and its start, or "" and 0:
// the symbol lookup x86asm's disassembly takes.
func (s *Symbols) Lookup(addr uint64) (string, uint64) {
	for _, table := range [][]symbol{s.objects, s.funcs} {
		if e, ok := find(table, addr, func(e symbol) uint64 { return e.addr }, func(e symbol) uint64 { return e.size }); ok {
			return e.name, e.addr
		}
	}
	return "", 0
}
