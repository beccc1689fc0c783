package mechanism

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/z85"
)

// testRand returns a deterministic source of octets for keys and nonces.
func testRand(seed byte) io.Reader { return rand.NewChaCha8([32]byte{seed}) }

// sent is one command a handshake produced, as its wire body.
type sent struct {
	from byte // 'C' or 'S'
	body []byte
}

func (s sent) String() string {
	return string(s.from) + ":" + commandName(s.body)
}

// commandName returns the name of the command in body, ERROR for libzmq's
// malformed PLAIN ERROR, and "" for any other malformed body.
func commandName(body []byte) string {
	if c, err := frame.ParseCommand(body); err == nil {
		return c.Name
	}
	if _, ok := frame.ParseLibzmqError(body); ok {
		return frame.CmdError
	}
	return ""
}

// outcome is the result of driving a client and a server handshake.
type outcome struct {
	clientErr, serverErr error
	log                  []sent
}

// names lists the commands sent, such as "C:HELLO".
func (o outcome) names() []string {
	out := make([]string, len(o.log))
	for i, s := range o.log {
		out[i] = s.String()
	}
	return out
}

// find returns the body of the first command named name sent by from.
func (o outcome) find(from byte, name string) []byte {
	for _, s := range o.log {
		if s.from == from && commandName(s.body) == name {
			return s.body
		}
	}
	return nil
}

// deliver encodes cmd as a command body and hands it to h as the peer's
// connection would: parsed, or else raw to a RawCommandHandler.
func deliver(t testing.TB, ctx context.Context, h Handshake, cmd frame.Command) (body []byte, out []frame.Command, err error) {
	t.Helper()
	body = cmd.AppendBody(nil)
	got, perr := frame.ParseCommand(body)
	if perr == nil {
		out, err = h.Handle(ctx, got)
		return body, out, err
	}
	raw, ok := h.(RawCommandHandler)
	if !ok {
		t.Fatalf("command %q does not parse: %v", cmd.Name, perr)
	}
	out, err = raw.HandleMalformed(body)
	return body, out, err
}

// runHandshakes drives a client and a server handshake against each other,
// delivering every command through its wire form, until neither has
// anything left to send. After one side fails, the commands it returned
// with the error (an ERROR) still reach the other side.
func runHandshakes(t testing.TB, ctx context.Context, client, server Handshake) outcome {
	t.Helper()
	var o outcome
	toServer, err := client.Start()
	o.clientErr = err
	toClient, err := server.Start()
	o.serverErr = err
	for len(toServer)+len(toClient) > 0 {
		if len(toServer) > 0 {
			cmd := toServer[0]
			toServer = toServer[1:]
			if o.serverErr != nil {
				o.log = append(o.log, sent{'C', cmd.AppendBody(nil)})
				continue
			}
			body, out, err := deliver(t, ctx, server, cmd)
			o.log = append(o.log, sent{'C', body})
			toClient = append(toClient, out...)
			o.serverErr = err
			continue
		}
		cmd := toClient[0]
		toClient = toClient[1:]
		if o.clientErr != nil {
			o.log = append(o.log, sent{'S', cmd.AppendBody(nil)})
			continue
		}
		body, out, err := deliver(t, ctx, client, cmd)
		o.log = append(o.log, sent{'S', body})
		toServer = append(toServer, out...)
		o.clientErr = err
	}
	return o
}

// testParams returns connection parameters for a socket of type st.
func testParams(st string, identity string) Params {
	p := Params{SocketType: st, RemoteAddr: "192.0.2.7"}
	if identity != "" {
		p.Identity = []byte(identity)
	}
	return p
}

// recorder is an Authenticator that records its requests and answers with
// a fixed response.
type recorder struct {
	resp  ZAPResponse
	err   error
	calls atomic.Int32
	last  *ZAPRequest
}

func (r *recorder) Authenticate(_ context.Context, req *ZAPRequest) (ZAPResponse, error) {
	r.calls.Add(1)
	r.last = req
	return r.resp, r.err
}

