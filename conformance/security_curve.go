package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/z85"
	"github.com/zmtp-go/zmtp/zmtp"
)

// curvePair is a CURVE key pair in both forms.
type curvePair struct {
	pub, sec       [32]byte
	pubZ85, secZ85 string
}

// zmqCurvePair makes a key pair with libzmq (zmq_curve_keypair), for
// libzmq's side; we read its Z85 text with mechanism.ParseCurveKey.
func zmqCurvePair() (curvePair, error) {
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		return curvePair{}, fmt.Errorf("libzmq: curve keypair: %w", err)
	}
	p := curvePair{pubZ85: pub, secZ85: sec}
	if p.pub, err = mechanism.ParseCurveKey([]byte(pub)); err != nil {
		return p, err
	}
	if p.sec, err = mechanism.ParseCurveKey([]byte(sec)); err != nil {
		return p, err
	}
	if mechanism.CurvePublicKey(p.sec) != p.pub {
		return p, errors.New("libzmq's public key does not match its secret key as we compute it")
	}
	return p, nil
}

// ourCurvePair makes a key pair with mechanism.GenerateCurveKeyPair, for
// our side; libzmq gets its Z85 text.
func ourCurvePair() (curvePair, error) {
	pub, sec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		return curvePair{}, err
	}
	p := curvePair{pub: pub, sec: sec}
	if p.pubZ85, err = z85.EncodeToString(pub[:]); err != nil {
		return p, err
	}
	if p.secZ85, err = z85.EncodeToString(sec[:]); err != nil {
		return p, err
	}
	return p, nil
}

// curveServer makes libzmq's socket a CURVE server with key pair k in
// secDomain.
func curveServer(k curvePair) func(*zmq.Socket) error {
	return func(s *zmq.Socket) error {
		return errors.Join(s.SetCurveServer(1), s.SetCurveSecretkey(k.secZ85), s.SetZapDomain(secDomain))
	}
}

// curveClient makes libzmq's socket a CURVE client with key pair k that
// expects the server key serverZ85.
func curveClient(k curvePair, serverZ85 string) func(*zmq.Socket) error {
	return func(s *zmq.Socket) error {
		return errors.Join(s.SetCurveServerkey(serverZ85), s.SetCurvePublickey(k.pubZ85), s.SetCurveSecretkey(k.secZ85))
	}
}

// keyPolicy is a ZAP policy that accepts the one CURVE key k.
func keyPolicy(k curvePair) *zapPolicy {
	return &zapPolicy{keys: map[string]bool{k.pubZ85: true}}
}

// checkCurveRequests checks the requests a ZAP handler answered: at least
// one, each for client key key, with the given status.
func checkCurveRequests(reqs []zapRecord, key [32]byte, status int, rfcAddress bool) error {
	if len(reqs) == 0 {
		return errors.New("the ZAP handler got no request")
	}
	for _, r := range reqs {
		if rfcAddress {
			if err := checkZAPRequest(r, "CURVE"); err != nil {
				return err
			}
		} else if r.Domain != secDomain || r.Mechanism != "CURVE" {
			return fmt.Errorf("authenticator request domain %q mechanism %q", r.Domain, r.Mechanism)
		}
		if len(r.Credentials) != 1 || !bytes.Equal(r.Credentials[0], key[:]) {
			return fmt.Errorf("CURVE credentials are not the client's public key: %d frames", len(r.Credentials))
		}
		if r.Status != status {
			return fmt.Errorf("ZAP status %d, want %d", r.Status, status)
		}
	}
	return nil
}

// curveAccepted is a setup in which the CURVE handshake succeeds between
// PAIR sockets: our client and libzmq's server, whose libzmq ZAP handler
// knows our key, or libzmq's client and our server, whose Authenticator
// knows libzmq's key. Each side's keys are made by its own library.
type curveAccepted struct {
	setup     secSetup
	auth      *recordingAuth // our server's authenticator
	ourKeys   curvePair
	theirKeys curvePair
}

