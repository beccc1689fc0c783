package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// The security scenarios pair one of our sockets (zmtp.Socket, not a bare
// Conn) with a libzmq socket that uses PLAIN or CURVE. A name ends with the
// security role of ours: "/we-client" (libzmq is the PLAIN or CURVE
// server) or "/we-server" (libzmq is the client); "/we-server-zap" means
// our server asks a ZAP handler of ours over inproc://zeromq.zap.01. The
// case's role still says who binds: WeDial (libzmq binds, our socket
// connects) or WeListen (our socket binds, libzmq connects).
//
// Every connection passes through a relay (see sniffRelay) that decodes
// the ZMTP frames going each way, to count connections and CURVE boxes and
// to catch anything sent in clear text.
var securityScenarios = []scenario{
	{"PLAIN-accepted/we-client", plainAcceptedWeClient},
	{"PLAIN-rejected/we-client", plainRejectedWeClient},
	{"PLAIN-accepted/we-server", plainAcceptedWeServer(false)},
	{"PLAIN-rejected/we-server", plainRejectedWeServer(false)},
	{"PLAIN-accepted/we-server-zap", plainAcceptedWeServer(true)},
	{"PLAIN-rejected/we-server-zap", plainRejectedWeServer(true)},
	{"PLAIN-no-authenticator/we-server", plainNoAuthenticator},
	{"NULL-ZAP-accepted/we-server", nullZAPAccepted},
	{"NULL-ZAP-rejected/we-server", nullZAPRejected},
	{"CURVE-accepted/we-client", curveAcceptedWeClient},
	{"CURVE-accepted/we-server", curveAcceptedWeServer},
	{"CURVE-wrong-server-key/we-client", curveWrongServerKey(false)},
	{"CURVE-wrong-server-key/we-server", curveWrongServerKey(true)},
	{"CURVE-unknown-client/we-client", curveUnknownClientWeClient},
	{"CURVE-unknown-client/we-server", curveUnknownClientWeServer(false)},
	{"CURVE-unknown-client/we-server-zap", curveUnknownClientWeServer(true)},
	{"CURVE-no-authenticator/we-server", curveNoAuthenticator},
	{"CURVE-allow-any-client/we-server", curveAllowAnyClient},
	{"CURVE-libzmq-without-zap/we-client", curveLibzmqWithoutZAP},
	{"CURVE-multipart-1MiB/we-client", curveLarge(false)},
	{"CURVE-multipart-1MiB/we-server", curveLarge(true)},
	{"CURVE-heartbeat-libzmq-pings/we-client", curveHeartbeat(false, false)},
	{"CURVE-heartbeat-libzmq-pings/we-server", curveHeartbeat(true, false)},
	{"CURVE-heartbeat-our-pings/we-client", curveHeartbeat(false, true)},
	{"CURVE-heartbeat-our-pings/we-server", curveHeartbeat(true, true)},
}

// securityCases returns the security scenarios in both roles.
func securityCases() []Case {
	var out []Case
	for _, s := range slices.Concat(securityScenarios, gssapiScenarios) {
		for _, role := range Roles {
			out = append(out, Case{
				Name: s.name,
				Role: role,
				Run:  func(ctx context.Context) error { return s.run(ctx, role) },
			})
		}
	}
	return out
}

// Settings shared by the security scenarios.
const (
	secDomain   = "conformance" // the ZAP domain of every server
	secUser     = "admin"
	secPassword = "secret"
	secUserID   = "admin-id" // the User-Id the ZAP handlers grant
	// secReconnect is our sockets' reconnect interval: short, so that a
	// reconnection that must not happen would happen many times within
	// secQuiet.
	secReconnect = 10 * time.Millisecond
	secQuiet     = 300 * time.Millisecond
)

// ourFailed and zmqFailed select the handshake failure events.
const (
	ourFailed = zmtp.EventHandshakeFailedNoDetail | zmtp.EventHandshakeFailedProtocol | zmtp.EventHandshakeFailedAuth
	zmqFailed = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)

// secSetup describes a link between one of our sockets and a libzmq
// socket.
type secSetup struct {
	zmqType string
	zmqPrep func(*zmq.Socket) error // security and other options of libzmq's socket
	// zmqZAP, when set, is served by a libzmq REP socket bound at
	// inproc://zeromq.zap.01 in the libzmq socket's context: libzmq's own
	// ZAP client asks it.
	zmqZAP *zapPolicy

	ourType zmtp.SocketType
	ourOpts zmtp.Options
	// zc and ourZAP: when ourZAP is set, zmtp.ServeZAP answers with it on a
	// REP socket of ours bound at zmtp.ZAPEndpoint in zc, the Context our
	// socket is made in (its mechanism then uses zc.ZAPAuthenticator()).
	zc     *zmtp.Context
	ourZAP mechanism.Authenticator
	// relayGSSAPI makes the relay decode GSSAPI handshakes.
	relayGSSAPI bool
}

