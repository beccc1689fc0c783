package zmtp

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/frame"
)

// routingRule is a socket type's routing rule over the socket's pipes.
// The pipes, their queues and connections are shared machinery; a rule
// decides only where a message goes and which one is received next, with
// the primitives below (loadBalancer, fairQueue, distribute).
type routingRule interface {
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
	// subscribe is Socket.Subscribe (on) and Unsubscribe (!on);
	// ErrNotSupported for a type without subscriptions.
	subscribe(topic []byte, on bool) error
	// topics counts the subscriptions the rule holds and their octets.
	topics() (n, octets int)
	// admit answers a peer whose handshake has succeeded: a rule may
	// refuse it (PAIR takes one) or keep it waiting (a ROUTER peer whose
	// id is taken). forget drops a peer that leaves while waiting. Both
	// run with s.mu held.
	admit(p *pipe) admission
	forget(p *pipe)
	// readyToRecv reports whether recv would return a message at once,
	// dropping what recv would drop (with the receive side held);
	// readyToSend whether send would take a message at once (with the
	// send side held). Socket.Poll asks them.
	readyToRecv() bool
	readyToSend() bool
}

// admitAll is embedded by the rules that admit every peer.
type admitAll struct{}

func (admitAll) admit(*pipe) admission { return admitted }
func (admitAll) forget(*pipe)          {}

// noSubscriptions is embedded by the rules of types without subscriptions.
type noSubscriptions struct{}

func (noSubscriptions) subscribe([]byte, bool) error { return ErrNotSupported }
func (noSubscriptions) topics() (n, octets int)      { return 0, 0 }

// socketKind is what a socket type is made of: its routing rule and how
// the shared pipe machinery treats its peers. Adding a socket type means
// writing its rule and adding one entry to socketKinds.
type socketKind struct {
	// rule returns the type's routing rule for s.
	rule func(s *Socket) routingRule
	// raw: connections carry no ZMTP at all (STREAM).
	raw bool
	// whileConnected: a peer is routable only while its connection is up,
	// so a Connect's pipe is attached at the handshake, not before, and
	// each new connection gets a new pipe (and routing id).
	whileConnected bool
	// recycles: the rule hands received messages to the application as
	// the reader made them, so RecvInto may give their memory back for
	// receiving into again.
	recycles bool
	// grouped: received messages are a group frame and a body, returned
	// as Message.Group and Message.Frames (DISH).
	grouped bool
	// singleFrame: the type sends single-frame messages only (the draft
	// types of RFC 41, 49, 51, 52); Send refuses others with ErrMultipart.
	singleFrame bool
	// direct: a Recv that waits on a socket with a single peer reads the
	// peer's connection itself (Socket.recvDirect): the types whose
	// messages go back and forth one at a time, where the hand-over from
	// the connection's reader goroutine is most of a round trip.
	direct bool
}

// socketKinds is the table of the socket types a Socket can be. The names
// and the compatibility of peer types are the protocol's (package
// mechanism). Of the draft types, RADIO and DISH (RFC 48) have their
// rules in route_radio.go, CLIENT, SERVER, SCATTER, GATHER, PEER and
// CHANNEL (RFC 41, 49, 51, 52) in route_draft.go.
var socketKinds = map[SocketType]socketKind{
	Pair: {rule: func(s *Socket) routingRule {
		return &pairRouter{basic: basic{s: s, canSend: true, canRecv: true}}
	}, recycles: true},
	Push:   {rule: func(s *Socket) routingRule { return &basic{s: s, canSend: true} }, recycles: true},
	Pull:   {rule: func(s *Socket) routingRule { return &basic{s: s, canRecv: true} }, recycles: true},
	Dealer: {rule: func(s *Socket) routingRule { return &basic{s: s, canSend: true, canRecv: true} }, recycles: true},
	Req: {rule: func(s *Socket) routingRule {
		return &reqRouter{basic: basic{s: s, canSend: true, canRecv: true}}
	}, direct: true},
	Rep:    {rule: func(s *Socket) routingRule { return &repRouter{idRouter: newIDRouter(s)} }, direct: true},
	Router: {rule: func(s *Socket) routingRule { return newIDRouter(s) }, whileConnected: true},
	Stream: {rule: func(s *Socket) routingRule { return newIDRouter(s) }, whileConnected: true, raw: true},
	Pub:    {rule: func(s *Socket) routingRule { return newPubRouter(s) }},
	XPub:   {rule: func(s *Socket) routingRule { return newPubRouter(s) }},
	Sub:    {rule: func(s *Socket) routingRule { return newSubRouter(s) }, recycles: true},
	XSub:   {rule: func(s *Socket) routingRule { return newSubRouter(s) }, recycles: true},
	Radio:  {rule: func(s *Socket) routingRule { return newRadioRule(s) }},
	Dish:   {rule: func(s *Socket) routingRule { return newDishRule(s) }, grouped: true},

	Client:  {rule: func(s *Socket) routingRule { return newSingleRule(s, true, true) }, recycles: true, singleFrame: true},
	Scatter: {rule: func(s *Socket) routingRule { return newSingleRule(s, true, false) }, recycles: true, singleFrame: true},
	Gather:  {rule: func(s *Socket) routingRule { return newSingleRule(s, false, true) }, recycles: true, singleFrame: true},
	Channel: {rule: func(s *Socket) routingRule { return newChannelRule(s) }, recycles: true, singleFrame: true},
	Server:  {rule: func(s *Socket) routingRule { return newServerRule(s, false) }, recycles: true, singleFrame: true},
	Peer:    {rule: func(s *Socket) routingRule { return newServerRule(s, true) }, recycles: true, singleFrame: true},
}

