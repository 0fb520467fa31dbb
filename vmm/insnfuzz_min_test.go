package vmm

// Instruction fuzzer, part four: shrinking a finding's program by delta
// debugging, and the reproducer files in testdata/insnfuzz that keep it.

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fuzzReproDir holds the kept reproducers, relative to the package.
const fuzzReproDir = "testdata/insnfuzz"

// fuzzTries is how often a candidate runs before it counts as passing:
// races vary from run to run.
const fuzzTries = 3

// clone copies p deep enough to edit its bodies.
func (p *program) clone() *program {
	c := *p
	c.init = slices.Clone(p.init)
	c.bodies = slices.Clone(p.bodies)
	return &c
}

// withBody is p with vCPU cpu's body replaced.
func (p *program) withBody(cpu int, body []group) *program {
	c := p.clone()
	c.bodies[cpu] = body
	return c
}

// minimize shrinks p while fails still says a candidate reproduces the
// finding, until the deadline. The big cuts come first: only the groups
// of the culprit template, two vCPUs instead of four, empty bodies; then
// delta debugging of each body (dropping chunks of groups, halving the
// chunk size when no chunk can go). The iterations stay: a race needs
// time to happen. It returns the smallest failing program and whether it
// got to the end.
func minimize(p *program, culprit string, fails func(*program) bool, deadline time.Time) (*program, bool) {
	cur := p.clone()
	try := func(c *program) bool {
		if time.Now().After(deadline) || !fails(c) {
			return false
		}
		cur = c
		return true
	}
	only, kept := cur.clone(), 0
	for cpu, body := range only.bodies {
		only.bodies[cpu] = slices.DeleteFunc(slices.Clone(body), func(g group) bool { return g.tmpl != culprit })
		kept += len(only.bodies[cpu])
	}
	if kept > 0 && kept < groupCount(cur) {
		try(only)
	}
	for _, pair := range [][2]int{{0, 1}, {2, 3}, {0, 2}, {1, 3}, {0, 3}, {1, 2}} {
		if cur.cpus != 4 {
			break
		}
		c := cur.clone()
		c.cpus = 2
		c.init = [][]string{cur.init[pair[0]], cur.init[pair[1]]}
		c.bodies = [][]group{cur.bodies[pair[0]], cur.bodies[pair[1]]}
		try(c)
	}
	for cpu := range cur.cpus {
		try(cur.withBody(cpu, nil))
	}
	for cpu := range cur.cpus {
		for n := 2; len(cur.bodies[cpu]) > 0; {
			body := cur.bodies[cpu]
			chunk := (len(body) + n - 1) / n
			dropped := false
			for start := 0; start < len(body) && !dropped; start += chunk {
				dropped = try(cur.withBody(cpu, slices.Concat(body[:start], body[min(start+chunk, len(body)):])))
			}
			switch {
			case dropped:
				n = max(n-1, 2)
			case chunk == 1:
				n = 0
			default:
				n = min(2*n, len(body))
			}
			if n == 0 || time.Now().After(deadline) {
				break
			}
		}
	}
	return cur, !time.Now().After(deadline)
}

// reproducer is a kept finding: the program's text with a header that
// says how to run it and what it found.
type reproducer struct {
	file      string
	seed      uint64
	cpus      int
	deadline  time.Duration
	culprit   string
	signature string
	minimized bool
	src       string
}

// reproName is the file name of the reproducer of a finding.
func reproName(f *finding) string {
	h := fnv.New32a()
	h.Write([]byte(f.signature()))
	return fmt.Sprintf("%s-%08x.S", f.culprit(), h.Sum32())
}

// reproHeader is the comment on top of a reproducer of f found with p.
func reproHeader(p *program, f *finding, minimized bool) string {
	clean := func(s string, limit int) string {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "*/", "* /"), "\n", " ")
		if len(s) > limit {
			s = s[:limit] + "..."
		}
		return s
	}
	yes := map[bool]string{true: "yes", false: "no"}[minimized]
	return fmt.Sprintf(`/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: %d
 * cpus: %d
 * iterations: %d
 * revoke-deadline: %v
 * templates: %s
 * culprit: %s
 * minimized: %s
 * signature: %s
 * error: %s
 * at: %s (%s)
 */
`, p.seed, p.cpus, p.iters, p.deadline, strings.Join(p.templates(), ","), f.culprit(), yes, clean(f.signature(), 4096), clean(f.err, 4096), f.insn, f.group)
}

// writeReproducer keeps p, which shows f, in fuzzReproDir.
func writeReproducer(p *program, f *finding, minimized bool) (string, error) {
	if err := os.MkdirAll(fuzzReproDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(fuzzReproDir, reproName(f))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(p.asm(reproHeader(p, f, minimized))), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

var reproField = regexp.MustCompile(`(?m)^ \* ([\w-]+): (.*)$`)

// readReproducers reads every kept reproducer.
func readReproducers() ([]*reproducer, error) {
	files, err := filepath.Glob(filepath.Join(fuzzReproDir, "*.S"))
	if err != nil {
		return nil, err
	}
	var rs []*reproducer
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		r, err := parseReproducer(file, string(src))
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// parseReproducer reads the header of the reproducer src, from file.
func parseReproducer(file, src string) (*reproducer, error) {
	r := &reproducer{file: file, src: src}
	end := strings.Index(src, "*/")
	for _, m := range reproField.FindAllStringSubmatch(src[:max(end, 0)], -1) {
		switch m[1] {
		case "seed":
			r.seed, _ = strconv.ParseUint(m[2], 10, 64)
		case "cpus":
			r.cpus, _ = strconv.Atoi(m[2])
		case "revoke-deadline":
			r.deadline, _ = time.ParseDuration(m[2])
		case "culprit":
			r.culprit = m[2]
		case "signature":
			r.signature = m[2]
		case "minimized":
			r.minimized = m[2] == "yes"
		}
	}
	if r.cpus < 2 {
		return nil, fmt.Errorf("%s: no \"cpus: N\" line (N at least 2) in its header", file)
	}
	return r, nil
}
