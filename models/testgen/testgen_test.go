package testgen

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// posixSample is a small valid POSIX file used by several tests.
func posixSample() *File {
	return &File{
		Version: Version,
		Model:   "posix",
		Params:  []Field{F("unit", PosixUnit), F("fd_limit", PosixFdLimit)},
		Sets: []*Set{
			{
				Calls: []string{"open", "read"},
				Tests: []*Test{{
					Path: 1,
					Setup: []Record{
						{Kind: "inode", Fields: []Field{F("ino", 0), F("nlink", 2), F("len", 2), F("data", 1), F("data", 2)}},
						{Kind: "file", Fields: []Field{F("name", 0), F("ino", 0)}},
						{Kind: "pipe", Fields: []Field{F("id", 0), F("readers", 1), F("writers", 2), F("len", 1), F("data", 3)}},
						{Kind: "fd", Fields: []Field{F("pid", 0), F("fd", 0), F("ino", 0), F("off", 1)}},
						{Kind: "pipefd", Fields: []Field{F("pid", 1), F("fd", 3), F("pipe", 0), F("writer", 0)}},
						{Kind: "map", Fields: []Field{F("pid", 1), F("va", 2), F("anon", 1), F("writable", 1), F("data", 0)}},
						{Kind: "map", Fields: []Field{F("pid", 0), F("va", 0), F("anon", 0), F("writable", 0), F("ino", 0), F("off", 1)}},
					},
					Calls: []Call{
						{Name: "open", Args: []Field{F("pid", 0), F("pn", 1), F("creat", 1), F("excl", 0), F("trunc", 0)}},
						{Name: "read", Args: []Field{F("pid", 0), F("fd", 0)}},
					},
					Expect: []Expect{
						{Fields: []Field{F("r", 1)}},
						{Fields: []Field{F("r", 1), F("data", 2)}},
					},
				}},
				Summary: Summary{Paths: 7, Commutative: 3, Errors: 0, Status: StatusOK},
			},
			{
				Calls:   []string{"pipe", "pipe"},
				Summary: Summary{Paths: 2, Commutative: 0, Status: StatusTimeout},
			},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	files := []*File{
		posixSample(),
		{Version: Version, Model: "counter", Sets: []*Set{{
			Calls: []string{"inc", "inc"},
			Tests: []*Test{{Path: 1,
				Setup:  []Record{{Kind: "state", Fields: []Field{F("n", 3), F("events.len", 0)}}},
				Calls:  []Call{{Name: "inc"}, {Name: "inc"}},
				Expect: []Expect{{}, {Fields: []Field{F("r", -1), FI("kind", "none")}}},
			}},
			Summary: Summary{Paths: 1, Commutative: 1},
		}}},
		{Version: Version, Model: "empty"},
	}
	for _, f := range files {
		t.Run(f.Model, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, f); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, err := Read(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("Read: %v\n%s", err, buf.String())
			}
			normalize(f)
			normalize(got)
			if !reflect.DeepEqual(got, f) {
				t.Errorf("round trip changed the file:\n got %+v\nwant %+v\n%s", got, f, buf.String())
			}
			var again bytes.Buffer
			if err := Write(&again, got); err != nil {
				t.Fatal(err)
			}
			if again.String() != buf.String() {
				t.Errorf("second write differs:\n%s\n---\n%s", buf.String(), again.String())
			}
		})
	}
}

// normalize makes nil and empty slices compare equal.
func normalize(f *File) {
	if len(f.Params) == 0 {
		f.Params = nil
	}
	if len(f.Sets) == 0 {
		f.Sets = nil
	}
	for _, s := range f.Sets {
		if len(s.Tests) == 0 {
			s.Tests = nil
		}
		for _, t := range s.Tests {
			if len(t.Setup) == 0 {
				t.Setup = nil
			}
			for i := range t.Setup {
				if len(t.Setup[i].Fields) == 0 {
					t.Setup[i].Fields = nil
				}
			}
			for i := range t.Calls {
				t.Calls[i].Slot = i
				if len(t.Calls[i].Args) == 0 {
					t.Calls[i].Args = nil
				}
			}
			for i := range t.Expect {
				t.Expect[i].Slot = i
				if len(t.Expect[i].Fields) == 0 {
					t.Expect[i].Fields = nil
				}
			}
		}
	}
}

