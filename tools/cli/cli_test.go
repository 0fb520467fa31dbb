package cli

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"256M", 256 << 20, true},
		{"1G", 1 << 30, true},
		{"512MiB", 512 << 20, true},
		{"4096", 4096, true},
		{"64k", 64 << 10, true},
		{"", 0, false},
		{"M", 0, false},
		{"-1M", 0, false},
		{"12X", 0, false},
		{"99999999999999999999G", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
