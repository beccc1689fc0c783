// Package asmcheck checks that a package's assembly is what its generator
// writes, for the tests of packages whose .s files are generated.
package asmcheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Generated runs the generator gen (a `//go:build ignore` program in the
// test's directory taking -out FILE) and fails t unless what it writes
// equals the file asm. Under -short it skips: it runs the go command.
func Generated(t *testing.T, gen, asm string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the generator")
	}
	out := filepath.Join(t.TempDir(), "gen.s")
	cmd := exec.Command("go", "run", gen, "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run %s: %v\n%s", gen, err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(asm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what %s writes: run go generate", asm, gen)
	}
}
