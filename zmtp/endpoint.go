package zmtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
	"golang.org/x/net/proxy"
)

// endpoint is one Bind or Connect of a socket.
type endpoint struct {
	s      *Socket
	addr   string // the resolved endpoint, e.g. tcp://127.0.0.1:5555
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{} // closed when the endpoint's goroutine has ended

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	closed bool  // set by close: connections are no longer registered
	pipe   *pipe // the pipe of a Connect

	bound     bool    // made by Bind
	connectID []byte  // ConnectOptions.RoutingID
	peerID    uint32  // the routing id ConnectPeer gave the peer, or 0
	inproc    string  // the name of an inproc endpoint
	twins     []*pipe // inproc: the bound side's pipes

	// Guarded by s.mu: why a Connect stopped for good, and why its last
	// attempt failed while it goes on trying.
	failed, lastErr error
	source          net.Addr // the source address of a tcp Connect, or nil

	udp *net.UDPConn // the socket of a udp endpoint (transport_udp.go)
}

// parseEndpoint splits "transport://address".
func parseEndpoint(ep string) (transport, addr string, err error) {
	transport, addr, ok := strings.Cut(ep, "://")
	if !ok || addr == "" {
		return "", "", &InvalidEndpointError{Endpoint: ep, Reason: "not transport://address"}
	}
	switch transport {
	case "tcp", "ipc", "inproc", "ws", "wss", "udp":
		return transport, addr, nil
	}
	return "", "", &InvalidEndpointError{Endpoint: ep, Reason: fmt.Sprintf("unsupported transport %q", transport)}
}

// Bind listens on an endpoint: tcp://host:port (host "*" for every IPv4
// interface, an IP address, IPv6 in brackets, or a network interface name;
// port "*" for an ephemeral one) or ipc://path. Peers that connect are
// routable once their handshake has succeeded. LastEndpoint returns the
// address actually bound. A malformed endpoint is refused with an error
// matching ErrInvalidEndpoint.
func (s *Socket) Bind(ep string) error {
	transport, addr, err := parseEndpoint(ep)
	if err != nil {
		return err
	}
	if transport == "inproc" {
		return s.bindInproc(addr)
	}
	if transport == "udp" {
		return s.bindUDP(ep, addr) // transport_udp.go
	}
	var ln net.Listener
	switch transport {
	case "tcp":
		network, a, err := resolveTCP(addr, true)
		if err != nil {
			return err
		}
		lc := net.ListenConfig{KeepAlive: s.options().TCPKeepAlive}
		if ln, err = lc.Listen(s.ctx, network, a); err != nil {
			s.emit(Event{Type: EventBindFailed, Endpoint: ep, Err: err})
			return err
		}
	case "ipc":
		if err := checkIPC(addr); err != nil {
			return err
		}
		// As libzmq does, replace a stale socket file.
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(addr)
		}
		if ln, err = net.Listen("unix", addr); err != nil {
			s.emit(Event{Type: EventBindFailed, Endpoint: ep, Err: err})
			return err
		}
	case "ws", "wss":
		if ln, err = s.listenWS(ep, transport, addr); err != nil {
			return err
		}
	}
	e := &endpoint{s: s, ln: ln, bound: true, done: make(chan struct{}), conns: map[*Conn]struct{}{}}
	e.addr = transport + "://" + ln.Addr().String()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.endpoints[e.addr] = e
	s.lastEndpoint = e.addr
	if e.addr != ep {
		s.aliases[ep] = e.addr
	}
	s.mu.Unlock()
	s.emit(Event{Type: EventListening, Endpoint: e.addr})
	ctx, cancel := context.WithCancel(s.ctx)
	e.cancel = cancel
	s.wg.Add(1)
	go e.acceptLoop(ctx)
	return nil
}

// Connect connects to an endpoint (tcp://host:port, possibly with a source
// address as tcp://source:port;host:port, or ipc://path) and keeps
// reconnecting when the connection fails or the peer is not there yet. It
// returns at once; messages sent meanwhile are queued for the peer (unless
// Immediate is set). A malformed endpoint, or one that cannot be connected
// to such as tcp://*:5555, is refused with an error matching
// ErrInvalidEndpoint.
func (s *Socket) Connect(ep string) error { return s.ConnectWith(ep, ConnectOptions{}) }

