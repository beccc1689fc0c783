package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
	"github.com/zmtp-go/zmtp/zmtp/legacytest"
)

// The legacy scenarios play a ZMTP 1.0 or 2.0 peer (package legacytest,
// written from RFC 13 and RFC 15) against a libzmq 4.3.4 socket, then
// against our socket of the same type and options, and require both runs
// to succeed and the peer to have read the same octets from both: libzmq's
// downgraded greeting and identity frame, its frames in the old framing,
// its subscriptions as messages. The run against libzmq is also the
// cross-check of the emulation. WeDial: the peer listens and libzmq, then
// ours, connect; WeListen: they bind and the peer dials.
var legacyScenarios = []legacyScenario{
	{name: "legacy-1.0-REP", kind: legacytest.V1, sock: "REP", id: "server-id", talk: legacyReq},
	{name: "legacy-1.0-signature-REP", kind: legacytest.V1Signature, peerType: legacytest.Req, sock: "REP", id: "server-id", talk: legacyReq},
	{name: "legacy-2.0-REP", kind: legacytest.V2, peerType: legacytest.Req, sock: "REP", id: "server-id", talk: legacyReq},
	{name: "legacy-2.0-REQ", kind: legacytest.V2, peerType: legacytest.Rep, sock: "REQ", talk: legacyRep, serve: reqSide, finite: true},
	{name: "legacy-1.0-ROUTER", kind: legacytest.V1, peerID: "peer-1", sock: "ROUTER", talk: legacyDealer, serve: routerSide("peer-1")},
	{name: "legacy-2.0-ROUTER", kind: legacytest.V2, peerType: legacytest.Dealer, peerID: "peer-2", sock: "ROUTER", talk: legacyDealer, serve: routerSide("peer-2")},
	{name: "legacy-1.0-PUB", kind: legacytest.V1, sock: "PUB", talk: legacySub, serve: pubSide},
	{name: "legacy-2.0-PUB", kind: legacytest.V2, peerType: legacytest.Sub, sock: "PUB", talk: legacySubscriber, serve: pubSide},
	{name: "legacy-2.0-SUB", kind: legacytest.V2, peerType: legacytest.Pub, sock: "SUB", talk: legacyPub, serve: subSide, finite: true},
	{name: "legacy-2.0-refused-PLAIN", kind: legacytest.V2, peerType: legacytest.Req, sock: "REP", plain: true, talk: legacyRefused, refused: true},
	{name: "legacy-1.0-refused-PLAIN", kind: legacytest.V1, sock: "REP", plain: true, talk: legacyRefused, refused: true},
}

// legacyScenario is one legacy peer and the socket it talks to.
type legacyScenario struct {
	name     string
	kind     legacytest.Kind
	peerType byte   // the peer's RFC 15 socket-type octet
	peerID   string // the peer's identity
	sock     string // the socket type of libzmq's and ours
	id       string // their routing id
	plain    bool   // they are PLAIN servers
	// talk is the peer's side of the conversation, from its greeting on.
	talk func(p *legacytest.Peer) error
	// serve is the socket's side (nil: echo each request with "re: ").
	// It runs until the case ends, or, when finite, until it is done.
	serve  func(ctx context.Context, s legacySocket) error
	finite bool
	// refused: libzmq closes the connection, and may do so before its
	// signature has left (when the peer's first octets were in at once):
	// what it sent must then begin what ours sent.
	refused bool
}

// legacySocket is a libzmq socket or one of ours.
type legacySocket interface {
	send(ctx context.Context, msg [][]byte) error
	recv(ctx context.Context) ([][]byte, error)
}

func legacyCases() []Case {
	var out []Case
	for _, sc := range legacyScenarios {
		for _, role := range Roles {
			out = append(out, Case{Name: sc.name, Role: role, Run: func(ctx context.Context) error { return sc.run(ctx, role) }})
		}
	}
	return out
}

// run plays the peer against libzmq, then against ours, and compares.
func (sc legacyScenario) run(ctx context.Context, role string) error {
	theirs, err := sc.against(ctx, role, false)
	if err != nil {
		return fmt.Errorf("against libzmq: %w", err)
	}
	ours, err := sc.against(ctx, role, true)
	if err != nil {
		return fmt.Errorf("against ours: %w", err)
	}
	if sc.refused && bytes.HasPrefix(ours, theirs) {
		return nil
	}
	if !bytes.Equal(theirs, ours) {
		return fmt.Errorf("the %v peer read\n% X from libzmq and\n% X from ours", sc.kind, theirs, ours)
	}
	return nil
}

