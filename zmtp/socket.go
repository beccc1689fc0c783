package zmtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// SocketType names a ZeroMQ socket type. The names are package frame's
// (as the Socket-Type property carries them); what each type does is its
// entry in the table of socket kinds (route.go).
type SocketType string

// The socket types.
const (
	Pair   SocketType = frame.SocketPair
	Pub    SocketType = frame.SocketPub
	Sub    SocketType = frame.SocketSub
	XPub   SocketType = frame.SocketXPub
	XSub   SocketType = frame.SocketXSub
	Req    SocketType = frame.SocketReq
	Rep    SocketType = frame.SocketRep
	Dealer SocketType = frame.SocketDealer
	Router SocketType = frame.SocketRouter
	Push   SocketType = frame.SocketPush
	Pull   SocketType = frame.SocketPull
)

// Socket errors.
var (
	// ErrNotSupported: the operation does not exist for the socket type
	// (Recv on a PUB, Send on a PULL).
	ErrNotSupported = errors.New("zmtp: operation not supported by this socket type")
	// ErrState: REQ or REP called out of turn (two Sends on a REQ).
	ErrState = errors.New("zmtp: operation not valid in the socket's current state")
	// ErrHostUnreachable: a ROUTER with RouterMandatory has no peer with
	// the message's routing id, or a SERVER or PEER has no peer with the
	// routing id given to SendTo.
	ErrHostUnreachable = errors.New("zmtp: no peer with that routing id")
)

// Message is a multipart message received from a socket.
type Message struct {
	// Frames holds the frames; the caller owns them.
	Frames [][]byte
	// Metadata is the sending peer's metadata (Socket-Type, Identity,
	// User-Id, ...). It is shared: do not modify it.
	Metadata frame.Metadata
	// Group is the group of a message a DISH received (RFC 48).
	Group string
	// RoutingID is the sending peer's routing id at a SERVER or PEER
	// socket, never zero there: SendTo(ctx, m.RoutingID, reply) answers
	// it. Zero for the other socket types.
	RoutingID uint32
}

// message makes the Message of m, received from p (nil for none).
func (s *Socket) message(m [][]byte, p *pipe) Message {
	var msg Message
	if s.kind.grouped {
		msg.Group, m = string(m[0]), m[1:]
	}
	msg.Frames = m
	if p != nil {
		msg.Metadata, msg.RoutingID = p.metadata(), p.rid.Load()
	}
	return msg
}

// Socket is a ZeroMQ socket: it binds and connects to any number of
// endpoints and routes messages among the peers there according to its
// type. Send and Recv (and their Try forms) are safe for concurrent use:
// concurrent Sends are serialised, each message is sent whole, and each
// received message goes whole to exactly one Recv. Close may be called
// from any goroutine.
type Socket struct {
	typ  SocketType
	opts atomic.Pointer[Options] // replaced whole by SetOptions
	rule routingRule             // the type's routing rule
	zctx *Context                // inproc namespace; nil when made by NewSocket

	ctx     context.Context // cancelled by Close once the linger is over: stops everything
	cancel  context.CancelFunc
	closeCh chan struct{} // closed when Close begins: blocked calls return ErrClosed

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
	// direct is the connection a Recv reads itself (see recvDirect).
	direct atomic.Pointer[Conn]
	// leaseIdle is its connections' ConnConfig.leaseIdle (tests only).
	leaseIdle time.Duration

	readable chan struct{} // a pipe got a message (capacity 1)
	free     recycler      // single-frame messages whose memory can be received into again
	freeing  [][][]byte    // RecvInto's messages on their way to free; under recvMu
	writable chan struct{} // a pipe took messages or was attached (capacity 1)
	watch    watchers      // pollers woken with readable and writable (poll.go)
	wg       sync.WaitGroup
	batches  sync.Pool // writers' batch memory (*batchMem), shared by the connections

	dropped     atomic.Int64 // messages dropped by PUB/XPUB at the HWM
	discarded   atomic.Int64 // messages lost with their pipe, or by Close
	lostOnClose atomic.Int64 // of those, lost since Close began

	kind socketKind // the socket type's entry in socketKinds
}

