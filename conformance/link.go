package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

// config returns our connection settings for socketType, with bounds short
// enough for a test.
func config(socketType string) zmtp.ConnConfig {
	return zmtp.ConnConfig{
		SocketType:       socketType,
		HandshakeTimeout: 5 * time.Second,
		CloseTimeout:     2 * time.Second,
	}
}

// setup describes one link between a libzmq socket and one of our
// connections.
type setup struct {
	zmqType string                  // the libzmq socket type
	prep    func(*zmq.Socket) error // sets libzmq options before bind/connect
	cfg     zmtp.ConnConfig         // our side
	wrap    func(net.Conn) net.Conn
	raw     bool // stop after TCP: no NewConn
}

// fixture is a running link. close releases everything, our side first.
type fixture struct {
	env  *libzmq.Env
	zs   *libzmq.Socket
	mon  *libzmq.Monitor
	nc   net.Conn   // the TCP connection, as given to NewConn (wrapped)
	conn *zmtp.Conn // nil when raw or when the handshake failed
}

func (f *fixture) close() error {
	if f.conn != nil {
		f.conn.Close()
	} else if f.nc != nil {
		f.nc.Close()
	}
	return f.env.Close()
}

// start makes the libzmq socket, opens a TCP connection to it in role
// (we dial its bound port, or it connects to our listener) and runs our
// handshake. When the handshake fails, start returns the fixture (to be
// closed) and the handshake error.
func start(ctx context.Context, role string, s setup) (f *fixture, err error) {
	env, err := libzmq.NewEnv()
	if err != nil {
		return nil, err
	}
	f = &fixture{env: env}
	defer func() {
		if err != nil && f.nc == nil {
			// Not even a TCP connection: nothing the caller can use.
			err = errors.Join(err, env.Close())
			f = nil
		}
	}()
	if f.zs, err = env.Socket(s.zmqType); err != nil {
		return f, err
	}
	if s.prep != nil {
		if err = s.prep(f.zs.Z); err != nil {
			return f, fmt.Errorf("libzmq socket options: %w", err)
		}
	}
	// The monitor also tells which TCP connection is libzmq's.
	if f.mon, err = f.zs.Monitor(zmq.EVENT_ALL); err != nil {
		return f, err
	}
	nc, err := tcpConnect(ctx, role, f.zs, f.mon)
	if err != nil {
		return f, err
	}
	if s.wrap != nil {
		nc = s.wrap(nc)
	}
	f.nc = nc
	if s.raw {
		return f, nil
	}
	f.conn, err = zmtp.NewConn(ctx, nc, s.cfg)
	return f, err
}

