package dump

import "time"

// Dir is the direction of a stream within a connection.
type Dir uint8

// The two directions of a connection. The client is the side that opened
// the TCP connection (or, when that was not seen, the side guessed to be
// the client).
const (
	FromClient Dir = 0 // client to server
	FromServer Dir = 1 // server to client
)

// Other returns the opposite direction.
func (d Dir) Other() Dir { return d ^ 1 }

// Kind says what an Event reports.
type Kind uint8

// Event kinds. The decoder emits KindGreeting to KindError and
// KindIdentity; KindOpen,
// KindFin and KindReset describe the transport and are emitted by whoever
// feeds the decoder (a TCP reassembler, a proxy).
const (
	KindGreeting  Kind = iota + 1 // a greeting (ZMTP 3.x, or a legacy 1.0/2.0 greeting)
	KindCommand                   // one command frame
	KindMessage                   // one whole (multipart) message
	KindGap                       // octets missing from a capture
	KindSkip                      // octets skipped while looking for a frame boundary
	KindError                     // malformed traffic
	KindOpen                      // connection opened
	KindFin                       // the direction was closed (TCP FIN or end of stream)
	KindReset                     // the connection was reset (TCP RST)
	KindIdentity                  // the identity frame of a ZMTP 1.0 or 2.0 greeting
	KindUpgrade                   // the HTTP request or response of a WebSocket upgrade (ZWS 2.0)
	KindWebSocket                 // a WebSocket control frame (ping, pong, close)
	KindTLS                       // a TLS connection (wss://), which cannot be decoded
)

var kindNames = [...]string{
	KindGreeting:  "greeting",
	KindCommand:   "command",
	KindMessage:   "message",
	KindGap:       "gap",
	KindSkip:      "skip",
	KindError:     "error",
	KindOpen:      "open",
	KindFin:       "fin",
	KindReset:     "rst",
	KindIdentity:  "identity",
	KindUpgrade:   "upgrade",
	KindWebSocket: "websocket",
	KindTLS:       "tls",
}

// String returns the kind's name as used in the JSON output.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one decoded item of a ZMTP stream. Exactly one of Greeting,
// Command, Message, Upgrade and WebSocket is set for the kinds of the same
// names, and Frame for KindIdentity. Byte slices in an Event are owned by it: the decoder
// never reuses them.
type Event struct {
	// Time is when the event's last octet was seen. The decoder leaves it
	// zero; the caller that knows packet times fills it in.
	Time time.Time
	// Packet is the number, from 1 in the capture file, of the packet
	// whose arrival completed the event; 0 when the events do not come
	// from a capture file.
	Packet int
	// Packets are the numbers of the packets that carried the event's
	// octets, in increasing order.
	Packets []int
	// ConnID numbers the connection, from 1, in order of appearance.
	ConnID int
	// Dir is the direction of the stream the event was decoded from.
	Dir Dir
	// Src and Dst are the sending and receiving endpoints, such as
	// "10.0.0.1:5555"; empty when unknown.
	Src, Dst string
	// SrcType and DstType are the socket types of the sender and of the
	// receiver, as announced in READY (or INITIATE, or a ZMTP 2.0
	// greeting), when known at the time of the event.
	SrcType, DstType string
	// Mechanism is the security mechanism named in the greeting.
	Mechanism string
	// Offset is the position of the event's first octet in its stream,
	// counting octets missing from a capture.
	Offset int64
	// Len is the number of octets the event covers on the wire.
	Len int64
	// Unsynced marks events decoded after a frame boundary was found by
	// heuristics (after a gap, garbage, or a capture that started in the
	// middle of a stream): their framing may be wrong.
	Unsynced bool
	// Kind says what the event reports.
	Kind Kind

	Greeting *Greeting
	Command  *Command
	Message  *Message
	// Frame is the identity frame of a ZMTP 1.0 or 2.0 greeting
	// (KindIdentity): its flags octet (in ZMTP 1.0 framing, the octet
	// after the length), size, size form and first octets.
	Frame *Frame
	// Upgrade is the HTTP request or response of a WebSocket upgrade
	// (KindUpgrade).
	Upgrade *Upgrade
	// WebSocket is a WebSocket control frame (KindWebSocket).
	WebSocket *WebSocket

	// Err describes malformed traffic (KindError), or a command or message
	// whose content does not follow its grammar.
	Err string
	// Hint explains a known oddity, such as libzmq's malformed PLAIN ERROR.
	Hint string
}

