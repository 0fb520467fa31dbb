package x86

import (
	"slices"
	"testing"
)

// Register values the decode tests share; gprRBX etc. index them.
const (
	tRAX = 0x10
	tRCX = 0x2000
	tRBX = 0x1000
	tRSP = 0x8000
	tRBP = 0x9000
	tRSI = 0x3000
	tRDI = 0x4000
	tR8  = 0x5000
	tRIP = 0x100000

	tFS  = 0x7f00_0000_0000
	tGS  = 0x7e00_0000_0000
	tGDT = 0xffff_fe00_0000_0000
	tLDT = 0xffff_fe00_0001_0000
)

func decodeCPU() *CPU {
	cpu := &CPU{FSBase: tFS, GSBase: tGS, GDTBase: tGDT, GDTLimit: 0xff, LDTBase: tLDT, LDTLimit: 0x7ff}
	cpu.RIP = tRIP
	cpu.GPR[gprRAX], cpu.GPR[gprRCX], cpu.GPR[gprRBX] = tRAX, tRCX, tRBX
	cpu.GPR[gprRSP], cpu.GPR[gprRBP], cpu.GPR[gprRSI], cpu.GPR[gprRDI] = tRSP, tRBP, tRSI, tRDI
	cpu.GPR[8] = tR8
	return cpu
}

func laR(addr, size uint64) LinearAccess {
	return LinearAccess{Addr: addr, Size: size, Kind: KindRead}
}

func laW(addr, size uint64) LinearAccess {
	return LinearAccess{Addr: addr, Size: size, Kind: KindWrite}
}

func laApprox(a LinearAccess) LinearAccess {
	a.Approximate = true
	return a
}

func laSup(a LinearAccess) LinearAccess {
	a.Supervisor = true
	return a
}

// decodeCase is one instruction, optional register changes and the
// accesses it must report.
type decodeCase struct {
	name string
	code []byte
	want []LinearAccess
	regs func(*CPU)
}

func runDecodeCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cpu := decodeCPU()
			if tc.regs != nil {
				tc.regs(cpu)
			}
			inst, got, err := DecodeAccesses(tc.code, cpu)
			if err != nil {
				t.Fatal(err)
			}
			if inst.Len != len(tc.code) {
				t.Errorf("Len = %d, want %d", inst.Len, len(tc.code))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestDecodeAccessesPorted holds the cases of vmm's TestDecodeAccesses.
func TestDecodeAccessesPorted(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "mov rax, [rbx]", code: []byte{0x48, 0x8b, 0x03}, want: []LinearAccess{laR(0x1000, 8)}},
		{name: "mov [rbx], rax", code: []byte{0x48, 0x89, 0x03}, want: []LinearAccess{laW(0x1000, 8)}},
		{name: "mov [rcx+rax*8+0x10], eax", code: []byte{0x89, 0x44, 0xc1, 0x10}, want: []LinearAccess{laW(0x2000+0x80+0x10, 4)}},
		{name: "add [r8], al", code: []byte{0x41, 0x00, 0x00}, want: []LinearAccess{laW(0x5000, 1)}},
		{name: "cmp [rbx], rax", code: []byte{0x48, 0x39, 0x03}, want: []LinearAccess{laR(0x1000, 8)}},
		{name: "lock cmpxchg [rbx], rcx", code: []byte{0xf0, 0x48, 0x0f, 0xb1, 0x0b}, want: []LinearAccess{laW(0x1000, 8)}},
		{name: "mov eax, [rip+0x100]", code: []byte{0x8b, 0x05, 0x00, 0x01, 0x00, 0x00}, want: []LinearAccess{laR(0x100006+0x100, 4)}},
		{name: "mov rax, [ebx] (addr32)", code: []byte{0x67, 0x48, 0x8b, 0x03}, want: []LinearAccess{laR(0x1000, 8)}},
		{name: "push rax", code: []byte{0x50}, want: []LinearAccess{laW(0x7ff8, 8)}},
		{name: "pop rax", code: []byte{0x58}, want: []LinearAccess{laR(0x8000, 8)}},
		{name: "call rbx", code: []byte{0xff, 0xd3}, want: []LinearAccess{laW(0x7ff8, 8)}},
		{name: "call [rbx]", code: []byte{0xff, 0x13}, want: []LinearAccess{laW(0x7ff8, 8), laR(0x1000, 8)}},
		{name: "ret", code: []byte{0xc3}, want: []LinearAccess{laR(0x8000, 8)}},
		{name: "rep movsb", code: []byte{0xf3, 0xa4}, want: []LinearAccess{laR(0x3000, 1), laW(0x4000, 1)}},
		{name: "rep stosq", code: []byte{0xf3, 0x48, 0xab}, want: []LinearAccess{laW(0x4000, 8)}},
		{name: "movdqa xmm0, [rsi]", code: []byte{0x66, 0x0f, 0x6f, 0x06}, want: []LinearAccess{laR(0x3000, 16)}},
		{name: "movdqa [rdi], xmm0", code: []byte{0x66, 0x0f, 0x7f, 0x07}, want: []LinearAccess{laW(0x4000, 16)}},
		{name: "lea rax, [rbx+8]", code: []byte{0x48, 0x8d, 0x43, 0x08}},
		{name: "xchg [rbx], rax", code: []byte{0x48, 0x87, 0x03}, want: []LinearAccess{laW(0x1000, 8)}},
		// vmm's decoder refused FS-relative operands; here FSBase is added.
		{name: "mov rax, fs:[rbx]", code: []byte{0x64, 0x48, 0x8b, 0x03}, want: []LinearAccess{laR(tFS+0x1000, 8)}},
	})
	for _, bad := range [][]byte{{0x0f}, {0x48}, {0xff, 0xff}, nil} {
		if _, _, err := DecodeAccesses(bad, decodeCPU()); err == nil {
			t.Errorf("% x decoded", bad)
		}
	}
}

