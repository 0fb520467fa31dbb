// Package tracecmd implements `vmm trace dump FILE [--json]`: it prints
// the access trace that `vmm replay --analysis trace` writes, one event
// per line for people, or JSON lines for tools. The vmm command calls
// Main with the arguments after "trace".
package tracecmd

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/tools/cli"
)

// Main runs `vmm trace ARGS...` and returns the exit status: 0, 1 when
// the trace is damaged or not a trace, 2 on a usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "dump" {
		fmt.Fprintln(stderr, "usage: vmm trace dump [--json] FILE\n\nPrints the access trace of `vmm replay --analysis trace` (DIR/"+analysis.TraceFile+").")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return cli.ExitUsage
	}
	var asJSON bool
	fs := cli.NewFlagSet("trace dump", "[--json] FILE\n\nPrints every event of an access trace: accesses (vCPU, position, RIP,\n"+
		"guest-physical address, size, kind, bytes written), regions and labels.", stderr)
	fs.BoolVar(&asJSON, "json", false, "one JSON object per line")
	if code, done := cli.ParseFlags(fs, args[1:]); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vmm trace dump: want exactly one FILE")
		return cli.ExitUsage
	}
	enc := json.NewEncoder(stdout)
	err := analysis.ReadTrace(fs.Arg(0), func(ev *analysis.Event) error {
		if asJSON {
			return enc.Encode(jsonEvent(ev))
		}
		_, err := fmt.Fprintln(stdout, textEvent(ev))
		return err
	})
	if err != nil {
		fmt.Fprintf(stderr, "vmm trace dump: %v\n", err)
		return 1
	}
	return 0
}

func textEvent(ev *analysis.Event) string {
	switch ev.Kind {
	case analysis.EventAccess:
		a := &ev.Access
		s := fmt.Sprintf("cpu %d exit %d step %d rip %#x %s %#x+%d", ev.CPU, a.Exits, a.Step, a.RIP, a.Kind, a.Addr, a.Size)
		if len(a.Value) > 0 {
			s += " = " + hex.EncodeToString(a.Value)
		}
		return s
	case analysis.EventRegionBegin:
		return fmt.Sprintf("cpu %d region %d begins", ev.CPU, ev.Region)
	case analysis.EventRegionEnd:
		return fmt.Sprintf("cpu %d region %d ends", ev.CPU, ev.Region)
	case analysis.EventLabel:
		return fmt.Sprintf("cpu %d label %q at %#x+%d", ev.CPU, ev.Label.Name, ev.Label.Addr, ev.Label.Len)
	}
	return fmt.Sprintf("cpu %d event %d", ev.CPU, ev.Kind)
}

// jsonEvent is the JSON form of an event.
func jsonEvent(ev *analysis.Event) any {
	switch ev.Kind {
	case analysis.EventAccess:
		a := &ev.Access
		return struct {
			Type  string `json:"type"`
			CPU   int    `json:"cpu"`
			Exits uint64 `json:"exits"`
			Step  uint64 `json:"step"`
			RIP   uint64 `json:"rip"`
			Addr  uint64 `json:"addr"`
			Size  uint32 `json:"size"`
			Kind  string `json:"kind"`
			Value string `json:"value,omitempty"`
		}{"access", ev.CPU, a.Exits, a.Step, a.RIP, a.Addr, a.Size, a.Kind.String(), hex.EncodeToString(a.Value)}
	case analysis.EventRegionBegin, analysis.EventRegionEnd:
		t := "region-begin"
		if ev.Kind == analysis.EventRegionEnd {
			t = "region-end"
		}
		return struct {
			Type   string `json:"type"`
			CPU    int    `json:"cpu"`
			Region uint64 `json:"region"`
		}{t, ev.CPU, ev.Region}
	}
	return struct {
		Type string `json:"type"`
		CPU  int    `json:"cpu"`
		Addr uint64 `json:"addr"`
		Len  uint64 `json:"len"`
		Name string `json:"name"`
	}{"label", ev.CPU, ev.Label.Addr, ev.Label.Len, ev.Label.Name}
}
