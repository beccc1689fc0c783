package zmtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// The tests in this file run the hostile-input cases against real sockets,
// under each security mechanism and over tcp and ipc, with a hand-driven
// peer sending the bytes and a well-behaved peer connected all along.

// auditMech is a security configuration: the server's and a client's
// that the server accepts.
type auditMech struct {
	name           string
	server, client mechanism.Mechanism
}

func auditMechs(t *testing.T) []auditMech {
	t.Helper()
	spub, ssec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	cpub, csec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	return []auditMech{
		{"NULL", mechanism.Null{}, mechanism.Null{}},
		{"PLAIN", mechanism.Plain{Server: true, Authenticator: mechanism.AuthenticatorFunc(plainAuth)},
			mechanism.Plain{Username: "admin", Password: "secret"}},
		{"CURVE", mechanism.Curve{Server: true, PublicKey: spub, SecretKey: ssec, AllowAnyClient: true},
			mechanism.Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub}},
	}
}

// auditEndpoint returns an endpoint to bind for transport and the network
// a raw peer dials (the address is the bound endpoint's).
func auditEndpoint(t *testing.T, transport string) (ep, network string) {
	t.Helper()
	switch transport {
	case "tcp":
		return "tcp://127.0.0.1:*", "tcp"
	case "ipc":
		// A short path: t.TempDir can exceed a Unix socket path's limit.
		dir, err := os.MkdirTemp("", "za")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return "ipc://" + filepath.Join(dir, "s"), "unix"
	}
	t.Fatalf("transport %s", transport)
	return "", ""
}

// rawDial dials the socket's bound endpoint ep without ZMTP.
func rawDial(t *testing.T, network, ep string) net.Conn {
	t.Helper()
	_, addr, _ := strings.Cut(ep, "://")
	nc, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// mechHandshake runs mech's handshake by hand on nc as socket type st and
// returns a reader positioned after it and the cipher (nil in clear text).
func mechHandshake(ctx context.Context, nc net.Conn, mech mechanism.Mechanism, st string) (*frame.Reader, mechanism.Cipher, error) {
	return mechHandshakeV(ctx, nc, mech, st, 1)
}

// mechHandshakeV is mechHandshake as a peer of ZMTP 3.minor.
func mechHandshakeV(ctx context.Context, nc net.Conn, mech mechanism.Mechanism, st string, minor uint8) (*frame.Reader, mechanism.Cipher, error) {
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
		defer nc.SetDeadline(time.Time{})
	}
	if _, err := nc.Write(frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: minor, Mechanism: mech.Name(), AsServer: mech.AsServer()})); err != nil {
		return nil, nil, err
	}
	rd := frame.NewReader(nc, 0)
	b, err := rd.Next(frame.GreetingSize)
	if err != nil {
		return nil, nil, err
	}
	g, err := frame.ParseGreeting(b)
	if err != nil {
		return nil, nil, err
	}
	hs, err := mech.NewHandshake(mechanism.Params{SocketType: st, PeerGreeting: g, RemoteAddr: "127.0.0.1"})
	if err != nil {
		return nil, nil, err
	}
	out, err := hs.Start()
	for {
		var wbuf []byte
		for _, cmd := range out {
			wbuf = cmd.Append(wbuf)
		}
		if _, werr := nc.Write(wbuf); werr != nil {
			return nil, nil, werr
		}
		if err != nil {
			return nil, nil, err
		}
		if hs.Done() {
			return rd, hs.Cipher(), nil
		}
		f, err := rd.ReadFrame()
		if err != nil {
			return nil, nil, err
		}
		cmd, err := frame.ParseCommand(f.Body)
		if err != nil {
			return nil, nil, err
		}
		out, err = hs.Handle(ctx, cmd)
	}
}

// wrap encodes one frame as the peer sends it after the handshake: in
// clear text, or sealed in a MESSAGE box.
func wrap(c mechanism.Cipher, flags byte, body []byte) []byte {
	if c == nil {
		return frame.AppendFrame(nil, flags, body)
	}
	b, err := c.Seal(nil, flags, body)
	if err != nil {
		panic(err)
	}
	return b
}

// isHostileErr reports whether err is the typed error a hostile peer must
// cause.
func isHostileErr(err error) bool {
	return errors.Is(err, frame.ErrProtocol) || errors.Is(err, mechanism.ErrHandshake)
}

// auditServer is a bound PULL socket under test with a good PUSH peer.
type auditServer struct {
	pull, good *Socket
	ep, net    string
	events     <-chan Event
	sent       int
}

func newAuditServer(t *testing.T, transport string, m auditMech, opts Options) *auditServer {
	t.Helper()
	bind, network := auditEndpoint(t, transport)
	opts.Mechanism = m.server
	pull := newSock(t, Pull, opts)
	events := pull.Monitor(EventHandshakeFailedNoDetail | EventHandshakeFailedProtocol | EventHandshakeFailedAuth | EventDisconnected)
	if err := pull.Bind(bind); err != nil {
		t.Fatal(err)
	}
	ep := pull.LastEndpoint()
	good := newSock(t, Push, Options{Mechanism: m.client})
	good.Connect(ep)
	a := &auditServer{pull: pull, good: good, ep: ep, net: network, events: events}
	a.exchange(t) // the good peer is connected before any hostile one
	return a
}

// exchange sends one message from the good peer and receives it, skipping
// nothing: whatever the socket delivers first must be it.
func (a *auditServer) exchange(t *testing.T) {
	t.Helper()
	a.sent++
	want := fmt.Sprintf("good %d", a.sent)
	send(t, a.good, want)
	if got := recv(t, a.pull); len(got) != 1 || got[0] != want {
		t.Fatalf("delivered %q, want the good peer's %q", got, want)
	}
}

