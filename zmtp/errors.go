package zmtp

import (
	"errors"
	"fmt"
	"net"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// Connection-level errors. Each can be tested with errors.Is. Those a
// peer causes (ErrMechanismMismatch, ErrMessageTooLarge, ErrPlaintextFrame,
// ErrMessageBeforeReady) also match frame.ErrProtocol, and those that end
// a handshake mechanism.ErrHandshake.
var (
	// ErrClosed is returned by operations on a closed Conn. It is
	// net.ErrClosed, so code that checks for that keeps working.
	ErrClosed = net.ErrClosed
	// ErrMechanismMismatch: the peer's greeting names another mechanism.
	ErrMechanismMismatch error = &peerFault{"security mechanism mismatch", true}
	// ErrMessageTooLarge: a message from the peer exceeds MaxMessageSize, or has more than MaxMessageSize/32 frames (at least 64).
	ErrMessageTooLarge error = &peerFault{"message larger than MaxMessageSize", false}
	// ErrPlaintextFrame: a frame that is not a MESSAGE command arrived
	// after a handshake that set up a cipher (CURVE).
	ErrPlaintextFrame error = &peerFault{"clear-text frame on an encrypted connection", false}
	// ErrMessageBeforeReady: a message frame arrived during the handshake.
	ErrMessageBeforeReady error = &peerFault{"message frame during the handshake", true}
	// ErrEmptyMessage: a message must have at least one frame.
	ErrEmptyMessage = errors.New("zmtp: message with no frames")
	// ErrWouldBlock is returned by TrySend and TryRecv when they cannot
	// proceed at once.
	ErrWouldBlock = errors.New("zmtp: operation would block")
	// ErrMultipart: a socket type of single-frame messages (RADIO, DISH,
	// CLIENT, SERVER, SCATTER, GATHER, PEER, CHANNEL) was given a message
	// of several frames (libzmq's EINVAL for ZMQ_SNDMORE).
	ErrMultipart = errors.New("zmtp: multipart message on a socket type of single-frame messages")
)

// peerFault is a connection-level violation by the peer: it matches
// frame.ErrProtocol, and mechanism.ErrHandshake when it ends a handshake,
// as the codec's and the mechanisms' errors do.
type peerFault struct {
	msg       string
	handshake bool
}

func (e *peerFault) Error() string { return "zmtp: " + e.msg }

func (e *peerFault) Is(target error) bool {
	return target == frame.ErrProtocol || e.handshake && target == mechanism.ErrHandshake
}

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

// EndpointError reports an endpoint of a Socket that failed: for good, or
// (Retrying) on its last attempt while it goes on trying. Err says why
// (a *mechanism.PeerError for a refusal, a *mechanism.SocketTypeError, ...).
type EndpointError struct {
	Endpoint string
	Err      error
	Retrying bool
}

// Error names the endpoint and the failure.
func (e *EndpointError) Error() string {
	if e.Retrying {
		return fmt.Sprintf("zmtp: %s: %v (retrying)", e.Endpoint, e.Err)
	}
	return fmt.Sprintf("zmtp: %s: %v (given up)", e.Endpoint, e.Err)
}

// Unwrap returns the failure.
func (e *EndpointError) Unwrap() error { return e.Err }

// UndeliveredError is returned by Socket.Close when it discarded messages
// it had accepted: the linger period ran out (or was NoLinger) before they
// could be written to their peers.
type UndeliveredError struct {
	Messages int
}

// Error says how many messages were discarded.
func (e *UndeliveredError) Error() string {
	return fmt.Sprintf("zmtp: closed with %d undelivered messages discarded", e.Messages)
}
