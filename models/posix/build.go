package posix

import (
	"fmt"
	"sort"

	"github.com/crewvm/crewvm/models/commute"
	"github.com/crewvm/crewvm/models/sym"
	"github.com/crewvm/crewvm/models/testgen"
)

// Class groups of the isomorphism condition. File names, inodes, pipes,
// pages and data values are identities: a test that renumbers them is the
// same test. Descriptor numbers are integers but also identities; what
// matters about them (which ones are free below another) is recorded
// through the validity of each observed descriptor.
const (
	gFn   = "fn"
	gInum = "inum"
	gPipe = "pipe"
	gVa   = "va"
	gData = "data"
	gFd   = "fd"
)

// builder turns one Z3 model of a commutative path into a concrete test.
// It only reads observed entries of the initial state (never the state
// itself, which would add observations to a finished path) and evaluates
// them; see sym.Eval for what is recorded.
type builder struct {
	ev *sym.Eval
	s  *Fs
	p  *sym.Path

	files  map[int]int // name -> inode
	inodes map[int]*inodeRec
	pipes  map[int]*pipeRec
	fds    [2]map[int64]fdRec
	maps   [2]map[int]mapRec
}

type inodeRec struct {
	nlink    int64
	data     []int64
	observed bool
}

type pipeRec struct {
	readers, writers int64
	data             []int64
	observed         bool
}

type fdRec struct {
	pipe   bool
	id     int // inode or pipe
	off    int64
	writer bool
}

type mapRec struct {
	anon, writable bool
	ino            int
	off            int64
	data           int64
}

