package zmtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/frame"
)

// errHandedOver ends a ROUTER's connection whose Identity a newer peer
// took over (RouterHandover).
var errHandedOver = errors.New("zmtp: routing id handed over to a new peer")

// reqRouter is REQ (RFC 28): DEALER routing with an envelope and a strict
// send-receive alternation.
type reqRouter struct {
	basic
	// out is the request out, nil when none is (its reply received):
	// Send sets it (under the socket's send lock), Recv clears it (under
	// the receive lock), and a Recv's filter and Pollers read it, which
	// with ReqRelaxed may happen while a Send replaces it.
	out    atomic.Pointer[reqOut]
	nextID uint32 // the last request id with ReqCorrelate; Send only
}

// reqOut is a request sent: the pipe it went to and its id.
type reqOut struct {
	to *pipe
	id uint32
}

func (r *reqRouter) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	if r.out.Load() != nil && !r.s.options().ReqRelaxed {
		return ErrState
	}
	env := make([][]byte, 0, len(msg)+2)
	id := r.nextID
	if r.s.options().ReqCorrelate {
		id++
		env = append(env, binary.BigEndian.AppendUint32(nil, id))
	}
	env = append(env, []byte{})
	env = append(env, msg...)
	p, err := r.lb.send(ctx, r.s, env, nonblock)
	if err != nil {
		return err
	}
	r.nextID = id
	r.out.Store(&reqOut{to: p, id: id})
	return nil
}

