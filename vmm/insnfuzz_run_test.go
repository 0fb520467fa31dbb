package vmm

// Instruction fuzzer, part two: building a program with the system gcc,
// and describing what went wrong when it ran (insnfuzz_child_test.go) as
// a finding.

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/arch/x86/x86asm"
)

// fuzzLinkerScript puts the program at abi.KernelMin with no other segment
// (gcc's default layout adds one for the ELF headers below it).
const fuzzLinkerScript = `ENTRY(_start)
SECTIONS {
	. = 0x100000;
	.text : { *(.text*) }
	. = ALIGN(4096);
	.bss : { *(.bss*) }
	/DISCARD/ : { *(.note*) *(.comment*) *(.eh_frame*) }
}
`

// fuzzImage is a built program: its ELF, and what names an address.
type fuzzImage struct {
	elf      []byte
	text     []byte
	textAddr uint64
	// syms are the group symbols by address; tmpl names each group's
	// template, by symbol.
	syms []elf.Symbol
	tmpl map[string]string
}

var fuzzBuildSeq atomic.Uint64

// buildFuzzImage assembles and links src with the system gcc in dir.
func buildFuzzImage(dir, src string) (*fuzzImage, error) {
	base := filepath.Join(dir, fmt.Sprintf("prog%d", fuzzBuildSeq.Add(1)))
	script := filepath.Join(dir, "insnfuzz.ld")
	if _, err := os.Stat(script); err != nil {
		if err := os.WriteFile(script, []byte(fuzzLinkerScript), 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(base+".S", []byte(src), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(base + ".S")
	defer os.Remove(base + ".elf")
	cmd := exec.Command("gcc", "-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none", "-Wl,-T,"+script,
		"-o", base+".elf", base+".S")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gcc: %v\n%s", err, out)
	}
	data, err := os.ReadFile(base + ".elf")
	if err != nil {
		return nil, err
	}
	return parseFuzzImage(data, src)
}

var groupComment = regexp.MustCompile(`(?m)^(insnfuzz_c\d+_g\d+):\n\t/\* (\w+) \*/`)

// parseFuzzImage reads the text and the group symbols of a built program;
// src names each group's template.
func parseFuzzImage(data []byte, src string) (*fuzzImage, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	img := &fuzzImage{elf: data, tmpl: map[string]string{}}
	if s := f.Section(".text"); s != nil {
		img.textAddr = s.Addr
		if img.text, err = s.Data(); err != nil {
			return nil, err
		}
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "insnfuzz_c") || s.Name == "_start" {
			img.syms = append(img.syms, s)
		}
	}
	sort.Slice(img.syms, func(i, j int) bool { return img.syms[i].Value < img.syms[j].Value })
	for _, m := range groupComment.FindAllStringSubmatch(src, -1) {
		img.tmpl[m[1]] = m[2]
	}
	return img, nil
}

// where names the group holding rip and its template ("" outside the
// bodies), and disassembles the instruction at rip.
func (img *fuzzImage) where(rip uint64) (group, tmpl, insn string) {
	i := sort.Search(len(img.syms), func(i int) bool { return img.syms[i].Value > rip }) - 1
	if i >= 0 {
		group, tmpl = img.syms[i].Name, img.tmpl[img.syms[i].Name]
	}
	if off := rip - img.textAddr; rip >= img.textAddr && off < uint64(len(img.text)) {
		if inst, err := x86asm.Decode(img.text[off:], 64); err == nil {
			insn = x86asm.GNUSyntax(inst, rip, nil)
		}
	}
	return group, tmpl, insn
}

// finding is one broken promise: a recording that failed, or a replay
// that did not match its recording.
type finding struct {
	// stage is "record", "replay" or "status" (the replay's exit status
	// differs); "crash" when the VMM crashed or hung, "race" when the
	// race detector reported a data race; "guest" when the program fails
	// without recording too.
	stage string
	err   string
	cpu   int
	rip   uint64
	// group, tmpl and insn say where rip is (see where).
	group, tmpl, insn string
}

var (
	regDump  = regexp.MustCompile(`\s*\[[^\]]*rip=[^\]]*\]`)
	logEvent = regexp.MustCompile(`#\d+ vcpu=\d+ (\w+)(?: \w+=(?:\[[^\]]*\]|\S+))*`)
	intelIns = regexp.MustCompile(`\((?:LOCK |REP\w* )?[A-Z][A-Z0-9]* [^()]*\)`)
	hexNum   = regexp.MustCompile(`0x[0-9a-fA-F]+`)
	decNum   = regexp.MustCompile(`\d+`)
)

// newFinding is the finding of outcome o of a run of img.
func newFinding(o *fuzzOutcome, img *fuzzImage) *finding {
	f := &finding{stage: o.Stage, err: o.Err, cpu: o.CPU, rip: o.RIP}
	if f.cpu >= 0 {
		f.group, f.tmpl, f.insn = img.where(f.rip)
	}
	return f
}

// signature is what findings of one cause have in common: the stage, the
// message without numbers, registers, operands or the details of log
// events, and the culprit template.
func (f *finding) signature() string {
	msg := logEvent.ReplaceAllString(f.err, "a $1 event")
	msg = regDump.ReplaceAllString(msg, "")
	msg = intelIns.ReplaceAllString(msg, "(instruction)")
	msg = decNum.ReplaceAllString(hexNum.ReplaceAllString(msg, "#"), "#")
	return fmt.Sprintf("%s: %s @ %s", f.stage, msg, f.culprit())
}

// culprit is the template of the instruction the finding names, or the
// stage when it names none.
func (f *finding) culprit() string {
	if f.tmpl != "" {
		return f.tmpl
	}
	return f.stage
}

func (f *finding) String() string {
	s := fmt.Sprintf("%s: %s", f.stage, f.err)
	if f.cpu >= 0 {
		s += fmt.Sprintf("\n\tat %s (%s, template %s)", f.insn, f.group, f.culprit())
	}
	return s
}

// addStats adds every counter of s to sum.
func addStats(sum *CREWStats, s CREWStats) {
	a, b := reflect.ValueOf(sum).Elem(), reflect.ValueOf(s)
	for i := range a.NumField() {
		if a.Field(i).CanUint() {
			a.Field(i).SetUint(a.Field(i).Uint() + b.Field(i).Uint())
		}
	}
}
