package mechanism

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/nacl/secretbox"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/z85"
)

// curveFixture holds a CURVE client and server configuration.
type curveFixture struct {
	cpub, csec, spub, ssec [32]byte
	client, server         Curve
}

func newCurveFixture(t testing.TB, auth Authenticator) *curveFixture {
	t.Helper()
	f := &curveFixture{}
	f.cpub, f.csec = testKeyPair(t, 1)
	f.spub, f.ssec = testKeyPair(t, 2)
	f.client = Curve{PublicKey: f.cpub, SecretKey: f.csec, ServerKey: f.spub, Rand: testRand(3)}
	f.server = Curve{Server: true, PublicKey: f.spub, SecretKey: f.ssec, Authenticator: auth, Domain: "test", Rand: testRand(4)}
	return f
}

// handshakes returns new client (DEALER) and server (ROUTER) handshakes.
func (f *curveFixture) handshakes(t testing.TB) (client, server Handshake) {
	t.Helper()
	client, err := f.client.NewHandshake(testParams(Dealer, "client-1"))
	if err != nil {
		t.Fatal(err)
	}
	server, err = f.server.NewHandshake(testParams(Router, ""))
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

// run completes a handshake and returns both ciphers.
func (f *curveFixture) run(t testing.TB) (client, server Handshake, o outcome) {
	t.Helper()
	client, server = f.handshakes(t)
	o = runHandshakes(t, context.Background(), client, server)
	if o.clientErr != nil || o.serverErr != nil || !client.Done() || !server.Done() {
		t.Fatalf("handshake: %v, %v; log %v", o.clientErr, o.serverErr, o.names())
	}
	return client, server, o
}

func TestCurveHandshake(t *testing.T) {
	auth := &recorder{resp: ZAPResponse{StatusCode: 200, UserID: "alice"}}
	f := newCurveFixture(t, auth)
	client, server, o := f.run(t)
	if diff := cmp.Diff([]string{"C:HELLO", "S:WELCOME", "C:INITIATE", "S:READY"}, o.names()); diff != "" {
		t.Fatalf("commands (-want +got):\n%s", diff)
	}
	hello, welcome, initiate, ready := o.log[0].body, o.log[1].body, o.log[2].body, o.log[3].body
	if len(hello) != 200 || len(welcome) != 168 || len(initiate) < 257 || len(ready) < 30 {
		t.Errorf("body sizes %d, %d, %d, %d", len(hello), len(welcome), len(initiate), len(ready))
	}
	// HELLO: name, version 1.0, 72 zero octets, C', short nonce 1.
	if !bytes.Equal(hello[:8], []byte("\x05HELLO\x01\x00")) || !bytes.Equal(hello[8:80], make([]byte, 72)) {
		t.Errorf("HELLO starts % x", hello[:80])
	}
	if n := binary.BigEndian.Uint64(hello[112:]); n != 1 {
		t.Errorf("HELLO nonce %d, want 1", n)
	}
	if n := binary.BigEndian.Uint64(initiate[9+96:]); n != 2 {
		t.Errorf("INITIATE nonce %d, want 2", n)
	}
	if n := binary.BigEndian.Uint64(ready[6:]); n != 1 {
		t.Errorf("READY nonce %d, want 1", n)
	}
	// The client's permanent key never travels in clear.
	for _, s := range o.log {
		if bytes.Contains(s.body, f.cpub[:]) {
			t.Errorf("%v carries the client's permanent key in clear", s)
		}
	}
	wantServer := frame.Metadata{
		{Name: "User-Id", Value: []byte("alice")},
		{Name: "Socket-Type", Value: []byte("DEALER")},
		{Name: "Identity", Value: []byte("client-1")},
	}
	if diff := cmp.Diff(wantServer, server.PeerMetadata()); diff != "" {
		t.Errorf("server PeerMetadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(frame.Metadata{{Name: "Socket-Type", Value: []byte("ROUTER")}}, client.PeerMetadata()); diff != "" {
		t.Errorf("client PeerMetadata (-want +got):\n%s", diff)
	}
	if !bytes.Equal(auth.last.Credentials[0], f.cpub[:]) {
		t.Errorf("ZAP credentials % x, want the client's public key", auth.last.Credentials[0])
	}
	if client.Cipher() == nil || server.Cipher() == nil {
		t.Fatal("no cipher after the handshake")
	}
}

func TestCurveDeterministic(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	_, _, first := f.run(t)
	f = newCurveFixture(t, acceptAll())
	_, _, second := f.run(t)
	if diff := cmp.Diff(first.log, second.log, cmp.AllowUnexported(sent{})); diff != "" {
		t.Errorf("same seeds, different handshakes (-first +second):\n%s", diff)
	}
}

func TestCurveCipherBeforeDone(t *testing.T) {
	client, server := newCurveFixture(t, acceptAll()).handshakes(t)
	if client.Cipher() != nil || server.Cipher() != nil {
		t.Error("Cipher before the handshake is not nil")
	}
}

func TestCurveWrongServerKey(t *testing.T) {
	auth := acceptAll()
	f := newCurveFixture(t, auth)
	f.client.ServerKey, _ = testKeyPair(t, 9)
	client, server := f.handshakes(t)
	o := runHandshakes(t, context.Background(), client, server)
	if !errors.Is(o.serverErr, ErrCurveBox) || !errors.Is(o.serverErr, frame.ErrProtocol) || len(o.log) != 1 {
		t.Errorf("server error %v, log %v", o.serverErr, o.names())
	}
	if auth.calls.Load() != 0 {
		t.Errorf("authenticator called %d times", auth.calls.Load())
	}
}

// A server that does not hold the secret key of the client's ServerKey
// cannot produce a WELCOME the client opens.
func TestCurveImpostorServer(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	client, _ := f.handshakes(t)
	if _, err := client.Start(); err != nil {
		t.Fatal(err)
	}
	// The impostor serves another key pair, to a client that names it.
	impostor := f.server
	impostor.PublicKey, impostor.SecretKey = testKeyPair(t, 9)
	fooled := f.client
	fooled.ServerKey = impostor.PublicKey
	_, _, welcome := serverAfterHello(t, &curveFixture{client: fooled, server: impostor})
	if _, err := client.Handle(context.Background(), welcome); !errors.Is(err, ErrCurveBox) {
		t.Errorf("WELCOME from an impostor: %v", err)
	}
}

func TestCurveClientRefused(t *testing.T) {
	known, _ := testKeyPair(t, 7)
	auth := AuthenticatorFunc(func(_ context.Context, r *ZAPRequest) (ZAPResponse, error) {
		if bytes.Equal(r.Credentials[0], known[:]) {
			return ZAPResponse{StatusCode: 200}, nil
		}
		return ZAPResponse{StatusCode: 400, StatusText: "unknown key"}, nil
	})
	client, server := newCurveFixture(t, auth).handshakes(t)
	o := runHandshakes(t, context.Background(), client, server)
	if diff := cmp.Diff([]string{"C:HELLO", "S:WELCOME", "C:INITIATE", "S:ERROR"}, o.names()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	var ae *AuthError
	var pe *PeerError
	if !errors.As(o.serverErr, &ae) || ae.StatusText != "unknown key" || !errors.As(o.clientErr, &pe) || pe.Reason != "400" {
		t.Errorf("errors %v, %v", o.clientErr, o.serverErr)
	}
	if server.Cipher() != nil || client.Cipher() != nil {
		t.Error("cipher after a refusal")
	}
}

func TestCurveNoAuthenticator(t *testing.T) {
	f := newCurveFixture(t, nil)
	client, server := f.handshakes(t)
	o := runHandshakes(t, context.Background(), client, server)
	var ae *AuthError
	if !errors.As(o.serverErr, &ae) || ae.StatusCode != 400 || string(o.find('S', frame.CmdError)) != "\x05ERROR\x03400" {
		t.Errorf("server without authenticator: %v, log %v", o.serverErr, o.names())
	}

	f.server.AllowAnyClient = true
	client, server, _ = f.run(t)
	if _, ok := server.PeerMetadata().Lookup(frame.PropUserID); ok {
		t.Error("User-Id without an authenticator")
	}

	// With an authenticator, AllowAnyClient does not bypass it.
	f.server.Authenticator = &recorder{resp: ZAPResponse{StatusCode: 400}}
	client, server = f.handshakes(t)
	o = runHandshakes(t, context.Background(), client, server)
	if !errors.As(o.serverErr, &ae) {
		t.Errorf("AllowAnyClient bypassed the authenticator: %v", o.serverErr)
	}
}

func TestCurveConfig(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	other, _ := testKeyPair(t, 8)
	cases := map[string]Curve{
		"client without secret key":      {ServerKey: f.spub},
		"client without server key":      {SecretKey: f.csec},
		"client with another public key": {PublicKey: other, SecretKey: f.csec, ServerKey: f.spub},
		"all-zero server key":            {PublicKey: f.cpub, SecretKey: f.csec, ServerKey: [32]byte{}},
		"server with a public key only":  {Server: true, PublicKey: f.spub},
		"server with another public key": {Server: true, PublicKey: other, SecretKey: f.ssec},
		"server without keys":            {Server: true},
	}
	for name, m := range cases {
		if _, err := m.NewHandshake(testParams(Dealer, "")); !errors.Is(err, ErrCurveKeys) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// PublicKey may be left zero.
	if _, err := (Curve{SecretKey: f.csec, ServerKey: f.spub}).NewHandshake(testParams(Dealer, "")); err != nil {
		t.Errorf("zero PublicKey: %v", err)
	}
	if _, err := (Curve{SecretKey: f.csec, ServerKey: f.spub}).NewHandshake(Params{SocketType: Dealer, Properties: frame.Metadata{{Name: ""}}}); err == nil {
		t.Error("invalid metadata accepted")
	}
	if m := (Curve{Server: true}); m.Name() != "CURVE" || !m.AsServer() || (Curve{}).AsServer() {
		t.Error("Name or AsServer wrong")
	}
}

func TestCurveLowOrderServerKey(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	f.client.ServerKey = [32]byte{1} // the point u=1 has order 4
	client, err := f.client.NewHandshake(testParams(Dealer, ""))
	if err != nil {
		t.Fatal(err)
	}
	if cmds, err := client.Start(); !errors.Is(err, ErrWeakKey) || cmds != nil {
		t.Errorf("Start with a low-order server key: %v, %v", cmds, err)
	}
}

func TestCurveRandFailure(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	f.client.Rand = bytes.NewReader(make([]byte, 10))
	client, _ := f.handshakes(t)
	if _, err := client.Start(); err == nil {
		t.Error("Start with a short random source succeeded")
	}
	// A server whose source runs dry after HELLO's check fails there.
	f = newCurveFixture(t, acceptAll())
	f.server.Rand = bytes.NewReader(make([]byte, 40))
	client, server := f.handshakes(t)
	o := runHandshakes(t, context.Background(), client, server)
	if o.serverErr == nil || len(o.log) != 1 {
		t.Errorf("server with a short random source: %v, %v", o.serverErr, o.names())
	}
}

// serverAfterHello returns a server handshake that has answered a valid
// HELLO, with the client and the WELCOME.
func serverAfterHello(t *testing.T, f *curveFixture) (client, server Handshake, welcome frame.Command) {
	t.Helper()
	client, server = f.handshakes(t)
	hello, err := client.Start()
	if err != nil {
		t.Fatal(err)
	}
	server.Start()
	out, err := server.Handle(context.Background(), hello[0])
	if err != nil || len(out) != 1 {
		t.Fatalf("HELLO: %v, %v", out, err)
	}
	return client, server, out[0]
}

// HC-01 and HC-03: bad HELLO commands get no WELCOME and no ZAP request.
func TestCurveHostileHello(t *testing.T) {
	f := newCurveFixture(t, nil)
	good, _ := f.handshakes(t)
	hello, _ := good.Start()
	valid := hello[0].AppendBody(nil)
	mutate := func(off int, b byte) []byte {
		out := bytes.Clone(valid)
		out[off] = b
		return out
	}
	randomBox := bytes.Clone(valid)
	copy(randomBox[120:], bytes.Repeat([]byte{0xA5}, 80))
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"empty HELLO", []byte("\x05HELLO"), ErrMalformedCommand},
		{"HELLO of 199 octets", valid[:199], ErrMalformedCommand},
		{"HELLO of 201 octets", append(bytes.Clone(valid), 0), ErrMalformedCommand},
		{"name HELLX", mutate(5, 'X'), ErrUnexpectedCommand},
		{"version 2.0", mutate(6, 2), ErrMalformedCommand},
		{"version 1.1", mutate(7, 1), ErrMalformedCommand},
		{"padding not zero", mutate(40, 1), ErrMalformedCommand},
		{"random signature box", randomBox, ErrCurveBox},
		{"flipped C'", mutate(90, valid[90]^1), ErrCurveBox},
		{"flipped nonce", mutate(119, valid[119]^1), ErrCurveBox},
		{"low-order C'", append(append(bytes.Clone(valid[:80]), append([]byte{1}, make([]byte, 31)...)...), valid[112:]...), ErrWeakKey},
	}
	for _, c := range cases {
		auth := &recorder{resp: ZAPResponse{StatusCode: 200}}
		f.server.Authenticator = auth
		_, server := f.handshakes(t)
		server.Start()
		cmd, err := frame.ParseCommand(c.body)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out, err := server.Handle(context.Background(), cmd)
		if !errors.Is(err, c.want) || !errors.Is(err, ErrHandshake) || out != nil || auth.calls.Load() != 0 {
			t.Errorf("%s: %v, %v (want %v)", c.name, out, err, c.want)
		}
		if _, err := server.Handle(context.Background(), hello[0]); err == nil {
			t.Errorf("%s: the server recovered", c.name)
		}
	}
}

// HC-04: bad INITIATE commands.
func TestCurveHostileInitiate(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	client, server, welcome := serverAfterHello(t, f)
	initiate, err := client.Handle(context.Background(), welcome)
	if err != nil {
		t.Fatal(err)
	}
	valid := initiate[0].AppendBody(nil)
	flip := func(off int) []byte {
		out := bytes.Clone(valid)
		out[off] ^= 0x01
		return out
	}
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"empty INITIATE", []byte("\x08INITIATE"), ErrMalformedCommand},
		{"INITIATE of 256 octets", valid[:256], ErrMalformedCommand},
		{"cookie nonce", flip(12), ErrCurveBox},
		{"cookie byte at 30", flip(30), ErrCurveBox},
		{"cookie MAC", flip(25), ErrCurveBox},
		{"short nonce", flip(9 + 96 + 7), ErrCurveBox},
		{"box byte at 150", flip(150), ErrCurveBox},
		{"last box byte", flip(len(valid) - 1), ErrCurveBox},
		{"truncated box", valid[:len(valid)-1], ErrCurveBox},
	}
	for _, c := range cases {
		auth := &recorder{resp: ZAPResponse{StatusCode: 200}}
		f.server.Authenticator = auth
		_, server, _ := serverAfterHello(t, f)
		cmd, _ := frame.ParseCommand(c.body)
		out, err := server.Handle(context.Background(), cmd)
		if !errors.Is(err, c.want) || out != nil || auth.calls.Load() != 0 || server.Done() {
			t.Errorf("%s: %v, %v (want %v)", c.name, out, err, c.want)
		}
	}
	// The untouched INITIATE still works on its own connection.
	out, err := server.Handle(context.Background(), initiate[0])
	if err != nil || len(out) != 1 || out[0].Name != frame.CmdReady {
		t.Errorf("valid INITIATE: %v, %v", out, err)
	}
	// A replayed INITIATE is refused: the cookie key is gone.
	if _, err := server.Handle(context.Background(), initiate[0]); !errors.Is(err, ErrUnexpectedCommand) {
		t.Errorf("INITIATE twice: %v", err)
	}
}

