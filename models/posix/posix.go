// Package posix is Commuter's POSIX file system and virtual memory model
// in Go: one directory, two processes, and the 18 calls open, link,
// unlink, rename, stat, fstat, lseek, close, pipe, read, write, pread,
// pwrite, mmap, munmap, mprotect, memread and memwrite, with POSIX
// semantics (lowest free descriptor, errno results, SIGSEGV and SIGBUS for
// bad memory accesses).
//
// Differences from Commuter's models/fs.py, and why:
//
//   - No timestamps. Commuter gives every call an internal clock value
//     only constrained to be at least the old timestamp; an unchanged
//     clock always satisfies that, so timestamps never decide
//     commutativity, and tests cannot check them.
//   - The lowest free descriptor is computed over the descriptors
//     0..FdLimit-1 instead of with a quantifier, so every query is
//     quantifier-free; tests lay out exactly those descriptors.
//   - Pipes count their open read and write ends, so closing the last
//     writer turns an EAGAIN read into end-of-file, and tests know how
//     many unlisted ("hidden") ends to create.
//   - rename of two names of the same file does nothing, as POSIX says.
//   - Anonymous memory reads as zero, rather than as an unknown value.
//   - Offsets and sizes count units of testgen.PosixUnit bytes; the data
//     value of a unit is its first byte.
//
// The test builder (build.go) turns models into testgen records, and
// CheckTest (concrete.go) replays a test on a concrete implementation of
// the same semantics, to check that generated tests are self-consistent.
package posix

import (
	"github.com/crewvm/crewvm/models/commute"
	"github.com/crewvm/crewvm/models/sym"
	"github.com/crewvm/crewvm/models/testgen"
)

// Model limits.
const (
	FdLimit   = testgen.PosixFdLimit // descriptors the model reasons about
	DataCap   = 8                    // units per file or pipe
	MaxHidden = 2                    // extra names or pipe ends beyond those a test lists
)

// Linux errno and signal values used in results.
const (
	ENOENT  = 2
	EBADF   = 9
	EAGAIN  = 11
	ENOMEM  = 12
	EACCES  = 13
	EEXIST  = 17
	ENODEV  = 19
	EINVAL  = 22
	ESPIPE  = 29
	EPIPE   = 32
	SIGBUS  = testgen.PosixSIGBUS
	SIGSEGV = testgen.PosixSIGSEGV
)

// Sorts of the model's identities.
type (
	FnSort   struct{} // file names
	InumSort struct{} // inode numbers
	DataSort struct{} // data values (one per unit)
	VaSort   struct{} // virtual page addresses
	PipeSort struct{} // pipe identities
)

// SortName names the sort.
func (FnSort) SortName() string { return "Fn" }

// SortName names the sort.
func (InumSort) SortName() string { return "Inum" }

// SortName names the sort.
func (DataSort) SortName() string { return "Data" }

// SortName names the sort.
func (VaSort) SortName() string { return "Va" }

// SortName names the sort.
func (PipeSort) SortName() string { return "Pipe" }

// Symbolic identity types.
type (
	Fn      = sym.U[FnSort]
	Inum    = sym.U[InumSort]
	DataVal = sym.U[DataSort]
	Va      = sym.U[VaSort]
	PipeID  = sym.U[PipeSort]
)

// Data is the contents of a file or pipe, in units.
type Data = sym.List[DataVal, sym.Cap8]

// Inode is a file.
type Inode struct {
	Data  Data
	Nlink sym.Int
}

// Invariant: link counts are not negative.
func (i Inode) Invariant(p *sym.Path) sym.Bool { return i.Nlink.GeN(0) }

// Pipe is a pipe buffer and the number of descriptors open on each end.
type Pipe struct {
	Data    Data
	Readers sym.Int
	Writers sym.Int
}

// Invariant: counts are not negative.
func (q Pipe) Invariant(p *sym.Path) sym.Bool { return q.Readers.GeN(0).And(q.Writers.GeN(0)) }

