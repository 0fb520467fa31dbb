package x86

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestDecodeSIMD(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "movups xmm1, [rbx+1]", code: []byte{0x0f, 0x10, 0x4b, 0x01}, want: []LinearAccess{laR(0x1001, 16)}},
		{name: "movntdq [rdi], xmm0", code: []byte{0x66, 0x0f, 0xe7, 0x07}, want: []LinearAccess{laW(0x4000, 16)}},
		{name: "movnti [rdi], rax", code: []byte{0x48, 0x0f, 0xc3, 0x07}, want: []LinearAccess{laW(0x4000, 8)}},
		{name: "maskmovdqu: [rdi]", code: []byte{0x66, 0x0f, 0xf7, 0xc1}, want: []LinearAccess{laW(0x4000, 16)}},
		{name: "addr32 maskmovdqu: [edi]", code: []byte{0x67, 0x66, 0x0f, 0xf7, 0xc1}, want: []LinearAccess{laW(0x4000, 16)},
			regs: func(c *CPU) { c.GPR[gprRDI] |= 0xff_0000_0000 }},
		{name: "fs maskmovdqu", code: []byte{0x64, 0x66, 0x0f, 0xf7, 0xc1}, want: []LinearAccess{laW(tFS+0x4000, 16)}},
		{name: "maskmovq: [rdi]", code: []byte{0x0f, 0xf7, 0xc1}, want: []LinearAccess{laW(0x4000, 8)}},
		{name: "vmaskmovdqu: [rdi]", code: []byte{0xc5, 0xf9, 0xf7, 0xc1}, want: []LinearAccess{laW(0x4000, 16)}},
		{name: "vmovdqu ymm0, [rsi]", code: []byte{0xc5, 0xfe, 0x6f, 0x06}, want: []LinearAccess{laR(0x3000, 32)}},
		{name: "vmovdqu [rdi], ymm0", code: []byte{0xc5, 0xfe, 0x7f, 0x07}, want: []LinearAccess{laW(0x4000, 32)}},
		// x86asm decodes VEX RIP-relative operands as absolute.
		{name: "vmovdqu ymm0, [rip+0x100]", code: []byte{0xc5, 0xfe, 0x6f, 0x05, 0x00, 0x01, 0x00, 0x00},
			want: []LinearAccess{laR(tRIP+8+0x100, 32)}},
		{name: "vmovdqu ymm0, [rip-0x100]", code: []byte{0xc5, 0xfe, 0x6f, 0x05, 0x00, 0xff, 0xff, 0xff},
			want: []LinearAccess{laR(tRIP+8-0x100, 32)}},
		// x86asm refuses VEX after segment and address-size prefixes.
		{name: "vmovdqu ymm0, fs:[rsi]", code: []byte{0x64, 0xc5, 0xfe, 0x6f, 0x06}, want: []LinearAccess{laR(tFS+0x3000, 32)}},
		{name: "vmovdqu ymm0, [esi]", code: []byte{0x67, 0xc5, 0xfe, 0x6f, 0x06}, want: []LinearAccess{laR(0x3000, 32)},
			regs: func(c *CPU) { c.GPR[gprRSI] |= 0x77_0000_0000 }},
		{name: "vmovdqu ymm0, gs:[eip+0x10]", code: []byte{0x65, 0x67, 0xc5, 0xfe, 0x6f, 0x05, 0x10, 0x00, 0x00, 0x00},
			want: []LinearAccess{laR(tGS+tRIP+10+0x10, 32)}},
		{name: "vmovntdq [rdi], ymm0", code: []byte{0xc5, 0xfd, 0xe7, 0x07}, want: []LinearAccess{laW(0x4000, 32)}},
		{name: "vmovdqu32 zmm0, [rsi+0x40] (disp8*64)", code: []byte{0x62, 0xf1, 0x7e, 0x48, 0x6f, 0x46, 0x01}, want: []LinearAccess{laR(0x3040, 64)}},
		{name: "vmovdqu32 [rdi+0x40]{k1}, zmm0", code: []byte{0x62, 0xf1, 0x7e, 0x49, 0x7f, 0x47, 0x01}, want: []LinearAccess{laW(0x4040, 64)}},
		{name: "vmovdqu8 zmm0{k1}{z}, [rsi-0x80]", code: []byte{0x62, 0xf1, 0x7f, 0xc9, 0x6f, 0x46, 0xfe}, want: []LinearAccess{laR(0x2f80, 64)}},
		{name: "vfmadd231pd zmm0, zmm1, [rsi+r8*2+0x1000]", code: []byte{0x62, 0xb2, 0xf5, 0x48, 0xb8, 0x44, 0x46, 0x40},
			want: []LinearAccess{laR(0x3000+0xa000+0x1000, 64)}},
		{name: "vbroadcastss ymm0, [rsi]", code: []byte{0xc4, 0xe2, 0x7d, 0x18, 0x06}, want: []LinearAccess{laR(0x3000, 4)}},
		{name: "vaddps zmm0, zmm1, [rsi]{1to16}", code: []byte{0x62, 0xf1, 0x74, 0x58, 0x58, 0x06}, want: []LinearAccess{laR(0x3000, 4)}},
		{name: "vpmovqb [rdi], zmm0", code: []byte{0x62, 0xf2, 0x7e, 0x48, 0x32, 0x07}, want: []LinearAccess{laW(0x4000, 8)}},
		{name: "vextracti128 [rdi], ymm0, 1", code: []byte{0xc4, 0xe3, 0x7d, 0x39, 0x07, 0x01}, want: []LinearAccess{laW(0x4000, 16)}},
		{name: "vmaskmovps [rdi], ymm0, ymm1", code: []byte{0xc4, 0xe2, 0x7d, 0x2e, 0x0f}, want: []LinearAccess{laW(0x4000, 32)}},
		{name: "vmaskmovps ymm1, ymm0, [rsi]", code: []byte{0xc4, 0xe2, 0x7d, 0x2c, 0x0e}, want: []LinearAccess{laR(0x3000, 32)}},
		{name: "kmovq [rdi], k1", code: []byte{0xc4, 0xe1, 0xf8, 0x91, 0x0f}, want: []LinearAccess{laW(0x4000, 8)}},
	})
}

