package testgen

import (
	"fmt"
)

// recSchema lists the keys a record may have.
type recSchema struct {
	required []string // exactly once
	optional []string // at most once
	list     []string // any number of times, in order
}

func (s recSchema) check(kind string, fields []Field) error {
	seen := make(map[string]int, len(fields))
	for _, f := range fields {
		seen[f.Key]++
		if f.Val.IsIdent() {
			return fmt.Errorf("%s: field %s=%s must be an integer", kind, f.Key, f.Val.Ident)
		}
	}
	for _, k := range s.required {
		if seen[k] != 1 {
			return fmt.Errorf("%s: field %s must appear exactly once", kind, k)
		}
		delete(seen, k)
	}
	for _, k := range s.optional {
		if seen[k] > 1 {
			return fmt.Errorf("%s: field %s may appear at most once", kind, k)
		}
		delete(seen, k)
	}
	for _, k := range s.list {
		delete(seen, k)
	}
	for _, f := range fields {
		if _, bad := seen[f.Key]; bad {
			return fmt.Errorf("%s: unknown field %s", kind, f.Key)
		}
	}
	return nil
}

// modelSchema is the vocabulary of a model's test files.
type modelSchema struct {
	params []string
	setup  map[string]recSchema
	args   map[string]recSchema
	expect map[string]recSchema
	test   func(f *File, t *Test) error
}

func (m *modelSchema) knownCall(name string) bool {
	_, ok := m.args[name]
	return ok
}

func (m *modelSchema) checkParams(f *File) error {
	for _, k := range m.params {
		if _, ok := f.Param(k); !ok {
			return fmt.Errorf("%s files need a param %s record", f.Model, k)
		}
	}
	return nil
}

func (m *modelSchema) checkSetupRecord(r *Record) error {
	s, ok := m.setup[r.Kind]
	if !ok {
		return fmt.Errorf("unknown setup record %q", r.Kind)
	}
	return s.check(r.Kind+" record", r.Fields)
}

func (m *modelSchema) checkArgs(c Call) error {
	s, ok := m.args[c.Name]
	if !ok {
		return fmt.Errorf("unknown call %q", c.Name)
	}
	return s.check("call "+c.Name, c.Args)
}

func (m *modelSchema) checkExpect(call string, e Expect) error {
	return m.expect[call].check("expect for "+call, e.Fields)
}

// schemaFor returns the vocabulary of model, or nil for models whose
// files are only checked structurally (the toy models).
func schemaFor(model string) *modelSchema {
	if model == "posix" {
		return posixSchema()
	}
	return nil
}

// POSIX model constants shared by the model, its test builder and the
// reader. FORMAT.md documents them.
const (
	PosixUnit    = 4096 // bytes per data unit: file offsets and sizes count units
	PosixFdLimit = 8    // descriptors 0..PosixFdLimit-1 are visible to the model
	PosixMaxData = 255  // data values are the first byte of a unit
	PosixSIGBUS  = 7
	PosixSIGSEGV = 11
)

// PosixCalls lists the calls of the POSIX model in their canonical order.
func PosixCalls() []string {
	return []string{"open", "link", "unlink", "rename", "stat", "fstat", "lseek", "close", "pipe",
		"read", "write", "pread", "pwrite", "mmap", "munmap", "mprotect", "memread", "memwrite"}
}