// secLink is a running link. close releases everything, our side first.
type secLink struct {
	env     *libzmq.Env
	zs      *libzmq.Socket
	mon     *libzmq.Monitor
	zmqZAP  *zapServer
	stopZAP func() error // stops the libzmq ZAP handler's goroutine

	ours      *zmtp.Socket
	ev        *ourMonitor
	ourZAP    *zmtp.Socket // our ZAP handler's REP socket
	stopOurZ  func() error // stops zmtp.ServeZAP on it
	relay     *sniffRelay
	zmqIsDial bool // libzmq's connection is the relay's dialing side
}

func (l *secLink) close() error {
	var errs []error
	if l.ours != nil {
		// NoLinger: what is left queued is discarded on purpose.
		errs = append(errs, discardOK(l.ours.Close()))
	}
	if l.stopOurZ != nil {
		errs = append(errs, l.stopOurZ())
	}
	if l.ourZAP != nil {
		errs = append(errs, discardOK(l.ourZAP.Close()))
	}
	if l.relay != nil {
		l.relay.Close()
	}
	if l.stopZAP != nil {
		errs = append(errs, l.stopZAP())
	}
	errs = append(errs, l.env.Close())
	return errors.Join(errs...)
}

// secFinish joins a case's error with the error of releasing its link.
func secFinish(err *error, l *secLink) {
	if l == nil {
		return
	}
	if cerr := l.close(); cerr != nil {
		*err = errors.Join(*err, fmt.Errorf("cleanup: %w", cerr))
	}
}

// secStart builds the link of s in role: the libzmq socket (and its ZAP
// handler), our socket (and ours), a relay between them, then the bind
// and the connect. It returns a link to close even when it fails.
func secStart(ctx context.Context, role string, s secSetup) (l *secLink, err error) {
	env, err := libzmq.NewEnv()
	if err != nil {
		return nil, err
	}
	l = &secLink{env: env}
	if s.zmqZAP != nil {
		if err := l.startZMQZAP(ctx, s.zmqZAP); err != nil {
			return l, err
		}
	}
	if l.zs, err = env.Socket(s.zmqType); err != nil {
		return l, err
	}
	if s.zmqPrep != nil {
		if err := s.zmqPrep(l.zs.Z); err != nil {
			return l, fmt.Errorf("libzmq socket options: %w", err)
		}
	}
	if l.mon, err = l.zs.Monitor(zmq.EVENT_ALL); err != nil {
		return l, err
	}

	opts := s.ourOpts
	if opts.HandshakeTimeout == (zmtp.Duration{}) {
		opts.HandshakeTimeout = zmtp.DurationOf(5 * time.Second)
	}
	if opts.ReconnectInterval == (zmtp.Duration{}) {
		opts.ReconnectInterval = zmtp.DurationOf(secReconnect)
	}
	if opts.Linger == (zmtp.Duration{}) {
		opts.Linger = zmtp.NoLinger
	}
	if s.ourZAP != nil {
		if s.zc == nil {
			return l, errors.New("a ZAP handler of ours needs a Context")
		}
		if err := l.startOurZAP(ctx, s.zc, s.ourZAP); err != nil {
			return l, err
		}
	}
	if s.zc != nil {
		l.ours, err = s.zc.NewSocket(s.ourType, opts)
	} else {
		l.ours, err = zmtp.NewSocket(s.ourType, opts)
	}
	if err != nil {
		return l, err
	}
	l.ev = &ourMonitor{ch: l.ours.Monitor(zmtp.EventAll)}

	switch role {
	case WeDial:
		addr, err := l.zs.Bind()
		if err != nil {
			return l, err
		}
		if l.relay, err = newSniffRelay(addr); err != nil {
			return l, err
		}
		if s.relayGSSAPI {
			l.relay.SetGSSAPI()
		}
		if err := l.ours.Connect("tcp://" + l.relay.Addr()); err != nil {
			return l, err
		}
	case WeListen:
		if err := l.ours.Bind("tcp://127.0.0.1:*"); err != nil {
			return l, err
		}
		addr, ok := strings.CutPrefix(l.ours.LastEndpoint(), "tcp://")
		if !ok {
			return l, fmt.Errorf("unexpected endpoint %q", l.ours.LastEndpoint())
		}
		if l.relay, err = newSniffRelay(addr); err != nil {
			return l, err
		}
		if s.relayGSSAPI {
			l.relay.SetGSSAPI()
		}
		l.zmqIsDial = true
		if err := l.zs.Connect(l.relay.Addr()); err != nil {
			return l, err
		}
	default:
		return l, fmt.Errorf("unknown role %q", role)
	}
	return l, nil
}