// tcpConnect returns our end of a TCP connection with zs: in role WeDial,
// zs binds and we dial; in role WeListen, we listen and zs connects. It
// makes sure, through zs's monitor, that the peer is zs and not some other
// program's socket reconnecting to a port that happens to be recycled.
func tcpConnect(ctx context.Context, role string, zs *libzmq.Socket, mon *libzmq.Monitor) (net.Conn, error) {
	switch role {
	case WeDial:
		addr, err := zs.Bind()
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		// libzmq's accepted socket must be ours.
		ev, err := mon.WaitFor(ctx, zmq.EVENT_ACCEPTED)
		if err == nil {
			if peer, perr := libzmq.PeerAddr(ev.Value); perr != nil {
				err = perr
			} else if peer != nc.LocalAddr().String() {
				err = fmt.Errorf("libzmq accepted a connection from %s, not from us (%s)", peer, nc.LocalAddr())
			}
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
		return nc, nil
	case WeListen:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		defer stop()
		if err := zs.Connect(ln.Addr().String()); err != nil {
			return nil, err
		}
		ev, err := mon.WaitFor(ctx, zmq.EVENT_CONNECTED)
		if err != nil {
			return nil, err
		}
		want, err := libzmq.LocalAddr(ev.Value)
		if err != nil {
			return nil, err
		}
		for {
			nc, err := ln.Accept()
			if err != nil {
				if ctx.Err() != nil {
					err = fmt.Errorf("accept: %w", ctx.Err())
				}
				return nil, err
			}
			if nc.RemoteAddr().String() == want {
				return nc, nil
			}
			nc.Close() // not libzmq's
		}
	}
	return nil, fmt.Errorf("unknown role %q", role)
}

// sameMessage reports how got differs from want, or nil.
func sameMessage(want, got [][]byte) error {
	if len(want) != len(got) {
		return fmt.Errorf("got %d frames (sizes %v), want %d (sizes %v)", len(got), sizes(got), len(want), sizes(want))
	}
	for i := range want {
		if !bytes.Equal(want[i], got[i]) {
			return fmt.Errorf("frame %d differs: got %d octets %.40q, want %d octets %.40q", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
	return nil
}

func sizes(msg [][]byte) []int {
	out := make([]int, len(msg))
	for i, f := range msg {
		out[i] = len(f)
	}
	return out
}

// pattern returns n octets that depend on seed, so that frames mixed up
// with each other are noticed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) + seed
	}
	return b
}

// poll calls cond every step until it returns true or ctx ends.
func poll(ctx context.Context, step time.Duration, what string, cond func() bool) error {
	t := time.NewTicker(step)
	defer t.Stop()
	for !cond() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
	return nil
}

// pause lets d pass (or ctx end). It paces a scenario (idle time for the
// peer's heartbeat timer to fire, a stalled consumer); it never stands in
// for waiting on a condition.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// checkPeerType checks the Socket-Type libzmq announced.
func checkPeerType(c *zmtp.Conn, want string) error {
	if got := c.PeerMetadata().Get(frame.PropSocketType); got != want {
		return fmt.Errorf("peer Socket-Type = %q, want %q", got, want)
	}
	return nil
}

// sendOurs sends msgs on our side, in order.
func sendOurs(ctx context.Context, c *zmtp.Conn, msgs [][][]byte) error {
	for i, m := range msgs {
		if err := c.Send(ctx, m); err != nil {
			return fmt.Errorf("our send %d: %w", i, err)
		}
	}
	return nil
}

// expectOurs receives len(want) messages on our side and compares them.
func expectOurs(ctx context.Context, c *zmtp.Conn, want [][][]byte) error {
	for i, w := range want {
		got, err := c.Recv(ctx)
		if err != nil {
			return fmt.Errorf("our receive %d: %w", i, err)
		}
		if err := sameMessage(w, got); err != nil {
			return fmt.Errorf("message %d received by us: %w", i, err)
		}
	}
	return nil
}

// expectTheirs receives len(want) messages on the libzmq side and compares
// them.
func expectTheirs(ctx context.Context, f *fixture, want [][][]byte) error {
	for i, w := range want {
		got, err := f.zs.Recv(ctx)
		if err != nil {
			return fmt.Errorf("libzmq receive %d: %w", i, err)
		}
		if err := sameMessage(w, got); err != nil {
			return fmt.Errorf("message %d received by libzmq: %w", i, err)
		}
	}
	return nil
}

func sendTheirs(ctx context.Context, f *fixture, msgs [][][]byte) error {
	for i, m := range msgs {
		if err := f.zs.Send(ctx, m); err != nil {
			return fmt.Errorf("libzmq send %d: %w", i, err)
		}
	}
	return nil
}

func b(s string) []byte { return []byte(s) }

// background runs fn in a goroutine and returns a function that cancels
// its context and waits for it, returning its error.
func background(ctx context.Context, fn func(ctx context.Context) error) (wait func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var res error
	var waited bool
	return func() error {
		if !waited {
			cancel()
			res = <-done
			waited = true
		}
		return res
	}
}

// pokeLibzmq makes the libzmq socket process its pending commands, which
// it does only within a call by the application: a bound socket attaches a
// new connection (and a SUB sends it its subscriptions) only then.
func pokeLibzmq(f *fixture) { f.zs.Z.GetEvents() }

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