// expectFailure waits for the failure of the hostile connection (a failed
// handshake, or a disconnect after it) and checks its error.
func (a *auditServer) expectFailure(t *testing.T, typed bool) Event {
	t.Helper()
	ev := nextEvent(t, a.events)
	if typed && !isHostileErr(ev.Err) {
		t.Errorf("%v: the error is neither frame.ErrProtocol nor mechanism.ErrHandshake", ev)
	}
	return ev
}

// expectNothing checks that nothing but the good peer's messages reached
// the application.
func (a *auditServer) expectNothing(t *testing.T) {
	t.Helper()
	a.exchange(t)
	if m, err := a.pull.TryRecv(); !errors.Is(err, ErrWouldBlock) {
		t.Errorf("delivered %q from the hostile peer", m.Frames)
	}
}

// TestAuditHandshakeHostile sends, under each mechanism and over tcp and
// ipc, what breaks the greeting or the handshake. Each is refused with a
// typed error, the connection closes, nothing is delivered, and the good
// peer is served before and after.
func TestAuditHandshakeHostile(t *testing.T) {
	for _, m := range auditMechs(t) {
		greet := func(mech string) []byte {
			return frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: mech})
		}
		g := greet(m.name)
		type hcase struct {
			name  string
			in    []byte
			typed bool // the error must be typed (not a bare EOF)
		}
		cases := []hcase{
			{"GR-03 EOF after 11 octets", g[:11], false},
			{"GR-05 ZMTP 2.0 greeting", append([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 5}, 0, 0), m.name != "NULL"},
			{"GR-08 other mechanism", greet(map[string]string{"NULL": "PLAIN", "PLAIN": "CURVE", "CURVE": "NULL"}[m.name]), true},
			{"GR-08 lowercase", greet(strings.ToLower(m.name)), true},
			{"HN-01 message before handshake", frame.AppendFrame(g, 0, []byte("hello")), true},
			{"HN-02 PING in handshake", frame.AppendPing(g, 10, []byte("x")), true},
			{"FR-01 1 GiB command in handshake", append(append(g, 0x06, 0, 0, 0, 0, 0x40, 0, 0, 0), make([]byte, 10)...), true},
			{"FR-01 2^63 command in handshake", append(g, 0x06, 0x80, 0, 0, 0, 0, 0, 0, 0), true},
			{"FR-04 reserved flags in handshake", append(g, 0x0C, 0x00), true},
			{"FR-05 MORE on a handshake command", append(g, 0x05, 0x07, 4, 'P', 'I', 'N', 'G', 0, 0), true},
			{"FR-07 empty command", append(g, 0x04, 0x00), true},
			{"FR-07 name beyond body", append(g, 0x04, 0x03, 0x09, 'P', 'I'), true},
			{"HN-04 malformed ERROR", append(g, 0x04, 0x08, 0x05, 'E', 'R', 'R', 'O', 'R', 0xFF, 'a'), true},
			{"MD-01 empty property name", frame.AppendFrame(g, frame.FlagCommand, []byte("\x05READY\x00\x00\x00\x00\x00")), true},
			{"MD-02 value length beyond body", frame.AppendFrame(g, frame.FlagCommand, []byte("\x05READY\x0bSocket-Type\x7f\xff\xff\xffPUS")), true},
			{"MD-02 value length 2^32-1", frame.AppendFrame(g, frame.FlagCommand, []byte("\x05READY\x0bSocket-Type\xff\xff\xff\xffPUSH")), true},
		}
		switch m.name {
		case "NULL":
			cases = append(cases,
				hcase{"HN-02 HELLO in place of READY", frame.AppendFrame(g, frame.FlagCommand, []byte("\x05HELLO")), true},
				hcase{"HN-03 incompatible type", frame.AppendReady(g, frame.Metadata{{Name: "Socket-Type", Value: []byte("PULL")}}), true},
				hcase{"HN-03 unknown type", frame.AppendReady(g, frame.Metadata{{Name: "Socket-Type", Value: []byte("FOO")}}), true},
				hcase{"HN-04 ERROR in place of READY", frame.AppendError(g, "oops"), true},
				hcase{"MD-02 stray octet after properties", frame.AppendFrame(g, frame.FlagCommand, []byte("\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH\x00")), true},
				hcase{"MD-04 Identity of 256 octets", frame.AppendReady(g, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}, {Name: "Identity", Value: make([]byte, 256)}}), true},
				hcase{"FR-11 ZMTP 1.0 length 0", []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7E}, true},
				hcase{"FR-11 ZMTP 1.0 identity of 300 octets", append([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x2D, 0}, make([]byte, 300)...), true},
				hcase{"FR-11 ZMTP 1.0 identity of 2^62 octets", []byte{0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 0}, true},
			)
		case "PLAIN":
			cases = append(cases,
				hcase{"GR-04 ZMTP 1.0 anonymous", []byte{0x01, 0x00, 0x08, 0x00, 's', 'n', 'e', 'a', 'k', 'y', 0}, true},
				hcase{"GR-04 ZMTP 1.0 long identity", []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7E}, true},
				hcase{"HP-01 username beyond body", append(g, 0x04, 0x0A, 0x05, 'H', 'E', 'L', 'L', 'O', 0xFF, 'a', 'b', 'c'), true},
				hcase{"HP-01 octets after the password", frame.AppendFrame(g, frame.FlagCommand, []byte("\x05HELLO\x05admin\x06secretX")), true},
				hcase{"HP-02 INITIATE before HELLO", frame.AppendFrame(g, frame.FlagCommand, []byte("\x08INITIATE\x0bSocket-Type\x00\x00\x00\x04PUSH")), true},
				hcase{"READY in place of HELLO", frame.AppendReady(g, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}}), true},
			)
		case "CURVE":
			hello := make([]byte, 200)
			copy(hello, "\x05HELLO\x01\x00")
			mutated := append([]byte(nil), hello...)
			mutated[5] = 'X'
			oldVersion := append([]byte(nil), hello...)
			oldVersion[6] = 2
			cases = append(cases,
				hcase{"GR-04 ZMTP 1.0 anonymous", []byte{0x01, 0x00, 0x08, 0x00, 's', 'n', 'e', 'a', 'k', 'y', 0}, true},
				hcase{"HC-01 short HELLO", append(g, 0x04, 0x06, 0x05, 'H', 'E', 'L', 'L', 'O'), true},
				hcase{"HC-01 HELLX", frame.AppendFrame(g, frame.FlagCommand, mutated), true},
				hcase{"HC-01 HELLO version 2.0", frame.AppendFrame(g, frame.FlagCommand, oldVersion), true},
				hcase{"HC-03 HELLO box that does not open", frame.AppendFrame(g, frame.FlagCommand, hello), true},
				hcase{"HC-04 short INITIATE", append(g, 0x04, 0x09, 0x08, 'I', 'N', 'I', 'T', 'I', 'A', 'T', 'E'), true},
				hcase{"READY in place of HELLO", frame.AppendReady(g, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}}), true},
			)
		}
		for _, transport := range []string{"tcp", "ipc"} {
			t.Run(m.name+"/"+transport, func(t *testing.T) {
				a := newAuditServer(t, transport, m, Options{})
				for _, c := range cases {
					nc := rawDial(t, a.net, a.ep)
					nc.Write(c.in)
					if !c.typed {
						nc.(interface{ CloseWrite() error }).CloseWrite()
					}
					ev := a.expectFailure(t, c.typed)
					if ev.Type == EventDisconnected {
						t.Errorf("%s: %v: a connection was made", c.name, ev)
					}
					waitClosed(t, nc)
					a.expectNothing(t)
				}
				waitFor(t, "the good peer's pipe alone", func() bool { return len(a.pull.snapshot()) == 1 })
			})
		}
	}
}

