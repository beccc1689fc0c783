package zmtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return a, r.c
}

// connPair runs both handshakes concurrently and returns the connections.
func connPair(t testing.TB, ca, cb ConnConfig) (*Conn, *Conn) {
	t.Helper()
	a, b := tcpPair(t)
	ctx := context.Background()
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := NewConn(ctx, b, cb)
		ch <- res{c, err}
	}()
	x, err := NewConn(ctx, a, ca)
	r := <-ch
	if err != nil || r.err != nil {
		if x != nil {
			x.Close()
		}
		if r.c != nil {
			r.c.Close()
		}
		t.Fatalf("handshake: %v / %v", err, r.err)
	}
	t.Cleanup(func() { x.Close(); r.c.Close() })
	return x, r.c
}

func TestConnExchange(t *testing.T) {
	a, b := connPair(t, ConnConfig{SocketType: "DEALER", Identity: []byte("alice")}, ConnConfig{SocketType: "ROUTER"})
	if got := b.PeerMetadata().Get("Identity"); got != "alice" {
		t.Errorf("peer identity = %q", got)
	}
	if got := a.PeerMetadata().Get("socket-type"); got != "ROUTER" {
		t.Errorf("peer socket type = %q", got)
	}
	if maj, min := a.Version(); maj != 3 || min != 1 {
		t.Errorf("version %d.%d", maj, min)
	}
	ctx := context.Background()
	msgs := [][][]byte{
		{[]byte("hello")},
		{{}, []byte("x"), {}},
		{bytes.Repeat([]byte("a"), 255), bytes.Repeat([]byte("b"), 256)},
		{bytes.Repeat([]byte("c"), 1<<20)},
	}
	for _, m := range msgs {
		if err := a.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range msgs {
		got, err := b.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(bytes.Equal)); diff != "" {
			t.Errorf("message %d differs (-want +got):\n%.300s", i, diff)
		}
	}
}

func TestConnManyInOrder(t *testing.T) {
	a, b := connPair(t, ConnConfig{SocketType: "PUSH"}, ConnConfig{SocketType: "PULL"})
	ctx := context.Background()
	const n = 10000
	go func() {
		for i := range n {
			if err := a.Send(ctx, [][]byte{[]byte(fmt.Sprint(i))}); err != nil {
				return
			}
		}
	}()
	for i := range n {
		m, err := b.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m[0]) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m[0])
		}
	}
	if s := a.Stats(); s.Writes >= n {
		t.Errorf("%d writes for %d messages: no batching", s.Writes, n)
	}
}

func TestConnSocketTypeMismatch(t *testing.T) {
	x, y := tcpPair(t)
	errc := make(chan error, 1)
	go func() {
		c, err := NewConn(context.Background(), y, ConnConfig{SocketType: "PUB"})
		if c != nil {
			c.Close()
		}
		errc <- err
	}()
	_, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PUSH"})
	var ste *mechanism.SocketTypeError
	if !errors.As(err, &ste) {
		t.Errorf("PUSH side: %v, want SocketTypeError", err)
	}
	if err := <-errc; !errors.Is(err, mechanism.ErrHandshake) {
		t.Errorf("PUB side: %v, want handshake error", err)
	}
}

// TestConnHandshakeTimeout runs in a synctest bubble, on the fake clock:
// a peer that reads what it is sent but says nothing is dropped at the
// handshake timeout exactly, and sees the connection closed.
func TestConnHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 100 * time.Millisecond
		x, y := net.Pipe()
		defer y.Close()
		drained := drain(y)
		start := time.Now()
		_, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PAIR", HandshakeTimeout: timeout})
		var te *TimeoutError
		if !errors.As(err, &te) || !te.Timeout() || te.Op != "handshake" {
			t.Fatalf("err = %v, want handshake timeout", err)
		}
		if d := time.Since(start); d != timeout {
			t.Errorf("timed out after %v, want %v", d, timeout)
		}
		// The silent peer sees the connection closed.
		if err := <-drained; err != nil {
			t.Errorf("peer read: %v", err)
		}
	})
}

// drain reads and discards everything nc receives, as the network stack of
// a peer that does not answer would, and reports how reading ended (nil at
// EOF).
func drain(nc net.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, nc)
		done <- err
	}()
	return done
}