// Greeting is a decoded greeting.
type Greeting struct {
	// Major and Minor are the version: 3.0 and 3.1 for ZMTP 3, 2.0 for a
	// ZMTP 2.0 peer (Minor is then its revision octet minus one) and 1.0
	// for a ZMTP 1.0 peer (or one that sent revision 0, as libzmq 3.0
	// did, and uses ZMTP 1.0 framing). For a downgraded greeting they are
	// the version the sender continued in.
	Major, Minor int
	// Downgraded reports a sender that began a ZMTP 3 greeting (its
	// signature, and SignatureMajor when not zero) and continued in ZMTP
	// 2.0 or 1.0 because its peer's greeting was older, as libzmq does.
	Downgraded     bool
	SignatureMajor int
	// Mechanism is the security mechanism (ZMTP 3 only).
	Mechanism string
	// AsServer is the as-server bit (ZMTP 3 only).
	AsServer bool
	// SocketType is the socket type sent by a ZMTP 2.0 peer (or a
	// downgraded greeting).
	SocketType string
	// Padding is the 8 octets of the signature between 0xFF and 0x7F
	// (absent for a ZMTP 1.0 greeting without a signature). libzmq puts
	// there its identity's length plus one, so they are not all zero.
	Padding []byte
	// Revision is the octet sent after the signature, as it was sent: the
	// major version of a ZMTP 3 greeting, the revision of a ZMTP 2.0 one
	// (1) or 0 (ZMTP 1.0 framing); HasRevision tells it was seen.
	Revision    int
	HasRevision bool
	// Filler is the ZMTP 3 greeting's last 31 octets when they are not
	// all zero; FillerMissing counts those the capture lost (its snap
	// length cut them).
	Filler        []byte
	FillerMissing int
	// Raw is the greeting's octets as sent, for hex dumps. The identity
	// frame of a ZMTP 1.0 or 2.0 greeting is an event of its own
	// (KindIdentity).
	Raw []byte
}

// Legacy reports whether the greeting is from a ZMTP 1.0 or 2.0 peer.
func (g *Greeting) Legacy() bool { return g.Major < 3 }

// Command is a decoded command frame.
type Command struct {
	// Name is the command name, such as "READY".
	Name string
	// Size is the size of the command body on the wire.
	Size int64
	// Flags is the frame's flags octet; Long tells that the size used 8
	// octets.
	Flags byte
	Long  bool
	// Truncated reports that only the first octets of the body were kept
	// and decoded (see Options.MaxCommand).
	Truncated bool
	// Properties is the metadata of READY and INITIATE (NULL and PLAIN).
	Properties []Property
	// Reason is the reason of an ERROR.
	Reason string
	// Username and Password are a PLAIN HELLO's credentials. Password is
	// "" unless Options.ShowPasswords is set; PasswordLen is its length.
	Username    string
	Password    string
	PasswordLen int
	// TTL is a PING's time-to-live in tenths of a second.
	TTL uint16
	// Context is a PING's or PONG's context.
	Context []byte
	// Topic is the topic of SUBSCRIBE and CANCEL, and the group of JOIN
	// and LEAVE (at most Options.Preview octets of it).
	Topic []byte
	// Curve describes a CURVE command (HELLO, WELCOME, INITIATE, READY,
	// MESSAGE), whose boxes cannot be opened.
	Curve *Curve
	// GSSAPI describes the token of a GSSAPI INITIATE or MESSAGE.
	GSSAPI *GSSAPI
	// Empty reports a command frame of no octets, which libzmq's GSSAPI
	// client sends once its security context is established.
	Empty bool
	// Data is the first octets of the data of a command this package does
	// not know.
	Data []byte
	// DataFrame reports a command carried by a frame without the COMMAND
	// flag: libzmq sends CURVE MESSAGE commands that way.
	DataFrame bool
	// Body is the first octets of the whole command body, for hex dumps
	// (at most Options.Preview octets, and never less than 256).
	Body []byte
}