func newCurveAccepted(weServer bool) (*curveAccepted, error) {
	c := &curveAccepted{}
	var err error
	if c.ourKeys, err = ourCurvePair(); err != nil {
		return nil, err
	}
	if c.theirKeys, err = zmqCurvePair(); err != nil {
		return nil, err
	}
	c.setup = secSetup{zmqType: "PAIR", ourType: zmtp.Pair}
	if weServer {
		c.auth = &recordingAuth{policy: keyPolicy(c.theirKeys)}
		c.setup.zmqPrep = curveClient(c.theirKeys, c.ourKeys.pubZ85)
		c.setup.ourOpts.Mechanism = mechanism.Curve{Server: true, PublicKey: c.ourKeys.pub, SecretKey: c.ourKeys.sec,
			Authenticator: c.auth, Domain: secDomain}
	} else {
		c.setup.zmqPrep = curveServer(c.theirKeys)
		c.setup.zmqZAP = keyPolicy(c.ourKeys)
		c.setup.ourOpts.Mechanism = mechanism.Curve{PublicKey: c.ourKeys.pub, SecretKey: c.ourKeys.sec, ServerKey: c.theirKeys.pub}
	}
	return c, nil
}

// checkAuth checks the requests the server's ZAP handler or authenticator
// answered, and the User-Id granted: libzmq's (md) or ours (m).
func (c *curveAccepted) checkAuth(l *secLink, md map[string]string, m zmtp.Message) error {
	if c.auth != nil {
		if err := checkCurveRequests(c.auth.requests(), c.theirKeys.pub, 200, false); err != nil {
			return err
		}
		if got := m.Metadata.Get("User-Id"); got != secUserID {
			return fmt.Errorf("our message has User-Id %q, want %q", got, secUserID)
		}
		return nil
	}
	if err := checkCurveRequests(l.zmqZAP.requests(), c.ourKeys.pub, 200, true); err != nil {
		return fmt.Errorf("libzmq's ZAP request: %w", err)
	}
	if got := md["User-Id"]; got != secUserID {
		return fmt.Errorf("libzmq reports User-Id %q, want %q", got, secUserID)
	}
	return nil
}

// boxesBothWays checks that at least n CURVE boxes went each way and
// nothing in clear text.
func (l *secLink) boxesBothWays(ctx context.Context, n int) error {
	// The relay counts a frame once it has passed it on: the peer may have
	// it a moment before.
	err := l.relayWait(ctx, "CURVE boxes", func() bool {
		return l.fromOurs().Boxes >= n && l.fromLibzmq().Boxes >= n
	})
	if err != nil {
		return fmt.Errorf("%w: %d from us, %d from libzmq, want at least %d each", err, l.fromOurs().Boxes, l.fromLibzmq().Boxes, n)
	}
	return l.noClearText()
}

// curveCase is a CURVE scenario between PAIR sockets: the setup of
// newCurveAccepted(weServer), changed by adjust when it is not nil, then
// check on the started link.
func curveCase(weServer bool, adjust func(*curveAccepted) error,
	check func(ctx context.Context, role string, c *curveAccepted, l *secLink) error) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		c, err := newCurveAccepted(weServer)
		if err != nil {
			return err
		}
		if adjust != nil {
			if err := adjust(c); err != nil {
				return err
			}
		}
		l, err := secStart(ctx, role, c.setup)
		defer secFinish(&err, l)
		if err != nil {
			return err
		}
		return check(ctx, role, c, l)
	}
}

// changeOurCurve applies change to our side's CURVE mechanism.
func (c *curveAccepted) changeOurCurve(change func(*mechanism.Curve)) {
	cm := c.setup.ourOpts.Mechanism.(mechanism.Curve)
	change(&cm)
	c.setup.ourOpts.Mechanism = cm
}

func curveAcceptedRun(weServer bool) func(context.Context, string) error {
	return curveCase(weServer, nil, func(ctx context.Context, _ string, c *curveAccepted, l *secLink) error {
		md, m, err := l.exchangeMsgs(ctx, [][]byte{b("hello"), b("over"), b("CURVE")}, [][]byte{b("world")})
		if err != nil {
			return err
		}
		if err := c.checkAuth(l, md, m); err != nil {
			return err
		}
		if err := l.handshakeDone(ctx); err != nil {
			return err
		}
		return l.boxesBothWays(ctx, 1)
	})
}