// NewSocket returns a socket of type t.
func NewSocket(t SocketType, opts Options) (*Socket, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	kind, err := kindOf(t)
	if err != nil {
		return nil, err
	}
	s := &Socket{
		typ:       t,
		kind:      kind,
		endpoints: make(map[string]*endpoint),
		aliases:   make(map[string]string),
		readable:  make(chan struct{}, 1),
		writable:  make(chan struct{}, 1),
		closeCh:   make(chan struct{}),
	}
	s.opts.Store(&opts)
	s.rule = kind.rule(s)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Type returns the socket's type.
func (s *Socket) Type() SocketType { return s.typ }

// Dropped returns the number of messages the socket dropped as ZeroMQ's
// semantics drop them: a PUB or XPUB at a subscriber's high-water mark, a
// ROUTER message to an unknown or full peer (without RouterMandatory), a
// REP reply to a requester that left or has no room, an XSUB message
// upstream to a full publisher, a multipart message from a peer of a
// single-frame type (CLIENT, SERVER, GATHER, PEER, CHANNEL).
func (s *Socket) Dropped() int64 { return s.dropped.Load() }

// Discarded returns the number of messages Send accepted that were then
// discarded undelivered: queued for a peer whose connection went for good
// (a peer that connected to us and left, an endpoint refused for good), or
// still queued when Close gave up at the end of the linger period.
func (s *Socket) Discarded() int64 { return s.discarded.Load() }

// lose counts n messages lost undelivered.
func (s *Socket) lose(n int) {
	s.discarded.Add(int64(n))
	if s.closing.Load() {
		s.lostOnClose.Add(int64(n))
	}
}

// SocketStats is a snapshot of a socket's counters.
type SocketStats struct {
	// Peers is the number of routable peers.
	Peers int
	// Dropped and Discarded are as the methods of the same names.
	Dropped, Discarded int64
	// Topics and TopicBytes count the subscriptions a PUB/XPUB holds for
	// its peers (distinct topics) or a SUB/XSUB holds for itself (groups
	// for a RADIO and a DISH), and the
	// octets of topic they store: what subscriptions cost in memory,
	// besides about a hundred octets of bookkeeping per topic and peer.
	Topics, TopicBytes int
}

// Stats returns the socket's counters.
func (s *Socket) Stats() SocketStats {
	st := SocketStats{Peers: len(s.snapshot()), Dropped: s.dropped.Load(), Discarded: s.discarded.Load()}
	st.Topics, st.TopicBytes = s.rule.topics()
	return st
}

// options returns the socket's current options; the caller must not
// modify them.
func (s *Socket) options() *Options { return s.opts.Load() }

// SetOptions changes options of a live socket, as zmq_setsockopt does:
// fn gets a copy of the current options to change. Linger,
// RouterMandatory, RouterHandover, the XPub options, InvertMatching,
// ReqRelaxed/ReqCorrelate and ProbeRouter apply at once; the high-water
// marks apply to queues made from then on (new peers), as in libzmq;
// the connection settings (heartbeats, HandshakeTimeout, MaxMessageSize,
// Mechanism, RoutingID, reconnection, TCPKeepAlive) apply to connections
// made from then on. Conflate cannot change.
func (s *Socket) SetOptions(fn func(o *Options)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.opts.Load()
	o := *cur
	o.RoutingID = bytes.Clone(o.RoutingID)
	o.XPubWelcomeMsg = bytes.Clone(o.XPubWelcomeMsg)
	fn(&o)
	if err := o.validate(); err != nil {
		return err
	}
	if o.Conflate != cur.Conflate {
		return errors.New("zmtp: Conflate cannot change on a live socket")
	}
	s.opts.Store(&o)
	s.wakeOut() // a waiting sender may be freed by a new option
	return nil
}

// Send sends a multipart message (one []byte per frame), blocking as the
// socket type dictates (for example while every peer's queue is full).
// The socket takes ownership of msg and its frames. The single-frame
// socket types refuse a message of several frames with ErrMultipart.
func (s *Socket) Send(ctx context.Context, msg [][]byte) error {
	if err := s.sendable(msg); err != nil {
		return err
	}
	if b, ok := s.rule.(*basic); ok && b.sendDirect(msg) {
		return nil // PUSH or DEALER with one peer that has room
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	return s.rule.send(ctx, msg, false)
}

// TrySend is Send that returns ErrWouldBlock instead of blocking.
func (s *Socket) TrySend(msg [][]byte) error {
	if err := s.sendable(msg); err != nil {
		return err
	}
	// A Send waiting for room holds the send side: that is a wait too.
	if !s.sendMu.TryLock() {
		return ErrWouldBlock
	}
	defer s.sendMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	return s.rule.send(context.Background(), msg, true)
}

// sendable refuses a message the socket type cannot send.
func (s *Socket) sendable(msg [][]byte) error {
	switch {
	case len(msg) == 0:
		return ErrEmptyMessage
	case len(msg) > 1 && s.kind.singleFrame:
		return ErrMultipart
	}
	return nil
}

// Recv returns the next message, blocking until one arrives or ctx ends.
// The message is the caller's: nothing in the socket writes to its memory
// again. From a connection without encryption, a message of up to 1 KiB
// that arrives among others is not copied: its body is a slice of the
// connection's read buffer (32 KiB), shared with the messages read around
// it, and its frame slice (24 octets a frame) comes from a block shared
// likewise. Keeping such a message keeps its read buffer alive, so a
// program that keeps a few small messages out of many it drops should
// copy them (or receive with RecvInto). Once the collector finds none of
// a buffer's messages left, the buffer is read into again instead of new
// memory: a stream of messages the caller drops soon after receiving
// costs about 30 octets of new memory per 64-octet message and 280 per 1
// KiB one (an encrypted connection copies such bodies into shared
// blocks). A message read on its own (the connection is not busy), or
// larger than 1 KiB, costs one allocation of its size, a multipart one a
// block for all its frames. A ROUTER puts the routing id in front, in a
// new frame slice (cut from shared blocks for messages of up to 1 KiB).
// RecvInto allocates nothing.
func (s *Socket) Recv(ctx context.Context) (Message, error) {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if s.isClosed() {
		return Message{}, ErrClosed
	}
	m, p, err := s.rule.recv(ctx, false)
	if err != nil {
		return Message{}, err
	}
	return s.message(m, p), nil
}

// TryRecv is Recv that returns ErrWouldBlock instead of blocking.
func (s *Socket) TryRecv() (Message, error) {
	// A Recv waiting for a message holds the receive side: that is a
	// wait too.
	if !s.recvMu.TryLock() {
		return Message{}, ErrWouldBlock
	}
	defer s.recvMu.Unlock()
	if s.isClosed() {
		return Message{}, ErrClosed
	}
	m, p, err := s.rule.recv(context.Background(), true)
	if err != nil {
		return Message{}, err
	}
	return s.message(m, p), nil
}

func (s *Socket) isClosed() bool { return s.closing.Load() }

// RecvInto is Recv that reuses m: the frames are copied into the memory
// m.Frames already has, growing it only when a frame does not fit, and the
// memory the socket received them in goes back to the socket for later
// messages. A program that receives into the same Message again and again
// allocates nothing per message in steady state, for single-frame
// messages of up to 1 MiB, whatever the number of messages queued as long
// as they hold under 4 MiB, on PUSH/PULL, PAIR, DEALER and SUB sockets;
// REQ, REP and ROUTER build envelopes around what they receive and
// recycle nothing.
// It costs a copy per message. m.Frames is valid until m is passed to
// RecvInto again.
func (s *Socket) RecvInto(ctx context.Context, m *Message) error {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	in, p, err := s.rule.recv(ctx, false)
	if err != nil {
		return err
	}
	got := s.message(in, p)
	m.Frames = copyFrames(m.Frames, got.Frames)
	m.Metadata, m.Group, m.RoutingID = got.Metadata, got.Group, got.RoutingID
	if p != nil {
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

// recycle keeps the memory of a message that a connection's reader made
// and the routing rule returned untouched, so that the reader can receive
// into it again; s.recvMu is held. Messages of inproc peers are never
// recycled: their memory came from the sending application.
func (s *Socket) recycle(in [][]byte, p *pipe) {
	if !s.kind.recycles || p.twin != nil || len(in) != 1 || cap(in[0]) > maxRecycleLarge {
		return // the rule may have built a new message around the received one
	}
	// A large message goes back at once, not after a batch's worth.
	if s.freeing = append(s.freeing, in); len(s.freeing) >= recycleBatch || cap(in[0]) > maxRecycleSize {
		s.free.put(s.freeing)
		s.freeing = s.freeing[:0]
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
	s.attachLocked(p)
	return true
}

// attachLocked makes p routable; s.mu is held.
func (s *Socket) attachLocked(p *pipe) {
	p.attached = true
	// Copy on write: senders and receivers hold snapshots.
	s.pipes = append(s.pipes[:len(s.pipes):len(s.pipes)], p)
	s.publish()
	s.rule.attached(p)
	s.wakeOut()
	s.wakeIn()
}

// admission is a routing rule's answer to a new peer.
type admission int

const (
	admitted admission = iota // routable
	refused                   // closed (a second PAIR peer)
	waiting                   // kept, not routable (a ROUTER peer whose id is taken)
)

// attachPeer makes p routable once its handshake has succeeded, unless
// the rule refuses it or keeps it waiting.
func (s *Socket) attachPeer(p *pipe) admission {
	s.mu.Lock()
	if p.attached {
		s.mu.Unlock()
		return admitted
	}
	if !s.closed {
		if ad := s.rule.admit(p); ad != admitted {
			s.mu.Unlock()
			return ad
		}
	}
	s.mu.Unlock()
	if !s.attach(p) {
		return refused
	}
	return admitted
}

// pipeGone is called when p will see no more connections. It stops being
// routable; messages it received stay readable until taken, and those
// queued for the peer are discarded (and counted), also when p was
// marked gone before (a Connect refused for good, or ended by Disconnect).
func (s *Socket) pipeGone(p *pipe) {
	if p.twin == nil {
		s.lose(p.out.discard(true))
	}
	if p.gone.Swap(true) {
		// The receive path found it gone: once drained, it is detached
		// (waking the socket without detaching would have every later
		// receive find it again and spin).
		if p.in.len() == 0 {
			s.detach(p)
		}
		return
	}
	if p.in.len() == 0 { // a batch being received counts as held
		s.detach(p)
	}
	s.wakeIn()
}

// detach makes p unroutable. Messages it already received stay readable
// until taken: detach is called by the receive path once p is empty.
func (s *Socket) detach(p *pipe) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.attached {
		s.rule.forget(p) // it may have been waiting for admission
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
	s.rule.detached(p)
	s.wakeIn()
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

// connConfig returns the settings of the socket's next connection.
func (s *Socket) connConfig() ConnConfig {
	o := s.options()
	return ConnConfig{
		SocketType:        string(s.typ),
		Identity:          o.RoutingID,
		Mechanism:         o.Mechanism,
		HandshakeTimeout:  o.handshakeTimeout(),
		HeartbeatInterval: o.HeartbeatInterval,
		HeartbeatTTL:      o.HeartbeatTTL,
		HeartbeatTimeout:  o.HeartbeatTimeout,
		MaxMessageSize:    o.MaxMessageSize,
		RefuseLegacy:      o.RefuseLegacy,
		Logger:            o.Logger,
		leaseIdle:         s.leaseIdle,
	}
}

// Close closes the socket: it stops listening at once, then delivers the
// messages still queued, on connections that are up and on those still
// being made (a Connect whose peer is not there yet, a handshake, a
// reconnection), for as long as Linger allows, and finally closes every
// connection and waits for the socket's goroutines to end. With the
// default Linger (LingerForever) it waits until everything is delivered;
// CloseContext bounds the wait with a context.
//
// Close returns nil when nothing was left undelivered, or an
// *UndeliveredError that counts the messages it discarded. It is
// idempotent: later calls return nil.
func (s *Socket) Close() error { return s.CloseContext(context.Background()) }

// CloseContext is Close whose wait for delivery also ends when ctx does.
func (s *Socket) CloseContext(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.closing.Store(true)
	close(s.closeCh)
	s.wakeIn()
	s.wakeOut()
	eps := make([]*endpoint, 0, len(s.endpoints))
	for _, ep := range s.endpoints {
		eps = append(eps, ep)
	}
	s.endpoints = map[string]*endpoint{}
	s.mu.Unlock()
	// Listeners stop at once; connections and dialers go on delivering.
	for _, ep := range eps {
		if ep.ln != nil {
			ep.ln.Close()
		}
	}
	s.linger(ctx, eps)
	pipes := s.networkPipes(eps)
	s.cancel()
	for _, ep := range eps {
		ep.close()
		s.emit(Event{Type: EventClosed, Endpoint: ep.addr})
	}
	s.wg.Wait()
	s.stopMonitors()
	// Writers have written or given up what they held; what was never
	// taken is discarded now.
	for _, p := range pipes {
		s.lose(p.out.discard(true))
	}
	if left := int(s.lostOnClose.Load()); left > 0 {
		return &UndeliveredError{Messages: left}
	}
	return nil
}

// linger waits until every message queued for a network peer is written,
// Linger runs out or ctx ends.
func (s *Socket) linger(ctx context.Context, eps []*endpoint) {
	d := s.options().linger()
	if d == 0 || s.undelivered(eps) == 0 {
		return
	}
	var expired <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	for s.undelivered(eps) > 0 {
		select {
		case <-s.writable: // a writer wrote, or a pipe went
		case <-expired:
			return
		case <-ctx.Done():
			return
		}
	}
	// Everything is written, but a peer may not have read all of it from
	// its socket yet; closing then can lose it (a libzmq peer that paused
	// reading drops an ipc connection that hangs up). Such connections are
	// half-closed: the peer reads the rest, then the end, and closes.
	for _, c := range s.unreadConns(eps) {
		select {
		case <-c.Done():
		case <-expired:
			return
		case <-ctx.Done():
			return
		}
	}
}

// unreadConns half-closes, and returns, the connections whose peer has
// not read everything written to it.
func (s *Socket) unreadConns(eps []*endpoint) []*Conn {
	var out []*Conn
	for _, e := range eps {
		e.mu.Lock()
		for c := range e.conns {
			if n, ok := unsent(c.nc); ok && n > 0 {
				if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
					out = append(out, c)
				}
			}
		}
		e.mu.Unlock()
	}
	return out
}

// undelivered counts the messages queued for network peers, in queues and
// in writers' hands, on the socket's pipes and those of its Connects.
// Messages queued for an inproc peer are already the peer's to read.
func (s *Socket) undelivered(eps []*endpoint) int {
	n := 0
	for _, p := range s.networkPipes(eps) {
		n += p.out.len()
	}
	return n
}

// networkPipes returns the socket's pipes to network peers that are not
// gone: the routable ones and those of its Connects.
func (s *Socket) networkPipes(eps []*endpoint) []*pipe {
	var out []*pipe
	seen := map[*pipe]bool{}
	add := func(p *pipe) {
		if p == nil || p.twin != nil || p.gone.Load() || seen[p] {
			return
		}
		seen[p] = true
		out = append(out, p)
	}
	for _, p := range s.snapshot() {
		add(p)
	}
	for _, e := range eps {
		e.mu.Lock()
		p := e.pipe
		e.mu.Unlock()
		add(p)
	}
	return out
}

// waitOn blocks until ch is signalled, ctx ends or the socket closes. It
// does not wait on a socket whose every endpoint has failed for good: it
// returns why instead.
func (s *Socket) waitOn(ctx context.Context, ch chan struct{}) error {
	if err := s.hopeless(); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closeCh:
		return ErrClosed
	}
}

// wouldBlock is what a Try call that cannot proceed returns: why nothing
// can ever move when every endpoint has given up, else ErrWouldBlock.
func (s *Socket) wouldBlock() error {
	if err := s.hopeless(); err != nil {
		return err
	}
	return ErrWouldBlock
}

// hopeless returns why no message can ever move: every endpoint of the
// socket has failed for good. It is nil while any endpoint lives (or the
// socket has none yet).
func (s *Socket) hopeless() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.endpoints) == 0 {
		return nil
	}
	var errs []error
	for _, e := range s.endpoints {
		if e.failed == nil {
			return nil
		}
		errs = append(errs, e.failed)
	}
	return errors.Join(errs...)
}

// Err reports what stops the socket's endpoints from working: each
// Connect that gave up for good (its peer refused us: authentication, an
// incompatible socket type or mechanism; or its connection ended with
// reconnection off) and each Connect whose last handshake failed while it
// goes on retrying (a wrong CURVE server key, say), as *EndpointError
// values joined. It is nil when every endpoint is up or merely waiting for
// its peer. Once every endpoint has given up, Send, Recv and their Try
// forms return the same error instead of waiting.
func (s *Socket) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range s.endpoints {
		switch {
		case e.failed != nil:
			errs = append(errs, e.failed)
		case e.lastErr != nil:
			errs = append(errs, &EndpointError{Endpoint: e.addr, Err: e.lastErr, Retrying: true})
		}
	}
	return errors.Join(errs...)
}

// String names the socket's type.
func (s *Socket) String() string { return fmt.Sprintf("zmtp.Socket(%s)", s.typ) }

// recvDirect lets a Recv that would wait for a message read it from the
// connection itself, when the socket type allows it and the socket has a
// single peer, connected (see leaseReader); s.recvMu is held. It reports
// whether it held the connection's read lease: the caller then looks at
// the pipes again. It returns when a message was handed over, or ctx
// ends, or the socket closes or gets another pipe or message to look at.
func (s *Socket) recvDirect(ctx context.Context, pipes []*pipe) bool {
	if !s.kind.direct || len(pipes) != 1 || pipes[0].twin != nil {
		return false
	}
	c := pipes[0].conn.Load()
	if c == nil || ctx.Err() != nil || s.isClosed() || !c.takeLease() {
		return false
	}
	s.direct.Store(c)
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, c.interruptRecv)
	}
	// What happened before s.direct was stored interrupted nobody: the
	// caller waits as usual instead.
	ok := len(s.snapshot()) == 1 && !s.isClosed() && ctx.Err() == nil
	if ok {
		c.readDirect()
	} else {
		c.releaseLease(false)
	}
	s.direct.Store(nil)
	if stop != nil {
		stop()
	}
	return ok
}

// reclaimLease gives the read lease of the socket's connections back to
// their reader goroutines if a Recv left it free: a caller that waits for
// a message without reading it itself (TryRecv, a Poller) must not wait
// for the lease's idle time to pass before anything is read.
func (s *Socket) reclaimLease() {
	if !s.kind.direct {
		return
	}
	for _, p := range s.snapshot() {
		if c := p.conn.Load(); c != nil {
			c.reclaimLease()
		}
	}
}
