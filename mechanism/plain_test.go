package mechanism

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtp-go/zmtp/frame"
)

// acceptAll returns an authenticator that accepts everyone as "joe".
func acceptAll() *recorder {
	return &recorder{resp: ZAPResponse{StatusCode: 200, StatusText: "OK", UserID: "joe"}}
}

func newPlainPair(t *testing.T, client, server Plain, cp, sp Params) (Handshake, Handshake) {
	t.Helper()
	c, err := client.NewHandshake(cp)
	if err != nil {
		t.Fatal(err)
	}
	server.Server = true
	s, err := server.NewHandshake(sp)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestPlainHandshakeWire(t *testing.T) {
	client, server := newPlainPair(t, Plain{Username: "admin", Password: "secret"},
		Plain{Authenticator: acceptAll()}, testParams(Dealer, ""), testParams(Router, ""))
	o := runHandshakes(t, context.Background(), client, server)
	if o.clientErr != nil || o.serverErr != nil || !client.Done() || !server.Done() {
		t.Fatalf("errors %v, %v; log %v", o.clientErr, o.serverErr, o.names())
	}
	want := []sent{
		{'C', []byte("\x05HELLO\x05admin\x06secret")},
		{'S', []byte("\x07WELCOME")},
		{'C', []byte("\x08INITIATE\x0bSocket-Type\x00\x00\x00\x06DEALER")},
		{'S', []byte("\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER")},
	}
	if diff := cmp.Diff(want, o.log, cmp.AllowUnexported(sent{})); diff != "" {
		t.Errorf("wire (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(frame.Metadata{{Name: "User-Id", Value: []byte("joe")}, {Name: "Socket-Type", Value: []byte("DEALER")}},
		server.PeerMetadata()); diff != "" {
		t.Errorf("server PeerMetadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(frame.Metadata{{Name: "Socket-Type", Value: []byte("ROUTER")}}, client.PeerMetadata()); diff != "" {
		t.Errorf("client PeerMetadata (-want +got):\n%s", diff)
	}
	if client.Cipher() != nil || server.Cipher() != nil {
		t.Error("PLAIN has a cipher")
	}
}

func TestPlainEmptyCredentials(t *testing.T) {
	auth := &recorder{resp: ZAPResponse{StatusCode: 200}}
	client, server := newPlainPair(t, Plain{}, Plain{Authenticator: auth}, testParams(Req, ""), testParams(Rep, ""))
	o := runHandshakes(t, context.Background(), client, server)
	if o.clientErr != nil || o.serverErr != nil {
		t.Fatal(o.clientErr, o.serverErr)
	}
	if got := string(o.log[0].body); got != "\x05HELLO\x00\x00" {
		t.Errorf("HELLO body %q", got)
	}
	if diff := cmp.Diff([][]byte{{}, {}}, auth.last.Credentials); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}
}

// HP-01: malformed HELLO.
func TestPlainMalformedHello(t *testing.T) {
	for _, data := range []string{
		"",
		"\x00",
		"\xffabc",                 // user name length beyond the body
		"\x03abc",                 // no password length
		"\x03abc\x02x",            // password shorter than its length
		"\x05admin\x06secret!",    // an octet after the password
		"\x05admin\x06secret\x00", // a NUL after the password
	} {
		auth := &recorder{resp: ZAPResponse{StatusCode: 200}}
		_, server := newPlainPair(t, Plain{}, Plain{Authenticator: auth}, testParams(Dealer, ""), testParams(Router, ""))
		if _, err := server.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, err := server.Handle(context.Background(), frame.Command{Name: frame.CmdHello, Data: []byte(data)})
		if !errors.Is(err, ErrMalformedCommand) || !errors.Is(err, frame.ErrProtocol) || cmds != nil || auth.calls.Load() != 0 {
			t.Errorf("HELLO %q: %v, %v, %d calls", data, cmds, err, auth.calls.Load())
		}
		// The handshake stays failed.
		if _, err := server.Handle(context.Background(), frame.Command{Name: frame.CmdHello, Data: []byte("\x00\x00")}); err == nil {
			t.Errorf("HELLO %q: handshake recovered", data)
		}
	}
}

// HP-02: commands out of order.
func TestPlainUnexpectedCommands(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{frame.CmdInitiate, frame.CmdReady, frame.CmdWelcome, frame.CmdError, frame.CmdPing, frame.CmdMessage, "HELLX"} {
		_, server := newPlainPair(t, Plain{}, Plain{Authenticator: acceptAll()}, testParams(Dealer, ""), testParams(Router, ""))
		server.Start()
		cmds, err := server.Handle(ctx, frame.Command{Name: name})
		if !errors.Is(err, ErrUnexpectedCommand) || cmds != nil {
			t.Errorf("server in HELLO state, %s: %v, %v", name, cmds, err)
		}
	}

	client, server := newPlainPair(t, Plain{Username: "u"}, Plain{Authenticator: acceptAll()}, testParams(Dealer, ""), testParams(Router, ""))
	if _, err := client.Handle(ctx, frame.Command{Name: frame.CmdWelcome}); !errors.Is(err, ErrUnexpectedCommand) {
		t.Errorf("client before Start: %v", err)
	}
	for _, name := range []string{frame.CmdReady, frame.CmdHello, frame.CmdInitiate, frame.CmdPing} {
		client, _ := newPlainPair(t, Plain{Username: "u"}, Plain{}, testParams(Dealer, ""), testParams(Router, ""))
		client.Start()
		cmds, err := client.Handle(ctx, frame.Command{Name: name})
		if !errors.Is(err, ErrUnexpectedCommand) || cmds != nil {
			t.Errorf("client waiting for WELCOME, %s: %v, %v", name, cmds, err)
		}
	}

	// After WELCOME the client wants READY, and nothing after it.
	client, _ = newPlainPair(t, Plain{Username: "u"}, Plain{}, testParams(Dealer, ""), testParams(Router, ""))
	client.Start()
	if _, err := client.Handle(ctx, frame.Command{Name: frame.CmdWelcome}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Handle(ctx, frame.Command{Name: frame.CmdWelcome}); !errors.Is(err, ErrUnexpectedCommand) {
		t.Errorf("second WELCOME: %v", err)
	}
	if _, err := client.Start(); err == nil {
		t.Error("second Start succeeded")
	}

	// A completed handshake takes nothing more.
	client, server = newPlainPair(t, Plain{}, Plain{Authenticator: acceptAll()}, testParams(Dealer, ""), testParams(Router, ""))
	runHandshakes(t, ctx, client, server)
	if _, err := server.Handle(ctx, frame.Command{Name: frame.CmdInitiate}); !errors.Is(err, ErrUnexpectedCommand) {
		t.Errorf("server after READY: %v", err)
	}
	if _, err := client.Handle(ctx, frame.Command{Name: frame.CmdReady}); !errors.Is(err, ErrUnexpectedCommand) {
		t.Errorf("client after READY: %v", err)
	}
	if _, err := client.(RawCommandHandler).HandleMalformed([]byte("\x5eRROR\x00")); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("client after READY, libzmq ERROR: %v", err)
	}
	if !client.Done() || !server.Done() {
		t.Error("an extra command undid the handshake")
	}
}

func TestPlainWelcomeWithData(t *testing.T) {
	client, _ := newPlainPair(t, Plain{}, Plain{}, testParams(Dealer, ""), testParams(Router, ""))
	client.Start()
	if _, err := client.Handle(context.Background(), frame.Command{Name: frame.CmdWelcome, Data: []byte{0}}); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("WELCOME with data: %v", err)
	}
}

// HP-03 and HP-04: refused clients get ERROR "400" and stop. The ERROR is
// written as libzmq 4.3.4's and 4.3.5's PLAIN servers write it, 0x5E
// "RROR" (conformance: plain/rejected-we-client captures it), the only
// form libzmq's PLAIN client takes for a refusal; our client takes it too.
func TestPlainRefused(t *testing.T) {
	refuse := &recorder{resp: ZAPResponse{StatusCode: 400, StatusText: "wrong password"}}
	for _, auth := range []Authenticator{refuse, nil} {
		client, server := newPlainPair(t, Plain{Username: "admin", Password: "guess"}, Plain{Authenticator: auth},
			testParams(Dealer, ""), testParams(Router, ""))
		o := runHandshakes(t, context.Background(), client, server)
		if diff := cmp.Diff([]string{"C:HELLO", "S:ERROR"}, o.names()); diff != "" {
			t.Errorf("authenticator %v: commands (-want +got):\n%s", auth, diff)
		}
		var ae *AuthError
		if !errors.As(o.serverErr, &ae) || ae.StatusCode != 400 {
			t.Errorf("authenticator %v: server error %v", auth, o.serverErr)
		}
		var pe *PeerError
		if !errors.As(o.clientErr, &pe) || pe.Reason != "400" || !errors.Is(o.clientErr, ErrHandshake) {
			t.Errorf("authenticator %v: client error %v", auth, o.clientErr)
		}
		if got := o.find('S', frame.CmdError); string(got) != "\x5eRROR\x03400" {
			t.Errorf("authenticator %v: ERROR body % X, want 5E 'RROR' 03 '400'", auth, got)
		}
	}
}

// TestPlainRefusalFrame: the frame a connection writes for the server's
// refusal, header included, for each status code that sends one.
func TestPlainRefusalFrame(t *testing.T) {
	for code, want := range map[int]string{
		400: "\x04\x09\x5eRROR\x03400",
		500: "\x04\x09\x5eRROR\x03500",
	} {
		_, server := newPlainPair(t, Plain{}, Plain{Authenticator: &recorder{resp: ZAPResponse{StatusCode: code, StatusText: "no"}}},
			testParams(Dealer, ""), testParams(Router, ""))
		server.Start()
		cmds, err := server.Handle(context.Background(), frame.Command{Name: frame.CmdHello, Data: []byte("\x01u\x01p")})
		var ae *AuthError
		if !errors.As(err, &ae) || len(cmds) != 1 {
			t.Fatalf("%d: %v, %v", code, cmds, err)
		}
		if got := cmds[0].Append(nil); string(got) != want {
			t.Errorf("%d: frame % X, want % X", code, got, want)
		}
	}
}

func TestPlainErrorAfterWelcome(t *testing.T) {
	client, _ := newPlainPair(t, Plain{}, Plain{}, testParams(Dealer, ""), testParams(Router, ""))
	client.Start()
	client.Handle(context.Background(), frame.Command{Name: frame.CmdWelcome})
	_, err := client.Handle(context.Background(), frame.Command{Name: frame.CmdError, Data: []byte("\x05nope!")})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Reason != "nope!" {
		t.Errorf("ERROR instead of READY: %v", err)
	}
	client, _ = newPlainPair(t, Plain{}, Plain{}, testParams(Dealer, ""), testParams(Router, ""))
	client.Start()
	if _, err := client.Handle(context.Background(), frame.Command{Name: frame.CmdError, Data: []byte("\xffa")}); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("malformed ERROR: %v", err)
	}
}

