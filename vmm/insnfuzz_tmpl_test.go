package vmm

// Instruction fuzzer, the templates: each emits one group of user-mode
// instructions that cannot fault, whatever the racing vCPUs leave in
// memory: every address is %rbx plus a constant, or a register set just
// before; the stack stays balanced; nothing divides, nothing is AVX or
// privileged, nothing reads the time or random numbers.

import (
	"fmt"
	"strings"
)

// fuzzTemplate is one kind of instruction group.
type fuzzTemplate struct {
	name string
	emit func(g *gen) []string
}

// fuzzTemplates are all the templates, by name (CREWVM_INSNFUZZ_TEMPLATES).
var fuzzTemplates = []fuzzTemplate{
	{"mov", (*gen).mov},
	{"alu_mem", (*gen).aluMem},
	{"lock_rmw", (*gen).lockRMW},
	{"xchg", (*gen).xchg},
	{"cmpxchg", (*gen).cmpxchg},
	{"cmpxchg8b", (*gen).cmpxchg8b},
	{"cmpxchg16b", (*gen).cmpxchg16b},
	{"bt_reg", (*gen).btReg},
	{"bt_imm", (*gen).btImm},
	{"sse", (*gen).sse},
	{"pushpop", (*gen).pushPop},
	{"call_slot", (*gen).callSlot},
	{"xlat", (*gen).xlat},
	{"rep", func(g *gen) []string { return g.rep(false) }},
	{"rep_down", func(g *gen) []string { return g.rep(true) }},
	{"fxsave", (*gen).fxsave},
	{"enter_leave", (*gen).enterLeave},
	{"fsgs", (*gen).fsgs},
	{"riprel", (*gen).ripRel},
	{"addr32", (*gen).addr32},
	{"indexed", (*gen).indexed},
	{"sse_nt", (*gen).sseNT},
	{"shared_stack", (*gen).sharedStack},
	{"clflush", (*gen).clflush},
	{"alu", (*gen).alu},
}

// mov: a load or store of 1, 2, 4 or 8 bytes.
func (g *gen) mov() []string {
	n := g.size()
	m, s, r := mem(g.off(n, 1)), suffix(n), g.reg().sized(n)
	switch g.pick(3) {
	case 0:
		return []string{fmt.Sprintf("mov%s %s, %s", s, r, m)}
	case 1:
		return []string{fmt.Sprintf("mov%s $%d, %s", s, g.imm(n), m)}
	}
	return []string{fmt.Sprintf("mov%s %s, %s", s, m, r)}
}

// aluMem: add, sub, and, or, xor with a memory operand, either side.
func (g *gen) aluMem() []string {
	n := g.size()
	op := g.oneOf("add", "sub", "and", "or", "xor", "adc")
	m, s, r := mem(g.off(n, 1)), suffix(n), g.reg().sized(n)
	switch g.pick(3) {
	case 0:
		return []string{fmt.Sprintf("%s%s %s, %s", op, s, r, m)}
	case 1:
		return []string{fmt.Sprintf("%s%s $%d, %s", op, s, g.imm(n), m)}
	}
	return []string{fmt.Sprintf("%s%s %s, %s", op, s, m, r)}
}

// lockRMW: lock add, xadd, inc, dec, and friends.
func (g *gen) lockRMW() []string {
	n := g.size()
	m, s, r := mem(g.off(n, 1)), suffix(n), g.reg().sized(n)
	switch g.pick(4) {
	case 0:
		return []string{fmt.Sprintf("lock %s%s %s, %s", g.oneOf("add", "sub", "and", "or", "xor"), s, r, m)}
	case 1:
		return []string{fmt.Sprintf("lock xadd%s %s, %s", s, r, m)}
	case 2:
		return []string{fmt.Sprintf("lock %s%s %s", g.oneOf("inc", "dec", "not", "neg"), s, m)}
	}
	return []string{fmt.Sprintf("lock add%s $%d, %s", s, g.imm(n), m)}
}

// xchg: a register with memory (implicitly locked).
func (g *gen) xchg() []string {
	n := g.size()
	return []string{fmt.Sprintf("xchg%s %s, %s", suffix(n), g.reg().sized(n), mem(g.off(n, 1)))}
}