// A cookie is accepted only by the connection that issued it.
func TestCurveCookieOtherConnection(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	client, _, welcome := serverAfterHello(t, f)
	initiate, err := client.Handle(context.Background(), welcome)
	if err != nil {
		t.Fatal(err)
	}
	// A second connection from the same server configuration.
	f.server.Rand = testRand(5)
	_, other, _ := serverAfterHello(t, f)
	if _, err := other.Handle(context.Background(), initiate[0]); !errors.Is(err, ErrCurveBox) {
		t.Errorf("cookie from another connection: %v", err)
	}
}

func TestCurveCookieExpired(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f.server.Clock = func() time.Time { return now }
	client, server, welcome := serverAfterHello(t, f)
	initiate, err := client.Handle(context.Background(), welcome)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(CurveCookieLifetime + time.Second)
	if _, err := server.Handle(context.Background(), initiate[0]); !errors.Is(err, ErrCookieExpired) {
		t.Errorf("late INITIATE: %v", err)
	}
}

func TestCurveInitiateNonceNotIncreasing(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	client, server, welcome := serverAfterHello(t, f)
	client.(*curveClient).nonce = 0 // INITIATE reuses HELLO's nonce 1
	initiate, err := client.Handle(context.Background(), welcome)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Handle(context.Background(), initiate[0]); !errors.Is(err, ErrCurveNonce) {
		t.Errorf("INITIATE with HELLO's nonce: %v", err)
	}
}