func putDwords(r *[64]byte, v ...int32) {
	for i, x := range v {
		binary.LittleEndian.PutUint32(r[4*i:], uint32(x))
	}
}

func putQwords(r *[64]byte, v ...int64) {
	for i, x := range v {
		binary.LittleEndian.PutUint64(r[8*i:], uint64(x))
	}
}

// Gathers and scatters touch one element per enabled mask bit, at
// base + sign-extended index * scale + disp.
func TestDecodeGatherScatter(t *testing.T) {
	vec := func(f func(v *VectorRegs)) func(*CPU) {
		return func(c *CPU) { c.Vector = &VectorRegs{}; f(c.Vector) }
	}
	const sign = -0x8000_0000
	runDecodeCases(t, []decodeCase{
		{name: "vpgatherdd ymm0, [rbx+ymm1*4+8], ymm2", code: []byte{0xc4, 0xe2, 0x6d, 0x90, 0x44, 0x8b, 0x08},
			want: []LinearAccess{laR(0x1008, 4), laR(0x100c, 4), laR(0x1004, 4), laR(0x1198, 4),
				laR(0x2_0000_1004, 4), laR(0xffff_fffe_0000_1008, 4)},
			regs: vec(func(v *VectorRegs) {
				putDwords(&v.ZMM[1], 0, 1, -1, 100, 0x7fff_ffff, sign, 2, 3)
				putDwords(&v.ZMM[2], sign, sign, sign, sign, sign, sign, 0x7fff_ffff, 0) // sign bits: 6 on
			})},
		{name: "vpgatherqq ymm0, [rbx+ymm1*8], ymm2", code: []byte{0xc4, 0xe2, 0xed, 0x91, 0x04, 0xcb},
			want: []LinearAccess{laR(0x1000-8, 8), laR(0x1000+8<<40, 8)},
			regs: vec(func(v *VectorRegs) {
				putQwords(&v.ZMM[1], -1, 1<<40, 5, 6)
				putQwords(&v.ZMM[2], -1, -1, 0, 1)
			})},
		{name: "vpgatherdd zmm0{k1}, [rbx+zmm1*4]", code: []byte{0x62, 0xf2, 0x7d, 0x49, 0x90, 0x04, 0x8b},
			want: []LinearAccess{laR(0x1000, 4), laR(0x1000+4*15, 4)},
			regs: vec(func(v *VectorRegs) {
				putDwords(&v.ZMM[1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
				v.K[1] = 1 | 1<<15
			})},
		{name: "vgatherdpd zmm0{k1}, [rbx+ymm1*8]", code: []byte{0x62, 0xf2, 0xfd, 0x49, 0x92, 0x04, 0xcb},
			want: []LinearAccess{laR(0x1000+8*7, 8), laR(0x1000-8*2, 8)},
			regs: vec(func(v *VectorRegs) {
				putDwords(&v.ZMM[1], 0, 1, 2, 3, 4, 5, 7, -2)
				v.K[1] = 0xc0
			})},
		{name: "vpscatterqd [rbx+zmm1*4]{k1}, ymm0", code: []byte{0x62, 0xf2, 0x7d, 0x49, 0xa1, 0x04, 0x8b},
			want: []LinearAccess{laW(0x1000+4*3, 4), laW(0x1000-4*9, 4)},
			regs: vec(func(v *VectorRegs) {
				putQwords(&v.ZMM[1], 3, 0, 0, 0, 0, 0, 0, -9)
				v.K[1] = 0x81
			})},
	})
	if _, _, err := DecodeAccesses([]byte{0xc4, 0xe2, 0x6d, 0x90, 0x44, 0x8b, 0x08}, decodeCPU()); !errors.Is(err, ErrVectorRegs) {
		t.Errorf("gather without vector registers: %v", err)
	}
}