// cmpxchg: against %rax, locked or not.
func (g *gen) cmpxchg() []string {
	n := g.size()
	return []string{fmt.Sprintf("%scmpxchg%s %s, %s", g.oneOf("lock ", ""), suffix(n), g.reg().sized(n), mem(g.off(n, 1)))}
}

// cmpxchg8b: %edx:%eax against an aligned quadword, %ecx:%ebx stored.
func (g *gen) cmpxchg8b() []string {
	return []string{"lock cmpxchg8b " + mem(g.off(8, 8))}
}

// cmpxchg16b: %rdx:%rax against an aligned 16 bytes, %rcx:%rbx stored.
func (g *gen) cmpxchg16b() []string {
	return []string{"lock cmpxchg16b " + mem(g.off(16, 16))}
}

// btReg: bt, bts, btr, btc with a register bit offset, set just before,
// positive or negative and often far from the operand: the word touched
// is base+w*floor(offset/(8w)) for a w-byte operand, inside a data zone.
func (g *gen) btReg() []string {
	w := 2 << g.pick(3)
	target := g.off(w, 1)
	var dist int
	switch limit := 4000; g.pick(3) {
	case 0:
		dist = g.pick(129) - 64
	case 1:
		dist = g.pick(2*limit+1) - limit
	default:
		if w > 2 {
			dist = g.pick(1<<21) - 1<<20
		} else {
			dist = g.pick(2*limit+1) - limit
		}
	}
	dist -= dist % w
	disp := target - dist
	bit := dist*8 + g.pick(8*w)
	r := g.reg()
	return []string{
		fmt.Sprintf("mov%s $%d, %s", suffix(w), bit, r.sized(w)),
		fmt.Sprintf("%s%s %s, %s", g.oneOf("bt", "bts", "btr", "btc", "lock bts", "lock btc"), suffix(w), r.sized(w), mem(disp)),
	}
}

// btImm: the same with an immediate bit offset, within the operand.
func (g *gen) btImm() []string {
	w := 2 << g.pick(3)
	return []string{fmt.Sprintf("%s%s $%d, %s", g.oneOf("bt", "bts", "btr", "btc"), suffix(w), g.pick(8*w), mem(g.off(w, 1)))}
}

// sse: 16-byte unaligned loads and stores, and some xmm arithmetic.
func (g *gen) sse() []string {
	op, x, m := g.oneOf("movdqu", "movups"), fmt.Sprintf("%%xmm%d", g.pick(16)), mem(g.off(16, 1))
	switch g.pick(3) {
	case 0:
		return []string{fmt.Sprintf("%s %s, %s", op, x, m)}
	case 1:
		return []string{fmt.Sprintf("%s %s, %s", op, m, x), fmt.Sprintf("movq %s, %s", x, g.reg().sized(8))}
	}
	return []string{fmt.Sprintf("%s %s, %s", op, m, x), fmt.Sprintf("paddq %%xmm%d, %s", g.pick(16), x)}
}

// pushPop: push m64 / pop m64, paired, through memory or a register.
func (g *gen) pushPop() []string {
	r := "%" + g.reg().q
	from, to := mem(g.off(8, 1)), mem(g.off(8, 1))
	switch g.pick(3) {
	case 0:
		from = r
	case 1:
		to = r
	}
	return []string{"pushq " + from, "popq " + to}
}

// callSlot: store the stub's address into the shared slot (every vCPU
// stores the same value) and call through it.
func (g *gen) callSlot() []string {
	r := "%" + g.reg().q
	return []string{
		fmt.Sprintf("leaq insnfuzz_stub(%%rip), %s", r),
		fmt.Sprintf("movq %s, %s", r, mem(fuzzSlot)),
		"call *" + mem(fuzzSlot),
	}
}

// xlat: a table lookup at %rbx+%al, after (sometimes) a store into the
// table's page, so that page 0 changes hands.
func (g *gen) xlat() []string {
	var lines []string
	if g.pick(2) == 0 {
		lines = append(lines, fmt.Sprintf("movb %%%s, %s", g.reg().b, mem(fuzzZones[0].lo+g.pick(fuzzZones[0].hi-fuzzZones[0].lo))))
	}
	if g.pick(2) == 0 {
		lines = append(lines, fmt.Sprintf("movb $%d, %%al", g.pick(256)))
	}
	return append(lines, "xlatb")
}