// initiateWithVouch builds the INITIATE that client would send in answer to
// welcome, with a vouch that names vouchCT and vouchS as C' and S.
func initiateWithVouch(t *testing.T, client Handshake, welcome frame.Command, vouchCT, vouchS [32]byte) frame.Command {
	t.Helper()
	cc := client.(*curveClient)
	wnonce := longNonce(welcomePrefix, welcome.Data)
	plain, ok := secretbox.Open(nil, welcome.Data[longNonceSize:], &wnonce, &cc.helloKey)
	if !ok {
		t.Fatal("WELCOME does not open")
	}
	var serverT [32]byte
	copy(serverT[:], plain[:32])
	key, _ := sharedKey(&serverT, &cc.tsecret)
	vk, _ := sharedKey(&serverT, &cc.secret)
	vouchNonce := bytes.Repeat([]byte{7}, longNonceSize)
	vnonce := longNonce(vouchPrefix, vouchNonce)
	inner := append(bytes.Clone(cc.public[:]), vouchNonce...)
	inner = secretbox.Seal(inner, append(vouchCT[:], vouchS[:]...), &vnonce, &vk)
	inner = frame.AppendMetadata(inner, ReadyMetadata(testParams(Dealer, "")))
	data := append(bytes.Clone(plain[32:]), 0, 0, 0, 0, 0, 0, 0, 2)
	inonce := shortNonce(initiateNoncePrefix, 2)
	data = secretbox.Seal(data, inner, &inonce, &key)
	return frame.Command{Name: frame.CmdInitiate, Data: data}
}

