package mechanism

import (
	"context"

	"github.com/zmtp-go/zmtp/frame"
)

// Mechanism is a security mechanism as configured on a socket. It is shared
// by all the socket's connections and creates one Handshake per connection.
// Implementations must be safe for concurrent use.
type Mechanism interface {
	// Name is the mechanism name sent in the greeting, such as "NULL".
	Name() string
	// AsServer is the as-server bit sent in the greeting.
	AsServer() bool
	// NewHandshake returns the state machine for one connection, created
	// once the greetings have been exchanged.
	NewHandshake(p Params) (Handshake, error)
}

// Params describes one connection to a new Handshake.
type Params struct {
	// SocketType is our socket type, sent as the Socket-Type property.
	SocketType string
	// Identity is our routing id, sent as the Identity property when not
	// empty.
	Identity []byte
	// Properties are further properties to send (application "X-" names).
	Properties frame.Metadata
	// PeerGreeting is the greeting the peer sent.
	PeerGreeting frame.Greeting
	// RemoteAddr is the peer's address for authentication requests: the
	// bare IP address of a TCP peer, as RFC 27 asks.
	RemoteAddr string
}

// Handshake is the per-connection state machine of a mechanism. It is used
// by one goroutine at a time.
//
// The connection calls Start once and sends the commands it returns; then it
// feeds every received command to Handle and sends what Handle returns,
// until Done reports true or an error is returned. When Handle returns both
// commands and an error (an ERROR command for the peer, say), the connection
// sends the commands on a best-effort basis and then closes.
type Handshake interface {
	// Start returns the commands to send first (possibly none).
	Start() ([]frame.Command, error)
	// Handle consumes one received command. ctx bounds any call to an
	// authenticator.
	Handle(ctx context.Context, cmd frame.Command) ([]frame.Command, error)
	// Done reports whether the handshake is complete.
	Done() bool
	// PeerMetadata returns the peer's properties once Done: its READY or
	// INITIATE metadata, and what authentication added (User-Id).
	PeerMetadata() frame.Metadata
	// Cipher returns the cipher that wraps frames after the handshake, or
	// nil when the mechanism sends frames in clear text (NULL, PLAIN).
	Cipher() Cipher
}

// Cipher protects frames after a handshake (CURVE's MESSAGE command). It
// is used by the connection's single reader and single writer: Seal from
// the writer, Open from the reader, so the two may run concurrently.
type Cipher interface {
	// Seal appends one complete frame holding a MESSAGE command that
	// carries a frame with the given flags (frame.FlagMore or
	// frame.FlagCommand) and body. Like libzmq, the outer frame has flags 0.
	Seal(dst []byte, flags byte, body []byte) ([]byte, error)
	// Open decrypts the data of a received MESSAGE command in place and
	// returns the carried frame's flags and body, which is a part of data.
	// Data that does not open is left unchanged.
	Open(data []byte) (flags byte, body []byte, err error)
	// Overhead is at most the number of octets Seal adds to a body,
	// header included, for sizing.
	Overhead() int
}

// ReadyMetadata returns the properties a mechanism sends in READY or
// INITIATE for p: Socket-Type, then Identity when set, then p.Properties.
func ReadyMetadata(p Params) frame.Metadata {
	md := make(frame.Metadata, 0, 2+len(p.Properties))
	md = append(md, frame.Property{Name: frame.PropSocketType, Value: []byte(p.SocketType)})
	if len(p.Identity) > 0 {
		md = append(md, frame.Property{Name: frame.PropIdentity, Value: p.Identity})
	}
	return append(md, p.Properties...)
}

// CheckPeerMetadata validates the metadata a peer sent at the end of a
// handshake: a Socket-Type compatible with ours and, when present, an
// Identity of at most 255 octets. The Identity may start with a zero
// octet, as libzmq 4.3 accepts; a ROUTER must keep such ids apart from
// the ones it generates.
func CheckPeerMetadata(p Params, md frame.Metadata) error {
	st, ok := md.Lookup(frame.PropSocketType)
	if !ok {
		return &SocketTypeError{Local: p.SocketType}
	}
	if !Compatible(p.SocketType, string(st)) {
		return &SocketTypeError{Local: p.SocketType, Peer: string(st)}
	}
	if id, ok := md.Lookup(frame.PropIdentity); ok {
		if len(id) > 255 {
			return ErrBadIdentity
		}
	}
	return nil
}
