package x86

import (
	"errors"
	"testing"
)

func TestDecodeStack(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "push r12", code: []byte{0x41, 0x54}, want: []LinearAccess{laW(0x7ff8, 8)}},
		{name: "push 3", code: []byte{0x6a, 0x03}, want: []LinearAccess{laW(0x7ff8, 8)}},
		{name: "pushw 3", code: []byte{0x66, 0x6a, 0x03}, want: []LinearAccess{laW(0x7ffe, 2)}},
		{name: "push [rbx]", code: []byte{0xff, 0x33}, want: []LinearAccess{laW(0x7ff8, 8), laR(0x1000, 8)}},
		{name: "push [rsp]: old RSP", code: []byte{0xff, 0x34, 0x24}, want: []LinearAccess{laW(0x7ff8, 8), laR(0x8000, 8)}},
		{name: "push [rsp+8]", code: []byte{0xff, 0x74, 0x24, 0x08}, want: []LinearAccess{laW(0x7ff8, 8), laR(0x8008, 8)}},
		{name: "pop [rbx]", code: []byte{0x8f, 0x03}, want: []LinearAccess{laR(0x8000, 8), laW(0x1000, 8)}},
		{name: "pop [rsp+8]: RSP after the pop", code: []byte{0x8f, 0x44, 0x24, 0x08}, want: []LinearAccess{laR(0x8000, 8), laW(0x8010, 8)}},
		{name: "pop [rsp]", code: []byte{0x8f, 0x04, 0x24}, want: []LinearAccess{laR(0x8000, 8), laW(0x8008, 8)}},
		{name: "pushw [rbx]", code: []byte{0x66, 0xff, 0x33}, want: []LinearAccess{laW(0x7ffe, 2), laR(0x1000, 2)}},
		{name: "popw [rbx]", code: []byte{0x66, 0x8f, 0x03}, want: []LinearAccess{laR(0x8000, 2), laW(0x1000, 2)}},
		{name: "call [rsp]", code: []byte{0xff, 0x14, 0x24}, want: []LinearAccess{laW(0x7ff8, 8), laR(0x8000, 8)}},
		{name: "call rel32", code: []byte{0xe8, 0xfb, 0x00, 0x00, 0x00}, want: []LinearAccess{laW(0x7ff8, 8)}},
		{name: "jmp [rbx]", code: []byte{0xff, 0x23}, want: []LinearAccess{laR(0x1000, 8)}},
		{name: "jmp rbx", code: []byte{0xff, 0xe3}},
		{name: "push rax (FF /6)", code: []byte{0xff, 0xf0}, want: []LinearAccess{laW(0x7ff8, 8)}},
		{name: "pop rax (8F /0)", code: []byte{0x8f, 0xc0}, want: []LinearAccess{laR(0x8000, 8)}},
		{name: "ret 16", code: []byte{0xc2, 0x10, 0x00}, want: []LinearAccess{laR(0x8000, 8)}},
		{name: "pushfq", code: []byte{0x9c}, want: []LinearAccess{laW(0x7ff8, 8)}},
		{name: "popfq", code: []byte{0x9d}, want: []LinearAccess{laR(0x8000, 8)}},
		{name: "pushfw", code: []byte{0x66, 0x9c}, want: []LinearAccess{laW(0x7ffe, 2)}},
		{name: "push fs", code: []byte{0x0f, 0xa0}, want: []LinearAccess{laW(0x7ff8, 8)}},
		// ENTER also probes the new stack top for a write (AMD).
		{name: "enter 32, 0", code: []byte{0xc8, 0x20, 0x00, 0x00}, want: []LinearAccess{laW(0x7ff8, 8), laW(0x7fd8, 8)}},
		{name: "enter 32, 1", code: []byte{0xc8, 0x20, 0x00, 0x01}, want: []LinearAccess{laW(0x7ff0, 16), laW(0x7fd0, 8)}},
		// Pushes RBP, copies [RBP-8] and [RBP-16], pushes the frame pointer.
		{name: "enter 32, 3", code: []byte{0xc8, 0x20, 0x00, 0x03},
			want: []LinearAccess{laW(0x8000-32, 32), laW(0x7fc0, 8), laR(0x9000-16, 16)}},
		{name: "enter 32, 33 (level mod 32)", code: []byte{0xc8, 0x20, 0x00, 0x21}, want: []LinearAccess{laW(0x7ff0, 16), laW(0x7fd0, 8)}},
		{name: "enter 0, 31", code: []byte{0xc8, 0x00, 0x00, 0x1f},
			want: []LinearAccess{laW(0x8000-32*8, 32*8), laR(0x9000-30*8, 30*8)}},
		{name: "enterw 32, 3", code: []byte{0x66, 0xc8, 0x20, 0x00, 0x03},
			want: []LinearAccess{laW(0x8000-8, 8), laW(0x7fd8, 2), laR(0x9000-4, 4)}},
		{name: "leave", code: []byte{0xc9}, want: []LinearAccess{laR(0x9000, 8)}},
		{name: "leavew", code: []byte{0x66, 0xc9}, want: []LinearAccess{laR(0x9000, 2)}},
	})
}