// curveAcceptedWeClient: our CURVE client with libzmq's server key and a
// key libzmq's ZAP handler knows; messages pass both ways, encrypted, and
// libzmq reports the granted User-Id.
var curveAcceptedWeClient = curveAcceptedRun(false)

// curveAcceptedWeServer: libzmq's CURVE client with our server key and a
// key our Authenticator knows; messages pass both ways, encrypted, and
// ours carry the granted User-Id.
var curveAcceptedWeServer = curveAcceptedRun(true)

// curveWrongServerKey: the client expects another server key, so its
// HELLO box does not open for the server, which drops the connection
// without WELCOME, answers no command and asks no ZAP question (or
// authenticator); nothing is delivered. When we are the client, libzmq's
// server reports a protocol error and we a failed handshake. When we are
// the server, we report EventHandshakeFailedProtocol with ErrCurveBox and
// libzmq sees the connection closed during the handshake.
func curveWrongServerKey(weServer bool) func(context.Context, string) error {
	adjust := func(c *curveAccepted) error {
		if weServer {
			other, err := ourCurvePair()
			if err != nil {
				return err
			}
			c.setup.zmqPrep = curveClient(c.theirKeys, other.pubZ85)
			return nil
		}
		other, err := zmqCurvePair()
		if err != nil {
			return err
		}
		c.changeOurCurve(func(cm *mechanism.Curve) { cm.ServerKey = other.pub })
		return nil
	}
	return curveCase(weServer, adjust, func(ctx context.Context, _ string, c *curveAccepted, l *secLink) error {
		// The server's side: who it is, what it sent, what it asked and
		// whether it delivered anything.
		server := struct {
			who, it  string
			sent     func() relayCounts
			asked    func() int
			received func() error
		}{"libzmq", "it", l.fromLibzmq, func() int { return len(l.zmqZAP.requests()) }, l.zmqGotNothing}
		if weServer {
			l.zmqTrySend("must not arrive")
			ev, err := l.ourHandshakeFailure(ctx)
			if err != nil {
				return err
			}
			if ev.Type != zmtp.EventHandshakeFailedProtocol || !errors.Is(ev.Err, mechanism.ErrCurveBox) {
				return fmt.Errorf("our socket reports %v, want %v with mechanism.ErrCurveBox", ev, zmtp.EventHandshakeFailedProtocol)
			}
			if _, err := l.mon.WaitFor(ctx, zmq.EVENT_DISCONNECTED|zmqFailed|zmq.EVENT_HANDSHAKE_SUCCEEDED); err != nil {
				return err
			}
			if n := l.mon.Count(zmq.EVENT_HANDSHAKE_SUCCEEDED); n > 0 {
				return fmt.Errorf("libzmq completed the handshake: events %v", l.mon.Seen())
			}
			server.who, server.it, server.sent = "we", "we", l.fromOurs
			server.asked = func() int { return len(c.auth.requests()) }
			server.received = l.ourGotNothing
		} else {
			l.ours.TrySend([][]byte{b("must not arrive")})
			if _, err := l.ourHandshakeFailure(ctx); err != nil {
				return err
			}
			zev, err := l.zmqHandshakeFailure(ctx)
			if err != nil {
				return err
			}
			if zev.Type != zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL {
				return fmt.Errorf("libzmq reports %v, want EVENT_HANDSHAKE_FAILED_PROTOCOL", zev)
			}
		}
		if err := l.ev.quiet(ctx, secQuiet, zmtp.EventHandshakeSucceeded); err != nil {
			return err
		}
		if cmds := server.sent().Commands; len(cmds) > 0 {
			return fmt.Errorf("%s answered a HELLO %s could not open: %q", server.who, server.it, cmds)
		}
		if n := server.asked(); n > 0 {
			return fmt.Errorf("%s asked for authentication %d times", server.who, n)
		}
		if err := l.boxesNone(); err != nil {
			return err
		}
		return server.received()
	})
}

