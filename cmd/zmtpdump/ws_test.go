package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/dump"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// wsEndpoint is where the ws scenarios bind: the proxy listens on the
// same kind of endpoint and relays the TCP connection, upgrade included.
const wsEndpoint = "ws://127.0.0.1:*/zmq"

// The ws scenarios: ZMTP over WebSocket (ZWS 2.0) between this module's
// sockets, relayed by the proxy.
func init() {
	scenarios["ws-reqrep"] = scenario{run: func(t *testing.T, ctx context.Context, r *recording) {
		rep, req, px := relayedWS(t, r, zmtp.Rep, zmtp.Req, zmtp.Options{}, zmtp.Options{})
		reqRepT(t, ctx, rep, req, px)
	}}
	scenarios["ws-multipart"] = scenario{run: func(t *testing.T, ctx context.Context, r *recording) {
		router, dealer, px := relayedWS(t, r, zmtp.Router, zmtp.Dealer, zmtp.Options{}, zmtp.Options{RoutingID: []byte("client-1")})
		big := bytes.Repeat([]byte("z"), 70000) // a 64-bit WebSocket length
		must(t, dealer.Send(ctx, [][]byte{[]byte("part one"), {}, []byte("part three"), big}))
		m, err := router.Recv(ctx)
		must(t, err)
		if string(m.Frames[0]) != "client-1" || len(m.Frames) != 5 {
			t.Fatalf("ROUTER got id %q, %d frames", m.Frames[0], len(m.Frames))
		}
		must(t, router.Send(ctx, [][]byte{m.Frames[0], []byte("reply"), []byte("in two parts")}))
		_, err = dealer.Recv(ctx)
		must(t, err)
		must(t, shutdown(ctx, dealer, router, px))
	}}
	scenarios["ws-plain"] = scenario{run: func(t *testing.T, ctx context.Context, r *recording) {
		auth := mechanism.AuthenticatorFunc(func(_ context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
			if len(req.Credentials) == 2 && string(req.Credentials[0]) == "admin" && string(req.Credentials[1]) == "secret" {
				return mechanism.ZAPResponse{StatusCode: 200, UserID: "admin"}, nil
			}
			return mechanism.ZAPResponse{StatusCode: 400, StatusText: "bad password"}, nil
		})
		pull, push, px := relayedWS(t, r, zmtp.Pull, zmtp.Push,
			zmtp.Options{Mechanism: mechanism.Plain{Server: true, Authenticator: auth}},
			zmtp.Options{Mechanism: mechanism.Plain{Username: "admin", Password: "secret"}})
		must(t, push.Send(ctx, [][]byte{[]byte("authenticated"), []byte("payload")}))
		_, err := pull.Recv(ctx)
		must(t, err)
		must(t, shutdown(ctx, push, pull, px))
	}}
	scenarios["ws-pubsub"] = scenario{run: func(t *testing.T, ctx context.Context, r *recording) {
		pub, sub, px := subscribedT(t, ctx, r, wsEndpoint)
		must(t, pub.Send(ctx, [][]byte{[]byte("weather.paris"), []byte("sunny")}))
		_, err := sub.Recv(ctx)
		must(t, err)
		must(t, sub.Unsubscribe([]byte("weather.")))
		m, err := pub.Recv(ctx)
		must(t, err)
		if string(m.Frames[0]) != "\x00weather." {
			t.Fatalf("XPUB got %q", m.Frames[0])
		}
		must(t, shutdown(ctx, sub, pub, px))
	}}
}

func relayedWS(t *testing.T, r *recording, server, client zmtp.SocketType, sopts, copts zmtp.Options) (srv, cli *zmtp.Socket, px *proxy) {
	t.Helper()
	srv, cli, px, err := relayedOn(wsEndpoint, r.out, dump.Options{}, r.sink, server, client, sopts, copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.Close()
		srv.Close()
		px.close()
	})
	return srv, cli, px
}

// recorded returns the events recorded so far.
func (r *recording) recorded() []dump.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dump.Event(nil), r.events...)
}

// TestWSCurve relays a CURVE connection over ws and checks what the
// decoder makes of it: the upgrade names ZWS2.0/CURVE, the handshake's
// commands show their boxes, and messages travel as MESSAGE commands.
func TestWSCurve(t *testing.T) {
	ctx := testContext(t)
	r := newRecording(t)
	spub, ssec, err := mechanism.GenerateCurveKeyPair(rand.Reader)
	must(t, err)
	cpub, csec, err := mechanism.GenerateCurveKeyPair(rand.Reader)
	must(t, err)
	pull, push, px := relayedWS(t, r, zmtp.Pull, zmtp.Push,
		zmtp.Options{Mechanism: mechanism.Curve{Server: true, PublicKey: spub, SecretKey: ssec, AllowAnyClient: true}},
		zmtp.Options{Mechanism: mechanism.Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub}})
	must(t, push.Send(ctx, [][]byte{[]byte("secret"), []byte("parts")}))
	_, err = pull.Recv(ctx)
	must(t, err)
	must(t, shutdown(ctx, push, pull, px))

	var names []string
	var ups []*dump.Upgrade
	for _, ev := range r.recorded() {
		switch ev.Kind {
		case dump.KindUpgrade:
			ups = append(ups, ev.Upgrade)
		case dump.KindCommand:
			names = append(names, ev.Command.Name)
			if ev.Command.Curve == nil {
				t.Errorf("%s without its CURVE description", ev.Command.Name)
			}
			if ev.Mechanism != "CURVE" {
				t.Errorf("%s: mechanism %q", ev.Command.Name, ev.Mechanism)
			}
		case dump.KindMessage, dump.KindError:
			t.Errorf("unexpected %s: %s", ev.Kind, dump.Summary(ev))
		}
	}
	if len(ups) != 2 || ups[0].Subprotocols[0] != "ZWS2.0/CURVE" || ups[1].Status != 101 || ups[1].Subprotocols[0] != "ZWS2.0/CURVE" || !ups[1].AcceptOK {
		t.Errorf("upgrade: %+v", ups)
	}
	want := "HELLO WELCOME INITIATE READY MESSAGE MESSAGE"
	if got := strings.Join(names, " "); !strings.HasPrefix(got, "HELLO") || len(names) != 6 {
		t.Errorf("commands %q, want %q in some interleaving", got, want)
	}
	st := r.out.conns[0].Stats()
	if st.Handshake != "complete" || st.Transport != "ws" || st.Subprotocol != "ZWS2.0/CURVE" || st.Path != "/zmq" {
		t.Errorf("stats %+v", st)
	}
}