func posixSchema() *modelSchema {
	r := func(keys ...string) recSchema { return recSchema{required: keys} }
	sys := recSchema{required: []string{"r"}, optional: []string{"errno"}}
	m := &modelSchema{
		params: []string{"unit", "fd_limit"},
		setup: map[string]recSchema{
			"inode":  {required: []string{"ino", "nlink", "len"}, list: []string{"data"}},
			"file":   r("name", "ino"),
			"pipe":   {required: []string{"id", "readers", "writers", "len"}, list: []string{"data"}},
			"fd":     r("pid", "fd", "ino", "off"),
			"pipefd": r("pid", "fd", "pipe", "writer"),
			"map":    {required: []string{"pid", "va", "anon", "writable"}, optional: []string{"ino", "off", "data"}},
		},
		args: map[string]recSchema{
			"open":     r("pid", "pn", "creat", "excl", "trunc"),
			"link":     r("pid", "old", "new"),
			"unlink":   r("pid", "pn"),
			"rename":   r("pid", "src", "dst"),
			"stat":     r("pid", "pn"),
			"fstat":    r("pid", "fd"),
			"lseek":    r("pid", "fd", "off", "whence"),
			"close":    r("pid", "fd"),
			"pipe":     r("pid"),
			"read":     r("pid", "fd"),
			"write":    r("pid", "fd", "data"),
			"pread":    r("pid", "fd", "off"),
			"pwrite":   r("pid", "fd", "off", "data"),
			"mmap":     r("pid", "va", "fixed", "anon", "writable", "fd", "off"),
			"munmap":   r("pid", "va"),
			"mprotect": r("pid", "va", "writable"),
			"memread":  r("pid", "va"),
			"memwrite": r("pid", "va", "data"),
		},
		expect: map[string]recSchema{
			"open": sys, "link": sys, "unlink": sys, "rename": sys, "lseek": sys, "close": sys,
			"write": sys, "pwrite": sys, "munmap": sys, "mprotect": sys,
			"stat":     {required: []string{"r"}, optional: []string{"errno", "size", "nlink", "fifo"}},
			"fstat":    {required: []string{"r"}, optional: []string{"errno", "size", "nlink", "fifo"}},
			"pipe":     {required: []string{"r"}, optional: []string{"errno", "fd0", "fd1"}},
			"read":     {required: []string{"r"}, optional: []string{"errno", "data"}},
			"pread":    {required: []string{"r"}, optional: []string{"errno", "data"}},
			"mmap":     {required: []string{"r"}, optional: []string{"errno", "va"}},
			"memread":  {required: []string{"signal"}, optional: []string{"data"}},
			"memwrite": {required: []string{"signal"}},
		},
	}
	m.test = checkPosixTest
	return m
}

func (m *modelSchema) checkTest(f *File, t *Test) error {
	if m.test == nil {
		return nil
	}
	return m.test(f, t)
}

