package dump

import (
	"encoding/binary"
	"io"

	"github.com/zmtp-go/zmtp/frame"
)

// resyncMaxBody is the largest message frame body a resynchronisation
// accepts as its first frame: the frame that follows it must be in view
// to confirm the boundary.
const resyncMaxBody = 16 << 10

// verdict is the outcome of testing a position as a frame boundary.
type verdict uint8

const (
	reject         verdict = iota // not a boundary
	needMore                      // cannot tell without more octets
	accept                        // a frame starts here
	acceptGreeting                // a ZMTP 3 greeting starts here
	acceptWS                      // a WebSocket frame starts here
)

// resync looks for the next plausible frame boundary in b. Octets before it
// are skipped. The decision at each position depends only on the octets
// from there on, so it does not depend on how the input was split; with
// eof, a frame that ends exactly at the end of the stream is accepted.
func (d *Decoder) resync(b []byte, eof bool) (int, bool) {
	for i := 0; i < len(b); i++ {
		switch d.candidate(b[i:], eof) {
		case reject:
			continue
		case needMore:
			d.skipped += int64(i)
			return i, false
		case accept:
			d.skipped += int64(i)
			d.flushSkip()
			d.state = stHeader
			d.unsynced = true
			return i, true
		case acceptWS:
			d.skipped += int64(i)
			d.flushSkip()
			d.ws = &wsState{request: b[i+1]&0x80 != 0}
			d.kindKnown = true
			d.state = stWSHeader
			d.unsynced = true
			return i, true
		case acceptGreeting:
			d.skipped += int64(i)
			d.flushSkip()
			d.state = stGreeting
			d.framing = fm3
			d.unsynced = false
			return i, true
		}
	}
	d.skipped += int64(len(b))
	return len(b), false
}

// candidate tests whether a frame (or a greeting) starts at b[0].
func (d *Decoder) candidate(b []byte, eof bool) verdict {
	short := func() verdict {
		if eof {
			return reject
		}
		return needMore
	}
	if len(b) == 0 {
		return short()
	}
	if d.ws == nil && d.framing == fm3 && !d.greeted {
		switch b[0] {
		case 0x80 | wsBinary, 0x80 | wsClose, 0x80 | wsPing, 0x80 | wsPong:
			// Not ZMTP flags (reserved bits): a WebSocket frame of a
			// ZWS connection whose beginning was not seen?
			return d.wsCandidate(b, eof)
		}
	}
	if b[0] == 0xFF && d.framing == fm3 && !d.greeted {
		if len(b) < frame.GreetingPrefixSize {
			return short()
		}
		// The padding is not interpreted: libzmq sends a length there.
		if b[9] == 0x7F && b[10] >= 3 && b[10] < 16 {
			return acceptGreeting
		}
		return reject
	}
	switch d.framing {
	case fm1:
		return d.candidate1(b, eof)
	case fm2:
		if b[0]&^(frame.FlagMore|frame.FlagLong) != 0 {
			return reject
		}
	}
	h, n, err := frame.ParseHeader(b)
	if err == io.ErrUnexpectedEOF {
		return short()
	}
	if err != nil {
		return reject
	}
	long := b[0]&frame.FlagLong != 0
	if long && h.Size <= 255 {
		// Writers use the short form for small bodies.
		return reject
	}
	if h.IsCommand() {
		if h.Size < 2 || h.Size > 1<<40 {
			return reject
		}
		if len(b) < n+1 {
			return short()
		}
		nl := int(b[n])
		if nl == 0 || uint64(nl) >= h.Size {
			return reject
		}
		if len(b) < n+1+nl {
			return short()
		}
		name := b[n+1 : n+1+nl]
		for _, c := range name {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return reject
			}
		}
		if knownCommand(name) {
			return accept
		}
		if h.Size > resyncMaxBody {
			return reject
		}
		return followed(b, n+int(h.Size), eof, false)
	}
	if d.mech() == frame.MechanismCurve {
		// Under CURVE every frame is a command; libzmq sends MESSAGE in
		// frames without the COMMAND flag.
		const name = "\x07MESSAGE"
		if h.Size < uint64(len(name)) || h.More() {
			return reject
		}
		if len(b) < n+len(name) {
			return short()
		}
		if string(b[n:n+len(name)]) == name {
			return accept
		}
		return reject
	}
	if h.Size > resyncMaxBody || h.Flags == 0 && h.Size == 0 {
		return reject
	}
	return d.followedBy(b, n+int(h.Size), eof, h.More())
}

