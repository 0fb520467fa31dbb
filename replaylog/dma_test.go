package replaylog

import (
	"reflect"
	"strings"
	"testing"
)

func TestDMATransferRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    DMATransfer
	}{
		{"empty", DMATransfer{}},
		{"reads", DMATransfer{Reads: []DMARange{{GPA: 0x1000, Len: 16}, {GPA: 0x2000, Len: 512}}, ReadHash: 1 << 63}},
		{"writes", DMATransfer{Writes: []DMAWrite{{GPA: 0x3000, Data: make([]byte, 4096)}, {GPA: 0x4000, Data: []byte{0}}}}},
		{"both", DMATransfer{Writes: []DMAWrite{{GPA: 0xff000, Data: []byte("x")}}, Reads: []DMARange{{GPA: 0, Len: 1}}, ReadHash: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDMATransfer(tc.t.Marshal(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Writes) == 0 {
				got.Writes = nil
			}
			if len(got.Reads) == 0 {
				got.Reads = nil
			}
			if !reflect.DeepEqual(*got, tc.t) {
				t.Fatalf("got %+v, want %+v", *got, tc.t)
			}
		})
	}
}

func TestDMATransferRejects(t *testing.T) {
	good := (&DMATransfer{Writes: []DMAWrite{{GPA: 0x1000, Data: []byte("abcd")}}, Reads: []DMARange{{GPA: 0x2000, Len: 8}}}).Marshal()
	for _, tc := range []struct {
		name string
		data []byte
		mem  uint64
		want string
	}{
		{"truncated", good[:len(good)-1], 1 << 20, "truncated"},
		{"trailing", append(append([]byte(nil), good...), 0), 1 << 20, "after the end"},
		{"write outside RAM", good, 0x1002, "outside RAM"},
		{"read outside RAM", good, 0x2004, "outside RAM"},
		{"huge count", []byte{0xff, 0xff, 0xff, 0x0f}, 1 << 20, "writes in"},
		{"empty", nil, 1 << 20, "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDMATransfer(tc.data, tc.mem)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseDMATransfer = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzDMATransfer: any bytes parse or fail cleanly, and what parses
// encodes back to the same bytes.
func FuzzDMATransfer(f *testing.F) {
	f.Add((&DMATransfer{Writes: []DMAWrite{{GPA: 0x1000, Data: []byte("abcd")}}, Reads: []DMARange{{GPA: 0x2000, Len: 8}}, ReadHash: 3}).Marshal())
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseDMATransfer(data, 1<<30)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		again, err := ParseDMATransfer(tr.Marshal(), 1<<30)
		if err != nil || !reflect.DeepEqual(again.String(), tr.String()) {
			t.Fatalf("re-encoding changed the transfer: %v", err)
		}
	})
}