func TestDecodeExplicitOperands(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "test [rbx], eax", code: []byte{0x85, 0x03}, want: []LinearAccess{laR(0x1000, 4)}},
		{name: "mov eax, [rip-0x100]", code: []byte{0x8b, 0x05, 0x00, 0xff, 0xff, 0xff}, want: []LinearAccess{laR(0x100006-0x100, 4)}},
		{name: "mov rax, [rbp-0x1000] (disp32 is signed)", code: []byte{0x48, 0x8b, 0x85, 0x00, 0xf0, 0xff, 0xff}, want: []LinearAccess{laR(0x8000, 8)}},
		{name: "mov eax, [rax*4-0x80000000]", code: []byte{0x8b, 0x04, 0x85, 0x00, 0x00, 0x00, 0x80}, want: []LinearAccess{laR(0xffff_ffff_8000_0040, 4)}},
		{name: "mov eax, [ebx+ecx*2-1]", code: []byte{0x67, 0x8b, 0x44, 0x4b, 0xff}, want: []LinearAccess{laR(0x4fff, 4)}},
		{name: "mov rax, [ebx] truncates", code: []byte{0x67, 0x48, 0x8b, 0x03}, want: []LinearAccess{laR(0x1000, 8)},
			regs: func(c *CPU) { c.GPR[gprRBX] = 0xdead_beef_0000_1000 }},
		{name: "mov eax, [eip+0x10]", code: []byte{0x67, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00}, want: []LinearAccess{laR(0x1017, 4)},
			regs: func(c *CPU) { c.RIP = 0x1_0000_1000 }},
		{name: "mov rax, [ebx] at 4 GiB wraps", code: []byte{0x67, 0x48, 0x8b, 0x03},
			want: []LinearAccess{laR(0xffff_fffc, 8), laApprox(laR(0, 4))},
			regs: func(c *CPU) { c.GPR[gprRBX] = 0xffff_fffc }},
		{name: "xadd [rbx], ecx", code: []byte{0x0f, 0xc1, 0x0b}, want: []LinearAccess{laW(0x1000, 4)}},
		{name: "lock xadd [rbx], ecx", code: []byte{0xf0, 0x0f, 0xc1, 0x0b}, want: []LinearAccess{laW(0x1000, 4)}},
		{name: "cmpxchg8b [rbx]", code: []byte{0x0f, 0xc7, 0x0b}, want: []LinearAccess{laW(0x1000, 8)}},
		{name: "lock cmpxchg16b [rbx]", code: []byte{0xf0, 0x48, 0x0f, 0xc7, 0x0b}, want: []LinearAccess{laW(0x1000, 16)}},
		{name: "sete [rbx]", code: []byte{0x0f, 0x94, 0x03}, want: []LinearAccess{laW(0x1000, 1)}},
		{name: "movbe [rbx], eax", code: []byte{0x0f, 0x38, 0xf1, 0x03}, want: []LinearAccess{laW(0x1000, 4)}},
		{name: "mul qword [rbx]", code: []byte{0x48, 0xf7, 0x23}, want: []LinearAccess{laR(0x1000, 8)}},
		{name: "idiv dword [rbx]", code: []byte{0xf7, 0x3b}, want: []LinearAccess{laR(0x1000, 4)}},
		{name: "imul eax, [rbx], 3", code: []byte{0x6b, 0x03, 0x03}, want: []LinearAccess{laR(0x1000, 4)}},
		{name: "not dword [rbx]", code: []byte{0xf7, 0x13}, want: []LinearAccess{laW(0x1000, 4)}},
		{name: "test byte [rbx], 1", code: []byte{0xf6, 0x03, 0x01}, want: []LinearAccess{laR(0x1000, 1)}},
		{name: "movzx eax, word [rbx]", code: []byte{0x0f, 0xb7, 0x03}, want: []LinearAccess{laR(0x1000, 2)}},
		{name: "mov al, [0x1234]", code: []byte{0x8a, 0x04, 0x25, 0x34, 0x12, 0x00, 0x00}, want: []LinearAccess{laR(0x1234, 1)}},
		{name: "movabs al, [0x123456789]", code: []byte{0xa0, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00}, want: []LinearAccess{laR(0x123456789, 1)}},
		{name: "movabs [0x123456789], rax", code: []byte{0x48, 0xa3, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00}, want: []LinearAccess{laW(0x123456789, 8)}},
		{name: "mov eax, [0x87654321] (addr32 moffs)", code: []byte{0x67, 0xa1, 0x21, 0x43, 0x65, 0x87}, want: []LinearAccess{laR(0x87654321, 4)}},
		{name: "mov rax, fs:[0x28]", code: []byte{0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00}, want: []LinearAccess{laR(tFS+0x28, 8)}},
		{name: "lock or byte gs:[rax+8], 1", code: []byte{0x65, 0xf0, 0x80, 0x48, 0x08, 0x01}, want: []LinearAccess{laW(tGS+0x18, 1)}},
		{name: "mov rax, fs:[ebx]", code: []byte{0x64, 0x67, 0x48, 0x8b, 0x03}, want: []LinearAccess{laR(tFS+0x1000, 8)},
			regs: func(c *CPU) { c.GPR[gprRBX] = 0xdead_0000_0000_1000 }},
		{name: "mov fs:[rax], eax", code: []byte{0x64, 0x89, 0x00}, want: []LinearAccess{laW(tFS+0x10, 4)}},
		{name: "ds, es, cs, ss overrides have base 0", code: []byte{0x26, 0x2e, 0x36, 0x3e, 0x8b, 0x03}, want: []LinearAccess{laR(0x1000, 4)}},
		{name: "fs then ignored ds: both", code: []byte{0x64, 0x3e, 0x8b, 0x03},
			want: []LinearAccess{laR(tFS+0x1000, 4), laApprox(laR(0x1000, 4))}},
		{name: "ds then fs: fs", code: []byte{0x3e, 0x64, 0x8b, 0x03}, want: []LinearAccess{laR(tFS+0x1000, 4)}},
	})
}