// TestAuditFrameHostile sends, after a complete handshake under each
// mechanism and over tcp and ipc, frames that break the protocol: each
// closes that connection with a typed error, nothing of it is delivered,
// and the good peer is served before and after.
func TestAuditFrameHostile(t *testing.T) {
	const limit = 64 << 10
	type fcase struct {
		name string
		in   func(c mechanism.Cipher) []byte
		// delivered is what may arrive before the failure.
		delivered []string
		// eof: the peer then closes (a message cut short, not a
		// protocol error).
		eof bool
	}
	raw := func(b ...byte) func(mechanism.Cipher) []byte {
		return func(mechanism.Cipher) []byte { return b }
	}
	cmd := func(body string) func(mechanism.Cipher) []byte {
		return func(c mechanism.Cipher) []byte { return wrap(c, frame.FlagCommand, []byte(body)) }
	}
	cases := []fcase{
		{name: "FR-01 2^64-16", in: raw(0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 1, 2, 3)},
		{name: "FR-01 2^63", in: raw(0x02, 0x80, 0, 0, 0, 0, 0, 0, 0)},
		{name: "FR-01 2^49", in: raw(0x02, 0, 0x02, 0, 0, 0, 0, 0, 0)},
		{name: "FR-01 2^49 command", in: raw(0x06, 0, 0x02, 0, 0, 0, 0, 0, 0)},
		{name: "FR-02 one octet over the limit", in: func(c mechanism.Cipher) []byte { return wrap(c, 0, make([]byte, limit+1)) }},
		{name: "FR-02 parts over the limit", in: func(c mechanism.Cipher) []byte {
			b := wrap(c, frame.FlagMore, make([]byte, limit/2))
			return append(b, wrap(c, 0, make([]byte, limit/2+1))...)
		}},
		{name: "FR-02 too many empty frames", in: func(c mechanism.Cipher) []byte {
			var b []byte
			for range limit/32 + 1 {
				b = append(b, wrap(c, frame.FlagMore, nil)...)
			}
			return append(b, wrap(c, 0, nil)...)
		}},
		{name: "FR-04 reserved flags", in: raw(0x08, 0x03, 'a', 'b', 'c')},
		{name: "FR-04 F8", in: raw(0xF8, 0x00)},
		{name: "FR-05 command with MORE", in: raw(0x05, 0x07, 0x04, 'P', 'I', 'N', 'G', 0, 0)},
		{name: "FR-07 empty command", in: cmd("")},
		{name: "FR-07 name beyond body", in: cmd("\x09PI")},
		{name: "CM-01 PING without TTL", in: cmd("\x04PING")},
		{name: "CM-01 PING with one TTL octet", in: cmd("\x04PING\x00")},
		{name: "FR-08 EOF inside a multipart", in: func(c mechanism.Cipher) []byte {
			b := wrap(c, frame.FlagMore, []byte("ab"))
			b = append(b, wrap(c, frame.FlagMore, []byte("cd"))...)
			return append(b, 0x00, 0x0A, 'x')
		}, eof: true},
	}
	curveCases := []fcase{
		{name: "HC-09 clear text after CURVE", in: raw(0x00, 0x03, 'a', 'b', 'c')},
		{name: "HC-08 short MESSAGE", in: raw(append([]byte{0x00, 0x10, 0x07}, "MESSAGE\x00\x00\x00\x00\x00\x00\x00\x09"...)...)},
		{name: "HC-08 MESSAGE as a command frame of 2 octets", in: raw(0x04, 0x02, 0x07, 'M')},
		{name: "HC-07 replayed nonce", in: func(c mechanism.Cipher) []byte {
			b := wrap(c, 0, []byte("once"))
			return append(b, b...)
		}, delivered: []string{"once"}},
		{name: "HC-04 flipped box octet", in: func(c mechanism.Cipher) []byte {
			b := wrap(c, 0, []byte("tampered"))
			b[len(b)-1] ^= 1
			return b
		}},
	}
	for _, m := range auditMechs(t) {
		all := cases
		if m.name == "CURVE" {
			all = append(all[:len(all):len(all)], curveCases...)
		}
		for _, transport := range []string{"tcp", "ipc", "tcp/ZMTP3.0"} {
			transport, v30 := strings.CutSuffix(transport, "/ZMTP3.0")
			minor := uint8(1)
			if v30 {
				minor = 0
			}
			t.Run(fmt.Sprintf("%s/%s/ZMTP3.%d", m.name, transport, minor), func(t *testing.T) {
				a := newAuditServer(t, transport, m, Options{MaxMessageSize: limit})
				for _, c := range all {
					if v30 && strings.HasPrefix(c.name, "CM-01") {
						continue // no PING in ZMTP 3.0: an unknown command, which may be ignored
					}
					nc := rawDial(t, a.net, a.ep)
					rd, ciph, err := mechHandshakeV(testCtx(t), nc, m.client, "PUSH", minor)
					if err != nil {
						t.Fatalf("%s: handshake: %v", c.name, err)
					}
					go func() { // take what the socket sends: PINGs, nothing else
						for {
							if _, err := rd.ReadFrame(); err != nil {
								return
							}
						}
					}()
					nc.Write(c.in(ciph))
					if c.eof {
						nc.(interface{ CloseWrite() error }).CloseWrite()
					}
					ev := a.expectFailure(t, !c.eof)
					if ev.Type != EventDisconnected {
						t.Errorf("%s: %v, want a disconnect", c.name, ev)
					}
					for _, want := range c.delivered {
						if got := recv(t, a.pull); len(got) != 1 || got[0] != want {
							t.Errorf("%s: delivered %q, want %q", c.name, got, want)
						}
					}
					waitClosed(t, nc)
					a.expectNothing(t)
				}
				waitFor(t, "the good peer's pipe alone", func() bool { return len(a.pull.snapshot()) == 1 })
			})
		}
	}
}

