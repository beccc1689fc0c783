package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// TestCommandLine runs the command on a capture file with various options.
func TestCommandLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session.pcap")
	must(t, os.WriteFile(path, writePcap(t, layers.LinkTypeEthernet, sessionPkts(50), false, false), 0o644))
	cases := []struct {
		args      []string
		want      []string // substrings of the output
		wantLines int
	}{
		{[]string{"-r", path, "-t"}, []string{
			`#1 10.0.0.1:40000 > 10.0.0.2:5555 REQ>?: message 2 frames, 11 octets: "" | "request one"`,
			`#1 10.0.0.2:5555 > 10.0.0.1:40000 REP>REQ: READY Socket-Type="REP"`}, 11},
		{[]string{"-r", path, "-tt"}, []string{"1714564800.00"}, 11},
		{[]string{"-r", path, "-tttt"}, []string{"2024-05-01 "}, 11},
		{[]string{"-r", path, "-ttt"}, []string{"00:00:00.000000 #1"}, 11},
		{[]string{"-r", path, "-t", "--command", "ready"}, []string{`REQ>?: READY`}, 2},
		{[]string{"-r", path, "-t", "--topic", "request t"}, []string{"request two", "request three"}, 2},
		{[]string{"-r", path, "-t", "--socket-type", "REP", "--conn", "1"}, []string{"REP>REQ"}, 4},
		{[]string{"-r", path, "-t", "--conn", "2"}, nil, 0},
		{[]string{"-r", path, "-q"}, []string{"ZMTP 3.1 NULL REQ>REP handshake complete, ended by FIN", "client: 3 messages (6 frames), 1 commands"}, 3},
		{[]string{"-r", path, "--json", "--command", "READY"}, []string{`"kind":"command"`, `"name":"Socket-Type","value":"REQ"`}, 2},
		{[]string{"-r", path, "--json", "-q"}, []string{`"kind":"stats"`, `"handshake":"complete"`}, 1},
		{[]string{"-r", path, "-t", "-v", "--topic", "request one"}, []string{"\tframe 1 at "}, 4},
		{[]string{"-r", path, "-ttttt", "-#"}, []string{"1  00:00:00.000000 #1 10.0.0.1:40000 > 10.0.0.2:5555 ?>?: connection opened"}, 11},
		{[]string{"-r", path, "-t", "-c", "3"}, []string{"connection opened"}, 1},
		{[]string{"-r", path, "-t", "-v", "--command", "READY", "--conn", "1"}, []string{"\toffset 64, 27 octets, packets 5\n"}, 8},
		{[]string{"-r", path, "--json", "-c", "5"}, []string{`"packet":5,"packets":[4,5],`, "stream ended inside a message frame"}, 5},
		{[]string{"-r", path, "-t", "-X", "--topic", "request one"}, []string{"72657175657374206f6e65"[:4], "request one"}, 4},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != 0 {
			t.Errorf("%v: exit %d: %s", c.args, code, errb.String())
			continue
		}
		s := out.String()
		for _, w := range c.want {
			if !strings.Contains(s, w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, s)
			}
		}
		if n := strings.Count(s, "\n"); n != c.wantLines {
			t.Errorf("%v: %d lines, want %d:\n%s", c.args, n, c.wantLines, s)
		}
	}
	var errb bytes.Buffer
	if code := run([]string{"-r"}, &bytes.Buffer{}, &errb); code != 2 {
		t.Errorf("bad usage: exit %d", code)
	}
}
