// Package libzmq drives libzmq sockets (through github.com/pebbe/zmq4) for
// the conformance cases. Every socket has ZMQ_LINGER 0 and short
// ZMQ_RCVTIMEO and ZMQ_SNDTIMEO, and every call that waits is retried in
// short steps until its context ends, so that no case can hang.
//
// A Socket, like a libzmq socket, must be used by one goroutine at a time.
package libzmq

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Step is the longest a single libzmq call blocks before the context is
// checked again.
const Step = 20 * time.Millisecond

// Version returns the version of the libzmq library in use.
func Version() string {
	major, minor, patch := zmq.Version()
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}

// Env is a libzmq context and the sockets made in it.
type Env struct {
	ctx   *zmq.Context
	mu    sync.Mutex
	socks []*Socket
}

// NewEnv returns a new libzmq context.
func NewEnv() (*Env, error) {
	ctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("libzmq: new context: %w", err)
	}
	return &Env{ctx: ctx}, nil
}

// Close closes every socket made in e and terminates the context.
func (e *Env) Close() error {
	e.mu.Lock()
	socks := e.socks
	e.socks = nil
	e.mu.Unlock()
	var errs []error
	for _, s := range socks {
		errs = append(errs, s.Close())
	}
	if err := e.ctx.Term(); err != nil {
		errs = append(errs, fmt.Errorf("libzmq: terminate context: %w", err))
	}
	return errors.Join(errs...)
}

var types = map[string]zmq.Type{
	"PAIR": zmq.PAIR, "PUB": zmq.PUB, "SUB": zmq.SUB, "REQ": zmq.REQ,
	"REP": zmq.REP, "DEALER": zmq.DEALER, "ROUTER": zmq.ROUTER,
	"PULL": zmq.PULL, "PUSH": zmq.PUSH, "XPUB": zmq.XPUB, "XSUB": zmq.XSUB,
}

// Socket makes a socket of the named type ("PUSH", "ROUTER", ...).
func (e *Env) Socket(typeName string) (*Socket, error) {
	t, ok := types[typeName]
	if !ok {
		return nil, fmt.Errorf("libzmq: unsupported socket type %q", typeName)
	}
	zs, err := e.ctx.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("libzmq: new %s socket: %w", typeName, err)
	}
	s := &Socket{Z: zs, env: e, typeName: typeName}
	for _, set := range []func() error{
		func() error { return zs.SetLinger(0) },
		func() error { return zs.SetRcvtimeo(Step) },
		func() error { return zs.SetSndtimeo(Step) },
	} {
		if err := set(); err != nil {
			zs.Close()
			return nil, fmt.Errorf("libzmq: set socket option: %w", err)
		}
	}
	e.mu.Lock()
	e.socks = append(e.socks, s)
	e.mu.Unlock()
	return s, nil
}

// Socket is a libzmq socket.
type Socket struct {
	// Z is the underlying socket, for setting options. Its timeouts must
	// stay short (see Step).
	Z        *zmq.Socket
	env      *Env
	typeName string
	mon      *Monitor
	closed   bool
}

// Type returns the socket type's name.
func (s *Socket) Type() string { return s.typeName }

// Bind binds the socket to an ephemeral port on 127.0.0.1 and returns the
// address as host:port.
func (s *Socket) Bind() (string, error) {
	if err := s.Z.Bind("tcp://127.0.0.1:*"); err != nil {
		return "", fmt.Errorf("libzmq: bind: %w", err)
	}
	ep, err := s.Z.GetLastEndpoint()
	if err != nil {
		return "", fmt.Errorf("libzmq: ZMQ_LAST_ENDPOINT: %w", err)
	}
	addr, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return "", fmt.Errorf("libzmq: unexpected endpoint %q", ep)
	}
	return addr, nil
}

// Connect connects the socket to addr (host:port) over TCP.
func (s *Socket) Connect(addr string) error {
	if err := s.Z.Connect("tcp://" + addr); err != nil {
		return fmt.Errorf("libzmq: connect: %w", err)
	}
	return nil
}

