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

// legacySocketTypes are the socket types of a ZMTP 2.0 greeting, by the
// value of its socket-type octet (RFC 15).
var legacySocketTypes = [...]string{
	SocketPair, SocketPub, SocketSub, SocketReq, SocketRep,
	SocketDealer, SocketRouter, SocketPull, SocketPush,
}

// LegacySocketType returns the socket type a ZMTP 2.0 greeting names with
// code, and false for a code RFC 15 does not define.
func LegacySocketType(code byte) (string, bool) {
	if int(code) < len(legacySocketTypes) {
		return legacySocketTypes[code], true
	}
	return "", false
}
