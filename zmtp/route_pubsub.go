package zmtp

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/frame"
)

// pubRouter is PUB and XPUB (RFC 29): each message goes to every peer that
// subscribed to a prefix of its first frame; a peer whose queue is full
// misses it (counted in Socket.Dropped) unless XPubNoDrop is set. XPUB also
// passes subscriptions to the application.
//
// Every peer's subscriptions live in one index: a message is matched once
// and then distributed, and a subscription change never waits for a peer.
type pubRouter struct {
	admitAll
	s    *Socket
	xpub bool
	fq   fairQueue            // XPUB: other messages from subscribers
	subq subQueue             // XPUB: subscription messages for the application
	last atomic.Pointer[pipe] // XPUB_MANUAL: the pipe of the last subscription received

	mu    sync.RWMutex
	index subIndex[*pipe] // every peer's subscriptions

	// Used by send only (sends are serialised by Socket.sendMu).
	gen     uint64
	targets []*pipe
}

func newPubRouter(s *Socket) *pubRouter {
	return &pubRouter{s: s, xpub: s.typ == XPub}
}

func (r *pubRouter) attached(p *pipe) {}

// detached drops the peer's subscriptions; an XPUB tells the application
// about topics nobody subscribes to any more. It runs with s.mu held, so
// nothing here waits.
func (r *pubRouter) detached(p *pipe) {
	var gone [][]byte
	r.mu.Lock()
	r.index.removeAll(p, func(topic []byte, last bool) {
		if last && r.xpub {
			gone = append(gone, append([]byte(nil), topic...))
		}
	})
	r.mu.Unlock()
	for _, t := range gone {
		r.subq.push(subMsg{subscriptionMessage(t, false), p})
	}
	if len(gone) > 0 {
		r.s.wakeIn()
	}
}

func (r *pubRouter) connected(p *pipe, c *Conn) {
	if w := r.s.options().XPubWelcomeMsg; r.xpub && w != nil {
		p.trySend([][]byte{append([]byte(nil), w...)})
	}
}

func (r *pubRouter) onCommand(p *pipe, cmd frame.Command) {
	switch cmd.Name {
	case frame.CmdSubscribe:
		r.subscription(p, cmd.Data, true)
	case frame.CmdCancel:
		r.subscription(p, cmd.Data, false)
	}
}

// intercept takes ZMTP 3.0 subscription messages (0x01 or 0x00 and the
// topic). Other messages reach an XPUB application; a PUB drops them.
func (r *pubRouter) intercept(p *pipe, m [][]byte) bool {
	if len(m) == 1 && len(m[0]) > 0 && m[0][0] <= 1 {
		// The message is ours and goes no further: a large topic is kept
		// where it was received rather than copied.
		r.change(p, m[0][1:], m[0][0] == 1, len(m[0]) > adoptTopicSize)
		return true
	}
	return !r.xpub
}

// subscription applies a subscription change from peer p. Its
// subscriptions are a set, as libzmq keeps them: a second SUBSCRIBE of a
// topic changes nothing and one CANCEL removes it.
func (r *pubRouter) subscription(p *pipe, topic []byte, on bool) {
	r.change(p, topic, on, false)
}

// adoptTopicSize is the size from which a topic received in a message of
// its own is stored without a copy.
const adoptTopicSize = 64 << 10

// change applies a subscription change; with adopt the index may keep
// topic itself.
func (r *pubRouter) change(p *pipe, topic []byte, on, adopt bool) {
	o := r.s.options()
	if r.xpub && o.XPubManual {
		// The application decides: pass every subscription up as it is.
		r.tell(p, topic, on)
		return
	}
	tell := false
	r.mu.Lock()
	if on && adopt && !(r.xpub && o.XPubManual) {
		_, first := r.index.adoptOwner(topic, p)
		tell = first || o.XPubVerbose
	} else if on {
		_, first := r.index.addOwner(topic, p)
		tell = first || o.XPubVerbose
	} else {
		_, tell = r.index.removeOwner(topic, p)
	}
	r.mu.Unlock()
	if r.xpub && tell {
		r.tell(p, topic, on)
	}
}

// tell passes a subscription message from p up to the XPUB application.
// A network peer's reader waits while the application has a high-water
// mark's worth of that peer's unread (that peer alone is slowed: the
// others' subscriptions go on); an inproc peer's subscription comes from
// its application's own call, which never waits.
func (r *pubRouter) tell(p *pipe, topic []byte, on bool) {
	if !r.xpub {
		return
	}
	m := subMsg{subscriptionMessage(topic, on), p}
	if limit := r.s.options().recvHWM(); p.twin == nil && limit > 0 {
		var dead <-chan struct{}
		if c := p.conn.Load(); c != nil {
			dead = c.Done()
		}
		for {
			room := r.subq.full(p, limit)
			if room == nil {
				break
			}
			select {
			case <-room:
			case <-dead:
				return
			case <-r.s.closeCh:
				return
			}
		}
	}
	r.subq.push(m)
	r.s.wakeIn()
}

