// Package testgen defines crewvm's test file format: the concrete
// commutativity tests that `vmm testgen` generates from a model and that
// the guest harness runs. FORMAT.md in this directory is the normative
// description; this package holds the Go types, a Writer, and a Read
// function that rejects malformed files with errors naming the line.
//
// The format is line-oriented ASCII so that a freestanding C harness can
// parse it without libc: every line is a keyword followed by key=value
// fields, every value is a decimal integer or a lower-case identifier.
package testgen

import (
	"fmt"
	"strconv"
)

// Version is the format version this package writes and reads.
const Version = 1

// Magic is the first token of every test file.
const Magic = "crewvm-testgen"

// Limits a reader enforces; the C harness may rely on them too.
const (
	MaxLineLen  = 4096 // bytes per line, excluding the newline
	MaxFields   = 256  // fields per record
	MaxIdentLen = 64   // bytes per key or identifier value
)

// Set statuses.
const (
	StatusOK      = "ok"      // the call set was explored completely
	StatusTimeout = "timeout" // the call set ran out of time; its tests were dropped
	StatusError   = "error"   // exploring the call set failed; its tests were dropped
)

// Value is a field value: an integer, or an identifier when Ident is set.
type Value struct {
	Int   int64
	Ident string
}

// IntValue returns an integer value.
func IntValue(n int64) Value { return Value{Int: n} }

// IdentValue returns an identifier value.
func IdentValue(s string) Value { return Value{Ident: s} }

// IsIdent reports whether v is an identifier.
func (v Value) IsIdent() bool { return v.Ident != "" }

func (v Value) String() string {
	if v.IsIdent() {
		return v.Ident
	}
	return strconv.FormatInt(v.Int, 10)
}

// Field is one key=value pair. Keys may repeat within a record; repeated
// keys form a list in order (for example the data of a file).
type Field struct {
	Key string
	Val Value
}

// F returns an integer field.
func F(key string, n int64) Field { return Field{Key: key, Val: IntValue(n)} }

// FB returns a 0/1 field for a Boolean.
func FB(key string, b bool) Field {
	if b {
		return F(key, 1)
	}
	return F(key, 0)
}

// FI returns an identifier field.
func FI(key, ident string) Field { return Field{Key: key, Val: IdentValue(ident)} }

// Record is a keyword with its fields, one line of a test file.
type Record struct {
	Kind   string
	Fields []Field
}

// Get returns the first value of key.
func (r Record) Get(key string) (Value, bool) {
	for _, f := range r.Fields {
		if f.Key == key {
			return f.Val, true
		}
	}
	return Value{}, false
}

// Int returns the first value of key if it is an integer.
func (r Record) Int(key string) (int64, bool) {
	v, ok := r.Get(key)
	if !ok || v.IsIdent() {
		return 0, false
	}
	return v.Int, true
}

// All returns every value of key, in order.
func (r Record) All(key string) []Value {
	var out []Value
	for _, f := range r.Fields {
		if f.Key == key {
			out = append(out, f.Val)
		}
	}
	return out
}

func (r Record) String() string {
	s := r.Kind
	for _, f := range r.Fields {
		s += " " + f.Key + "=" + f.Val.String()
	}
	return s
}

// Call is one call of a test: which slot (0 for the first call of the set,
// called A in the documentation, 1 for B, ...), its name and arguments.
type Call struct {
	Slot int
	Name string
	Args []Field
}

// Expect is the expected result of the call in a slot.
type Expect struct {
	Slot   int
	Fields []Field
}

// Test is one concrete test: a setup, the calls, and their expected
// results, which are the same whichever order the calls run in.
type Test struct {
	ID     int // 1-based, consecutive over the whole file
	Set    int // ID of the call set
	Path   int // which commutative path of the call set it came from (1-based)
	Setup  []Record
	Calls  []Call
	Expect []Expect
}

// Summary describes the exploration of one call set.
type Summary struct {
	Paths       int    // feasible paths explored
	Commutative int    // of which commutative
	Tests       int    // tests generated (and present in the file)
	Errors      int    // failed paths or test generations
	Status      string // StatusOK, StatusTimeout or StatusError
}

// Set is a call set and its tests.
type Set struct {
	ID      int // 1-based, consecutive over the whole file
	Calls   []string
	Tests   []*Test
	Summary Summary
}

// File is a whole test file.
type File struct {
	Version int
	Model   string
	Params  []Field
	Sets    []*Set
}

// Param returns the integer parameter key.
func (f *File) Param(key string) (int64, bool) {
	return Record{Fields: f.Params}.Int(key)
}

// NumTests returns the number of tests in the file.
func (f *File) NumTests() int {
	n := 0
	for _, s := range f.Sets {
		n += len(s.Tests)
	}
	return n
}

// ParseError is a malformed test file.
type ParseError struct {
	Line int // 1-based; 0 for errors about the file as a whole
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return "testgen: " + e.Msg
	}
	return fmt.Sprintf("testgen: line %d: %s", e.Line, e.Msg)
}