func TestDecodeNoAccess(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "nop dword [rax]", code: []byte{0x0f, 0x1f, 0x00}},
		{name: "prefetcht0 [rbx]", code: []byte{0x0f, 0x18, 0x0b}},
		{name: "prefetchw [rbx]", code: []byte{0x0f, 0x0d, 0x0b}},
		{name: "endbr64", code: []byte{0xf3, 0x0f, 0x1e, 0xfa}},
		{name: "cldemote [rbx]", code: []byte{0x0f, 0x1c, 0x03}},
		{name: "vzeroupper", code: []byte{0xc5, 0xf8, 0x77}},
		{name: "vzeroall", code: []byte{0xc5, 0xfc, 0x77}},
		{name: "syscall", code: []byte{0x0f, 0x05}},
		{name: "add eax, ebx", code: []byte{0x01, 0xd8}},
		{name: "rdfsbase rax", code: []byte{0xf3, 0x48, 0x0f, 0xae, 0xc0}},
		{name: "mfence", code: []byte{0x0f, 0xae, 0xf0}},
	})
}

// vzeroupper has no ModRM; x86asm reads one, so the next instruction's
// first byte must not be swallowed.
func TestDecodeVzeroupperLength(t *testing.T) {
	for _, code := range [][]byte{{0xc5, 0xf8, 0x77, 0xc3}, {0xc5, 0xf8, 0x77, 0x48, 0x8b, 0x03}, {0xc5, 0xf8, 0x77, 0x90}} {
		inst, acc, err := DecodeAccesses(code, decodeCPU())
		if err != nil || inst.Len != 3 || len(acc) != 0 {
			t.Errorf("% x: len %d, %v, %v", code, inst.Len, acc, err)
		}
	}
}

func TestDecodeCacheLine(t *testing.T) {
	line := []LinearAccess{laR(0x1040, 64)}
	runDecodeCases(t, []decodeCase{
		{name: "clflush [rbx+0x47]", code: []byte{0x0f, 0xae, 0x7b, 0x47}, want: line},
		{name: "clflushopt [rbx+0x47]", code: []byte{0x66, 0x0f, 0xae, 0x7b, 0x47}, want: line},
		{name: "clwb [rbx+0x47]", code: []byte{0x66, 0x0f, 0xae, 0x73, 0x47}, want: line},
	})
}
