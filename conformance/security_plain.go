package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// plainServer makes libzmq's socket a PLAIN server in secDomain.
func plainServer(s *zmq.Socket) error {
	return errors.Join(s.SetPlainServer(1), s.SetZapDomain(secDomain))
}

// plainClient makes libzmq's socket a PLAIN client.
func plainClient(user, password string) func(*zmq.Socket) error {
	return func(s *zmq.Socket) error {
		return errors.Join(s.SetPlainUsername(user), s.SetPlainPassword(password))
	}
}

// plainUsers is the policy of the PLAIN scenarios' ZAP handlers.
func plainUsers() *zapPolicy {
	return &zapPolicy{users: map[string]string{secUser: secPassword}}
}

// exchangeFromLibzmq sends out from libzmq's socket to ours and back, and
// returns the message we received, with its metadata.
func (l *secLink) exchangeFromLibzmq(ctx context.Context, out, back [][]byte) (zmtp.Message, error) {
	if err := l.zs.Send(ctx, out); err != nil {
		return zmtp.Message{}, err
	}
	m, err := l.ours.Recv(ctx)
	if err != nil {
		return m, fmt.Errorf("our receive: %w", err)
	}
	if err := sameMessage(out, m.Frames); err != nil {
		return m, fmt.Errorf("received by us: %w", err)
	}
	if err := l.ours.Send(ctx, back); err != nil {
		return m, fmt.Errorf("our send: %w", err)
	}
	got, err := l.zs.Recv(ctx)
	if err != nil {
		return m, err
	}
	if err := sameMessage(back, got); err != nil {
		return m, fmt.Errorf("received by libzmq: %w", err)
	}
	return m, nil
}

// checkPlainRequests checks the requests a ZAP handler answered: at least
// one, each for the given user name and password, with the given status.
// Every request, to a ZAP handler or to a Go Authenticator, must carry the
// client's bare IP address, as RFC 27 wants it.
func checkPlainRequests(reqs []zapRecord, password string, status int) error {
	if len(reqs) == 0 {
		return errors.New("the ZAP handler got no request")
	}
	for _, r := range reqs {
		if err := checkZAPRequest(r, "PLAIN"); err != nil {
			return err
		}
		if len(r.Credentials) != 2 || string(r.Credentials[0]) != secUser || string(r.Credentials[1]) != password {
			return fmt.Errorf("PLAIN credentials %q, want %q and the password", r.Credentials[:min(len(r.Credentials), 1)], secUser)
		}
		if r.Status != status {
			return fmt.Errorf("ZAP status %d, want %d", r.Status, status)
		}
	}
	return nil
}

// plainAcceptedWeClient: our REQ, a PLAIN client with the right password,
// and libzmq's REP, a PLAIN server whose libzmq ZAP handler accepts it: a
// request and a reply pass, and libzmq reports the User-Id the handler
// granted.
func plainAcceptedWeClient(ctx context.Context, role string) (err error) {
	l, err := secStart(ctx, role, secSetup{
		zmqType: "REP", zmqPrep: plainServer, zmqZAP: plainUsers(),
		ourType: zmtp.Req,
		ourOpts: zmtp.Options{Mechanism: mechanism.Plain{Username: secUser, Password: secPassword}},
	})
	defer secFinish(&err, l)
	if err != nil {
		return err
	}
	md, _, err := l.exchangeMsgs(ctx, [][]byte{b("hello")}, [][]byte{b("world")})
	if err != nil {
		return err
	}
	if got := md["User-Id"]; got != secUserID {
		return fmt.Errorf("libzmq reports User-Id %q, want %q", got, secUserID)
	}
	if err := checkPlainRequests(l.zmqZAP.requests(), secPassword, 200); err != nil {
		return fmt.Errorf("libzmq's ZAP request: %w", err)
	}
	return l.handshakeDone(ctx)
}

// plainRejectedWeClient: our REQ, a PLAIN client with a wrong password, is
// refused by libzmq's ZAP handler. libzmq 4.3.4's PLAIN server sends its
// ERROR malformed, 5E 'RROR' 03 '400' ("\x05ERROR" in its C source reads
// as "\x5E" "RROR"; frame.LibzmqError), the bytes our PLAIN server sends
// (plainRejectedWeServer); we report it as a *mechanism.PeerError "400"
// with EventHandshakeFailedAuth. When we connect, we make no further attempt
// with the same credentials; nothing reaches libzmq's application.
func plainRejectedWeClient(ctx context.Context, role string) (err error) {
	l, err := secStart(ctx, role, secSetup{
		zmqType: "REP", zmqPrep: plainServer, zmqZAP: plainUsers(),
		ourType: zmtp.Req,
		ourOpts: zmtp.Options{Mechanism: mechanism.Plain{Username: secUser, Password: "wrong"}},
	})
	defer secFinish(&err, l)
	if err != nil {
		return err
	}
	if err := l.refusedByLibzmq(ctx, role, libzmqPlainError400); err != nil {
		return err
	}
	if err := checkPlainRequests(l.zmqZAP.requests(), "wrong", 400); err != nil {
		return fmt.Errorf("libzmq's ZAP request: %w", err)
	}
	return nil
}

