package x86

// cacheLine is the line CLFLUSH, CLWB and CLZERO act on.
const cacheLine = 64

// line adds the cache line holding ea.
func (b *accessBuilder) line(ea uint64, k Kind) {
	b.operand(ea&^(cacheLine-1), cacheLine, k, false)
}

// group7 is 0F 01: descriptor-table stores and loads, and register forms
// such as MONITOR, CLZERO, UIRET and ENCLU.
func (b *accessBuilder) group7() (bool, error) {
	r := b.raw
	if r.mem() {
		ea := b.ea(r.disp, 0)
		switch r.reg & 7 {
		case 0, 1: // SGDT, SIDT: 2-byte limit and 8-byte base
			b.operand(ea, 10, KindWrite, false)
		case 2, 3: // LGDT, LIDT: privileged, but a read if anything
			b.operand(ea, 10, KindRead, false)
		case 4: // SMSW
			b.operand(ea, 2, KindWrite, false)
		case 5: // RSTORSSP (F3): checks and updates a shadow-stack token
			if r.mandatory() == 0xF3 {
				b.operand(ea, 8, KindWrite, false)
			}
		case 6: // LMSW
			b.operand(ea, 2, KindRead, false)
		}
		return true, nil // 7: INVLPG, privileged
	}
	rax := b.trunc(b.cpu.GPR[gprRAX])
	switch m, p := r.modrmByte(), r.mandatory(); {
	case m == 0xC8, m == 0xFA && p == 0: // MONITOR, MONITORX arm [RAX]
		b.operand(rax, 1, KindRead, false)
	case m == 0xFC && p == 0: // CLZERO
		b.line(rax, KindWrite)
	case m == 0xEC && p == 0xF3: // UIRET pops RIP, RFLAGS, RSP
		b.stack(0, 24, KindRead)
	case m == 0xD7:
		return true, b.unmodelled("ENCLU (SGX)")
	case m == 0xEA && p == 0xF3:
		return true, b.unmodelled("SAVEPREVSSP (shadow stack)")
	}
	return true, nil
}

// group9 is 0F C7: CMPXCHG8B/16B, XRSTORS, XSAVEC, XSAVES, and
// RDRAND, RDSEED, RDPID, SENDUIPI in register form.
func (b *accessBuilder) group9() (bool, error) {
	r := b.raw
	if !r.mem() {
		if r.reg&7 == 6 && r.mandatory() == 0xF3 {
			return true, b.unmodelled("SENDUIPI (user interrupt target table)")
		}
		return true, nil
	}
	ea := b.ea(r.disp, 0)
	xsave, approx := xsaveSize(b.cpu)
	switch r.reg & 7 {
	case 1:
		size := uint64(8)
		if r.w {
			size = 16
		}
		b.operand(ea, size, KindWrite, false)
	case 3: // XRSTORS
		b.operand(ea, xsave, KindRead, approx)
	case 4, 5: // XSAVEC, XSAVES
		b.operand(ea, xsave, KindWrite, approx)
	default: // VMPTRLD, VMCLEAR, VMXON, VMPTRST: privileged
		return false, nil
	}
	return true, nil
}

// group15 is 0F AE, which x86asm decodes wrongly with mandatory prefixes
// (CLWB as XSAVEOPT, PTWRITE as XSAVE, UMONITOR as MFENCE).
func (b *accessBuilder) group15() {
	r := b.raw
	p := r.mandatory()
	if !r.mem() {
		if r.reg&7 == 6 && p == 0xF3 { // UMONITOR r64
			b.operand(b.trunc(b.cpu.GPR[r.rm]), 1, KindRead, false)
		}
		return // fences, RD/WRFSBASE, PTWRITE r, INCSSP, TPAUSE, UMWAIT
	}
	ea := b.ea(r.disp, 0)
	xsave, approx := xsaveSize(b.cpu)
	switch r.reg & 7 {
	case 0:
		b.operand(ea, 512, KindWrite, false) // FXSAVE
	case 1:
		b.operand(ea, 512, KindRead, false) // FXRSTOR
	case 2:
		b.operand(ea, 4, KindRead, false) // LDMXCSR
	case 3:
		b.operand(ea, 4, KindWrite, false) // STMXCSR
	case 4:
		if p == 0xF3 {
			b.operand(ea, r.opSize(), KindRead, false) // PTWRITE
		} else {
			b.operand(ea, xsave, KindWrite, approx) // XSAVE
		}
	case 5:
		b.operand(ea, xsave, KindRead, approx) // XRSTOR
	case 6:
		switch p {
		case 0x66:
			b.line(ea, KindRead) // CLWB
		case 0xF3:
			b.operand(ea, 8, KindWrite, false) // CLRSSBSY
		default:
			b.operand(ea, xsave, KindWrite, approx) // XSAVEOPT
		}
	case 7:
		b.line(ea, KindRead) // CLFLUSH, CLFLUSHOPT
	}
}

