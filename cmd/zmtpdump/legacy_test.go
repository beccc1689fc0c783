package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zmtp-go/zmtp/dump"
)

// ZMTP 2.0 (RFC 15) socket types used by the legacy tests.
const (
	legacyREQ byte = 3
	legacyREP byte = 4
)

// signature is the ZMTP 2.0 signature: 0xFF, an 8-octet length of the
// identity plus one, 0x7F. libzmq sends the same one.
var signature = []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F}

// fake2 plays a ZMTP 2.0 peer by hand on a TCP connection and keeps the
// octets it reads from the other side.
type fake2 struct {
	t   *testing.T
	c   net.Conn
	got bytes.Buffer
}

// newFake2 plays on c until ctx's deadline.
func newFake2(t *testing.T, ctx context.Context, c net.Conn) *fake2 {
	deadline, _ := ctx.Deadline()
	must(t, c.SetDeadline(deadline))
	return &fake2{t: t, c: c}
}

func (f *fake2) read(n int) []byte {
	f.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(f.c, b); err != nil {
		f.t.Fatalf("fake ZMTP 2.0 peer: reading %d octets after % x: %v", n, f.got.Bytes(), err)
	}
	f.got.Write(b)
	return b
}

func (f *fake2) write(b []byte) {
	f.t.Helper()
	if _, err := f.c.Write(b); err != nil {
		f.t.Fatalf("fake ZMTP 2.0 peer: %v", err)
	}
}

// greet exchanges greetings as a ZMTP 2.0 peer that also detects ZMTP 1.0
// peers (RFC 15): signature first, then, having read the other side's
// signature, revision 1, the socket type and an empty identity. It
// returns the other side's greeting: its signature, the octet after it,
// its socket type and its identity frame.
func (f *fake2) greet(sockType byte) []byte {
	f.t.Helper()
	f.write(signature)
	f.read(len(signature))
	f.write([]byte{1, sockType, 0, 0})
	f.read(2)
	f.readFrame()
	return bytes.Clone(f.got.Bytes())
}

// readFrame reads a ZMTP 2.0 frame: flags (MORE, LONG), size, body.
func (f *fake2) readFrame() (body []byte, more bool) {
	f.t.Helper()
	flags := f.read(1)[0]
	if flags&^3 != 0 {
		f.t.Fatalf("fake ZMTP 2.0 peer: frame flags 0x%02X after % x", flags, f.got.Bytes())
	}
	var size uint64
	if flags&2 != 0 {
		size = binary.BigEndian.Uint64(f.read(8))
	} else {
		size = uint64(f.read(1)[0])
	}
	if size > 1<<20 {
		f.t.Fatalf("fake ZMTP 2.0 peer: frame of %d octets", size)
	}
	return f.read(int(size)), flags&1 != 0
}

func (f *fake2) readMsg() [][]byte {
	f.t.Helper()
	var msg [][]byte
	for {
		body, more := f.readFrame()
		msg = append(msg, body)
		if !more {
			return msg
		}
	}
}

// sendMsg sends a message in ZMTP 2.0 framing.
func (f *fake2) sendMsg(frames ...[]byte) {
	f.t.Helper()
	var b []byte
	for i, fr := range frames {
		flags := byte(0)
		if i < len(frames)-1 {
			flags |= 1
		}
		if len(fr) > 255 {
			b = append(b, flags|2)
			b = binary.BigEndian.AppendUint64(b, uint64(len(fr)))
		} else {
			b = append(b, flags, byte(len(fr)))
		}
		b = append(b, fr...)
	}
	f.write(b)
}

// libzmqProcess runs testdata/peer.py in one of its legacy modes.
type libzmqProcess struct {
	t      *testing.T
	cancel context.CancelFunc
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr bytes.Buffer
	mode   string
}

func startLibzmq(t *testing.T, ctx context.Context, mode string) *libzmqProcess {
	t.Helper()
	needPyzmq(t)
	ctx, cancel := context.WithCancel(ctx)
	p := &libzmqProcess{t: t, cancel: cancel, mode: mode}
	p.cmd = exec.CommandContext(ctx, python, "testdata/peer.py", mode)
	var err error
	p.stdin, err = p.cmd.StdinPipe()
	must(t, err)
	stdout, err := p.cmd.StdoutPipe()
	must(t, err)
	p.lines = bufio.NewScanner(stdout)
	p.cmd.Stderr = &p.stderr
	must(t, p.cmd.Start())
	t.Cleanup(func() {
		p.stdin.Close()
		cancel()
		p.cmd.Wait()
	})
	return p
}

// expect reads the next line, which must begin with prefix, and returns
// the rest of it.
func (p *libzmqProcess) expect(prefix string) string {
	p.t.Helper()
	if !p.lines.Scan() || !strings.HasPrefix(p.lines.Text(), prefix) {
		p.cancel()
		p.cmd.Wait()
		p.t.Fatalf("peer.py %s: want %q, got %q\n%s", p.mode, prefix, p.lines.Text(), p.stderr.String())
	}
	return strings.TrimPrefix(p.lines.Text(), prefix)
}

// finish waits for the process to print DONE and exit.
func (p *libzmqProcess) finish() {
	p.t.Helper()
	p.expect("DONE")
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("peer.py %s: %v\n%s", p.mode, err, p.stderr.String())
	}
}

