package zmtp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// SocketType names a ZeroMQ socket type.
type SocketType string

// The socket types.
const (
	Pair   SocketType = mechanism.Pair
	Pub    SocketType = mechanism.Pub
	Sub    SocketType = mechanism.Sub
	XPub   SocketType = mechanism.XPub
	XSub   SocketType = mechanism.XSub
	Req    SocketType = mechanism.Req
	Rep    SocketType = mechanism.Rep
	Dealer SocketType = mechanism.Dealer
	Router SocketType = mechanism.Router
	Push   SocketType = mechanism.Push
	Pull   SocketType = mechanism.Pull
)

// Socket errors.
var (
	// ErrNotSupported: the operation does not exist for the socket type
	// (Recv on a PUB, Send on a PULL).
	ErrNotSupported = errors.New("zmtp: operation not supported by this socket type")
	// ErrState: REQ or REP called out of turn (two Sends on a REQ).
	ErrState = errors.New("zmtp: operation not valid in the socket's current state")
	// ErrHostUnreachable: a ROUTER with RouterMandatory has no peer with
	// the message's routing id.
	ErrHostUnreachable = errors.New("zmtp: no peer with that routing id")
)

// Message is a multipart message received from a socket.
type Message struct {
	// Frames holds the frames; the caller owns them.
	Frames [][]byte
	// Metadata is the sending peer's metadata (Socket-Type, Identity,
	// User-Id, ...). It is shared: do not modify it.
	Metadata frame.Metadata
}

func message(m [][]byte, p *pipe) Message {
	if p == nil {
		return Message{Frames: m}
	}
	return Message{Frames: m, Metadata: p.metadata()}
}

// Socket is a ZeroMQ socket: it binds and connects to any number of
// endpoints and routes messages among the peers there according to its
// type. Send and Recv (and their Try forms) are safe for concurrent use:
// concurrent Sends are serialised, each message is sent whole, and each
// received message goes whole to exactly one Recv. Close may be called
// from any goroutine.
type Socket struct {
	typ  SocketType
	opts Options
	rt   router
	zctx *Context // inproc namespace; nil when made by NewSocket

	ctx    context.Context // cancelled by Close: stops dialers and listeners
	cancel context.CancelFunc

	mu           sync.Mutex
	pipes        []*pipe                 // attached pipes, in attach order
	routable     atomic.Pointer[[]*pipe] // s.pipes, for reads without s.mu
	closing      atomic.Bool             // s.closed, for reads without s.mu
	endpoints    map[string]*endpoint
	aliases      map[string]string // Bind argument -> resolved endpoint
	lastEndpoint string
	closed       bool
	monitors     []*monitor

	sendMu sync.Mutex
	recvMu sync.Mutex

	readable chan struct{} // a pipe got a message (capacity 1)
	free     chan [][]byte // single-frame messages whose memory can be received into again
	writable chan struct{} // a pipe took messages or was attached (capacity 1)
	wg       sync.WaitGroup

	dropped atomic.Int64 // messages dropped by PUB/XPUB at the HWM
}

// router is a socket type's routing rule over the socket's pipes.
type router interface {
	// attached and detached are called, with s.mu held, when a pipe
	// becomes routable and when it stops being routable.
	attached(p *pipe)
	detached(p *pipe)
	// connected runs on every new connection of a pipe (re-sending
	// subscriptions, welcome messages), without s.mu.
	connected(p *pipe, c *Conn)
	// send routes a message; recv returns the next message for the
	// application. Both may block (honouring ctx) when nonblock is false.
	send(ctx context.Context, msg [][]byte, nonblock bool) error
	recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error)
	// onCommand handles SUBSCRIBE, CANCEL, JOIN and LEAVE from a peer;
	// intercept may consume an incoming message (3.0 subscriptions).
	onCommand(p *pipe, cmd frame.Command)
	intercept(p *pipe, msg [][]byte) bool
}