func TestPlainSocketTypeMismatch(t *testing.T) {
	// The server refuses an incompatible client by closing, without
	// ERROR, as libzmq does: the client is left waiting for READY.
	client, server := newPlainPair(t, Plain{}, Plain{Authenticator: acceptAll()}, testParams(Req, ""), testParams(Req, ""))
	o := runHandshakes(t, context.Background(), client, server)
	var ste *SocketTypeError
	if !errors.As(o.serverErr, &ste) || !slices.Equal(o.names(), []string{"C:HELLO", "S:WELCOME", "C:INITIATE"}) {
		t.Errorf("server error %v, log %v", o.serverErr, o.names())
	}
	if o.clientErr != nil || client.Done() {
		t.Errorf("client error %v, Done %v", o.clientErr, client.Done())
	}

	// The client checks READY and fails without sending anything.
	client, _ = newPlainPair(t, Plain{}, Plain{}, testParams(Pub, ""), testParams(Router, ""))
	client.Start()
	client.Handle(context.Background(), frame.Command{Name: frame.CmdWelcome})
	ready := frame.AppendMetadata(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})
	cmds, err := client.Handle(context.Background(), frame.Command{Name: frame.CmdReady, Data: ready})
	if !errors.As(err, &ste) || cmds != nil || client.Done() {
		t.Errorf("client READY from PUSH: %v, %v", cmds, err)
	}
}

