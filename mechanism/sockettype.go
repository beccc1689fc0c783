package mechanism

// Socket type names, as sent in the Socket-Type property.
const (
	Req     = "REQ"
	Rep     = "REP"
	Dealer  = "DEALER"
	Router  = "ROUTER"
	Pub     = "PUB"
	XPub    = "XPUB"
	Sub     = "SUB"
	XSub    = "XSUB"
	Push    = "PUSH"
	Pull    = "PULL"
	Pair    = "PAIR"
	Client  = "CLIENT"
	Server  = "SERVER"
	Radio   = "RADIO"
	Dish    = "DISH"
	Scatter = "SCATTER"
	Gather  = "GATHER"
	Peer    = "PEER"
	Channel = "CHANNEL"
	// Stream is libzmq's raw TCP socket; it never performs a ZMTP handshake.
	Stream = "STREAM"
)

// compatibility is RFC 37's table of legal peer types.
var compatibility = map[string][]string{
	Req:     {Rep, Router},
	Rep:     {Req, Dealer},
	Dealer:  {Rep, Dealer, Router},
	Router:  {Req, Dealer, Router},
	Pub:     {Sub, XSub},
	XPub:    {Sub, XSub},
	Sub:     {Pub, XPub},
	XSub:    {Pub, XPub},
	Push:    {Pull},
	Pull:    {Push},
	Pair:    {Pair},
	Client:  {Server},
	Server:  {Client},
	Radio:   {Dish},
	Dish:    {Radio},
	Scatter: {Gather},
	Gather:  {Scatter},
	Peer:    {Peer},
	Channel: {Channel},
}

// Compatible reports whether a socket of type local may talk to a peer of
// type peer (RFC 37, "The Socket-Type Property"). Names are exact,
// upper-case.
func Compatible(local, peer string) bool {
	for _, t := range compatibility[local] {
		if t == peer {
			return true
		}
	}
	return false
}

// KnownSocketType reports whether name is one of the ZMTP socket types.
func KnownSocketType(name string) bool {
	_, ok := compatibility[name]
	return ok
}