// ConnectOptions are settings for one Connect.
type ConnectOptions struct {
	// RoutingID is the id a ROUTER or STREAM socket gives the peer of this
	// connection instead of the one the peer announces or a generated one
	// (ZMQ_CONNECT_ROUTING_ID). At most 255 octets.
	RoutingID []byte
}

// ConnectWith is Connect with per-connection settings.
func (s *Socket) ConnectWith(ep string, co ConnectOptions) error { return s.connect(ep, co, 0) }

// connect is ConnectWith whose peer gets the routing id peerID at a PEER
// (ConnectPeer), 0 for none.
func (s *Socket) connect(ep string, co ConnectOptions, peerID uint32) error {
	if len(co.RoutingID) > 255 {
		return errors.New("zmtp: ConnectOptions.RoutingID must be at most 255 octets")
	}
	transport, addr, err := parseEndpoint(ep)
	if err != nil {
		return err
	}
	if transport == "inproc" {
		return s.connectInproc(addr, peerID)
	}
	if transport == "udp" {
		return s.connectUDP(ep, addr) // transport_udp.go
	}
	network, source := "unix", net.Addr(nil)
	switch transport {
	case "ipc":
		if err := checkIPC(addr); err != nil {
			return err
		}
	case "tcp":
		if network, addr, source, err = resolveTCPDial(addr); err != nil {
			return err
		}
	case "ws", "wss":
		if _, _, _, err = s.checkWS(transport, addr, false); err != nil {
			return err
		}
		network, addr = transport, ep
	}
	e := &endpoint{s: s, addr: ep, source: source, done: make(chan struct{}), conns: map[*Conn]struct{}{}, peerID: peerID}
	e.connectID = bytes.Clone(co.RoutingID)
	e.pipe = e.newPipe()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, dup := s.endpoints[ep]; dup {
		s.mu.Unlock()
		return fmt.Errorf("zmtp: already connected to %s", ep)
	}
	s.endpoints[ep] = e
	s.mu.Unlock()
	if s.earlyAttach() {
		s.attach(e.pipe)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	e.cancel = cancel
	s.wg.Add(1)
	go e.dialLoop(ctx, network, addr)
	return nil
}

// dialer returns the function that makes connections for a Connect: a
// net.Dialer with the keep-alive option and the source address local (nil
// for none), or a SOCKS5 dialer through it.
func (s *Socket) dialer(network string, local net.Addr) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if network == "ws" || network == "wss" {
		return s.wsDialer(network)
	}
	d := &net.Dialer{KeepAlive: s.options().TCPKeepAlive, LocalAddr: local}
	if network != "tcp" || s.options().SOCKSProxy == "" {
		return d.DialContext
	}
	pd, err := proxy.SOCKS5("tcp", s.options().SOCKSProxy, nil, d)
	if err != nil {
		return func(context.Context, string, string) (net.Conn, error) { return nil, err }
	}
	if cd, ok := pd.(proxy.ContextDialer); ok {
		return cd.DialContext
	}
	return func(_ context.Context, network, addr string) (net.Conn, error) { return pd.Dial(network, addr) }
}

// earlyAttach reports whether a connecting pipe is routable before its
// first connection, so that messages queue for it (libzmq without
// ZMQ_IMMEDIATE). A ROUTER must know the peer's id first.
func (s *Socket) earlyAttach() bool {
	return !s.options().Immediate && !s.kind.whileConnected
}

// LastEndpoint returns the endpoint most recently bound, with the port an
// ephemeral bind received.
func (s *Socket) LastEndpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastEndpoint
}

// Unbind stops listening on an endpoint given to Bind (or as returned by
// LastEndpoint) and closes the connections accepted there.
func (s *Socket) Unbind(ep string) error { return s.removeEndpoint(ep, true) }