// Fd is an open descriptor: a file with an offset, or one end of a pipe.
type Fd struct {
	IsPipe sym.Bool
	Pipe   PipeID
	Writer sym.Bool
	Inum   Inum
	Off    sym.Int
}

// Invariant bounds offsets to the model's file size.
func (f Fd) Invariant(p *sym.Path) sym.Bool { return f.Off.GeN(0).And(f.Off.LeN(DataCap)) }

// Equal compares only the fields that matter for the descriptor's kind.
func (f Fd) Equal(o Fd) sym.Bool {
	return f.IsPipe.Eq(o.IsPipe).And(
		f.IsPipe.Implies(f.Pipe.Eq(o.Pipe).And(f.Writer.Eq(o.Writer))),
		f.IsPipe.Not().Implies(f.Inum.Eq(o.Inum).And(f.Off.Eq(o.Off))))
}

// VMA is a one-page mapping: anonymous memory, or a shared mapping of
// one unit of a file.
type VMA struct {
	Anon     sym.Bool
	Writable sym.Bool
	Inum     Inum
	Off      sym.Int
	AnonData DataVal
}

// Invariant bounds file offsets to the model's file size.
func (v VMA) Invariant(p *sym.Path) sym.Bool { return v.Off.GeN(0).And(v.Off.LtN(DataCap)) }

// Equal compares only the fields that matter for the mapping's kind.
func (v VMA) Equal(o VMA) sym.Bool {
	return v.Anon.Eq(o.Anon).And(v.Writable.Eq(o.Writable),
		v.Anon.Implies(v.AnonData.Eq(o.AnonData)),
		v.Anon.Not().Implies(v.Inum.Eq(o.Inum).And(v.Off.Eq(o.Off))))
}

// Proc is a process: its descriptor table and address space.
type Proc struct {
	Fds sym.Dict[sym.Int, Fd]
	Vas sym.Dict[Va, VMA]
}

// Fs is the whole state: one directory, the inodes, the pipes and two
// processes.
type Fs struct {
	Dir   sym.Dict[Fn, Inum]
	IMap  sym.Map[Inum, Inode]
	Pipes sym.Map[PipeID, Pipe]
	Procs [2]Proc
}

// Model returns the POSIX model.
func Model() *commute.Spec[Fs] {
	return &commute.Spec[Fs]{
		Name: "posix",
		Doc:  "Commuter's POSIX file system and virtual memory model: one directory, two processes, 18 calls",
		Calls: []commute.Call[Fs]{
			commute.NewCall("open", "open(pn, O_RDWR [|O_CREAT|O_EXCL|O_TRUNC]) in process pid", (*Fs).Open),
			commute.NewCall("link", "link(old, new)", (*Fs).Link),
			commute.NewCall("unlink", "unlink(pn)", (*Fs).Unlink),
			commute.NewCall("rename", "rename(src, dst)", (*Fs).Rename),
			commute.NewCall("stat", "stat(pn): size and link count", (*Fs).Stat),
			commute.NewCall("fstat", "fstat(fd): size and link count, or fifo", (*Fs).Fstat),
			commute.NewCall("lseek", "lseek(fd, off, whence)", (*Fs).Lseek),
			commute.NewCall("close", "close(fd)", (*Fs).Close),
			commute.NewCall("pipe", "pipe(fds): lowest two free descriptors", (*Fs).Pipe),
			commute.NewCall("read", "read one unit from fd (non-blocking for pipes)", (*Fs).Read),
			commute.NewCall("write", "write one unit to fd", (*Fs).Write),
			commute.NewCall("pread", "pread one unit at off", (*Fs).Pread),
			commute.NewCall("pwrite", "pwrite one unit at off", (*Fs).Pwrite),
			commute.NewCall("mmap", "mmap one page, anonymous or MAP_SHARED of a file unit, at va if fixed", (*Fs).Mmap),
			commute.NewCall("munmap", "munmap the page at va", (*Fs).Munmap),
			commute.NewCall("mprotect", "mprotect the page at va read-only or read-write", (*Fs).Mprotect),
			commute.NewCall("memread", "load the first byte of the page at va", (*Fs).Memread),
			commute.NewCall("memwrite", "store a data value at the page at va", (*Fs).Memwrite),
		},
		Init:   initFs,
		Finish: finishFs,
		Build:  build,
		Params: []testgen.Field{testgen.F("unit", testgen.PosixUnit), testgen.F("fd_limit", FdLimit)},
	}
}