// subscriptionMessage is the message form of a subscription change: 0x01
// (subscribe) or 0x00 (cancel), then the topic.
func subscriptionMessage(topic []byte, on bool) [][]byte {
	flag := byte(0)
	if on {
		flag = 1
	}
	return [][]byte{append([]byte{flag}, topic...)}
}

func (r *pubRouter) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	o := r.s.options()
	r.gen++
	// The list of targets is rewritten only where it differs from the
	// last message's: a stream of messages to the same subscribers
	// writes no pointers (which costs a write barrier each while the
	// collector runs).
	targets := r.targets[:0]
	r.mu.RLock()
	r.index.matchOwners(msg[0], func(p *pipe) {
		if p.pubMark != r.gen {
			p.pubMark = r.gen
			if n := len(targets); n < cap(targets) {
				if targets = targets[:n+1]; targets[n] != p {
					targets[n] = p
				}
			} else {
				targets = append(targets, p)
			}
		}
	})
	r.mu.RUnlock()
	if o.InvertMatching {
		matched := targets
		targets = nil
		for _, p := range r.s.snapshot() {
			if p.pubMark != r.gen {
				targets = append(targets, p)
			}
		}
		clear(matched[:cap(matched)])
		r.targets = matched[:0]
		return distribute(ctx, r.s, targets, msg, r.xpub && o.XPubNoDrop, nonblock)
	}
	// What the last message's list had beyond this one's goes; this
	// one's peers stay listed until the next message (a peer gone
	// meanwhile is held that long).
	clear(targets[len(targets):cap(targets)])
	r.targets = targets[:0]
	return distribute(ctx, r.s, targets, msg, r.xpub && o.XPubNoDrop, nonblock)
}

func (r *pubRouter) readyToRecv() bool {
	return r.xpub && (r.subq.len() > 0 || r.s.anyQueued(nil))
}

func (r *pubRouter) readyToSend() bool {
	return !(r.xpub && r.s.options().XPubNoDrop) || r.s.anyRoom(true)
}

func (r *pubRouter) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	if !r.xpub {
		return nil, nil, ErrNotSupported
	}
	for {
		if m, ok := r.subq.pop(); ok {
			r.last.Store(m.from)
			return m.msg, nil, nil
		}
		m, p, err := r.fq.recv(ctx, r.s, true, nil)
		if err != ErrWouldBlock || nonblock {
			return m, p, err
		}
		if err := r.s.waitOn(ctx, r.s.readable); err != nil {
			return nil, nil, err
		}
	}
}

// manual applies a subscription change to the peer of the last
// subscription message received (XPUB_MANUAL).
func (r *pubRouter) manual(topic []byte, on bool) error {
	p := r.last.Load()
	if p == nil {
		return ErrState
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.index.addOwner(topic, p)
	} else {
		r.index.removeOwner(topic, p)
	}
	return nil
}

// subMsg is a subscription message for an XPUB application and the pipe
// it came from.
type subMsg struct {
	msg  [][]byte
	from *pipe
}

// subQueue holds subscription messages for an XPUB application.
type subQueue struct {
	mu     sync.Mutex
	items  []subMsg
	head   int
	queued map[*pipe]int // the messages in items from each peer
	room   chan struct{} // closed when one is taken, if a peer waits
}

func (q *subQueue) push(m subMsg) {
	q.mu.Lock()
	q.items = append(q.items, m)
	if q.queued == nil {
		q.queued = make(map[*pipe]int)
	}
	q.queued[m.from]++
	q.mu.Unlock()
}

// full returns nil when fewer than limit messages from p are queued, else
// a channel closed once one is taken.
func (q *subQueue) full(p *pipe, limit int) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued[p] < limit {
		return nil
	}
	if q.room == nil {
		q.room = make(chan struct{})
	}
	return q.room
}

func (q *subQueue) pop() (subMsg, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return subMsg{}, false
	}
	m := q.items[q.head]
	q.items[q.head] = subMsg{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		if cap(q.items) > queueKeepCap {
			q.items = nil
		}
	}
	if q.queued[m.from]--; q.queued[m.from] <= 0 {
		delete(q.queued, m.from)
	}
	if q.room != nil {
		close(q.room) // every waiting peer looks again
		q.room = nil
	}
	return m, true
}

