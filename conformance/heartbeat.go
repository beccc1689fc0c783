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

// libzmqDropsSilentPeer: once we stop reading (so stop answering PINGs),
// libzmq drops the connection after its heartbeat timeout.
func libzmqDropsSilentPeer(ctx context.Context, role string) (err error) {
	var sc *silentConn
	f, err := start(ctx, role, setup{
		zmqType: "PAIR", prep: zmqHeartbeats, cfg: config(mechanism.Pair),
		wrap: func(nc net.Conn) net.Conn { sc = newSilentConn(nc); return sc },
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := poll(ctx, 10*time.Millisecond, "2 PINGs from libzmq", func() bool {
		return f.conn.Stats().PingsIn >= 2
	}); err != nil {
		return err
	}
	if err := noDisconnect(f); err != nil {
		return fmt.Errorf("before we went silent: %w", err)
	}
	sc.Silence()
	t0 := time.Now()
	select {
	case <-sc.Gone():
	case <-ctx.Done():
		return fmt.Errorf("libzmq did not drop us after %v of silence: %w", time.Since(t0), ctx.Err())
	}
	elapsed := time.Since(t0)
	if errors.Is(sc.goneErr, net.ErrClosed) {
		return fmt.Errorf("our side closed the connection: %w", sc.goneErr)
	}
	if limit := 5 * (zmqHeartbeatIvl + zmqHeartbeatTimeout); elapsed > limit {
		return fmt.Errorf("libzmq took %v to drop us (interval %v, timeout %v)", elapsed, zmqHeartbeatIvl, zmqHeartbeatTimeout)
	}
	if _, err := f.mon.WaitFor(ctx, zmq.EVENT_DISCONNECTED); err != nil {
		return err
	}
	return nil
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

// ourTTL: our PINGs carry a TTL of 0.5 s; when we stop sending anything,
// libzmq drops the connection once the TTL has run out.
func ourTTL(ctx context.Context, role string) (err error) {
	cfg := config(mechanism.Pair)
	cfg.HeartbeatInterval = ttlIvl
	cfg.HeartbeatTTL = ttlTTL
	cfg.HeartbeatTimeout = time.Minute // we never give up first
	var mc *muteConn
	f, err := start(ctx, role, setup{
		zmqType: "PAIR", cfg: cfg,
		wrap: func(nc net.Conn) net.Conn { mc = &muteConn{Conn: nc}; return mc },
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := poll(ctx, 10*time.Millisecond, "3 PINGs sent", func() bool {
		return f.conn.Stats().PingsOut >= 3
	}); err != nil {
		return err
	}
	if err := noDisconnect(f); err != nil {
		return fmt.Errorf("before we went mute: %w", err)
	}
	mc.Mute()
	t0 := time.Now()
	select {
	case <-f.conn.Done():
	case <-ctx.Done():
		return fmt.Errorf("libzmq did not drop us %v after our last PING (TTL %v): %w", time.Since(t0), ttlTTL, ctx.Err())
	}
	elapsed := time.Since(t0)
	var te *zmtp.TimeoutError
	if cause := f.conn.Err(); errors.As(cause, &te) || cause == nil {
		return fmt.Errorf("our connection ended by itself (%v), not by libzmq", cause)
	}
	// The last PING left at most one interval before we went mute.
	if min := ttlTTL - ttlIvl - 50*time.Millisecond; elapsed < min {
		return fmt.Errorf("libzmq dropped us %v after we went mute: before the TTL (%v)", elapsed, ttlTTL)
	}
	if elapsed > 5*ttlTTL {
		return fmt.Errorf("libzmq took %v to drop us (TTL %v)", elapsed, ttlTTL)
	}
	if _, err := f.mon.WaitFor(ctx, zmq.EVENT_DISCONNECTED); err != nil {
		return err
	}
	return nil
}

// Settings for libzmq's PING TTL.
const (
	zmqTTLIvl = 100 * time.Millisecond
	zmqTTL    = 500 * time.Millisecond // sent as 5 tenths of a second
)

// libzmqTTL: libzmq's PINGs carry a TTL of 0.5 s; when we hear nothing
// more from libzmq, we drop the connection once that TTL has run out.
func libzmqTTL(ctx context.Context, role string) (err error) {
	var dc *deafConn
	f, err := start(ctx, role, setup{
		zmqType: "PAIR",
		prep: func(s *zmq.Socket) error {
			return errors.Join(
				s.SetHeartbeatIvl(zmqTTLIvl),
				s.SetHeartbeatTtl(zmqTTL),
				s.SetHeartbeatTimeout(time.Minute), // libzmq never gives up first
			)
		},
		cfg:  config(mechanism.Pair),
		wrap: func(nc net.Conn) net.Conn { dc = &deafConn{Conn: nc}; return dc },
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := poll(ctx, 10*time.Millisecond, "2 PINGs from libzmq", func() bool {
		return f.conn.Stats().PingsIn >= 2
	}); err != nil {
		return err
	}
	dc.Deafen()
	t0 := time.Now()
	select {
	case <-f.conn.Done():
	case <-ctx.Done():
		return fmt.Errorf("we did not drop libzmq %v after its last PING (TTL %v): %w", time.Since(t0), zmqTTL, ctx.Err())
	}
	elapsed := time.Since(t0)
	var te *zmtp.TimeoutError
	if cause := f.conn.Err(); !errors.As(cause, &te) || te.Op != "heartbeat ttl" {
		return fmt.Errorf("our connection ended with %v, want a heartbeat ttl timeout", cause)
	}
	// The last PING we heard came at most one interval before.
	if min := zmqTTL - zmqTTLIvl - 50*time.Millisecond; elapsed < min {
		return fmt.Errorf("we dropped libzmq %v after going deaf: before its TTL (%v)", elapsed, zmqTTL)
	}
	if elapsed > 5*zmqTTL {
		return fmt.Errorf("we took %v to drop libzmq (TTL %v)", elapsed, zmqTTL)
	}
	return nil
}

// ourTimeout: when libzmq's PONGs no longer reach us, we drop the
// connection after our heartbeat timeout.
func ourTimeout(ctx context.Context, role string) (err error) {
	cfg := config(mechanism.Pair)
	cfg.HeartbeatInterval = ourHeartbeatIvl
	cfg.HeartbeatTimeout = ourHeartbeatTimeout
	var dc *deafConn
	f, err := start(ctx, role, setup{
		zmqType: "PAIR", cfg: cfg,
		wrap: func(nc net.Conn) net.Conn { dc = &deafConn{Conn: nc}; return dc },
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := poll(ctx, 10*time.Millisecond, "3 PINGs sent", func() bool {
		return f.conn.Stats().PingsOut >= 3 || f.conn.Err() != nil
	}); err != nil {
		return err
	}
	if err := f.conn.Err(); err != nil {
		return fmt.Errorf("our connection ended while libzmq answered: %w", err)
	}
	dc.Deafen()
	t0 := time.Now()
	select {
	case <-f.conn.Done():
	case <-ctx.Done():
		return fmt.Errorf("we did not drop libzmq %v after going deaf: %w", time.Since(t0), ctx.Err())
	}
	elapsed := time.Since(t0)
	var te *zmtp.TimeoutError
	if cause := f.conn.Err(); !errors.As(cause, &te) || te.Op != "heartbeat" {
		return fmt.Errorf("our connection ended with %v, want a heartbeat timeout", cause)
	}
	if elapsed < ourHeartbeatTimeout/2 || elapsed > 5*(ourHeartbeatIvl+ourHeartbeatTimeout) {
		return fmt.Errorf("we dropped libzmq %v after going deaf (interval %v, timeout %v)", elapsed, ourHeartbeatIvl, ourHeartbeatTimeout)
	}
	_, err = f.mon.WaitFor(ctx, zmq.EVENT_DISCONNECTED)
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