// TestWSHeartbeat checks that WebSocket pings and pongs, the heartbeats
// of ZWS, are decoded: the client pings, the server answers.
func TestWSHeartbeat(t *testing.T) {
	ctx := testContext(t)
	r := newRecording(t)
	isOp := func(dir dump.Dir, op byte) func(dump.Event) bool {
		return func(ev dump.Event) bool {
			return ev.Kind == dump.KindWebSocket && ev.Dir == dir && ev.WebSocket.Opcode == op
		}
	}
	pings := r.await(2, isOp(dump.FromClient, 0x9))
	pongs := r.await(2, isOp(dump.FromServer, 0xA))
	pull, push, px := relayedWS(t, r, zmtp.Pull, zmtp.Push, zmtp.Options{},
		zmtp.Options{HeartbeatInterval: 10 * time.Millisecond, HeartbeatTimeout: testTimeout})
	wait(t, ctx, pings, "two pings")
	wait(t, ctx, pongs, "two pongs")
	must(t, shutdown(ctx, push, pull, px))
	for _, ev := range r.recorded() {
		if ev.Kind == dump.KindWebSocket {
			if s := dump.Summary(ev); !strings.HasPrefix(s, "WebSocket PING") && !strings.HasPrefix(s, "WebSocket PONG") {
				t.Errorf("summary %q", s)
			}
			if ev.WebSocket.Masked != (ev.Dir == dump.FromClient) {
				t.Errorf("%s: masked %v", dump.Summary(ev), ev.WebSocket.Masked)
			}
		}
		if ev.Kind == dump.KindError {
			t.Errorf("error: %s", ev.Err)
		}
	}
	if st := r.out.conns[0].Stats(); st.Dir[0].Control < 2 || st.Dir[1].Control < 2 {
		t.Errorf("control frames counted: %d and %d", st.Dir[0].Control, st.Dir[1].Control)
	}
}

// TestWSSCannotDecode relays a wss:// connection: the decoder reports
// once that it is TLS and cannot be decoded, and nothing else but the
// connection's opening and end.
func TestWSSCannotDecode(t *testing.T) {
	ctx := testContext(t)
	r := newRecording(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "zmtpdump test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	leaf, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)

	rep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}})
	must(t, err)
	defer rep.Close()
	must(t, rep.Bind("wss://127.0.0.1:*/secure"))
	hostport, _, _ := strings.Cut(strings.TrimPrefix(rep.LastEndpoint(), "wss://"), "/")
	px, err := newProxy("tcp://127.0.0.1:*", "tcp://"+hostport, r.out, dump.Options{}, r.sink)
	must(t, err)
	go px.serve()
	defer px.close()
	req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	must(t, err)
	defer req.Close()
	must(t, req.Connect("wss://"+px.ln.Addr().String()+"/secure"))
	must(t, req.Send(ctx, [][]byte{[]byte("hidden")}))
	_, err = rep.Recv(ctx)
	must(t, err)
	must(t, rep.Send(ctx, [][]byte{[]byte("also hidden")}))
	_, err = req.Recv(ctx)
	must(t, err)
	must(t, shutdown(ctx, req, rep, px))

	var tlsEvents int
	for _, ev := range r.recorded() {
		switch ev.Kind {
		case dump.KindTLS:
			tlsEvents++
			if dump.Summary(ev) != "TLS: cannot decode" || ev.Dir != dump.FromClient || !strings.Contains(ev.Hint, "ClientHello") {
				t.Errorf("%s (%s) from %s", dump.Summary(ev), ev.Hint, dump.DirName(ev.Dir))
			}
		case dump.KindOpen, dump.KindFin, dump.KindReset:
		default:
			t.Errorf("unexpected %s: %s", ev.Kind, dump.Summary(ev))
		}
	}
	if tlsEvents != 1 {
		t.Errorf("%d TLS events, want 1", tlsEvents)
	}
	if st := r.out.conns[0].Stats(); st.Transport != "tls" || st.Handshake != "TLS: cannot decode" {
		t.Errorf("stats %+v", st)
	}
}
