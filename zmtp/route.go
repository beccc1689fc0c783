package zmtp

import (
	"context"
	"fmt"

	"github.com/zmtp-go/zmtp/frame"
)

// newRouter returns the routing rule of the socket's type.
func newRouter(s *Socket) (router, error) {
	switch s.typ {
	case Pair:
		return &pairRouter{basic: basic{s: s, canSend: true, canRecv: true}}, nil
	case Push:
		return &basic{s: s, canSend: true}, nil
	case Pull:
		return &basic{s: s, canRecv: true}, nil
	case Dealer:
		return &basic{s: s, canSend: true, canRecv: true}, nil
	case Req:
		return &reqRouter{basic: basic{s: s, canSend: true, canRecv: true}}, nil
	case Rep:
		return &repRouter{idRouter: newIDRouter(s)}, nil
	case Router, Stream:
		return newIDRouter(s), nil
	case Pub, XPub:
		return newPubRouter(s), nil
	case Sub, XSub:
		return newSubRouter(s), nil
	}
	return nil, fmt.Errorf("zmtp: unsupported socket type %q", s.typ)
}

// loadBalancer sends each message to the next pipe in turn that has room,
// skipping full ones, and blocks only when all are full (RFC 28, 30).
type loadBalancer struct {
	next int
}

func (lb *loadBalancer) send(ctx context.Context, s *Socket, msg [][]byte, nonblock bool) (*pipe, error) {
	for {
		pipes := s.snapshot()
		n := len(pipes)
		for i := range n {
			k := (lb.next + i) % n
			p := pipes[k]
			if p.gone.Load() {
				continue
			}
			if p.trySend(msg) {
				lb.next = (k + 1) % n
				return p, nil
			}
		}
		if nonblock {
			return nil, s.wouldBlock()
		}
		if err := s.waitOn(ctx, s.writable); err != nil {
			return nil, err
		}
	}
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
		for i := range n {
			k := (fq.next + i) % n
			p := pipes[k]
			for {
				m, ok := p.tryRecv()
				if !ok {
					if p.gone.Load() {
						s.pipeGone(p)
					}
					break
				}
				if keep == nil || keep(p, m) {
					fq.next = (k + 1) % n
					return m, p, nil
				}
			}
		}
		if nonblock {
			return nil, nil, s.wouldBlock()
		}
		if err := s.waitOn(ctx, s.readable); err != nil {
			return nil, nil, err
		}
	}
}

// basic is the rule of PUSH (load-balance out), PULL (fair-queue in) and
// DEALER (both).
type basic struct {
	s                *Socket
	canSend, canRecv bool
	lb               loadBalancer
	fq               fairQueue
}

func (b *basic) attached(p *pipe) {}
func (b *basic) detached(p *pipe) {}
func (b *basic) connected(p *pipe, c *Conn) {
	if b.s.options().ProbeRouter && b.s.typ != Pair {
		p.trySend([][]byte{{}})
	}
}
func (b *basic) onCommand(p *pipe, cmd frame.Command) {}
func (b *basic) intercept(p *pipe, msg [][]byte) bool { return false }

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

func (r *pairRouter) admit(p *pipe) admission {
	for _, q := range r.s.pipes {
		if q != p && !q.gone.Load() {
			return refused
		}
	}
	return admitted
}
