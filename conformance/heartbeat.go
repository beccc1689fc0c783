package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// Heartbeat settings of the libzmq side.
const (
	zmqHeartbeatIvl     = 100 * time.Millisecond
	zmqHeartbeatTimeout = 300 * time.Millisecond
	zmqHeartbeatTTL     = time.Second
)

// zmqHeartbeats turns libzmq's heartbeats on.
func zmqHeartbeats(s *zmq.Socket) error {
	return errors.Join(
		s.SetHeartbeatIvl(zmqHeartbeatIvl),
		s.SetHeartbeatTimeout(zmqHeartbeatTimeout),
		s.SetHeartbeatTtl(zmqHeartbeatTTL),
	)
}

// noDisconnect checks that libzmq has reported no disconnection so far.
func noDisconnect(f *fixture) error {
	evs, err := f.mon.Poll()
	if err != nil {
		return err
	}
	if n := f.mon.Count(zmq.EVENT_DISCONNECTED); n > 0 {
		return fmt.Errorf("libzmq reported a disconnection: events %v", evs)
	}
	return nil
}

// exchange checks that a message still passes both ways.
func exchange(ctx context.Context, f *fixture) error {
	out := [][]byte{b("still"), b("there?")}
	if err := sendOurs(ctx, f.conn, [][][]byte{out}); err != nil {
		return err
	}
	if err := expectTheirs(ctx, f, [][][]byte{out}); err != nil {
		return err
	}
	in := [][]byte{b("yes")}
	if err := sendTheirs(ctx, f, [][][]byte{in}); err != nil {
		return err
	}
	return expectOurs(ctx, f.conn, [][][]byte{in})
}

// libzmqPings: libzmq sends PINGs (with a TTL) every 100 ms and drops a
// peer silent for 300 ms after one; we answer them, so the link stays up
// for several intervals and still carries messages.
func libzmqPings(ctx context.Context, role string) (err error) {
	f, err := start(ctx, role, setup{zmqType: "PAIR", prep: zmqHeartbeats, cfg: config(mechanism.Pair)})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	t0 := time.Now()
	const wantPings = 8
	if err := poll(ctx, 10*time.Millisecond, fmt.Sprintf("%d PINGs from libzmq", wantPings), func() bool {
		return f.conn.Stats().PingsIn >= wantPings
	}); err != nil {
		return err
	}
	if d := time.Since(t0); d < 2*zmqHeartbeatTimeout {
		return fmt.Errorf("%d PINGs in %v: faster than the 100 ms interval", wantPings, d)
	}
	if err := f.conn.Err(); err != nil {
		return fmt.Errorf("our connection ended: %w", err)
	}
	if err := noDisconnect(f); err != nil {
		return err
	}
	return exchange(ctx, f)
}

// Our heartbeat settings.
const (
	ourHeartbeatIvl     = 50 * time.Millisecond
	ourHeartbeatTimeout = 150 * time.Millisecond
)

// pongFrameSize is the size of libzmq's PONG to a PING without context:
// flags, size, and the body "\x04PONG".
const pongFrameSize = 7