func TestConnContextCancel(t *testing.T) {
	x, y := tcpPair(t)
	defer y.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := NewConn(ctx, x, ConnConfig{SocketType: "PAIR"})
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestConnLegacyPeerRefusedAtFirstOctet(t *testing.T) {
	x, y := tcpPair(t)
	defer y.Close()
	// A ZMTP 1.0 peer sends its identity length and waits.
	go y.Write([]byte{0x01, 0x00})
	_, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PAIR", HandshakeTimeout: waitTimeout, RefuseLegacy: true})
	var le *frame.LegacyError
	var lpe *LegacyPeerError
	if !errors.As(err, &le) || le.Version != 1 || !errors.As(err, &lpe) || !errors.Is(err, frame.ErrProtocol) {
		t.Fatalf("err = %v, want LegacyPeerError{1}", err)
	}
}

// TestConnHeartbeatsKeepAlive runs in a synctest bubble: over a second of
// the fake clock, both sides PING every interval, each PING is answered,
// and neither the heartbeat timeout nor the TTL ends the connection.
func TestConnHeartbeatsKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 20 * time.Millisecond
		cfg := ConnConfig{SocketType: "PAIR", HeartbeatInterval: interval, HeartbeatTimeout: 100 * time.Millisecond, HeartbeatTTL: 200 * time.Millisecond}
		a, b := pipePair(t, cfg, cfg)
		time.Sleep(time.Second)
		synctest.Wait()
		for _, c := range []struct {
			name       string
			self, peer *Conn
		}{{"a", a, b}, {"b", b, a}} {
			if err := c.self.Err(); err != nil {
				t.Fatalf("%s ended: %v", c.name, err)
			}
			st := c.self.Stats()
			if min := int64(time.Second/interval) - 1; st.PingsOut < min {
				t.Errorf("%s sent %d PINGs in 1 s, want at least %d", c.name, st.PingsOut, min)
			}
			if in := c.peer.Stats().PingsIn; in != st.PingsOut {
				t.Errorf("%s sent %d PINGs, its peer received %d", c.name, st.PingsOut, in)
			}
		}
	})
}

// rawHandshake performs a NULL handshake by hand on nc, as socket type st,
// and returns a frame reader positioned after the peer's READY.
func rawHandshake(nc net.Conn, st string) (*frame.Reader, error) {
	out := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
	out = frame.AppendReady(out, frame.Metadata{{Name: "Socket-Type", Value: []byte(st)}})
	if _, err := nc.Write(out); err != nil {
		return nil, err
	}
	rd := frame.NewReader(nc, 0)
	if _, err := rd.Next(frame.GreetingSize); err != nil {
		return nil, err
	}
	f, err := rd.ReadFrame()
	if err != nil {
		return nil, err
	}
	if cmd, err := frame.ParseCommand(f.Body); err != nil || cmd.Name != "READY" {
		return nil, fmt.Errorf("expected READY, got %q %v", f.Body, err)
	}
	return rd, nil
}

// rawConn starts NewConn on one end of a TCP pair and a hand-driven peer on
// the other.
func rawConn(t *testing.T, cfg ConnConfig) (*Conn, net.Conn, *frame.Reader) {
	t.Helper()
	x, y := tcpPair(t)
	return rawConnOver(t, x, y, cfg)
}

// rawPipeConn is rawConn over a net.Pipe, for tests in a synctest bubble.
func rawPipeConn(t *testing.T, cfg ConnConfig) (*Conn, net.Conn, *frame.Reader) {
	t.Helper()
	x, y := net.Pipe()
	return rawConnOver(t, x, y, cfg)
}

// rawConnOver starts NewConn on x and a hand-driven peer on y.
func rawConnOver(t *testing.T, x, y net.Conn, cfg ConnConfig) (*Conn, net.Conn, *frame.Reader) {
	t.Helper()
	t.Cleanup(func() { y.Close() })
	type res struct {
		rd  *frame.Reader
		err error
	}
	ch := make(chan res, 1)
	go func() {
		rd, err := rawHandshake(y, "PAIR")
		ch <- res{rd, err}
	}()
	c, err := NewConn(context.Background(), x, cfg)
	r := <-ch
	if err != nil || r.err != nil {
		t.Fatalf("handshake: %v / peer: %v", err, r.err)
	}
	t.Cleanup(func() { c.Close() })
	return c, y, r.rd
}

// waitDone waits until c has ended and returns why.
func waitDone(t *testing.T, c *Conn) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-deadline(t):
		t.Fatalf("connection still up after %v", waitTimeout)
		return nil
	}
}

// readFrames reads and discards the frames rd receives until it fails.
func readFrames(rd *frame.Reader) {
	go func() {
		for {
			if _, err := rd.ReadFrame(); err != nil {
				return
			}
		}
	}()
}

