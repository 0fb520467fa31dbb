package abi

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
)

const pageSize = 4096

// Image is a validated guest kernel: the bytes of each loadable segment
// and where they go. It is pure data, checked against a memory size and a
// CPU count before anything touches KVM.
type Image struct {
	Entry    uint64
	Segments []Segment
	// End is the first page after the highest segment: the guest heap starts there.
	End uint64
	// Hash identifies the image in recordings.
	Hash [32]byte
}

// Segment is one PT_LOAD segment: Data is copied to Addr and the rest of
// its MemSize is zero.
type Segment struct {
	Addr    uint64
	MemSize uint64
	Data    []byte
	Exec    bool
}

// StackBase is where the CPU stacks start: everything above it is stack.
func StackBase(memSize uint64, cpus int) uint64 {
	return memSize - uint64(cpus)*StackSize
}

// ParseImage reads an x86-64 ELF executable and checks that it fits in
// memSize bytes of RAM beside the stacks of cpus CPUs.
func ParseImage(data []byte, memSize uint64, cpus int) (img *Image, err error) {
	// debug/elf is not hardened against every hostile input; a guest file
	// must never crash the VMM, so a panic in the parser becomes an error.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("guest ELF: malformed file (%v)", r)
		}
	}()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("guest ELF: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("guest ELF: %v %v, want a 64-bit x86-64 executable", f.Class, f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("guest ELF: type %v, want ET_EXEC (a static executable)", f.Type)
	}
	if uint64(cpus)*StackSize >= memSize {
		return nil, fmt.Errorf("guest memory %d bytes cannot hold %d CPU stacks", memSize, cpus)
	}
	limit := StackBase(memSize, cpus)
	img = &Image{Entry: f.Entry, Hash: sha256.Sum256(data)}
	entryOK := false
	for i, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		if p.Filesz > p.Memsz {
			return nil, fmt.Errorf("guest ELF: segment %d: file size %#x exceeds memory size %#x", i, p.Filesz, p.Memsz)
		}
		if p.Paddr < KernelMin || p.Paddr > limit || p.Memsz > limit-p.Paddr {
			return nil, fmt.Errorf("guest ELF: segment %d at %#x+%#x does not fit in guest memory [%#x, %#x) below the CPU stacks",
				i, p.Paddr, p.Memsz, KernelMin, limit)
		}
		buf := make([]byte, p.Filesz)
		if _, err := io.ReadFull(p.Open(), buf); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("guest ELF: segment %d: file is truncated (%d bytes, segment needs offset %#x+%#x)",
					i, len(data), p.Off, p.Filesz)
			}
			return nil, fmt.Errorf("guest ELF: segment %d: %w", i, err)
		}
		seg := Segment{Addr: p.Paddr, MemSize: p.Memsz, Data: buf, Exec: p.Flags&elf.PF_X != 0}
		for _, o := range img.Segments {
			if seg.Addr < o.Addr+o.MemSize && o.Addr < seg.Addr+seg.MemSize {
				return nil, fmt.Errorf("guest ELF: segment %d at %#x overlaps the segment at %#x", i, seg.Addr, o.Addr)
			}
		}
		img.Segments = append(img.Segments, seg)
		if end := alignUp(seg.Addr+seg.MemSize, pageSize); end > img.End {
			img.End = end
		}
		if seg.Exec && f.Entry >= seg.Addr && f.Entry < seg.Addr+seg.MemSize {
			entryOK = true
		}
	}
	if len(img.Segments) == 0 {
		return nil, errors.New("guest ELF: no loadable segments")
	}
	if !entryOK {
		return nil, fmt.Errorf("guest ELF: entry point %#x is not in an executable segment", f.Entry)
	}
	if img.End >= limit {
		return nil, fmt.Errorf("guest ELF: kernel ends at %#x, leaving no heap below the CPU stacks at %#x", img.End, limit)
	}
	return img, nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