// libzmqPlainError400 is the body of the ERROR "400" of libzmq 4.3.4's
// and 4.3.5's PLAIN servers, as captured by plainRejectedWeClient and
// nodePlainRefused: malformed, 0x5E 'RROR', where RFC 24 has 05 'ERROR'.
var libzmqPlainError400 = []byte("\x5eRROR\x03400")

// lastCommandIs reports whether the last handshake command in cmds is
// body.
func lastCommandIs(cmds [][]byte, body []byte) bool {
	return len(cmds) > 0 && bytes.Equal(cmds[len(cmds)-1], body)
}

// plainServerSetup returns the setup of libzmq's REQ, a PLAIN client with
// the given password, and our REP, a PLAIN server whose authenticator
// applies plainUsers: called directly, or through our ZAP handler at
// inproc://zeromq.zap.01 when zap is set.
func plainServerSetup(password string, zap bool) (secSetup, *recordingAuth) {
	auth := &recordingAuth{policy: plainUsers()}
	s := secSetup{zmqType: "REQ", zmqPrep: plainClient(secUser, password), ourType: zmtp.Rep}
	var a mechanism.Authenticator = auth
	if zap {
		s.zc = zmtp.NewContext()
		s.ourZAP = auth
		a = s.zc.ZAPAuthenticator()
	}
	s.ourOpts = zmtp.Options{Mechanism: mechanism.Plain{Server: true, Authenticator: a, Domain: secDomain}}
	return s, auth
}

// plainAcceptedWeServer: libzmq's REQ, a PLAIN client with the right
// password, and our REP, a PLAIN server that accepts it: a request and a
// reply pass, and the request carries the User-Id our authenticator
// granted.
func plainAcceptedWeServer(zap bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		s, auth := plainServerSetup(secPassword, zap)
		l, err := secStart(ctx, role, s)
		defer secFinish(&err, l)
		if err != nil {
			return err
		}
		if err := l.acceptedByUs(ctx); err != nil {
			return err
		}
		if err := checkPlainRequests(auth.requests(), secPassword, 200); err != nil {
			return err
		}
		return l.handshakeDone(ctx)
	}
}

// plainRejectedWeServer: libzmq's REQ, a PLAIN client with a wrong
// password, is refused by our authenticator: we send ERROR "400" as
// libzmq's PLAIN server does (malformed, 5E 'RROR') and report
// EventHandshakeFailedAuth with a *mechanism.AuthError; libzmq reports
// EVENT_HANDSHAKE_FAILED_AUTH with 400, as against a libzmq server;
// nothing reaches our application.
func plainRejectedWeServer(zap bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		s, auth := plainServerSetup("wrong", zap)
		l, err := secStart(ctx, role, s)
		defer secFinish(&err, l)
		if err != nil {
			return err
		}
		if err := l.refusedByUs(ctx, 400); err != nil {
			return err
		}
		return checkPlainRequests(auth.requests(), "wrong", 400)
	}
}

// plainNoAuthenticator: our PLAIN server without an Authenticator refuses
// even the right password (fail closed).
func plainNoAuthenticator(ctx context.Context, role string) (err error) {
	l, err := secStart(ctx, role, secSetup{
		zmqType: "REQ", zmqPrep: plainClient(secUser, secPassword),
		ourType: zmtp.Rep, ourOpts: zmtp.Options{Mechanism: mechanism.Plain{Server: true}},
	})
	defer secFinish(&err, l)
	if err != nil {
		return err
	}
	return l.refusedByUs(ctx, 400)
}

