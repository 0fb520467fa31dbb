package analysis

import (
	"bytes"
	"debug/elf"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/guest"
)

// The built-in guest is built with DWARF (-g): its traced.c has a
// struct counter {hits, misses} and a struct fields {u64 f[8]}.
func TestSymbolsBuiltinGuest(t *testing.T) {
	s, err := NewSymbols(guest.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	addr := func(name, file string) uint64 {
		f, err := elf.NewFile(bytes.NewReader(guest.Kernel))
		if err != nil {
			t.Fatal(err)
		}
		syms, _ := f.Symbols()
		inFile := false
		for _, sym := range syms {
			if elf.ST_TYPE(sym.Info) == elf.STT_FILE {
				inFile = sym.Name == file
			}
			if inFile && sym.Name == name {
				return sym.Value
			}
		}
		t.Fatalf("no symbol %s in %s", name, file)
		return 0
	}
	counter, fields, run := addr("counter", "traced.c"), addr("fields", "traced.c"), addr("fields_run", "traced.c")
	labels := []Label{{Addr: counter, Len: 16, Name: "struct counter:0"}}
	for _, tc := range []struct {
		addr uint64
		want string
	}{
		{counter, "struct counter:0.hits"},
		{counter + 8, "struct counter:0.misses"},
		{counter + 10, "struct counter:0.misses+0x2"},
		{fields + 3*8, "fields.f[3]"},
		{fields + 3*8 + 1, "fields.f[3]+0x1"},
	} {
		if got := s.Data(tc.addr, labels); got != tc.want {
			t.Errorf("Data(%#x) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	if got := s.PC(run + 1); !strings.HasPrefix(got, "fields_run+0x1 (traced.c:") {
		t.Errorf("PC(fields_run+1) = %q, want fields_run+0x1 (traced.c:N)", got)
	}
}

func TestSymbolsBadImage(t *testing.T) {
	for _, img := range [][]byte{nil, []byte("not an elf"), guest.Kernel[:64]} {
		s, err := NewSymbols(img)
		if err == nil {
			t.Errorf("NewSymbols of %d bytes: no error", len(img))
		}
		if got := s.Data(0x1234, nil); got != "0x1234" {
			t.Errorf("Data without symbols = %q", got)
		}
		if got := s.PC(0x10); got != "0x10" {
			t.Errorf("PC without symbols = %q", got)
		}
	}
}