// ourPings: we PING libzmq every 50 ms and drop it if silent for 150 ms
// after a PING; libzmq answers, so the link outlives several timeouts.
func ourPings(ctx context.Context, role string) (err error) {
	cfg := config(mechanism.Pair)
	cfg.HeartbeatInterval = ourHeartbeatIvl
	cfg.HeartbeatTimeout = ourHeartbeatTimeout
	f, err := start(ctx, role, setup{zmqType: "PAIR", cfg: cfg})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	t0, s0 := time.Now(), f.conn.Stats()
	const wantPings = 12
	if err := poll(ctx, 10*time.Millisecond, fmt.Sprintf("%d PINGs sent", wantPings), func() bool {
		return f.conn.Stats().PingsOut >= wantPings && time.Since(t0) >= 4*ourHeartbeatTimeout || f.conn.Err() != nil
	}); err != nil {
		return err
	}
	if err := f.conn.Err(); err != nil {
		return fmt.Errorf("our connection ended after %v and %d PINGs: %w", time.Since(t0), f.conn.Stats().PingsOut, err)
	}
	s1 := f.conn.Stats()
	pings := s1.PingsOut - s0.PingsOut
	if rx := s1.BytesIn - s0.BytesIn; rx < pongFrameSize*(pings/2) {
		return fmt.Errorf("received %d octets in answer to %d PINGs: too few for PONGs", rx, pings)
	}
	if s1.PingsIn != 0 {
		return fmt.Errorf("libzmq sent %d PINGs without heartbeat options", s1.PingsIn)
	}
	if err := noDisconnect(f); err != nil {
		return err
	}
	return exchange(ctx, f)
}

// Settings for our PING TTL.
const (
	ttlIvl = 100 * time.Millisecond
	ttlTTL = 500 * time.Millisecond
)

// Settings for libzmq's PING TTL.
const (
	zmqTTLIvl = 100 * time.Millisecond
	zmqTTL    = 500 * time.Millisecond // sent as 5 tenths of a second
)

// dropScenario is a link that one side must drop: once heartbeats run,
// a wrapper of our connection cuts some of our traffic, and the other
// side (or ours) must end the link within the bounds of its heartbeat
// settings, for the right reason.
type dropScenario struct {
	prep func(*zmq.Socket) error // libzmq's heartbeat options
	cfg  func() zmtp.ConnConfig  // ours
	// wrap wraps our connection; the function it returns cuts the
	// traffic, and gone is closed when the link has been dropped.
	wrap func(nc net.Conn) (w net.Conn, cut func(), gone func(f *fixture) <-chan struct{})
	// pingsIn: wait for minPings PINGs from libzmq before the cut;
	// otherwise for minPings PINGs of ours.
	pingsIn  bool
	minPings int64
	what     string                 // "libzmq drops us after we went silent", ...
	cause    func(f *fixture) error // why the link ended, once gone
	min, max time.Duration          // bounds of the time from the cut to the drop
	event    bool                   // libzmq reports EVENT_DISCONNECTED
}