// followedBy checks, for ZMTP 3 or 2.0 framing, that a plausible header
// starts at b[p]; more requires a message frame.
func (d *Decoder) followedBy(b []byte, p int, eof, more bool) verdict {
	if d.framing == fm2 {
		if len(b) < p+1 {
			if eof && len(b) == p && !more {
				return accept
			}
			if eof {
				return reject
			}
			return needMore
		}
		if b[p]&^(frame.FlagMore|frame.FlagLong) != 0 {
			return reject
		}
		return accept
	}
	return followed(b, p, eof, more)
}

// followed checks that a plausible ZMTP 3 header starts at b[p].
func followed(b []byte, p int, eof, more bool) verdict {
	if len(b) <= p {
		if eof && len(b) == p && !more {
			return accept
		}
		if eof {
			return reject
		}
		return needMore
	}
	h, _, err := frame.ParseHeader(b[p:])
	if err == io.ErrUnexpectedEOF {
		if eof {
			return accept
		}
		return needMore
	}
	if err != nil || more && h.IsCommand() || h.Flags == 0 && h.Size == 0 {
		// An empty last frame is too common in zero padding to confirm.
		return reject
	}
	if h.IsCommand() && h.Size < 2 || h.Size > 1<<40 {
		return reject
	}
	return accept
}

// candidate1 tests a ZMTP 1.0 frame boundary: length (counting the flags
// octet), flags 0 or 1, body, and a plausible next frame.
func (d *Decoder) candidate1(b []byte, eof bool) verdict {
	short := func() verdict {
		if eof {
			return reject
		}
		return needMore
	}
	var length uint64
	n := 2
	if b[0] == 0xFF {
		if len(b) < 10 {
			return short()
		}
		length, n = binary.BigEndian.Uint64(b[1:9]), 10
	} else {
		if len(b) < 2 {
			return short()
		}
		length = uint64(b[0])
	}
	if length == 0 || length > resyncMaxBody || b[n-1] > 1 || length == 1 && b[n-1] == 0 {
		return reject
	}
	p := n + int(length) - 1
	if len(b) < p+2 {
		if eof && len(b) == p && b[n-1] == 0 {
			return accept
		}
		return short()
	}
	if b[p] == 0 || b[p] != 0xFF && b[p+1] > 1 {
		return reject
	}
	return accept
}

// knownCommand reports whether name is a command of RFC 23, 37, 24 or 26.
func knownCommand(name []byte) bool {
	switch string(name) {
	case frame.CmdReady, frame.CmdError, frame.CmdSubscribe, frame.CmdCancel,
		frame.CmdPing, frame.CmdPong, frame.CmdJoin, frame.CmdLeave,
		frame.CmdHello, frame.CmdWelcome, frame.CmdInitiate, frame.CmdMessage:
		return true
	}
	return false
}

// wsCandidate tests whether a whole WebSocket frame (a final binary
// message or a control frame) starts at b[0], masked as the direction's
// frames are, and is followed by the header of another.
func (d *Decoder) wsCandidate(b []byte, eof bool) verdict {
	short := func() verdict {
		if eof {
			return reject
		}
		return needMore
	}
	if len(b) < 2 {
		return short()
	}
	masked := b[1]&0x80 != 0
	if d.conn != nil && masked != (d.dir == FromClient) {
		return reject
	}
	n := 2
	size := int(b[1] & 0x7F)
	switch size {
	case 127:
		// Longer than a resynchronisation looks ahead.
		return reject
	case 126:
		if len(b) < 4 {
			return short()
		}
		size, n = int(binary.BigEndian.Uint16(b[2:])), 4
	}
	if masked {
		n += 4
	}
	op := b[0] & 0x0F
	if size > resyncMaxBody || op != wsBinary && size > maxControl || op == wsBinary && size == 0 {
		return reject
	}
	if len(b) < n+size+2 {
		if eof && len(b) == n+size {
			return acceptWS
		}
		return short()
	}
	if op == wsBinary {
		f := b[n]
		if masked {
			f ^= b[n-4]
		}
		if f&^(zwsMore|zwsCommand) != 0 {
			return reject
		}
	}
	next := b[n+size:]
	switch next[0] {
	case 0x80 | wsBinary, wsBinary, 0x80 | wsClose, 0x80 | wsPing, 0x80 | wsPong:
	default:
		return reject
	}
	if next[1]&0x80 != b[1]&0x80 {
		return reject
	}
	return acceptWS
}
