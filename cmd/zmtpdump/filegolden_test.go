package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaptureGolden decodes the captures of real libzmq traffic in
// testdata (testdata/libzmq-*.pcap) as JSON Lines and as verbose text with
// hex dumps, packet numbers and times since the first packet, and checks
// both against testdata/NAME.jsonl and testdata/NAME.txt (-update
// rewrites them).
func TestCaptureGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/libzmq-*.pcap")
	must(t, err)
	if len(files) == 0 {
		t.Fatal("no capture in testdata")
	}
	for _, path := range files {
		name := strings.TrimSuffix(path, ".pcap")
		for _, v := range []struct {
			ext  string
			args []string
		}{
			{".jsonl", []string{"--json", "--stats"}},
			{".txt", []string{"-v", "-X", "-#", "-ttttt", "--stats"}},
		} {
			var out, errb bytes.Buffer
			if code := run(append([]string{"-r", path}, v.args...), &out, &errb); code != 0 {
				t.Fatalf("%s: exit %d: %s", path, code, errb.String())
			}
			golden := name + v.ext
			if *update {
				must(t, os.WriteFile(golden, out.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			must(t, err)
			if out.String() != string(want) {
				t.Errorf("%s decoded differently from %s (run with -update to rewrite):\n%s", path, golden, diffLines(string(want), out.String()))
			}
		}
	}
}