// IsAgain reports whether err is EAGAIN, what libzmq returns when a
// ZMQ_RCVTIMEO or ZMQ_SNDTIMEO expires or ZMQ_DONTWAIT cannot proceed.
func IsAgain(err error) bool { return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN) }

// Send sends msg (one []byte per frame) as one message, waiting while
// libzmq cannot accept it, until ctx ends.
func (s *Socket) Send(ctx context.Context, msg [][]byte) error {
	if len(msg) == 0 {
		return errors.New("libzmq: empty message")
	}
	for i, part := range msg {
		flags := zmq.SNDMORE
		if i == len(msg)-1 {
			flags = 0
		}
		for {
			_, err := s.Z.SendBytes(part, flags)
			if err == nil {
				break
			}
			if !IsAgain(err) {
				return fmt.Errorf("libzmq: send: %w", err)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("libzmq: send: %w", ctx.Err())
			}
		}
	}
	return nil
}

// Recv receives one message, waiting until one arrives or ctx ends.
func (s *Socket) Recv(ctx context.Context) ([][]byte, error) {
	for {
		msg, err := s.TryRecv()
		if err == nil {
			return msg, nil
		}
		if !IsAgain(err) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("libzmq: receive: %w", ctx.Err())
		}
	}
}

// RecvWithMetadata receives one message, as Recv does, and the values of
// the named metadata properties of its connection (zmq_msg_gets) that
// exist.
func (s *Socket) RecvWithMetadata(ctx context.Context, props ...string) ([][]byte, map[string]string, error) {
	for {
		first, md, err := s.Z.RecvBytesWithMetadata(0, props...)
		if err == nil {
			msg, err := s.recvRest([][]byte{nonNil(first)})
			return msg, md, err
		}
		if !IsAgain(err) {
			return nil, nil, fmt.Errorf("libzmq: receive: %w", err)
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("libzmq: receive: %w", ctx.Err())
		}
	}
}

// TryRecv receives one message, waiting at most Step; it returns an error
// for which IsAgain is true when none arrived.
func (s *Socket) TryRecv() ([][]byte, error) {
	first, err := s.Z.RecvBytes(0)
	if err != nil {
		if IsAgain(err) {
			return nil, err
		}
		return nil, fmt.Errorf("libzmq: receive: %w", err)
	}
	return s.recvRest([][]byte{nonNil(first)})
}

// recvRest receives the parts of a message after the first.
func (s *Socket) recvRest(msg [][]byte) ([][]byte, error) {
	for {
		more, err := s.Z.GetRcvmore()
		if err != nil {
			return nil, fmt.Errorf("libzmq: ZMQ_RCVMORE: %w", err)
		}
		if !more {
			return msg, nil
		}
		// The rest of a message is delivered together with its first part.
		part, err := s.Z.RecvBytes(zmq.DONTWAIT)
		if err != nil {
			return nil, fmt.Errorf("libzmq: receive part %d: %w", len(msg), err)
		}
		msg = append(msg, nonNil(part))
	}
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

var monitorSeq atomic.Int64

// Monitor starts monitoring the socket for the given events (for example
// zmq.EVENT_ALL). Call it before Bind or Connect so as to miss nothing.
func (s *Socket) Monitor(events zmq.Event) (*Monitor, error) {
	if s.mon != nil {
		return nil, errors.New("libzmq: socket already monitored")
	}
	addr := fmt.Sprintf("inproc://conformance-monitor-%d", monitorSeq.Add(1))
	if err := s.Z.Monitor(addr, events); err != nil {
		return nil, fmt.Errorf("libzmq: monitor: %w", err)
	}
	pair, err := s.env.ctx.NewSocket(zmq.PAIR)
	if err == nil {
		err = pair.SetLinger(0)
	}
	if err == nil {
		err = pair.SetRcvtimeo(Step)
	}
	if err == nil {
		err = pair.Connect(addr)
	}
	if err != nil {
		if pair != nil {
			pair.Close()
		}
		s.Z.Monitor("", 0)
		return nil, fmt.Errorf("libzmq: monitor socket: %w", err)
	}
	s.mon = &Monitor{pair: pair}
	return s.mon, nil
}

// Close stops the monitor, if any, and closes the socket. It is idempotent.
func (s *Socket) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.mon != nil {
		s.Z.Monitor("", 0) // stops the monitor
		errs = append(errs, s.mon.pair.Close())
	}
	if err := s.Z.Close(); err != nil {
		errs = append(errs, fmt.Errorf("libzmq: close: %w", err))
	}
	return errors.Join(errs...)
}