// Disconnect stops connecting to an endpoint given to Connect and closes
// its connection.
func (s *Socket) Disconnect(ep string) error { return s.removeEndpoint(ep, false) }

func (s *Socket) removeEndpoint(ep string, bound bool) error {
	s.mu.Lock()
	if a, ok := s.aliases[ep]; ok && bound {
		ep = a
	}
	e, ok := s.endpoints[ep]
	if ok && e.bound == bound {
		delete(s.endpoints, ep)
	} else {
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("zmtp: endpoint %s not found", ep)
	}
	e.close()
	s.emit(Event{Type: EventClosed, Endpoint: e.addr})
	return nil
}

// close stops the endpoint and closes its connections, flushing them for
// at most the linger time, and waits for its goroutine.
func (e *endpoint) close() {
	if e.inproc != "" {
		e.closeInproc()
		return
	}
	e.cancel()
	if e.ln != nil {
		e.ln.Close()
	}
	e.mu.Lock()
	e.closed = true
	conns := make([]*Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.s.endConn(c)
		}()
	}
	wg.Wait()
	<-e.done
}

func (e *endpoint) acceptLoop(ctx context.Context) {
	defer e.s.wg.Done()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		close(e.done)
	}()
	for {
		nc, err := e.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			e.s.emit(Event{Type: EventAcceptFailed, Endpoint: e.addr, Err: err})
			// Out of descriptors or similar: back off briefly.
			select {
			case <-time.After(10 * time.Millisecond):
				continue
			case <-ctx.Done():
				return
			}
		}
		// Each handshake runs on its own, so a stalled peer delays no one.
		remote := addrString(nc.RemoteAddr())
		e.s.emit(Event{Type: EventAccepted, Endpoint: e.addr, Remote: remote})
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPipe(e.s)
			if e.s.kind.raw {
				e.serveRaw(ctx, p, nc)
				e.s.pipeGone(p)
				return
			}
			c, err := newConn(ctx, nc, e.s.connConfig(), p)
			if err != nil {
				e.s.emit(Event{Type: handshakeFailure(err), Endpoint: e.addr, Remote: remote, Err: err})
				return
			}
			// The connection is read on a new goroutine: its stack starts
			// small, not at the size the handshake grew this one's to.
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.serve(ctx, p, c)
				e.s.pipeGone(p)
			}()
		}()
	}
}

// serve runs one established connection of pipe p, reading on the
// calling goroutine, until it ends or the endpoint closes.
func (e *endpoint) serve(ctx context.Context, p *pipe, c *Conn) {
	s := e.s
	p.conn.Store(c)
	// Registered, the connection is ended by close; registered after it,
	// not at all.
	e.mu.Lock()
	closed := e.closed
	if !closed {
		e.conns[c] = struct{}{}
	}
	e.mu.Unlock()
	remote := addrString(c.RemoteAddr())
	ad := refused
	if !closed {
		ad = s.attachPeer(p)
	}
	if ad != refused {
		s.emit(Event{Type: EventHandshakeSucceeded, Endpoint: e.addr, Remote: remote})
	}
	switch ad {
	case admitted:
		s.rule.connected(p, c)
		fallthrough
	case waiting:
		c.read()
	}
	p.conn.Store(nil)
	c.closeWithin(-1)
	if ctx.Err() == nil {
		s.emit(Event{Type: EventDisconnected, Endpoint: e.addr, Remote: remote, Err: c.Err()})
	}
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
}

// endConn ends a connection whose endpoint is closing: at once when the
// socket is closing (its linger is over), else after delivering what is
// queued for a while (Disconnect and Unbind).
func (s *Socket) endConn(c *Conn) {
	if s.closing.Load() {
		c.closeWithin(-1)
		return
	}
	c.closeWithin(s.options().flushTimeout())
}

// newPipe returns a pipe for a connection of this Connect.
func (e *endpoint) newPipe() *pipe {
	p := newPipe(e.s)
	p.fixedID = e.connectID
	p.rid.Store(e.peerID)
	p.dialed = true
	return p
}