// TestAuditIgnoredCommands sends what a peer may send and the socket must
// ignore (CM-05: forward compatibility): an unknown command, an unsolicited
// PONG with a long body, a SUBSCRIBE to a PULL, a PING, a second READY. The connection stays up and
// delivers the message that follows, and exactly that message, in order.
// A message of exactly the limit passes (FR-02), in two frames or in one.
func TestAuditIgnoredCommands(t *testing.T) {
	const limit = 64 << 10
	for _, m := range auditMechs(t) {
		for _, transport := range []string{"tcp", "ipc"} {
			t.Run(m.name+"/"+transport, func(t *testing.T) {
				a := newAuditServer(t, transport, m, Options{MaxMessageSize: limit})
				nc := rawDial(t, a.net, a.ep)
				rd, c, err := mechHandshake(testCtx(t), nc, m.client, "PUSH")
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					for {
						if _, err := rd.ReadFrame(); err != nil {
							return
						}
					}
				}()
				pong := append([]byte("\x04PONG"), make([]byte, 300)...)
				var b []byte
				b = append(b, wrap(c, frame.FlagCommand, []byte("\x04XYZW"))...)
				b = append(b, wrap(c, frame.FlagCommand, pong)...)
				b = append(b, wrap(c, frame.FlagCommand, frame.AppendSubscribe(nil, []byte("topic"))[2:])...)
				b = append(b, wrap(c, frame.FlagCommand, frame.AppendPing(nil, 0, []byte("ctx"))[2:])...)
				b = append(b, wrap(c, frame.FlagCommand, frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})[2:])...)
				b = append(b, wrap(c, 0, []byte("after"))...)
				big := make([]byte, limit)
				big[limit-1] = 'z'
				b = append(b, wrap(c, frame.FlagMore, big[:limit/2])...)
				b = append(b, wrap(c, 0, big[limit/2:])...)
				b = append(b, wrap(c, 0, big)...)
				nc.Write(b)
				if got := recv(t, a.pull); len(got) != 1 || got[0] != "after" {
					t.Fatalf("delivered %q, want \"after\"", got)
				}
				msg, err := a.pull.Recv(testCtx(t))
				if err != nil {
					t.Fatal(err)
				}
				if len(msg.Frames) != 2 || len(msg.Frames[0])+len(msg.Frames[1]) != limit || msg.Frames[1][limit/2-1] != 'z' {
					t.Fatalf("message of the limit: %d frames", len(msg.Frames))
				}
				if msg, err = a.pull.Recv(testCtx(t)); err != nil || len(msg.Frames) != 1 || len(msg.Frames[0]) != limit || msg.Frames[0][limit-1] != 'z' {
					select {
					case ev := <-a.events:
						err = ev.Err // why the connection ended
					default:
					}
					t.Fatalf("a frame of the limit: %v", err)
				}
				a.expectNothing(t)
				select {
				case ev := <-a.events:
					t.Errorf("%v", ev)
				default:
				}
			})
		}
	}
}

