package vmm

// Instruction fuzzer, part one: the generator. From a seed it writes a
// guest program in GNU assembler (AT&T) text: per vCPU a deterministic
// register initialisation, then a loop over a random body of instruction
// groups drawn from fuzzTemplates, which race on a 16 KiB shared region.
// insnfuzz_test.go builds, records and replays the programs.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/crewvm/crewvm/vmm/abi"
)

// Layout of the shared region (insnfuzz_shared: 16 KiB, page aligned, its
// base in %rbx, which no body writes). Templates touch the data zones,
// which straddle the boundaries of pages 0|1 and 2|3 and hold the xlat
// table at the region's start. The control zone around the page 1|2
// boundary holds the function-pointer slot (straddling the boundary,
// only ever written with the stub's address) and the start and done
// counters, which nothing else writes.
const (
	fuzzRegionSize = 0x4000
	fuzzSlot       = 0x1ffc
	fuzzDone       = 0x2040
	fuzzStart      = 0x2080
)

// fuzzZone is a range of offsets [lo, hi) in the shared region.
type fuzzZone struct{ lo, hi int }

var (
	fuzzZones      = [...]fuzzZone{{0x10, 0x100}, {0xe80, 0x1180}, {0x2e80, 0x3180}}
	fuzzBoundaries = [...]int{0x1000, 0x3000}
)

// gpr names one scratch register at each operand size.
type gpr struct{ q, l, w, b string }

// fuzzScratch are the registers bodies may write: not %rbx (the region
// base), %rsp (the stack) or %r15 (the loop counter).
var fuzzScratch = [...]gpr{
	{"rax", "eax", "ax", "al"}, {"rcx", "ecx", "cx", "cl"}, {"rdx", "edx", "dx", "dl"},
	{"rsi", "esi", "si", "sil"}, {"rdi", "edi", "di", "dil"}, {"rbp", "ebp", "bp", "bpl"},
	{"r8", "r8d", "r8w", "r8b"}, {"r9", "r9d", "r9w", "r9b"}, {"r10", "r10d", "r10w", "r10b"},
	{"r11", "r11d", "r11w", "r11b"}, {"r12", "r12d", "r12w", "r12b"}, {"r13", "r13d", "r13w", "r13b"},
	{"r14", "r14d", "r14w", "r14b"},
}

// sized is r's name at an operand size of size bytes, with its %.
func (r gpr) sized(size int) string {
	switch size {
	case 1:
		return "%" + r.b
	case 2:
		return "%" + r.w
	case 4:
		return "%" + r.l
	}
	return "%" + r.q
}

// suffix is the AT&T mnemonic suffix of an operand size.
func suffix(size int) string {
	return map[int]string{1: "b", 2: "w", 4: "l", 8: "q"}[size]
}

// group is one template's instructions: the unit the minimizer drops.
type group struct {
	tmpl  string
	lines []string
}

// program is one generated guest: cpus vCPUs, each running its body
// iters times.
type program struct {
	seed  uint64
	cpus  int
	iters int
	// deadline is the RevokeDeadline to record it with (0: the default).
	deadline time.Duration
	// init and bodies are per vCPU.
	init   [][]string
	bodies [][]group
}

// gen draws a program's parts from one random stream.
type gen struct {
	r     *rand.Rand
	tmpls []fuzzTemplate
}

// newProgram generates the program of seed from the templates tmpls.
func newProgram(seed uint64, tmpls []fuzzTemplate) *program {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), tmpls: tmpls}
	p := &program{seed: seed, cpus: 2 << g.pick(2), deadline: fuzzDeadlines[g.pick(len(fuzzDeadlines))]}
	lines := 1
	for range p.cpus {
		p.init = append(p.init, g.initRegs())
		var body []group
		n := 0
		for range 5 + g.pick(26) {
			t := g.tmpls[g.pick(len(g.tmpls))]
			body = append(body, group{tmpl: t.name, lines: t.emit(g)})
			n += len(body[len(body)-1].lines)
		}
		p.bodies = append(p.bodies, body)
		lines = max(lines, n)
	}
	// The loops (behind a start barrier) must run long enough to overlap
	// for many transitions, and short enough that a recording takes some
	// 10-50 ms: 64-256 Ki instructions per vCPU on 4 vCPUs, twice that on
	// 2, a few thousand iterations of a typical body.
	work := (1 + g.pick(4)) << 16
	if p.cpus == 2 {
		work *= 2
	}
	p.iters = max(1000, work/lines)
	return p
}

// fuzzDeadlines are the revoke deadlines programs are recorded with
// (0: DefaultRevokeDeadline); short ones make kicks, and so state
// positions, the rule.
var fuzzDeadlines = [...]time.Duration{0, 0, 20 * time.Microsecond, time.Microsecond}