// securityPair returns client and server handshakes of one mechanism
// ("PLAIN" or "CURVE") whose server asks auth.
func securityPair(t testing.TB, mech string, auth Authenticator) (client, server Handshake) {
	t.Helper()
	cm, sm := securityMechanismsFor(t, mech, auth)
	client, err := cm.NewHandshake(testParams(Dealer, "client-1"))
	if err != nil {
		t.Fatal(err)
	}
	server, err = sm.NewHandshake(testParams(Router, ""))
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

// testKeyPair returns a permanent key pair derived from seed.
func testKeyPair(t testing.TB, seed byte) (public, secret [32]byte) {
	t.Helper()
	public, secret, err := GenerateCurveKeyPair(testRand(100 + seed))
	if err != nil {
		t.Fatal(err)
	}
	return public, secret
}

var securityMechanisms = []string{frame.MechanismPlain, frame.MechanismCurve}

func TestZAPStatus(t *testing.T) {
	cases := []struct {
		code      int
		done      bool   // handshake completes
		errorSent string // reason of the ERROR the server sends, "" for none
	}{
		{code: 200, done: true},
		{code: 300},
		{code: 400, errorSent: "400"},
		{code: 500, errorSent: "500"},
		{code: 201},
		{code: 20},
		{code: 0},
		{code: 600},
		{code: -200},
	}
	for _, mech := range securityMechanisms {
		for _, c := range cases {
			auth := &recorder{resp: ZAPResponse{StatusCode: c.code, StatusText: "because", UserID: "joe"}}
			client, server := securityPair(t, mech, auth)
			o := runHandshakes(t, context.Background(), client, server)
			if got := auth.calls.Load(); got != 1 {
				t.Errorf("%s %d: authenticator called %d times", mech, c.code, got)
			}
			if c.done {
				if o.clientErr != nil || o.serverErr != nil || !client.Done() || !server.Done() {
					t.Errorf("%s %d: errors %v, %v; done %v, %v", mech, c.code, o.clientErr, o.serverErr, client.Done(), server.Done())
				}
				if got := server.PeerMetadata().Get(frame.PropUserID); got != "joe" {
					t.Errorf("%s %d: User-Id %q", mech, c.code, got)
				}
				continue
			}
			if server.Done() || client.Done() {
				t.Errorf("%s %d: handshake completed", mech, c.code)
			}
			if !errors.Is(o.serverErr, ErrHandshake) {
				t.Errorf("%s %d: server error %v does not match ErrHandshake", mech, c.code, o.serverErr)
			}
			errBody := o.find('S', frame.CmdError)
			switch {
			case c.errorSent == "" && errBody != nil:
				t.Errorf("%s %d: server sent ERROR %q", mech, c.code, errBody)
			case c.errorSent != "":
				// libzmq's PLAIN server writes its ERROR malformed, and
				// so does ours; its CURVE server writes it well-formed.
				want := append([]byte("\x05ERROR"), byte(len(c.errorSent)))
				if mech == frame.MechanismPlain {
					want = append([]byte("\x5eRROR"), byte(len(c.errorSent)))
				}
				want = append(want, c.errorSent...)
				if string(errBody) != string(want) {
					t.Errorf("%s %d: ERROR body %q, want %q", mech, c.code, errBody, want)
				}
				var pe *PeerError
				if !errors.As(o.clientErr, &pe) || pe.Reason != c.errorSent {
					t.Errorf("%s %d: client error %v, want PeerError %q", mech, c.code, o.clientErr, c.errorSent)
				}
			}
			switch c.code {
			case 300, 400, 500:
				var ae *AuthError
				if !errors.As(o.serverErr, &ae) || ae.StatusCode != c.code || ae.StatusText != "because" {
					t.Errorf("%s %d: server error %v, want AuthError", mech, c.code, o.serverErr)
				}
			default:
				if !errors.Is(o.serverErr, ErrInvalidZAPReply) {
					t.Errorf("%s %d: server error %v, want ErrInvalidZAPReply", mech, c.code, o.serverErr)
				}
			}
			if c.errorSent == "" && o.clientErr != nil {
				t.Errorf("%s %d: client failed (%v) without an ERROR", mech, c.code, o.clientErr)
			}
		}
	}
}

func TestZAPAuthenticatorErrorFailsClosed(t *testing.T) {
	boom := errors.New("directory unavailable")
	for _, mech := range securityMechanisms {
		auth := &recorder{resp: ZAPResponse{StatusCode: 200}, err: boom}
		client, server := securityPair(t, mech, auth)
		o := runHandshakes(t, context.Background(), client, server)
		if !errors.Is(o.serverErr, boom) || !errors.Is(o.serverErr, ErrHandshake) {
			t.Errorf("%s: server error %v, want one matching the cause and ErrHandshake", mech, o.serverErr)
		}
		if o.find('S', frame.CmdError) != nil || client.Done() || server.Done() {
			t.Errorf("%s: sent %v", mech, o.names())
		}
	}
}

func TestZAPContextCutsOffHandler(t *testing.T) {
	for _, mech := range securityMechanisms {
		started := make(chan struct{})
		release := make(chan struct{})
		returned := make(chan struct{})
		auth := AuthenticatorFunc(func(context.Context, *ZAPRequest) (ZAPResponse, error) {
			defer close(returned)
			close(started)
			<-release // ignores ctx on purpose
			return ZAPResponse{StatusCode: 200}, nil
		})
		client, server := securityPair(t, mech, auth)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-started
			cancel()
		}()
		o := runHandshakes(t, ctx, client, server)
		if !errors.Is(o.serverErr, context.Canceled) || !errors.Is(o.serverErr, ErrHandshake) {
			t.Errorf("%s: server error %v, want context.Canceled", mech, o.serverErr)
		}
		if server.Done() || o.find('S', frame.CmdError) != nil {
			t.Errorf("%s: sent %v", mech, o.names())
		}
		close(release)
		<-returned
	}
}