// rep: a string instruction over a small count, upwards or downwards
// (std ... cld), its ranges inside data zones and mostly straddling a
// page boundary.
func (g *gen) rep(down bool) []string {
	op := g.oneOf("movsb", "stosb", "cmpsb", "scasb", "movsq", "lodsb", "stosq")
	elem := 1
	if op[len(op)-1] == 'q' {
		elem = 8
	}
	count := 1 + g.pick(24)
	span := count * elem
	// start is the first element's offset; the range goes up from it, or
	// down to start-span+elem.
	start := func() int {
		var lo int
		if g.pick(3) == 0 {
			z := fuzzZones[g.pick(len(fuzzZones))]
			lo = z.lo + g.pick(z.hi-z.lo-span+1)
		} else {
			lo = g.boundary() - g.pick(span+1)
		}
		if down {
			return lo + span - elem
		}
		return lo
	}
	prefix := "rep "
	switch op {
	case "cmpsb", "scasb":
		prefix = g.oneOf("repe ", "repne ")
	}
	lines := []string{
		fmt.Sprintf("leaq %s, %%rsi", mem(start())),
		fmt.Sprintf("leaq %s, %%rdi", mem(start())),
		fmt.Sprintf("movl $%d, %%ecx", count),
	}
	if down {
		return append(lines, "std", prefix+op, "cld")
	}
	return append(lines, prefix+op)
}

// fxsave: the 512-byte FPU/SSE state to a 16-aligned offset whose range
// crosses a page boundary or lies next to one.
func (g *gen) fxsave() []string {
	z := fuzzZones[1+g.pick(2)]
	return []string{"fxsave " + mem(z.lo+16*g.pick((z.hi-z.lo-512)/16+1))}
}

// enterLeave: a stack frame (nesting level 0 or 1), maybe written to.
func (g *gen) enterLeave() []string {
	size := 8 * g.pick(5)
	lines := []string{fmt.Sprintf("enter $%d, $%d", size, g.pick(2))}
	if size > 0 && g.pick(2) == 0 {
		lines = append(lines, fmt.Sprintf("movq %%%s, (%%rsp)", g.reg().q))
	}
	return append(lines, "leave")
}

// alu: register arithmetic, no memory.
func (g *gen) alu() []string {
	a, b := g.reg(), g.reg()
	n := 4 << g.pick(2)
	s, ra, rb := suffix(n), a.sized(n), b.sized(n)
	switch g.pick(6) {
	case 0:
		return []string{fmt.Sprintf("%s%s %s, %s", g.oneOf("add", "sub", "xor", "and", "or", "adc", "sbb"), s, ra, rb)}
	case 1:
		return []string{fmt.Sprintf("imul%s %s, %s", s, ra, rb)}
	case 2:
		return []string{fmt.Sprintf("%s%s $%d, %s", g.oneOf("shl", "shr", "sar", "rol", "ror"), s, g.pick(8*n), ra)}
	case 3:
		return []string{fmt.Sprintf("%s%s %s", g.oneOf("not", "neg", "inc", "dec", "bswap"), s, ra)}
	case 4:
		return []string{fmt.Sprintf("leaq %d(%%%s,%%%s,%d), %%%s", g.imm(4), a.q, b.q, 1<<g.pick(4), g.reg().q)}
	}
	return []string{fmt.Sprintf("mov%s $%d, %s", s, g.imm(n), ra)}
}

// access is a load, store or read-modify-write of size bytes at operand m.
func (g *gen) access(size int, m string) string {
	s, r := suffix(size), g.reg().sized(size)
	switch g.pick(3) {
	case 0:
		return fmt.Sprintf("mov%s %s, %s", s, r, m)
	case 1:
		return fmt.Sprintf("%sadd%s %s, %s", g.oneOf("lock ", ""), s, r, m)
	}
	return fmt.Sprintf("mov%s %s, %s", s, m, r)
}

// fsgs: an FS- or GS-relative access (both bases are 0 at boot, so the
// address is the same as without the override): plain, SSE, a string
// source or an xlat table.
func (g *gen) fsgs() []string {
	n, seg := g.size(), g.oneOf("%fs:", "%gs:")
	m := seg + mem(g.off(n, 1))
	switch g.pick(6) {
	case 0:
		return []string{fmt.Sprintf("movdqu %s, %%xmm%d", m, g.pick(16))}
	case 1:
		return []string{
			fmt.Sprintf("leaq %s, %%rsi", mem(g.boundary()-g.pick(9))),
			fmt.Sprintf("leaq %s, %%rdi", mem(g.boundary()-g.pick(9))),
			fmt.Sprintf("movl $%d, %%ecx", 1+g.pick(16)),
			fmt.Sprintf("rep movsb %s(%%rsi), %%es:(%%rdi)", seg),
		}
	case 2:
		return []string{fmt.Sprintf("xlat %s(%%rbx)", seg)}
	}
	return []string{g.access(n, m)}
}