// initFs states what holds for every descriptor table entry.
func initFs(p *sym.Path, s *Fs) {
	for i := range s.Procs {
		s.Procs[i].Fds.ForAll(p, func(k sym.Int, _ Fd) sym.Bool { return k.GeN(0).And(k.LtN(FdLimit)) })
	}
}

// finishFs assumes the aggregate invariants that make a test realisable:
// an inode has at least as many links as the names the path saw for it,
// and a pipe at least as many open ends as the descriptors the path saw.
// The upper bounds keep the unlisted names and ends a test must create
// few.
func finishFs(p *sym.Path, s *Fs) {
	dir := s.Dir.Observed()
	for _, o := range s.IMap.Observed() {
		var links []sym.Int
		for j, d := range dir {
			c := []sym.Bool{d.Valid, d.Val.Eq(o.Key)}
			for _, prev := range dir[:j] {
				c = append(c, prev.Key.Ne(d.Key))
			}
			links = append(links, sym.Ite(p, p.And(c...), p.Int(1), p.Int(0)))
		}
		n := sum(p, links)
		p.AssumeInvariant(o.Val.Nlink.Ge(n).And(o.Val.Nlink.Le(n.AddN(MaxHidden))))
	}
	for _, o := range s.Pipes.Observed() {
		var readers, writers []sym.Int
		for i := range s.Procs {
			fds := s.Procs[i].Fds.Observed()
			for j, d := range fds {
				c := []sym.Bool{d.Valid, d.Val.IsPipe, d.Val.Pipe.Eq(o.Key)}
				for _, prev := range fds[:j] {
					c = append(c, prev.Key.Ne(d.Key))
				}
				readers = append(readers, sym.Ite(p, p.And(append(c, d.Val.Writer.Not())...), p.Int(1), p.Int(0)))
				writers = append(writers, sym.Ite(p, p.And(append(c, d.Val.Writer)...), p.Int(1), p.Int(0)))
			}
		}
		r, w := sum(p, readers), sum(p, writers)
		p.AssumeInvariant(o.Val.Readers.Ge(r).And(o.Val.Readers.Le(r.AddN(MaxHidden)),
			o.Val.Writers.Ge(w), o.Val.Writers.Le(w.AddN(MaxHidden))))
	}
}

func sum(p *sym.Path, xs []sym.Int) sym.Int {
	s := p.Int(0)
	for _, x := range xs {
		s = s.Add(x)
	}
	return s
}

// Argument structs. Every call runs in a process; Pid false is process 0.

// ProcArg selects the process a call runs in.
type ProcArg struct{ Pid sym.Bool }

// NormalizeSlot runs the first call in process 0: with two symmetric
// processes this loses no generality and halves the paths.
func (a *ProcArg) NormalizeSlot(p *sym.Path, slot int) {
	if slot == 0 {
		a.Pid = p.False()
	}
}

// OpenArgs are the arguments of open.
type OpenArgs struct {
	ProcArg
	Pn                 Fn
	Creat, Excl, Trunc sym.Bool
}

// LinkArgs are the arguments of link.
type LinkArgs struct {
	ProcArg
	Old, New Fn
}

// PathArgs are the arguments of unlink and stat.
type PathArgs struct {
	ProcArg
	Pn Fn
}

// RenameArgs are the arguments of rename.
type RenameArgs struct {
	ProcArg
	Src, Dst Fn
}

// FdArgs are the arguments of fstat, close and read.
type FdArgs struct {
	ProcArg
	Fd sym.Int
}

