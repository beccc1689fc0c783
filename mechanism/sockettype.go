package mechanism

import "github.com/zmtp-go/zmtp/frame"

// Socket type names, as sent in the Socket-Type property: package frame's
// (frame.SocketReq and so on), under the names this package has always
// had.
const (
	Req     = frame.SocketReq
	Rep     = frame.SocketRep
	Dealer  = frame.SocketDealer
	Router  = frame.SocketRouter
	Pub     = frame.SocketPub
	XPub    = frame.SocketXPub
	Sub     = frame.SocketSub
	XSub    = frame.SocketXSub
	Push    = frame.SocketPush
	Pull    = frame.SocketPull
	Pair    = frame.SocketPair
	Client  = frame.SocketClient
	Server  = frame.SocketServer
	Radio   = frame.SocketRadio
	Dish    = frame.SocketDish
	Scatter = frame.SocketScatter
	Gather  = frame.SocketGather
	Peer    = frame.SocketPeer
	Channel = frame.SocketChannel
	// Stream is libzmq's raw TCP socket; it never performs a ZMTP handshake
	// (so KnownSocketType(Stream) is false).
	Stream = frame.SocketStream
)

// Compatible reports whether a socket of type local may talk to a peer of
// type peer (RFC 37, "The Socket-Type Property"): frame.CompatibleSocketTypes.
func Compatible(local, peer string) bool { return frame.CompatibleSocketTypes(local, peer) }

// KnownSocketType reports whether name is one of the ZMTP socket types, the
// types a handshake can carry: frame.KnownSocketType. STREAM is not one:
// it never performs a handshake.
func KnownSocketType(name string) bool { return frame.KnownSocketType(name) }