func TestPlainMalformedMetadata(t *testing.T) {
	bad := []byte("\x0bSocket-Type\x7f\xff\xff\xffabc") // MD-02
	client, server := newPlainPair(t, Plain{}, Plain{Authenticator: acceptAll()}, testParams(Dealer, ""), testParams(Router, ""))
	server.Start()
	server.Handle(context.Background(), frame.Command{Name: frame.CmdHello, Data: []byte{0, 0}})
	cmds, err := server.Handle(context.Background(), frame.Command{Name: frame.CmdInitiate, Data: bad})
	if !errors.Is(err, ErrMalformedCommand) || cmds != nil {
		t.Errorf("INITIATE with bad metadata: %v, %v", cmds, err)
	}
	client.Start()
	client.Handle(context.Background(), frame.Command{Name: frame.CmdWelcome})
	if _, err := client.Handle(context.Background(), frame.Command{Name: frame.CmdReady, Data: bad}); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("READY with bad metadata: %v", err)
	}
}

func TestIsLibzmqMalformedError(t *testing.T) {
	quirk := []byte("\x5eRROR\x03400")
	if _, err := frame.ParseCommand(quirk); err == nil {
		t.Fatal("the libzmq ERROR parses; the connection would never pass it on")
	}
	if reason, ok := IsLibzmqMalformedError(quirk); !ok || reason != "400" {
		t.Errorf("IsLibzmqMalformedError = %q, %v", reason, ok)
	}
	if reason, ok := IsLibzmqMalformedError([]byte("\x5eRROR\x00")); !ok || reason != "" {
		t.Errorf("empty reason: %q, %v", reason, ok)
	}
	for _, body := range []string{"", "\x5eRROR", "\x5eRROR\x04400", "\x5eRROR\x02400", "\x05ERROR\x03400", "\x5eRRO\x03400", "\x5fRROR\x03400"} {
		if _, ok := IsLibzmqMalformedError([]byte(body)); ok {
			t.Errorf("IsLibzmqMalformedError(%q) = true", body)
		}
	}
}

