package testgen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Writer writes a test file incrementally: a header, then call sets, then
// the closing eof record. Test and set IDs are assigned by the Writer, so
// callers may leave them zero.
type Writer struct {
	w      *bufio.Writer
	err    error
	sets   int
	tests  int
	closed bool
}

// NewWriter writes the header for model and its parameters.
func NewWriter(w io.Writer, model string, params []Field) (*Writer, error) {
	if err := checkIdent(model); err != nil {
		return nil, fmt.Errorf("testgen: model name: %w", err)
	}
	tw := &Writer{w: bufio.NewWriter(w)}
	tw.line(fmt.Sprintf("%s %d", Magic, Version))
	tw.record(Record{Kind: "model", Fields: []Field{FI("name", model)}})
	for _, p := range params {
		tw.record(Record{Kind: "param", Fields: []Field{p}})
	}
	return tw, tw.err
}

func (w *Writer) line(s string) {
	if w.err != nil {
		return
	}
	if len(s) > MaxLineLen {
		w.err = fmt.Errorf("testgen: line of %d bytes exceeds %d: %.60s...", len(s), MaxLineLen, s)
		return
	}
	_, w.err = w.w.WriteString(s + "\n")
}

func (w *Writer) record(r Record) {
	if w.err != nil {
		return
	}
	if err := checkRecord(r); err != nil {
		w.err = err
		return
	}
	w.line(r.String())
}

// checkRecord validates what the reader would reject, so a Writer never
// produces an unreadable file.
func checkRecord(r Record) error {
	if err := checkIdent(r.Kind); err != nil {
		return fmt.Errorf("testgen: record kind: %w", err)
	}
	if len(r.Fields) > MaxFields {
		return fmt.Errorf("testgen: %s record has %d fields, more than %d", r.Kind, len(r.Fields), MaxFields)
	}
	for _, f := range r.Fields {
		if err := checkKey(f.Key); err != nil {
			return fmt.Errorf("testgen: %s record: %w", r.Kind, err)
		}
		if f.Val.IsIdent() {
			if err := checkIdent(f.Val.Ident); err != nil {
				return fmt.Errorf("testgen: %s record, field %s: %w", r.Kind, f.Key, err)
			}
		}
	}
	return nil
}

// Comment writes a comment line; newlines in text start new comment lines.
func (w *Writer) Comment(text string) error {
	for _, l := range strings.Split(text, "\n") {
		l = strings.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7e {
				return '?'
			}
			return r
		}, l)
		if len(l) > MaxLineLen-2 {
			l = l[:MaxLineLen-2]
		}
		w.line("# " + l)
	}
	return w.err
}

// WriteSet writes a call set with its tests and summary, assigning IDs
// (s and its tests are updated). The summary's test count is set to the
// number of tests written.
func (w *Writer) WriteSet(s *Set) error {
	if w.closed {
		return errors.New("testgen: WriteSet after Close")
	}
	if len(s.Calls) == 0 {
		return errors.New("testgen: call set without calls")
	}
	w.sets++
	s.ID = w.sets
	fields := []Field{F("id", int64(s.ID))}
	for _, c := range s.Calls {
		fields = append(fields, FI("call", c))
	}
	w.record(Record{Kind: "set", Fields: fields})
	for _, t := range s.Tests {
		w.tests++
		t.ID, t.Set = w.tests, s.ID
		w.writeTest(t, len(s.Calls))
	}
	s.Summary.Tests = len(s.Tests)
	if s.Summary.Status == "" {
		s.Summary.Status = StatusOK
	}
	sm := s.Summary
	w.record(Record{Kind: "summary", Fields: []Field{
		F("set", int64(s.ID)), F("paths", int64(sm.Paths)), F("commutative", int64(sm.Commutative)),
		F("tests", int64(sm.Tests)), F("errors", int64(sm.Errors)), FI("status", sm.Status),
	}})
	return w.err
}

func (w *Writer) writeTest(t *Test, ncalls int) {
	if len(t.Calls) != ncalls || len(t.Expect) != ncalls {
		w.err = fmt.Errorf("testgen: test %d has %d calls and %d expectations for a set of %d calls", t.ID, len(t.Calls), len(t.Expect), ncalls)
		return
	}
	w.record(Record{Kind: "test", Fields: []Field{F("id", int64(t.ID)), F("set", int64(t.Set)), F("path", int64(t.Path))}})
	for _, r := range t.Setup {
		if reservedKind(r.Kind) {
			w.err = fmt.Errorf("testgen: setup record may not be a %q record", r.Kind)
			return
		}
		w.record(r)
	}
	for i, c := range t.Calls {
		c.Slot = i
		w.record(Record{Kind: "call", Fields: append([]Field{F("slot", int64(i)), FI("name", c.Name)}, c.Args...)})
	}
	for i, e := range t.Expect {
		w.record(Record{Kind: "expect", Fields: append([]Field{F("slot", int64(i))}, e.Fields...)})
	}
	w.line("end")
}

// Close writes the eof record and flushes. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	w.record(Record{Kind: "eof", Fields: []Field{F("sets", int64(w.sets)), F("tests", int64(w.tests))}})
	if w.err != nil {
		return w.err
	}
	return w.w.Flush()
}

// Write writes a whole file (assigning IDs as WriteSet does).
func Write(w io.Writer, f *File) error {
	tw, err := NewWriter(w, f.Model, f.Params)
	if err != nil {
		return err
	}
	for _, s := range f.Sets {
		if err := tw.WriteSet(s); err != nil {
			return err
		}
	}
	return tw.Close()
}

func reservedKind(k string) bool {
	switch k {
	case "model", "param", "set", "test", "call", "expect", "end", "summary", "eof":
		return true
	}
	return false
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// checkIdent validates an identifier: [a-z_][a-z0-9_]*, at most
// MaxIdentLen bytes.
func checkIdent(s string) error {
	if s == "" {
		return errors.New("empty identifier")
	}
	if len(s) > MaxIdentLen {
		return fmt.Errorf("identifier longer than %d bytes", MaxIdentLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLower(c) || c == '_' || (i > 0 && isDigit(c))) {
			return fmt.Errorf("invalid identifier %q: want [a-z_][a-z0-9_]*", s)
		}
	}
	return nil
}

// checkKey validates a key: like an identifier, but dots may separate
// parts ("events.len").
func checkKey(s string) error {
	if s == "" {
		return errors.New("empty key")
	}
	if len(s) > MaxIdentLen {
		return fmt.Errorf("key longer than %d bytes", MaxIdentLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := isLower(c) || c == '_' || (i > 0 && (isDigit(c) || c == '.'))
		if !ok || (c == '.' && (i == len(s)-1 || s[i-1] == '.')) {
			return fmt.Errorf("invalid key %q: want [a-z_][a-z0-9_.]*", s)
		}
	}
	return nil
}