// renewPipe retires the pipe of a connection that ended, leaving what it
// received readable until taken, and makes a new one for the next
// connection, which gets a routing id of its own. Used by socket types
// whose pipes are routable only while connected (ROUTER, STREAM, and any
// socket with Immediate).
func (e *endpoint) renewPipe() {
	e.s.pipeGone(e.pipe)
	p := e.newPipe()
	e.mu.Lock()
	e.pipe = p
	e.mu.Unlock()
}

func (e *endpoint) dialLoop(ctx context.Context, network, addr string) {
	s := e.s
	defer s.wg.Done()
	defer close(e.done)
	defer func() {
		e.pipe.gone.Store(true)
		s.pipeGone(e.pipe)
	}()
	ivl := s.options().reconnectInterval()
	dial := s.dialer(network, e.source)
	for {
		nc, err := dial(ctx, network, addr)
		if err != nil && ctx.Err() == nil {
			s.emit(Event{Type: EventConnectDelayed, Endpoint: e.addr, Err: err})
		}
		if err == nil && s.kind.raw {
			s.emit(Event{Type: EventConnected, Endpoint: e.addr, Remote: addrString(nc.RemoteAddr())})
			e.serveRaw(ctx, e.pipe, nc)
			e.renewPipe()
			ivl = s.options().reconnectInterval()
		} else if err == nil {
			s.emit(Event{Type: EventConnected, Endpoint: e.addr, Remote: addrString(nc.RemoteAddr())})
			var c *Conn
			c, err = newConn(ctx, nc, s.connConfig(), e.pipe)
			if err != nil && ctx.Err() == nil {
				s.emit(Event{Type: handshakeFailure(err), Endpoint: e.addr, Err: err})
				e.setErr(err, false)
			}
			if err == nil {
				e.setErr(nil, false)
				ivl = s.options().reconnectInterval()
				e.serve(ctx, e.pipe, c)
				err = c.Err()
				if !s.earlyAttach() {
					e.renewPipe()
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		if s.closing.Load() && e.pipe.out.len() == 0 {
			return // Close lingers, and nothing is left for this peer
		}
		if permanent(err) {
			// The peer refused us for good: an ERROR, an incompatible
			// socket type or mechanism, as libzmq gives up on them.
			e.setErr(err, true)
			return
		}
		if s.options().reconnectInterval() < 0 {
			if err == nil {
				err = errors.New("connection ended")
			}
			e.setErr(fmt.Errorf("%w, and reconnection is off", err), true)
			return
		}
		wait := max(ivl, 0)
		if wait > 0 {
			// Up to 10% jitter so that many clients do not reconnect in step.
			wait += time.Duration(rand.Int64N(int64(wait)/10 + 1))
		}
		s.emit(Event{Type: EventConnectRetried, Endpoint: e.addr, Interval: wait})
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		if max := s.options().ReconnectIntervalMax; max > ivl {
			ivl = min(2*ivl, max)
		}
	}
}

// setErr records the last failure of a Connect (nil after a success);
// final marks it stopped for good, which wakes blocked Sends and Recvs so
// they can report it. Its pipe takes no more messages from then on: a Send
// that follows a Recv woken by the failure reports it too.
func (e *endpoint) setErr(err error, final bool) {
	s := e.s
	if final {
		e.mu.Lock()
		p := e.pipe
		e.mu.Unlock()
		if p != nil {
			p.gone.Store(true)
		}
	}
	s.mu.Lock()
	if final {
		e.failed = &EndpointError{Endpoint: e.addr, Err: err}
	} else {
		e.lastErr = err
	}
	s.mu.Unlock()
	if final {
		s.wakeIn()
		s.wakeOut()
	}
}

// permanent reports whether a Connect gives up after err, as libzmq does
// after a protocol error in the handshake: the peer sent ERROR, or its
// socket type or security mechanism does not match ours.
func permanent(err error) bool {
	var pe *mechanism.PeerError
	var ste *mechanism.SocketTypeError
	return errors.As(err, &pe) || errors.As(err, &ste) || errors.Is(err, ErrMechanismMismatch)
}