func (r *reqRouter) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	if r.out.Load() == nil {
		return nil, nil, ErrState
	}
	var answered *reqOut
	m, p, err := r.fq.recv(ctx, r.s, nonblock, func(p *pipe, m [][]byte) bool {
		// Replies from other peers, to other requests, and malformed
		// ones, are dropped.
		o := r.out.Load()
		if o == nil || p != o.to || !r.envelopeOK(m, o.id) {
			return false
		}
		answered = o
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	// A request sent meanwhile (ReqRelaxed) stays out.
	r.out.CompareAndSwap(answered, nil)
	skip := 1
	if r.s.options().ReqCorrelate {
		skip = 2
	}
	return m[skip:], p, nil
}

func (r *reqRouter) readyToRecv() bool {
	o := r.out.Load()
	if o == nil || o.to == nil {
		return false
	}
	return o.to.headWhere(func(m [][]byte) bool { return r.envelopeOK(m, o.id) })
}

func (r *reqRouter) readyToSend() bool {
	return (r.out.Load() == nil || r.s.options().ReqRelaxed) && r.s.anyRoom(false)
}

// envelopeOK reports whether m is a well-formed reply to request id.
func (r *reqRouter) envelopeOK(m [][]byte, id uint32) bool {
	if r.s.options().ReqCorrelate {
		return len(m) >= 3 && len(m[0]) == 4 && binary.BigEndian.Uint32(m[0]) == id && len(m[1]) == 0
	}
	return len(m) >= 2 && len(m[0]) == 0
}

// idRouter is ROUTER: every peer has a routing id; received messages are
// prefixed with the sender's and sent ones are routed by their first frame.
type idRouter struct {
	noSubscriptions
	s       *Socket
	fq      fairQueue
	byID    map[string]*pipe   // guarded by s.mu
	waiting map[string][]*pipe // peers whose id was taken, oldest first; guarded by s.mu
	second  map[string]*pipe   // the other connection of a peer linked both ways; guarded by s.mu
	nextID  uint32
	envs    [][]byte // the rest of the block envelopes are cut from; under s.recvMu
	slots   bool     // messages from connections come with a free first frame (see slotted)
}

func newIDRouter(s *Socket) *idRouter {
	return &idRouter{s: s, byID: map[string]*pipe{}, waiting: map[string][]*pipe{}, second: map[string]*pipe{},
		nextID: rand32(), slots: !s.kind.raw}
}

// slotted reports whether the messages received from p start with a frame
// its connection's reader left free for the routing id (see
// pipe.envelopeSlot): those of ZMTP connections do, so that receiving one
// costs no new envelope; those of inproc peers (the sending application's
// frames) and of STREAM's raw connections do not.
func (r *idRouter) slotted(p *pipe) bool { return r.slots && p.twin == nil }

// envelopeSlot tells p's connection whether to leave the first frame of
// each message it receives free: for the ROUTER (see idRouter.slotted).
func (p *pipe) envelopeSlot() bool {
	r, ok := p.s.rule.(*idRouter)
	return ok && r.slotted(p)
}

// admit gives p its routing id: the peer's Identity (whatever its first
// octet, as libzmq), or a generated one made like libzmq's, a zero octet
// and a 32-bit counter, never one in use. A peer whose Identity is taken
// takes it over with RouterHandover; without, it is kept connected but
// unroutable, its messages unread, until the id is free again (libzmq
// keeps such a peer too).
func (r *idRouter) admit(p *pipe) admission {
	id, _ := p.metadata().Lookup(frame.PropIdentity)
	if len(p.fixedID) > 0 {
		id = p.fixedID
	}
	if len(id) > 0 {
		p.setID(append([]byte(nil), id...))
		if old, taken := r.byID[string(id)]; taken && old != p {
			if r.bothWays(old, p) {
				// Two ROUTERs that bind and connect to each other (the
				// Guide's peering): we route over the first connection,
				// as libzmq does, but read both, so that nothing the peer
				// routed over the other one is lost.
				r.second[string(id)] = p
				return admitted
			}
			if !r.s.options().RouterHandover {
				r.waiting[string(id)] = append(r.waiting[string(id)], p)
				return waiting
			}
			delete(r.byID, string(id))
			old.setID(nil)
			if c := old.conn.Load(); c != nil {
				c.fail(errHandedOver)
			}
		}
	} else {
		for {
			r.nextID++
			p.setID(binary.BigEndian.AppendUint32([]byte{0}, r.nextID))
			if _, taken := r.byID[string(p.id)]; !taken {
				break
			}
		}
	}
	r.byID[string(p.id)] = p
	return admitted
}

func (r *idRouter) attached(p *pipe) {
	if p.id == nil {
		r.admit(p)
	}
}

// bothWays reports whether old and p link us to one peer both ways: one
// connection made by us and one by the peer, and routing ids on both ends.
func (r *idRouter) bothWays(old, p *pipe) bool {
	own := r.s.options().RoutingID
	return len(own) > 0 && old.dialed != p.dialed && old.twin == nil && p.twin == nil &&
		r.second[string(p.id)] == nil && !bytes.Equal(own, p.id)
}

// detached frees p's id: the other connection of a link both ways, or the
// oldest peer waiting for it, takes it.
func (r *idRouter) detached(p *pipe) {
	if p.id == nil {
		return
	}
	id := string(p.id)
	if r.second[id] == p {
		delete(r.second, id)
		return
	}
	if r.byID[id] != p {
		return
	}
	delete(r.byID, id)
	if q := r.second[id]; q != nil {
		delete(r.second, id)
		r.byID[id] = q
		return
	}
	for len(r.waiting[id]) > 0 {
		next := r.waiting[id][0]
		r.forget(next)
		if !next.gone.Load() {
			r.byID[id] = next
			r.s.attachLocked(next)
			break
		}
	}
}

// forget drops p from the peers waiting for an id; s.mu is held.
func (r *idRouter) forget(p *pipe) {
	if p.id == nil {
		return
	}
	list := r.waiting[string(p.id)]
	for i, q := range list {
		if q == p {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.waiting, string(p.id))
	} else {
		r.waiting[string(p.id)] = list
	}
}

func (r *idRouter) connected(p *pipe, c *Conn) {
	if r.s.options().ProbeRouter {
		p.trySend([][]byte{{}})
	}
}
func (r *idRouter) onCommand(p *pipe, cmd frame.Command) {}
func (r *idRouter) intercept(p *pipe, msg [][]byte) bool { return false }

func (r *idRouter) readyToRecv() bool { return r.s.anyQueued(nil) }
func (r *idRouter) readyToSend() bool {
	return !r.s.options().RouterMandatory || r.s.anyRoom(false)
}

func (r *idRouter) lookup(id []byte) *pipe {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.byID[string(id)]
}

func (r *idRouter) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	p := r.lookup(msg[0])
	mandatory := r.s.options().RouterMandatory
	if p == nil || p.gone.Load() {
		if mandatory {
			return ErrHostUnreachable
		}
		r.s.dropped.Add(1)
		return nil // dropped, as libzmq does
	}
	if len(msg) == 1 {
		return nil // an id with no body sends nothing
	}
	if p.trySend(msg[1:]) {
		return nil
	}
	if !mandatory {
		r.s.dropped.Add(1)
		return nil // full: dropped, as libzmq does
	}
	if nonblock {
		return ErrWouldBlock
	}
	for {
		if err := r.s.waitOn(ctx, r.s.writable); err != nil {
			return err
		}
		if p.gone.Load() {
			return ErrHostUnreachable
		}
		if p.trySend(msg[1:]) {
			return nil
		}
	}
}

