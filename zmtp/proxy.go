package zmtp

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Proxy relays messages between a frontend and a backend socket in both
// directions, like zmq_proxy, optionally copying each to a capture socket.
// It can be paused, resumed and asked for statistics while it runs, like
// zmq_proxy_steerable; it terminates when Run's context ends.
type Proxy struct {
	Frontend, Backend *Socket
	// Capture, when set, receives a copy of every relayed message.
	Capture *Socket

	mu     sync.Mutex
	paused bool
	resume chan struct{} // closed by Resume

	stats [2]proxyCounters // 0: frontend -> backend, 1: backend -> frontend
}

type proxyCounters struct {
	msgs, bytes atomic.Uint64
}

// ProxyStats counts what a Proxy relayed, like the STATISTICS reply of
// zmq_proxy_steerable.
type ProxyStats struct {
	FrontendToBackendMessages, FrontendToBackendBytes uint64
	BackendToFrontendMessages, BackendToFrontendBytes uint64
}

// Run relays messages until ctx ends (and then returns nil) or a socket
// fails. A direction whose source cannot receive (a PUB frontend, say) is
// simply idle.
func (p *Proxy) Run(ctx context.Context) error {
	if p.Frontend == nil || p.Backend == nil {
		return errors.New("zmtp: Proxy needs a frontend and a backend")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- p.relay(ctx, p.Frontend, p.Backend, &p.stats[0]) }()
	go func() { errs <- p.relay(ctx, p.Backend, p.Frontend, &p.stats[1]) }()
	var first error
	for range 2 {
		err := <-errs
		if err != nil && first == nil && ctx.Err() == nil {
			first = err
			cancel()
		}
	}
	return first
}

func (p *Proxy) relay(ctx context.Context, from, to *Socket, st *proxyCounters) error {
	for {
		if err := p.waitResumed(ctx); err != nil {
			return nil
		}
		m, err := from.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrNotSupported) {
				return nil
			}
			return err
		}
		n := 0
		for _, f := range m.Frames {
			n += len(f)
		}
		if p.Capture != nil {
			// Frames are only read by the sockets, so sharing them is safe.
			p.Capture.TrySend(append([][]byte(nil), m.Frames...))
		}
		if err := to.sendMessage(ctx, m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, ErrHostUnreachable) && !errors.Is(err, ErrState) {
				return err
			}
		}
		st.msgs.Add(1)
		st.bytes.Add(uint64(n))
	}
}

func (p *Proxy) waitResumed(ctx context.Context) error {
	p.mu.Lock()
	ch := p.resume
	paused := p.paused
	p.mu.Unlock()
	if !paused {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pause stops relaying after the messages in flight; messages queue in the
// sockets meanwhile.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resume = make(chan struct{})
	}
}

// Resume continues relaying after Pause.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resume)
	}
}

// Stats returns the counts of messages and octets relayed so far.
func (p *Proxy) Stats() ProxyStats {
	return ProxyStats{
		FrontendToBackendMessages: p.stats[0].msgs.Load(),
		FrontendToBackendBytes:    p.stats[0].bytes.Load(),
		BackendToFrontendMessages: p.stats[1].msgs.Load(),
		BackendToFrontendBytes:    p.stats[1].bytes.Load(),
	}
}
