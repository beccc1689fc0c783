package dump

import (
	"fmt"

	"github.com/zmtp-go/zmtp/frame"
)

// Conn decodes both directions of one connection. Its decoders share what
// each direction announces, so every event carries the socket types of both
// peers (once known) and the mechanism. Events are annotated with the
// connection's id and endpoints.
//
// A Conn is not safe for concurrent use: callers that feed the two
// directions from two goroutines must serialise the calls.
type Conn struct {
	// ID numbers the connection in its events.
	ID int
	// Addr holds the endpoints: Addr[FromClient] is the client's.
	Addr [2]string

	dec    [2]*Decoder
	emit   func(Event)
	opened bool
	closed [2]bool
	reset  bool
}

// NewConn returns the decoder of a connection between client and server
// (endpoints such as "10.0.0.1:40000", or "" when unknown) that passes its
// events to emit.
func NewConn(id int, client, server string, opts Options, emit func(Event)) *Conn {
	c := &Conn{ID: id, Addr: [2]string{client, server}, emit: emit}
	for i := range c.dec {
		d := NewDecoder(opts, emit)
		d.dir = Dir(i)
		d.conn = c
		c.dec[i] = d
	}
	c.dec[0].peer, c.dec[1].peer = c.dec[1], c.dec[0]
	return c
}

// Decoder returns the decoder of one direction.
func (c *Conn) Decoder(dir Dir) *Decoder { return c.dec[dir&1] }

// Feed decodes the next octets sent in direction dir.
func (c *Conn) Feed(dir Dir, b []byte) { c.dec[dir&1].Feed(b) }

// Gap reports n octets missing in direction dir.
func (c *Conn) Gap(dir Dir, n int64) { c.dec[dir&1].Gap(n) }

// Open reports that the connection was seen opening.
func (c *Conn) Open() {
	if c.opened {
		return
	}
	c.opened = true
	c.transport(FromClient, KindOpen)
}

// Close reports the end of direction dir (a TCP FIN, or the end of a
// relayed stream): what remains undecoded is reported, then a KindFin
// event.
func (c *Conn) Close(dir Dir) {
	dir &= 1
	if c.closed[dir] {
		return
	}
	c.closed[dir] = true
	c.dec[dir].End()
	c.transport(dir, KindFin)
}

// Reset reports a reset sent in direction dir: both directions end.
func (c *Conn) Reset(dir Dir) {
	dir &= 1
	c.dec[dir].End()
	c.dec[dir^1].End()
	if !c.reset {
		c.reset = true
		c.transport(dir, KindReset)
	}
	c.closed = [2]bool{true, true}
}

// Ended reports whether both directions have ended.
func (c *Conn) Ended() bool { return c.closed[0] && c.closed[1] }

func (c *Conn) transport(dir Dir, k Kind) {
	c.dec[dir].emitEvent(Event{Kind: k, Offset: c.dec[dir].Offset()})
}

// annotate fills in the connection's part of an event.
func (c *Conn) annotate(ev *Event) {
	ev.ConnID = c.ID
	ev.Src = c.Addr[ev.Dir&1]
	ev.Dst = c.Addr[(ev.Dir&1)^1]
}

// DirStats counts what one direction carried.
type DirStats struct {
	// Greeting reports that a greeting was decoded.
	Greeting bool
	// Messages, Frames (of messages), Commands and Subscriptions (sent as
	// messages) decoded.
	Messages, Frames, Commands, Subscriptions int64
	// Octets fed, octets missing from the capture, octets skipped while
	// resynchronising.
	Octets, Missing, Skipped int64
	// Errors is the number of malformed items.
	Errors int64
	// Control is the number of WebSocket control frames (ping, pong,
	// close) of a ZWS 2.0 connection.
	Control int64
}

// ConnStats summarises a connection.
type ConnStats struct {
	ID             int
	Client, Server string
	// Dir holds each direction's counters, indexed by Dir.
	Dir [2]DirStats
	// Version is the ZMTP version both sides can speak ("3.1", "3.0",
	// "2.0", "1.0"), or "" when no greeting was seen.
	Version string
	// Mechanism is the security mechanism.
	Mechanism string
	// Transport is "ws" for ZMTP over WebSocket (ZWS 2.0), whose
	// Subprotocol is the one the server chose (or the client's first
	// offer) and Path the request's path; "tls" for a TLS connection,
	// which cannot be decoded; "" for ZMTP over TCP.
	Transport   string
	Subprotocol string
	Path        string
	// ClientType and ServerType are the announced socket types.
	ClientType, ServerType string
	// Handshake is the outcome: "complete", "incomplete", "not seen",
	// "error: REASON", "mechanism mismatch: A/B" or "legacy".
	Handshake string
	// End is "fin" when both directions were closed, "rst" after a reset,
	// or "" when the connection was still open.
	End string
}