// Invariant: descriptor arguments are among those the model tracks.
func (a FdArgs) Invariant(p *sym.Path) sym.Bool { return fdRange(a.Fd) }

func fdRange(fd sym.Int) sym.Bool { return fd.GeN(0).And(fd.LtN(FdLimit)) }

// LseekArgs are the arguments of lseek. Whence is SEEK_SET (0), SEEK_CUR
// (1) or SEEK_END (2).
type LseekArgs struct {
	ProcArg
	Fd, Off, Whence sym.Int
}

// Invariant bounds the arguments.
func (a LseekArgs) Invariant(p *sym.Path) sym.Bool {
	return fdRange(a.Fd).And(a.Off.GeN(-DataCap), a.Off.LeN(DataCap), a.Whence.GeN(0), a.Whence.LeN(2))
}

// WriteArgs are the arguments of write.
type WriteArgs struct {
	ProcArg
	Fd   sym.Int
	Data DataVal
}

// Invariant bounds the descriptor.
func (a WriteArgs) Invariant(p *sym.Path) sym.Bool { return fdRange(a.Fd) }

// PreadArgs are the arguments of pread.
type PreadArgs struct {
	ProcArg
	Fd, Off sym.Int
}

// Invariant bounds the arguments.
func (a PreadArgs) Invariant(p *sym.Path) sym.Bool {
	return fdRange(a.Fd).And(a.Off.GeN(0), a.Off.LeN(DataCap))
}

// PwriteArgs are the arguments of pwrite.
type PwriteArgs struct {
	ProcArg
	Fd, Off sym.Int
	Data    DataVal
}

// Invariant bounds the arguments.
func (a PwriteArgs) Invariant(p *sym.Path) sym.Bool {
	return fdRange(a.Fd).And(a.Off.GeN(0), a.Off.LeN(DataCap))
}

// MmapArgs are the arguments of mmap.
type MmapArgs struct {
	ProcArg
	Anon, Writable, Fixed sym.Bool
	Va                    Va
	Fd, Off               sym.Int
}

// Invariant bounds the arguments.
func (a MmapArgs) Invariant(p *sym.Path) sym.Bool {
	return fdRange(a.Fd).And(a.Off.GeN(0), a.Off.LtN(DataCap))
}

// VaArgs are the arguments of munmap and memread.
type VaArgs struct {
	ProcArg
	Va Va
}

// MprotectArgs are the arguments of mprotect.
type MprotectArgs struct {
	ProcArg
	Va       Va
	Writable sym.Bool
}

// MemwriteArgs are the arguments of memwrite.
type MemwriteArgs struct {
	ProcArg
	Va   Va
	Data DataVal
}

// Helpers.

func (s *Fs) proc(e commute.Env, pid sym.Bool) *Proc {
	if e.If(pid) {
		return &s.Procs[1]
	}
	return &s.Procs[0]
}

// fd looks descriptor fd up in process pid; open is false (and the
// caller fails with EBADF) when the descriptor is not open.
func (s *Fs) fd(e commute.Env, pid sym.Bool, fd sym.Int) (pr *Proc, f Fd, open bool) {
	pr = s.proc(e, pid)
	if !e.If(pr.Fds.Contains(fd)) {
		return pr, f, false
	}
	return pr, pr.Fds.Get(fd), true
}

func fail(e commute.Env, errno int64) sym.Result {
	return e.Result().Int("r", -1).Int("errno", errno)
}

func ok(e commute.Env) sym.Result { return e.Result().Int("r", 0) }

// zero is the data value of fresh anonymous memory.
func zero(p *sym.Path) DataVal { return sym.Fresh[DataVal](p, "zero") }

// lowestFd returns the lowest free descriptor of pr, assuming one of the
// tracked descriptors is free.
func lowestFd(e commute.Env, pr *Proc) sym.Int {
	free := make([]sym.Bool, FdLimit)
	for i := range free {
		free[i] = pr.Fds.Contains(e.Int(int64(i))).Not()
	}
	e.AssumeInvariant(e.Or(free...))
	fd := e.Int(FdLimit - 1)
	for i := FdLimit - 2; i >= 0; i-- {
		fd = sym.Ite(e.Path, free[i], e.Int(int64(i)), fd)
	}
	return fd
}

