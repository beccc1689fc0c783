package dump

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestGSSAPILibzmq decodes both directions of a GSSAPI session between two
// libzmq 4.3.4 DEALER sockets (with MIT Kerberos), captured on the wire:
// the AP-REQ and AP-REP in INITIATE, the client's empty command, the
// READY commands and messages in sealed wrap tokens.
func TestGSSAPILibzmq(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	client := summaries(decodeEvents(t, Options{}, read("gssapi-libzmq-client.hex")))
	want := []string{
		"greeting ZMTP 3.1 GSSAPI",
		"INITIATE (GSSAPI) AP-REQ token 729 octets",
		"empty command",
		"MESSAGE (GSSAPI) wrap token 102 octets from the initiator seq 846388763 sealed",
	}
	if len(client) < len(want)+1 || strings.Join(client[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Fatalf("client:\n\t%s", strings.Join(client, "\n\t"))
	}
	for _, s := range client[len(want):] {
		if !strings.HasPrefix(s, "MESSAGE (GSSAPI) wrap token") || strings.Contains(s, "acceptor") {
			t.Fatalf("after the handshake: %q", s)
		}
	}
	server := summaries(decodeEvents(t, Options{}, read("gssapi-libzmq-server.hex")))
	if len(server) < 3 || server[0] != "greeting ZMTP 3.1 GSSAPI" ||
		server[1] != "INITIATE (GSSAPI) AP-REP token 156 octets" ||
		!strings.HasPrefix(server[2], "MESSAGE (GSSAPI) wrap token 102 octets from the acceptor") {
		t.Fatalf("server:\n\t%s", strings.Join(server, "\n\t"))
	}
}