// NewSocket returns a socket of type t.
func NewSocket(t SocketType, opts Options) (*Socket, error) {
	s := &Socket{
		typ:       t,
		opts:      opts.normalize(),
		endpoints: make(map[string]*endpoint),
		aliases:   make(map[string]string),
		readable:  make(chan struct{}, 1),
		free:      make(chan [][]byte, freeListLen),
		writable:  make(chan struct{}, 1),
	}
	if len(s.opts.RoutingID) > 255 {
		return nil, errors.New("zmtp: RoutingID must be at most 255 octets")
	}
	if err := mechanism.Validate(s.opts.Mechanism); err != nil {
		return nil, err
	}
	rt, err := newRouter(s)
	if err != nil {
		return nil, err
	}
	s.rt = rt
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Type returns the socket's type.
func (s *Socket) Type() SocketType { return s.typ }

// Dropped returns the number of messages a PUB or XPUB socket dropped
// because a subscriber's queue was full.
func (s *Socket) Dropped() int64 { return s.dropped.Load() }

// Send sends a multipart message (one []byte per frame), blocking as the
// socket type dictates (for example while every peer's queue is full).
// The socket takes ownership of msg and its frames.
func (s *Socket) Send(ctx context.Context, msg [][]byte) error {
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	return s.rt.send(ctx, msg, false)
}

// TrySend is Send that returns ErrWouldBlock instead of blocking.
func (s *Socket) TrySend(msg [][]byte) error {
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	return s.rt.send(context.Background(), msg, true)
}

// Recv returns the next message, blocking until one arrives or ctx ends.
func (s *Socket) Recv(ctx context.Context) (Message, error) {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if s.isClosed() {
		return Message{}, ErrClosed
	}
	m, p, err := s.rt.recv(ctx, false)
	if err != nil {
		return Message{}, err
	}
	return message(m, p), nil
}

// TryRecv is Recv that returns ErrWouldBlock instead of blocking.
func (s *Socket) TryRecv() (Message, error) {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if s.isClosed() {
		return Message{}, ErrClosed
	}
	m, p, err := s.rt.recv(context.Background(), true)
	if err != nil {
		return Message{}, err
	}
	return message(m, p), nil
}

func (s *Socket) isClosed() bool { return s.closing.Load() }

// RecvInto is Recv that reuses m: the frames are copied into the memory
// m.Frames already has, growing it only when a frame does not fit, and the
// memory the socket received them in goes back to the socket for later
// messages. A program that receives into the same Message again and again
// allocates nothing per message in steady state (for frames up to the read
// buffer's 32 KiB) as long as the socket keeps up with its peers; when many
// messages queue up, some are still received into new memory. It costs a
// copy per message: a program that streams small messages gets more
// throughput from Recv. m.Frames is valid until m is passed to RecvInto
// again.
func (s *Socket) RecvInto(ctx context.Context, m *Message) error {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	in, p, err := s.rt.recv(ctx, false)
	if err != nil {
		return err
	}
	m.Frames = copyFrames(m.Frames, in)
	m.Metadata = nil
	if p != nil {
		m.Metadata = p.metadata()
		s.recycle(in, p)
	}
	return nil
}

// copyFrames copies src into dst, reusing dst's frames.
func copyFrames(dst, src [][]byte) [][]byte {
	if cap(dst) < len(src) {
		dst = append(dst[:cap(dst)], make([][]byte, len(src)-cap(dst))...)
	}
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = append(dst[i][:0], f...)
	}
	return dst
}

// Limits of the receive memory a socket keeps for reuse.
const (
	freeListLen    = 256
	maxRecycleSize = 32 << 10
)

// recycle keeps the memory of a message that a connection's reader made
// and the routing rule returned untouched, so that the reader can receive
// into it again. Messages of inproc peers are never recycled: their memory
// came from the sending application.
func (s *Socket) recycle(in [][]byte, p *pipe) {
	if p.twin != nil || len(in) != 1 || cap(in[0]) > maxRecycleSize {
		return
	}
	switch s.rt.(type) {
	case *basic, *pairRouter, *subRouter:
	default:
		return // the rule built a new message around the received one
	}
	select {
	case s.free <- in:
	default:
	}
}

// snapshot returns the attached pipes.
func (s *Socket) snapshot() []*pipe {
	if p := s.routable.Load(); p != nil {
		return *p
	}
	return nil
}

