package zmtp

import (
	"context"
	"fmt"

	"github.com/zmtp-go/zmtp/frame"
)

// The draft socket types of RFC 41 (CLIENT, SERVER), RFC 49 (SCATTER,
// GATHER), RFC 51 (PEER) and RFC 52 (CHANNEL). They send and receive
// single-frame messages only: Send refuses a message of several frames
// with ErrMultipart, and a multipart message from a peer is dropped as it
// arrives (counted in Dropped), as libzmq drops it, the connection kept.
const (
	// Client load-balances its messages over its SERVER peers and
	// fair-queues theirs (RFC 41).
	Client SocketType = frame.SocketClient
	// Server fair-queues the messages of its CLIENT peers, each received
	// with the sender's Message.RoutingID, and sends to one peer by
	// routing id with SendTo (RFC 41).
	Server SocketType = frame.SocketServer
	// Scatter load-balances its messages over its GATHER peers (RFC 49).
	Scatter SocketType = frame.SocketScatter
	// Gather fair-queues the messages of its SCATTER peers (RFC 49).
	Gather SocketType = frame.SocketGather
	// Peer is a SERVER among equals: it binds and connects to other
	// PEERs, ConnectPeer returns the routing id of the peer it connects
	// to, and SendTo sends to a peer by routing id (RFC 51).
	Peer SocketType = frame.SocketPeer
	// Channel links two CHANNEL sockets, one peer at a time, as PAIR does
	// (RFC 52).
	Channel SocketType = frame.SocketChannel
)

// dropMultipart drops a multipart message from a peer of a single-frame
// socket type, counting it in Dropped: libzmq's CLIENT, SERVER, GATHER,
// PEER and CHANNEL skip such messages whole, and RFC 41 says they MUST
// be discarded. It reports whether it dropped m.
func dropMultipart(s *Socket, m [][]byte) bool {
	if len(m) <= 1 {
		return false
	}
	s.dropped.Add(1)
	return true
}

// singleRule is CLIENT (load-balance out, fair-queue in), SCATTER
// (load-balance out) and GATHER (fair-queue in).
type singleRule struct {
	basic
}

func newSingleRule(s *Socket, canSend, canRecv bool) *singleRule {
	return &singleRule{basic{s: s, canSend: canSend, canRecv: canRecv}}
}

// connected sends nothing: ProbeRouter is for peers of a ROUTER.
func (r *singleRule) connected(p *pipe, c *Conn)           {}
func (r *singleRule) intercept(p *pipe, msg [][]byte) bool { return dropMultipart(r.s, msg) }

// channelRule is CHANNEL: PAIR's one peer at a time, single-frame.
type channelRule struct {
	pairRouter
}

func newChannelRule(s *Socket) *channelRule {
	return &channelRule{pairRouter{basic{s: s, canSend: true, canRecv: true}}}
}

func (r *channelRule) intercept(p *pipe, msg [][]byte) bool { return dropMultipart(r.s, msg) }

// serverRule is SERVER and PEER: every peer gets a routing id of 32 bits,
// never zero, counted up from a random start as libzmq's are and never
// one in use; received messages carry the sender's (Message.RoutingID),
// and SendTo routes by it. A peer that connects keeps its id across
// reconnections of the same Connect.
type serverRule struct {
	noSubscriptions
	admitAll
	s      *Socket
	peer   bool // PEER: ConnectPeer gives the id of the peer connected to
	fq     fairQueue
	byID   map[uint32]*pipe // guarded by s.mu; nil: reserved by ConnectPeer
	nextID uint32
}

func newServerRule(s *Socket, peer bool) *serverRule {
	return &serverRule{s: s, peer: peer, byID: map[uint32]*pipe{}, nextID: rand32()}
}

// newID returns a routing id in use by no peer; s.mu is held.
func (r *serverRule) newID() uint32 {
	for {
		r.nextID++
		if _, taken := r.byID[r.nextID]; r.nextID != 0 && !taken {
			return r.nextID
		}
	}
}

// attached registers p under its routing id: the one ConnectPeer reserved
// for it, or a new one; s.mu is held.
func (r *serverRule) attached(p *pipe) {
	id := p.rid.Load()
	if q, taken := r.byID[id]; id == 0 || taken && q != nil && q != p {
		id = r.newID()
		p.rid.Store(id)
	}
	r.byID[id] = p
}

