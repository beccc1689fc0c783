package frame

import (
	"encoding/binary"
	"time"
)

// Command names defined by RFC 23, 37, 24 and 26.
const (
	CmdReady     = "READY"
	CmdError     = "ERROR"
	CmdSubscribe = "SUBSCRIBE"
	CmdCancel    = "CANCEL"
	CmdPing      = "PING"
	CmdPong      = "PONG"
	CmdJoin      = "JOIN"
	CmdLeave     = "LEAVE"
	CmdHello     = "HELLO"
	CmdWelcome   = "WELCOME"
	CmdInitiate  = "INITIATE"
	CmdMessage   = "MESSAGE"
)

// Limits from the command grammars.
const (
	MaxPingContext = 16  // octets of PING context echoed in PONG
	MaxReasonSize  = 255 // octets of an ERROR reason
	MaxGroupSize   = 255 // octets of a JOIN/LEAVE group
)

// Command is a command frame's body split into name and data. Data is a
// view of the parsed bytes.
type Command struct {
	Name string
	Data []byte
	// Raw, when not nil, is the body sent in place of the one Name and
	// Data make: a command written in a form ParseCommand rejects, such as
	// the ERROR of LibzmqError. Name and Data then say what it means.
	// ParseCommand never sets it.
	Raw []byte
}

// ParseCommand splits a command body into name and data. The name length
// must be 1 to 255 and fit the body; the name must be letters only. Known
// names are returned without allocating; Data is a view into body.
func ParseCommand(body []byte) (Command, error) {
	if len(body) == 0 {
		return Command{}, ErrMalformedCommand
	}
	n := int(body[0])
	if n == 0 || n > len(body)-1 {
		return Command{}, ErrMalformedCommand
	}
	name := body[1 : 1+n]
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return Command{}, ErrMalformedCommand
		}
	}
	return Command{Name: internCommandName(name), Data: body[1+n:]}, nil
}

func internCommandName(b []byte) string {
	switch string(b) {
	case CmdReady:
		return CmdReady
	case CmdError:
		return CmdError
	case CmdSubscribe:
		return CmdSubscribe
	case CmdCancel:
		return CmdCancel
	case CmdPing:
		return CmdPing
	case CmdPong:
		return CmdPong
	case CmdJoin:
		return CmdJoin
	case CmdLeave:
		return CmdLeave
	case CmdHello:
		return CmdHello
	case CmdWelcome:
		return CmdWelcome
	case CmdInitiate:
		return CmdInitiate
	case CmdMessage:
		return CmdMessage
	}
	return string(b)
}

// BodyLen returns the size of the command's body on the wire.
func (c Command) BodyLen() int {
	if c.Raw != nil {
		return len(c.Raw)
	}
	return 1 + len(c.Name) + len(c.Data)
}

// AppendBody appends the command body: name length, name, data; or Raw
// when it is not nil.
func (c Command) AppendBody(dst []byte) []byte {
	if c.Raw != nil {
		return append(dst, c.Raw...)
	}
	dst = append(dst, byte(len(c.Name)))
	dst = append(dst, c.Name...)
	return append(dst, c.Data...)
}

// Append appends the whole command frame: header and body.
func (c Command) Append(dst []byte) []byte {
	dst = AppendHeader(dst, FlagCommand, c.BodyLen())
	return c.AppendBody(dst)
}

// appendCommandHeader appends the frame header and name of a command whose
// data is dataLen octets.
func appendCommandHeader(dst []byte, name string, dataLen int) []byte {
	dst = AppendHeader(dst, FlagCommand, 1+len(name)+dataLen)
	dst = append(dst, byte(len(name)))
	return append(dst, name...)
}

// AppendReady appends a READY command frame carrying md.
func AppendReady(dst []byte, md Metadata) []byte {
	dst = appendCommandHeader(dst, CmdReady, md.EncodedLen())
	return AppendMetadata(dst, md)
}

// AppendError appends an ERROR command frame. A reason longer than 255
// octets is truncated.
func AppendError(dst []byte, reason string) []byte {
	if len(reason) > MaxReasonSize {
		reason = reason[:MaxReasonSize]
	}
	dst = appendCommandHeader(dst, CmdError, 1+len(reason))
	dst = append(dst, byte(len(reason)))
	return append(dst, reason...)
}

// ParseError parses an ERROR command's data: a reason length and the
// reason, exactly filling data.
func ParseError(data []byte) (string, error) {
	if len(data) == 0 || int(data[0]) != len(data)-1 {
		return "", ErrMalformedCommand
	}
	return string(data[1:]), nil
}

// AppendSubscribe appends a SUBSCRIBE command frame (ZMTP 3.1).
func AppendSubscribe(dst, topic []byte) []byte {
	dst = appendCommandHeader(dst, CmdSubscribe, len(topic))
	return append(dst, topic...)
}

// AppendCancel appends a CANCEL command frame (ZMTP 3.1).
func AppendCancel(dst, topic []byte) []byte {
	dst = appendCommandHeader(dst, CmdCancel, len(topic))
	return append(dst, topic...)
}

// Ping is a parsed PING command.
type Ping struct {
	// TTL is the time-to-live hint in tenths of a second; 0 means none.
	TTL uint16
	// Context is echoed in the PONG; at most 16 octets.
	Context []byte
}

// TTLDuration returns the TTL as a duration.
func (p Ping) TTLDuration() time.Duration {
	return time.Duration(p.TTL) * 100 * time.Millisecond
}

// ParsePing parses a PING command's data. It must hold at least the 2-octet
// TTL. A context longer than 16 octets is cut to its first 16, which is what
// the PONG echoes (as libzmq does).
func ParsePing(data []byte) (Ping, error) {
	if len(data) < 2 {
		return Ping{}, ErrMalformedCommand
	}
	ctx := data[2:]
	if len(ctx) > MaxPingContext {
		ctx = ctx[:MaxPingContext]
	}
	return Ping{TTL: binary.BigEndian.Uint16(data), Context: ctx}, nil
}

// AppendPing appends a PING command frame. A context longer than 16 octets
// is truncated.
func AppendPing(dst []byte, ttl uint16, context []byte) []byte {
	if len(context) > MaxPingContext {
		context = context[:MaxPingContext]
	}
	dst = appendCommandHeader(dst, CmdPing, 2+len(context))
	dst = binary.BigEndian.AppendUint16(dst, ttl)
	return append(dst, context...)
}

// AppendPong appends a PONG command frame echoing context, truncated to 16
// octets.
func AppendPong(dst []byte, context []byte) []byte {
	if len(context) > MaxPingContext {
		context = context[:MaxPingContext]
	}
	dst = appendCommandHeader(dst, CmdPong, len(context))
	return append(dst, context...)
}

// AppendJoin appends a JOIN command frame (RADIO/DISH groups).
func AppendJoin(dst, group []byte) []byte {
	dst = appendCommandHeader(dst, CmdJoin, len(group))
	return append(dst, group...)
}

// AppendLeave appends a LEAVE command frame.
func AppendLeave(dst, group []byte) []byte {
	dst = appendCommandHeader(dst, CmdLeave, len(group))
	return append(dst, group...)
}

// ParseGroup checks the data of a JOIN or LEAVE command: at most 255
// octets, none of them zero.
func ParseGroup(data []byte) ([]byte, error) {
	if CheckGroup(data) != nil {
		return nil, ErrMalformedCommand
	}
	return data, nil
}
