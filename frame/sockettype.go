package frame

// Socket type names, as sent in the Socket-Type property (RFC 37) and
// named by the ZMTP 2.0 greeting's socket-type octet (RFC 15).
const (
	SocketReq     = "REQ"
	SocketRep     = "REP"
	SocketDealer  = "DEALER"
	SocketRouter  = "ROUTER"
	SocketPub     = "PUB"
	SocketXPub    = "XPUB"
	SocketSub     = "SUB"
	SocketXSub    = "XSUB"
	SocketPush    = "PUSH"
	SocketPull    = "PULL"
	SocketPair    = "PAIR"
	SocketClient  = "CLIENT"  // RFC 41
	SocketServer  = "SERVER"  // RFC 41
	SocketRadio   = "RADIO"   // RFC 48
	SocketDish    = "DISH"    // RFC 48
	SocketScatter = "SCATTER" // RFC 49
	SocketGather  = "GATHER"  // RFC 49
	SocketPeer    = "PEER"    // RFC 51
	SocketChannel = "CHANNEL" // RFC 52
	// SocketStream is libzmq's raw TCP socket. It never performs a ZMTP
	// handshake, so no peer ever sends it as a Socket-Type:
	// KnownSocketType and CompatibleSocketTypes do not know it.
	SocketStream = "STREAM"
)

// socketPeers is RFC 37's table of legal peer types, with the draft
// types' pairs of RFC 41, 48, 49, 51 and 52.
var socketPeers = map[string][]string{
	SocketReq:     {SocketRep, SocketRouter},
	SocketRep:     {SocketReq, SocketDealer},
	SocketDealer:  {SocketRep, SocketDealer, SocketRouter},
	SocketRouter:  {SocketReq, SocketDealer, SocketRouter},
	SocketPub:     {SocketSub, SocketXSub},
	SocketXPub:    {SocketSub, SocketXSub},
	SocketSub:     {SocketPub, SocketXPub},
	SocketXSub:    {SocketPub, SocketXPub},
	SocketPush:    {SocketPull},
	SocketPull:    {SocketPush},
	SocketPair:    {SocketPair},
	SocketClient:  {SocketServer},
	SocketServer:  {SocketClient},
	SocketRadio:   {SocketDish},
	SocketDish:    {SocketRadio},
	SocketScatter: {SocketGather},
	SocketGather:  {SocketScatter},
	SocketPeer:    {SocketPeer},
	SocketChannel: {SocketChannel},
}

// CompatibleSocketTypes reports whether a socket of type local may talk to
// a peer of type peer (RFC 37, "The Socket-Type Property"). Names are
// exact, upper-case.
func CompatibleSocketTypes(local, peer string) bool {
	for _, t := range socketPeers[local] {
		if t == peer {
			return true
		}
	}
	return false
}

// KnownSocketType reports whether name is a socket type that may appear
// in a ZMTP handshake's Socket-Type property. It is false for
// SocketStream, which never performs a handshake.
func KnownSocketType(name string) bool {
	_, ok := socketPeers[name]
	return ok
}

// legacySocketTypes are libzmq's socket type numbers, which a ZMTP 2.0
// greeting's socket-type octet carries (RFC 15 names 0 to 8; libzmq sends
// its own number for the others, "DGRAM" being its raw UDP socket).
var legacySocketTypes = [...]string{
	SocketPair, SocketPub, SocketSub, SocketReq, SocketRep,
	SocketDealer, SocketRouter, SocketPull, SocketPush,
	SocketXPub, SocketXSub, SocketStream, SocketServer, SocketClient,
	SocketRadio, SocketDish, SocketGather, SocketScatter, "DGRAM",
	SocketPeer, SocketChannel,
}

// LegacySocketType returns the socket type name of a ZMTP 2.0 socket-type
// octet, and false for an octet that names none.
func LegacySocketType(octet uint8) (string, bool) {
	if int(octet) < len(legacySocketTypes) {
		return legacySocketTypes[octet], true
	}
	return "", false
}

// LegacySocketTypeOctet returns the socket-type octet for a socket type
// name, such as "DEALER", and false for an unknown name.
func LegacySocketTypeOctet(name string) (uint8, bool) {
	for i, n := range legacySocketTypes {
		if n == name {
			return uint8(i), true
		}
	}
	return 0, false
}
