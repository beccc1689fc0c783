package mechanism

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/zmtp-go/zmtp/frame"
)

// ErrHandshake matches (with errors.Is) every handshake failure reported by
// this package.
var ErrHandshake = errors.New("zmtp: handshake failed")

// Handshake failures. Each matches ErrHandshake; those caused by bytes that
// break the protocol also match frame.ErrProtocol.
var (
	ErrUnexpectedCommand = &protoError{"unexpected command during handshake"}
	ErrMalformedCommand  = &protoError{"malformed handshake command"}
	ErrBadIdentity       = &protoError{"invalid Identity property"} // longer than 255 octets
)

type protoError struct{ msg string }

func (e *protoError) Error() string { return "zmtp: " + e.msg }
func (e *protoError) Is(target error) bool {
	return target == ErrHandshake || target == frame.ErrProtocol
}

// SocketTypeError reports a peer whose Socket-Type is missing or cannot talk
// to ours.
type SocketTypeError struct {
	Local string // our socket type
	Peer  string // the peer's; empty when it sent none
}

// Error names both socket types.
func (e *SocketTypeError) Error() string {
	if e.Peer == "" {
		return "zmtp: peer sent no Socket-Type"
	}
	return fmt.Sprintf("zmtp: socket type %s cannot talk to %s", e.Peer, e.Local)
}

// Is reports whether target is ErrHandshake.
func (e *SocketTypeError) Is(target error) bool { return target == ErrHandshake }

// PeerError reports an ERROR command received from the peer. The failure
// is final: a client must not retry with the same credentials.
type PeerError struct {
	Reason string
}

// Error quotes the peer's reason.
func (e *PeerError) Error() string { return "zmtp: peer sent ERROR: " + strconv.Quote(e.Reason) }

// Is reports whether target is ErrHandshake.
func (e *PeerError) Is(target error) bool { return target == ErrHandshake }

// wrapMalformed marks a parse error from the frame package as a handshake
// failure while keeping its cause.
func wrapMalformed(err error) error {
	return fmt.Errorf("%w: %w", ErrMalformedCommand, err)
}