// detached frees p's routing id. The pipe keeps it: messages it received
// before leaving still say who sent them.
func (r *serverRule) detached(p *pipe) {
	if id := p.rid.Load(); r.byID[id] == p {
		delete(r.byID, id)
	}
}

func (r *serverRule) connected(p *pipe, c *Conn)           {}
func (r *serverRule) onCommand(p *pipe, cmd frame.Command) {}
func (r *serverRule) intercept(p *pipe, msg [][]byte) bool { return dropMultipart(r.s, msg) }

// readyToSend is always true, as libzmq's SERVER reports: whether a
// message can go depends on the peer it is for.
func (r *serverRule) readyToSend() bool { return true }
func (r *serverRule) readyToRecv() bool { return r.s.anyQueued(nil) }

// send refuses a message without a peer to go to.
func (r *serverRule) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	return fmt.Errorf("%w: a %s sends to one peer with SendTo", ErrNotSupported, r.s.typ)
}

func (r *serverRule) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	return r.fq.recv(ctx, r.s, nonblock, nil)
}

// lookup returns the routable pipe with routing id id, or nil.
func (r *serverRule) lookup(id uint32) *pipe {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.byID[id]
}

// sendTo queues msg for the peer with routing id id, waiting (unless
// nonblock) while that peer's queue is full.
func (r *serverRule) sendTo(ctx context.Context, id uint32, msg [][]byte, nonblock bool) error {
	p := r.lookup(id)
	if p == nil || p.gone.Load() {
		return ErrHostUnreachable
	}
	for !p.trySend(msg) {
		if p.gone.Load() {
			return ErrHostUnreachable
		}
		if nonblock {
			return ErrWouldBlock
		}
		if err := r.s.waitOn(ctx, r.s.writable); err != nil {
			return err
		}
	}
	return nil
}

// reserve returns a routing id for a peer ConnectPeer is about to connect,
// kept from other peers until the Connect's pipe takes it.
func (r *serverRule) reserve() uint32 {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	id := r.newID()
	r.byID[id] = nil
	return id
}

// release frees a reservation whose Connect failed.
func (r *serverRule) release(id uint32) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.byID[id] == nil {
		delete(r.byID, id)
	}
}

// SendTo sends data as a single-frame message to the peer of a SERVER or
// PEER socket whose routing id is id (a received Message's RoutingID, or
// what ConnectPeer returned). It returns ErrHostUnreachable when no peer
// has that id (it never had, or has left), and waits while that peer's
// queue is full, until ctx ends; sends to other peers do not wait for it.
// The socket takes ownership of data. Other socket types return
// ErrNotSupported. SendTo is safe for concurrent use.
func (s *Socket) SendTo(ctx context.Context, id uint32, data []byte) error {
	return s.sendTo(ctx, id, data, false)
}

// TrySendTo is SendTo that returns ErrWouldBlock instead of waiting for
// room in the peer's queue.
func (s *Socket) TrySendTo(id uint32, data []byte) error {
	return s.sendTo(context.Background(), id, data, true)
}

func (s *Socket) sendTo(ctx context.Context, id uint32, data []byte, nonblock bool) error {
	r, ok := s.rule.(*serverRule)
	if !ok {
		return fmt.Errorf("%w: SendTo is for SERVER and PEER sockets", ErrNotSupported)
	}
	if s.isClosed() {
		return ErrClosed
	}
	return r.sendTo(ctx, id, [][]byte{data}, nonblock)
}

// ConnectPeer connects a PEER socket to another PEER at ep, as Connect
// does, and returns the routing id that peer has here, for SendTo
// (zmq_connect_peer). Messages sent to it before the connection is up are
// queued for it; over inproc, the peer must have bound first for them to
// be accepted. It fails with ErrNotSupported on other socket types and
// when Immediate is set (the peer needs a routing id before it connects).
func (s *Socket) ConnectPeer(ep string) (uint32, error) {
	r, ok := s.rule.(*serverRule)
	if !ok || !r.peer {
		return 0, fmt.Errorf("%w: ConnectPeer is for PEER sockets", ErrNotSupported)
	}
	if s.options().Immediate {
		return 0, fmt.Errorf("%w: ConnectPeer with Immediate set", ErrNotSupported)
	}
	id := r.reserve()
	if err := s.connect(ep, ConnectOptions{}, id); err != nil {
		r.release(id)
		return 0, err
	}
	return id, nil
}