// TestConnHeartbeatTimeout runs in a synctest bubble (HB-01): the peer
// completes the handshake, then reads everything and says nothing. The
// first PING goes after an interval; the connection ends when no traffic
// came within the timeout after it, before the next heartbeat tick.
func TestConnHeartbeatTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval, timeout = 50 * time.Millisecond, 150 * time.Millisecond
		c, _, rd := rawPipeConn(t, ConnConfig{SocketType: "PAIR", HeartbeatInterval: interval, HeartbeatTimeout: timeout})
		start := time.Now()
		readFrames(rd)
		err := waitDone(t, c)
		var te *TimeoutError
		if !errors.As(err, &te) || te.Op != "heartbeat" {
			t.Fatalf("err = %v, want heartbeat timeout", err)
		}
		if d := time.Since(start); d < interval+timeout || d > interval+timeout+interval {
			t.Errorf("dropped after %v, want %v to %v", d, interval+timeout, interval+timeout+interval)
		}
		if n := c.Stats().PingsOut; n == 0 {
			t.Error("no PING sent")
		}
	})
}

// TestConnPeerTTL runs in a synctest bubble (HB-02): the peer sends a PING
// with a TTL of 100 ms, reads the PONG, then says nothing; the connection
// ends when the TTL runs out.
func TestConnPeerTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 100 * time.Millisecond
		c, y, rd := rawPipeConn(t, ConnConfig{SocketType: "PAIR"})
		if _, err := y.Write(frame.AppendPing(nil, uint16(ttl/(100*time.Millisecond)), []byte("ctx"))); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		f, err := rd.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if want := frame.AppendPong(nil, []byte("ctx")); !bytes.Equal(frame.AppendFrame(nil, f.Flags, f.Body), want) {
			t.Errorf("PONG = % x, want % x", f.Body, want)
		}
		readFrames(rd)
		err = waitDone(t, c)
		var te *TimeoutError
		if !errors.As(err, &te) || te.Op != "heartbeat ttl" {
			t.Fatalf("err = %v, want heartbeat ttl timeout", err)
		}
		if d := time.Since(start); d != ttl {
			t.Errorf("dropped after %v, want %v", d, ttl)
		}
	})
}

func TestConnPongEchoesFirst16(t *testing.T) {
	// CM-02: a 58-octet context is echoed as its first 16 octets.
	_, y, rd := rawConn(t, ConnConfig{SocketType: "PAIR"})
	ctx := bytes.Repeat([]byte("0123456789"), 6)[:58]
	body := append([]byte{4, 'P', 'I', 'N', 'G', 0, 0}, ctx...)
	if _, err := y.Write(frame.AppendFrame(nil, frame.FlagCommand, body)); err != nil {
		t.Fatal(err)
	}
	f, err := rd.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0x04, 0x15, 4, 'P', 'O', 'N', 'G'}, ctx[:16]...)
	if got := frame.AppendFrame(nil, f.Flags, f.Body); !bytes.Equal(got, want) {
		t.Errorf("got % x\nwant % x", got, want)
	}
}

func TestConnHostileFrames(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"FR-01 huge long size", []byte{0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 1, 2, 3}, frame.ErrFrameTooLarge},
		{"FR-01 2^63", []byte{0x02, 0x80, 0, 0, 0, 0, 0, 0, 0}, frame.ErrFrameTooLarge},
		{"FR-04 reserved bits", []byte{0x08, 0x03, 'a', 'b', 'c'}, frame.ErrReservedFlags},
		{"FR-05 command with MORE", []byte{0x05, 0x07, 0x04, 'P', 'I', 'N', 'G', 0, 0}, frame.ErrCommandMore},
		{"FR-07 empty command", []byte{0x04, 0x00}, frame.ErrMalformedCommand},
		{"CM-01 PING without TTL", []byte{0x04, 0x05, 0x04, 'P', 'I', 'N', 'G'}, frame.ErrMalformedCommand},
		{"FR-08 EOF inside multipart", []byte{0x01, 0x02, 'a', 'b', 0x01, 0x02, 'c', 'd', 0x00, 0x0A, 'x'}, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, y, _ := rawConn(t, ConnConfig{SocketType: "PAIR"})
			y.Write(tc.in)
			if tc.want == io.ErrUnexpectedEOF {
				y.(*net.TCPConn).CloseWrite()
			}
			err := waitDone(t, c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if m, err := c.TryRecv(); err == nil {
				t.Errorf("delivered %q", m)
			}
		})
	}
}

func TestConnMaxMessageSize(t *testing.T) {
	// FR-02: with a 1 MiB limit, exactly 1 MiB passes and 1 MiB + 1 closes.
	c, y, _ := rawConn(t, ConnConfig{SocketType: "PAIR", MaxMessageSize: 1 << 20})
	go func() {
		y.Write(frame.AppendFrame(nil, 0, make([]byte, 1<<20)))
		y.Write(frame.AppendFrame(nil, 0, make([]byte, 1<<20+1)))
	}()
	m, err := c.Recv(context.Background())
	if err != nil || len(m[0]) != 1<<20 {
		t.Fatalf("first message: %v", err)
	}
	if err := waitDone(t, c); !errors.Is(err, frame.ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestConnMessageBeforeReady(t *testing.T) {
	// HN-01: a message frame before READY is a protocol error.
	x, y := tcpPair(t)
	defer y.Close()
	go func() {
		out := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
		y.Write(frame.AppendFrame(out, 0, []byte("hello")))
	}()
	_, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PAIR"})
	if !errors.Is(err, ErrMessageBeforeReady) {
		t.Fatalf("err = %v", err)
	}
}

func TestConnMechanismMismatch(t *testing.T) {
	// GR-08: lowercase or padded mechanism names do not match.
	for _, mech := range []string{"PLAIN", "null", "NULL\x01"} {
		x, y := tcpPair(t)
		go func() {
			y.Write(frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: mech}))
		}()
		_, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PAIR"})
		if !errors.Is(err, ErrMechanismMismatch) {
			t.Errorf("%q: err = %v", mech, err)
		}
		y.Close()
	}
}

