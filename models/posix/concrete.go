package posix

import (
	"fmt"
	"sort"
	"strings"

	"github.com/crewvm/crewvm/models/testgen"
)

// CheckTest replays a POSIX test on a small concrete implementation of the
// model's semantics, written independently of the symbolic model: it
// builds the setup, runs the calls in every order, and checks that each
// order produces the expected results and that all orders end in the same
// state (up to the numbering of inodes and pipes, which implementations
// choose). A test that fails this check could not pass on any correct
// kernel, so generated tests must never fail it.
func CheckTest(t *testgen.Test) error {
	base, err := concreteSetup(t)
	if err != nil {
		return fmt.Errorf("test %d: setup: %w", t.ID, err)
	}
	n := len(t.Calls)
	var first string
	chooses := false // an order-dependent choice the state may reflect
	for _, c := range t.Calls {
		if c.Name == "mmap" && arg(c, "fixed") == 0 {
			chooses = true
		}
	}
	for _, order := range orders(n) {
		st := base.clone()
		for _, slot := range order {
			got, err := st.run(t.Calls[slot])
			if err != nil {
				return fmt.Errorf("test %d: order %v: %s: %w", t.ID, order, t.Calls[slot].Name, err)
			}
			want := map[string]int64{}
			for _, f := range t.Expect[slot].Fields {
				want[f.Key] = f.Val.Int
			}
			if !sameResult(got, want) {
				return fmt.Errorf("test %d: order %v: %s returned %v, expected %v", t.ID, order, t.Calls[slot].Name, got, want)
			}
		}
		if chooses {
			continue
		}
		if c := st.canonical(); first == "" {
			first = c
		} else if c != first {
			return fmt.Errorf("test %d: order %v ends in a different state:\n%s\nvs\n%s", t.ID, order, c, first)
		}
	}
	return nil
}

// RunConcrete runs a POSIX test's calls on the concrete implementation
// in slot order (call A, then call B) from its setup and returns each
// call's result fields, as the test format names them: the reference a
// kernel under test's results are compared with.
func RunConcrete(t *testgen.Test) ([]map[string]int64, error) {
	st, err := concreteSetup(t)
	if err != nil {
		return nil, fmt.Errorf("test %d: setup: %w", t.ID, err)
	}
	var out []map[string]int64
	for _, c := range t.Calls {
		got, err := st.run(c)
		if err != nil {
			return nil, fmt.Errorf("test %d: %s: %w", t.ID, c.Name, err)
		}
		out = append(out, got)
	}
	return out, nil
}