// checkPosixTest checks that a POSIX test's setup is realisable: every
// reference resolves, counts cover the listed names and descriptors, and
// values are in range.
func checkPosixTest(f *File, t *Test) error {
	fdLimit, _ := f.Param("fd_limit")
	inodes := map[int64]Record{}
	pipes := map[int64]Record{}
	names := map[int64]bool{}
	fds := map[[2]int64]bool{}
	vas := map[[2]int64]bool{}
	links := map[int64]int64{}
	ends := map[[2]int64]int64{} // pipe, writer -> descriptors
	get := func(r Record, k string) int64 { v, _ := r.Int(k); return v }
	inRange := func(what string, v, lo, hi int64) error {
		if v < lo || v > hi {
			return fmt.Errorf("%s=%d out of range [%d, %d]", what, v, lo, hi)
		}
		return nil
	}
	checkData := func(r Record) error {
		data := r.All("data")
		if int64(len(data)) != get(r, "len") {
			return fmt.Errorf("%s record has len=%d but %d data fields", r.Kind, get(r, "len"), len(data))
		}
		for _, d := range data {
			if err := inRange("data", d.Int, 0, PosixMaxData); err != nil {
				return err
			}
		}
		return nil
	}
	// First pass: objects.
	for _, r := range t.Setup {
		switch r.Kind {
		case "inode":
			ino := get(r, "ino")
			if _, dup := inodes[ino]; dup {
				return fmt.Errorf("inode %d defined twice", ino)
			}
			if err := inRange("ino", ino, 0, 1<<20); err != nil {
				return err
			}
			if err := inRange("nlink", get(r, "nlink"), 0, 1<<10); err != nil {
				return err
			}
			if err := inRange("len", get(r, "len"), 0, MaxFields); err != nil {
				return err
			}
			if err := checkData(r); err != nil {
				return err
			}
			inodes[ino] = r
		case "pipe":
			id := get(r, "id")
			if _, dup := pipes[id]; dup {
				return fmt.Errorf("pipe %d defined twice", id)
			}
			for _, k := range []string{"id", "readers", "writers", "len"} {
				if err := inRange(k, get(r, k), 0, 1<<20); err != nil {
					return err
				}
			}
			if err := checkData(r); err != nil {
				return err
			}
			pipes[id] = r
		}
	}
	// Second pass: references.
	for _, r := range t.Setup {
		pid := get(r, "pid")
		switch r.Kind {
		case "file":
			name := get(r, "name")
			if names[name] {
				return fmt.Errorf("file name %d defined twice", name)
			}
			if err := inRange("name", name, 0, 1<<20); err != nil {
				return err
			}
			names[name] = true
			ino := get(r, "ino")
			if _, ok := inodes[ino]; !ok {
				return fmt.Errorf("file %d refers to undefined inode %d", name, ino)
			}
			links[ino]++
		case "fd", "pipefd", "map":
			if err := inRange("pid", pid, 0, 1); err != nil {
				return err
			}
		}
		switch r.Kind {
		case "fd", "pipefd":
			fd := get(r, "fd")
			if err := inRange("fd", fd, 0, fdLimit-1); err != nil {
				return err
			}
			if fds[[2]int64{pid, fd}] {
				return fmt.Errorf("descriptor %d of process %d defined twice", fd, pid)
			}
			fds[[2]int64{pid, fd}] = true
			if r.Kind == "fd" {
				if _, ok := inodes[get(r, "ino")]; !ok {
					return fmt.Errorf("descriptor %d refers to undefined inode %d", fd, get(r, "ino"))
				}
				if err := inRange("off", get(r, "off"), 0, 1<<20); err != nil {
					return err
				}
			} else {
				if _, ok := pipes[get(r, "pipe")]; !ok {
					return fmt.Errorf("descriptor %d refers to undefined pipe %d", fd, get(r, "pipe"))
				}
				if err := inRange("writer", get(r, "writer"), 0, 1); err != nil {
					return err
				}
				ends[[2]int64{get(r, "pipe"), get(r, "writer")}]++
			}
		case "map":
			va := get(r, "va")
			if err := inRange("va", va, 0, 1<<20); err != nil {
				return err
			}
			if vas[[2]int64{pid, va}] {
				return fmt.Errorf("page %d of process %d mapped twice", va, pid)
			}
			vas[[2]int64{pid, va}] = true
			for _, k := range []string{"anon", "writable"} {
				if err := inRange(k, get(r, k), 0, 1); err != nil {
					return err
				}
			}
			_, hasIno := r.Get("ino")
			_, hasOff := r.Get("off")
			_, hasData := r.Get("data")
			if get(r, "anon") == 1 {
				if hasIno || hasOff || !hasData {
					return fmt.Errorf("anonymous mapping of page %d needs data and no ino or off", va)
				}
				if err := inRange("data", get(r, "data"), 0, PosixMaxData); err != nil {
					return err
				}
			} else {
				if !hasIno || !hasOff || hasData {
					return fmt.Errorf("file mapping of page %d needs ino and off and no data", va)
				}
				if _, ok := inodes[get(r, "ino")]; !ok {
					return fmt.Errorf("mapping of page %d refers to undefined inode %d", va, get(r, "ino"))
				}
				if err := inRange("off", get(r, "off"), 0, 1<<20); err != nil {
					return err
				}
			}
		}
	}
	for ino, n := range links {
		if get(inodes[ino], "nlink") < n {
			return fmt.Errorf("inode %d has nlink=%d but %d file records", ino, get(inodes[ino], "nlink"), n)
		}
	}
	for k, n := range ends {
		key := "readers"
		if k[1] == 1 {
			key = "writers"
		}
		if get(pipes[k[0]], key) < n {
			return fmt.Errorf("pipe %d has %s=%d but %d such descriptors", k[0], key, get(pipes[k[0]], key), n)
		}
	}
	for _, c := range t.Calls {
		for _, a := range c.Args {
			var err error
			switch a.Key {
			case "pid":
				err = inRange("pid", a.Val.Int, 0, 1)
			case "fd":
				err = inRange("fd", a.Val.Int, 0, fdLimit-1)
			case "creat", "excl", "trunc", "fixed", "anon", "writable":
				err = inRange(a.Key, a.Val.Int, 0, 1)
			case "whence":
				err = inRange("whence", a.Val.Int, 0, 2)
			case "data":
				err = inRange("data", a.Val.Int, 0, PosixMaxData)
			case "pn", "old", "new", "src", "dst", "va":
				err = inRange(a.Key, a.Val.Int, 0, 1<<20)
			}
			if err != nil {
				return fmt.Errorf("call %s: %v", c.Name, err)
			}
		}
	}
	return nil
}
