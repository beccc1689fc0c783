package conformance

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// silentConn passes reads through until Silence is called. From then on
// Read blocks until Close (so our reader sees no more PINGs and answers
// none), read deadlines are ignored, and the real connection is drained
// into a discard buffer so that the peer closing it is noticed: Gone is
// closed then, and goneErr says how the read ended.
type silentConn struct {
	net.Conn
	silent    atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
	gone      chan struct{}
	goneErr   error
}

func newSilentConn(nc net.Conn) *silentConn {
	return &silentConn{Conn: nc, closed: make(chan struct{}), gone: make(chan struct{})}
}

func (s *silentConn) Read(p []byte) (int, error) {
	if !s.silent.Load() {
		n, err := s.Conn.Read(p)
		if !s.silent.Load() {
			return n, err
		}
		// Arrived after Silence: dropped like the rest.
	}
	<-s.closed
	return 0, net.ErrClosed
}

func (s *silentConn) SetReadDeadline(t time.Time) error {
	if s.silent.Load() {
		return nil
	}
	return s.Conn.SetReadDeadline(t)
}

func (s *silentConn) SetDeadline(t time.Time) error {
	if s.silent.Load() {
		return s.Conn.SetWriteDeadline(t)
	}
	return s.Conn.SetDeadline(t)
}

func (s *silentConn) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return s.Conn.Close()
}

// Silence stops delivering what the peer sends.
func (s *silentConn) Silence() {
	if s.silent.Swap(true) {
		return
	}
	go s.drain()
}

// Gone is closed once the real connection's read side has ended.
func (s *silentConn) Gone() <-chan struct{} { return s.gone }

func (s *silentConn) drain() {
	defer close(s.gone)
	buf := make([]byte, 4096)
	for {
		_, err := s.Conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// A read deadline set before Silence (a PING TTL).
			s.Conn.SetReadDeadline(time.Time{})
			continue
		}
		s.goneErr = err
		return
	}
}

// muteConn passes writes through until Mute is called; from then on it
// discards what is written, reporting success, so that the peer hears
// nothing more from us.
type muteConn struct {
	net.Conn
	muted atomic.Bool
}

func (m *muteConn) Write(p []byte) (int, error) {
	if m.muted.Load() {
		return len(p), nil
	}
	return m.Conn.Write(p)
}

func (m *muteConn) Mute() { m.muted.Store(true) }

// gateConn holds back our first write after the greeting (our READY) until
// the peer's first octet after its greeting has been read, so that the
// peer's READY reaches us before ours reaches it. libzmq checks a READY as
// soon as it arrives and, on a mismatch, closes at once, sometimes before
// its own READY is out; the gate makes our side see libzmq's READY first.
// The gate only waits for our reader: it never reads itself.
type gateConn struct {
	net.Conn
	written int64 // octets written before the gate opened
	opened  bool  // writer side only

	mu     sync.Mutex
	cond   *sync.Cond
	read   int64 // octets our reader has read
	failed bool  // our reader hit an error: nothing more will come
}

func (g *gateConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	g.mu.Lock()
	g.read += int64(n)
	if err != nil {
		g.failed = true
	}
	if g.cond != nil {
		g.cond.Broadcast()
	}
	g.mu.Unlock()
	return n, err
}

func (g *gateConn) Write(p []byte) (int, error) {
	if g.opened {
		return g.Conn.Write(p)
	}
	n := 0
	if head := frame.GreetingSize - g.written; head > 0 {
		k := int(min(head, int64(len(p))))
		m, err := g.Conn.Write(p[:k])
		g.written += int64(m)
		n += m
		if err != nil || k == len(p) {
			return n, err
		}
	}
	g.open()
	m, err := g.Conn.Write(p[n:])
	return n + m, err
}

// open waits until our reader has read the peer's first octet after its
// greeting, or failed.
func (g *gateConn) open() {
	g.opened = true
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	for g.read <= frame.GreetingSize && !g.failed {
		g.cond.Wait()
	}
}

// deafConn passes reads through until Deafen is called; from then on it
// discards what arrives, while read deadlines, errors and end of stream
// still reach the caller. Our side then hears nothing from the peer and
// its own timers decide.
type deafConn struct {
	net.Conn
	deaf atomic.Bool
}

func (d *deafConn) Read(p []byte) (int, error) {
	for {
		n, err := d.Conn.Read(p)
		if !d.deaf.Load() || n == 0 {
			return n, err
		}
		if err != nil {
			return 0, err
		}
	}
}

func (d *deafConn) Deafen() { d.deaf.Store(true) }