// allocInum chooses an inode number no name, descriptor or mapping
// refers to. Which one is an implementation choice.
func (s *Fs) allocInum(e commute.Env) Inum {
	p := e.Path
	ino := sym.Internal[Inum](p, "inum")
	s.Dir.ForAll(p, func(_ Fn, v Inum) sym.Bool { return v.Ne(ino) })
	for i := range s.Procs {
		s.Procs[i].Fds.ForAll(p, func(_ sym.Int, f Fd) sym.Bool { return f.IsPipe.Or(f.Inum.Ne(ino)) })
		s.Procs[i].Vas.ForAll(p, func(_ Va, v VMA) sym.Bool { return v.Anon.Or(v.Inum.Ne(ino)) })
	}
	return ino
}

// allocPipe chooses a pipe identity no descriptor refers to.
func (s *Fs) allocPipe(e commute.Env) PipeID {
	p := e.Path
	id := sym.Internal[PipeID](p, "pipe")
	for i := range s.Procs {
		s.Procs[i].Fds.ForAll(p, func(_ sym.Int, f Fd) sym.Bool { return f.IsPipe.Not().Or(f.Pipe.Ne(id)) })
	}
	return id
}

// fileFd is a new descriptor for inode ino at offset 0. Fields that do not
// matter for files get internal values.
func fileFd(e commute.Env, ino Inum) Fd {
	return Fd{IsPipe: e.False(), Inum: ino, Off: e.Int(0),
		Pipe: sym.Internal[PipeID](e.Path, "junk"), Writer: sym.Internal[sym.Bool](e.Path, "junk")}
}

func pipeFd(e commute.Env, id PipeID, writer bool) Fd {
	return Fd{IsPipe: e.True(), Pipe: id, Writer: e.Bool(writer),
		Inum: sym.Internal[Inum](e.Path, "junk"), Off: sym.Internal[sym.Int](e.Path, "junk")}
}

// The calls.

// Open opens (and maybe creates or truncates) a file read-write.
func (s *Fs) Open(e commute.Env, a OpenArgs) sym.Result {
	pr := s.proc(e, a.Pid)
	var ino Inum
	if e.If(s.Dir.Contains(a.Pn)) {
		if e.If(a.Creat.And(a.Excl)) {
			return fail(e, EEXIST)
		}
		ino = s.Dir.Get(a.Pn)
		if e.If(a.Trunc) {
			node := s.IMap.Get(ino)
			node.Data = node.Data.Truncate(e.Int(0))
			s.IMap.Set(ino, node)
		}
	} else {
		if !e.If(a.Creat) {
			return fail(e, ENOENT)
		}
		ino = s.allocInum(e)
		node := s.IMap.Get(ino)
		node.Data = node.Data.Truncate(e.Int(0))
		node.Nlink = e.Int(1)
		s.IMap.Set(ino, node)
		s.Dir.Set(a.Pn, ino)
	}
	fd := lowestFd(e, pr)
	pr.Fds.Set(fd, fileFd(e, ino))
	return e.Result().With("r", fd)
}

// Link adds the name new for the file old.
func (s *Fs) Link(e commute.Env, a LinkArgs) sym.Result {
	if !e.If(s.Dir.Contains(a.Old)) {
		return fail(e, ENOENT)
	}
	if e.If(s.Dir.Contains(a.New)) {
		return fail(e, EEXIST)
	}
	ino := s.Dir.Get(a.Old)
	s.Dir.Set(a.New, ino)
	node := s.IMap.Get(ino)
	node.Nlink = node.Nlink.AddN(1)
	s.IMap.Set(ino, node)
	return ok(e)
}

