package zmtp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

func plainAuth(ctx context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
	if len(req.Credentials) == 2 && string(req.Credentials[0]) == "admin" && string(req.Credentials[1]) == "secret" {
		return mechanism.ZAPResponse{StatusCode: 200, UserID: "admin"}, nil
	}
	return mechanism.ZAPResponse{StatusCode: 400, StatusText: "bad password"}, nil
}

func TestPlainSockets(t *testing.T) {
	srv := newSock(t, Rep, Options{Mechanism: mechanism.Plain{Server: true, Authenticator: mechanism.AuthenticatorFunc(plainAuth)}})
	ep := bindLocal(t, srv)
	cli := newSock(t, Req, Options{Mechanism: mechanism.Plain{Username: "admin", Password: "secret"}})
	cli.Connect(ep)
	send(t, cli, "hi")
	m, err := srv.Recv(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Metadata.Get("User-Id"); got != "admin" {
		t.Errorf("User-Id %q", got)
	}
	send(t, srv, "ok")
	recv(t, cli)

	// A wrong password: ERROR, an auth failure event, and no reconnect.
	bad := newSock(t, Req, Options{Mechanism: mechanism.Plain{Username: "admin", Password: "wrong"}, ReconnectInterval: DurationOf(10 * time.Millisecond)})
	events := bad.Monitor(EventHandshakeFailedAuth | EventConnectRetried)
	bad.Connect(ep)
	ev := nextEvent(t, events)
	var pe *mechanism.PeerError
	if ev.Type != EventHandshakeFailedAuth || !errors.As(ev.Err, &pe) {
		t.Fatalf("event %v", ev)
	}
	// The Connect gives up for good: its goroutine ends without a retry.
	waitEndpointDone(t, endpointOf(t, bad, ep))
	select {
	case ev := <-events:
		t.Fatalf("retried after ERROR: %v", ev)
	default:
	}
	var ee *EndpointError
	if err := bad.Err(); !errors.As(err, &ee) || ee.Retrying || !errors.As(err, &pe) {
		t.Errorf("Err = %v, want the endpoint given up after the peer's ERROR", err)
	}
}

func TestCurveSockets(t *testing.T) {
	spub, ssec, _ := mechanism.GenerateCurveKeyPair(nil)
	cpub, csec, _ := mechanism.GenerateCurveKeyPair(nil)
	auth := mechanism.AuthenticatorFunc(func(ctx context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
		if string(req.Credentials[0]) == string(cpub[:]) {
			return mechanism.ZAPResponse{StatusCode: 200, UserID: "client"}, nil
		}
		return mechanism.ZAPResponse{StatusCode: 400}, nil
	})
	srv := newSock(t, Pull, Options{Mechanism: mechanism.Curve{Server: true, PublicKey: spub, SecretKey: ssec, Authenticator: auth}, HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: waitTimeout})
	ep := bindLocal(t, srv)
	cli := newSock(t, Push, Options{Mechanism: mechanism.Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub}, HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: waitTimeout})
	cli.Connect(ep)
	big := make([]byte, 1<<20)
	big[12345] = 7
	if err := cli.Send(testCtx(t), [][]byte{[]byte("a"), {}, big}); err != nil {
		t.Fatal(err)
	}
	m, err := srv.Recv(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Frames) != 3 || string(m.Frames[0]) != "a" || len(m.Frames[1]) != 0 || len(m.Frames[2]) != 1<<20 || m.Frames[2][12345] != 7 {
		t.Fatalf("message garbled: %d frames", len(m.Frames))
	}
	if m.Metadata.Get("User-Id") != "client" {
		t.Errorf("User-Id %q", m.Metadata.Get("User-Id"))
	}
	// Heartbeats inside MESSAGE boxes keep the link up (HB-04).
	var p *pipe
	for _, q := range srv.snapshot() {
		p = q
	}
	c := p.conn.Load()
	if c == nil {
		t.Fatal("connection gone")
	}
	waitFor(t, "5 PINGs", func() bool {
		if err := c.Err(); err != nil {
			t.Fatalf("connection ended: %v (%+v)", err, c.Stats())
		}
		return c.Stats().PingsIn >= 5
	})
	send(t, cli, "still up")
	if got := recv(t, srv); got[0] != "still up" {
		t.Fatalf("got %q", got)
	}
}

// HC-09: a clear-text frame after the CURVE handshake is never delivered.
func TestCurvePlaintextAfterHandshake(t *testing.T) {
	spub, ssec, _ := mechanism.GenerateCurveKeyPair(nil)
	cpub, csec, _ := mechanism.GenerateCurveKeyPair(nil)
	x, y := tcpPair(t)
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := NewConn(context.Background(), y, ConnConfig{SocketType: "PULL", Mechanism: mechanism.Curve{Server: true, PublicKey: spub, SecretKey: ssec, AllowAnyClient: true}})
		ch <- res{c, err}
	}()
	// Our client: a Conn whose net.Conn we keep, to write clear text later.
	cli, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PUSH", Mechanism: mechanism.Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	srv := r.c
	defer srv.Close()
	x.Write(frame.AppendFrame(nil, 0, []byte("abc")))
	select {
	case <-srv.Done():
	case <-deadline(t):
		t.Fatal("clear text accepted")
	}
	if !errors.Is(srv.Err(), ErrPlaintextFrame) {
		t.Errorf("err = %v", srv.Err())
	}
	if m, err := srv.TryRecv(); err == nil {
		t.Errorf("delivered %q", m)
	}
}