// Property is one metadata property. Value holds at most the first
// Options.Preview octets (and never less than 256) of a value of
// ValueLen octets.
type Property struct {
	Name     string
	Value    []byte
	ValueLen int
}

// Curve describes a CurveZMQ command.
type Curve struct {
	// Version is HELLO's CurveZMQ version, such as "1.0".
	Version string
	// ClientKey is HELLO's client transient public key C'.
	ClientKey []byte
	// Nonce is the nonce as sent: 8 octets (a counter, also in Counter) or
	// 16 octets (WELCOME).
	Nonce []byte
	// Counter is the value of a short (8-octet) nonce.
	Counter uint64
	// Cookie is the size of INITIATE's cookie.
	Cookie int
	// Box is the size of the encrypted box.
	Box int
}

// Message is a decoded multipart message.
type Message struct {
	// Frames describes the first Options.MaxFrames frames.
	Frames []Frame
	// FrameCount is the number of frames, also those not in Frames.
	FrameCount int
	// Size is the sum of the frame bodies' sizes.
	Size int64
	// Subscription is "subscribe" or "cancel" for a subscription sent as a
	// message (0x01 or 0x00 and a topic) by a SUB or XSUB peer; then Topic
	// is the topic (its first octets).
	Subscription string
	Topic        []byte
	// Grouped reports a message from a RADIO peer (RFC 48): a group frame
	// of at most 255 octets and the body. Group is the group; the body is
	// the last frame.
	Grouped bool
	Group   []byte
	// Incomplete reports a message cut short: the stream ended, or a gap
	// broke the framing, before its last frame.
	Incomplete bool
}

// Frame describes one frame of a message.
type Frame struct {
	// Offset is the position of the frame's header in the stream.
	Offset int64
	// More is the MORE flag; Long tells that the size used 8 octets (in
	// ZMTP 1.0 framing: the length was escaped with 0xFF and sent in 8
	// octets).
	More, Long bool
	// Flags is the flags octet as sent.
	Flags byte
	// Size is the body's size.
	Size int64
	// Data is the body's first octets (at most Options.Preview).
	Data []byte
	// Hash is the 64-bit FNV-1a hash of the whole body; it is zero when
	// octets of the body are missing.
	Hash uint64
	// Missing is the number of the body's octets lost in capture gaps.
	Missing int64
	// Partial reports that the stream ended inside the body.
	Partial bool
}

// Upgrade is the HTTP/1.1 request or response of a WebSocket upgrade
// (RFC 6455), which opens a ZWS 2.0 connection (RFC 45).
type Upgrade struct {
	// Request tells a request (Method, Path) from a response (Status,
	// Reason).
	Request bool
	Method  string
	Path    string
	Status  int
	Reason  string
	// Proto is the HTTP version, such as "HTTP/1.1".
	Proto string
	// Headers are the header lines as sent, in order.
	Headers []Header
	// Subprotocols are the values of Sec-WebSocket-Protocol: those the
	// client offers, in its order of preference, or the one the server
	// chose.
	Subprotocols []string
	// Mechanism is the security mechanism the (first) subprotocol names:
	// "NULL" for "ZWS2.0/NULL", "" for "ZWS2.0" (no mechanism: each side
	// first sends its routing id).
	Mechanism string
	// Host is the Host header (request); Key the Sec-WebSocket-Key
	// (request) and Accept the Sec-WebSocket-Accept (response).
	Host, Key, Accept string
	// AcceptOK reports that Accept matches the key of the request seen on
	// the other direction.
	AcceptOK bool
	// Raw is the head as sent (request or status line and headers), for
	// hex dumps.
	Raw []byte
}

// Header is one HTTP header line.
type Header struct {
	Name, Value string
}

// WebSocket describes a WebSocket control frame.
type WebSocket struct {
	// Opcode is the frame's opcode: 0x8 close, 0x9 ping, 0xA pong.
	Opcode byte
	// Masked tells that the payload was masked (as a client's must be).
	Masked bool
	// Size is the payload's size; Data the payload (at most 125 octets).
	Size int64
	Data []byte
	// Code and Reason are a close frame's status code (0 when it has
	// none) and reason.
	Code   int
	Reason string
}

// OpName returns the name of the frame's opcode: "ping", "pong", "close".
func (w *WebSocket) OpName() string { return wsOpName(w.Opcode) }
