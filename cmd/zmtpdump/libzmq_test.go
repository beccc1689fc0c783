package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/zmtp-go/zmtp/dump"
)

const python = "/usr/bin/python3"

// pyzmq checks once that the Python that runs testdata/peer.py has pyzmq.
var pyzmq = sync.OnceValues(func() ([]byte, error) {
	return exec.Command(python, "-c", "import zmq, zmq.auth.thread").CombinedOutput()
})

func needPyzmq(t *testing.T) {
	t.Helper()
	if out, err := pyzmq(); err != nil {
		t.Fatalf("these tests need %s with pyzmq (Debian package python3-zmq): %v\n%s", python, err, out)
	}
}

// runLibzmqPeers runs testdata/peer.py (libzmq through pyzmq) in mode
// with its client connected through a proxy, and returns what the proxy
// decoded.
func runLibzmqPeers(t *testing.T, mode string) *recording {
	t.Helper()
	needPyzmq(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := newRecording(t)
	cmd := exec.CommandContext(ctx, python, "testdata/peer.py", mode)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	defer cmd.Wait()
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)
	expect := func(prefix string) string {
		if !lines.Scan() || !strings.HasPrefix(lines.Text(), prefix) {
			cancel()
			cmd.Wait()
			t.Fatalf("peer.py %s: want %q, got %q\n%s", mode, prefix, lines.Text(), stderr.String())
		}
		return strings.TrimPrefix(lines.Text(), prefix)
	}
	port := expect("PORT ")
	px, err := newProxy("tcp://127.0.0.1:*", "tcp://127.0.0.1:"+port, r.out, dump.Options{}, r.sink)
	must(t, err)
	go px.serve()
	defer px.close()
	fmt.Fprintln(stdin, px.endpoint())
	if mode == "plain-bad" {
		wait(t, ctx, r.await(1, func(ev dump.Event) bool {
			return ev.Kind == dump.KindCommand && ev.Command.Name == "ERROR"
		}), "the server's ERROR")
		fmt.Fprintln(stdin, "quit")
	}
	expect("DONE")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("peer.py %s: %v\n%s", mode, err, stderr.String())
	}
	must(t, waitFor(ctx, px.idle))
	px.close()
	r.out.mu.Lock()
	must(t, r.sink.close())
	r.out.mu.Unlock()
	checkPcapMatches(t, r)
	return r
}

// checkPcapMatches decodes the pcap written by the proxy and compares the
// events with the live ones.
func checkPcapMatches(t *testing.T, r *recording) {
	t.Helper()
	var fromFile bytes.Buffer
	out := newPrinter(&fromFile, outputConfig{json: true})
	must(t, readCapture(bytes.NewReader(r.pcap.Bytes()), newAssembler(out, dump.Options{}, 0)))
	if a, b := normalize(t, r.jsonl.String(), false), normalize(t, fromFile.String(), false); a != b {
		t.Errorf("pcap decode differs from the live decode:\n%s", diffLines(a, b))
	}
}

// commands returns the command events named name.
func (r *recording) commands(name string) []dump.Event {
	var evs []dump.Event
	for _, ev := range r.events {
		if ev.Kind == dump.KindCommand && ev.Command.Name == name {
			evs = append(evs, ev)
		}
	}
	return evs
}

func (r *recording) kinds(k dump.Kind) []dump.Event {
	var evs []dump.Event
	for _, ev := range r.events {
		if ev.Kind == k {
			evs = append(evs, ev)
		}
	}
	return evs
}

func noErrors(t *testing.T, r *recording) {
	t.Helper()
	for _, ev := range r.events {
		if ev.Kind == dump.KindError || ev.Kind == dump.KindSkip || ev.Err != "" || ev.Unsynced {
			t.Errorf("unexpected: %s", dump.Summary(ev))
		}
	}
}

func handshake(r *recording) string {
	if len(r.out.conns) == 0 {
		return "no connection"
	}
	return r.out.conns[0].Stats().Handshake
}