// against runs one conversation and returns the octets the peer read.
func (sc legacyScenario) against(ctx context.Context, role string, ours bool) (got []byte, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var s legacySocket
	var bind func() (string, error)
	var connect func(string) error
	var closeSock func() error
	if ours {
		o := zmtp.Options{Linger: zmtp.NoLinger, RoutingID: []byte(sc.id)}
		if sc.plain {
			o.Mechanism = mechanism.Plain{Server: true, Authenticator: mechanism.AuthenticatorFunc(
				func(context.Context, *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
					return mechanism.ZAPResponse{StatusCode: 200}, nil
				})}
		}
		zs, err := zmtp.NewSocket(zmtp.SocketType(sc.sock), o)
		if err != nil {
			return nil, err
		}
		if sc.sock == "SUB" {
			if err := zs.Subscribe([]byte("A")); err != nil {
				zs.Close()
				return nil, err
			}
		}
		s = oursLegacy{zs}
		bind = func() (string, error) {
			if err := zs.Bind("tcp://127.0.0.1:*"); err != nil {
				return "", err
			}
			return strings.TrimPrefix(zs.LastEndpoint(), "tcp://"), nil
		}
		connect = func(addr string) error { return zs.Connect("tcp://" + addr) }
		closeSock = func() error {
			zs.Close()
			return nil
		}
	} else {
		env, err := libzmq.NewEnv()
		if err != nil {
			return nil, err
		}
		zs, err := env.Socket(sc.sock)
		if err == nil && sc.id != "" {
			err = zs.Z.SetIdentity(sc.id)
		}
		if err == nil && sc.plain {
			err = zs.Z.SetPlainServer(1)
		}
		if err == nil && sc.sock == "SUB" {
			err = zs.Z.SetSubscribe("A")
		}
		if err != nil {
			return nil, errors.Join(err, env.Close())
		}
		s = theirsLegacy{zs}
		bind, connect, closeSock = zs.Bind, zs.Connect, env.Close
	}
	var wg sync.WaitGroup
	serveDone := make(chan error, 1) // the side's error, or nil once done
	defer func() {
		cancel()
		wg.Wait()
		err = errors.Join(err, closeSock())
		select {
		case serr := <-serveDone:
			err = errors.Join(err, serr)
		default:
		}
	}()
	serve := sc.serve
	if serve == nil {
		serve = echoSide
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := serve(ctx, s)
		if err != nil && ctx.Err() != nil {
			return // ended with the case
		}
		if err != nil {
			err = fmt.Errorf("%s socket: %w", sc.sock, err)
			cancel()
		}
		serveDone <- err
	}()
	var nc net.Conn
	if role == WeListen {
		addr, err := bind()
		if err != nil {
			return nil, err
		}
		nc, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		if err := connect(ln.Addr().String()); err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		nc, err = ln.Accept()
		stop()
		if err != nil {
			return nil, err
		}
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	p := &legacytest.Peer{Conn: nc, Kind: sc.kind, SocketType: sc.peerType, Identity: []byte(sc.peerID)}
	if err := sc.talk(p); err != nil {
		return p.Got.Bytes(), err
	}
	if sc.finite {
		select {
		case err := <-serveDone:
			return p.Got.Bytes(), err
		case <-ctx.Done():
			return p.Got.Bytes(), fmt.Errorf("%s socket: %w", sc.sock, ctx.Err())
		}
	}
	return p.Got.Bytes(), nil
}

// oursLegacy adapts a zmtp.Socket.
type oursLegacy struct{ s *zmtp.Socket }

func (o oursLegacy) send(ctx context.Context, msg [][]byte) error { return o.s.Send(ctx, msg) }
func (o oursLegacy) recv(ctx context.Context) ([][]byte, error) {
	m, err := o.s.Recv(ctx)
	return m.Frames, err
}

// theirsLegacy adapts a libzmq socket.
type theirsLegacy struct{ s *libzmq.Socket }

func (t theirsLegacy) send(ctx context.Context, msg [][]byte) error { return t.s.Send(ctx, msg) }
func (t theirsLegacy) recv(ctx context.Context) ([][]byte, error)   { return t.s.Recv(ctx) }

// The peers' conversations.

var bigBody = bytes.Repeat([]byte("z"), 300) // long-form sizes in both framings

// legacyReq: a REQ peer sends two requests (a short and a long one).
func legacyReq(p *legacytest.Peer) error {
	if _, err := p.Greet(); err != nil {
		return err
	}
	for _, req := range [][]byte{[]byte("hello"), bigBody} {
		if err := p.Send(nil, req); err != nil {
			return err
		}
		m, err := p.Recv()
		if err != nil {
			return err
		}
		if len(m) != 2 || len(m[0]) != 0 || !bytes.Equal(m[1], append([]byte("re: "), req...)) {
			return fmt.Errorf("reply %q", m)
		}
	}
	return nil
}

// legacyRep: a REP peer answers two requests.
func legacyRep(p *legacytest.Peer) error {
	if _, err := p.Greet(); err != nil {
		return err
	}
	for range 2 {
		m, err := p.Recv()
		if err != nil {
			return err
		}
		if len(m) != 2 || len(m[0]) != 0 {
			return fmt.Errorf("request %q", m)
		}
		if err := p.Send(nil, append([]byte("re: "), m[1]...)); err != nil {
			return err
		}
	}
	return nil
}

// legacyDealer: a DEALER peer with an identity sends two messages.
func legacyDealer(p *legacytest.Peer) error {
	if _, err := p.Greet(); err != nil {
		return err
	}
	for _, req := range [][]byte{[]byte("hello"), bigBody} {
		if err := p.Send(req); err != nil {
			return err
		}
		m, err := p.Recv()
		if err != nil {
			return err
		}
		if len(m) != 1 || !bytes.Equal(m[0], append([]byte("re: "), req...)) {
			return fmt.Errorf("reply %q", m)
		}
	}
	return nil
}

// legacySub: a ZMTP 1.0 subscriber sends nothing and gets everything.
func legacySub(p *legacytest.Peer) error {
	if _, err := p.Greet(); err != nil {
		return err
	}
	return expectPublished(p)
}

// legacySubscriber: a ZMTP 2.0 subscriber sends a subscription message.
func legacySubscriber(p *legacytest.Peer) error {
	if _, err := p.Greet(); err != nil {
		return err
	}
	if err := p.Send([]byte("\x01weather")); err != nil {
		return err
	}
	return expectPublished(p)
}

func expectPublished(p *legacytest.Peer) error {
	m, err := p.Recv()
	if err != nil {
		return err
	}
	if len(m) != 2 || string(m[0]) != "weather" || string(m[1]) != "sunny" {
		return fmt.Errorf("published %q", m)
	}
	return nil
}

// legacyPub: a ZMTP 2.0 publisher reads the subscription message and
// publishes.
func legacyPub(p *legacytest.Peer) error {
	if _, err := p.Greet(); err != nil {
		return err
	}
	m, err := p.Recv()
	if err != nil {
		return err
	}
	if len(m) != 1 || string(m[0]) != "\x01A" {
		return fmt.Errorf("subscription %q, want the message 01 'A'", m)
	}
	for _, msg := range []string{"B1", "A1"} {
		if err := p.Send([]byte(msg)); err != nil {
			return err
		}
	}
	return nil // the subscriber checks what it gets (subSide)
}

// legacyRefused: the peer is refused before its identity frame is read.
func legacyRefused(p *legacytest.Peer) error {
	_, err := p.Greet()
	if err == nil {
		_, err = p.Recv() // to a 1.0 peer a signature is a whole identity
	}
	if err == nil {
		return errors.New("a PLAIN server talked to a legacy peer")
	}
	return nil
}

// The sockets' sides.

// echoSide answers each request with "re: " and the request.
func echoSide(ctx context.Context, s legacySocket) error {
	for {
		m, err := s.recv(ctx)
		if err != nil {
			return err
		}
		last := len(m) - 1
		m[last] = append([]byte("re: "), m[last]...)
		if err := s.send(ctx, m); err != nil {
			return err
		}
	}
}

// routerSide echoes to the peer's routing id, which must be id.
func routerSide(id string) func(ctx context.Context, s legacySocket) error {
	return func(ctx context.Context, s legacySocket) error {
		for {
			m, err := s.recv(ctx)
			if err != nil {
				return err
			}
			if len(m) != 2 || string(m[0]) != id {
				return fmt.Errorf("ROUTER got %q, want the routing id %q first", m, id)
			}
			if err := s.send(ctx, [][]byte{m[0], append([]byte("re: "), m[1]...)}); err != nil {
				return err
			}
		}
	}
}

// reqSide sends two requests and checks the replies.
func reqSide(ctx context.Context, s legacySocket) error {
	for _, req := range [][]byte{[]byte("hello"), bigBody} {
		if err := s.send(ctx, [][]byte{req}); err != nil {
			return err
		}
		m, err := s.recv(ctx)
		if err != nil {
			return err
		}
		if len(m) != 1 || !bytes.Equal(m[0], append([]byte("re: "), req...)) {
			return fmt.Errorf("REQ got %q", m)
		}
	}
	return nil
}

// pubSide publishes until the case ends: a PUB drops what it sends
// before the peer's subscription arrives.
func pubSide(ctx context.Context, s legacySocket) error {
	for ctx.Err() == nil {
		if err := s.send(ctx, [][]byte{[]byte("weather"), []byte("sunny")}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// subSide expects "A1" only.
func subSide(ctx context.Context, s legacySocket) error {
	m, err := s.recv(ctx)
	if err != nil {
		return err
	}
	if len(m) != 1 || string(m[0]) != "A1" {
		return fmt.Errorf("SUB got %q, want A1", m)
	}
	return nil
}
