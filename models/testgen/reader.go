package testgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Read parses and validates a whole test file. Structure (record order,
// IDs, counts) is checked for every model; setups, calls and expectations
// are also checked against the model's vocabulary when the model has one
// (see FORMAT.md). The first problem is returned as a *ParseError.
func Read(r io.Reader) (*File, error) {
	p := &parser{sc: bufio.NewScanner(r)}
	p.sc.Buffer(make([]byte, 0, 4096), MaxLineLen+1)
	p.sc.Split(scanLines)
	f, err := p.file()
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, &ParseError{Line: p.line, Msg: err.Error()}
	}
	return f, nil
}

// scanLines is bufio.ScanLines without its silent removal of \r, which
// the format forbids.
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

type parser struct {
	sc     *bufio.Scanner
	line   int
	peeked *Record
	eof    bool
}

func (p *parser) errf(format string, args ...any) error {
	return &ParseError{Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

// rawLine returns the next line that is not empty or a comment.
func (p *parser) rawLine() (string, bool, error) {
	for p.sc.Scan() {
		p.line++
		b := p.sc.Bytes()
		if len(b) > MaxLineLen {
			return "", false, p.errf("line longer than %d bytes", MaxLineLen)
		}
		for _, c := range b {
			if c < 0x20 || c > 0x7e {
				return "", false, p.errf("invalid byte 0x%02x (only printable ASCII is allowed)", c)
			}
		}
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		return string(b), true, nil
	}
	if err := p.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			p.line++
			return "", false, p.errf("line longer than %d bytes", MaxLineLen)
		}
		return "", false, err
	}
	return "", false, nil
}

// next returns the next record, or nil at the end of input.
func (p *parser) next() (*Record, error) {
	if p.peeked != nil {
		r := p.peeked
		p.peeked = nil
		return r, nil
	}
	s, ok, err := p.rawLine()
	if err != nil || !ok {
		return nil, err
	}
	return p.parseRecord(s)
}

func (p *parser) peek() (*Record, error) {
	if p.peeked == nil {
		r, err := p.next()
		if err != nil {
			return nil, err
		}
		p.peeked = r
	}
	return p.peeked, nil
}

func (p *parser) parseRecord(s string) (*Record, error) {
	toks := splitSpaces(s)
	if len(toks) == 0 {
		return nil, p.errf("blank line with spaces")
	}
	if err := checkIdent(toks[0]); err != nil {
		return nil, p.errf("record keyword: %v", err)
	}
	if len(toks)-1 > MaxFields {
		return nil, p.errf("%s record has more than %d fields", toks[0], MaxFields)
	}
	r := &Record{Kind: toks[0]}
	for _, t := range toks[1:] {
		i := indexByte(t, '=')
		if i < 0 {
			return nil, p.errf("%s record: field %q is not key=value", r.Kind, t)
		}
		key, val := t[:i], t[i+1:]
		if err := checkKey(key); err != nil {
			return nil, p.errf("%s record: %v", r.Kind, err)
		}
		v, err := parseValue(val)
		if err != nil {
			return nil, p.errf("%s record, field %s: %v", r.Kind, key, err)
		}
		r.Fields = append(r.Fields, Field{Key: key, Val: v})
	}
	return r, nil
}

func splitSpaces(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// parseValue accepts canonical decimal integers and identifiers, so that
// reading and writing round-trip exactly.
func parseValue(s string) (Value, error) {
	if s == "" {
		return Value{}, errors.New("empty value")
	}
	if s[0] == '-' || isDigit(s[0]) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("bad integer %q", s)
		}
		if strconv.FormatInt(n, 10) != s {
			return Value{}, fmt.Errorf("integer %q is not in canonical form", s)
		}
		return IntValue(n), nil
	}
	if err := checkIdent(s); err != nil {
		return Value{}, err
	}
	return IdentValue(s), nil
}

// expect reads a record of the given kind.
func (p *parser) expect(kind string) (*Record, error) {
	r, err := p.next()
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, p.errf("unexpected end of file, want a %s record", kind)
	}
	if r.Kind != kind {
		return nil, p.errf("got a %s record, want %s", r.Kind, kind)
	}
	return r, nil
}

// fields checks that r has exactly the given integer keys (each once) and
// returns their values.
func (p *parser) intFields(r *Record, keys ...string) ([]int64, error) {
	if len(r.Fields) != len(keys) {
		return nil, p.errf("%s record: want fields %v", r.Kind, keys)
	}
	out := make([]int64, len(keys))
	for i, k := range keys {
		f := r.Fields[i]
		if f.Key != k || f.Val.IsIdent() {
			return nil, p.errf("%s record: field %d must be %s=<integer>", r.Kind, i+1, k)
		}
		out[i] = f.Val.Int
	}
	return out, nil
}

