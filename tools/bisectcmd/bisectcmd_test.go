package bisectcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/tools/cli"
)

// TestMainErrors wants a clear message and the documented exit status
// for each way the command can be misused; none boots a guest.
func TestMainErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.log")
	if err := os.WriteFile(junk, []byte("not a log"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "finds the first instruction"},
		{nil, cli.ExitUsage, "want one LOG"},
		{[]string{"a.log", "b.log"}, cli.ExitUsage, "want one LOG"},
		{[]string{filepath.Join(dir, "none.log")}, cli.ExitFailure, "no such file"},
		{[]string{junk}, cli.ExitFailure, "junk.log"},
		{[]string{"--guest", filepath.Join(dir, "none.elf"), junk}, cli.ExitFailure, "junk.log"},
	} {
		var out, errb bytes.Buffer
		code := Main(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("vmm bisect %v: exit %d, output %q; want %d with %q", tc.args, code, out.String()+errb.String(), tc.code, tc.want)
		}
	}
}