// fromOurs and fromLibzmq return the relay's counts for what our socket
// and libzmq's sent.
func (l *secLink) fromOurs() relayCounts {
	if l.zmqIsDial {
		return l.relay.FromTarget()
	}
	return l.relay.FromDialer()
}

func (l *secLink) fromLibzmq() relayCounts {
	if l.zmqIsDial {
		return l.relay.FromDialer()
	}
	return l.relay.FromTarget()
}

// noClearText checks that, after the handshakes, every frame that crossed
// the relay either way was a CURVE MESSAGE box.
func (l *secLink) noClearText() error {
	for _, c := range []struct {
		who string
		rc  relayCounts
	}{{"we", l.fromOurs()}, {"libzmq", l.fromLibzmq()}} {
		if c.rc.Clear > 0 {
			return fmt.Errorf("%s sent %d frames in clear text after the CURVE handshake (commands %q)", c.who, c.rc.Clear, c.rc.Commands)
		}
	}
	return nil
}

// relayWait waits, for at most a second, until cond holds of what the
// relay has seen.
func (l *secLink) relayWait(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return poll(ctx, 5*time.Millisecond, what, cond)
}

// handshakeDone waits until both sides report a successful handshake.
func (l *secLink) handshakeDone(ctx context.Context) error {
	if _, err := l.ev.waitFor(ctx, zmtp.EventHandshakeSucceeded, ourFailed); err != nil {
		return fmt.Errorf("our socket: %w", err)
	}
	if _, err := l.mon.WaitFor(ctx, zmq.EVENT_HANDSHAKE_SUCCEEDED|zmqFailed); err != nil {
		return fmt.Errorf("libzmq: %w", err)
	}
	if n := l.mon.Count(zmqFailed); n > 0 {
		return fmt.Errorf("libzmq reported a handshake failure: events %v", l.mon.Seen())
	}
	return nil
}

// zmqHandshakeFailure waits for libzmq to report a failed handshake, and
// fails if it reports a successful one first.
func (l *secLink) zmqHandshakeFailure(ctx context.Context) (libzmq.Event, error) {
	ev, err := l.mon.WaitFor(ctx, zmqFailed|zmq.EVENT_HANDSHAKE_SUCCEEDED)
	if err != nil {
		return ev, fmt.Errorf("libzmq: %w", err)
	}
	if ev.Type == zmq.EVENT_HANDSHAKE_SUCCEEDED {
		return ev, fmt.Errorf("libzmq completed the handshake: events %v", l.mon.Seen())
	}
	return ev, nil
}

// ourHandshakeFailure waits for our socket to report a failed handshake,
// and fails if it reports a successful one first.
func (l *secLink) ourHandshakeFailure(ctx context.Context) (zmtp.Event, error) {
	ev, err := l.ev.waitFor(ctx, ourFailed, zmtp.EventHandshakeSucceeded)
	if err != nil {
		return ev, fmt.Errorf("our socket: %w", err)
	}
	return ev, nil
}

// zmqGotNothing checks that libzmq's socket has no message to deliver.
func (l *secLink) zmqGotNothing() error {
	for range 3 {
		if msg, err := l.zs.TryRecv(); err == nil {
			return fmt.Errorf("libzmq delivered %q", msg)
		} else if !libzmq.IsAgain(err) {
			return err
		}
	}
	return nil
}

// ourGotNothing checks that our socket has no message to deliver.
func (l *secLink) ourGotNothing() error {
	if m, err := l.ours.TryRecv(); err == nil {
		return fmt.Errorf("we delivered %q", m.Frames)
	}
	return nil
}

// zmqTrySend offers msg to libzmq's socket without waiting: it may have
// no connection to queue it on.
func (l *secLink) zmqTrySend(msg string) {
	l.zs.Z.SendBytes([]byte(msg), zmq.DONTWAIT)
}