// Unlink removes a name.
func (s *Fs) Unlink(e commute.Env, a PathArgs) sym.Result {
	if !e.If(s.Dir.Contains(a.Pn)) {
		return fail(e, ENOENT)
	}
	ino := s.Dir.Get(a.Pn)
	s.Dir.Delete(a.Pn)
	node := s.IMap.Get(ino)
	node.Nlink = node.Nlink.SubN(1)
	s.IMap.Set(ino, node)
	return ok(e)
}

// Rename moves a name, replacing the destination.
func (s *Fs) Rename(e commute.Env, a RenameArgs) sym.Result {
	if !e.If(s.Dir.Contains(a.Src)) {
		return fail(e, ENOENT)
	}
	if e.If(a.Src.Eq(a.Dst)) {
		return ok(e)
	}
	src := s.Dir.Get(a.Src)
	if e.If(s.Dir.Contains(a.Dst)) {
		dst := s.Dir.Get(a.Dst)
		if e.If(dst.Eq(src)) {
			return ok(e) // two names of one file: POSIX says do nothing
		}
		node := s.IMap.Get(dst)
		node.Nlink = node.Nlink.SubN(1)
		s.IMap.Set(dst, node)
	}
	s.Dir.Set(a.Dst, src)
	s.Dir.Delete(a.Src)
	return ok(e)
}

func (s *Fs) istat(e commute.Env, ino Inum) sym.Result {
	node := s.IMap.Get(ino)
	return e.Result().Int("r", 0).With("ino", ino).With("size", node.Data.Len()).With("nlink", node.Nlink)
}

// Stat reports a file's inode number, size and link count.
func (s *Fs) Stat(e commute.Env, a PathArgs) sym.Result {
	if !e.If(s.Dir.Contains(a.Pn)) {
		return fail(e, ENOENT)
	}
	return s.istat(e, s.Dir.Get(a.Pn))
}

// Fstat is stat on a descriptor; pipes report only that they are FIFOs.
func (s *Fs) Fstat(e commute.Env, a FdArgs) sym.Result {
	_, f, open := s.fd(e, a.Pid, a.Fd)
	if !open {
		return fail(e, EBADF)
	}
	if e.If(f.IsPipe) {
		return e.Result().Int("r", 0).Int("fifo", 1)
	}
	return s.istat(e, f.Inum)
}

// Lseek moves a file offset.
func (s *Fs) Lseek(e commute.Env, a LseekArgs) sym.Result {
	pr, f, open := s.fd(e, a.Pid, a.Fd)
	if !open {
		return fail(e, EBADF)
	}
	if e.If(f.IsPipe) {
		return fail(e, ESPIPE)
	}
	var off sym.Int
	switch {
	case e.If(a.Whence.EqN(0)):
		off = a.Off
	case e.If(a.Whence.EqN(1)):
		off = f.Off.Add(a.Off)
	default:
		off = s.IMap.Get(f.Inum).Data.Len().Add(a.Off)
	}
	if e.If(off.LtN(0)) {
		return fail(e, EINVAL)
	}
	f.Off = off
	pr.Fds.Set(a.Fd, f)
	return e.Result().With("r", off)
}

// Close closes a descriptor.
func (s *Fs) Close(e commute.Env, a FdArgs) sym.Result {
	pr, f, open := s.fd(e, a.Pid, a.Fd)
	if !open {
		return fail(e, EBADF)
	}
	if e.If(f.IsPipe) {
		q := s.Pipes.Get(f.Pipe)
		if e.If(f.Writer) {
			q.Writers = q.Writers.SubN(1)
		} else {
			q.Readers = q.Readers.SubN(1)
		}
		s.Pipes.Set(f.Pipe, q)
	}
	pr.Fds.Delete(a.Fd)
	return ok(e)
}

// Pipe creates a pipe on the two lowest free descriptors.
func (s *Fs) Pipe(e commute.Env, a FdlessArgs) sym.Result {
	pr := s.proc(e, a.Pid)
	id := s.allocPipe(e)
	q := s.Pipes.Get(id)
	q.Data = q.Data.Truncate(e.Int(0))
	q.Readers, q.Writers = e.Int(1), e.Int(1)
	s.Pipes.Set(id, q)
	r := lowestFd(e, pr)
	pr.Fds.Set(r, pipeFd(e, id, false))
	w := lowestFd(e, pr)
	pr.Fds.Set(w, pipeFd(e, id, true))
	return e.Result().Int("r", 0).With("fd0", r).With("fd1", w)
}