func TestPlainHandleMalformed(t *testing.T) {
	quirk := []byte("\x5eRROR\x03400")
	for _, welcomed := range []bool{false, true} {
		client, _ := newPlainPair(t, Plain{}, Plain{}, testParams(Dealer, ""), testParams(Router, ""))
		client.Start()
		if welcomed {
			client.Handle(context.Background(), frame.Command{Name: frame.CmdWelcome})
		}
		rh, ok := client.(RawCommandHandler)
		if !ok {
			t.Fatal("the PLAIN client is not a RawCommandHandler")
		}
		cmds, err := rh.HandleMalformed(quirk)
		var pe *PeerError
		if !errors.As(err, &pe) || pe.Reason != "400" || cmds != nil {
			t.Errorf("welcomed %v: %v, %v", welcomed, cmds, err)
		}
	}

	client, _ := newPlainPair(t, Plain{}, Plain{}, testParams(Dealer, ""), testParams(Router, ""))
	client.Start()
	if _, err := client.(RawCommandHandler).HandleMalformed([]byte{0}); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("other malformed body: %v", err)
	}
	// Before Start, the quirk is no more acceptable than any other body.
	client, _ = newPlainPair(t, Plain{}, Plain{}, testParams(Dealer, ""), testParams(Router, ""))
	if _, err := client.(RawCommandHandler).HandleMalformed(quirk); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("quirk before Start: %v", err)
	}
}

func TestPlainConfig(t *testing.T) {
	long := string(make([]byte, 256))
	for _, m := range []Plain{{Username: long}, {Password: long}} {
		if _, err := m.NewHandshake(testParams(Dealer, "")); err == nil {
			t.Error("credentials of 256 octets accepted")
		}
	}
	if _, err := (Plain{Username: long[:255], Password: long[:255]}).NewHandshake(testParams(Dealer, "")); err != nil {
		t.Errorf("credentials of 255 octets: %v", err)
	}
	if _, err := (Plain{}).NewHandshake(Params{SocketType: Dealer, Properties: frame.Metadata{{Name: "bad name"}}}); err == nil {
		t.Error("invalid metadata accepted")
	}
	m := Plain{Server: true}
	if m.Name() != "PLAIN" || !m.AsServer() || (Plain{}).AsServer() {
		t.Error("Name or AsServer wrong")
	}
}