// rawListener listens on transport for a hand-driven server and returns
// the endpoint to Connect to and a function that accepts the next
// connection.
func rawListener(t *testing.T, transport string) (string, func() net.Conn) {
	t.Helper()
	bind, network := auditEndpoint(t, transport)
	_, addr, _ := strings.Cut(bind, "://")
	if network == "tcp" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 16)
	go func() {
		defer close(ch)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- nc
		}
	}()
	ep := transport + "://" + ln.Addr().String()
	return ep, func() net.Conn {
		t.Helper()
		select {
		case nc, ok := <-ch:
			if !ok {
				t.Fatal("listener closed")
			}
			t.Cleanup(func() { nc.Close() })
			return nc
		case <-deadline(t):
			t.Fatalf("no connection within %v", waitTimeout)
			return nil
		}
	}
}

// TestAuditClientSideHostile is the client side of the handshake and of
// the connection: a PULL socket connects to a well-behaved PUSH server and
// to a hand-driven one that sends hostile bytes. Each is refused with a
// typed error and the connection closed; the Connect retries, unless the
// server refused us for good (ERROR, an incompatible type); nothing of it
// is delivered, and the good server's messages are.
func TestAuditClientSideHostile(t *testing.T) {
	const limit = 64 << 10
	type ccase struct {
		name string
		// in is what the server sends: after its greeting when pre is
		// set, else after a complete handshake.
		in     func(c mechanism.Cipher) []byte
		pre    bool
		typed  bool // the failure's error is typed
		giveUp bool // the Connect gives up for good
	}
	pre := func(name string, typed, giveUp bool, b ...byte) ccase {
		return ccase{name: name, in: func(mechanism.Cipher) []byte { return b }, pre: true, typed: typed, giveUp: giveUp}
	}
	post := func(name string, in func(c mechanism.Cipher) []byte) ccase {
		return ccase{name: name, in: in, typed: true}
	}
	raw := func(b ...byte) func(mechanism.Cipher) []byte {
		return func(mechanism.Cipher) []byte { return b }
	}
	cmdFrame := func(body string) []byte { return frame.AppendFrame(nil, frame.FlagCommand, []byte(body)) }
	for _, m := range auditMechs(t) {
		cases := []ccase{
			pre("GR-03 EOF inside the greeting", false, false),
			pre("GR-08 other mechanism", true, true),
			pre("HN-01 message before handshake", true, false, frame.AppendFrame(nil, 0, []byte("hello"))...),
			pre("HN-02 PING in handshake", true, false, frame.AppendPing(nil, 10, []byte("x"))...),
			pre("FR-01 1 GiB command in handshake", true, false, 0x06, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3),
			pre("FR-04 reserved flags in handshake", true, false, 0x0C, 0x00),
			pre("FR-07 empty command", true, false, 0x04, 0x00),
			pre("HN-04 malformed ERROR", true, false, 0x04, 0x08, 0x05, 'E', 'R', 'R', 'O', 'R', 0xFF, 'a'),
			pre("HN-04 ERROR", true, true, frame.AppendError(nil, "oops")...),
			pre("MD-01 empty property name", true, false, cmdFrame("\x05READY\x00\x00\x00\x00\x00")...),
			pre("MD-02 value length beyond body", true, false, cmdFrame("\x05READY\x0bSocket-Type\x7f\xff\xff\xffPUS")...),
			post("FR-01 2^63", raw(0x02, 0x80, 0, 0, 0, 0, 0, 0, 0)),
			post("FR-02 one octet over the limit", func(c mechanism.Cipher) []byte { return wrap(c, 0, make([]byte, limit+1)) }),
			post("FR-04 reserved flags", raw(0x08, 0x03, 'a', 'b', 'c')),
			post("FR-05 command with MORE", raw(0x05, 0x07, 0x04, 'P', 'I', 'N', 'G', 0, 0)),
			post("CM-01 PING without TTL", func(c mechanism.Cipher) []byte { return wrap(c, frame.FlagCommand, []byte("\x04PING")) }),
		}
		switch m.name {
		case "NULL":
			cases = append(cases,
				pre("HN-03 incompatible type", true, true, frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PULL")}})...),
				pre("MD-04 Identity of 256 octets", true, false, frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}, {Name: "Identity", Value: make([]byte, 256)}})...))
		case "PLAIN":
			cases = append(cases,
				pre("HP-02 READY before WELCOME", true, false, frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})...),
				pre("HP-02 WELCOME with a body", true, false, cmdFrame("\x07WELCOMEx")...))
		case "CURVE":
			cases = append(cases,
				pre("HC-10 READY before WELCOME", true, false, frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})...),
				pre("HC-10 WELCOME of 167 octets", true, false, cmdFrame("\x07WELCOME"+strings.Repeat("\x01", 167-8))...),
				pre("HC-10 WELCOME box that does not open", true, false, cmdFrame("\x07WELCOME"+strings.Repeat("\x01", 168-8))...),
				post("HC-09 clear text after CURVE", raw(0x00, 0x03, 'a', 'b', 'c')),
				post("HC-07 replayed nonce", func(c mechanism.Cipher) []byte {
					b := wrap(c, frame.FlagMore, []byte("once"))
					return append(b, b...)
				}))
		}
		for _, transport := range []string{"tcp", "ipc"} {
			t.Run(m.name+"/"+transport, func(t *testing.T) {
				for _, c := range cases {
					// A good server of its own: a PUSH would also give
					// messages to the closing client of the case before.
					bind, _ := auditEndpoint(t, transport)
					good := newSock(t, Push, Options{Mechanism: m.server})
					if err := good.Bind(bind); err != nil {
						t.Fatal(err)
					}
					hostileEP, accept := rawListener(t, transport)
					pull := newSock(t, Pull, Options{Mechanism: m.client, MaxMessageSize: limit, ReconnectInterval: DurationOf(10e6)})
					events := pull.Monitor(EventHandshakeFailedNoDetail | EventHandshakeFailedProtocol | EventHandshakeFailedAuth | EventDisconnected)
					pull.Connect(good.LastEndpoint())
					pull.Connect(hostileEP)
					nc := accept()
					if c.pre {
						g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: m.server.Name(), AsServer: m.server.AsServer()})
						switch c.name {
						case "GR-03 EOF inside the greeting":
							nc.Write(g[:11])
							nc.(interface{ CloseWrite() error }).CloseWrite()
						case "GR-08 other mechanism":
							other := map[string]string{"NULL": "PLAIN", "PLAIN": "CURVE", "CURVE": "NULL"}[m.name]
							nc.Write(frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: other}))
						default:
							nc.Write(g)
						}
						nc.Write(c.in(nil))
					} else {
						rd, ciph, err := mechHandshake(testCtx(t), nc, m.server, "PUSH")
						if err != nil {
							t.Fatalf("%s: handshake: %v", c.name, err)
						}
						go func() {
							for {
								if _, err := rd.ReadFrame(); err != nil {
									return
								}
							}
						}()
						nc.Write(c.in(ciph))
					}
					ev := nextEvent(t, events)
					if c.typed && !isHostileErr(ev.Err) {
						t.Errorf("%s: %v: the error is neither frame.ErrProtocol nor mechanism.ErrHandshake", c.name, ev)
					}
					if (ev.Type == EventDisconnected) == c.pre {
						t.Errorf("%s: %v", c.name, ev)
					}
					waitClosed(t, nc)
					if c.giveUp {
						waitEndpointDone(t, endpointOf(t, pull, hostileEP))
					} else {
						// The Connect retries: a new connection comes.
						accept().Close()
					}
					send(t, good, c.name)
					if got := recv(t, pull); len(got) != 1 || got[0] != c.name {
						t.Errorf("%s: delivered %q", c.name, got)
					}
					if m, err := pull.TryRecv(); !errors.Is(err, ErrWouldBlock) {
						t.Errorf("%s: delivered %q from the hostile server", c.name, m.Frames)
					}
					pull.Close()
					good.Close()
				}
			})
		}
	}
}