func TestZAPExpiredContext(t *testing.T) {
	for _, mech := range securityMechanisms {
		auth := &recorder{resp: ZAPResponse{StatusCode: 200}}
		client, server := securityPair(t, mech, auth)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		o := runHandshakes(t, ctx, client, server)
		if !errors.Is(o.serverErr, context.Canceled) || auth.calls.Load() != 0 {
			t.Errorf("%s: server error %v after %d calls", mech, o.serverErr, auth.calls.Load())
		}
	}
}

func TestZAPRequest(t *testing.T) {
	auth := &recorder{resp: ZAPResponse{StatusCode: 200}}
	client, server := securityPair(t, frame.MechanismPlain, auth)
	runHandshakes(t, context.Background(), client, server)
	want := &ZAPRequest{Domain: "test", Address: "192.0.2.7", Mechanism: "PLAIN",
		Credentials: [][]byte{[]byte("admin"), []byte("secret")}}
	if diff := cmp.Diff(want, auth.last); diff != "" {
		t.Errorf("PLAIN request (-want +got):\n%s", diff)
	}

	client, server = securityPair(t, frame.MechanismCurve, auth)
	runHandshakes(t, context.Background(), client, server)
	cpub, _ := testKeyPair(t, 1)
	want = &ZAPRequest{Domain: "test", Address: "192.0.2.7", Mechanism: "CURVE",
		RoutingID: []byte("client-1"), Credentials: [][]byte{cpub[:]}}
	if diff := cmp.Diff(want, auth.last); diff != "" {
		t.Errorf("CURVE request (-want +got):\n%s", diff)
	}
}

func TestZAPMetadata(t *testing.T) {
	for _, mech := range securityMechanisms {
		auth := &recorder{resp: ZAPResponse{StatusCode: 200, UserID: "joe", Metadata: frame.Metadata{
			{Name: "X-Role", Value: []byte("admin")},
			{Name: "x-color", Value: []byte("from-zap")},
		}}}
		cm, sm := securityMechanismsFor(t, mech, auth)
		p := testParams(Dealer, "")
		p.Properties = frame.Metadata{
			{Name: "User-Id", Value: []byte("mallory")}, // must not be believed
			{Name: "X-Color", Value: []byte("from-peer")},
			{Name: "X-Size", Value: []byte("9")},
		}
		client, err := cm.NewHandshake(p)
		if err != nil {
			t.Fatal(err)
		}
		server, err := sm.NewHandshake(testParams(Router, ""))
		if err != nil {
			t.Fatal(err)
		}
		o := runHandshakes(t, context.Background(), client, server)
		if o.clientErr != nil || o.serverErr != nil {
			t.Fatalf("%s: %v, %v", mech, o.clientErr, o.serverErr)
		}
		want := frame.Metadata{
			{Name: "User-Id", Value: []byte("joe")},
			{Name: "X-Role", Value: []byte("admin")},
			{Name: "x-color", Value: []byte("from-zap")},
			{Name: "Socket-Type", Value: []byte("DEALER")},
			{Name: "X-Size", Value: []byte("9")},
		}
		if diff := cmp.Diff(want, server.PeerMetadata()); diff != "" {
			t.Errorf("%s: server PeerMetadata (-want +got):\n%s", mech, diff)
		}
		if got := client.PeerMetadata().Get(frame.PropSocketType); got != Router {
			t.Errorf("%s: client sees Socket-Type %q", mech, got)
		}
	}
}

func TestZAPInvalidMetadata(t *testing.T) {
	for _, mech := range securityMechanisms {
		auth := &recorder{resp: ZAPResponse{StatusCode: 200, Metadata: frame.Metadata{{Name: "bad name"}}}}
		client, server := securityPair(t, mech, auth)
		o := runHandshakes(t, context.Background(), client, server)
		if !errors.Is(o.serverErr, ErrInvalidZAPReply) || o.find('S', frame.CmdError) != nil {
			t.Errorf("%s: server error %v, sent %v", mech, o.serverErr, o.names())
		}
	}
}

