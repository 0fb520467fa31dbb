package vmm

// Tests of the instruction fuzzer's own parts that need no KVM.

import (
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestInsnFuzzSignature(t *testing.T) {
	tests := []struct {
		f    finding
		want string
	}{
		{finding{stage: "record", tmpl: "bt_reg",
			err: "vCPU 1: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked [rip=0x100218 rsp=0xff0000 rax=0x1]"},
			"record: vCPU #: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked @ bt_reg"},
		{finding{stage: "record", tmpl: "fsgs",
			err: "vCPU 2: KVM_RUN failed with EFAULT: instruction at 0x100317 (MOV [RBX+0x2ffe], R11): FS-relative operand [rip=0x100317]"},
			"record: vCPU #: KVM_RUN failed with EFAULT: instruction at # (instruction): FS-relative operand @ fsgs"},
		{finding{stage: "replay", tmpl: "xchg",
			err: "replay diverged at log event 74: vCPU 3 (rip=0x1004e8): the guest faulted on a write of page 260, but the log has " +
				"#74 vcpu=3 crew at=exit:27 page=0x103 access=write state=exclusive after=[vcpu0@state:28.1/rip=0x10013d,rflags=0x2,mem=0x5]"},
			"replay: replay diverged at log event #: vCPU # (rip=#): the guest faulted on a write of page #, but the log has a crew event @ xchg"},
		{finding{stage: "crash",
			err: "the VMM crashed during the replay: fatal error: concurrent map writes in vmm.(*replayer).crewPos (replay.go:247)"},
			"crash: the VMM crashed during the replay: fatal error: concurrent map writes in vmm.(*replayer).crewPos (replay.go:#) @ crash"},
	}
	for _, tt := range tests {
		if got := tt.f.signature(); got != tt.want {
			t.Errorf("signature of %q:\n got %q\nwant %q", tt.f.err, got, tt.want)
		}
	}
}

// TestInsnFuzzMinimize shrinks a program whose fake failure needs a
// "bad" group on one vCPU and a "writer" group on another.
func TestInsnFuzzMinimize(t *testing.T) {
	body := func(names ...string) []group {
		var b []group
		for _, n := range names {
			b = append(b, group{tmpl: n, lines: []string{"nop"}})
		}
		return b
	}
	p := &program{cpus: 4, init: make([][]string, 4), bodies: [][]group{
		body("alu", "writer", "alu", "alu", "alu"), body("alu", "alu", "bad", "alu"), body("writer", "alu"), body("bad")}}
	fails := func(c *program) bool {
		has := func(b []group, name string) bool {
			return slices.ContainsFunc(b, func(g group) bool { return g.tmpl == name })
		}
		for i, bi := range c.bodies {
			for j, bj := range c.bodies {
				if i != j && has(bi, "bad") && has(bj, "writer") {
					return true
				}
			}
		}
		return false
	}
	small, done := minimize(p, "bad", fails, time.Now().Add(time.Minute))
	if !done || small.cpus != 2 || groupCount(small) != 2 || !fails(small) {
		t.Fatalf("minimized to %d vCPUs, bodies %v (done %v); want 2 vCPUs, one group each", small.cpus, small.bodies, done)
	}
}

// rbxOffset finds the displacements of %rbx-based operands.
var rbxOffset = regexp.MustCompile(`(-?0x[0-9a-f]+)\(%[re]bx\)`)

// TestInsnFuzzGenerator: programs are a function of their seed, use every
// template, keep the accesses of the templates with a plain displacement
// inside the data zones, and gcc builds them.
func TestInsnFuzzGenerator(t *testing.T) {
	if newProgram(7, fuzzTemplates).asm("") != newProgram(7, fuzzTemplates).asm("") {
		t.Fatal("two programs of seed 7 differ")
	}
	seen := map[string]bool{}
	inZone := func(off int) bool {
		return slices.ContainsFunc(fuzzZones[:], func(z fuzzZone) bool { return off >= z.lo && off < z.hi })
	}
	for seed := uint64(1); seed <= 100; seed++ {
		p := newProgram(seed, fuzzTemplates)
		if p.cpus != 2 && p.cpus != 4 || p.iters < 1000 {
			t.Fatalf("seed %d: %d vCPUs, %d iterations", seed, p.cpus, p.iters)
		}
		for _, b := range p.bodies {
			for _, g := range b {
				seen[g.tmpl] = true
				if g.tmpl == "bt_reg" || g.tmpl == "indexed" || g.tmpl == "call_slot" {
					continue // the displacement is not the address
				}
				for _, l := range g.lines {
					for _, m := range rbxOffset.FindAllStringSubmatch(l, -1) {
						if off, _ := strconv.ParseInt(m[1], 0, 64); !inZone(int(off)) {
							t.Errorf("seed %d: %s: %q leaves the data zones", seed, g.tmpl, l)
						}
					}
				}
			}
		}
	}
	for _, tm := range fuzzTemplates {
		if !seen[tm.name] {
			t.Errorf("seeds 1..100 never use template %s", tm.name)
		}
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	for _, tm := range fuzzTemplates {
		p := newProgram(1, []fuzzTemplate{tm})
		src := p.asm("")
		img, err := buildFuzzImage(dir, src)
		if err != nil {
			t.Fatalf("template %s: %v", tm.name, err)
		}
		f := &finding{stage: "record", err: "x", tmpl: tm.name}
		r, err := parseReproducer("x.S", p.asm(reproHeader(p, f, true)))
		if err != nil || r.cpus != p.cpus || r.culprit != tm.name || r.signature != f.signature() || !r.minimized {
			t.Fatalf("template %s: reproducer header read back as %+v, %v", tm.name, r, err)
		}
		for _, sym := range img.syms {
			want := tm.name
			if !strings.Contains(sym.Name, "_g") {
				want = ""
			}
			if group, tmpl, insn := img.where(sym.Value); tmpl != want || group != sym.Name || insn == "" {
				t.Errorf("template %s: %s is attributed to %s, template %q, instruction %q", tm.name, sym.Name, group, tmpl, insn)
			}
		}
	}
}