// boxesNone checks that no CURVE box and nothing in clear text crossed.
func (l *secLink) boxesNone() error {
	if err := l.noClearText(); err != nil {
		return err
	}
	if o, t := l.fromOurs().Boxes, l.fromLibzmq().Boxes; o+t > 0 {
		return fmt.Errorf("CURVE boxes crossed: %d from us, %d from libzmq", o, t)
	}
	return nil
}

// curveUnknownClientWeClient: libzmq's ZAP handler knows another client
// key only (as pebbe/zmq4's AuthCurveAdd of another key would): libzmq's
// server sends ERROR "400", well-formed; we report a *mechanism.PeerError
// with EventHandshakeFailedAuth and, when we connect, do not try again.
var curveUnknownClientWeClient = curveCase(false, func(c *curveAccepted) error {
	other, err := zmqCurvePair()
	if err != nil {
		return err
	}
	c.setup.zmqZAP = keyPolicy(other)
	return nil
}, func(ctx context.Context, role string, c *curveAccepted, l *secLink) error {
	if err := l.refusedByLibzmq(ctx, role, []byte("\x05ERROR\x03400")); err != nil {
		return err
	}
	if err := checkCurveRequests(l.zmqZAP.requests(), c.ourKeys.pub, 400, true); err != nil {
		return fmt.Errorf("libzmq's ZAP request: %w", err)
	}
	return nil
})

// curveUnknownClientWeServer: our authenticator (called directly, or our
// ZAP handler when zap is set) knows another client key only: we send
// ERROR "400", and libzmq's client reports EVENT_HANDSHAKE_FAILED_AUTH.
func curveUnknownClientWeServer(zap bool) func(context.Context, string) error {
	return curveCase(true, func(c *curveAccepted) error {
		other, err := zmqCurvePair()
		if err != nil {
			return err
		}
		c.auth = &recordingAuth{policy: keyPolicy(other)}
		var a mechanism.Authenticator = c.auth
		if zap {
			c.setup.zc = zmtp.NewContext()
			c.setup.ourZAP = c.auth
			a = c.setup.zc.ZAPAuthenticator()
		}
		c.changeOurCurve(func(cm *mechanism.Curve) { cm.Authenticator = a })
		return nil
	}, func(ctx context.Context, _ string, c *curveAccepted, l *secLink) error {
		if err := l.refusedByUs(ctx, 400); err != nil {
			return err
		}
		return checkCurveRequests(c.auth.requests(), c.theirKeys.pub, 400, zap)
	})
}

// curveNoAuthenticator: our CURVE server with neither an Authenticator nor
// AllowAnyClient refuses every client (fail closed), with ERROR "400".
var curveNoAuthenticator = curveCase(true, func(c *curveAccepted) error {
	c.setup.ourOpts.Mechanism = mechanism.Curve{Server: true, SecretKey: c.ourKeys.sec}
	return nil
}, func(ctx context.Context, _ string, _ *curveAccepted, l *secLink) error {
	return l.refusedByUs(ctx, 400)
})

// curveAllowAnyClient: with AllowAnyClient and no Authenticator, our CURVE
// server accepts any client key (encryption without client
// authentication); no User-Id is granted.
var curveAllowAnyClient = curveCase(true, func(c *curveAccepted) error {
	c.setup.ourOpts.Mechanism = mechanism.Curve{Server: true, SecretKey: c.ourKeys.sec, AllowAnyClient: true}
	return nil
}, func(ctx context.Context, _ string, _ *curveAccepted, l *secLink) error {
	_, m, err := l.exchangeMsgs(ctx, [][]byte{b("hello")}, [][]byte{b("world")})
	if err != nil {
		return err
	}
	if _, ok := m.Metadata.Lookup("User-Id"); ok {
		return fmt.Errorf("User-Id %q granted without authentication", m.Metadata.Get("User-Id"))
	}
	return l.boxesBothWays(ctx, 1)
})

// curveLibzmqWithoutZAP: for contrast, libzmq's CURVE server without a ZAP
// handler accepts any client key: our client gets through.
var curveLibzmqWithoutZAP = curveCase(false, func(c *curveAccepted) error {
	c.setup.zmqZAP = nil
	return nil
}, func(ctx context.Context, _ string, _ *curveAccepted, l *secLink) error {
	if _, _, err := l.exchangeMsgs(ctx, [][]byte{b("hello")}, [][]byte{b("world")}); err != nil {
		return err
	}
	return l.boxesBothWays(ctx, 1)
})

