package zmtp

import (
	"context"
	"sync"

	"github.com/zmtp-go/zmtp/frame"
)

// pubRouter is PUB and XPUB (RFC 29): each message goes to every peer that
// subscribed to a prefix of its first frame; a peer whose queue is full
// misses it (counted in Socket.Dropped) unless XPubNoDrop is set. XPUB also
// passes subscriptions to the application.
type pubRouter struct {
	s    *Socket
	xpub bool
	fq   fairQueue   // XPUB: other messages from subscribers
	subq chan subMsg // XPUB: subscription messages for the application
	last *pipe       // XPUB_MANUAL: the pipe of the last subscription received (recv side only)

	mu    sync.Mutex
	union trie // XPUB: subscriptions of all peers, counted per peer
}

func newPubRouter(s *Socket) *pubRouter {
	r := &pubRouter{s: s, xpub: s.typ == XPub}
	if r.xpub {
		r.subq = make(chan subMsg, s.opts.RecvHWM)
	}
	return r
}

func (r *pubRouter) attached(p *pipe) {}

// detached drops the peer's subscriptions; an XPUB tells the application
// about topics nobody subscribes to any more.
func (r *pubRouter) detached(p *pipe) {
	p.subMu.Lock()
	topics := p.subs.topics()
	p.subs = trie{}
	p.subMu.Unlock()
	if !r.xpub {
		return
	}
	for _, t := range topics {
		r.mu.Lock()
		last := r.union.remove(t)
		r.mu.Unlock()
		if last {
			select {
			case r.subq <- subMsg{subscriptionMessage(t, false), p}:
				signal(r.s.readable)
			default:
			}
		}
	}
}

func (r *pubRouter) connected(p *pipe, c *Conn) {
	if r.xpub && r.s.opts.XPubWelcomeMsg != nil {
		p.trySend([][]byte{append([]byte(nil), r.s.opts.XPubWelcomeMsg...)})
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
		r.subscription(p, m[0][1:], m[0][0] == 1)
		return true
	}
	return !r.xpub
}

// subMsg is a subscription message for an XPUB application and the pipe
// it came from.
type subMsg struct {
	msg  [][]byte
	from *pipe
}

func (r *pubRouter) subscription(p *pipe, topic []byte, on bool) {
	if r.xpub && r.s.opts.XPubManual {
		// The application decides: pass every subscription up as it is.
		r.tell(p, topic, on)
		return
	}
	changed := p.setSubscription(topic, on)
	if !r.xpub {
		return
	}
	tell := false
	r.mu.Lock()
	if on {
		first := changed && r.union.add(topic)
		tell = first || r.s.opts.XPubVerbose
	} else if changed {
		tell = r.union.remove(topic)
	}
	r.mu.Unlock()
	if tell {
		r.tell(p, topic, on)
	}
}

// tell passes a subscription message from p up to the XPUB application.
func (r *pubRouter) tell(p *pipe, topic []byte, on bool) {
	select {
	case r.subq <- subMsg{subscriptionMessage(topic, on), p}:
		signal(r.s.readable)
	case <-r.s.ctx.Done():
	}
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

// setSubscription changes the peer's subscriptions and reports whether
// they changed. They are a set, as libzmq keeps them: a second SUBSCRIBE of
// a topic changes nothing and one CANCEL removes it.
func (p *pipe) setSubscription(topic []byte, on bool) bool {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if !on {
		return p.subs.remove(topic)
	}
	if !p.subs.add(topic) {
		p.subs.remove(topic) // undo the second count
		return false
	}
	return true
}

func (r *pubRouter) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	invert := r.s.opts.InvertMatching
	for _, p := range r.s.snapshot() {
		if p.gone.Load() {
			continue
		}
		p.subMu.Lock()
		match := p.subs.match(msg[0]) != invert
		p.subMu.Unlock()
		if !match {
			continue
		}
		if p.trySend(msg) {
			continue
		}
		if !r.xpub || !r.s.opts.XPubNoDrop {
			r.s.dropped.Add(1)
			continue
		}
		for !p.trySend(msg) {
			if nonblock {
				return ErrWouldBlock
			}
			if err := r.s.waitOn(ctx, r.s.writable); err != nil {
				return err
			}
			if p.gone.Load() {
				break
			}
		}
	}
	return nil
}