func TestLibzmqNull(t *testing.T) {
	r := runLibzmqPeers(t, "null")
	noErrors(t, r)
	var got []string
	for _, ev := range r.kinds(dump.KindMessage) {
		got = append(got, ev.SrcType+">"+ev.DstType+" "+dump.Summary(ev))
	}
	want := []string{
		`REQ>REP message 2 frames, 9 octets: "" | "request 0"`,
		`REP>REQ message 2 frames, 18 octets: "" | "reply to request 0"`,
		`REQ>REP message 2 frames, 9 octets: "" | "request 1"`,
		`REP>REQ message 2 frames, 18 octets: "" | "reply to request 1"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h := handshake(r); h != "complete" {
		t.Errorf("handshake %s", h)
	}
}

func TestLibzmqPlainAccepted(t *testing.T) {
	r := runLibzmqPeers(t, "plain-ok")
	noErrors(t, r)
	hello := r.commands("HELLO")
	if len(hello) != 1 || hello[0].Command.Username != "admin" || hello[0].Command.Password != "" || hello[0].Command.PasswordLen != 6 {
		t.Fatalf("HELLO: %v", hello)
	}
	if !strings.Contains(dump.Summary(hello[0]), "[6 octets hidden]") {
		t.Errorf("HELLO shown as %s", dump.Summary(hello[0]))
	}
	if len(r.commands("WELCOME")) != 1 || len(r.commands("INITIATE")) != 1 || len(r.commands("READY")) != 1 {
		t.Errorf("handshake commands: %d WELCOME, %d INITIATE, %d READY",
			len(r.commands("WELCOME")), len(r.commands("INITIATE")), len(r.commands("READY")))
	}
	if ini := r.commands("INITIATE"); len(ini) == 1 && ini[0].SrcType != "REQ" {
		t.Errorf("INITIATE from %q", ini[0].SrcType)
	}
	if n := len(r.kinds(dump.KindMessage)); n != 4 {
		t.Errorf("%d messages", n)
	}
	if h := handshake(r); h != "complete" {
		t.Errorf("handshake %s", h)
	}
}

// TestLibzmqPlainRejected checks libzmq's malformed ERROR: it is decoded
// as an ERROR with a hint, not as garbage.
func TestLibzmqPlainRejected(t *testing.T) {
	r := runLibzmqPeers(t, "plain-bad")
	errs := r.commands("ERROR")
	if len(errs) == 0 {
		t.Fatal("no ERROR")
	}
	e := errs[0]
	if e.Dir != dump.FromServer || e.Command.Reason != "400" || e.Hint == "" || e.Err == "" {
		t.Errorf("ERROR event: dir %d reason %q hint %q err %q", e.Dir, e.Command.Reason, e.Hint, e.Err)
	}
	for _, ev := range r.events {
		if ev.Kind == dump.KindError || ev.Kind == dump.KindSkip {
			t.Errorf("garbage reported: %s", dump.Summary(ev))
		}
	}
	if hello := r.commands("HELLO"); len(hello) == 0 || hello[0].Command.PasswordLen != 5 {
		t.Errorf("HELLO: %v", hello)
	}
	if h := handshake(r); h != "error: 400" {
		t.Errorf("handshake %s", h)
	}
}

func TestLibzmqCurve(t *testing.T) {
	r := runLibzmqPeers(t, "curve")
	noErrors(t, r)
	check := func(name string, ok func(c *dump.Curve) bool) {
		t.Helper()
		evs := r.commands(name)
		if len(evs) == 0 || evs[0].Command.Curve == nil || !ok(evs[0].Command.Curve) {
			t.Errorf("%s: %v", name, evs)
		}
	}
	check("HELLO", func(c *dump.Curve) bool {
		return c.Version == "1.0" && c.Box == 80 && len(c.ClientKey) == 32 && c.Counter == 1
	})
	check("WELCOME", func(c *dump.Curve) bool { return c.Box == 144 && len(c.Nonce) == 16 })
	check("INITIATE", func(c *dump.Curve) bool { return c.Cookie == 96 && c.Box >= 144 })
	check("READY", func(c *dump.Curve) bool { return c.Box >= 16 })
	msgs := r.commands("MESSAGE")
	for _, m := range msgs {
		if !m.Command.DataFrame || m.Command.Curve.Box < 17 {
			t.Errorf("MESSAGE: data frame %v, box %d", m.Command.DataFrame, m.Command.Curve.Box)
		}
	}
	if len(msgs) != 8 {
		t.Errorf("%d MESSAGE commands, want 8 (two frames per request and reply)", len(msgs))
	}
	if len(r.kinds(dump.KindMessage)) != 0 {
		t.Errorf("clear-text messages under CURVE")
	}
	if h := handshake(r); h != "complete" {
		t.Errorf("handshake %s", h)
	}
}
