package x86

import "testing"

func TestDecodeStrings(t *testing.T) {
	df := func(c *CPU) { c.RFLAGS |= 1 << 10 }
	noCount := func(c *CPU) { c.GPR[gprRCX] = 0 }
	addr32 := func(c *CPU) {
		c.GPR[gprRSI] |= 0xaaaa_0000_0000_0000
		c.GPR[gprRDI] |= 0xbbbb_0000_0000_0000
	}
	runDecodeCases(t, []decodeCase{
		{name: "movsb", code: []byte{0xa4}, want: []LinearAccess{laR(0x3000, 1), laW(0x4000, 1)}},
		{name: "movsw", code: []byte{0x66, 0xa5}, want: []LinearAccess{laR(0x3000, 2), laW(0x4000, 2)}},
		{name: "movsd", code: []byte{0xa5}, want: []LinearAccess{laR(0x3000, 4), laW(0x4000, 4)}},
		{name: "movsq", code: []byte{0x48, 0xa5}, want: []LinearAccess{laR(0x3000, 8), laW(0x4000, 8)}},
		{name: "rep movsq", code: []byte{0xf3, 0x48, 0xa5}, want: []LinearAccess{laR(0x3000, 8), laW(0x4000, 8)}},
		// DF=1 walks down, but the current element is still at RSI/RDI.
		{name: "std; rep movsq", code: []byte{0xf3, 0x48, 0xa5}, want: []LinearAccess{laR(0x3000, 8), laW(0x4000, 8)}, regs: df},
		{name: "std; movsb", code: []byte{0xa4}, want: []LinearAccess{laR(0x3000, 1), laW(0x4000, 1)}, regs: df},
		{name: "rep movsb, rcx=0", code: []byte{0xf3, 0xa4}, regs: noCount},
		{name: "movsb without rep, rcx=0", code: []byte{0xa4}, want: []LinearAccess{laR(0x3000, 1), laW(0x4000, 1)}, regs: noCount},
		{name: "addr32 rep movsb", code: []byte{0x67, 0xf3, 0xa4}, want: []LinearAccess{laR(0x3000, 1), laW(0x4000, 1)}, regs: addr32},
		{name: "addr32 rep movsb, ecx=0", code: []byte{0x67, 0xf3, 0xa4},
			regs: func(c *CPU) { c.GPR[gprRCX] = 0x1_0000_0000 }},
		{name: "movsb fs: source only", code: []byte{0x64, 0xa4}, want: []LinearAccess{laR(tFS+0x3000, 1), laW(0x4000, 1)}},
		{name: "stosb", code: []byte{0xaa}, want: []LinearAccess{laW(0x4000, 1)}},
		{name: "fs stosb: ES cannot be overridden", code: []byte{0x64, 0xaa}, want: []LinearAccess{laW(0x4000, 1)}},
		{name: "rep stosq, DF=1", code: []byte{0xf3, 0x48, 0xab}, want: []LinearAccess{laW(0x4000, 8)}, regs: df},
		{name: "lodsd", code: []byte{0xad}, want: []LinearAccess{laR(0x3000, 4)}},
		{name: "gs lodsq", code: []byte{0x65, 0x48, 0xad}, want: []LinearAccess{laR(tGS+0x3000, 8)}},
		{name: "rep lodsb", code: []byte{0xf3, 0xac}, want: []LinearAccess{laR(0x3000, 1)}},
		{name: "scasw", code: []byte{0x66, 0xaf}, want: []LinearAccess{laR(0x4000, 2)}},
		{name: "repne scasb", code: []byte{0xf2, 0xae}, want: []LinearAccess{laR(0x4000, 1)}},
		{name: "repne scasb, rcx=0", code: []byte{0xf2, 0xae}, regs: noCount},
		{name: "cmpsb", code: []byte{0xa6}, want: []LinearAccess{laR(0x3000, 1), laR(0x4000, 1)}},
		{name: "repe cmpsq, DF=1", code: []byte{0xf3, 0x48, 0xa7}, want: []LinearAccess{laR(0x3000, 8), laR(0x4000, 8)}, regs: df},
		{name: "insb", code: []byte{0x6c}, want: []LinearAccess{laW(0x4000, 1)}},
		{name: "rep insw", code: []byte{0x66, 0xf3, 0x6d}, want: []LinearAccess{laW(0x4000, 2)}},
		{name: "rex.w insd is 4 bytes", code: []byte{0x48, 0x6d}, want: []LinearAccess{laW(0x4000, 4)}},
		{name: "outsd", code: []byte{0x6f}, want: []LinearAccess{laR(0x3000, 4)}},
		{name: "gs outsb", code: []byte{0x65, 0x6e}, want: []LinearAccess{laR(tGS+0x3000, 1)}},
	})
}

func TestDecodeXlat(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "xlat", code: []byte{0xd7}, want: []LinearAccess{laR(0x1000+0x10, 1)}},
		{name: "xlat, AL from RAX's low byte", code: []byte{0xd7}, want: []LinearAccess{laR(0x1000+0xff, 1)},
			regs: func(c *CPU) { c.GPR[gprRAX] = 0x1234_56ff }},
		{name: "fs xlat", code: []byte{0x64, 0xd7}, want: []LinearAccess{laR(tFS+0x1010, 1)}},
		{name: "addr32 xlat", code: []byte{0x67, 0xd7}, want: []LinearAccess{laR(0x0f, 1)},
			regs: func(c *CPU) { c.GPR[gprRBX] = 0x5_ffff_ffff; c.GPR[gprRAX] = 0x10 }},
	})
}

