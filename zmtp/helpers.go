package zmtp

import (
	"context"
	"strings"
)

// Shorthands for the common cases. Each is one call to Send, Recv or
// their Try forms: Send(ctx, [][]byte) stays the way to send frames
// without a copy.

// SendFrames sends its arguments as the frames of one message, without
// copying them: SendFrames(ctx, a, b) is Send(ctx, [][]byte{a, b}). The
// socket takes ownership of the frames.
func (s *Socket) SendFrames(ctx context.Context, frames ...[]byte) error {
	return s.Send(ctx, frames)
}

// SendString sends its arguments as the frames of one message, a frame
// per string (copied): SendString(ctx, "hello") sends one frame,
// SendString(ctx, id, "", "body") three.
func (s *Socket) SendString(ctx context.Context, frames ...string) error {
	return s.Send(ctx, stringFrames(frames))
}

// TrySendString is SendString that returns ErrWouldBlock instead of
// blocking.
func (s *Socket) TrySendString(frames ...string) error {
	return s.TrySend(stringFrames(frames))
}

// stringFrames copies strings into frames that share one allocation.
func stringFrames(frames []string) [][]byte {
	if len(frames) == 0 {
		return nil
	}
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	buf := make([]byte, 0, n)
	msg := make([][]byte, len(frames))
	for i, f := range frames {
		buf = append(buf, f...)
		msg[i] = buf[len(buf)-len(f) : len(buf) : len(buf)]
	}
	return msg
}

// RecvString receives a message and returns its frames as one string:
// the frame of a single-frame message, the frames joined with nothing
// between them otherwise. RecvStrings keeps them apart.
func (s *Socket) RecvString(ctx context.Context) (string, error) {
	m, err := s.Recv(ctx)
	if err != nil {
		return "", err
	}
	return m.Text(), nil
}

// RecvStrings receives a message and returns its frames as strings.
func (s *Socket) RecvStrings(ctx context.Context) ([]string, error) {
	m, err := s.Recv(ctx)
	if err != nil {
		return nil, err
	}
	return m.Strings(), nil
}

// TryRecvString is RecvString that returns ErrWouldBlock instead of
// blocking.
func (s *Socket) TryRecvString() (string, error) {
	m, err := s.TryRecv()
	if err != nil {
		return "", err
	}
	return m.Text(), nil
}

// Text returns the message's frames joined with nothing between them:
// a single-frame message's text.
func (m Message) Text() string {
	if len(m.Frames) == 1 {
		return string(m.Frames[0])
	}
	var b strings.Builder
	for _, f := range m.Frames {
		b.Write(f)
	}
	return b.String()
}

// Strings returns the message's frames as strings.
func (m Message) Strings() []string {
	out := make([]string, len(m.Frames))
	for i, f := range m.Frames {
		out[i] = string(f)
	}
	return out
}

// NewBound returns a socket of type t with the default options, bound to
// each endpoint; NewConnected one connected to each. On error the socket
// is closed and nil is returned.
func NewBound(t SocketType, endpoints ...string) (*Socket, error) {
	return newAt(t, (*Socket).Bind, endpoints)
}

// NewConnected returns a socket of type t with the default options,
// connected to each endpoint: see NewBound.
func NewConnected(t SocketType, endpoints ...string) (*Socket, error) {
	return newAt(t, (*Socket).Connect, endpoints)
}

func newAt(t SocketType, attach func(*Socket, string) error, endpoints []string) (*Socket, error) {
	s, err := NewSocket(t, Options{})
	if err != nil {
		return nil, err
	}
	for _, ep := range endpoints {
		if err := attach(s, ep); err != nil {
			s.CloseContext(closedContext())
			return nil, err
		}
	}
	return s, nil
}

// closedContext returns a context that has ended: a Close that must not
// wait.
func closedContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