// FdlessArgs are the arguments of pipe.
type FdlessArgs struct{ ProcArg }

// iread reads the unit at off of inode ino.
func (s *Fs) iread(e commute.Env, ino Inum, off sym.Int) (sym.Bool, DataVal) {
	data := s.IMap.Get(ino).Data
	if e.If(off.Ge(data.Len())) {
		return e.False(), DataVal{}
	}
	return e.True(), data.Get(off)
}

// iwrite writes the unit at off of inode ino. The model does not create
// holes: off is at most the file size.
func (s *Fs) iwrite(e commute.Env, ino Inum, off sym.Int, d DataVal) {
	node := s.IMap.Get(ino)
	e.AssumeInvariant(off.LtN(DataCap).And(off.Le(node.Data.Len())))
	if e.If(off.Eq(node.Data.Len())) {
		node.Data = node.Data.Append(d)
	} else {
		node.Data = node.Data.Set(off, d)
	}
	s.IMap.Set(ino, node)
}

// Read reads one unit.
func (s *Fs) Read(e commute.Env, a FdArgs) sym.Result {
	pr, f, open := s.fd(e, a.Pid, a.Fd)
	if !open {
		return fail(e, EBADF)
	}
	if e.If(f.IsPipe) {
		if e.If(f.Writer) {
			return fail(e, EBADF)
		}
		q := s.Pipes.Get(f.Pipe)
		if e.If(q.Data.Len().EqN(0)) {
			if e.If(q.Writers.GtN(0)) {
				return fail(e, EAGAIN)
			}
			return e.Result().Int("r", 0)
		}
		d, rest := q.Data.PopFront()
		q.Data = rest
		s.Pipes.Set(f.Pipe, q)
		return e.Result().Int("r", 1).With("data", d)
	}
	got, d := s.iread(e, f.Inum, f.Off)
	if !e.If(got) {
		return e.Result().Int("r", 0)
	}
	f.Off = f.Off.AddN(1)
	pr.Fds.Set(a.Fd, f)
	return e.Result().Int("r", 1).With("data", d)
}

// Write writes one unit.
func (s *Fs) Write(e commute.Env, a WriteArgs) sym.Result {
	pr, f, open := s.fd(e, a.Pid, a.Fd)
	if !open {
		return fail(e, EBADF)
	}
	if e.If(f.IsPipe) {
		if !e.If(f.Writer) {
			return fail(e, EBADF)
		}
		q := s.Pipes.Get(f.Pipe)
		if e.If(q.Readers.EqN(0)) {
			return fail(e, EPIPE)
		}
		q.Data = q.Data.Append(a.Data)
		s.Pipes.Set(f.Pipe, q)
		return e.Result().Int("r", 1)
	}
	s.iwrite(e, f.Inum, f.Off, a.Data)
	f.Off = f.Off.AddN(1)
	pr.Fds.Set(a.Fd, f)
	return e.Result().Int("r", 1)
}

// Pread reads one unit at an offset.
func (s *Fs) Pread(e commute.Env, a PreadArgs) sym.Result {
	_, f, open := s.fd(e, a.Pid, a.Fd)
	if !open {
		return fail(e, EBADF)
	}
	if e.If(f.IsPipe) {
		return fail(e, ESPIPE)
	}
	got, d := s.iread(e, f.Inum, a.Off)
	if !e.If(got) {
		return e.Result().Int("r", 0)
	}
	return e.Result().Int("r", 1).With("data", d)
}

