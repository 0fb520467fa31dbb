package bisect

import (
	"reflect"
	"testing"

	"github.com/crewvm/crewvm/vmm/kvm"
)

func TestDiffMemory(t *testing.T) {
	base := make([]byte, 1000)
	changed := func(at ...int) []byte {
		b := append([]byte(nil), base...)
		for _, i := range at {
			b[i] ^= 0xff
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		a, b     []memRange
		want     [][2]uint64
		compared uint64
	}{
		{"same", []memRange{{0x1000, base}}, []memRange{{0x1000, base}}, nil, 1000},
		{"one byte", []memRange{{0x1000, base}}, []memRange{{0x1000, changed(999)}}, [][2]uint64{{0x1000 + 999, 0x1000 + 1000}}, 1000},
		{"a run and a byte", []memRange{{0, base}}, []memRange{{0, changed(3, 4, 5, 700)}}, [][2]uint64{{3, 6}, {700, 701}}, 1000},
		{"overlap only", []memRange{{0, base}}, []memRange{{500, changed(0, 600)[:600]}}, [][2]uint64{{500, 501}}, 500},
		{"disjoint", []memRange{{0, base}}, []memRange{{5000, base}}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, compared := diffMemory(tc.a, tc.b)
			if !reflect.DeepEqual(got, tc.want) || compared != tc.compared {
				t.Fatalf("got %v (%d compared), want %v (%d)", got, compared, tc.want, tc.compared)
			}
		})
	}
}

func TestWithout(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    span
		mask []span
		want []span
	}{
		{"no mask", span{0, 100}, nil, []span{{0, 100}}},
		{"middle", span{0, 100}, []span{{40, 60}}, []span{{0, 40}, {60, 100}}},
		{"ends", span{10, 100}, []span{{0, 20}, {90, 200}}, []span{{20, 90}}},
		{"all", span{10, 20}, []span{{0, 100}}, nil},
		{"outside", span{10, 20}, []span{{30, 40}}, []span{{10, 20}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := without(tc.r, tc.mask); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompareSteps(t *testing.T) {
	add := step{rip: 0x1000, code: []byte{0x48, 0x83, 0xc0, 0x00}, regs: kvm.Regs{RAX: 1, RIP: 0x1004}}
	with := func(f func(*step)) step {
		s := add
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		a, b step
		want string
	}{
		{"same", add, add, ""},
		{"both end", step{end: true}, step{end: true}, ""},
		{"code", add, with(func(s *step) { s.code = []byte{0x48, 0x83, 0xc0, 0x01} }), "the instruction"},
		{"regs", add, with(func(s *step) { s.regs.RAX = 2 }), "the registers after it"},
		{"stepping flags only", add, with(func(s *step) { s.regs.RFLAGS = 0x100 }), ""},
		{"writes", with(func(s *step) { s.writes = []write{{8, []byte{1}}} }), with(func(s *step) { s.writes = []write{{8, []byte{2}}} }), "the bytes it wrote"},
		{"one ends", add, step{end: true}, "the candidate's execution reaches the interval's last exit here; the recording's executes another instruction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := compareSteps(&tc.a, &tc.b); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