// BT with a register offset addresses the operand-size unit holding the
// byte at base + (offset >> 3), the offset signed and operand-size wide.
func TestDecodeBitString(t *testing.T) {
	rcx := func(v uint64) func(*CPU) { return func(c *CPU) { c.GPR[gprRCX] = v } }
	runDecodeCases(t, []decodeCase{
		{name: "bt [rbx], rcx=67", code: []byte{0x48, 0x0f, 0xa3, 0x0b}, want: []LinearAccess{laR(0x1008, 8)}, regs: rcx(67)},
		{name: "bt [rbx], rcx=-1", code: []byte{0x48, 0x0f, 0xa3, 0x0b}, want: []LinearAccess{laR(0xff8, 8)}, regs: rcx(1<<64 - 1)},
		{name: "bts [rbx], rcx=-2^63", code: []byte{0x48, 0x0f, 0xab, 0x0b},
			want: []LinearAccess{laW(0xf000_0000_0000_1000, 8)}, regs: rcx(1 << 63)},
		{name: "bts [rbx], rcx=2^63-1", code: []byte{0x48, 0x0f, 0xab, 0x0b},
			want: []LinearAccess{laW(0x1000_0000_0000_0ff8, 8)}, regs: rcx(1<<63 - 1)},
		{name: "btr dword [rbx], ecx=33 (high bits ignored)", code: []byte{0x0f, 0xb3, 0x0b},
			want: []LinearAccess{laW(0x1004, 4)}, regs: rcx(0xffff_ffff_0000_0021)},
		{name: "btr dword [rbx], ecx=-1", code: []byte{0x0f, 0xb3, 0x0b}, want: []LinearAccess{laW(0xffc, 4)}, regs: rcx(0xffff_ffff)},
		{name: "btc word [rbx], cx=-32768", code: []byte{0x66, 0x0f, 0xbb, 0x0b}, want: []LinearAccess{laW(0, 2)}, regs: rcx(0x8000)},
		{name: "bts [ebx], rcx=-256 (addr32 wraps)", code: []byte{0x67, 0x48, 0x0f, 0xab, 0x0b},
			want: []LinearAccess{laW(0xffff_fff0, 8)}, regs: func(c *CPU) { c.GPR[gprRBX], c.GPR[gprRCX] = 0x10, 1<<64-256 }},
		{name: "bt qword [rbx], 70: inside the operand", code: []byte{0x48, 0x0f, 0xba, 0x23, 0x46}, want: []LinearAccess{laR(0x1000, 8)}},
		{name: "bts dword [rbx], 3", code: []byte{0x0f, 0xba, 0x2b, 0x03}, want: []LinearAccess{laW(0x1000, 4)}},
		{name: "bt rax, rcx", code: []byte{0x48, 0x0f, 0xa3, 0xc8}},
	})
}

