package guestmem

import "testing"

func TestMemoryHashIgnoresZeroPages(t *testing.T) {
	m, err := New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	empty := m.Hash()
	m.Host()[5000] = 0 // touching a page with a zero keeps it zero
	if got := m.Hash(); got != empty {
		t.Errorf("a backed zero page changed the hash")
	}
	m.Host()[5000] = 1
	if got := m.Hash(); got == empty {
		t.Errorf("a non-zero byte did not change the hash")
	}
}