// Event is one socket monitor event.
type Event struct {
	Type  zmq.Event
	Addr  string
	Value int // a file descriptor, an errno or a ZMQ_PROTOCOL_ERROR_* code
}

func (e Event) String() string { return fmt.Sprintf("%v(%d)", e.Type, e.Value) }

// Monitor receives the events of a monitored socket. It must be used by
// the goroutine that uses the socket.
type Monitor struct {
	pair *zmq.Socket
	seen []Event
}

// Next returns the next event, waiting until one arrives or ctx ends.
func (m *Monitor) Next(ctx context.Context) (Event, error) {
	for {
		t, addr, v, err := m.pair.RecvEvent(0)
		if err == nil {
			ev := Event{Type: t, Addr: addr, Value: v}
			m.seen = append(m.seen, ev)
			return ev, nil
		}
		if !IsAgain(err) {
			return Event{}, fmt.Errorf("libzmq: monitor event: %w", err)
		}
		if ctx.Err() != nil {
			return Event{}, fmt.Errorf("libzmq: monitor event: %w", ctx.Err())
		}
	}
}

// WaitFor returns the first event of one of the given types, reading and
// recording the events before it.
func (m *Monitor) WaitFor(ctx context.Context, types zmq.Event) (Event, error) {
	for {
		ev, err := m.Next(ctx)
		if err != nil {
			return Event{}, fmt.Errorf("waiting for %v (seen %v): %w", types, m.seen, err)
		}
		if ev.Type&types != 0 {
			return ev, nil
		}
	}
}

// Poll reads the events already queued, without waiting, and returns
// every event read so far.
func (m *Monitor) Poll() ([]Event, error) {
	for {
		t, addr, v, err := m.pair.RecvEvent(zmq.DONTWAIT)
		if IsAgain(err) {
			return m.seen, nil
		}
		if err != nil {
			return m.seen, fmt.Errorf("libzmq: monitor event: %w", err)
		}
		m.seen = append(m.seen, Event{Type: t, Addr: addr, Value: v})
	}
}

// Seen returns the events read so far.
func (m *Monitor) Seen() []Event { return m.seen }

// Count returns how many of the events read so far have one of the given
// types.
func (m *Monitor) Count(types zmq.Event) int {
	n := 0
	for _, ev := range m.seen {
		if ev.Type&types != 0 {
			n++
		}
	}
	return n
}

// LocalAddr returns the local address, as host:port, of a TCP socket of
// libzmq's given by its file descriptor (as in EVENT_CONNECTED).
func LocalAddr(fd int) (string, error) {
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("getsockname: %w", err)
	}
	return sockaddrString(sa)
}

// PeerAddr returns the remote address, as host:port, of a TCP socket of
// libzmq's given by its file descriptor (as in EVENT_ACCEPTED).
func PeerAddr(fd int) (string, error) {
	sa, err := syscall.Getpeername(fd)
	if err != nil {
		return "", fmt.Errorf("getpeername: %w", err)
	}
	return sockaddrString(sa)
}

func sockaddrString(sa syscall.Sockaddr) (string, error) {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String(), nil
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String(), nil
	}
	return "", fmt.Errorf("unexpected socket address %T", sa)
}