func TestDecodeStateSaves(t *testing.T) {
	xs := func(n uint64) func(*CPU) { return func(c *CPU) { c.XSaveSize = n } }
	runDecodeCases(t, []decodeCase{
		{name: "fxsave", code: []byte{0x0f, 0xae, 0x03}, want: []LinearAccess{laW(0x1000, 512)}},
		{name: "fxrstor", code: []byte{0x0f, 0xae, 0x0b}, want: []LinearAccess{laR(0x1000, 512)}},
		{name: "fxsave64", code: []byte{0x48, 0x0f, 0xae, 0x03}, want: []LinearAccess{laW(0x1000, 512)}},
		{name: "xsave, size unknown", code: []byte{0x0f, 0xae, 0x23}, want: []LinearAccess{laApprox(laW(0x1000, 4096))}},
		{name: "xsave", code: []byte{0x0f, 0xae, 0x23}, want: []LinearAccess{laW(0x1000, 2696)}, regs: xs(2696)},
		{name: "xsave64", code: []byte{0x48, 0x0f, 0xae, 0x23}, want: []LinearAccess{laW(0x1000, 832)}, regs: xs(832)},
		{name: "xsavec", code: []byte{0x0f, 0xc7, 0x23}, want: []LinearAccess{laW(0x1000, 832)}, regs: xs(832)},
		{name: "xsaveopt", code: []byte{0x0f, 0xae, 0x33}, want: []LinearAccess{laW(0x1000, 832)}, regs: xs(832)},
		{name: "xsaves", code: []byte{0x0f, 0xc7, 0x2b}, want: []LinearAccess{laW(0x1000, 832)}, regs: xs(832)},
		{name: "xrstor", code: []byte{0x0f, 0xae, 0x2b}, want: []LinearAccess{laR(0x1000, 832)}, regs: xs(832)},
		{name: "xrstors, size unknown", code: []byte{0x0f, 0xc7, 0x1b}, want: []LinearAccess{laApprox(laR(0x1000, 4096))}},
		{name: "ldmxcsr", code: []byte{0x0f, 0xae, 0x13}, want: []LinearAccess{laR(0x1000, 4)}},
		{name: "stmxcsr", code: []byte{0x0f, 0xae, 0x1b}, want: []LinearAccess{laW(0x1000, 4)}},
		{name: "vldmxcsr", code: []byte{0xc5, 0xf8, 0xae, 0x13}, want: []LinearAccess{laR(0x1000, 4)}},
		{name: "vstmxcsr", code: []byte{0xc5, 0xf8, 0xae, 0x1b}, want: []LinearAccess{laW(0x1000, 4)}},
	})
}

func TestDecodeX87(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "fld qword", code: []byte{0xdd, 0x03}, want: []LinearAccess{laR(0x1000, 8)}},
		{name: "fld tbyte", code: []byte{0xdb, 0x2b}, want: []LinearAccess{laR(0x1000, 10)}},
		{name: "fstp tbyte", code: []byte{0xdb, 0x3b}, want: []LinearAccess{laW(0x1000, 10)}},
		{name: "fst dword", code: []byte{0xd9, 0x13}, want: []LinearAccess{laW(0x1000, 4)}},
		{name: "fild word", code: []byte{0xdf, 0x03}, want: []LinearAccess{laR(0x1000, 2)}},
		{name: "fistp qword", code: []byte{0xdf, 0x3b}, want: []LinearAccess{laW(0x1000, 8)}},
		{name: "fisttp dword", code: []byte{0xdb, 0x0b}, want: []LinearAccess{laW(0x1000, 4)}},
		{name: "fadd qword", code: []byte{0xdc, 0x03}, want: []LinearAccess{laR(0x1000, 8)}},
		{name: "fcomp dword", code: []byte{0xd8, 0x1b}, want: []LinearAccess{laR(0x1000, 4)}},
		{name: "fldcw", code: []byte{0xd9, 0x2b}, want: []LinearAccess{laR(0x1000, 2)}},
		{name: "fnstcw", code: []byte{0xd9, 0x3b}, want: []LinearAccess{laW(0x1000, 2)}},
		{name: "fnstsw", code: []byte{0xdd, 0x3b}, want: []LinearAccess{laW(0x1000, 2)}},
		{name: "fldenv", code: []byte{0xd9, 0x23}, want: []LinearAccess{laR(0x1000, 28)}},
		{name: "fnstenv", code: []byte{0xd9, 0x33}, want: []LinearAccess{laW(0x1000, 28)}},
		{name: "fnstenvw", code: []byte{0x66, 0xd9, 0x33}, want: []LinearAccess{laW(0x1000, 14)}},
		{name: "frstor", code: []byte{0xdd, 0x23}, want: []LinearAccess{laR(0x1000, 108)}},
		{name: "fnsave", code: []byte{0xdd, 0x33}, want: []LinearAccess{laW(0x1000, 108)}},
		{name: "fbld", code: []byte{0xdf, 0x23}, want: []LinearAccess{laR(0x1000, 10)}},
		{name: "fbstp", code: []byte{0xdf, 0x33}, want: []LinearAccess{laW(0x1000, 10)}},
	})
}