// GR-01, slowloris: a peer that sends its greeting, or its READY, one
// octet at a time, each well within the handshake timeout, is dropped at
// the timeout measured from the start: progress does not extend it.
func TestAuditSlowlorisHandshake(t *testing.T) {
	const timeout = 100 * time.Millisecond
	g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
	ready := frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PAIR")}})
	for _, c := range []struct {
		name       string
		fast, slow []byte // sent at once, then one octet every 90 ms
	}{
		{"greeting", nil, g},
		{"READY", g, ready},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x, y := net.Pipe()
				defer y.Close()
				done := make(chan struct{})
				go func() {
					defer close(done)
					drained := drain(y)
					if _, err := y.Write(c.fast); err != nil {
						return
					}
					for _, b := range c.slow {
						time.Sleep(timeout * 9 / 10)
						if _, err := y.Write([]byte{b}); err != nil {
							break
						}
					}
					<-drained
				}()
				start := time.Now()
				_, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PAIR", HandshakeTimeout: timeout})
				var te *TimeoutError
				if !errors.As(err, &te) || te.Op != "handshake" {
					t.Fatalf("err = %v, want a handshake timeout", err)
				}
				if d := time.Since(start); d != timeout {
					t.Errorf("dropped after %v, want %v", d, timeout)
				}
				y.Close()
				<-done
			})
		})
	}
}

// openFDs counts the process's open file descriptors, or -1 where that
// cannot be known.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// Peers that connect and close at once, in a loop (after nothing, a part
// of a greeting, or a whole handshake), leak neither descriptors nor
// goroutines, and the socket serves a good peer all along.
func TestAuditConnectCloseLoop(t *testing.T) {
	for _, transport := range []string{"tcp", "ipc"} {
		t.Run(transport, func(t *testing.T) {
			a := newAuditServer(t, transport, auditMechs(t)[0], Options{})
			fds, goroutines := openFDs(), runtime.NumGoroutine()
			g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
			full := frame.AppendReady(append([]byte(nil), g...), frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})
			for i := range 300 {
				_, addr, _ := strings.Cut(a.ep, "://")
				nc, err := net.Dial(a.net, addr)
				if err != nil {
					t.Fatal(err)
				}
				switch i % 3 {
				case 1:
					nc.Write(g[:1+i%40])
				case 2:
					nc.Write(full)
				}
				nc.Close()
				if i%50 == 0 {
					a.exchange(t)
				}
			}
			waitFor(t, "descriptors and goroutines back to where they were", func() bool {
				return openFDs() <= fds && runtime.NumGoroutine() <= goroutines
			})
			a.expectNothing(t)
		})
	}
}

