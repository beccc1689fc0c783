package pirate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// Defaults of LazyOptions.
const (
	DefaultTimeout  = 2500 * time.Millisecond
	DefaultAttempts = 3
)

// ErrNoReply matches every *NoReplyError.
var ErrNoReply = errors.New("pirate: no reply")

// ErrClientClosed is returned by Request on a closed LazyClient.
var ErrClientClosed = errors.New("pirate: client closed")

// NoReplyError reports a request that had no reply after every attempt.
// It matches ErrNoReply and has Timeout() true.
type NoReplyError struct {
	Attempts int           // how many times the request was sent
	Wait     time.Duration // how long each attempt waited
}

// Error says how long the request waited.
func (e *NoReplyError) Error() string {
	return fmt.Sprintf("pirate: no reply after %d attempts of %v", e.Attempts, e.Wait)
}

// Is reports whether target is ErrNoReply.
func (e *NoReplyError) Is(target error) bool { return target == ErrNoReply }

// Timeout reports true.
func (e *NoReplyError) Timeout() bool { return true }

// LazyOptions configures a LazyClient; the zero value gives the defaults.
type LazyOptions struct {
	// Timeout is how long each attempt waits for the reply:
	// DefaultTimeout when zero.
	Timeout time.Duration
	// Attempts is how many times a request is sent in all:
	// DefaultAttempts when zero.
	Attempts int
	// Context, when set, makes the sockets in it, for inproc endpoints.
	Context *zmtp.Context
	// Socket is given to each REQ socket made. Its Linger is replaced by
	// NoLinger: an unanswered request is abandoned with its socket.
	Socket zmtp.Options
}

// LazyClient is the Lazy Pirate client: a REQ socket that is closed and
// opened anew when a reply does not come in time. Its methods are safe for
// concurrent use; requests are sent one at a time.
type LazyClient struct {
	endpoint string
	opts     LazyOptions
	sem      chan struct{} // held by the request in progress; guards sock
	sock     *zmtp.Socket  // nil until needed and after a timeout
	closed   bool
}

// NewLazyClient returns a client of the server at endpoint. It connects
// when the first request is sent.
func NewLazyClient(endpoint string, opts LazyOptions) (*LazyClient, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Attempts == 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Timeout < 0 || opts.Attempts < 0 {
		return nil, fmt.Errorf("pirate: negative Timeout or Attempts")
	}
	opts.Socket.Linger = zmtp.NoLinger
	return &LazyClient{endpoint: endpoint, opts: opts, sem: make(chan struct{}, 1)}, nil
}

// MaxWait is the longest a Request can take: Attempts times Timeout.
func (c *LazyClient) MaxWait() time.Duration {
	return time.Duration(c.opts.Attempts) * c.opts.Timeout
}

// Request sends the frames of msg as one message and returns the reply.
// Each attempt waits Timeout; after Attempts attempts it returns a
// *NoReplyError, so it returns within MaxWait unless ctx ends first (then
// with ctx's error). The frames are copied for each attempt: the caller
// keeps them.
func (c *LazyClient) Request(ctx context.Context, msg ...[]byte) ([][]byte, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	if c.closed {
		return nil, ErrClientClosed
	}
	for attempt := 0; attempt < c.opts.Attempts; attempt++ {
		if c.sock == nil {
			s, err := c.open()
			if err != nil {
				return nil, err
			}
			c.sock = s
		}
		reply, err := c.try(ctx, msg)
		if err == nil {
			return reply, nil
		}
		// Whatever went wrong, this socket is mid-request: drop it.
		c.sock.Close()
		c.sock = nil
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
	}
	return nil, &NoReplyError{Attempts: c.opts.Attempts, Wait: c.opts.Timeout}
}

// try sends msg once and waits for the reply for at most Timeout.
func (c *LazyClient) try(ctx context.Context, msg [][]byte) ([][]byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	if err := c.sock.Send(actx, copyFrames(msg)); err != nil {
		return nil, err
	}
	m, err := c.sock.Recv(actx)
	if err != nil {
		return nil, err
	}
	return m.Frames, nil
}

func (c *LazyClient) open() (*zmtp.Socket, error) {
	var s *zmtp.Socket
	var err error
	if c.opts.Context != nil {
		s, err = c.opts.Context.NewSocket(zmtp.Req, c.opts.Socket)
	} else {
		s, err = zmtp.NewSocket(zmtp.Req, c.opts.Socket)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Connect(c.endpoint); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the client's socket, abandoning a request in progress
// once it has ended. Later requests fail with ErrClientClosed.
func (c *LazyClient) Close() error {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	c.closed = true
	if c.sock != nil {
		c.sock.Close()
		c.sock = nil
	}
	return nil
}

func copyFrames(msg [][]byte) [][]byte {
	n := 0
	for _, f := range msg {
		n += len(f)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(msg))
	for i, f := range msg {
		buf = append(buf, f...)
		out[i] = buf[len(buf)-len(f) : len(buf) : len(buf)]
	}
	return out
}