func (r *idRouter) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	m, p, err := r.fq.recv(ctx, r.s, nonblock, nil)
	if err != nil {
		return nil, nil, err
	}
	if r.slotted(p) {
		// m[0] is free (nil): it becomes the routing id, in place.
		if id := p.idFrame.Load(); id != nil {
			m[0] = *id
		}
		return m, p, nil
	}
	out := r.envelope(m)
	if id := p.idFrame.Load(); id != nil {
		out[0] = *id
	}
	if len(m) == 1 {
		out[1] = m[0]
	} else {
		copy(out[1:], m)
	}
	return out, p, nil
}

// Envelopes of the small messages of inproc peers are cut from one block: a ROUTER receiving
// many of them pays an allocation every envSlab/2 messages, not one each.
// A block lives as long as any of its envelopes, and with them the
// bodies of the others: hence only for messages of up to maxSlabbed
// octets, so that one envelope kept pins at most envSlab/2 KiB.
const envSlab = 128

// envelope returns a slice of len(m)+1 frames for m with its routing id;
// s.recvMu is held.
func (r *idRouter) envelope(m [][]byte) [][]byte {
	n := len(m) + 1
	size := 0
	for _, f := range m {
		size += len(f)
	}
	if n > envSlab/8 || size > maxSlabbed {
		return make([][]byte, n)
	}
	if len(r.envs) < n {
		r.envs = make([][]byte, envSlab)
	}
	out := r.envs[:n:n]
	r.envs = r.envs[n:]
	return out
}

// repRouter is REP (RFC 28): it keeps the envelope of each request and
// puts it on the reply.
type repRouter struct {
	*idRouter
	// pending: a request was received and not yet answered. Recv sets
	// it (under the socket's receive lock) and Send clears it (under
	// the send lock); a Poller reads it under either.
	pending atomic.Bool
	env     [][]byte // routing frames and the delimiter of the request
	from    *pipe
}

func (r *repRouter) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	if r.pending.Load() {
		return nil, nil, ErrState
	}
	var split int
	m, p, err := r.fq.recv(ctx, r.s, nonblock, func(_ *pipe, m [][]byte) bool {
		// Keep requests that have a delimiter followed by a body; drop the
		// others, as libzmq does.
		for i, f := range m {
			if len(f) == 0 {
				split = i + 1
				return split < len(m)
			}
		}
		return false
	})
	if err != nil {
		return nil, nil, err
	}
	r.from = p
	r.env = append(r.env[:0], m[:split]...)
	r.pending.Store(true) // after env and from, which Send reads
	return m[split:], p, nil
}

func (r *repRouter) readyToRecv() bool {
	return !r.pending.Load() && r.s.anyQueued(func(m [][]byte) bool {
		i := slices.IndexFunc(m, func(f []byte) bool { return len(f) == 0 })
		return i >= 0 && i+1 < len(m)
	})
}

func (r *repRouter) readyToSend() bool { return r.pending.Load() }

func (r *repRouter) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	if !r.pending.Load() {
		return ErrState
	}
	out := make([][]byte, 0, len(r.env)+len(msg))
	out = append(append(out, r.env...), msg...)
	from := r.from
	r.pending.Store(false) // after env and from are read: a Recv may now set them
	if from.gone.Load() || !from.trySend(out) {
		r.s.dropped.Add(1) // the requester left, or has no room: dropped, as libzmq does
	}
	return nil
}

// rand32 returns a random starting point for generated routing ids.
func rand32() uint32 { return rand.Uint32() }