func sampleText(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, posixSample()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestMalformed(t *testing.T) {
	good := sampleText(t)
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("sample lacks %q:\n%s", old, good)
		}
		return strings.Replace(good, old, new, 1)
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty file"},
		{"not a test file", "hello\n", "not a test file"},
		{"future version", edit("crewvm-testgen 1", "crewvm-testgen 2"), "unsupported version"},
		{"missing model", edit("model name=posix\n", ""), "want model"},
		{"missing param", edit("param fd_limit=8\n", ""), "param fd_limit"},
		{"truncated", good[:strings.Index(good, "eof")], "missing eof"},
		{"truncated mid-test", good[:strings.Index(good, "expect slot=1")], "unexpected end of file"},
		{"bad eof count", edit("eof sets=2 tests=1", "eof sets=2 tests=5"), "eof record says"},
		{"record after eof", good + "set id=3 call=open call=open\n", "after eof"},
		{"carriage return", strings.ReplaceAll(good, "\n", "\r\n"), "invalid byte 0x0d"},
		{"tab", edit("file name=0", "file\tname=0"), "invalid byte 0x09"},
		{"non-ascii", edit("file name=0", "file name=\xc3\xa9"), "invalid byte"},
		{"long line", edit("end\n", "end\n# "+strings.Repeat("x", MaxLineLen)+"\n"), "longer than"},
		{"not key=value", edit("file name=0 ino=0", "file name=0 ino"), "not key=value"},
		{"bad key", edit("file name=0", "file Name=0"), "invalid key"},
		{"non-canonical int", edit("file name=0", "file name=00"), "canonical"},
		{"int overflow", edit("file name=0", "file name=99999999999999999999"), "bad integer"},
		{"bad ident", edit("status=ok", "status=Ok"), "invalid identifier"},
		{"unknown status", edit("status=ok", "status=fine"), "unknown status"},
		{"set id gap", edit("set id=2", "set id=3"), "set id 3, want 2"},
		{"test id gap", edit("test id=1", "test id=2"), "test id 2, want 1"},
		{"summary count", edit("tests=1 errors=0 status=ok", "tests=2 errors=0 status=ok"), "summary says 2 tests"},
		{"commutative > paths", edit("paths=7 commutative=3", "paths=2 commutative=3"), "commutative paths"},
		{"wrong call name", edit("call slot=1 name=read", "call slot=1 name=open"), "set's call 1 is read"},
		{"unknown call", edit("call=read", "call=fork"), "unknown posix call"},
		{"missing call", edit("call slot=1 name=read pid=0 fd=0\n", ""), "want call"},
		{"slot order", edit("expect slot=1", "expect slot=0"), "slot=1"},
		{"missing end", edit("end\n", ""), "want an end record"},
		{"unknown setup record", edit("file name=0 ino=0", "dir name=0 ino=0"), "unknown setup record"},
		{"reserved record in setup", edit("file name=0 ino=0", "set name=0 ino=0"), "in the setup"},
		{"missing arg", edit("pn=1 creat=1", "creat=1"), "field pn must appear"},
		{"unknown arg", edit("pid=0 fd=0\n", "pid=0 fd=0 flags=3\n"), "unknown field flags"},
		{"dangling inode", edit("file name=0 ino=0", "file name=0 ino=5"), "undefined inode 5"},
		{"dangling pipe", edit("pipe=0 writer=0", "pipe=4 writer=0"), "undefined pipe 4"},
		{"nlink too small", edit("nlink=2", "nlink=0"), "nlink=0 but 1 file records"},
		{"readers too small", edit("readers=1", "readers=0"), "readers=0 but 1"},
		{"data count", edit("len=2 data=1 data=2", "len=3 data=1 data=2"), "len=3 but 2 data"},
		{"fd out of range", edit("fd pid=0 fd=0", "fd pid=0 fd=8"), "fd=8 out of range"},
		{"pid out of range", edit("fd pid=0 fd=0", "fd pid=2 fd=0"), "pid=2 out of range"},
		{"duplicate fd", edit("pipefd pid=1 fd=3", "pipefd pid=0 fd=0"), "defined twice"},
		{"anon map with ino", edit("anon=1 writable=1 data=0", "anon=1 writable=1 data=0 ino=0"), "anonymous mapping"},
		{"ident as int", edit("file name=0", "file name=x"), "must be an integer"},
		{"bool arg range", edit("creat=1", "creat=2"), "creat=2 out of range"},
		{"expect missing r", edit("expect slot=0 r=1", "expect slot=0"), "field r must appear"},
		{"unknown expect key", edit("expect slot=0 r=1", "expect slot=0 r=1 data=3"), "unknown field data"},
		{"tests in failed set", edit("status=ok", "status=error"), "status error but contains tests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Read(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Read accepted malformed input (%d sets)", len(f.Sets))
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %v is not a *ParseError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	in := sampleText(t)
	in = strings.Replace(in, "file name=0 ino=0", "file name=0 ino=9", 1)
	_, err := Read(strings.NewReader(in))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line == 0 {
		t.Fatalf("error %v has no line", err)
	}
	if !strings.HasPrefix(err.Error(), "testgen: line ") {
		t.Errorf("error %q does not start with the line", err)
	}
}

