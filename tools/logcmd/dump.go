package logcmd

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/crewvm/crewvm/replaylog"
)

func runDump(args []string, stdout, stderr io.Writer) int {
	c := newCommand("dump", "[--json] [--from N] [--vcpu I] [--limit N] FILE",
		"Print the events of a replay log in order, one per line: its index, vCPU,\n"+
			"kind, position and fields. --json prints one JSON object per line\n"+
			"instead. A truncated or damaged log is printed up to the damage, which is\n"+
			"reported, and the exit status is 1.", stderr)
	asJSON := c.flags.Bool("json", false, "print JSON lines (one object per event)")
	from := c.flags.Uint64("from", 0, "start at the event with index `N` (seeks using the index)")
	vcpu := c.flags.Int("vcpu", -1, "print only the events of vCPU `I` (-1: all)")
	limit := c.flags.Uint64("limit", 0, "print at most `N` events (0: no limit)")
	if code, ok := c.parse(args, stdout); !ok {
		return code
	}
	if *vcpu < -1 {
		fmt.Fprintf(stderr, "vmm log dump: --vcpu %d: want a vCPU number or -1\n", *vcpu)
		return exitUsage
	}
	r, code := c.open()
	if r == nil {
		return code
	}
	defer r.Close()
	if *vcpu >= int(r.Header().VCPUs) {
		fmt.Fprintf(stderr, "vmm log dump: --vcpu %d: the log has %d vCPUs\n", *vcpu, r.Header().VCPUs)
		return exitUsage
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	var endErr error
	if *from > 0 {
		if err := r.SeekEvent(*from); err != nil {
			if errors.Is(err, io.EOF) {
				out.Flush()
				fmt.Fprintf(stderr, "vmm log dump: %s: no event %d, the log has %d events\n", c.file, *from, r.Events())
				return exitBad
			}
			endErr = err
		}
	}
	cps := r.Checkpoints()
	nextCP := 0
	var printed uint64
	var line []byte
	for endErr == nil && (*limit == 0 || printed < *limit) {
		e, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				endErr = err
			}
			break
		}
		for nextCP < len(cps) && cps[nextCP].Event <= e.Index {
			if !*asJSON && cps[nextCP].Event >= *from {
				fmt.Fprintf(out, "--- checkpoint %d: replay can start at event %d ---\n", cps[nextCP].Number, cps[nextCP].Event)
			}
			nextCP++
		}
		if *vcpu >= 0 && e.VCPU != uint32(*vcpu) {
			continue
		}
		if *asJSON {
			line = appendEventJSON(line[:0], e)
			line = append(line, '\n')
			out.Write(line)
		} else {
			out.WriteString(e.String())
			out.WriteByte('\n')
		}
		printed++
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "vmm log dump: %v\n", err)
		return exitBad
	}
	if endErr != nil {
		fmt.Fprintf(stderr, "vmm log dump: %s: %s\n", c.file, describeEnd(endErr))
		return exitBad
	}
	return exitOK
}

// appendEventJSON writes one event as a JSON object with the fields its
// kind uses, in a fixed order: index, kind, vcpu (null for none), pos,
// then the kind's fields. Byte payloads are hex strings.
func appendEventJSON(b []byte, e *replaylog.Event) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = append(b, `,"kind":`...)
	b = strconv.AppendQuote(b, e.Kind.String())
	b = append(b, `,"vcpu":`...)
	if e.VCPU == replaylog.NoVCPU {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, uint64(e.VCPU), 10)
	}
	if e.Pos.Kind != replaylog.PosNone {
		b = append(b, `,"pos":`...)
		b = appendPosJSON(b, &e.Pos)
	}
	num := func(name string, v uint64) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = strconv.AppendUint(b, v, 10)
	}
	str := func(name, v string) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = appendJSONString(b, v)
	}
	switch e.Kind {
	case replaylog.KindPortIn:
		num("port", uint64(e.Port))
		num("size", uint64(e.Size))
		num("value", e.Value)
	case replaylog.KindMMIORead:
		num("gpa", e.Addr)
		str("data", hex.EncodeToString(e.Data))
	case replaylog.KindClock:
		num("ns", e.Value)
	case replaylog.KindHypercall:
		num("nr", e.Nr)
		num("result", e.Value)
	case replaylog.KindInterrupt:
		num("vector", uint64(e.Vector))
	case replaylog.KindDMA:
		num("device", uint64(e.Device))
		num("gpa", e.Addr)
		str("data", hex.EncodeToString(e.Data))
		b = appendConstraintsJSON(b, e.Constraints)
	case replaylog.KindConsoleInput:
		str("data", hex.EncodeToString(e.Data))
		str("text", string(e.Data))
	case replaylog.KindCREW:
		num("page", e.Page)
		str("access", e.Access.String())
		str("state", e.State.String())
		b = appendConstraintsJSON(b, e.Constraints)
	case replaylog.KindStateHash:
		num("regs_hash", e.Hash)
		if e.HasMemHash {
			num("mem_hash", e.MemHash)
		}
	case replaylog.KindRegionBegin, replaylog.KindRegionEnd, replaylog.KindLabel:
		num("addr", e.Addr)
		num("len", e.Len)
		str("name", e.Name)
	case replaylog.KindGuestExit:
		num("status", e.Value)
	case replaylog.KindEnd:
	default:
		num("kind_number", uint64(e.Kind))
		str("payload", hex.EncodeToString(e.Data))
	}
	return append(b, '}')
}

func appendPosJSON(b []byte, p *replaylog.Position) []byte {
	switch p.Kind {
	case replaylog.PosExit:
		b = append(b, `{"kind":"exit","exits":`...)
		b = strconv.AppendUint(b, p.Exits, 10)
	case replaylog.PosState:
		b = append(b, `{"kind":"state","exits":`...)
		b = strconv.AppendUint(b, p.Exits, 10)
		b = append(b, `,"rip":`...)
		b = strconv.AppendUint(b, p.Regs.RIP, 10)
		b = append(b, `,"rflags":`...)
		b = strconv.AppendUint(b, p.Regs.RFLAGS, 10)
		b = append(b, `,"gpr":[`...)
		for i, r := range p.Regs.GPR {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, r, 10)
		}
		b = append(b, `],"mem_hash":`...)
		b = strconv.AppendUint(b, p.MemHash, 10)
	default:
		b = append(b, `{"kind":"none"`...)
	}
	return append(b, '}')
}

func appendConstraintsJSON(b []byte, cs []replaylog.Constraint) []byte {
	b = append(b, `,"after":[`...)
	for i := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"vcpu":`...)
		b = strconv.AppendUint(b, uint64(cs[i].VCPU), 10)
		b = append(b, `,"pos":`...)
		b = appendPosJSON(b, &cs[i].Pos)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString quotes s as JSON (strconv.Quote's escapes are Go's, not
// JSON's). Invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return append(b, `""`...)
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}