func TestAuthError(t *testing.T) {
	err := error(&AuthError{StatusCode: 400, StatusText: "no such user"})
	if !errors.Is(err, ErrHandshake) {
		t.Error("AuthError does not match ErrHandshake")
	}
	if got := err.Error(); !strings.Contains(got, "400") || !strings.Contains(got, "no such user") {
		t.Errorf("Error() = %q", got)
	}
	if got := (&AuthError{StatusCode: 300}).Error(); strings.Contains(got, ":  ") || !strings.HasSuffix(got, "300") {
		t.Errorf("Error() = %q", got)
	}
}

// securityMechanismsFor returns the client and server mechanisms that
// securityPair uses.
func securityMechanismsFor(t testing.TB, mech string, auth Authenticator) (client, server Mechanism) {
	t.Helper()
	if mech == frame.MechanismPlain {
		return Plain{Username: "admin", Password: "secret"}, Plain{Server: true, Authenticator: auth, Domain: "test"}
	}
	if mech != frame.MechanismCurve {
		t.Fatalf("unknown mechanism %q", mech)
	}
	cpub, csec := testKeyPair(t, 1)
	spub, ssec := testKeyPair(t, 2)
	return Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub, Rand: testRand(3)},
		Curve{Server: true, PublicKey: spub, SecretKey: ssec, Authenticator: auth, Domain: "test", Rand: testRand(4)}
}

// Printing a configuration or a request never shows a secret.
func TestSecretsNotPrinted(t *testing.T) {
	f := newCurveFixture(t, nil)
	plain := Plain{Username: "admin", Password: "hunter2"}
	req := &ZAPRequest{Mechanism: "PLAIN", Credentials: [][]byte{[]byte("admin"), []byte("hunter2")}}
	cs, ss := f.handshakes(t)
	cs.Start() // now holds transient keys
	cc, sc := cipherPair(t)
	ps, _ := plain.NewHandshake(testParams(Dealer, ""))
	for _, v := range []any{f.client, &f.client, f.server, plain, &plain, req, cs, ss, cc, sc, ps} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			out := fmt.Sprintf(verb, v)
			for _, secret := range [][]byte{f.csec[:], f.ssec[:], []byte("hunter2")} {
				if strings.Contains(out, string(secret)) || strings.Contains(out, fmt.Sprintf("%x", secret)) ||
					strings.Contains(out, fmt.Sprint(secret)) || strings.Contains(out, fmt.Sprintf("%#v", secret)[len("[]byte{"):]) ||
					len(secret) == 32 && strings.Contains(out, z85String(secret)) {
					t.Errorf("%s of %T shows a secret: %s", verb, v, out)
				}
			}
		}
	}
	if got := fmt.Sprint(f.server); !strings.HasPrefix(got, "CURVE server ") || !strings.Contains(got, z85String(f.spub[:])) {
		t.Errorf("String() = %q", got)
	}
}

func z85String(b []byte) string {
	s, _ := z85.EncodeToString(b)
	return s
}

// Authenticate and AuthenticatedMetadata give other packages' mechanisms
// the built-in ZAP rules: the answer's User-Id and properties first, the
// peer's own User-Id dropped; a refusal is an *AuthError.
func TestExportedAuthenticate(t *testing.T) {
	ok := AuthenticatorFunc(func(context.Context, *ZAPRequest) (ZAPResponse, error) {
		return ZAPResponse{StatusCode: ZAPSuccess, UserID: "u", Metadata: frame.Metadata{{Name: "X-Role", Value: []byte("r")}}}, nil
	})
	uid, md, err := Authenticate(context.Background(), ok, &ZAPRequest{Mechanism: "GSSAPI"})
	if err != nil || uid != "u" || len(md) != 1 {
		t.Fatalf("%q %v %v", uid, md, err)
	}
	peer := frame.Metadata{{Name: frame.PropUserID, Value: []byte("forged")}, {Name: frame.PropSocketType, Value: []byte("DEALER")}}
	got := AuthenticatedMetadata(peer, uid, md)
	if v, _ := got.Lookup(frame.PropUserID); string(v) != "u" || len(got) != 3 {
		t.Fatalf("metadata %v", got)
	}
	var aerr *AuthError
	if _, _, err := Authenticate(context.Background(), nil, &ZAPRequest{}); !errors.As(err, &aerr) || aerr.StatusCode != ZAPAuthFailure {
		t.Fatalf("nil authenticator: %v", err)
	}
}
