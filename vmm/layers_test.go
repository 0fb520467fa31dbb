package vmm

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestLayers keeps the package layering of doc.go: no package depends on
// one above it, the packages that must not know KVM do not, and no
// engine depends on another mode's.
func TestLayers(t *testing.T) {
	const mod = "github.com/crewvm/crewvm/"
	kvm := []string{mod + "vmm/kvm", mod + "vmm/guestmem", mod + "vmm/machine", "github.com/bobuhiro11/gokvm", "golang.org/x/sys/unix"}
	engines := []string{mod + "vmm/engine/run", mod + "vmm/engine/record", mod + "vmm/engine/replay"}
	for _, tc := range []struct {
		pkg    string
		forbid []string
	}{
		{"crew", []string{mod + "vmm"}},
		{"replaylog", []string{mod + "vmm"}},
		{"models/...", []string{mod + "vmm"}},
		{"analysis/...", []string{mod + "vmm"}},
		{"vmm/x86", kvm},
		{"vmm/abi", kvm},
		{"vmm/devices/...", kvm},
		{"vmm/engine/matcher", kvm},
		{"vmm/kvm", []string{mod + "vmm/machine", mod + "vmm/engine", mod + "vmm/guestmem"}},
		{"vmm/guestmem", []string{mod + "vmm/machine", mod + "vmm/engine", mod + "vmm/kvm"}},
		{"vmm/machine", []string{mod + "vmm/engine"}},
		{"vmm/engine/crewview", engines},
		{"vmm/engine/run", []string{mod + "vmm/engine/record", mod + "vmm/engine/replay", mod + "vmm/engine/crewview"}},
		{"vmm/engine/record", []string{mod + "vmm/engine/replay", mod + "vmm/engine/run"}},
		{"vmm/engine/replay", []string{mod + "vmm/engine/record", mod + "vmm/engine/run"}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "../"+tc.pkg).Output()
			var exit *exec.ExitError
			switch {
			case errors.Is(err, exec.ErrNotFound):
				t.Skipf("no go command: %v", err)
			case errors.As(err, &exit) && (strings.Contains(string(exit.Stderr), "matched no packages") || strings.Contains(string(exit.Stderr), "no such file")):
				return // a layer with no package yet
			case err != nil:
				t.Fatalf("go list %s: %v", tc.pkg, err)
			}
			self := mod + strings.TrimSuffix(tc.pkg, "/...")
			for _, dep := range strings.Fields(string(out)) {
				if strings.HasPrefix(dep, self) {
					continue
				}
				for _, f := range tc.forbid {
					if dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s depends on %s", tc.pkg, dep)
					}
				}
			}
		})
	}
}