func TestCurveVouch(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	other, _ := testKeyPair(t, 9)
	cases := []struct {
		name string
		ct   func(real [32]byte) [32]byte
		s    [32]byte
		want error
	}{
		{"valid vouch", func(r [32]byte) [32]byte { return r }, f.spub, nil},
		{"vouch for another C'", func(r [32]byte) [32]byte { r[0] ^= 1; return r }, f.spub, ErrCurveMismatch},
		{"vouch for another server", func(r [32]byte) [32]byte { return r }, other, ErrCurveMismatch},
	}
	for _, c := range cases {
		client, server, welcome := serverAfterHello(t, f)
		initiate := initiateWithVouch(t, client, welcome, c.ct(client.(*curveClient).tpublic), c.s)
		_, err := server.Handle(context.Background(), initiate)
		if !errors.Is(err, c.want) || (c.want == nil) != server.Done() {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestCurveServerSocketTypeMismatch(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	client, err := f.client.NewHandshake(testParams(Pub, ""))
	if err != nil {
		t.Fatal(err)
	}
	server, _ := f.server.NewHandshake(testParams(Router, ""))
	o := runHandshakes(t, context.Background(), client, server)
	var ste *SocketTypeError
	// The server closes without ERROR, as libzmq does.
	if !errors.As(o.serverErr, &ste) || !slices.Equal(o.names(), []string{"C:HELLO", "S:WELCOME", "C:INITIATE"}) {
		t.Errorf("server: %v, log %v", o.serverErr, o.names())
	}
	if o.clientErr != nil || client.Done() {
		t.Errorf("client: %v, Done %v", o.clientErr, client.Done())
	}
}

// HC-10: hostile WELCOME and READY commands.
func TestCurveHostileServer(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	client, server, welcome := serverAfterHello(t, f)
	initiate, err := client.Handle(context.Background(), welcome)
	if err != nil {
		t.Fatal(err)
	}
	ready, err := server.Handle(context.Background(), initiate[0])
	if err != nil {
		t.Fatal(err)
	}
	validWelcome := welcome.AppendBody(nil)
	validReady := ready[0].AppendBody(nil)
	flip := func(b []byte, off int) []byte {
		out := bytes.Clone(b)
		out[off] ^= 0x80
		return out
	}
	welcomeCases := []struct {
		name string
		body []byte
		want error
	}{
		{"WELCOME of 167 octets", validWelcome[:167], ErrMalformedCommand},
		{"WELCOME of 169 octets", append(bytes.Clone(validWelcome), 0), ErrMalformedCommand},
		{"WELCOME nonce", flip(validWelcome, 10), ErrCurveBox},
		{"WELCOME box", flip(validWelcome, 100), ErrCurveBox},
		{"READY before WELCOME", validReady, ErrUnexpectedCommand},
		{"HELLO to the client", []byte("\x05HELLO"), ErrUnexpectedCommand},
		{"malformed ERROR", []byte("\x05ERROR\x05abc"), ErrMalformedCommand},
	}
	for _, c := range welcomeCases {
		client, _ := f.handshakes(t)
		client.Start()
		cmd, _ := frame.ParseCommand(c.body)
		out, err := client.Handle(context.Background(), cmd)
		if !errors.Is(err, c.want) || out != nil {
			t.Errorf("%s: %v, %v (want %v)", c.name, out, err, c.want)
		}
	}
	readyCases := []struct {
		name string
		body []byte
		want error
	}{
		{"READY of 29 octets", validReady[:29], ErrMalformedCommand},
		{"READY with a wrong nonce", flip(validReady, 13), ErrCurveBox},
		{"READY box", flip(validReady, 20), ErrCurveBox},
		{"second WELCOME", validWelcome, ErrUnexpectedCommand},
	}
	for _, c := range readyCases {
		client, _, welcome := serverAfterHello(t, f)
		if _, err := client.Handle(context.Background(), welcome); err != nil {
			t.Fatal(err)
		}
		cmd, _ := frame.ParseCommand(c.body)
		out, err := client.Handle(context.Background(), cmd)
		if !errors.Is(err, c.want) || out != nil || client.Done() {
			t.Errorf("%s: %v, %v (want %v)", c.name, out, err, c.want)
		}
	}
}

func TestCurveErrorFromServer(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	client, _ := f.handshakes(t)
	client.Start()
	_, err := client.Handle(context.Background(), frame.Command{Name: frame.CmdError, Data: []byte("\x03500")})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Reason != "500" {
		t.Errorf("ERROR instead of WELCOME: %v", err)
	}
}

func TestCurveUnexpectedCommands(t *testing.T) {
	f := newCurveFixture(t, acceptAll())
	for _, name := range []string{frame.CmdInitiate, frame.CmdReady, frame.CmdWelcome, frame.CmdMessage, frame.CmdError, frame.CmdPing} {
		_, server := f.handshakes(t)
		server.Start()
		if out, err := server.Handle(context.Background(), frame.Command{Name: name}); !errors.Is(err, ErrUnexpectedCommand) || out != nil {
			t.Errorf("server waiting for HELLO, %s: %v, %v", name, out, err)
		}
	}
	client, server, _ := f.run(t)
	for _, hs := range []Handshake{client, server} {
		if _, err := hs.Handle(context.Background(), frame.Command{Name: frame.CmdMessage}); !errors.Is(err, ErrUnexpectedCommand) {
			t.Errorf("after the handshake: %v", err)
		}
		if !hs.Done() || hs.Cipher() == nil {
			t.Error("an extra command undid the handshake")
		}
		if _, err := hs.Start(); err == nil {
			t.Error("second Start succeeded")
		}
	}
}

func TestCurveKeys(t *testing.T) {
	// Key pairs generated by libzmq 4.3.4: zmq_curve_public(secret) must
	// give the same public key as CurvePublicKey.
	pairs := [][2]string{
		{"ac8791a415d93e7ba79436d236fdff3573b4b521ddef232a12027cd2b0bfc773", "2597f255d4c0b341bd2f265d85f3a703f3c3e2b59c011d3ead7b37b1ad9e047d"},
		{"56d67e7dedc9404b2a6ad19ebbe0a3ca5ca55635ba6a88f92759d2a72e10af2a", "6c3e5810dc22bcff84b0bdb0a875b0dbe24e99257653dd738b2e202411772d7f"},
		{"2ab565798bc3ed07143aff305c93db5b2c5582bdc586e16622f045759338b513", "7d1457e11b69f21805a70f44ceb9e51cdf8e0745730fd61be24ca9641e5bc8df"},
	}
	for _, p := range pairs {
		var pub, sec [32]byte
		hex.Decode(pub[:], []byte(p[0]))
		hex.Decode(sec[:], []byte(p[1]))
		if got := CurvePublicKey(sec); got != pub {
			t.Errorf("CurvePublicKey(%s) = %x, libzmq says %s", p[1], got, p[0])
		}
		text, _ := z85.EncodeToString(pub[:])
		if k, err := ParseCurveKey([]byte(text)); err != nil || k != pub {
			t.Errorf("ParseCurveKey(%q) = %x, %v", text, k, err)
		}
		if k, err := ParseCurveKey(pub[:]); err != nil || k != pub {
			t.Errorf("ParseCurveKey(raw) = %x, %v", k, err)
		}
	}
	if k, err := ParseCurveKey([]byte("TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!Ok1")); err != nil || hex.EncodeToString(k[:]) != pairs[0][0] {
		t.Errorf("ParseCurveKey(libzmq text) = %x, %v", k, err)
	}
	for _, bad := range []string{"", "short", "TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!Ok", "TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!O 1", "TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!Ok1\x00"} {
		if _, err := ParseCurveKey([]byte(bad)); !errors.Is(err, ErrCurveKeys) {
			t.Errorf("ParseCurveKey(%q) error %v", bad, err)
		}
	}

	pub, sec, err := GenerateCurveKeyPair(testRand(1))
	pub2, sec2, _ := GenerateCurveKeyPair(testRand(1))
	if err != nil || pub != pub2 || sec != sec2 || CurvePublicKey(sec) != pub || isZero(&pub) {
		t.Errorf("GenerateCurveKeyPair not deterministic or wrong: %v", err)
	}
	if _, _, err := GenerateCurveKeyPair(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("GenerateCurveKeyPair with 31 random octets succeeded")
	}
	if p1, _, err := GenerateCurveKeyPair(nil); err != nil || isZero(&p1) {
		t.Errorf("GenerateCurveKeyPair(nil): %v", err)
	}
}

// cipherPair completes a handshake and returns the client's and the
// server's ciphers.
func cipherPair(t testing.TB) (client, server Cipher) {
	t.Helper()
	c, s, _ := newCurveFixture(t, acceptAll()).run(t)
	return c.Cipher(), s.Cipher()
}

// openFrame parses a sealed frame as the peer's connection would and opens
// it.
func openFrame(t testing.TB, c Cipher, wire []byte) (byte, []byte, error) {
	t.Helper()
	h, n, err := frame.ParseHeader(wire)
	if err != nil || uint64(len(wire)-n) != h.Size {
		t.Fatalf("sealed frame header %+v, %v; %d octets follow", h, err, len(wire)-n)
	}
	if h.Flags != 0 {
		t.Fatalf("sealed frame flags %#x, want 0 as libzmq sends", h.Flags)
	}
	cmd, err := frame.ParseCommand(wire[n:])
	if err != nil || cmd.Name != frame.CmdMessage {
		t.Fatalf("sealed frame is not MESSAGE: %q, %v", cmd.Name, err)
	}
	return c.Open(cmd.Data)
}

func TestCipherRoundTrip(t *testing.T) {
	client, server := cipherPair(t)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	bodies := [][]byte{nil, {}, []byte("x"), []byte("hello"), bytes.Repeat([]byte{0xAB}, 255), bytes.Repeat([]byte{1}, 256), big}
	for _, dir := range []struct {
		name     string
		from, to Cipher
	}{{"client to server", client, server}, {"server to client", server, client}} {
		for _, flags := range []byte{0, frame.FlagMore, frame.FlagCommand} {
			for _, body := range bodies {
				wire, err := dir.from.Seal([]byte("prefix"), flags, body)
				if err != nil {
					t.Fatal(err)
				}
				if string(wire[:6]) != "prefix" {
					t.Fatal("Seal did not append")
				}
				if added := len(wire) - 6 - len(body); added > dir.from.Overhead() {
					t.Errorf("Seal added %d octets, Overhead says %d", added, dir.from.Overhead())
				}
				gotFlags, got, err := openFrame(t, dir.to, wire[6:])
				if err != nil || gotFlags != flags || !bytes.Equal(got, body) {
					t.Fatalf("%s flags %#x, %d octets: got %#x, %d octets, %v", dir.name, flags, len(body), gotFlags, len(got), err)
				}
			}
		}
	}
}

func TestCipherNonces(t *testing.T) {
	client, server := cipherPair(t)
	// libzmq's sequence: the client's HELLO and INITIATE used 1 and 2, the
	// server's READY 1, so the first MESSAGE nonces are 3 and 2.
	for _, c := range []struct {
		name  string
		c     Cipher
		first uint64
	}{{"client", client, 3}, {"server", server, 2}} {
		for i := uint64(0); i < 3; i++ {
			wire, _ := c.c.Seal(nil, 0, []byte("m"))
			if n := binary.BigEndian.Uint64(wire[2+8:]); n != c.first+i {
				t.Errorf("%s MESSAGE %d nonce %d, want %d", c.name, i, n, c.first+i)
			}
		}
	}
}

// HC-07: replayed and reordered MESSAGE commands.
func TestCipherReplay(t *testing.T) {
	client, server := cipherPair(t)
	first, _ := client.Seal(nil, 0, []byte("one"))
	second, _ := client.Seal(nil, 0, []byte("two"))
	third, _ := client.Seal(nil, 0, []byte("three"))
	if _, _, err := openFrame(t, server, second); err != nil {
		t.Fatal(err)
	}
	for _, w := range [][]byte{second, first} {
		if _, _, err := openFrame(t, server, w); !errors.Is(err, ErrMessageReplay) || !errors.Is(err, frame.ErrProtocol) {
			t.Errorf("replay: %v", err)
		}
	}
	if _, body, err := openFrame(t, server, third); err != nil || string(body) != "three" {
		t.Errorf("next message: %q, %v", body, err)
	}
	// A message sent by the server is not accepted back by the server.
	own, _ := server.Seal(nil, 0, []byte("mine"))
	if _, _, err := openFrame(t, server, own); err == nil {
		t.Error("server opened its own MESSAGE")
	}
}

// HC-08: malformed MESSAGE commands.
func TestCipherHostileMessage(t *testing.T) {
	client, server := cipherPair(t)
	sc := server.(*curveCipher)
	sealRaw := func(n uint64, plain []byte) []byte {
		nonce := shortNonce(clientMessagePrefix, n)
		out := binary.BigEndian.AppendUint64(nil, n)
		return secretbox.Seal(out, plain, &nonce, &sc.key)
	}
	valid, _ := client.Seal(nil, 0, []byte("payload"))
	validData := messageData(t, valid)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"no data", nil, ErrMessageMalformed},
		{"nonce only", validData[:8], ErrMessageMalformed},
		{"24 octets", validData[:24], ErrMessageMalformed},
		{"empty box", sealRaw(100, nil), ErrMessageMalformed},
		{"flipped nonce", flipByte(validData, 0), ErrMessageForged},
		{"flipped MAC", flipByte(validData, 8), ErrMessageForged},
		{"flipped payload", flipByte(validData, len(validData)-1), ErrMessageForged},
		{"truncated", validData[:len(validData)-1], ErrMessageForged},
		{"reserved flag 0x04", sealRaw(101, []byte{0x04, 'x'}), ErrMessageMalformed},
		{"reserved flag 0x80", sealRaw(102, []byte{0x80}), ErrMessageMalformed},
		{"MORE and COMMAND", sealRaw(103, []byte{0x03, 'x'}), ErrMessageMalformed},
		{"zero nonce", sealRaw(0, []byte{0}), ErrMessageReplay},
	}
	for _, c := range cases {
		if _, _, err := server.Open(c.data); !errors.Is(err, c.want) || !errors.Is(err, frame.ErrProtocol) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The wire flags are the decrypted ones: bit 1 is COMMAND.
	flags, body, err := server.Open(sealRaw(200, []byte{0x02, 4, 'P', 'I', 'N', 'G', 0, 0}))
	if err != nil || flags != frame.FlagCommand || string(body) != "\x04PING\x00\x00" {
		t.Errorf("command in a box: %#x %q %v", flags, body, err)
	}
}

// messageData returns the MESSAGE data (nonce and box) of a sealed frame.
func messageData(t testing.TB, wire []byte) []byte {
	_, n, err := frame.ParseHeader(wire)
	if err != nil {
		t.Error(err)
		return nil
	}
	return wire[n+len(messageName):]
}

func flipByte(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func TestCipherSealErrors(t *testing.T) {
	client, _ := cipherPair(t)
	for _, flags := range []byte{frame.FlagLong, frame.FlagMore | frame.FlagCommand, 0x80} {
		if out, err := client.Seal([]byte("keep"), flags, nil); err == nil || string(out) != "keep" {
			t.Errorf("Seal with flags %#x: %q, %v", flags, out, err)
		}
	}
	client.(*curveCipher).sendNonce = math.MaxUint64 - 1
	if _, err := client.Seal(nil, 0, nil); err != nil {
		t.Fatalf("last nonce: %v", err)
	}
	if out, err := client.Seal([]byte("keep"), 0, nil); !errors.Is(err, ErrNonceExhausted) || string(out) != "keep" {
		t.Errorf("after the last nonce: %q, %v", out, err)
	}
}

func TestCipherDoesNotAllocate(t *testing.T) {
	client, server := cipherPair(t)
	for _, size := range []int{0, 1, 31, 32, 64, 1024, 64 << 10, 1 << 20} {
		body := make([]byte, size)
		buf := make([]byte, 0, size+client.Overhead())
		allocs := testing.AllocsPerRun(20, func() {
			w, err := client.Seal(buf[:0], frame.FlagMore, body)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := server.Open(messageData(t, w)); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Seal+Open of %d octets allocate %v times per message", size, allocs)
		}
	}
}

// A writer and a reader use one cipher at the same time.
func TestCipherConcurrentSealOpen(t *testing.T) {
	client, server := cipherPair(t)
	const n = 200
	toServer := make(chan []byte, n)
	toClient := make(chan []byte, n)
	var wg sync.WaitGroup
	seal := func(c Cipher, out chan<- []byte) {
		defer wg.Done()
		for i := 0; i < n; i++ {
			w, err := c.Seal(nil, 0, []byte(fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
				return
			}
			out <- w
		}
	}
	open := func(c Cipher, in <-chan []byte) {
		defer wg.Done()
		for i := 0; i < n; i++ {
			w := <-in
			if _, body, err := c.Open(messageData(t, w)); err != nil || string(body) != fmt.Sprint(i) {
				t.Errorf("message %d: %q, %v", i, body, err)
				return
			}
		}
	}
	wg.Add(4)
	go seal(client, toServer)
	go open(client, toClient)
	go seal(server, toClient)
	go open(server, toServer)
	wg.Wait()
}

func BenchmarkCipher(b *testing.B) {
	for _, size := range []int{1, 64, 1024, 65536} {
		client, server := cipherPair(b)
		body := make([]byte, size)
		buf := make([]byte, 0, size+client.Overhead())
		b.Run(fmt.Sprintf("Seal/%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Seal(buf[:0], 0, body); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Messages to open, sealed beforehand in nonce order. Open
		// decrypts in place, so each is copied into a work buffer first,
		// as a connection's reader has it in its read buffer: the figure
		// includes that copy.
		const batch = 1024
		msgs := make([][]byte, batch)
		for i := range msgs {
			w, _ := client.Seal(nil, 0, body)
			msgs[i] = messageData(b, w)
		}
		work := make([]byte, len(msgs[0]))
		first := binary.BigEndian.Uint64(msgs[0])
		b.Run(fmt.Sprintf("Open/%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := batch
			for b.Loop() {
				if i == batch {
					// Nonces must increase: rewind the receiver.
					server.(*curveCipher).recvNonce = first - 1
					i = 0
				}
				copy(work, msgs[i])
				if _, _, err := server.Open(work); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkCurveHandshake(b *testing.B) {
	f := newCurveFixture(b, &recorder{resp: ZAPResponse{StatusCode: 200}})
	f.client.Rand, f.server.Rand = nil, nil
	b.ReportAllocs()
	for b.Loop() {
		client, server := f.handshakes(b)
		if o := runHandshakes(b, context.Background(), client, server); o.serverErr != nil || o.clientErr != nil {
			b.Fatal(o.clientErr, o.serverErr)
		}
	}
}