// refusedByUs checks that our server refused libzmq's client with an
// ERROR carrying status: our EventHandshakeFailedAuth with a
// *mechanism.AuthError, the ERROR on the wire, libzmq's
// EVENT_HANDSHAKE_FAILED_AUTH with the status code, and no message
// delivered, then or during secQuiet.
//
// Our PLAIN server writes the ERROR as libzmq's PLAIN server does,
// malformed (libzmqPlainError400's form): libzmq 4.3.4's PLAIN client
// compares commands with the same "\x05ERROR" C string that makes its
// server's ERROR malformed, so it takes a well-formed ERROR for an
// unexpected command (EVENT_HANDSHAKE_FAILED_PROTOCOL with
// ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND). NULL and CURVE send it
// well-formed, as libzmq does.
func (l *secLink) refusedByUs(ctx context.Context, status int) error {
	l.zmqTrySend("must not arrive")
	ev, err := l.ourHandshakeFailure(ctx)
	if err != nil {
		return err
	}
	if ev.Type != zmtp.EventHandshakeFailedAuth || !isAuthError(ev.Err, status) {
		return fmt.Errorf("our socket reports %v, want %v with a *mechanism.AuthError %d", ev, zmtp.EventHandshakeFailedAuth, status)
	}
	zev, err := l.zmqHandshakeFailure(ctx)
	if err != nil {
		return err
	}
	if zev.Type != zmq.EVENT_HANDSHAKE_FAILED_AUTH || zev.Value != status {
		return fmt.Errorf("libzmq reports %v, want EVENT_HANDSHAKE_FAILED_AUTH(%d)", zev, status)
	}
	want := fmt.Appendf(nil, "\x05ERROR\x03%d", status)
	if isPlain(l.zs) {
		want = fmt.Appendf(nil, "\x5eRROR\x03%d", status)
	}
	sentError := func() bool { return lastCommandIs(l.fromOurs().Commands, want) }
	if err := l.relayWait(ctx, "our ERROR", sentError); err != nil {
		return fmt.Errorf("%w: our handshake commands %q, want % X last", err, l.fromOurs().Commands, want)
	}
	if err := l.ev.quiet(ctx, secQuiet, zmtp.EventHandshakeSucceeded); err != nil {
		return err
	}
	return l.ourGotNothing()
}

// refusedByLibzmq checks that libzmq's server refused our client with
// ERROR "400" (errorBody, as libzmq's mechanism writes it): our socket
// reports a *mechanism.PeerError "400" with EventHandshakeFailedAuth, and
// libzmq EVENT_HANDSHAKE_FAILED_AUTH(400). When we connect, we make no
// further attempt; when libzmq connects, it decides whether to try again,
// and each attempt must fail in the same way. Nothing reaches libzmq's
// application.
func (l *secLink) refusedByLibzmq(ctx context.Context, role string, errorBody []byte) error {
	l.ours.TrySend([][]byte{b("must not arrive")}) // queued while connecting, if we connect
	ev, err := l.ourHandshakeFailure(ctx)
	if err != nil {
		return err
	}
	if ev.Type != zmtp.EventHandshakeFailedAuth || !isPeerError(ev.Err, "400") {
		return fmt.Errorf("our socket reports %v, want %v with a *mechanism.PeerError \"400\"", ev, zmtp.EventHandshakeFailedAuth)
	}
	zev, err := l.zmqHandshakeFailure(ctx)
	if err != nil {
		return err
	}
	if zev.Type != zmq.EVENT_HANDSHAKE_FAILED_AUTH || zev.Value != 400 {
		return fmt.Errorf("libzmq reports %v, want EVENT_HANDSHAKE_FAILED_AUTH(400)", zev)
	}
	sentError := func() bool { return lastCommandIs(l.fromLibzmq().Commands, errorBody) }
	if err := l.relayWait(ctx, "libzmq's ERROR", sentError); err != nil {
		return fmt.Errorf("%w: libzmq's handshake commands %q, want % X last", err, l.fromLibzmq().Commands, errorBody)
	}
	if role == WeDial {
		if err := l.noReconnect(ctx); err != nil {
			return err
		}
	} else if err := l.ev.quiet(ctx, secQuiet, zmtp.EventHandshakeSucceeded); err != nil {
		return err
	}
	return l.zmqGotNothing()
}

// acceptedByUs passes a request from libzmq's socket to ours and a reply
// back, and checks that the request carries the User-Id our
// authenticator granted.
func (l *secLink) acceptedByUs(ctx context.Context) error {
	m, err := l.exchangeFromLibzmq(ctx, [][]byte{b("hello")}, [][]byte{b("world")})
	if err != nil {
		return err
	}
	if got := m.Metadata.Get("User-Id"); got != secUserID {
		return fmt.Errorf("our message has User-Id %q, want %q", got, secUserID)
	}
	return nil
}

// isPlain reports whether libzmq's socket uses PLAIN.
func isPlain(s *libzmq.Socket) bool {
	m, err := s.Z.GetMechanism()
	return err == nil && m == zmq.PLAIN
}
