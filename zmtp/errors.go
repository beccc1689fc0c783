package zmtp

import (
	"errors"
	"net"
)

// Connection-level errors. Each can be tested with errors.Is.
var (
	// ErrClosed is returned by operations on a closed Conn. It is
	// net.ErrClosed, so code that checks for that keeps working.
	ErrClosed = net.ErrClosed
	// ErrMechanismMismatch: the peer's greeting names another mechanism.
	ErrMechanismMismatch = errors.New("zmtp: security mechanism mismatch")
	// ErrMessageTooLarge: a message from the peer exceeds MaxMessageSize.
	ErrMessageTooLarge = errors.New("zmtp: message larger than MaxMessageSize")
	// ErrPlaintextFrame: a frame that is not a MESSAGE command arrived
	// after a handshake that set up a cipher (CURVE).
	ErrPlaintextFrame = errors.New("zmtp: clear-text frame on an encrypted connection")
	// ErrMessageBeforeReady: a message frame arrived during the handshake.
	ErrMessageBeforeReady = errors.New("zmtp: message frame during the handshake")
	// ErrEmptyMessage: a message must have at least one frame.
	ErrEmptyMessage = errors.New("zmtp: message with no frames")
	// ErrWouldBlock is returned by TrySend and TryRecv when they cannot
	// proceed at once.
	ErrWouldBlock = errors.New("zmtp: operation would block")
)

// TimeoutError reports a handshake or heartbeat that ran out of time. It
// satisfies net.Error with Timeout() true.
type TimeoutError struct {
	// Op is "handshake", "heartbeat" (no traffic after our PING) or
	// "heartbeat ttl" (no traffic within the peer's PING TTL).
	Op string
}

// Error names what timed out.
func (e *TimeoutError) Error() string { return "zmtp: " + e.Op + " timed out" }

// Timeout reports true, as net.Error asks.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports false: the connection is gone.
func (e *TimeoutError) Temporary() bool { return false }

// ClosedError is what Recv and Send return once the connection has ended:
// it matches net.ErrClosed (and ErrClosed) and also the cause, so that
// errors.Is(err, io.EOF) or errors.As(err, &*mechanism.PeerError) work.
type ClosedError struct {
	Cause error // nil after a local Close
}

// Error says that the connection ended and why.
func (e *ClosedError) Error() string {
	if e.Cause == nil {
		return "zmtp: connection closed"
	}
	return "zmtp: connection closed: " + e.Cause.Error()
}

// Unwrap returns net.ErrClosed and the cause.
func (e *ClosedError) Unwrap() []error {
	if e.Cause == nil {
		return []error{net.ErrClosed}
	}
	return []error{net.ErrClosed, e.Cause}
}