// A subscriber that subscribes and cancels tens of thousands of topics
// (as ZMTP 3.1 commands, or as a ZMTP 3.0 peer's messages) costs the
// publisher what it holds, and nothing once it cancels or leaves; a good
// subscriber is served throughout, under PUB and under XPUB (whose
// application reads the subscription messages).
func TestAuditSubscriptionFlood(t *testing.T) {
	const n = 20000
	for _, typ := range []SocketType{Pub, XPub} {
		for _, v30 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ZMTP3.%d", typ, map[bool]int{false: 1, true: 0}[v30]), func(t *testing.T) {
				pub := newSock(t, typ, Options{})
				ep := bindLocal(t, pub)
				if typ == XPub {
					// The application reads its subscriptions, as an
					// XPUB application must for them to go on.
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan struct{})
					go func() {
						defer close(done)
						for {
							if _, err := pub.Recv(ctx); err != nil {
								return
							}
						}
					}()
					t.Cleanup(func() { cancel(); <-done })
				}
				good := newSock(t, Sub, Options{})
				good.Subscribe([]byte("good"))
				good.Connect(ep)
				waitFor(t, "the good subscription", func() bool { return pub.Stats().Topics == 1 })
				// published delivers a message to the good subscriber.
				published := func(what string) {
					t.Helper()
					ctx := testCtx(t)
					for {
						if err := pub.Send(ctx, [][]byte{[]byte("good " + what)}); err != nil {
							t.Fatal(err)
						}
						rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
						m, err := good.Recv(rctx)
						cancel()
						if err == nil {
							if got := string(m.Frames[0]); got != "good "+what {
								t.Fatalf("got %q", got)
							}
							return
						}
						if ctx.Err() != nil {
							t.Fatalf("good subscriber starved (%s)", what)
						}
					}
				}
				published("first")

				flood := func(on bool) []byte {
					var b []byte
					for i := range n {
						topic := fmt.Appendf(nil, "t%05d", i)
						switch {
						case v30 && on:
							b = frame.AppendFrame(b, 0, append([]byte{1}, topic...))
						case v30:
							b = frame.AppendFrame(b, 0, append([]byte{0}, topic...))
						case on:
							b = frame.AppendSubscribe(b, topic)
						default:
							b = frame.AppendCancel(b, topic)
						}
					}
					return b
				}
				dial := func() net.Conn {
					nc := rawDial(t, "tcp", ep)
					g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: map[bool]uint8{false: 1, true: 0}[v30], Mechanism: "NULL"})
					nc.Write(frame.AppendReady(g, frame.Metadata{{Name: "Socket-Type", Value: []byte("SUB")}}))
					go func() { // take what the publisher sends
						for {
							if _, err := nc.Read(make([]byte, 4096)); err != nil {
								return
							}
						}
					}()
					return nc
				}
				nc := dial()
				nc.Write(flood(true))
				if typ == Pub {
					waitFor(t, "the flood", func() bool { return pub.Stats().Topics == n+1 })
				}
				published("during the flood")
				go nc.Write(flood(false))
				if typ == Pub {
					waitFor(t, "the cancels", func() bool { return pub.Stats().Topics == 1 })
				}
				published("after the cancels")
				nc.Close()
				// Subscribed, then gone.
				nc = dial()
				nc.Write(flood(true))
				published("during a second flood")
				nc.Close()
				waitFor(t, "the leaver's topics gone", func() bool { return pub.Stats().Topics == 1 })
				published("after")
			})
		}
	}
}

// SS-03 and MD-04 at a ROUTER: a hundred peers that claim the same routing
// id and leave, a peer whose id is 255 octets starting with a zero octet,
// and one whose id is 256 octets. The 255-octet id is routable both ways,
// the 256-octet one is refused, nothing of the claimants stays behind once
// they left, and a good peer is served throughout.
func TestAuditRouterIDs(t *testing.T) {
	router := newSock(t, Router, Options{})
	events := router.Monitor(EventHandshakeFailedProtocol)
	ep := bindLocal(t, router)
	good := newSock(t, Dealer, Options{RoutingID: []byte("good")})
	good.Connect(ep)
	exchange := func(what string) {
		t.Helper()
		send(t, good, what)
		for {
			got := recv(t, router)
			if got[0] == "good" {
				if got[1] != what {
					t.Fatalf("got %q, want %q", got, what)
				}
				break
			}
			if got[0] != "dup" {
				t.Fatalf("from %q: %q", got[0], got[1:])
			}
		}
		send(t, router, "good", "re "+what)
		if got := recv(t, good); got[0] != "re "+what {
			t.Fatalf("good peer got %q", got)
		}
	}
	exchange("before")
	peer := func(id []byte) (net.Conn, *frame.Reader) {
		nc := rawDial(t, "tcp", ep)
		g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
		nc.Write(frame.AppendReady(g, frame.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}, {Name: "Identity", Value: id}}))
		return nc, frame.NewReader(nc, 0)
	}
	var dups []net.Conn
	for i := range 100 {
		nc, _ := peer([]byte("dup"))
		nc.Write(frame.AppendFrame(nil, 0, fmt.Appendf(nil, "claim %d", i)))
		dups = append(dups, nc)
	}
	exchange("among the claimants")

	long := append([]byte{0}, make([]byte, 254)...)
	long[254] = 'z'
	nc, rd := peer(long)
	if _, err := rd.Next(frame.GreetingSize); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.ReadFrame(); err != nil { // READY
		t.Fatal(err)
	}
	nc.Write(frame.AppendFrame(nil, 0, []byte("long")))
	for {
		m, err := router.Recv(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Frames[0]) == "dup" {
			continue
		}
		if string(m.Frames[0]) != string(long) || string(m.Frames[1]) != "long" {
			t.Fatalf("got %q", m.Frames)
		}
		break
	}
	if err := router.Send(testCtx(t), [][]byte{long, []byte("back")}); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(waitTimeout))
	if f, err := rd.ReadFrame(); err != nil || string(f.Body) != "back" {
		t.Fatalf("the long-id peer got %q, %v", f.Body, err)
	}

	tooLong, _ := peer(make([]byte, 256))
	if ev := nextEvent(t, events); !errors.Is(ev.Err, frame.ErrProtocol) {
		t.Errorf("a 256-octet id: %v", ev)
	}
	waitClosed(t, tooLong)

	for _, nc := range dups {
		nc.Close()
	}
	nc.Close()
	// What the claimants sent is the application's to read (an owner's
	// message, read while it was one); once it is read, nothing of them
	// is left.
	claims := 0
	waitFor(t, "the claimants gone", func() bool {
		for {
			m, err := router.TryRecv()
			if err != nil {
				break
			}
			if string(m.Frames[0]) != "dup" {
				t.Fatalf("got %q", m.Frames)
			}
			claims++
		}
		return len(router.snapshot()) == 1 && waitingFor(router, "dup") == nil
	})
	t.Logf("%d claims read", claims)
	exchange("after")
}

