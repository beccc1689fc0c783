package zmtp

import (
	"sync"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/frame"
)

// pipe is a socket's link to one peer: a queue each way that outlives any
// one connection (a connecting socket keeps its pipe across reconnects),
// the peer's routing id and metadata. It is the session of each of its
// connections: the only thing of the socket a connection sees.
type pipe struct {
	s   *Socket
	out *queue // to the peer, SNDHWM long
	in  *queue // from the peer, RCVHWM long

	// outReady wakes a STREAM connection's writer; inRoomCh a connection's
	// reader. Nil for inproc pipes, which have no connection.
	outReady, inRoomCh chan struct{}

	conn     atomic.Pointer[Conn] // current connection; nil while down
	info     atomic.Pointer[peerInfo]
	gone     atomic.Bool // no connection will come any more
	attached bool        // guarded by s.mu: routable

	id []byte // routing id at a ROUTER; guarded by s.mu
	// idFrame is id, for the receive path to read without s.mu: the
	// frame a ROUTER puts in front of each message from the peer.
	idFrame atomic.Pointer[[]byte]
	fixedID []byte // ConnectOptions.RoutingID: the id to give this peer
	// rid is the peer's routing id at a SERVER or PEER (route_draft.go),
	// set before the pipe is routable and kept after.
	rid    atomic.Uint32
	dialed bool // made by a Connect (else accepted)
	// datagram: a udp pipe, which has no connection (transport_udp.go).
	datagram bool

	pubMark  uint64 // PUB: the send that last matched this peer (under Socket.sendMu)
	subsSent *Conn  // SUB, DISH: the connection that has every subscription or group (under the rule's mu)

	// Messages taken from in and not yet returned by tryRecv: ahead[next:].
	// Under Socket.recvMu.
	ahead [][][]byte
	next  int
	held  bool // ahead is held in the queue until returned

	// twin is the other end of an inproc pipe: its out is our in and its
	// in our out. Nil for network pipes.
	twin *pipe
}

// peerInfo is what the handshake told us about the peer.
type peerInfo struct {
	md    frame.Metadata
	minor int
}

// newPipe returns a network pipe with the socket's current high-water
// marks.
func newPipe(s *Socket) *pipe {
	o := s.options()
	p := &pipe{s: s, inRoomCh: make(chan struct{}, 1)}
	if s.kind.raw {
		p.outReady = make(chan struct{}, 1)
	}
	p.out = newQueue(o.sendHWM(), o.Conflate, p.wakeWriter, s.wakeOut)
	p.in = newQueue(o.recvHWM(), o.Conflate, func() { s.wakeInFrom(p.conn.Load()) }, func() { signal(p.inRoomCh) })
	p.in.lowWater = true
	return p
}

// setID gives the pipe its routing id at a ROUTER (nil: none); s.mu is
// held.
func (p *pipe) setID(id []byte) {
	p.id = id
	if id == nil {
		p.idFrame.Store(nil)
	} else {
		p.idFrame.Store(&id)
	}
}

// metadata returns the peer's metadata, or nil before any handshake.
func (p *pipe) metadata() frame.Metadata {
	if i := p.info.Load(); i != nil {
		return i.md
	}
	return nil
}

// minor returns the peer's negotiated ZMTP minor version (1 before any
// handshake: commands are queued and converted when needed).
func (p *pipe) minor() int {
	if i := p.info.Load(); i != nil {
		return i.minor
	}
	return 1
}

// trySend queues msg for the peer without blocking. With Conflate it
// replaces whatever is queued.
func (p *pipe) trySend(msg [][]byte) bool { return p.out.push(msg) }

// tryRecv takes a message from the peer without blocking; the socket's
// recvMu is held. From a connection, messages leave the queue in batches,
// with one lock and one wake-up of the reader for up to recvBatch of them
// (and at most half the high-water mark, as libzmq wakes its writer at the
// low-water mark): the batch counts against the high-water mark until its
// last message is returned. An inproc sender sees room at once.
func (p *pipe) tryRecv() ([][]byte, bool) {
	if p.next == len(p.ahead) && p.in.empty() {
		return nil, false
	}
	if p.twin != nil {
		return p.in.pop()
	}
	if p.next == len(p.ahead) {
		p.ahead, p.held = p.in.takeHalf(p.ahead[:0], recvBatch)
		p.next = 0
		if len(p.ahead) == 0 {
			return nil, false
		}
	}
	m := p.ahead[p.next]
	if p.next++; p.next == len(p.ahead) {
		// The batch is done: let go of its messages at once.
		clear(p.ahead)
		if p.held {
			p.in.release(len(p.ahead))
		}
	}
	return m, true
}

// hasQueued reports whether tryRecv would return a message; the socket's
// recvMu is held.
func (p *pipe) hasQueued() bool {
	return p.next < len(p.ahead) || !p.in.empty()
}

// headWhere reports whether the next message tryRecv would return is one
// keep accepts, dropping those before it that keep rejects (as the queue's
// headWhere does); the socket's recvMu is held.
func (p *pipe) headWhere(keep func([][]byte) bool) bool {
	for p.next < len(p.ahead) {
		if keep(p.ahead[p.next]) {
			return true
		}
		p.tryRecv() // dropped
	}
	return p.in.headWhere(keep)
}

// recvBatch is the most messages a socket takes from a pipe's queue at
// once.
const recvBatch = 32

// sendCommand sends a command to the peer on its current connection, if
// any, without blocking. Commands are not queued across reconnects: the
// socket replays its state (subscriptions) on each new connection.
func (p *pipe) sendCommand(cmd frame.Command) {
	if c := p.conn.Load(); c != nil {
		c.queueCommand(cmd)
	} else if t := p.twin; t != nil {
		t.s.rule.onCommand(t, cmd)
	}
}

// The session interface, for the pipe's connections.

func (p *pipe) queues() (out, in *queue)  { return p.out, p.in }
func (p *pipe) inRoom() <-chan struct{}   { return p.inRoomCh }
func (p *pipe) command(cmd frame.Command) { p.s.rule.onCommand(p, cmd) }
func (p *pipe) intercept(m [][]byte) bool { return p.s.rule.intercept(p, m) }
func (p *pipe) lost(n int)                { p.s.lose(n) }
func (p *pipe) buffers() *sync.Pool       { return &p.s.batches }
func (p *pipe) wakeRecv()                 { signal(p.s.readable) }

// recycled is the socket's store of memory to receive into; nil for the
// types that build envelopes around what they receive and give nothing
// back, so that their readers do not look for it at every message.
func (p *pipe) recycled() *recycler {
	if !p.s.kind.recycles {
		return nil
	}
	return &p.s.free
}

// ready stores the peer's metadata, which must be in place before its
// first message can be received, since each Message carries it, and makes
// c the connection whose writer new messages wake.
func (p *pipe) ready(c *Conn) {
	p.info.Store(&peerInfo{md: c.PeerMetadata(), minor: int(c.minor)})
	p.conn.Store(c)
}

// wakeWriter tells the writer of the pipe's connection that a message is
// queued.
func (p *pipe) wakeWriter() {
	if c := p.conn.Load(); c != nil {
		c.kick(true)
	} else if p.outReady != nil {
		signal(p.outReady)
	}
}
