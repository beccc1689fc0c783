package zmtp

import (
	"sync"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/frame"
)

// pipe is a socket's link to one peer: a bounded queue each way that
// outlives any one connection (a connecting socket keeps its pipe across
// reconnects), the peer's routing id and metadata, and its subscriptions.
type pipe struct {
	s   *Socket
	out chan [][]byte // to the peer, SNDHWM long
	in  chan [][]byte // from the peer, RCVHWM long

	conn     atomic.Pointer[Conn] // current connection; nil while down
	info     atomic.Pointer[peerInfo]
	gone     atomic.Bool // no connection will come any more
	attached bool        // guarded by s.mu: routable

	id      []byte // routing id at a ROUTER; guarded by s.mu
	fixedID []byte // ConnectOptions.RoutingID: the id to give this peer

	subMu sync.Mutex
	subs  trie // the peer's subscriptions (PUB, XPUB)

	// conflate: out keeps only the newest message (ZMQ_CONFLATE).
	conflate bool

	// twin is the other end of an inproc pipe: its out is our in and its
	// in our out. Nil for network pipes.
	twin *pipe
}

// peerInfo is what the handshake told us about the peer.
type peerInfo struct {
	md    frame.Metadata
	minor int
}

func newPipe(s *Socket) *pipe {
	return &pipe{
		s:        s,
		out:      make(chan [][]byte, s.opts.SendHWM),
		in:       make(chan [][]byte, s.opts.RecvHWM),
		conflate: s.opts.Conflate,
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
func (p *pipe) trySend(msg [][]byte) bool {
	if p.conflate {
		replaceNewest(p.out, msg)
		if p.twin != nil {
			signal(p.twin.s.readable)
		}
		return true
	}
	select {
	case p.out <- msg:
		if p.twin != nil {
			signal(p.twin.s.readable)
		}
		return true
	default:
		return false
	}
}

// tryRecv takes a message from the peer without blocking.
func (p *pipe) tryRecv() ([][]byte, bool) {
	select {
	case m := <-p.in:
		if p.twin != nil {
			signal(p.twin.s.writable)
		}
		return m, true
	default:
		return nil, false
	}
}

// sendCommand sends a command to the peer on its current connection, if
// any. Commands are not queued across reconnects: the socket replays its
// state (subscriptions) on each new connection.
func (p *pipe) sendCommand(cmd frame.Command) {
	if c := p.conn.Load(); c != nil {
		c.queueCommand(cmd)
	} else if t := p.twin; t != nil {
		t.s.rt.onCommand(t, cmd)
	}
}