// exchangeMsgs sends out from our socket to libzmq's and back from
// libzmq's to ours, and returns the metadata libzmq and we saw with them.
func (l *secLink) exchangeMsgs(ctx context.Context, out, back [][]byte) (theirs map[string]string, ours zmtp.Message, err error) {
	if err := l.ours.Send(ctx, out); err != nil {
		return nil, ours, fmt.Errorf("our send: %w", err)
	}
	got, md, err := l.zs.RecvWithMetadata(ctx, "User-Id")
	if err != nil {
		return nil, ours, err
	}
	if err := sameMessage(out, got); err != nil {
		return nil, ours, fmt.Errorf("received by libzmq: %w", err)
	}
	if err := l.zs.Send(ctx, back); err != nil {
		return nil, ours, err
	}
	if ours, err = l.ours.Recv(ctx); err != nil {
		return nil, ours, fmt.Errorf("our receive: %w", err)
	}
	if err := sameMessage(back, ours.Frames); err != nil {
		return nil, ours, fmt.Errorf("received by us: %w", err)
	}
	return md, ours, nil
}

// ourMonitor reads our socket's monitor channel from the case's goroutine.
type ourMonitor struct {
	ch   <-chan zmtp.Event
	seen []zmtp.Event
}

// waitFor returns the first event of one of the types in want; an event
// of a type in fail first is an error.
func (m *ourMonitor) waitFor(ctx context.Context, want, fail zmtp.EventType) (zmtp.Event, error) {
	for {
		select {
		case ev, ok := <-m.ch:
			if !ok {
				return zmtp.Event{}, fmt.Errorf("monitor closed waiting for %v (seen %v)", want, m.seen)
			}
			m.seen = append(m.seen, ev)
			if ev.Type&fail != 0 {
				return ev, fmt.Errorf("got %v waiting for %v (seen %v)", ev, want, m.seen)
			}
			if ev.Type&want != 0 {
				return ev, nil
			}
		case <-ctx.Done():
			return zmtp.Event{}, fmt.Errorf("waiting for %v (seen %v): %w", want, m.seen, ctx.Err())
		}
	}
}

// quiet reads events for d and fails at the first of a type in forbidden.
func (m *ourMonitor) quiet(ctx context.Context, d time.Duration, forbidden zmtp.EventType) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-m.ch:
			if !ok {
				return nil
			}
			m.seen = append(m.seen, ev)
			if ev.Type&forbidden != 0 {
				return fmt.Errorf("%v within %v (seen %v)", ev.Type, d, m.seen)
			}
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// poll reads the events already queued, without waiting.
func (m *ourMonitor) poll() {
	for {
		select {
		case ev, ok := <-m.ch:
			if !ok {
				return
			}
			m.seen = append(m.seen, ev)
		default:
			return
		}
	}
}

// count returns how many events read so far have one of the given types.
func (m *ourMonitor) count(types zmtp.EventType) int {
	n := 0
	for _, ev := range m.seen {
		if ev.Type&types != 0 {
			n++
		}
	}
	return n
}

// zapPolicy is what a ZAP handler (libzmq's or ours) accepts: PLAIN user
// names with their passwords, and CURVE client keys in Z85 (the form of
// pebbe/zmq4's AuthCurveAdd). An accepted client gets User-Id secUserID.
type zapPolicy struct {
	users      map[string]string
	keys       map[string]bool
	principals map[string]bool // GSSAPI client principals, "alice@REALM"
}

// zapRecord is a request a ZAP handler answered.
type zapRecord struct {
	Version, Domain, Address, Mechanism string
	Credentials                         [][]byte
	Status                              int
}

// decide answers a request for the given mechanism and credentials.
func (p *zapPolicy) decide(mech string, creds [][]byte) mechanism.ZAPResponse {
	ok := false
	switch mech {
	case "PLAIN":
		if len(creds) == 2 {
			pw, known := p.users[string(creds[0])]
			ok = known && pw == string(creds[1])
		}
	case "CURVE":
		ok = len(creds) == 1 && len(creds[0]) == 32 && p.keys[zmq.Z85encode(string(creds[0]))]
	case "GSSAPI":
		ok = len(creds) == 1 && p.principals[string(creds[0])]
	}
	if ok {
		return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, StatusText: "OK", UserID: secUserID}
	}
	return mechanism.ZAPResponse{StatusCode: mechanism.ZAPAuthFailure, StatusText: "NO ACCESS"}
}

// zapServer serves a zapPolicy on a libzmq REP socket and records the
// requests.
type zapServer struct {
	policy *zapPolicy
	sock   *libzmq.Socket
	mu     sync.Mutex
	reqs   []zapRecord
}

func (z *zapServer) requests() []zapRecord {
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Clone(z.reqs)
}

