package x86

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Instructions x86asm does not know or decodes wrongly, which the
// package's encoding parser covers.
func TestDecodeFallbackExact(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "movdir64b rax, [rsi]", code: []byte{0x66, 0x0f, 0x38, 0xf8, 0x06}, want: []LinearAccess{laR(0x3000, 64), laW(0x10, 64)}},
		{name: "movdir64b eax, [esi]", code: []byte{0x67, 0x66, 0x0f, 0x38, 0xf8, 0x06}, want: []LinearAccess{laR(0x3000, 64), laW(0x10, 64)},
			regs: func(c *CPU) { c.GPR[gprRAX] |= 0x5_0000_0000 }},
		{name: "enqcmd rdi, [rsi]", code: []byte{0xf2, 0x0f, 0x38, 0xf8, 0x3e}, want: []LinearAccess{laR(0x3000, 64), laW(0x4000, 64)}},
		{name: "movdiri [rdi], rax", code: []byte{0x48, 0x0f, 0x38, 0xf9, 0x07}, want: []LinearAccess{laW(0x4000, 8)}},
		{name: "movdiri [rdi], eax", code: []byte{0x0f, 0x38, 0xf9, 0x07}, want: []LinearAccess{laW(0x4000, 4)}},
		{name: "adcx rax, [rsi]", code: []byte{0x66, 0x48, 0x0f, 0x38, 0xf6, 0x06}, want: []LinearAccess{laR(0x3000, 8)}},
		{name: "adox eax, [rsi]", code: []byte{0xf3, 0x0f, 0x38, 0xf6, 0x06}, want: []LinearAccess{laR(0x3000, 4)}},
		{name: "adcx rax, rbx", code: []byte{0x66, 0x48, 0x0f, 0x38, 0xf6, 0xc3}},
		{name: "clzero: the line at [rax]", code: []byte{0x0f, 0x01, 0xfc}, want: []LinearAccess{laW(0x1200, 64)},
			regs: func(c *CPU) { c.GPR[gprRAX] = 0x1234 }},
		{name: "monitor: [rax]", code: []byte{0x0f, 0x01, 0xc8}, want: []LinearAccess{laR(0x10, 1)}},
		{name: "umonitor rdi", code: []byte{0xf3, 0x0f, 0xae, 0xf7}, want: []LinearAccess{laR(0x4000, 1)}},
		{name: "cmpbexadd [rdi], ebx, ecx", code: []byte{0xc4, 0xe2, 0x71, 0xe6, 0x1f}, want: []LinearAccess{laW(0x4000, 4)}},
		{name: "cmpbexadd [rdi], rbx, rcx", code: []byte{0xc4, 0xe2, 0xf1, 0xe6, 0x1f}, want: []LinearAccess{laW(0x4000, 8)}},
		{name: "ldtilecfg [rsi]", code: []byte{0xc4, 0xe2, 0x78, 0x49, 0x06}, want: []LinearAccess{laR(0x3000, 64)}},
		{name: "sttilecfg [rdi]", code: []byte{0xc4, 0xe2, 0x79, 0x49, 0x07}, want: []LinearAccess{laW(0x4000, 64)}},
		{name: "tilerelease", code: []byte{0xc4, 0xe2, 0x78, 0x49, 0xc0}},
		{name: "ptwrite qword [rsi] (x86asm: xsave64)", code: []byte{0xf3, 0x48, 0x0f, 0xae, 0x26}, want: []LinearAccess{laR(0x3000, 8)}},
		{name: "ptwrite dword [rsi]", code: []byte{0xf3, 0x0f, 0xae, 0x26}, want: []LinearAccess{laR(0x3000, 4)}},
		{name: "rstorssp [rsi]", code: []byte{0xf3, 0x0f, 0x01, 0x2e}, want: []LinearAccess{laW(0x3000, 8)}},
		{name: "wrssq [rdi], rax", code: []byte{0x48, 0x0f, 0x38, 0xf6, 0x07}, want: []LinearAccess{laW(0x4000, 8)}},
		{name: "uiret", code: []byte{0xf3, 0x0f, 0x01, 0xec}, want: []LinearAccess{laR(0x8000, 24)}},
		{name: "aesenc256kl xmm0, [rsi]", code: []byte{0xf3, 0x0f, 0x38, 0xde, 0x06}, want: []LinearAccess{laR(0x3000, 64)}},
		{name: "serialize", code: []byte{0x0f, 0x01, 0xe8}},
		{name: "rdpid rax", code: []byte{0xf3, 0x0f, 0xc7, 0xf8}},
	})
}