func TestDecodeSegmentLoads(t *testing.T) {
	gdt := laApprox(laSup(laW(tGDT, 0x100)))
	ldt := laApprox(laSup(laW(tLDT, 0x800)))
	rax := func(v uint64) func(*CPU) { return func(c *CPU) { c.GPR[gprRAX] = v } }
	runDecodeCases(t, []decodeCase{
		{name: "mov ds, ax=0x2b", code: []byte{0x8e, 0xd8}, want: []LinearAccess{laSup(laW(tGDT+0x28, 8))}, regs: rax(0x2b)},
		{name: "mov ds, ax=0x0f (LDT)", code: []byte{0x8e, 0xd8}, want: []LinearAccess{laSup(laW(tLDT+8, 8))}, regs: rax(0x0f)},
		{name: "mov ds, ax=3 (null)", code: []byte{0x8e, 0xd8}, regs: rax(3)},
		{name: "mov es, [rbx]", code: []byte{0x8e, 0x03}, want: []LinearAccess{laR(0x1000, 2), gdt, ldt}},
		{name: "mov [rbx], ds", code: []byte{0x8c, 0x1b}, want: []LinearAccess{laW(0x1000, 2)}},
		{name: "pop fs", code: []byte{0x0f, 0xa1}, want: []LinearAccess{laR(0x8000, 8), gdt, ldt}},
		{name: "lfs eax, [rbx]", code: []byte{0x0f, 0xb4, 0x03}, want: []LinearAccess{laR(0x1000, 6), gdt, ldt}},
		{name: "call far [rbx]", code: []byte{0xff, 0x1b}, want: []LinearAccess{laW(0x7ff0, 16), laR(0x1000, 6), gdt, ldt}},
		{name: "rex.w call far [rbx]", code: []byte{0x48, 0xff, 0x1b}, want: []LinearAccess{laW(0x7ff0, 16), laR(0x1000, 10), gdt, ldt}},
		{name: "jmp far [rbx]", code: []byte{0xff, 0x2b}, want: []LinearAccess{laR(0x1000, 6), gdt, ldt}},
		{name: "retfq", code: []byte{0x48, 0xcb}, want: []LinearAccess{laR(0x8000, 16), gdt, ldt}},
		{name: "iretq", code: []byte{0x48, 0xcf}, want: []LinearAccess{laR(0x8000, 40), gdt, ldt}},
		{name: "lar eax, ecx=0x2b", code: []byte{0x0f, 0x02, 0xc1}, want: []LinearAccess{laSup(laR(tGDT+0x28, 16))},
			regs: func(c *CPU) { c.GPR[gprRCX] = 0x2b }},
		{name: "lsl eax, [rbx]", code: []byte{0x0f, 0x03, 0x03},
			want: []LinearAccess{laR(0x1000, 2), laApprox(laSup(laR(tGDT, 0x100))), laApprox(laSup(laR(tLDT, 0x800)))}},
		{name: "verr cx=0x33", code: []byte{0x0f, 0x00, 0xe1}, want: []LinearAccess{laSup(laR(tGDT+0x30, 8))},
			regs: func(c *CPU) { c.GPR[gprRCX] = 0x33 }},
		{name: "sgdt [rbx]", code: []byte{0x0f, 0x01, 0x03}, want: []LinearAccess{laW(0x1000, 10)}},
		{name: "sidt [rbx]", code: []byte{0x0f, 0x01, 0x0b}, want: []LinearAccess{laW(0x1000, 10)}},
		{name: "sldt [rbx]", code: []byte{0x0f, 0x00, 0x03}, want: []LinearAccess{laW(0x1000, 2)}},
		{name: "str [rbx]", code: []byte{0x0f, 0x00, 0x0b}, want: []LinearAccess{laW(0x1000, 2)}},
		{name: "smsw [rbx]", code: []byte{0x0f, 0x01, 0x23}, want: []LinearAccess{laW(0x1000, 2)}},
	})
	cpu := decodeCPU()
	cpu.GDTBase, cpu.GDTLimit = 0, 0
	if _, _, err := DecodeAccesses([]byte{0x48, 0xcf}, cpu); !errors.Is(err, ErrDescriptorTables) {
		t.Errorf("iretq without a GDT: %v", err)
	}
	cpu.GPR[gprRAX] = 0
	if _, acc, err := DecodeAccesses([]byte{0x8e, 0xd8}, cpu); err != nil || len(acc) != 0 {
		t.Errorf("null selector without a GDT: %v, %v", acc, err)
	}
}