func (r *pubRouter) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	if !r.xpub {
		return nil, nil, ErrNotSupported
	}
	for {
		select {
		case m := <-r.subq:
			r.last = m.from
			return m.msg, nil, nil
		default:
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

// subRouter is SUB and XSUB (RFC 29): subscriptions go to every peer (as
// SUBSCRIBE/CANCEL commands to ZMTP 3.1 peers and as 0x01/0x00 messages to
// 3.0 peers) and are sent again on every new connection. SUB filters what
// it receives; XSUB passes everything and forwards what it is sent.
type subRouter struct {
	s    *Socket
	xsub bool
	fq   fairQueue

	mu   sync.Mutex
	subs trie
}

func newSubRouter(s *Socket) *subRouter {
	return &subRouter{s: s, xsub: s.typ == XSub}
}

func (r *subRouter) attached(p *pipe)                     {}
func (r *subRouter) detached(p *pipe)                     {}
func (r *subRouter) onCommand(p *pipe, cmd frame.Command) {}
func (r *subRouter) intercept(p *pipe, msg [][]byte) bool { return false }

// connected sends the peer every subscription.
func (r *subRouter) connected(p *pipe, c *Conn) {
	r.mu.Lock()
	topics := r.subs.topics()
	r.mu.Unlock()
	for _, t := range topics {
		sendSubscription(p, c, t, true)
	}
}

// sendSubscription sends one subscription change on connection c of p.
func sendSubscription(p *pipe, c *Conn, topic []byte, on bool) {
	name := frame.CmdCancel
	if on {
		name = frame.CmdSubscribe
	}
	switch {
	case p.twin != nil:
		p.twin.s.rt.onCommand(p.twin, frame.Command{Name: name, Data: topic})
	case c == nil:
		// Not connected: connected() sends every subscription later.
	case c.minor >= 1:
		c.queueCommand(frame.Command{Name: name, Data: topic})
	default:
		select {
		case p.out <- subscriptionMessage(topic, on):
		case <-c.Done():
		}
	}
}

// change records a subscription change and sends it to every peer: every
// subscribe, but an unsubscribe only when it removes the topic.
func (r *subRouter) change(topic []byte, on bool) {
	r.mu.Lock()
	send := true
	if on {
		r.subs.add(topic)
	} else {
		send = r.subs.remove(topic)
	}
	pipes := r.s.snapshot()
	if send {
		for _, p := range pipes {
			sendSubscription(p, p.conn.Load(), topic, on)
		}
	}
	r.mu.Unlock()
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
	for _, p := range r.s.snapshot() {
		if !p.gone.Load() && !p.trySend(msg) {
			r.s.dropped.Add(1)
		}
	}
	return nil
}

func (r *subRouter) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	var keep func(*pipe, [][]byte) bool
	if !r.xsub {
		invert := r.s.opts.InvertMatching
		keep = func(_ *pipe, m [][]byte) bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.subs.match(m[0]) != invert
		}
	}
	return r.fq.recv(ctx, r.s, nonblock, keep)
}

// Subscribe adds a subscription of a SUB socket: messages whose first frame
// starts with topic are delivered. An empty topic matches every message.
// On an XPUB with XPubManual it subscribes the peer whose subscription
// message Recv returned last (ZMQ_XPUB_MANUAL).
func (s *Socket) Subscribe(topic []byte) error {
	if pr, ok := s.rt.(*pubRouter); ok && s.opts.XPubManual {
		return pr.manual(topic, true)
	}
	r, ok := s.rt.(*subRouter)
	if !ok || r.xsub {
		return ErrNotSupported
	}
	r.change(append([]byte(nil), topic...), true)
	return nil
}

// Unsubscribe removes one subscription added by Subscribe.
func (s *Socket) Unsubscribe(topic []byte) error {
	if pr, ok := s.rt.(*pubRouter); ok && s.opts.XPubManual {
		return pr.manual(topic, false)
	}
	r, ok := s.rt.(*subRouter)
	if !ok || r.xsub {
		return ErrNotSupported
	}
	r.change(topic, false)
	return nil
}

// manual applies a subscription change to the peer of the last
// subscription message received (XPUB_MANUAL).
func (r *pubRouter) manual(topic []byte, on bool) error {
	r.s.recvMu.Lock()
	p := r.last
	r.s.recvMu.Unlock()
	if p == nil {
		return ErrState
	}
	p.setSubscription(topic, on)
	return nil
}