// FR-03 against a socket, under each mechanism: a peer declares a frame of
// 512 MiB (under the limit), sends a few octets and stalls. What the
// socket holds follows the octets received, not the size declared, and
// the heartbeat ends the connection; the good peer is served meanwhile.
func TestAuditDeclaredSizeStall(t *testing.T) {
	for _, m := range auditMechs(t) {
		t.Run(m.name, func(t *testing.T) {
			a := newAuditServer(t, "tcp", m, Options{HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond})
			nc := rawDial(t, a.net, a.ep)
			_, ciph, err := mechHandshake(testCtx(t), nc, m.client, "PUSH")
			if err != nil {
				t.Fatal(err)
			}
			// No PONG ever: the peer reads nothing.
			hdr := frame.AppendHeader(nil, 0, 512<<20)
			if ciph != nil {
				// A MESSAGE command of 512 MiB: the header of the outer frame.
				hdr = frame.AppendHeader(nil, frame.FlagCommand, 512<<20)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			nc.Write(append(hdr, "\x07MESSAGEten octets"...))
			a.exchange(t)
			ev := a.expectFailure(t, false)
			runtime.ReadMemStats(&after)
			var te *TimeoutError
			if ev.Type != EventDisconnected || !errors.As(ev.Err, &te) {
				t.Errorf("%v, want a heartbeat timeout", ev)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
				t.Errorf("%d MiB allocated for a stalled frame of a few octets", n>>20)
			}
			a.expectNothing(t)
		})
	}
}

// RC-02, the client side of GR-01: a server that accepts the TCP
// connection and never greets is dropped at the handshake timeout, and
// the Connect tries again, for ever, under each transport.
func TestAuditServerNeverGreets(t *testing.T) {
	for _, transport := range []string{"tcp", "ipc"} {
		t.Run(transport, func(t *testing.T) {
			ep, accept := rawListener(t, transport)
			push := newSock(t, Push, Options{HandshakeTimeout: DurationOf(100 * time.Millisecond), ReconnectInterval: DurationOf(10 * time.Millisecond)})
			events := push.Monitor(EventHandshakeFailedNoDetail)
			push.Connect(ep)
			for range 3 {
				nc := accept()
				ev := nextEvent(t, events)
				var te *TimeoutError
				if !errors.As(ev.Err, &te) || te.Op != "handshake" {
					t.Fatalf("%v, want a handshake timeout", ev)
				}
				waitClosed(t, nc)
			}
			var ee *EndpointError
			if err := push.Err(); !errors.As(err, &ee) || !ee.Retrying {
				t.Errorf("Err = %v, want the endpoint retrying", err)
			}
		})
	}
}

// A subscriber that floods an XPUB whose application has not read its
// subscription messages yet waits at the high-water mark alone: another
// subscriber's subscriptions still take effect, and it receives what it
// subscribed to.
func TestAuditXPubFloodIsolated(t *testing.T) {
	pub := newSock(t, XPub, Options{RecvHWM: HWMOf(100)})
	ep := bindLocal(t, pub)
	nc := rawDial(t, "tcp", ep)
	g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
	b := frame.AppendReady(g, frame.Metadata{{Name: "Socket-Type", Value: []byte("SUB")}})
	for i := range 1000 {
		b = frame.AppendSubscribe(b, fmt.Appendf(nil, "t%05d", i))
	}
	nc.Write(b)
	// The flooder waits with its 101st subscription made, 100 unread.
	waitFor(t, "the flood to reach the high-water mark", func() bool { return pub.Stats().Topics == 101 })
	good := newSock(t, Sub, Options{})
	good.Subscribe([]byte("a"))
	good.Subscribe([]byte("b"))
	good.Connect(ep)
	waitFor(t, "the good subscriptions", func() bool { return pub.Stats().Topics == 103 })
	ctx := testCtx(t)
	for {
		if err := pub.Send(ctx, [][]byte{[]byte("b message")}); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		m, err := good.Recv(rctx)
		cancel()
		if err == nil {
			if string(m.Frames[0]) != "b message" {
				t.Fatalf("got %q", m.Frames)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the good subscriber's subscription never took effect")
		}
	}
	// The application reads them all: the flooder's thousand and the
	// good subscriber's two.
	for n := 0; n < 1002; n++ {
		if _, err := pub.Recv(ctx); err != nil {
			t.Fatalf("after %d subscription messages: %v", n, err)
		}
	}
	if pub.Stats().Topics != 1002 {
		t.Errorf("%d topics, want 1002", pub.Stats().Topics)
	}
}