func build(in *commute.Instance[Fs]) (*testgen.Test, error) {
	b := &builder{ev: in.Eval, s: &in.Init, p: in.Path,
		files: map[int]int{}, inodes: map[int]*inodeRec{}, pipes: map[int]*pipeRec{}}
	// Data class 0 is zero-filled memory.
	b.ev.PeekClass(gData, zero(in.Path))
	b.walkState()
	t := &testgen.Test{}
	for i, name := range in.Calls {
		c, err := b.call(name, in.Args[i])
		if err != nil {
			return nil, err
		}
		t.Calls = append(t.Calls, c)
		t.Expect = append(t.Expect, b.expect(name, in.Args[i], in.Results[i]))
	}
	t.Setup = b.setup()
	if err := b.ev.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

func b01(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

func (b *builder) data(l Data, record bool) []int64 {
	var n int64
	if record {
		n = b.ev.Int(l.Len())
	} else {
		n = b.ev.PeekInt(l.Len())
	}
	if n < 0 || n > DataCap {
		b.failf("data length %d out of range", n)
		return nil
	}
	out := make([]int64, n)
	for i, d := range l.Elems()[:n] {
		if record {
			out[i] = int64(b.ev.Class(gData, d))
		} else {
			out[i] = int64(b.ev.PeekClass(gData, d))
		}
	}
	return out
}

func (b *builder) failf(format string, args ...any) {
	b.ev.Fail(fmt.Errorf("posix builder: "+format, args...))
}

// walkState evaluates every observed entry of the initial state.
func (b *builder) walkState() {
	ev := b.ev
	for _, o := range b.s.Dir.Observed() {
		name := ev.Class(gFn, o.Key)
		if !ev.Bool(o.Valid) {
			continue
		}
		if _, dup := b.files[name]; !dup {
			b.files[name] = ev.Class(gInum, o.Val)
		}
	}
	for pid := range b.s.Procs {
		pr := &b.s.Procs[pid]
		b.fds[pid] = map[int64]fdRec{}
		for _, o := range pr.Fds.Observed() {
			fd := ev.IntClass(gFd, o.Key)
			if !ev.Bool(o.Valid) {
				continue
			}
			if _, dup := b.fds[pid][fd]; dup {
				continue
			}
			f := o.Val
			r := fdRec{pipe: ev.Bool(f.IsPipe)}
			if r.pipe {
				r.id = ev.Class(gPipe, f.Pipe)
				r.writer = ev.Bool(f.Writer)
			} else {
				r.id = ev.Class(gInum, f.Inum)
				r.off = ev.Int(f.Off)
			}
			b.fds[pid][fd] = r
		}
		b.maps[pid] = map[int]mapRec{}
		for _, o := range pr.Vas.Observed() {
			va := ev.Class(gVa, o.Key)
			if !ev.Bool(o.Valid) {
				continue
			}
			if _, dup := b.maps[pid][va]; dup {
				continue
			}
			v := o.Val
			r := mapRec{anon: ev.Bool(v.Anon), writable: ev.Bool(v.Writable)}
			if r.anon {
				r.data = int64(ev.Class(gData, v.AnonData))
			} else {
				r.ino = ev.Class(gInum, v.Inum)
				r.off = ev.Int(v.Off)
			}
			b.maps[pid][va] = r
		}
	}
	// Inodes and pipes: observed contents first, then defaults for those
	// only referenced.
	for _, o := range b.s.IMap.Observed() {
		ino := ev.PeekClass(gInum, o.Key)
		if _, dup := b.inodes[ino]; dup {
			continue
		}
		b.inodes[ino] = &inodeRec{observed: true, nlink: ev.Int(o.Val.Nlink), data: b.data(o.Val.Data, true)}
	}
	for _, o := range b.s.Pipes.Observed() {
		id := ev.PeekClass(gPipe, o.Key)
		if _, dup := b.pipes[id]; dup {
			continue
		}
		b.pipes[id] = &pipeRec{observed: true, readers: ev.Int(o.Val.Readers), writers: ev.Int(o.Val.Writers), data: b.data(o.Val.Data, true)}
	}
}

// setup lays out the referenced objects. Unreferenced observed inodes and
// pipes (free ones the model allocated) are left out.
func (b *builder) setup() []testgen.Record {
	refIno := map[int]bool{}
	refPipe := map[int]bool{}
	links := map[int]int64{}
	ends := map[[2]int]int64{}
	for _, ino := range b.files {
		refIno[ino] = true
		links[ino]++
	}
	for pid := range b.fds {
		for _, f := range b.fds[pid] {
			if f.pipe {
				refPipe[f.id] = true
				ends[[2]int{f.id, int(b01(f.writer))}]++
			} else {
				refIno[f.id] = true
			}
		}
		for _, m := range b.maps[pid] {
			if !m.anon {
				refIno[m.ino] = true
			}
		}
	}
	var out []testgen.Record
	for _, ino := range sortedKeys(refIno) {
		r := b.inodes[ino]
		if r == nil {
			r = &inodeRec{nlink: links[ino]}
		}
		if r.nlink < links[ino] {
			b.failf("inode %d has nlink %d but %d names", ino, r.nlink, links[ino])
		}
		fields := []testgen.Field{testgen.F("ino", int64(ino)), testgen.F("nlink", r.nlink), testgen.F("len", int64(len(r.data)))}
		for _, d := range r.data {
			fields = append(fields, testgen.F("data", d))
		}
		out = append(out, testgen.Record{Kind: "inode", Fields: fields})
	}
	for _, name := range sortedKeys(b.files) {
		out = append(out, testgen.Record{Kind: "file", Fields: []testgen.Field{testgen.F("name", int64(name)), testgen.F("ino", int64(b.files[name]))}})
	}
	for _, id := range sortedKeys(refPipe) {
		r := b.pipes[id]
		if r == nil {
			r = &pipeRec{readers: ends[[2]int{id, 0}], writers: ends[[2]int{id, 1}]}
		}
		fields := []testgen.Field{testgen.F("id", int64(id)), testgen.F("readers", r.readers), testgen.F("writers", r.writers), testgen.F("len", int64(len(r.data)))}
		for _, d := range r.data {
			fields = append(fields, testgen.F("data", d))
		}
		out = append(out, testgen.Record{Kind: "pipe", Fields: fields})
	}
	for pid := range b.fds {
		for _, fd := range sortedKeys(b.fds[pid]) {
			f := b.fds[pid][fd]
			if f.pipe {
				out = append(out, testgen.Record{Kind: "pipefd", Fields: []testgen.Field{
					testgen.F("pid", int64(pid)), testgen.F("fd", fd), testgen.F("pipe", int64(f.id)), testgen.FB("writer", f.writer)}})
			} else {
				out = append(out, testgen.Record{Kind: "fd", Fields: []testgen.Field{
					testgen.F("pid", int64(pid)), testgen.F("fd", fd), testgen.F("ino", int64(f.id)), testgen.F("off", f.off)}})
			}
		}
	}
	for pid := range b.maps {
		for _, va := range sortedKeys(b.maps[pid]) {
			m := b.maps[pid][va]
			fields := []testgen.Field{testgen.F("pid", int64(pid)), testgen.F("va", int64(va)), testgen.FB("anon", m.anon), testgen.FB("writable", m.writable)}
			if m.anon {
				fields = append(fields, testgen.F("data", m.data))
			} else {
				fields = append(fields, testgen.F("ino", int64(m.ino)), testgen.F("off", m.off))
			}
			out = append(out, testgen.Record{Kind: "map", Fields: fields})
		}
	}
	return out
}

func sortedKeys[K int | int64, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// call evaluates a call's arguments.
func (b *builder) call(name string, args any) (testgen.Call, error) {
	ev := b.ev
	c := testgen.Call{Name: name}
	add := func(k string, v int64) { c.Args = append(c.Args, testgen.F(k, v)) }
	pid := func(a ProcArg) { add("pid", b01(ev.Bool(a.Pid))) }
	fn := func(k string, v Fn) { add(k, int64(ev.Class(gFn, v))) }
	fd := func(v sym.Int) { add("fd", ev.IntClass(gFd, v)) }
	switch a := args.(type) {
	case OpenArgs:
		pid(a.ProcArg)
		fn("pn", a.Pn)
		add("creat", b01(ev.Bool(a.Creat)))
		add("excl", b01(ev.Bool(a.Excl)))
		add("trunc", b01(ev.Bool(a.Trunc)))
	case LinkArgs:
		pid(a.ProcArg)
		fn("old", a.Old)
		fn("new", a.New)
	case PathArgs:
		pid(a.ProcArg)
		fn("pn", a.Pn)
	case RenameArgs:
		pid(a.ProcArg)
		fn("src", a.Src)
		fn("dst", a.Dst)
	case FdArgs:
		pid(a.ProcArg)
		fd(a.Fd)
	case LseekArgs:
		pid(a.ProcArg)
		fd(a.Fd)
		add("off", ev.Int(a.Off))
		add("whence", ev.Int(a.Whence))
	case FdlessArgs:
		pid(a.ProcArg)
	case WriteArgs:
		pid(a.ProcArg)
		fd(a.Fd)
		add("data", int64(ev.Class(gData, a.Data)))
	case PreadArgs:
		pid(a.ProcArg)
		fd(a.Fd)
		add("off", ev.Int(a.Off))
	case PwriteArgs:
		pid(a.ProcArg)
		fd(a.Fd)
		add("off", ev.Int(a.Off))
		add("data", int64(ev.Class(gData, a.Data)))
	case MmapArgs:
		pid(a.ProcArg)
		add("va", int64(ev.Class(gVa, a.Va)))
		add("fixed", b01(ev.Bool(a.Fixed)))
		add("anon", b01(ev.Bool(a.Anon)))
		add("writable", b01(ev.Bool(a.Writable)))
		fd(a.Fd)
		add("off", ev.Int(a.Off))
	case VaArgs:
		pid(a.ProcArg)
		add("va", int64(ev.Class(gVa, a.Va)))
	case MprotectArgs:
		pid(a.ProcArg)
		add("va", int64(ev.Class(gVa, a.Va)))
		add("writable", b01(ev.Bool(a.Writable)))
	case MemwriteArgs:
		pid(a.ProcArg)
		add("va", int64(ev.Class(gVa, a.Va)))
		add("data", int64(ev.Class(gData, a.Data)))
	default:
		return c, fmt.Errorf("posix builder: unexpected arguments %T for %s", args, name)
	}
	return c, nil
}

// expect evaluates a call's result. Values the implementation chooses
// (inode numbers, addresses picked by a non-fixed mmap) are left out.
func (b *builder) expect(name string, args any, r sym.Result) testgen.Expect {
	ev := b.ev
	var e testgen.Expect
	for _, f := range r.Fields() {
		var v int64
		switch f.Name {
		case "ino":
			continue
		case "data":
			v = int64(ev.PeekClass(gData, f.Val.(DataVal)))
		case "va":
			if a, ok := args.(MmapArgs); !ok || !ev.PeekBool(a.Fixed) {
				continue
			}
			v = int64(ev.PeekClass(gVa, f.Val.(Va)))
		default:
			v = ev.PeekInt(f.Val.(sym.Int))
		}
		e.Fields = append(e.Fields, testgen.F(f.Name, v))
	}
	return e
}