// TestLibzmqLegacyPeer runs a ZMTP 2.0 peer played by hand against libzmq
// through the proxy, libzmq binding (REP) and connecting (REQ). libzmq
// begins a ZMTP 3 greeting and, having seen revision 1, continues in ZMTP
// 2.0: the decoder must follow it. The decoded traffic is checked against
// testdata/legacy-bind.jsonl and testdata/legacy-connect.jsonl.
func TestLibzmqLegacyPeer(t *testing.T) {
	for _, role := range []string{"bind", "connect"} {
		t.Run(role, func(t *testing.T) {
			ctx := testContext(t)
			r := newRecording(t)
			p := startLibzmq(t, ctx, "legacy-"+role)
			var f *fake2
			var px *proxy
			var err error
			requests := [][]byte{[]byte("request 0"), bytes.Repeat([]byte("x"), 300)}
			switch role {
			case "bind":
				// libzmq REP binds; the fake REQ connects through the proxy.
				port := p.expect("PORT ")
				px, err = newProxy("tcp://127.0.0.1:*", "tcp://127.0.0.1:"+port, r.out, dump.Options{}, r.sink)
				must(t, err)
				go px.serve()
				defer px.close()
				nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(px.endpoint(), "tcp://"))
				must(t, err)
				defer nc.Close()
				f = newFake2(t, ctx, nc)
				g := f.greet(legacyREQ)
				t.Logf("libzmq REP's greeting to a ZMTP 2.0 REQ: % x", g)
				checkDowngrade(t, g, legacyREP)
				for _, req := range requests {
					f.sendMsg(nil, req)
					checkReply(t, f.readMsg(), req)
				}
				t.Logf("libzmq REP sent (first octets): % x", f.got.Bytes()[:48])
				nc.Close()
				fmt.Fprintln(p.stdin, "quit")
			case "connect":
				// The fake REP listens behind the proxy; libzmq REQ connects.
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				must(t, err)
				defer ln.Close()
				px, err = newProxy("tcp://127.0.0.1:*", "tcp://"+ln.Addr().String(), r.out, dump.Options{}, r.sink)
				must(t, err)
				go px.serve()
				defer px.close()
				fmt.Fprintln(p.stdin, px.endpoint())
				deadline, _ := ctx.Deadline()
				must(t, ln.(*net.TCPListener).SetDeadline(deadline))
				nc, err := ln.Accept()
				must(t, err)
				defer nc.Close()
				f = newFake2(t, ctx, nc)
				g := f.greet(legacyREP)
				t.Logf("libzmq REQ's greeting to a ZMTP 2.0 REP: % x", g)
				checkDowngrade(t, g, legacyREQ)
				for _, req := range requests {
					msg := f.readMsg()
					if len(msg) != 2 || len(msg[0]) != 0 || !bytes.Equal(msg[1], req) {
						t.Fatalf("fake REP got %q", msg)
					}
					f.sendMsg(nil, append([]byte("reply to "), req...))
					if got := p.expect("REPLY "); got != hex.EncodeToString(append([]byte("reply to "), req...)) {
						t.Fatalf("libzmq REQ got %s", got)
					}
				}
				t.Logf("libzmq REQ sent (first octets): % x", f.got.Bytes()[:48])
			}
			p.finish()
			f.c.Close()
			must(t, waitFor(ctx, px.idle))
			px.close()
			r.out.mu.Lock()
			must(t, r.sink.close())
			live := r.jsonl.String()
			r.out.mu.Unlock()

			noErrors(t, r)
			greetings := r.kinds(dump.KindGreeting)
			if len(greetings) != 2 {
				t.Fatalf("%d greetings", len(greetings))
			}
			var libzmq dump.Event
			for _, g := range greetings {
				if g.Greeting.Downgraded {
					libzmq = g
				}
			}
			if libzmq.Greeting == nil || libzmq.Greeting.Major != 2 || libzmq.Greeting.SignatureMajor != 3 {
				t.Errorf("libzmq's greeting not decoded as a downgrade: %v", greetings)
			}
			if n := len(r.kinds(dump.KindMessage)); n != 4 {
				t.Errorf("%d messages, want 4", n)
			}
			if st := r.out.conns[0].Stats(); st.Version != "2.0" || st.Handshake != "legacy" {
				t.Errorf("stats: version %s handshake %s", st.Version, st.Handshake)
			}
			checkPcapMatches(t, r)
			checkGolden(t, "legacy-"+role, live)
		})
	}
}

// checkDowngrade checks libzmq's greeting towards a ZMTP 2.0 peer: its
// signature, major version 3, its socket type and an empty identity in
// ZMTP 2.0 framing (flags 0, size 0).
func checkDowngrade(t *testing.T, g []byte, sockType byte) {
	t.Helper()
	want := append(bytes.Clone(signature), 3, sockType, 0, 0)
	if !bytes.Equal(g, want) {
		t.Fatalf("libzmq's greeting % x, want % x", g, want)
	}
}

func checkReply(t *testing.T, msg [][]byte, req []byte) {
	t.Helper()
	if len(msg) != 2 || len(msg[0]) != 0 || !bytes.Equal(msg[1], append([]byte("reply to "), req...)) {
		t.Fatalf("fake REQ got %q", msg)
	}
}

// checkGolden compares the normalised JSON Lines with testdata/NAME.jsonl,
// which -update rewrites.
func checkGolden(t *testing.T, name, live string) {
	t.Helper()
	got := normalize(t, live, true)
	path := filepath.Join("testdata", name+".jsonl")
	if *update {
		must(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if got != string(want) {
		t.Errorf("decoded traffic differs from %s (run with -update to rewrite):\n%s", path, diffLines(string(want), got))
	}
}