func (p *parser) file() (*File, error) {
	s, ok, err := p.rawLine()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &ParseError{Msg: "empty file"}
	}
	toks := splitSpaces(s)
	if len(toks) != 2 || toks[0] != Magic {
		return nil, p.errf("not a test file: want %q", Magic+" <version>")
	}
	if toks[1] != strconv.Itoa(Version) {
		return nil, p.errf("unsupported version %q (this reader supports %d)", toks[1], Version)
	}
	f := &File{Version: Version}
	r, err := p.expect("model")
	if err != nil {
		return nil, err
	}
	if len(r.Fields) != 1 || r.Fields[0].Key != "name" || !r.Fields[0].Val.IsIdent() {
		return nil, p.errf("model record: want name=<identifier>")
	}
	f.Model = r.Fields[0].Val.Ident
	sch := schemaFor(f.Model)
	for {
		r, err := p.peek()
		if err != nil {
			return nil, err
		}
		if r == nil || r.Kind != "param" {
			break
		}
		p.peeked = nil
		if len(r.Fields) != 1 || r.Fields[0].Val.IsIdent() {
			return nil, p.errf("param record: want one key=<integer> field")
		}
		for _, q := range f.Params {
			if q.Key == r.Fields[0].Key {
				return nil, p.errf("param %s given twice", q.Key)
			}
		}
		f.Params = append(f.Params, r.Fields[0])
	}
	if sch != nil {
		if err := sch.checkParams(f); err != nil {
			return nil, p.errf("%v", err)
		}
	}
	tests := 0
	for {
		r, err := p.next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, p.errf("unexpected end of file: missing eof record (truncated file?)")
		}
		switch r.Kind {
		case "set":
			s, err := p.set(r, f, sch, &tests)
			if err != nil {
				return nil, err
			}
			f.Sets = append(f.Sets, s)
		case "eof":
			v, err := p.intFields(r, "sets", "tests")
			if err != nil {
				return nil, err
			}
			if v[0] != int64(len(f.Sets)) || v[1] != int64(tests) {
				return nil, p.errf("eof record says %d sets and %d tests, file has %d and %d", v[0], v[1], len(f.Sets), tests)
			}
			if extra, err := p.next(); err != nil {
				return nil, err
			} else if extra != nil {
				return nil, p.errf("%s record after eof", extra.Kind)
			}
			return f, nil
		default:
			return nil, p.errf("got a %s record, want set or eof", r.Kind)
		}
	}
}

func (p *parser) set(r *Record, f *File, sch *modelSchema, tests *int) (*Set, error) {
	if len(r.Fields) < 2 || r.Fields[0].Key != "id" || r.Fields[0].Val.IsIdent() {
		return nil, p.errf("set record: want id=<n> followed by call=<name> fields")
	}
	s := &Set{ID: int(r.Fields[0].Val.Int)}
	if r.Fields[0].Val.Int != int64(len(f.Sets)+1) {
		return nil, p.errf("set id %d, want %d (ids are consecutive from 1)", r.Fields[0].Val.Int, len(f.Sets)+1)
	}
	for _, fl := range r.Fields[1:] {
		if fl.Key != "call" || !fl.Val.IsIdent() {
			return nil, p.errf("set record: field %s=%s, want call=<name>", fl.Key, fl.Val)
		}
		if sch != nil && !sch.knownCall(fl.Val.Ident) {
			return nil, p.errf("set record: unknown %s call %q", f.Model, fl.Val.Ident)
		}
		s.Calls = append(s.Calls, fl.Val.Ident)
	}
	for {
		r, err := p.next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, p.errf("unexpected end of file in set %d", s.ID)
		}
		switch r.Kind {
		case "test":
			t, err := p.test(r, s, f, sch, *tests+1)
			if err != nil {
				return nil, err
			}
			*tests++
			s.Tests = append(s.Tests, t)
		case "summary":
			return s, p.summary(r, s)
		default:
			return nil, p.errf("got a %s record in set %d, want test or summary", r.Kind, s.ID)
		}
	}
}