// largeMsgs are the messages of curveLarge: multipart with empty and
// 1 MiB frames, a single 1 MiB frame, and many small frames.
func largeMsgs(seed byte) [][][]byte {
	small := make([][]byte, 20)
	for i := range small {
		small[i] = pattern(i, seed+byte(i))
	}
	return [][][]byte{
		{b("head"), {}, pattern(1<<20, seed), b("tail")},
		{pattern(1<<20, seed+1)},
		small,
	}
}

// curveLarge: multipart and 1 MiB messages both ways over CURVE, every
// frame in a box.
func curveLarge(weServer bool) func(context.Context, string) error {
	return curveCase(weServer, nil, func(ctx context.Context, _ string, _ *curveAccepted, l *secLink) error {
		frames, err := l.exchangeLarge(ctx)
		if err != nil {
			return err
		}
		return l.boxesBothWays(ctx, frames)
	})
}

// Heartbeat settings of the CURVE heartbeat scenarios. The timeouts are
// far above the intervals: these scenarios check that PINGs and PONGs
// flow encrypted, not how soon a silent peer is dropped (the heartbeat
// cases do), so a loaded machine that delays an answer does not end the
// link.
const (
	curveZmqIvl     = 100 * time.Millisecond
	curveZmqTimeout = 5 * time.Second
	curveOurIvl     = 50 * time.Millisecond
	curveOurTimeout = 5 * time.Second
	curveIdlePings  = 5 // PINGs awaited while the link idles
)

// curveHeartbeat: one side PINGs (libzmq with ZMQ_HEARTBEAT_IVL, or we with
// HeartbeatInterval); the other only answers. While the link idles, boxes
// go from the side that PINGs no faster than the interval allows, and
// as many come back: the PINGs and PONGs travel in MESSAGE boxes, none in
// clear text. The link stays up and a message still passes after.
func curveHeartbeat(weServer, ourPings bool) func(context.Context, string) error {
	return curveCase(weServer, func(c *curveAccepted) error {
		heartbeatSetup(&c.setup, ourPings)
		return nil
	}, func(ctx context.Context, _ string, _ *curveAccepted, l *secLink) error {
		return l.heartbeatsKeepUp(ctx, ourPings, l.noClearText)
	})
}

// heartbeatIvl is the PING interval of the side that PINGs, ours if
// ourPings.
func heartbeatIvl(ourPings bool) time.Duration {
	if ourPings {
		return curveOurIvl
	}
	return curveZmqIvl
}

// heartbeatSetup makes one side of s PING every heartbeatIvl(ourPings),
// ours if ourPings.
func heartbeatSetup(s *secSetup, ourPings bool) {
	if ourPings {
		s.ourOpts.HeartbeatInterval = curveOurIvl
		s.ourOpts.HeartbeatTimeout = curveOurTimeout
		return
	}
	prep := s.zmqPrep
	s.zmqPrep = func(z *zmq.Socket) error {
		return errors.Join(prep(z), z.SetHeartbeatIvl(curveZmqIvl), z.SetHeartbeatTimeout(curveZmqTimeout))
	}
}

// heartbeatsKeepUp passes a message, lets the link idle for heartbeats from
// the side that PINGs (ours if ourPings, as set up by heartbeatSetup),
// checks what crossed meanwhile with traffic, and checks that the link
// stayed up and still carries a message.
func (l *secLink) heartbeatsKeepUp(ctx context.Context, ourPings bool, traffic func() error) error {
	if _, _, err := l.exchangeMsgs(ctx, [][]byte{b("before")}, [][]byte{b("idle")}); err != nil {
		return err
	}
	pinger, answerer := l.fromLibzmq, l.fromOurs
	if ourPings {
		pinger, answerer = l.fromOurs, l.fromLibzmq
	}
	if err := idleHeartbeats(ctx, pinger, answerer, heartbeatIvl(ourPings)); err != nil {
		return err
	}
	if err := traffic(); err != nil {
		return err
	}
	if err := l.stillUp(); err != nil {
		return err
	}
	if _, _, err := l.exchangeMsgs(ctx, [][]byte{b("after"), b("idle")}, [][]byte{b("still up")}); err != nil {
		return err
	}
	return l.stillUp()
}