func TestCommentsAndBlankLines(t *testing.T) {
	in := "# generated\n\n" + strings.Replace(sampleText(t), "end\n", "end\n# note\n\n", 1)
	f, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumTests() != 1 {
		t.Errorf("NumTests = %d", f.NumTests())
	}
}

func TestWriterRejectsBadRecords(t *testing.T) {
	tests := []struct {
		name string
		set  *Set
	}{
		{"bad key", &Set{Calls: []string{"a"}, Tests: []*Test{{Path: 1, Setup: []Record{{Kind: "state", Fields: []Field{F("Bad", 1)}}}, Calls: []Call{{Name: "a"}}, Expect: []Expect{{}}}}}},
		{"reserved kind", &Set{Calls: []string{"a"}, Tests: []*Test{{Path: 1, Setup: []Record{{Kind: "end"}}, Calls: []Call{{Name: "a"}}, Expect: []Expect{{}}}}}},
		{"call count", &Set{Calls: []string{"a", "b"}, Tests: []*Test{{Path: 1, Calls: []Call{{Name: "a"}}, Expect: []Expect{{}}}}}},
		{"no calls", &Set{}},
		{"bad ident", &Set{Calls: []string{"a b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, "toy", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteSet(tt.set); err == nil {
				if err := w.Close(); err == nil {
					t.Errorf("writer accepted a bad set:\n%s", buf.String())
				}
			}
		})
	}
	if _, err := NewWriter(&bytes.Buffer{}, "Bad Model", nil); err == nil {
		t.Errorf("NewWriter accepted a bad model name")
	}
}

// FuzzRead checks that Read never panics, and that whatever it accepts
// survives a write/read round trip unchanged.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, posixSample()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("crewvm-testgen 1\nmodel name=toy\neof sets=0 tests=0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		var out bytes.Buffer
		if err := Write(&out, file); err != nil {
			t.Fatalf("Write of an accepted file failed: %v", err)
		}
		again, err := Read(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("re-reading a written file failed: %v\n%s", err, out.String())
		}
		normalize(file)
		normalize(again)
		if !reflect.DeepEqual(file, again) {
			t.Fatalf("round trip changed the file")
		}
	})
}

// TestFormatDocExample keeps FORMAT.md's example valid, and identical to
// what the Writer produces for it.
func TestFormatDocExample(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "### Example")
	if i < 0 {
		t.Fatal("FORMAT.md has no example")
	}
	s = s[i:]
	start := strings.Index(s, "```\n") + 4
	end := strings.Index(s[start:], "```")
	example := s[start : start+end]
	f, err := Read(strings.NewReader(example))
	if err != nil {
		t.Fatalf("FORMAT.md example does not parse: %v", err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	if buf.String() != example {
		t.Errorf("FORMAT.md example is not in writer form:\n%s\nwriter:\n%s", example, buf.String())
	}
}