func (p *parser) summary(r *Record, s *Set) error {
	if len(r.Fields) != 6 {
		return p.errf("summary record: want set paths commutative tests errors status")
	}
	v, err := p.intFields(&Record{Kind: "summary", Fields: r.Fields[:5]}, "set", "paths", "commutative", "tests", "errors")
	if err != nil {
		return err
	}
	st := r.Fields[5]
	if st.Key != "status" || !st.Val.IsIdent() {
		return p.errf("summary record: field 6 must be status=<ok|timeout|error>")
	}
	switch st.Val.Ident {
	case StatusOK, StatusTimeout, StatusError:
	default:
		return p.errf("summary record: unknown status %q", st.Val.Ident)
	}
	if v[0] != int64(s.ID) {
		return p.errf("summary for set %d inside set %d", v[0], s.ID)
	}
	for i, n := range v[1:] {
		if n < 0 || n > 1<<31 {
			return p.errf("summary record: %s=%d out of range", []string{"paths", "commutative", "tests", "errors"}[i], n)
		}
	}
	if v[2] > v[1] {
		return p.errf("summary record: %d commutative paths of %d", v[2], v[1])
	}
	if v[3] != int64(len(s.Tests)) {
		return p.errf("summary says %d tests, set %d has %d", v[3], s.ID, len(s.Tests))
	}
	if st.Val.Ident != StatusOK && len(s.Tests) > 0 {
		return p.errf("set %d has status %s but contains tests", s.ID, st.Val.Ident)
	}
	s.Summary = Summary{Paths: int(v[1]), Commutative: int(v[2]), Tests: int(v[3]), Errors: int(v[4]), Status: st.Val.Ident}
	return nil
}

func (p *parser) test(r *Record, s *Set, f *File, sch *modelSchema, wantID int) (*Test, error) {
	v, err := p.intFields(r, "id", "set", "path")
	if err != nil {
		return nil, err
	}
	if v[0] != int64(wantID) {
		return nil, p.errf("test id %d, want %d (ids are consecutive from 1)", v[0], wantID)
	}
	if v[1] != int64(s.ID) {
		return nil, p.errf("test %d names set %d inside set %d", v[0], v[1], s.ID)
	}
	if v[2] < 1 || v[2] > 1<<31 {
		return nil, p.errf("test %d: path %d out of range", v[0], v[2])
	}
	t := &Test{ID: int(v[0]), Set: s.ID, Path: int(v[2])}
	start := p.line
	for {
		r, err := p.next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, p.errf("unexpected end of file in test %d", t.ID)
		}
		if r.Kind == "call" {
			p.peeked = r
			break
		}
		if reservedKind(r.Kind) {
			return nil, p.errf("got a %s record in the setup of test %d", r.Kind, t.ID)
		}
		if sch != nil {
			if err := sch.checkSetupRecord(r); err != nil {
				return nil, p.errf("test %d: %v", t.ID, err)
			}
		}
		t.Setup = append(t.Setup, *r)
	}
	for i, name := range s.Calls {
		r, err := p.expect("call")
		if err != nil {
			return nil, err
		}
		if len(r.Fields) < 2 || r.Fields[0].Key != "slot" || r.Fields[0].Val.IsIdent() || r.Fields[0].Val.Int != int64(i) ||
			r.Fields[1].Key != "name" || !r.Fields[1].Val.IsIdent() {
			return nil, p.errf("test %d: call record must start with slot=%d name=<call>", t.ID, i)
		}
		if r.Fields[1].Val.Ident != name {
			return nil, p.errf("test %d: slot %d calls %s, but the set's call %d is %s", t.ID, i, r.Fields[1].Val.Ident, i, name)
		}
		c := Call{Slot: i, Name: name, Args: r.Fields[2:]}
		if sch != nil {
			if err := sch.checkArgs(c); err != nil {
				return nil, p.errf("test %d: %v", t.ID, err)
			}
		}
		t.Calls = append(t.Calls, c)
	}
	for i := range s.Calls {
		r, err := p.expect("expect")
		if err != nil {
			return nil, err
		}
		if len(r.Fields) < 1 || r.Fields[0].Key != "slot" || r.Fields[0].Val.IsIdent() || r.Fields[0].Val.Int != int64(i) {
			return nil, p.errf("test %d: expect record must start with slot=%d", t.ID, i)
		}
		e := Expect{Slot: i, Fields: r.Fields[1:]}
		if sch != nil {
			if err := sch.checkExpect(t.Calls[i].Name, e); err != nil {
				return nil, p.errf("test %d: %v", t.ID, err)
			}
		}
		t.Expect = append(t.Expect, e)
	}
	end, err := p.next()
	if err != nil {
		return nil, err
	}
	if end == nil || end.Kind != "end" || len(end.Fields) != 0 {
		return nil, p.errf("test %d: want an end record after the expectations", t.ID)
	}
	if sch != nil {
		if err := sch.checkTest(f, t); err != nil {
			return nil, &ParseError{Line: start, Msg: fmt.Sprintf("test %d: %v", t.ID, err)}
		}
	}
	return t, nil
}
