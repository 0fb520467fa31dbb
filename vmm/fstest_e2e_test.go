package vmm

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/guest/fstestcheck"
	"github.com/crewvm/crewvm/models/testgen"
)

// fstestSample is the guest's sample of generated POSIX tests: two of
// every one of the model's 171 call sets (guest/fstest_test.go makes it).
func fstestSample(t *testing.T) ([]byte, *testgen.File) {
	t.Helper()
	data, err := os.ReadFile("../guest/testdata/fstest-sample.tests")
	if err != nil {
		t.Fatal(err)
	}
	f, err := testgen.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return data, f
}

// TestFstestOnKVM runs the sample on both kernels under test, on two
// vCPUs, with the calls one after the other and concurrently: every test
// passes, and every call returns what the model's concrete implementation
// returns.
func TestFstestOnKVM(t *testing.T) {
	data, f := fstestSample(t)
	for _, kernel := range []string{"mono", "scalable"} {
		for _, mode := range []string{"sequential", "concurrent"} {
			t.Run(kernel+"/"+mode, func(t *testing.T) {
				out, res, err := runGuest(t, Config{CPUs: 2, Args: []string{"fstest", kernel, mode, "results"}, Input: data})
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if res.Status != 0 {
					t.Fatalf("status %d:\n%s", res.Status, out)
				}
				if _, err := fstestcheck.Check(f, out); err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("kernel %s, %s:", kernel, mode); !strings.Contains(out, want) {
					t.Errorf("summary does not say %q:\n%s", want, out)
				}
			})
		}
	}
}

// TestFstestRecordReplay records the sample on both kernels and replays
// it: the same output, whatever the interleaving of the two CPUs' calls.
func TestFstestRecordReplay(t *testing.T) {
	data, f := fstestSample(t)
	dir := t.TempDir()
	for _, kernel := range []string{"mono", "scalable"} {
		for _, mode := range []string{"sequential", "concurrent"} {
			t.Run(kernel+"/"+mode, func(t *testing.T) {
				rec := record(t, dir, Config{CPUs: 2, Args: []string{"fstest", kernel, mode}, Input: data})
				if rec.status != 0 {
					t.Fatalf("status %d:\n%s", rec.status, rec.out)
				}
				sum, err := fstestcheck.ParseSummary(rec.out)
				if err != nil || sum.Passed != f.NumTests() {
					t.Fatalf("summary %+v (%v):\n%s", sum, err, rec.out)
				}
				checkReplay(t, rec)
			})
		}
	}
}

// TestFstestBadInputOnKVM: a broken test file, or none, ends the guest
// with status 2 and a message, never with a fault.
func TestFstestBadInputOnKVM(t *testing.T) {
	data, _ := fstestSample(t)
	half := data[:bytes.LastIndexByte(data[:len(data)/2], '\n')+1]
	tests := []struct {
		name  string
		input []byte
		args  []string
		want  string
	}{
		{"no test file", nil, nil, "no test file"},
		{"truncated", half, nil, "truncated file"},
		{"unknown call", bytes.Replace(data, []byte("name=close"), []byte("name=fork"), 1), nil, "unknown call name"},
		{"bad argument", data, []string{"quickly"}, "bad argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, res, err := runGuest(t, Config{CPUs: 2, Args: append([]string{"fstest"}, tt.args...), Input: tt.input})
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if res.Status != 2 || !strings.Contains(out, tt.want) {
				t.Fatalf("status %d, output %q; want status 2 and %q", res.Status, out, tt.want)
			}
		})
	}
}

// TestFstestRange runs one id range of the sample on one vCPU.
func TestFstestRange(t *testing.T) {
	data, _ := fstestSample(t)
	out, res, err := runGuest(t, Config{CPUs: 1, Args: []string{"fstest", "mono", "5-14"}, Input: data})
	if err != nil || res.Status != 0 {
		t.Fatalf("%v, status %v:\n%s", err, res, out)
	}
	if !strings.Contains(out, "10 tests run, 10 passed, 0 failed") {
		t.Errorf("output:\n%s", out)
	}
}