// dropScenarios are the heartbeat cases that end in a drop.
var dropScenarios = map[string]dropScenario{
	// libzmqDropsSilentPeer: once we stop reading (so stop answering
	// PINGs), libzmq drops the connection after its heartbeat timeout.
	"libzmq-drops-silent-peer": {
		prep: zmqHeartbeats, cfg: func() zmtp.ConnConfig { return config(mechanism.Pair) },
		wrap: func(nc net.Conn) (net.Conn, func(), func(*fixture) <-chan struct{}) {
			sc := newSilentConn(nc)
			return sc, sc.Silence, func(*fixture) <-chan struct{} { return sc.Gone() }
		},
		pingsIn: true, minPings: 2,
		what: "libzmq drops us once we are silent",
		cause: func(f *fixture) error {
			if sc := f.nc.(*silentConn); errors.Is(sc.goneErr, net.ErrClosed) {
				return fmt.Errorf("our side closed the connection: %w", sc.goneErr)
			}
			return nil
		},
		max:   5 * (zmqHeartbeatIvl + zmqHeartbeatTimeout),
		event: true,
	},
	// ourTTL: our PINGs carry a TTL of 0.5 s; when we stop sending
	// anything, libzmq drops the connection once the TTL has run out.
	"our-ttl": {
		cfg: func() zmtp.ConnConfig {
			cfg := config(mechanism.Pair)
			cfg.HeartbeatInterval = ttlIvl
			cfg.HeartbeatTTL = ttlTTL
			cfg.HeartbeatTimeout = time.Minute // we never give up first
			return cfg
		},
		wrap: func(nc net.Conn) (net.Conn, func(), func(*fixture) <-chan struct{}) {
			mc := &muteConn{Conn: nc}
			return mc, mc.Mute, ourConnDone
		},
		minPings: 3,
		what:     "libzmq drops us once our PINGs' TTL has run out",
		cause: func(f *fixture) error {
			var te *zmtp.TimeoutError
			if cause := f.conn.Err(); errors.As(cause, &te) || cause == nil {
				return fmt.Errorf("our connection ended by itself (%v), not by libzmq", cause)
			}
			return nil
		},
		// The last PING left at most one interval before we went mute.
		min: ttlTTL - ttlIvl - 50*time.Millisecond, max: 5 * ttlTTL,
		event: true,
	},
	// libzmqTTL: libzmq's PINGs carry a TTL of 0.5 s; when we hear
	// nothing more from libzmq, we drop the connection once that TTL has
	// run out.
	"libzmq-ttl": {
		prep: func(s *zmq.Socket) error {
			return errors.Join(
				s.SetHeartbeatIvl(zmqTTLIvl),
				s.SetHeartbeatTtl(zmqTTL),
				s.SetHeartbeatTimeout(time.Minute), // libzmq never gives up first
			)
		},
		cfg:     func() zmtp.ConnConfig { return config(mechanism.Pair) },
		wrap:    deafWrap,
		pingsIn: true, minPings: 2,
		what:  "we drop libzmq once its PINGs' TTL has run out",
		cause: heartbeatTimeout("heartbeat ttl"),
		// The last PING we heard came at most one interval before.
		min: zmqTTL - zmqTTLIvl - 50*time.Millisecond, max: 5 * zmqTTL,
	},
	// ourTimeout: when libzmq's PONGs no longer reach us, we drop the
	// connection after our heartbeat timeout.
	"our-timeout": {
		cfg: func() zmtp.ConnConfig {
			cfg := config(mechanism.Pair)
			cfg.HeartbeatInterval = ourHeartbeatIvl
			cfg.HeartbeatTimeout = ourHeartbeatTimeout
			return cfg
		},
		wrap:     deafWrap,
		minPings: 3,
		what:     "we drop libzmq once its PONGs stop",
		cause:    heartbeatTimeout("heartbeat"),
		min:      ourHeartbeatTimeout / 2, max: 5 * (ourHeartbeatIvl + ourHeartbeatTimeout),
		event: true,
	},
}

// deafWrap makes our side deaf to libzmq on the cut.
func deafWrap(nc net.Conn) (net.Conn, func(), func(*fixture) <-chan struct{}) {
	dc := &deafConn{Conn: nc}
	return dc, dc.Deafen, ourConnDone
}

func ourConnDone(f *fixture) <-chan struct{} { return f.conn.Done() }

// heartbeatTimeout checks that our connection ended with a
// *zmtp.TimeoutError of operation op.
func heartbeatTimeout(op string) func(f *fixture) error {
	return func(f *fixture) error {
		var te *zmtp.TimeoutError
		if cause := f.conn.Err(); !errors.As(cause, &te) || te.Op != op {
			return fmt.Errorf("our connection ended with %v, want a %s timeout", cause, op)
		}
		return nil
	}
}

