package zmtp

import (
	"fmt"
	"sync"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// Context is a namespace for inproc endpoints, like libzmq's context:
// sockets made by the same Context can reach each other at inproc://name.
// Inproc links join two sockets' queues directly, with no goroutine, no
// copy and no ZMTP encoding. A Context has nothing to close; it is safe for
// concurrent use. The zero value is an empty namespace, as NewContext's.
type Context struct {
	mu      sync.Mutex
	bound   map[string]*Socket
	pending map[string][]*endpoint // connects waiting for a bind
}

// NewContext returns an empty inproc namespace.
func NewContext() *Context {
	return &Context{bound: map[string]*Socket{}, pending: map[string][]*endpoint{}}
}

// NewSocket returns a socket of type t that can bind and connect inproc
// endpoints of this Context.
func (zc *Context) NewSocket(t SocketType, opts Options) (*Socket, error) {
	s, err := NewSocket(t, opts)
	if err != nil {
		return nil, err
	}
	s.zctx = zc
	return s, nil
}

func (s *Socket) bindInproc(name string) error {
	zc := s.zctx
	if zc == nil {
		return fmt.Errorf("zmtp: inproc://%s needs a socket made by a Context", name)
	}
	ep := "inproc://" + name
	zc.mu.Lock()
	if _, taken := zc.bound[name]; taken {
		zc.mu.Unlock()
		return fmt.Errorf("zmtp: %s: address in use", ep)
	}
	if zc.bound == nil {
		zc.bound = map[string]*Socket{} // a zero Context
	}
	zc.bound[name] = s
	waiting := zc.pending[name]
	delete(zc.pending, name)
	zc.mu.Unlock()

	e := &endpoint{s: s, addr: ep, bound: true, done: make(chan struct{}), inproc: name}
	close(e.done)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		zc.unbind(name, s)
		return ErrClosed
	}
	s.endpoints[ep] = e
	s.lastEndpoint = ep
	s.mu.Unlock()
	for _, ce := range waiting {
		link(ce, s)
	}
	return nil
}

func (zc *Context) unbind(name string, s *Socket) {
	zc.mu.Lock()
	if zc.bound[name] == s {
		delete(zc.bound, name)
	}
	zc.mu.Unlock()
}

func (s *Socket) connectInproc(name string, peerID uint32) error {
	zc := s.zctx
	if zc == nil {
		return fmt.Errorf("zmtp: inproc://%s needs a socket made by a Context", name)
	}
	ep := "inproc://" + name
	e := &endpoint{s: s, addr: ep, done: make(chan struct{}), inproc: name, peerID: peerID}
	close(e.done)
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
	zc.mu.Lock()
	b := zc.bound[name]
	if b == nil {
		if zc.pending == nil {
			zc.pending = map[string][]*endpoint{} // a zero Context
		}
		zc.pending[name] = append(zc.pending[name], e)
	}
	zc.mu.Unlock()
	if b != nil {
		link(e, b)
	}
	return nil
}

// link joins the connecting endpoint ce to the bound socket b with a pair
// of queues as long as both sides' high-water marks together, as libzmq
// sizes inproc pipes. A bound socket of an incompatible type refuses the
// link, as the handshake refuses such a peer: the Connect fails for good
// with a *mechanism.SocketTypeError (Socket.Err, blocked calls).
func link(ce *endpoint, b *Socket) {
	a := ce.s
	if !frame.CompatibleSocketTypes(string(a.typ), string(b.typ)) {
		ce.setErr(&mechanism.SocketTypeError{Local: string(a.typ), Peer: string(b.typ)}, true)
		return
	}
	// A queue conflates when either end asks for it; its mark is the sum
	// of both ends' (no limit when either has none).
	ao, bo := a.options(), b.options()
	conflate := ao.Conflate || bo.Conflate
	queue := func(from, to *Socket, fo, to2 *Options) *queue {
		hwm := 0
		if s, r := fo.sendHWM(), to2.recvHWM(); s > 0 && r > 0 {
			hwm = s + r
		}
		if conflate {
			hwm = 1
		}
		return newQueue(hwm, conflate, to.wakeIn, from.wakeOut)
	}
	ab, ba := queue(a, b, ao, bo), queue(b, a, bo, ao)
	pa := &pipe{s: a, out: ab, in: ba}
	pb := &pipe{s: b, out: ba, in: ab}
	pa.twin, pb.twin = pb, pa
	pa.dialed = true
	pa.rid.Store(ce.peerID)
	pa.info.Store(&peerInfo{md: inprocMetadata(b), minor: 1})
	pb.info.Store(&peerInfo{md: inprocMetadata(a), minor: 1})
	ce.mu.Lock()
	ce.pipe = pa
	ce.mu.Unlock()
	if b.attachPeer(pb) != admitted {
		return
	}
	b.mu.Lock()
	be := b.endpoints["inproc://"+ce.inproc]
	b.mu.Unlock()
	if be != nil {
		be.mu.Lock()
		be.twins = append(be.twins, pb)
		be.mu.Unlock()
	}
	if a.attachPeer(pa) != admitted {
		b.pipeGone(pb)
		return
	}
	a.rule.connected(pa, nil)
	b.rule.connected(pb, nil)
}

func inprocMetadata(s *Socket) frame.Metadata {
	md := frame.Metadata{{Name: frame.PropSocketType, Value: []byte(s.typ)}}
	if len(s.options().RoutingID) > 0 {
		md = append(md, frame.Property{Name: frame.PropIdentity, Value: s.options().RoutingID})
	}
	return md
}

// closeInproc ends the inproc links of endpoint e: each pipe and its twin
// stop being routable once drained.
func (e *endpoint) closeInproc() {
	s := e.s
	if zc := s.zctx; zc != nil {
		zc.unbind(e.inproc, s)
		zc.mu.Lock()
		list := zc.pending[e.inproc]
		for i, pe := range list {
			if pe == e {
				zc.pending[e.inproc] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		zc.mu.Unlock()
	}
	e.mu.Lock()
	pipes := append([]*pipe(nil), e.twins...)
	if e.pipe != nil {
		pipes = append(pipes, e.pipe)
	}
	e.mu.Unlock()
	for _, p := range pipes {
		p.s.pipeGone(p)
		p.twin.s.pipeGone(p.twin)
	}
}
