package devices

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/vmm/abi"
)

type ram []byte

func (r ram) Slice(gpa, n uint64) ([]byte, error) {
	if gpa > uint64(len(r)) || n > uint64(len(r))-gpa {
		return nil, errOutside
	}
	return r[gpa : gpa+n], nil
}

var errOutside = errors.New("outside RAM")

func TestDecodeHypercall(t *testing.T) {
	mem := ram("hello, world")
	tests := []struct {
		name string
		args HypercallArgs
		want Call
		err  string
	}{
		{"exit", HypercallArgs{Nr: abi.HCExit, A0: 0x1ff}, Call{Nr: abi.HCExit, Status: 0xff}, ""},
		{"nr high bits ignored", HypercallArgs{Nr: 1<<32 | abi.HCTime}, Call{Nr: abi.HCTime}, ""},
		{"wake", HypercallArgs{Nr: abi.HCWake, A0: 1}, Call{Nr: abi.HCWake, CPU: 1}, ""},
		{"wake bad cpu", HypercallArgs{Nr: abi.HCWake, A0: 2}, Call{}, "CPU 2 does not exist"},
		{"console", HypercallArgs{Nr: abi.HCConsole, A0: 7, A1: 5}, Call{Nr: abi.HCConsole, Text: []byte("world")}, ""},
		{"console outside", HypercallArgs{Nr: abi.HCConsole, A0: 7, A1: 6}, Call{}, "outside RAM"},
		{"console too long", HypercallArgs{Nr: abi.HCConsole, A1: abi.MaxConsole + 1}, Call{}, "exceeds"},
		{"label", HypercallArgs{Nr: abi.HCLabel, A0: 0, A1: 4, A2: 0, A3: 5},
			Call{Nr: abi.HCLabel, Addr: 0, Len: 4, Text: []byte("hello")}, ""},
		{"label range outside", HypercallArgs{Nr: abi.HCLabel, A0: 10, A1: 4}, Call{}, "outside RAM"},
		{"label name too long", HypercallArgs{Nr: abi.HCLabel, A3: abi.MaxLabel + 1}, Call{}, "exceeds"},
		{"region", HypercallArgs{Nr: abi.HCRegionBegin, A0: 9}, Call{Nr: abi.HCRegionBegin, Addr: 9}, ""},
		{"unknown", HypercallArgs{Nr: 99}, Call{}, "unknown hypercall 99"},
	}
	for _, tt := range tests {
		got, err := DecodeHypercall(tt.args, 2, mem)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got.Nr != tt.want.Nr || got.Status != tt.want.Status || got.CPU != tt.want.CPU ||
			got.Addr != tt.want.Addr || got.Len != tt.want.Len || !bytes.Equal(got.Text, tt.want.Text) {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestConsolePorts(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out)
	c.PortIO(abi.PortSerial, true, []byte("hi"))
	lsr := []byte{0}
	c.PortIO(abi.PortSerialLSR, false, lsr)
	none := []byte{0, 0}
	c.PortIO(0x80, false, none)
	if out.String() != "hi" || lsr[0] != abi.SerialLSRReady || none[0] != 0xff || none[1] != 0xff {
		t.Errorf("console %q, LSR %#x, empty port % x", out.String(), lsr[0], none)
	}
}