// Stats summarises the connection so far.
func (c *Conn) Stats() ConnStats {
	s := ConnStats{ID: c.ID, Client: c.Addr[0], Server: c.Addr[1]}
	cl, sv := c.dec[0], c.dec[1]
	s.Dir = [2]DirStats{cl.stats, sv.stats}
	s.ClientType, s.ServerType = cl.sockType, sv.sockType
	s.Mechanism = cl.mech()
	if cl.ws != nil || sv.ws != nil {
		c.wsStats(&s)
	} else if cl.greeted || sv.greeted {
		major, minor := 99, 99
		for _, d := range c.dec {
			if d.greeted && (d.major < major || d.major == major && d.minor < minor) {
				major, minor = d.major, d.minor
			}
		}
		s.Version = fmt.Sprintf("%d.%d", major, minor)
	}
	s.Handshake = c.outcome()
	switch {
	case c.reset:
		s.End = "rst"
	case c.Ended():
		s.End = "fin"
	}
	return s
}

// wsStats fills in what a WebSocket connection's summary says.
func (c *Conn) wsStats(s *ConnStats) {
	cl, sv := c.dec[0].ws, c.dec[1].ws
	if cl != nil && cl.tls || sv != nil && sv.tls {
		s.Transport, s.Mechanism = "tls", ""
		return
	}
	s.Transport = "ws"
	if cl != nil && cl.req != nil {
		s.Path = cl.req.Path
		if len(cl.req.Subprotocols) > 0 {
			s.Subprotocol = cl.req.Subprotocols[0]
		}
	}
	if sv != nil && sv.response != nil && len(sv.response.Subprotocols) > 0 {
		s.Subprotocol = sv.response.Subprotocols[0]
	}
}

// wsOutcome is the outcome of a WebSocket connection's handshake.
func (c *Conn) wsOutcome() string {
	cl, sv := c.dec[0], c.dec[1]
	for _, d := range c.dec {
		if d.ws != nil && d.ws.tls {
			return "TLS: cannot decode"
		}
	}
	if sv.ws != nil && sv.ws.response != nil && sv.ws.response.Status != 101 {
		u := sv.ws.response
		return fmt.Sprintf("error: HTTP %d %s", u.Status, u.Reason)
	}
	for _, d := range c.dec {
		if d.hs.err != "" {
			return "error: " + d.hs.err
		}
	}
	if sv.ws == nil || sv.ws.response == nil {
		if (cl.ws == nil || cl.ws.req == nil) && cl.stats.Messages+sv.stats.Messages+cl.stats.Commands+sv.stats.Commands > 0 {
			// A capture that began after the upgrade.
			return "not seen"
		}
		return "incomplete"
	}
	switch {
	case sv.ws.bare:
		return "complete"
	case cl.mech() == frame.MechanismNull:
		if cl.hs.ready && sv.hs.ready {
			return "complete"
		}
	default:
		if cl.hs.ready && sv.hs.initiate || sv.hs.ready && cl.hs.initiate {
			return "complete"
		}
	}
	return "incomplete"
}

func (c *Conn) outcome() string {
	cl, sv := c.dec[0], c.dec[1]
	if cl.ws != nil || sv.ws != nil {
		return c.wsOutcome()
	}
	for _, d := range c.dec {
		if d.hs.err != "" {
			return "error: " + d.hs.err
		}
	}
	if cl.greeted && cl.major < 3 || sv.greeted && sv.major < 3 {
		return "legacy"
	}
	if !cl.greeted && !sv.greeted {
		if cl.stats.Messages+sv.stats.Messages+cl.stats.Commands+sv.stats.Commands > 0 {
			return "not seen"
		}
		return "incomplete"
	}
	if cl.greeted && sv.greeted && cl.mechanism != sv.mechanism {
		return "mechanism mismatch: " + cl.mechanism + "/" + sv.mechanism
	}
	switch c.dec[0].mech() {
	case frame.MechanismNull:
		if cl.hs.ready && sv.hs.ready {
			return "complete"
		}
	default:
		if cl.hs.ready && sv.hs.initiate || sv.hs.ready && cl.hs.initiate {
			return "complete"
		}
	}
	return "incomplete"
}