// Pwrite writes one unit at an offset.
func (s *Fs) Pwrite(e commute.Env, a PwriteArgs) sym.Result {
	_, f, open := s.fd(e, a.Pid, a.Fd)
	if !open {
		return fail(e, EBADF)
	}
	if e.If(f.IsPipe) {
		return fail(e, ESPIPE)
	}
	s.iwrite(e, f.Inum, a.Off, a.Data)
	return e.Result().Int("r", 1)
}

// Mmap maps one page.
func (s *Fs) Mmap(e commute.Env, a MmapArgs) sym.Result {
	p := e.Path
	pr := s.proc(e, a.Pid)
	va := a.Va
	if !e.If(a.Fixed) {
		va = sym.Internal[Va](p, "va")
		e.AssumeInvariant(pr.Vas.Contains(va).Not())
	}
	v := VMA{Anon: a.Anon, Writable: a.Writable}
	if e.If(a.Anon) {
		v.AnonData = zero(p)
		v.Inum, v.Off = sym.Internal[Inum](p, "junk"), sym.Internal[sym.Int](p, "junk")
	} else {
		if !e.If(pr.Fds.Contains(a.Fd)) {
			return fail(e, EBADF)
		}
		f := pr.Fds.Get(a.Fd)
		if e.If(f.IsPipe) {
			// Linux checks the descriptor's access mode before asking the
			// file whether it can be mapped: a pipe's write end is not
			// open for reading, and its read end not for writing, so only
			// the read end mapped read-only gets as far as ENODEV.
			if e.If(p.Or(f.Writer, a.Writable)) {
				return fail(e, EACCES)
			}
			return fail(e, ENODEV)
		}
		v.Inum, v.Off = f.Inum, a.Off
		v.AnonData = sym.Internal[DataVal](p, "junk")
	}
	pr.Vas.Set(va, v)
	return e.Result().Int("r", 0).With("va", va)
}

// Munmap unmaps a page; unmapping an unmapped page succeeds.
func (s *Fs) Munmap(e commute.Env, a VaArgs) sym.Result {
	pr := s.proc(e, a.Pid)
	pr.Vas.Delete(a.Va)
	return ok(e)
}

// Mprotect makes a mapped page read-only or read-write.
func (s *Fs) Mprotect(e commute.Env, a MprotectArgs) sym.Result {
	pr := s.proc(e, a.Pid)
	if !e.If(pr.Vas.Contains(a.Va)) {
		return fail(e, ENOMEM)
	}
	v := pr.Vas.Get(a.Va)
	v.Writable = a.Writable
	pr.Vas.Set(a.Va, v)
	return ok(e)
}

func signal(e commute.Env, sig int64) sym.Result { return e.Result().Int("signal", sig) }

// Memread loads from a page.
func (s *Fs) Memread(e commute.Env, a VaArgs) sym.Result {
	pr := s.proc(e, a.Pid)
	if !e.If(pr.Vas.Contains(a.Va)) {
		return signal(e, SIGSEGV)
	}
	v := pr.Vas.Get(a.Va)
	if e.If(v.Anon) {
		return signal(e, 0).With("data", v.AnonData)
	}
	got, d := s.iread(e, v.Inum, v.Off)
	if !e.If(got) {
		return signal(e, SIGBUS)
	}
	return signal(e, 0).With("data", d)
}

// Memwrite stores to a page.
func (s *Fs) Memwrite(e commute.Env, a MemwriteArgs) sym.Result {
	pr := s.proc(e, a.Pid)
	if !e.If(pr.Vas.Contains(a.Va)) {
		return signal(e, SIGSEGV)
	}
	v := pr.Vas.Get(a.Va)
	if !e.If(v.Writable) {
		return signal(e, SIGSEGV)
	}
	if e.If(v.Anon) {
		v.AnonData = a.Data
		pr.Vas.Set(a.Va, v)
		return signal(e, 0)
	}
	node := s.IMap.Get(v.Inum)
	if e.If(v.Off.Ge(node.Data.Len())) {
		return signal(e, SIGBUS)
	}
	node.Data = node.Data.Set(v.Off, a.Data)
	s.IMap.Set(v.Inum, node)
	return signal(e, 0)
}