// stillUp checks that neither side reported a disconnection and that a
// single TCP connection was made.
func (l *secLink) stillUp() error {
	l.ev.poll()
	if n := l.ev.count(zmtp.EventDisconnected | ourFailed); n > 0 {
		return fmt.Errorf("our socket reported a disconnection: events %v", l.ev.seen)
	}
	evs, err := l.mon.Poll()
	if err != nil {
		return err
	}
	if n := l.mon.Count(zmq.EVENT_DISCONNECTED | zmqFailed); n > 0 {
		return fmt.Errorf("libzmq reported a disconnection: events %v", evs)
	}
	if n := l.relay.Accepted(); n != 1 {
		return fmt.Errorf("%d TCP connections were made, want 1", n)
	}
	return nil
}

// exchangeLarge sends largeMsgs(1) from ours to libzmq and largeMsgs(100)
// back, checking each message, and returns the number of frames ours
// sent.
func (l *secLink) exchangeLarge(ctx context.Context) (frames int, err error) {
	out, in := largeMsgs(1), largeMsgs(100)
	for i, m := range out {
		if err := l.ours.Send(ctx, m); err != nil {
			return 0, fmt.Errorf("our send %d: %w", i, err)
		}
	}
	for i, want := range out {
		got, err := l.zs.Recv(ctx)
		if err != nil {
			return 0, fmt.Errorf("libzmq receive %d: %w", i, err)
		}
		if err := sameMessage(want, got); err != nil {
			return 0, fmt.Errorf("message %d received by libzmq: %w", i, err)
		}
	}
	for i, m := range in {
		if err := l.zs.Send(ctx, m); err != nil {
			return 0, fmt.Errorf("libzmq send %d: %w", i, err)
		}
	}
	for i, want := range in {
		got, err := l.ours.Recv(ctx)
		if err != nil {
			return 0, fmt.Errorf("our receive %d: %w", i, err)
		}
		if err := sameMessage(want, got.Frames); err != nil {
			return 0, fmt.Errorf("message %d received by us: %w", i, err)
		}
	}
	for _, m := range out {
		frames += len(m)
	}
	return frames, nil
}

// idleHeartbeats waits, on an idle link, for curveIdlePings boxes (CURVE
// or GSSAPI MESSAGE commands) from the side that PINGs every ivl, checks
// they came no faster than ivl allows, and waits for as many from the
// side that answers.
func idleHeartbeats(ctx context.Context, pinger, answerer func() relayCounts, ivl time.Duration) error {
	p0, a0 := pinger().Boxes, answerer().Boxes
	start := time.Now()
	if err := poll(ctx, ivl/5, "PINGs on the idle link", func() bool {
		return pinger().Boxes-p0 >= curveIdlePings
	}); err != nil {
		return err
	}
	pings := pinger().Boxes - p0
	// A scheduler may delay a PING, never hasten one.
	if most := int(time.Since(start)/ivl) + 2; pings > most {
		return fmt.Errorf("%d boxes from the side that PINGs in %v, intervals of %v", pings, time.Since(start), ivl)
	}
	if err := poll(ctx, ivl/5, "PONGs to the PINGs", func() bool {
		return answerer().Boxes-a0 >= pings
	}); err != nil {
		return fmt.Errorf("%w: %d boxes answered %d PINGs", err, answerer().Boxes-a0, pings)
	}
	// Besides PONGs, the answerer's count may hold two frames that
	// were in flight at the first snapshot: the PONG to a PING sent
	// before it, and the last message exchanged before the call (the
	// relay counts a frame after passing it on).
	if pongs := answerer().Boxes - a0; pongs > pinger().Boxes-p0+2 {
		return fmt.Errorf("%d boxes answered %d PINGs", pongs, pinger().Boxes-p0)
	}
	return nil
}