// attach makes p routable.
func (s *Socket) attach(p *pipe) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || p.attached {
		return !s.closed
	}
	p.attached = true
	// Copy on write: senders and receivers hold snapshots.
	s.pipes = append(s.pipes[:len(s.pipes):len(s.pipes)], p)
	s.publish()
	s.rt.attached(p)
	signal(s.writable)
	signal(s.readable)
	return true
}

// admitter is implemented by routers that may refuse a peer (PAIR takes
// one) or must name it (ROUTER). admit runs with s.mu held.
type admitter interface {
	admit(p *pipe) bool
}

// attachPeer makes p routable once its handshake has succeeded, unless
// the router refuses it.
func (s *Socket) attachPeer(p *pipe) bool {
	s.mu.Lock()
	if p.attached {
		s.mu.Unlock()
		return true
	}
	if a, ok := s.rt.(admitter); ok && !s.closed && !a.admit(p) {
		s.mu.Unlock()
		return false
	}
	s.mu.Unlock()
	return s.attach(p)
}

// pipeGone is called when p will see no more connections. It stops being
// routable; messages it received stay readable until taken.
func (s *Socket) pipeGone(p *pipe) {
	p.gone.Store(true)
	if len(p.in) == 0 {
		s.detach(p)
	}
	signal(s.readable)
}

// detach makes p unroutable. Messages it already received stay readable
// until taken: detach is called by the receive path once p is empty.
func (s *Socket) detach(p *pipe) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.attached {
		return
	}
	p.attached = false
	pipes := make([]*pipe, 0, len(s.pipes))
	for _, q := range s.pipes {
		if q != p {
			pipes = append(pipes, q)
		}
	}
	s.pipes = pipes
	s.publish()
	s.rt.detached(p)
	signal(s.readable)
}

// publish makes the current pipe list visible to snapshot; s.mu is held.
func (s *Socket) publish() {
	pipes := s.pipes
	s.routable.Store(&pipes)
}

// signal wakes a waiter on ch without blocking.
func signal(ch chan struct{}) {
	if len(ch) > 0 {
		return // already signalled
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// connConfig returns the connection settings for a connection of p.
func (s *Socket) connConfig(p *pipe) ConnConfig {
	return ConnConfig{
		SocketType:        string(s.typ),
		Identity:          s.opts.RoutingID,
		Mechanism:         s.opts.Mechanism,
		HandshakeTimeout:  s.opts.HandshakeTimeout,
		HeartbeatInterval: s.opts.HeartbeatInterval,
		HeartbeatTTL:      s.opts.HeartbeatTTL,
		HeartbeatTimeout:  s.opts.HeartbeatTimeout,
		MaxMessageSize:    s.opts.MaxMessageSize,
		CloseTimeout:      s.opts.Linger,
		Logger:            s.opts.Logger,
		sendq:             p.out,
		recvq:             p.in,
		onRecv:            func() { signal(s.readable) },
		onSent:            func() { signal(s.writable) },
		OnCommand:         func(cmd frame.Command) { s.rt.onCommand(p, cmd) },
		intercept:         func(m [][]byte) bool { return s.rt.intercept(p, m) },
		conflate:          s.opts.Conflate,
		free:              s.free,
		// The peer's metadata must be in place before its first message
		// can be received, since each Message carries it.
		onReady: func(c *Conn) { p.info.Store(&peerInfo{md: c.PeerMetadata(), minor: int(c.minor)}) },
	}
}

// Close closes every endpoint and connection, delivering queued messages
// for at most Linger, and waits for the socket's goroutines to end.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.closing.Store(true)
	eps := make([]*endpoint, 0, len(s.endpoints))
	for _, ep := range s.endpoints {
		eps = append(eps, ep)
	}
	s.endpoints = map[string]*endpoint{}
	s.mu.Unlock()
	s.cancel()
	for _, ep := range eps {
		ep.close()
		s.emit(Event{Type: EventClosed, Endpoint: ep.addr})
	}
	s.wg.Wait()
	s.stopMonitors()
	return nil
}

// waitOn blocks until ch is signalled, ctx ends or the socket closes.
func (s *Socket) waitOn(ctx context.Context, ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// String names the socket's type.
func (s *Socket) String() string { return fmt.Sprintf("zmtp.Socket(%s)", s.typ) }