// initRegs sets every scratch register and %xmm0-15 to a constant.
func (g *gen) initRegs() []string {
	var lines []string
	for _, r := range fuzzScratch {
		lines = append(lines, fmt.Sprintf("movabsq $%#x, %%%s", g.r.Uint64(), r.q))
	}
	for i := range 16 {
		lines = append(lines, fmt.Sprintf("movq %%%s, %%xmm%d", fuzzScratch[i%len(fuzzScratch)].q, i))
	}
	return lines
}

func (g *gen) pick(n int) int           { return g.r.IntN(n) }
func (g *gen) reg() gpr                 { return fuzzScratch[g.pick(len(fuzzScratch))] }
func (g *gen) size() int                { return 1 << g.pick(4) }
func (g *gen) boundary() int            { return fuzzBoundaries[g.pick(len(fuzzBoundaries))] }
func (g *gen) oneOf(s ...string) string { return s[g.pick(len(s))] }

// imm is an immediate that fits an operand of size bytes (at most 32 bits,
// sign-extended for 8-byte operands).
func (g *gen) imm(size int) int64 {
	bits := 8 * min(size, 4)
	if g.pick(2) == 0 {
		return int64(g.pick(33)) - 16
	}
	return g.r.Int64N(1<<bits) - 1<<(bits-1)
}

// off is the offset of a size-byte access, a multiple of align, inside a
// data zone: mostly next to a page boundary, straddling it where the
// alignment allows.
func (g *gen) off(size, align int) int {
	b := g.boundary()
	switch g.pick(4) {
	case 0:
		z := fuzzZones[g.pick(len(fuzzZones))]
		return (z.lo + g.pick(z.hi-z.lo-size+1)) &^ (align - 1)
	case 1, 2:
		if align < size {
			return (b - 1 - g.pick(size-1)) &^ (align - 1)
		}
	}
	return (b + g.pick(2*size+32) - size - 16) &^ (align - 1)
}

// mem is the operand off(%rbx).
func mem(off int) string { return fmt.Sprintf("%#x(%%rbx)", off) }

// asm renders p as GNU assembler text, header a comment on top. Each
// group gets a symbol insnfuzz_cCPU_gINDEX, so that a fault's RIP names
// its template (see (*fuzzImage).where).
func (p *program) asm(header string) string {
	var b strings.Builder
	emit := func(format string, args ...any) { fmt.Fprintf(&b, "\t"+format+"\n", args...) }
	label := func(format string, args ...any) { fmt.Fprintf(&b, format+":\n", args...) }
	b.WriteString(header)
	emit(".text")
	emit(".globl _start")
	label("_start")
	emit("leaq insnfuzz_shared(%%rip), %%rbx")
	for cpu := 1; cpu < p.cpus; cpu++ {
		emit("cmpl $%d, %%edi", cpu)
		emit("je .Lcpu%d", cpu)
	}
	for cpu := range p.cpus {
		// A start barrier, so that the loops run at the same time.
		label(".Lcpu%d", cpu)
		emit("lock incl %s", mem(fuzzStart))
		label(".Lstart%d", cpu)
		emit("pause")
		emit("movl %s, %%eax", mem(fuzzStart))
		emit("cmpl %#x, %%eax", abi.BootInfoAddr+12)
		emit("jne .Lstart%d", cpu)
		for _, l := range p.init[cpu] {
			emit("%s", l)
		}
		if len(p.bodies[cpu]) > 0 {
			emit("movl $%d, %%r15d", p.iters)
			label(".Lloop%d", cpu)
			for i, g := range p.bodies[cpu] {
				label("insnfuzz_c%d_g%d", cpu, i)
				emit("/* %s */", g.tmpl)
				for _, l := range g.lines {
					emit("%s", l)
				}
			}
			label("insnfuzz_c%d_tail", cpu)
			emit("decl %%r15d")
			emit("jnz .Lloop%d", cpu)
		}
		emit("lock incl %s", mem(fuzzDone))
		if cpu == 0 {
			label(".Lwait")
			emit("pause")
			emit("movl %s, %%eax", mem(fuzzDone))
			emit("cmpl %#x, %%eax", abi.BootInfoAddr+12)
			emit("jne .Lwait")
			emit("xorl %%edi, %%edi")
			emit("movl $%d, %%eax", abi.HCExit)
			emit("movl $%#x, %%edx", abi.PortHypercall)
			emit("outl %%eax, (%%dx)")
			emit("jmp .Lwait")
		} else {
			label(".Lhalt%d", cpu)
			emit("hlt")
			emit("jmp .Lhalt%d", cpu)
		}
	}
	label("insnfuzz_stub")
	emit("ret")
	emit(".bss")
	emit(".balign 4096")
	label("insnfuzz_shared")
	emit(".skip %#x", fuzzRegionSize)
	return b.String()
}

// templates lists the templates p's bodies use, in first-use order.
func (p *program) templates() []string {
	var names []string
	seen := map[string]bool{}
	for _, body := range p.bodies {
		for _, g := range body {
			if !seen[g.tmpl] {
				seen[g.tmpl] = true
				names = append(names, g.tmpl)
			}
		}
	}
	return names
}