func TestConnZMTP30Peer(t *testing.T) {
	a, b := connPair(t, ConnConfig{SocketType: "PAIR", ZMTP30: true}, ConnConfig{SocketType: "PAIR"})
	if _, min := b.Version(); min != 0 {
		t.Errorf("b negotiated 3.%d with a 3.0 peer", min)
	}
	if g := b.PeerGreeting(); g.Minor != 0 {
		t.Errorf("peer greeting minor %d", g.Minor)
	}
	if err := a.Send(context.Background(), [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Recv(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConnCloseFlushes(t *testing.T) {
	a, b := connPair(t, ConnConfig{SocketType: "PUSH"}, ConnConfig{SocketType: "PULL"})
	ctx := context.Background()
	for i := range 100 {
		if err := a.Send(ctx, [][]byte{[]byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	for i := range 100 {
		m, err := b.Recv(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if string(m[0]) != fmt.Sprint(i) {
			t.Fatalf("message %d = %q", i, m[0])
		}
	}
	if _, err := b.Recv(ctx); !errors.Is(err, ErrClosed) || !errors.Is(err, io.EOF) {
		t.Errorf("after peer close: %v", err)
	}
	if err := a.Send(ctx, [][]byte{[]byte("late")}); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
}

// A peer that reads nothing leaves our writer stuck; the heartbeat
// timeout still ends the connection on time.
func TestConnHeartbeatTimeoutWithStuckWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, y := net.Pipe()
		defer y.Close()
		ch := make(chan error, 1)
		go func() { _, err := rawHandshake(y, "PAIR"); ch <- err }() // then neither reads nor writes
		c, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PAIR", HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 150 * time.Millisecond, CloseTimeout: -1})
		if perr := <-ch; err != nil || perr != nil {
			t.Fatal(err, perr)
		}
		defer c.Close()
		start := time.Now()
		c.TrySend([][]byte{make([]byte, 1<<20)}) // the writer blocks on it
		<-c.Done()
		var te *TimeoutError
		if !errors.As(c.Err(), &te) || te.Op != "heartbeat" {
			t.Fatalf("ended with %v", c.Err())
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("ended after %v, want by interval + timeout", d)
		}
	})
}

// A message followed, in the same read, by a command and then silence is
// delivered at once: the reader never holds received messages while it
// waits for the peer.
func TestConnMessageBeforeCommandDelivered(t *testing.T) {
	x, y := net.Pipe()
	defer y.Close()
	ch := make(chan error, 1)
	go func() {
		if _, err := rawHandshake(y, "PUSH"); err != nil {
			ch <- err
			return
		}
		out := frame.AppendFrame(nil, 0, []byte("first"))
		out = frame.Command{Name: frame.CmdPing, Data: []byte{0, 0}}.Append(out)
		_, err := y.Write(out)
		ch <- err
		io.Copy(io.Discard, y) // then only reads (our PONG)
	}()
	c, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PULL"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	m, err := c.Recv(testCtx(t))
	if err != nil || string(m[0]) != "first" {
		t.Fatalf("Recv: %q, %v", m, err)
	}
}

// TestConnNoHeartbeatTimeout runs in a synctest bubble: with
// NoHeartbeatTimeout (libzmq's ZMQ_HEARTBEAT_TIMEOUT 0) PINGs go every
// interval to a peer that never answers, and the connection stays up.
func TestConnNoHeartbeatTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 50 * time.Millisecond
		c, _, rd := rawPipeConn(t, ConnConfig{SocketType: "PAIR", HeartbeatInterval: interval, HeartbeatTimeout: NoHeartbeatTimeout})
		readFrames(rd)
		time.Sleep(20 * interval) // in the bubble: time that passes, not a wait
		synctest.Wait()
		select {
		case <-c.Done():
			t.Fatalf("connection ended: %v", c.Err())
		default:
		}
		if n := c.Stats().PingsOut; n < 19 {
			t.Errorf("%d PINGs in %d intervals", n, 20)
		}
		c.Close()
	})
}