// map0F38 covers the 0F 38 instructions that x86asm does not know.
func (b *accessBuilder) map0F38() bool {
	r := b.raw
	p := r.mandatory()
	switch op := r.opcode; {
	case op == 0xF8 && p != 0 && r.mem():
		// MOVDIR64B, ENQCMD(S): 64 bytes from [r/m] to ES:[reg]
		b.operand(b.ea(r.disp, 0), 64, KindRead, false)
		b.add(b.trunc(b.cpu.GPR[r.reg]), 64, KindWrite, false)
	case op == 0xF9 && p == 0 && r.mem(): // MOVDIRI
		b.operand(b.ea(r.disp, 0), r.opSize(), KindWrite, false)
	case op == 0xF6 && p == 0 && r.mem(), op == 0xF5 && p == 0x66 && r.mem(): // WRSS, WRUSS
		b.operand(b.ea(r.disp, 0), r.opSize(), KindWrite, false)
	case op == 0xF6 && (p == 0x66 || p == 0xF3): // ADCX, ADOX
		if r.mem() {
			b.operand(b.ea(r.disp, 0), r.opSize(), KindRead, false)
		}
	case p == 0xF3 && (op >= 0xD8 && op <= 0xDF || op == 0xFA || op == 0xFB):
		// Key Locker: a 48- or 64-byte handle in memory
		if r.mem() {
			b.operand(b.ea(r.disp, 0), 64, KindRead, false)
		}
	default:
		return false
	}
	return true
}

// vexMap2 covers the VEX 0F38 instructions that x86asm does not know:
// AMX tile loads and stores and CMPccXADD.
func (b *accessBuilder) vexMap2() bool {
	r := b.raw
	switch op := r.opcode; {
	case op == 0x4B && !r.w && r.mem() && r.pp != 0:
		// TILELOADD(T1), TILESTORED: up to 16 rows of up to 64 bytes,
		// row i at base+disp + i*stride, stride = index*scale. The tile
		// configuration is not known, so assume the largest.
		k := KindRead
		if r.pp == 0xF3 {
			k = KindWrite
		}
		var start uint64
		if r.base >= 0 {
			start = b.cpu.GPR[r.base]
		}
		var stride uint64
		if r.index >= 0 {
			stride = b.cpu.GPR[r.index] * r.scale
		}
		for i := uint64(0); i < 16; i++ {
			b.operand(b.trunc(start+uint64(r.disp)+i*stride), 64, k, true)
		}
	case op == 0x49 && !r.w && r.mem() && (r.pp == 0 || r.pp == 0x66):
		k := KindRead // LDTILECFG
		if r.pp == 0x66 {
			k = KindWrite // STTILECFG
		}
		b.operand(b.ea(r.disp, 0), 64, k, false)
	case op == 0x49 || op >= 0x5C && op <= 0x5F || op == 0x6C:
		// TILERELEASE, TILEZERO and tile arithmetic: registers only
		return !r.mem()
	case op >= 0xE0 && op <= 0xEF && r.pp == 0x66 && r.mem(): // CMPccXADD
		size := uint64(4)
		if r.w {
			size = 8
		}
		b.operand(b.ea(r.disp, 0), size, KindWrite, false)
	default:
		return false
	}
	return true
}