func sameResult(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func orders(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, rest := range orders(n - 1) {
		for pos := 0; pos <= len(rest); pos++ {
			o := append(append(append([]int{}, rest[:pos]...), n-1), rest[pos:]...)
			out = append(out, o)
		}
	}
	return out
}

func arg(c testgen.Call, key string) int64 {
	v, _ := testgen.Record{Fields: c.Args}.Int(key)
	return v
}

type cInode struct {
	nlink int64
	data  []int64
}

type cPipe struct {
	readers, writers int64
	data             []int64
}

type cFd struct {
	pipe   bool
	id     int64 // inode or pipe
	off    int64
	writer bool
}

type cMap struct {
	anon, writable bool
	ino, off, data int64
}

type cState struct {
	files    map[int64]int64
	inodes   map[int64]*cInode
	pipes    map[int64]*cPipe
	fds      [2]map[int64]*cFd
	maps     [2]map[int64]*cMap
	nextIno  int64
	nextPipe int64
}

func concreteSetup(t *testgen.Test) (*cState, error) {
	s := &cState{files: map[int64]int64{}, inodes: map[int64]*cInode{}, pipes: map[int64]*cPipe{}}
	for i := range s.fds {
		s.fds[i] = map[int64]*cFd{}
		s.maps[i] = map[int64]*cMap{}
	}
	ints := func(r testgen.Record) func(string) int64 {
		return func(k string) int64 { v, _ := r.Int(k); return v }
	}
	data := func(r testgen.Record) []int64 {
		var out []int64
		for _, v := range r.All("data") {
			out = append(out, v.Int)
		}
		return out
	}
	for _, r := range t.Setup {
		g := ints(r)
		switch r.Kind {
		case "inode":
			s.inodes[g("ino")] = &cInode{nlink: g("nlink"), data: data(r)}
			s.nextIno = max(s.nextIno, g("ino")+1)
		case "pipe":
			s.pipes[g("id")] = &cPipe{readers: g("readers"), writers: g("writers"), data: data(r)}
			s.nextPipe = max(s.nextPipe, g("id")+1)
		}
	}
	for _, r := range t.Setup {
		g := ints(r)
		switch r.Kind {
		case "file":
			if s.inodes[g("ino")] == nil {
				return nil, fmt.Errorf("file %d: no inode %d", g("name"), g("ino"))
			}
			s.files[g("name")] = g("ino")
		case "fd":
			s.fds[g("pid")][g("fd")] = &cFd{id: g("ino"), off: g("off")}
		case "pipefd":
			s.fds[g("pid")][g("fd")] = &cFd{pipe: true, id: g("pipe"), writer: g("writer") == 1}
		case "map":
			s.maps[g("pid")][g("va")] = &cMap{anon: g("anon") == 1, writable: g("writable") == 1, ino: g("ino"), off: g("off"), data: g("data")}
		case "inode", "pipe":
		default:
			return nil, fmt.Errorf("unknown setup record %s", r.Kind)
		}
	}
	return s, nil
}

func (s *cState) clone() *cState {
	c := &cState{files: map[int64]int64{}, inodes: map[int64]*cInode{}, pipes: map[int64]*cPipe{}, nextIno: s.nextIno, nextPipe: s.nextPipe}
	for k, v := range s.files {
		c.files[k] = v
	}
	for k, v := range s.inodes {
		c.inodes[k] = &cInode{nlink: v.nlink, data: append([]int64(nil), v.data...)}
	}
	for k, v := range s.pipes {
		c.pipes[k] = &cPipe{readers: v.readers, writers: v.writers, data: append([]int64(nil), v.data...)}
	}
	for i := range s.fds {
		c.fds[i] = map[int64]*cFd{}
		for k, v := range s.fds[i] {
			f := *v
			c.fds[i][k] = &f
		}
		c.maps[i] = map[int64]*cMap{}
		for k, v := range s.maps[i] {
			m := *v
			c.maps[i][k] = &m
		}
	}
	return c
}

func (s *cState) lowestFd(pid int64) int64 {
	for fd := int64(0); ; fd++ {
		if _, used := s.fds[pid][fd]; !used {
			return fd
		}
	}
}

func errno(e int64) map[string]int64 { return map[string]int64{"r": -1, "errno": e} }

func okr() map[string]int64 { return map[string]int64{"r": 0} }

// run executes one call; the error is for tests outside the model (for
// example a write that would leave a hole).
func (s *cState) run(c testgen.Call) (map[string]int64, error) {
	a := func(k string) int64 { return arg(c, k) }
	pid := a("pid")
	fds := s.fds[pid]
	vas := s.maps[pid]
	switch c.Name {
	case "open":
		ino, exists := s.files[a("pn")]
		if exists {
			if a("creat") == 1 && a("excl") == 1 {
				return errno(EEXIST), nil
			}
			if a("trunc") == 1 {
				s.inodes[ino].data = nil
			}
		} else {
			if a("creat") == 0 {
				return errno(ENOENT), nil
			}
			ino = s.nextIno
			s.nextIno++
			s.inodes[ino] = &cInode{nlink: 1}
			s.files[a("pn")] = ino
		}
		fd := s.lowestFd(pid)
		fds[fd] = &cFd{id: ino}
		return map[string]int64{"r": fd}, nil
	case "link":
		ino, ok := s.files[a("old")]
		if !ok {
			return errno(ENOENT), nil
		}
		if _, ok := s.files[a("new")]; ok {
			return errno(EEXIST), nil
		}
		s.files[a("new")] = ino
		s.inodes[ino].nlink++
		return okr(), nil
	case "unlink":
		ino, ok := s.files[a("pn")]
		if !ok {
			return errno(ENOENT), nil
		}
		delete(s.files, a("pn"))
		s.inodes[ino].nlink--
		return okr(), nil
	case "rename":
		src, ok := s.files[a("src")]
		if !ok {
			return errno(ENOENT), nil
		}
		if a("src") == a("dst") {
			return okr(), nil
		}
		if dst, ok := s.files[a("dst")]; ok {
			if dst == src {
				return okr(), nil
			}
			s.inodes[dst].nlink--
		}
		s.files[a("dst")] = src
		delete(s.files, a("src"))
		return okr(), nil
	case "stat":
		ino, ok := s.files[a("pn")]
		if !ok {
			return errno(ENOENT), nil
		}
		return s.stat(ino), nil
	case "fstat":
		f, ok := fds[a("fd")]
		if !ok {
			return errno(EBADF), nil
		}
		if f.pipe {
			return map[string]int64{"r": 0, "fifo": 1}, nil
		}
		return s.stat(f.id), nil
	case "lseek":
		f, ok := fds[a("fd")]
		if !ok {
			return errno(EBADF), nil
		}
		if f.pipe {
			return errno(ESPIPE), nil
		}
		var off int64
		switch a("whence") {
		case 0:
			off = a("off")
		case 1:
			off = f.off + a("off")
		default:
			off = int64(len(s.inodes[f.id].data)) + a("off")
		}
		if off < 0 {
			return errno(EINVAL), nil
		}
		f.off = off
		return map[string]int64{"r": off}, nil
	case "close":
		f, ok := fds[a("fd")]
		if !ok {
			return errno(EBADF), nil
		}
		if f.pipe {
			if f.writer {
				s.pipes[f.id].writers--
			} else {
				s.pipes[f.id].readers--
			}
		}
		delete(fds, a("fd"))
		return okr(), nil
	case "pipe":
		id := s.nextPipe
		s.nextPipe++
		s.pipes[id] = &cPipe{readers: 1, writers: 1}
		r := s.lowestFd(pid)
		fds[r] = &cFd{pipe: true, id: id}
		w := s.lowestFd(pid)
		fds[w] = &cFd{pipe: true, id: id, writer: true}
		return map[string]int64{"r": 0, "fd0": r, "fd1": w}, nil
	case "read", "pread":
		f, ok := fds[a("fd")]
		if !ok {
			return errno(EBADF), nil
		}
		if f.pipe {
			if c.Name == "pread" {
				return errno(ESPIPE), nil
			}
			if f.writer {
				return errno(EBADF), nil
			}
			q := s.pipes[f.id]
			if len(q.data) == 0 {
				if q.writers > 0 {
					return errno(EAGAIN), nil
				}
				return okr(), nil
			}
			d := q.data[0]
			q.data = q.data[1:]
			return map[string]int64{"r": 1, "data": d}, nil
		}
		off := f.off
		if c.Name == "pread" {
			off = a("off")
		}
		data := s.inodes[f.id].data
		if off >= int64(len(data)) {
			return okr(), nil
		}
		if c.Name == "read" {
			f.off++
		}
		return map[string]int64{"r": 1, "data": data[off]}, nil
	case "write", "pwrite":
		f, ok := fds[a("fd")]
		if !ok {
			return errno(EBADF), nil
		}
		if f.pipe {
			if c.Name == "pwrite" {
				return errno(ESPIPE), nil
			}
			if !f.writer {
				return errno(EBADF), nil
			}
			q := s.pipes[f.id]
			if q.readers == 0 {
				return errno(EPIPE), nil
			}
			q.data = append(q.data, a("data"))
			return map[string]int64{"r": 1}, nil
		}
		off := f.off
		if c.Name == "pwrite" {
			off = a("off")
		}
		ino := s.inodes[f.id]
		switch {
		case off > int64(len(ino.data)):
			return nil, fmt.Errorf("write at %d beyond end %d (holes are outside the model)", off, len(ino.data))
		case off == int64(len(ino.data)):
			ino.data = append(ino.data, a("data"))
		default:
			ino.data[off] = a("data")
		}
		if c.Name == "write" {
			f.off++
		}
		return map[string]int64{"r": 1}, nil
	case "mmap":
		va := a("va")
		if a("fixed") == 0 {
			for va = 1 << 16; vas[va] != nil; va++ {
			}
		}
		m := &cMap{anon: a("anon") == 1, writable: a("writable") == 1}
		if m.anon {
			m.data = 0
		} else {
			f, ok := fds[a("fd")]
			if !ok {
				return errno(EBADF), nil
			}
			if f.pipe {
				if f.writer || m.writable {
					return errno(EACCES), nil
				}
				return errno(ENODEV), nil
			}
			m.ino, m.off = f.id, a("off")
		}
		vas[va] = m
		r := okr()
		if a("fixed") == 1 {
			r["va"] = va
		}
		return r, nil
	case "munmap":
		delete(vas, a("va"))
		return okr(), nil
	case "mprotect":
		m, ok := vas[a("va")]
		if !ok {
			return errno(ENOMEM), nil
		}
		m.writable = a("writable") == 1
		return okr(), nil
	case "memread":
		m, ok := vas[a("va")]
		if !ok {
			return map[string]int64{"signal": SIGSEGV}, nil
		}
		if m.anon {
			return map[string]int64{"signal": 0, "data": m.data}, nil
		}
		data := s.inodes[m.ino].data
		if m.off >= int64(len(data)) {
			return map[string]int64{"signal": SIGBUS}, nil
		}
		return map[string]int64{"signal": 0, "data": data[m.off]}, nil
	case "memwrite":
		m, ok := vas[a("va")]
		if !ok || !m.writable {
			return map[string]int64{"signal": SIGSEGV}, nil
		}
		if m.anon {
			m.data = a("data")
			return map[string]int64{"signal": 0}, nil
		}
		ino := s.inodes[m.ino]
		if m.off >= int64(len(ino.data)) {
			return map[string]int64{"signal": SIGBUS}, nil
		}
		ino.data[m.off] = a("data")
		return map[string]int64{"signal": 0}, nil
	}
	return nil, fmt.Errorf("unknown call %q", c.Name)
}

func (s *cState) stat(ino int64) map[string]int64 {
	i := s.inodes[ino]
	return map[string]int64{"r": 0, "size": int64(len(i.data)), "nlink": i.nlink}
}

// canonical renders the state with inodes and pipes renumbered in order of
// first reference, leaving out objects nothing refers to.
func (s *cState) canonical() string {
	inos := map[int64]int{}
	pipes := map[int64]int{}
	var b strings.Builder
	ino := func(i int64) int {
		if c, ok := inos[i]; ok {
			return c
		}
		inos[i] = len(inos)
		n := s.inodes[i]
		fmt.Fprintf(&b, "  inode %d nlink=%d data=%v\n", inos[i], n.nlink, n.data)
		return inos[i]
	}
	pipe := func(i int64) int {
		if c, ok := pipes[i]; ok {
			return c
		}
		pipes[i] = len(pipes)
		q := s.pipes[i]
		fmt.Fprintf(&b, "  pipe %d readers=%d writers=%d data=%v\n", pipes[i], q.readers, q.writers, q.data)
		return pipes[i]
	}
	for _, name := range sortedInt64(s.files) {
		fmt.Fprintf(&b, "file %d -> %d\n", name, ino(s.files[name]))
	}
	for pid := range s.fds {
		for _, fd := range sortedInt64(s.fds[pid]) {
			f := s.fds[pid][fd]
			if f.pipe {
				fmt.Fprintf(&b, "fd %d.%d pipe %d writer=%v\n", pid, fd, pipe(f.id), f.writer)
			} else {
				fmt.Fprintf(&b, "fd %d.%d file %d off=%d\n", pid, fd, ino(f.id), f.off)
			}
		}
		for _, va := range sortedInt64(s.maps[pid]) {
			m := s.maps[pid][va]
			if m.anon {
				fmt.Fprintf(&b, "map %d.%d anon writable=%v data=%d\n", pid, va, m.writable, m.data)
			} else {
				fmt.Fprintf(&b, "map %d.%d file %d off=%d writable=%v\n", pid, va, ino(m.ino), m.off, m.writable)
			}
		}
	}
	return b.String()
}

func sortedInt64[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