// startZMQZAP binds a libzmq REP socket at inproc://zeromq.zap.01 in the
// link's libzmq context and answers it from a goroutine until close.
func (l *secLink) startZMQZAP(ctx context.Context, p *zapPolicy) error {
	s, err := l.env.Socket("REP")
	if err != nil {
		return err
	}
	if err := s.Z.Bind(zmtp.ZAPEndpoint); err != nil {
		return fmt.Errorf("libzmq: bind %s: %w", zmtp.ZAPEndpoint, err)
	}
	l.zmqZAP = &zapServer{policy: p, sock: s}
	l.stopZAP = background(ctx, l.zmqZAP.serve)
	return nil
}

// serve answers requests until ctx ends. Only this goroutine uses the REP
// socket until then.
func (z *zapServer) serve(ctx context.Context) error {
	for {
		req, err := z.sock.TryRecv()
		if err != nil {
			if !libzmq.IsAgain(err) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		if len(req) < 6 {
			return fmt.Errorf("libzmq sent a ZAP request of %d frames", len(req))
		}
		rec := zapRecord{Version: string(req[0]), Domain: string(req[2]), Address: string(req[3]),
			Mechanism: string(req[5]), Credentials: req[6:]}
		resp := z.policy.decide(rec.Mechanism, rec.Credentials)
		rec.Status = resp.StatusCode
		z.mu.Lock()
		z.reqs = append(z.reqs, rec)
		z.mu.Unlock()
		reply := [][]byte{req[0], req[1], []byte(fmt.Sprint(resp.StatusCode)), []byte(resp.StatusText), []byte(resp.UserID), {}}
		if err := z.sock.Send(ctx, reply); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// recordingAuth is an Authenticator of ours that applies a zapPolicy and
// records the requests.
type recordingAuth struct {
	policy *zapPolicy
	mu     sync.Mutex
	reqs   []zapRecord
}

func (a *recordingAuth) Authenticate(_ context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
	resp := a.policy.decide(req.Mechanism, req.Credentials)
	a.mu.Lock()
	a.reqs = append(a.reqs, zapRecord{Version: "1.0", Domain: req.Domain, Address: req.Address,
		Mechanism: req.Mechanism, Credentials: req.Credentials, Status: resp.StatusCode})
	a.mu.Unlock()
	return resp, nil
}

func (a *recordingAuth) requests() []zapRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reqs)
}

// startOurZAP binds a REP socket of ours at zmtp.ZAPEndpoint in zc and
// serves it with zmtp.ServeZAP until close.
func (l *secLink) startOurZAP(ctx context.Context, zc *zmtp.Context, a mechanism.Authenticator) error {
	s, err := zc.NewSocket(zmtp.Rep, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		return err
	}
	l.ourZAP = s
	if err := s.Bind(zmtp.ZAPEndpoint); err != nil {
		return err
	}
	l.stopOurZ = background(ctx, func(ctx context.Context) error { return zmtp.ServeZAP(ctx, s, a) })
	return nil
}

// checkZAPRequest checks a request a ZAP handler received against RFC 27:
// version 1.0, our domain, the mechanism, and the origin's IP address
// ("an IPv4 dotted string, or an IPv6 canonical string representation").
func checkZAPRequest(r zapRecord, mech string) error {
	if r.Version != "1.0" || r.Domain != secDomain || r.Mechanism != mech {
		return fmt.Errorf("ZAP request version %q domain %q mechanism %q, want 1.0, %q, %s", r.Version, r.Domain, r.Mechanism, secDomain, mech)
	}
	if net.ParseIP(r.Address) == nil {
		return fmt.Errorf("ZAP request address %q is not an IP address (RFC 27)", r.Address)
	}
	return nil
}

// isPeerError reports whether err is a *mechanism.PeerError with the given
// reason.
func isPeerError(err error, reason string) bool {
	var pe *mechanism.PeerError
	return errors.As(err, &pe) && pe.Reason == reason
}

// isAuthError reports whether err is a *mechanism.AuthError with the given
// status code.
func isAuthError(err error, code int) bool {
	var ae *mechanism.AuthError
	return errors.As(err, &ae) && ae.StatusCode == code
}

// noReconnect checks, on a socket of ours that connects, that no further
// connection is attempted for secQuiet after a refusal, although the
// reconnect interval is secReconnect; the relay confirms that a single TCP
// connection was made.
func (l *secLink) noReconnect(ctx context.Context) error {
	if err := l.ev.quiet(ctx, secQuiet, zmtp.EventConnectRetried|zmtp.EventConnected|zmtp.EventConnectDelayed); err != nil {
		return fmt.Errorf("we tried again after the refusal: %w", err)
	}
	if n := l.relay.Accepted(); n != 1 {
		return fmt.Errorf("%d TCP connections were made, want 1", n)
	}
	return nil
}