func TestDecodeFallbackApproximate(t *testing.T) {
	rows := func(base, stride uint64, k Kind) []LinearAccess {
		var acc []LinearAccess
		for i := uint64(0); i < 16; i++ {
			acc = append(acc, laApprox(LinearAccess{Addr: base + i*stride, Size: 64, Kind: k}))
		}
		return acc
	}
	var disp8 []LinearAccess // EVEX disp8 = 2, scaled by an unknown N
	for n := uint64(1); n <= 64; n *= 2 {
		disp8 = append(disp8, laApprox(laW(0x3000+2*n, 64)))
	}
	runDecodeCases(t, []decodeCase{
		// x86asm decodes EVEX map 5 as map 1: vaddph would be vaddps.
		{name: "vaddph zmm0, zmm1, [rsi]", code: []byte{0x62, 0xf5, 0x74, 0x48, 0x58, 0x06}, want: []LinearAccess{laApprox(laW(0x3000, 64))}},
		{name: "vaddph zmm0, zmm1, [rsi+0x80]", code: []byte{0x62, 0xf5, 0x74, 0x48, 0x58, 0x46, 0x02}, want: disp8},
		{name: "vmovsh xmm0, [rip+0x20]", code: []byte{0x62, 0xf5, 0x7e, 0x08, 0x10, 0x05, 0x20, 0x00, 0x00, 0x00},
			want: []LinearAccess{laApprox(laW(tRIP+10+0x20, 64))}},
		{name: "tileloadd tmm0, [rsi+rcx*2+0x10]", code: []byte{0xc4, 0xe2, 0x7b, 0x4b, 0x44, 0x4e, 0x10},
			want: rows(0x3010, 0x4000, KindRead)},
		{name: "tilestored [rdi+rbx*1], tmm1", code: []byte{0xc4, 0xe2, 0x7a, 0x4b, 0x0c, 0x1f},
			want: rows(0x4000, 0x1000, KindWrite)},
		{name: "aadd [rdi], eax (unknown to x86asm)", code: []byte{0x0f, 0x38, 0xfc, 0x07}, want: []LinearAccess{laApprox(laW(0x4000, 64))}},
		{name: "fs aadd [rdi], eax", code: []byte{0x64, 0x0f, 0x38, 0xfc, 0x07}, want: []LinearAccess{laApprox(laW(tFS+0x4000, 64))}},
		{name: "XOP vpcmov xmm0, xmm0, [rsi], xmm1", code: []byte{0x8f, 0xe8, 0x78, 0xa2, 0x06, 0x10},
			want: []LinearAccess{laApprox(laW(0x3000, 64))}},
	})
}

// An unknown immediate size leaves the length unknown, and a VEX
// register form touches no memory.
func TestDecodeFallbackUnknownLength(t *testing.T) {
	inst, acc, err := DecodeAccesses([]byte{0xc4, 0xe7, 0x7b, 0xf8, 0xc0, 0x01, 0x00, 0x00, 0x00}, decodeCPU())
	if err != nil || inst.Len != 0 || inst.Op != 0 || len(acc) != 0 {
		t.Errorf("got %v, %v, %v", inst, acc, err)
	}
	dec, err := decodeInst([]byte{0xc4, 0xe7, 0x7b, 0xf8, 0x05, 0x00, 0x01, 0x00, 0x00, 0x11}, decodeCPU())
	want := []LinearAccess{laApprox(laW(tRIP+9+0x100, 68))}
	if err != nil || !dec.approx || len(dec.acc) != 1 || dec.acc[0] != want[0] {
		t.Errorf("RIP-relative with an unknown immediate: %+v, %v", dec, err)
	}
}

func TestDecodeUnmodelled(t *testing.T) {
	for _, code := range [][]byte{
		{0x0f, 0x01, 0xd7},       // enclu
		{0xf3, 0x0f, 0xc7, 0xf0}, // senduipi rax
		{0xf3, 0x0f, 0x01, 0xea}, // saveprevssp
	} {
		if _, _, err := DecodeAccesses(code, decodeCPU()); !errors.Is(err, ErrUnmodelled) {
			t.Errorf("% x: %v, want ErrUnmodelled", code, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		msg  []string
	}{
		{"truncated", []byte{0x48, 0x8b}, []string{"48 8b", "x86asm", "truncated instruction"}},
		{"66 before VEX", []byte{0x66, 0xc5, 0xfe, 0x6f, 0x06}, []string{"66 c5 fe 6f 06", "before VEX"}},
		{"APX REX2", []byte{0xd5, 0x00, 0x8b, 0x03}, []string{"d5 00 8b 03", "x86asm"}},
		{"unknown register form", []byte{0x0f, 0x38, 0xfc, 0xc0}, []string{"0f 38 fc c0", "without a memory operand"}},
		{"too long", append(bytes.Repeat([]byte{0x66}, 15), 0x90),
			[]string{"longer than 15 bytes"}},
		{"mov to test register (x86asm only)", []byte{0x0f, 0x26, 0x00}, []string{"0f 26 00", "does not parse"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeAccesses(tc.code, decodeCPU())
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if de.RIP != tRIP {
				t.Errorf("RIP = %#x", de.RIP)
			}
			for _, m := range tc.msg {
				if !strings.Contains(de.Error(), m) {
					t.Errorf("%q lacks %q", de.Error(), m)
				}
			}
		})
	}
}

// A gather x86asm refuses (here: with k0 as its mask) cannot be guessed:
// its addresses come from a vector register.
func TestDecodeFallbackVectorIndex(t *testing.T) {
	_, _, err := DecodeAccesses([]byte{0x62, 0xf2, 0x7d, 0x48, 0x90, 0x04, 0x8b}, decodeCPU())
	var de *DecodeError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "vector index") {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeErrorUnwraps(t *testing.T) {
	_, _, err := DecodeAccesses([]byte{0x48, 0x8b}, decodeCPU())
	if !errors.Is(err, errTruncated) {
		t.Errorf("err = %v, want it to wrap errTruncated", err)
	}
}