// run runs the scenario in role.
func (d dropScenario) run(ctx context.Context, role string) (err error) {
	var cut func()
	var gone func(*fixture) <-chan struct{}
	f, err := start(ctx, role, setup{
		zmqType: "PAIR", prep: d.prep, cfg: d.cfg(),
		wrap: func(nc net.Conn) net.Conn {
			var w net.Conn
			w, cut, gone = d.wrap(nc)
			return w
		},
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	pings, from := func() int64 { return f.conn.Stats().PingsOut }, "sent"
	if d.pingsIn {
		pings, from = func() int64 { return f.conn.Stats().PingsIn }, "from libzmq"
	}
	if err := poll(ctx, 10*time.Millisecond, fmt.Sprintf("%d PINGs %s", d.minPings, from), func() bool {
		return pings() >= d.minPings || f.conn.Err() != nil
	}); err != nil {
		return err
	}
	if err := f.conn.Err(); err != nil {
		return fmt.Errorf("our connection ended before the cut: %w", err)
	}
	if err := noDisconnect(f); err != nil {
		return fmt.Errorf("before the cut: %w", err)
	}
	cut()
	t0 := time.Now()
	select {
	case <-gone(f):
	case <-ctx.Done():
		return fmt.Errorf("%s: still up %v after the cut: %w", d.what, time.Since(t0), ctx.Err())
	}
	elapsed := time.Since(t0)
	if err := d.cause(f); err != nil {
		return err
	}
	if elapsed < d.min || elapsed > d.max {
		return fmt.Errorf("%s: dropped %v after the cut, want %v to %v", d.what, elapsed, d.min, d.max)
	}
	if d.event {
		_, err = f.mon.WaitFor(ctx, zmq.EVENT_DISCONNECTED)
	}
	return err
}

// The slow-consumer scenarios: the sender has heartbeats with a TTL on;
// the receiver's application stops reading for longer than the TTL while
// the sender's data waits, already sent, in front of it. The link must
// survive: traffic did arrive within the TTL, the receiver was merely not
// reading it.
const (
	slowIvl    = 50 * time.Millisecond
	slowTTL    = 200 * time.Millisecond
	slowIdle   = 3 * slowIvl // lets the sender's PINGs out between two bursts
	slowSettle = 100 * time.Millisecond
	slowStall  = 3 * slowTTL
	slowFirst  = 10   // first burst
	slowBurst  = 2000 // second burst: about 120 KiB, more than one read buffer
)

// slowMsg returns message i of the slow-consumer scenarios: 62 octets on
// the wire.
func slowMsg(i int) [][]byte {
	return [][]byte{binary.BigEndian.AppendUint64(nil, uint64(i)), pattern(50, byte(i))}
}

// slowScenario sends the two bursts with send, then receives them with
// recv, stalling for slowStall after the first message of the second
// burst, and checks that one more message passes afterwards.
func slowScenario(ctx context.Context, send func([][]byte) error, recv func() ([][]byte, error)) error {
	for i := range slowFirst {
		if err := send(slowMsg(i)); err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	pause(ctx, slowIdle)
	for i := slowFirst; i < slowFirst+slowBurst; i++ {
		if err := send(slowMsg(i)); err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	pause(ctx, slowSettle)
	const last = slowFirst + slowBurst
	for i := range last + 1 {
		switch i {
		case slowFirst + 1:
			pause(ctx, slowStall)
		case last:
			if err := send(slowMsg(last)); err != nil {
				return fmt.Errorf("send %d: %w", i, err)
			}
		}
		got, err := recv()
		if err != nil {
			return fmt.Errorf("receive %d of %d after a stall of %v (TTL %v): %w", i, last+1, slowStall, slowTTL, err)
		}
		if err := sameMessage(slowMsg(i), got); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	return nil
}

// slowConsumerOurs: libzmq PUSH, PINGs with a TTL of 0.2 s; our PULL's
// application stalls for 0.6 s while libzmq's messages, and its PINGs,
// wait in our read buffer and the socket.
func slowConsumerOurs(ctx context.Context, role string) (err error) {
	cfg := config(mechanism.Pull)
	cfg.RecvQueueLen = 1
	f, err := start(ctx, role, setup{
		zmqType: "PUSH", cfg: cfg,
		prep: func(s *zmq.Socket) error {
			return errors.Join(
				s.SetHeartbeatIvl(slowIvl),
				s.SetHeartbeatTtl(slowTTL),
				s.SetHeartbeatTimeout(time.Minute),
			)
		},
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	return slowScenario(ctx,
		func(m [][]byte) error { return f.zs.Send(ctx, m) },
		func() ([][]byte, error) { return f.conn.Recv(ctx) })
}

// slowConsumerLibzmq: the mirror image, for reference: our PUSH, PINGs
// with a TTL of 0.2 s; the libzmq PULL's application stalls.
func slowConsumerLibzmq(ctx context.Context, role string) (err error) {
	cfg := config(mechanism.Push)
	cfg.HeartbeatInterval = slowIvl
	cfg.HeartbeatTTL = slowTTL
	cfg.HeartbeatTimeout = time.Minute
	f, err := start(ctx, role, setup{
		zmqType: "PULL", cfg: cfg,
		prep: func(s *zmq.Socket) error { return s.SetRcvhwm(1) },
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	return slowScenario(ctx,
		func(m [][]byte) error { return f.conn.Send(ctx, m) },
		func() ([][]byte, error) { return f.zs.Recv(ctx) })
}

// noTimeoutPings is how many PINGs with no answer the no-timeout cases
// wait for: several times what a timeout of one interval allows.
const noTimeoutPings = 6

// libzmqNoTimeout pins libzmq's ZMQ_HEARTBEAT_TIMEOUT 0: libzmq PINGs
// every 100 ms and, with no answer at all (we went mute), keeps the
// connection for ever, where its default timeout (one interval) drops it.
// Ours with zmtp.NoHeartbeatTimeout does the same (ourNoTimeout).
func libzmqNoTimeout(ctx context.Context, role string) (err error) {
	var mc *muteConn
	f, err := start(ctx, role, setup{
		zmqType: "PAIR", cfg: config(mechanism.Pair),
		prep: func(s *zmq.Socket) error {
			return errors.Join(s.SetHeartbeatIvl(zmqHeartbeatIvl), s.SetHeartbeatTimeout(0))
		},
		wrap: func(nc net.Conn) net.Conn { mc = &muteConn{Conn: nc}; return mc },
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := poll(ctx, 10*time.Millisecond, "a PING from libzmq", func() bool {
		return f.conn.Stats().PingsIn >= 1 || f.conn.Err() != nil
	}); err != nil {
		return err
	}
	mc.Mute()
	p0 := f.conn.Stats().PingsIn
	if err := poll(ctx, 10*time.Millisecond, fmt.Sprintf("%d PINGs from libzmq after we went mute", noTimeoutPings), func() bool {
		return f.conn.Stats().PingsIn >= p0+noTimeoutPings || f.conn.Err() != nil
	}); err != nil {
		return err
	}
	if err := f.conn.Err(); err != nil {
		return fmt.Errorf("the connection ended: %w", err)
	}
	return noDisconnect(f)
}

// ourNoTimeout: with zmtp.NoHeartbeatTimeout (libzmq's
// ZMQ_HEARTBEAT_TIMEOUT 0) we PING every 50 ms and, deaf to libzmq's
// PONGs, keep the connection, as libzmq does (libzmqNoTimeout).
func ourNoTimeout(ctx context.Context, role string) (err error) {
	var dc *deafConn
	cfg := config(mechanism.Pair)
	cfg.HeartbeatInterval = ourHeartbeatIvl
	cfg.HeartbeatTimeout = zmtp.NoHeartbeatTimeout
	f, err := start(ctx, role, setup{
		zmqType: "PAIR", cfg: cfg,
		wrap: func(nc net.Conn) net.Conn { dc = &deafConn{Conn: nc}; return dc },
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	dc.Deafen()
	p0 := f.conn.Stats().PingsOut
	if err := poll(ctx, 10*time.Millisecond, fmt.Sprintf("%d PINGs after we went deaf", noTimeoutPings), func() bool {
		return f.conn.Stats().PingsOut >= p0+noTimeoutPings || f.conn.Err() != nil
	}); err != nil {
		return err
	}
	if err := f.conn.Err(); err != nil {
		return fmt.Errorf("our connection ended with no heartbeat timeout: %w", err)
	}
	return noDisconnect(f)
}