func (q *subQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// subRouter is SUB and XSUB (RFC 29): subscriptions go to every peer (as
// SUBSCRIBE/CANCEL commands to ZMTP 3.1 peers and as 0x01/0x00 messages to
// 3.0 peers) and are sent again on every new connection. SUB filters what
// it receives; XSUB passes everything and forwards what it is sent.
type subRouter struct {
	admitAll
	s    *Socket
	xsub bool
	fq   fairQueue

	// mu orders subscription changes and their sending; nothing done
	// under it waits (subscriptions are queued beside the HWM).
	mu   sync.RWMutex
	subs subSet
	// all: the empty topic is subscribed, every message matches; read
	// without mu by each receive.
	all atomic.Bool
}

func newSubRouter(s *Socket) *subRouter {
	return &subRouter{s: s, xsub: s.typ == XSub}
}

func (r *subRouter) attached(p *pipe)                     {}
func (r *subRouter) detached(p *pipe)                     {}
func (r *subRouter) onCommand(p *pipe, cmd frame.Command) {}
func (r *subRouter) intercept(p *pipe, msg [][]byte) bool { return false }

// connected sends the peer every subscription; from then on change sends
// it each new one (not before: it would be sent twice).
func (r *subRouter) connected(p *pipe, c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.subsSent = c
	r.subs.each(func(t []byte) bool {
		sendSubscription(p, c, append([]byte(nil), t...), true)
		return true
	})
}

// sendSubscription sends one subscription change on connection c of p,
// without waiting.
func sendSubscription(p *pipe, c *Conn, topic []byte, on bool) {
	name := frame.CmdCancel
	if on {
		name = frame.CmdSubscribe
	}
	switch {
	case p.twin != nil:
		p.twin.s.rule.onCommand(p.twin, frame.Command{Name: name, Data: topic})
	case c == nil:
		// Not connected: connected() sends every subscription later.
	case c.minor >= 1:
		c.queueCommand(frame.Command{Name: name, Data: topic})
	default:
		p.out.pushForce(subscriptionMessage(topic, on))
	}
}

// change records a subscription change and sends it to every peer: every
// subscribe, but an unsubscribe only when it removes the topic.
func (r *subRouter) change(topic []byte, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	send := true
	if on {
		r.subs.add(topic)
	} else {
		send = r.subs.remove(topic)
	}
	r.all.Store(r.subs.has(nil))
	if send {
		for _, p := range r.s.snapshot() {
			if c := p.conn.Load(); p.twin != nil || c != nil && p.subsSent == c {
				sendSubscription(p, c, topic, on)
			}
		}
	}
}

func (r *subRouter) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	if !r.xsub {
		return ErrNotSupported
	}
	if len(msg) == 1 && len(msg[0]) > 0 && msg[0][0] <= 1 {
		r.change(msg[0][1:], msg[0][0] == 1)
		return nil
	}
	// Other messages go upstream to every publisher.
	return distribute(ctx, r.s, r.s.snapshot(), msg, false, nonblock)
}

func (r *subRouter) readyToRecv() bool {
	if r.xsub {
		return r.s.anyQueued(nil)
	}
	invert := r.s.options().InvertMatching
	return r.s.anyQueued(func(m [][]byte) bool {
		r.mu.RLock()
		defer r.mu.RUnlock()
		return r.subs.match(m[0]) != invert
	})
}

func (r *subRouter) readyToSend() bool { return r.xsub }

func (r *subRouter) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	var keep func(*pipe, [][]byte) bool
	if !r.xsub {
		invert := r.s.options().InvertMatching
		keep = func(_ *pipe, m [][]byte) bool {
			if !invert && r.all.Load() {
				return true
			}
			r.mu.RLock()
			defer r.mu.RUnlock()
			return r.subs.match(m[0]) != invert
		}
	}
	return r.fq.recv(ctx, r.s, nonblock, keep)
}

// Subscribe adds a subscription of a SUB socket: messages whose first frame
// starts with topic are delivered. An empty topic matches every message.
// On an XPUB with XPubManual it subscribes the peer whose subscription
// message Recv returned last (ZMQ_XPUB_MANUAL). It never waits for a peer.
func (s *Socket) Subscribe(topic []byte) error { return s.rule.subscribe(topic, true) }

// Unsubscribe removes one subscription added by Subscribe.
func (s *Socket) Unsubscribe(topic []byte) error { return s.rule.subscribe(topic, false) }

// subscribe is XPUB_MANUAL's Subscribe and Unsubscribe.
func (r *pubRouter) subscribe(topic []byte, on bool) error {
	if !r.s.options().XPubManual {
		return ErrNotSupported
	}
	return r.manual(topic, on)
}

func (r *pubRouter) topics() (n, octets int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.index.len(), r.index.bytes()
}

// subscribe is a SUB's Subscribe and Unsubscribe (an XSUB subscribes by
// sending subscription messages).
func (r *subRouter) subscribe(topic []byte, on bool) error {
	if r.xsub {
		return ErrNotSupported
	}
	r.change(append([]byte(nil), topic...), on)
	return nil
}

func (r *subRouter) topics() (n, octets int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.subs.len(), r.subs.bytes()
}