// ripRel: a RIP-relative access to the region.
func (g *gen) ripRel() []string {
	n := g.size()
	return []string{g.access(n, fmt.Sprintf("insnfuzz_shared+%#x(%%rip)", g.off(n, 1)))}
}

// addr32: an access with a 32-bit address (the 0x67 prefix): %ebx
// zero-extended is the region base, which lies below 4 GiB; or a string
// instruction on %esi, %edi and %ecx.
func (g *gen) addr32() []string {
	n := g.size()
	if g.pick(3) == 0 {
		return []string{
			fmt.Sprintf("leal %s, %%esi", strings.Replace(mem(g.boundary()-g.pick(9)), "rbx", "ebx", 1)),
			fmt.Sprintf("leal %s, %%edi", strings.Replace(mem(g.boundary()-g.pick(9)), "rbx", "ebx", 1)),
			fmt.Sprintf("movl $%d, %%ecx", 1+g.pick(16)),
			"addr32 rep " + g.oneOf("movsb", "stosb", "cmpsb", "scasb", "lodsb"),
		}
	}
	return []string{g.access(n, fmt.Sprintf("%#x(%%ebx)", g.off(n, 1)))}
}

// indexed: base+index*scale+displacement, the index set just before,
// positive or negative.
func (g *gen) indexed() []string {
	n, scale, idx := g.size(), 1<<g.pick(4), g.reg()
	k := g.pick(1025) - 512
	return []string{
		fmt.Sprintf("movq $%d, %%%s", k, idx.q),
		g.access(n, fmt.Sprintf("%d(%%rbx,%%%s,%d)", g.off(n, 1)-k*scale, idx.q, scale)),
	}
}

// sseNT: non-temporal stores (movnti unaligned, movntdq aligned) and
// maskmovdqu, whose destination is the implicit %rdi.
func (g *gen) sseNT() []string {
	x := fmt.Sprintf("%%xmm%d", g.pick(16))
	switch g.pick(3) {
	case 0:
		n := 4 << g.pick(2)
		return []string{fmt.Sprintf("movnti %s, %s", g.reg().sized(n), mem(g.off(n, 1)))}
	case 1:
		return []string{fmt.Sprintf("movntdq %s, %s", x, mem(g.off(16, 16)))}
	}
	return []string{
		fmt.Sprintf("leaq %s, %%rdi", mem(g.off(16, 1))),
		fmt.Sprintf("maskmovdqu %%xmm%d, %s", g.pick(16), x),
	}
}

// sharedStack: push and pop with %rsp in the shared region, next to a
// page boundary and maybe misaligned, so that the stack accesses race
// and straddle; %rsp is saved in %r13 and restored. No call or ret: a
// racing vCPU could change a return address.
func (g *gen) sharedStack() []string {
	lines := []string{"movq %rsp, %r13", fmt.Sprintf("leaq %s, %%rsp", mem(g.boundary()+g.pick(33)-16))}
	reg := func() string {
		for {
			if r := g.reg(); r.q != "r13" {
				return "%" + r.q
			}
		}
	}
	depth := 0
	for range 1 + g.pick(4) {
		switch {
		case depth > 0 && g.pick(2) == 0:
			lines = append(lines, "popq "+g.oneOf(reg(), mem(g.off(8, 1))))
			depth--
		case g.pick(4) == 0:
			lines = append(lines, fmt.Sprintf("enter $%d, $0", 8*g.pick(3)), "leave")
		default:
			lines = append(lines, "pushq "+g.oneOf(reg(), mem(g.off(8, 1)), fmt.Sprintf("$%d", g.imm(4))))
			depth++
		}
	}
	return append(lines, "movq %r13, %rsp")
}

// clflush: flushing a cache line of the region (a read, for permissions).
func (g *gen) clflush() []string {
	return []string{"clflush " + mem(g.off(1, 1))}
}