// kindOf returns the table entry of socket type t.
func kindOf(t SocketType) (socketKind, error) {
	k, ok := socketKinds[t]
	if !ok {
		return k, fmt.Errorf("zmtp: unsupported socket type %q", t)
	}
	return k, nil
}

// loadBalancer sends each message to the next pipe in turn that has room,
// skipping full ones, and blocks only when all are full (RFC 28, 30).
type loadBalancer struct {
	next int
	// waiting: a send waits for room; read without the socket's send
	// lock by the Sends that would go without it (basic.sendDirect).
	waiting atomic.Bool
}

func (lb *loadBalancer) send(ctx context.Context, s *Socket, msg [][]byte, nonblock bool) (*pipe, error) {
	waited := false
	defer func() {
		if waited {
			lb.waiting.Store(false)
		}
	}()
	for {
		pipes := s.snapshot()
		n := len(pipes)
		k := lb.next
		for range n {
			if k >= n {
				k = 0 // the list shrank, or the turn came round
			}
			p := pipes[k]
			k++
			if p.gone.Load() {
				continue
			}
			if p.trySend(msg) {
				lb.next = k
				return p, nil
			}
		}
		if nonblock {
			return nil, s.wouldBlock()
		}
		if !waited {
			waited = true
			lb.waiting.Store(true)
		}
		if err := s.waitOn(ctx, s.writable); err != nil {
			return nil, err
		}
	}
}

// distribute sends msg to every pipe of targets that has room (RFC 29):
// a pipe without room misses the message, counted in Socket.Dropped,
// unless wait is set (XPUB_NODROP), when the sender waits for the pipe's
// room. Pipes that are gone are skipped.
func distribute(ctx context.Context, s *Socket, targets []*pipe, msg [][]byte, wait, nonblock bool) error {
	for _, p := range targets {
		if p.gone.Load() {
			continue
		}
		if p.trySend(msg) {
			continue
		}
		if !wait {
			s.dropped.Add(1)
			continue
		}
		for !p.trySend(msg) {
			if nonblock {
				return ErrWouldBlock
			}
			if err := s.waitOn(ctx, s.writable); err != nil {
				return err
			}
			if p.gone.Load() {
				break
			}
		}
	}
	return nil
}

// fairQueue takes messages from the pipes in turn, one message from each
// pipe that has one.
type fairQueue struct {
	next int
}

// recv returns the next message accepted by keep (nil keeps all); rejected
// messages are dropped.
func (fq *fairQueue) recv(ctx context.Context, s *Socket, nonblock bool, keep func(*pipe, [][]byte) bool) ([][]byte, *pipe, error) {
	for {
		pipes := s.snapshot()
		n := len(pipes)
		k := fq.next
		for range n {
			if k >= n {
				k = 0 // the list shrank, or the turn came round
			}
			p := pipes[k]
			k++
			for {
				m, ok := p.tryRecv()
				if !ok {
					if p.gone.Load() {
						s.pipeGone(p)
					}
					break
				}
				if keep == nil || keep(p, m) {
					fq.next = k
					return m, p, nil
				}
			}
		}
		if nonblock {
			s.reclaimLease() // a TryRecv loop reads nothing itself
			return nil, nil, s.wouldBlock()
		}
		if s.recvDirect(ctx, pipes) {
			continue
		}
		if err := s.waitOn(ctx, s.readable); err != nil {
			return nil, nil, err
		}
	}
}

// basic is the rule of PUSH (load-balance out), PULL (fair-queue in) and
// DEALER (both).
type basic struct {
	noSubscriptions
	admitAll
	s                *Socket
	canSend, canRecv bool
	lb               loadBalancer
	fq               fairQueue
}

func (b *basic) attached(p *pipe) {}
func (b *basic) detached(p *pipe) {}
func (b *basic) connected(p *pipe, c *Conn) {
	if b.s.options().ProbeRouter {
		p.trySend([][]byte{{}})
	}
}
func (b *basic) onCommand(p *pipe, cmd frame.Command) {}
func (b *basic) intercept(p *pipe, msg [][]byte) bool { return false }

func (b *basic) readyToRecv() bool { return b.canRecv && b.s.anyQueued(nil) }
func (b *basic) readyToSend() bool { return b.canSend && b.s.anyRoom(false) }

// sendDirect queues msg without the socket's send lock, when taking it
// would change nothing a sender can observe: the socket has a single
// peer, whose queue has room, and no Send is waiting for room (a new
// message must not overtake one that waits). The peer's queue orders it
// against Sends running at the same time, as the lock would. It reports
// false, having sent nothing, when Send must go the usual way.
func (b *basic) sendDirect(msg [][]byte) bool {
	if !b.canSend || b.lb.waiting.Load() || b.s.isClosed() {
		return false
	}
	pipes := b.s.snapshot()
	if len(pipes) != 1 {
		return false
	}
	p := pipes[0]
	return !p.gone.Load() && p.trySend(msg)
}

func (b *basic) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	if !b.canSend {
		return ErrNotSupported
	}
	_, err := b.lb.send(ctx, b.s, msg, nonblock)
	return err
}

func (b *basic) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	if !b.canRecv {
		return nil, nil, ErrNotSupported
	}
	return b.fq.recv(ctx, b.s, nonblock, nil)
}

// pairRouter is PAIR: one peer at a time; a second one is refused.
type pairRouter struct {
	basic
}

// connected sends nothing: ProbeRouter is for peers of a ROUTER.
func (r *pairRouter) connected(p *pipe, c *Conn) {}

func (r *pairRouter) admit(p *pipe) admission {
	for _, q := range r.s.pipes {
		if q != p && !q.gone.Load() {
			return refused
		}
	}
	return admitted
}
