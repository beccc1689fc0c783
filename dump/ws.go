package dump

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/zmtp-go/zmtp/frame"
)

// ZMTP over WebSocket (ZWS 2.0, RFC 45): the client sends an HTTP/1.1
// upgrade request naming the subprotocols it offers ("ZWS2.0/NULL",
// "ZWS2.0/PLAIN", "ZWS2.0/CURVE", or "ZWS2.0" for no mechanism), the
// server answers 101 with the one it chose, and each side then sends
// RFC 6455 frames (the client's masked). Each binary message is one ZMTP
// frame: a flags octet (0x01 more, 0x02 command) and the body. There is
// no greeting: the mechanism's commands start at once. Heartbeats are
// WebSocket pings.
//
// A stream is recognised as such from its first octets: "GET " (the
// client's request) or "HTTP/" (the server's response). A stream that
// begins with a TLS handshake record (wss://) is reported once and not
// decoded.

// WebSocket opcodes (RFC 6455, 5.2).
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xA
)

// ZWS 2.0 flags: the first octet of each binary message.
const (
	zwsMore    = 0x01
	zwsCommand = 0x02
)

const (
	// maxHTTPHead bounds an upgrade's head (request or status line and
	// headers), as the transport bounds the request it reads.
	maxHTTPHead = 16 << 10
	// maxControl is the largest payload of a control frame (RFC 6455).
	maxControl = 125
	// wsGUID is appended to the key to make Sec-WebSocket-Accept.
	wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// streamKind says what a stream's first octets begin.
type streamKind uint8

const (
	kindUndecided streamKind = iota // more octets are needed
	kindZMTP
	kindHTTPRequest
	kindHTTPResponse
	kindTLS
)

// detectKind classifies a stream by its first octets. None of the
// prefixes it looks for can begin a ZMTP greeting: as a ZMTP 1.0 length
// and flags octet, "GE", "HT" and 0x16 0x03 have invalid flags.
func detectKind(b []byte) streamKind {
	for _, p := range []struct {
		prefix string
		kind   streamKind
	}{{"GET ", kindHTTPRequest}, {"HTTP/", kindHTTPResponse}, {"\x16\x03", kindTLS}} {
		n := min(len(b), len(p.prefix))
		if string(b[:n]) != p.prefix[:n] {
			continue
		}
		if n < len(p.prefix) {
			return kindUndecided
		}
		if p.kind == kindTLS && len(b) < 6 {
			// The record header and the handshake type.
			return kindUndecided
		}
		return p.kind
	}
	return kindZMTP
}

// wsState is the WebSocket side of a decoder.
type wsState struct {
	request  bool // the stream is the client's (it began with a request, or its frames are masked)
	tls      bool
	response *Upgrade // the response, on the server's stream
	req      *Upgrade // the request, on the client's stream
	bare     bool     // subprotocol "ZWS2.0": each side first sends its routing id
	idSeen   bool
	deflate  bool // permessage-deflate was negotiated
	scanned  int  // octets of the HTTP head searched for its end

	// The frame being read.
	hOff   int64
	hLen   int
	fin    bool
	opcode byte
	masked bool
	mask   [4]byte
	long   bool
	size   int64 // declared payload
	left   int64 // payload octets still to come
	at     int64 // payload octets read (for the mask)
	ctl    []byte
	ctlMis bool // octets of a control payload lost in a gap

	// The data message being read (binary or text, with continuations).
	inMsg   bool
	msgText bool  // a text message: skipped
	skip    bool  // the message is skipped (reported already)
	flagged bool  // its ZWS flags octet was read: a ZMTP frame is open
	msgOff  int64 // offset of its first frame header
	msgHdr  int   // header octets of its frames so far

	scratch [512]byte
}

// beginWS switches a decoder to the WebSocket upgrade of a ZWS 2.0
// connection.
func (d *Decoder) beginWS(request bool) {
	d.ws = &wsState{request: request}
	d.state = stHTTP
}

// beginTLS reports a TLS stream, once per connection, and stops decoding
// it.
func (d *Decoder) beginTLS(b []byte) {
	d.ws = &wsState{tls: true}
	if d.peer == nil || d.peer.ws == nil || !d.peer.ws.tls {
		what := "TLS record"
		switch b[5] {
		case 1:
			what = "TLS ClientHello"
		case 2:
			what = "TLS ServerHello"
		}
		d.emitEvent(Event{Kind: KindTLS, Offset: d.off, Hint: what + ": encrypted (wss://), the connection's traffic is not decoded"})
	}
	d.state = stStopped
}

// readHTTP reads the head of an upgrade request or response.
func (d *Decoder) readHTTP(b []byte, eof bool) (int, bool) {
	// Search only what was not searched before (the end of the head may
	// straddle it).
	from := max(d.ws.scanned-3, 0)
	end := bytes.Index(b[from:min(len(b), maxHTTPHead)], []byte("\r\n\r\n"))
	if end >= 0 {
		end += from
	}
	d.ws.scanned = min(len(b), maxHTTPHead)
	if end < 0 {
		if len(b) >= maxHTTPHead {
			d.malformed(fmt.Sprintf("HTTP head longer than %d octets", maxHTTPHead), d.off, int64(len(b)))
			d.stop("no longer decoding this direction")
			return 0, true
		}
		if eof && len(b) > 0 {
			d.malformed(fmt.Sprintf("stream ended inside the HTTP head, after %d octets", len(b)), d.off, int64(len(b)))
			d.state = stStopped
			return len(b), false
		}
		return 0, false
	}
	n := end + 4
	u, msg := parseHead(b[:end])
	u.Raw = bytes.Clone(b[:n])
	w := d.ws
	ev := Event{Kind: KindUpgrade, Offset: d.off, Len: int64(n), Upgrade: u, Err: msg}
	next := stWSHeader
	if u.Request {
		w.req = u
		if ev.Err == "" && !hasToken(u, "Upgrade", "websocket") {
			ev.Err = "no \"Upgrade: websocket\" header"
		}
		if len(u.Subprotocols) > 0 && (d.peer == nil || d.peer.ws == nil || d.peer.ws.response == nil) {
			// The client's first offer, until the server's choice is
			// known.
			d.setSubprotocol(u.Subprotocols[0], false)
		}
	} else {
		w.response = u
		var key string
		if d.peer != nil && d.peer.ws != nil && d.peer.ws.req != nil {
			key = d.peer.ws.req.Key
		}
		if key != "" && u.Accept != "" {
			u.AcceptOK = u.Accept == wsAccept(key)
			if !u.AcceptOK && ev.Err == "" {
				ev.Err = "Sec-WebSocket-Accept does not match the request's key"
			}
		}
		switch {
		case u.Status != 101:
			// A refusal: what follows is its body.
			next = stStopped
		case len(u.Subprotocols) == 0:
			if ev.Err == "" {
				ev.Err = "no subprotocol chosen (ZWS 2.0 needs one)"
			}
		default:
			d.setSubprotocol(u.Subprotocols[0], true)
		}
		for _, h := range u.Headers {
			if strings.EqualFold(h.Name, "Sec-WebSocket-Extensions") && strings.Contains(h.Value, "permessage-deflate") {
				w.deflate = true
				if d.peer != nil && d.peer.ws != nil {
					d.peer.ws.deflate = true
				}
			}
		}
	}
	if len(u.Subprotocols) > 0 && !strings.HasPrefix(u.Subprotocols[0], "ZWS2.0") && ev.Err == "" {
		ev.Err = fmt.Sprintf("subprotocol %q is not ZWS 2.0", u.Subprotocols[0])
	}
	if ev.Err != "" {
		d.stats.Errors++
	}
	d.emitEvent(ev)
	d.state = next
	return n, next != stStopped
}

// setSubprotocol records the mechanism a subprotocol names; agreed tells
// the server's choice, which holds for both directions.
func (d *Decoder) setSubprotocol(p string, agreed bool) {
	mech, bare := zwsMechanism(p)
	d.mechanism, d.ws.bare = mech, bare
	if agreed && d.peer != nil {
		d.peer.mechanism = mech
		if d.peer.ws != nil {
			d.peer.ws.bare = bare
		}
	}
}

// zwsMechanism returns the mechanism a ZWS 2.0 subprotocol names, and
// whether it names none ("ZWS2.0").
func zwsMechanism(p string) (string, bool) {
	if p == "ZWS2.0" {
		return "", true
	}
	if m, ok := strings.CutPrefix(p, "ZWS2.0/"); ok {
		return m, false
	}
	return "", false
}

// wsAccept is the Sec-WebSocket-Accept for a key (RFC 6455, 4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// parseHead parses an HTTP/1.1 request or response head (without its
// blank line). It returns what it could read and what is malformed.
func parseHead(b []byte) (*Upgrade, string) {
	lines := strings.Split(string(b), "\r\n")
	u := &Upgrade{}
	var msg string
	first := strings.SplitN(lines[0], " ", 3)
	if strings.HasPrefix(lines[0], "HTTP/") {
		u.Proto = first[0]
		if len(first) < 2 {
			msg = "malformed HTTP status line"
		} else if st, err := strconv.Atoi(first[1]); err != nil || st < 100 || st > 999 {
			msg = "malformed HTTP status code"
		} else {
			u.Status = st
		}
		if len(first) == 3 {
			u.Reason = first[2]
		}
	} else {
		u.Request = true
		u.Method = first[0]
		if len(first) == 3 {
			u.Path, u.Proto = first[1], first[2]
		} else {
			msg = "malformed HTTP request line"
		}
		if msg == "" && u.Proto != "HTTP/1.1" {
			msg = fmt.Sprintf("HTTP version %q (a WebSocket upgrade needs HTTP/1.1)", u.Proto)
		}
	}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			if msg == "" {
				msg = fmt.Sprintf("malformed HTTP header line %q", clipString(l, 64))
			}
			continue
		}
		value = strings.TrimSpace(value)
		u.Headers = append(u.Headers, Header{Name: name, Value: value})
		switch strings.ToLower(name) {
		case "sec-websocket-protocol":
			for _, p := range strings.Split(value, ",") {
				if p = strings.TrimSpace(p); p != "" {
					u.Subprotocols = append(u.Subprotocols, p)
				}
			}
		case "host":
			u.Host = value
		case "sec-websocket-key":
			u.Key = value
		case "sec-websocket-accept":
			u.Accept = value
		}
	}
	if len(u.Subprotocols) > 0 {
		u.Mechanism, _ = zwsMechanism(u.Subprotocols[0])
	}
	return u, msg
}

// hasToken reports whether a header lists a token (case-insensitive).
func hasToken(u *Upgrade, name, token string) bool {
	for _, h := range u.Headers {
		if !strings.EqualFold(h.Name, name) {
			continue
		}
		for _, t := range strings.Split(h.Value, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func clipString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func wsOpName(op byte) string {
	switch op {
	case wsContinuation:
		return "continuation"
	case wsText:
		return "text"
	case wsBinary:
		return "binary"
	case wsClose:
		return "close"
	case wsPing:
		return "ping"
	case wsPong:
		return "pong"
	}
	return fmt.Sprintf("opcode 0x%X", op)
}

// readWSHeader reads a WebSocket frame header.
func (d *Decoder) readWSHeader(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	w := d.ws
	fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0F
	masked := b[1]&0x80 != 0
	n := 2
	size := uint64(b[1] & 0x7F)
	long := false
	switch size {
	case 126:
		n += 2
	case 127:
		n += 8
		long = true
	}
	if masked {
		n += 4
	}
	if len(b) < n {
		return 0, false
	}
	switch size {
	case 126:
		size = uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		size = binary.BigEndian.Uint64(b[2:])
	}
	if size > 1<<62 {
		// The length cannot be followed: the framing is lost.
		d.malformed(fmt.Sprintf("implausible WebSocket payload length %d", size), d.off, int64(n))
		d.stop("WebSocket framing lost: no longer decoding this direction")
		return 0, true
	}
	*w = wsState{request: w.request, response: w.response, req: w.req, bare: w.bare, idSeen: w.idSeen, deflate: w.deflate,
		inMsg: w.inMsg, msgText: w.msgText, skip: w.skip, flagged: w.flagged, msgOff: w.msgOff, msgHdr: w.msgHdr, ctl: w.ctl[:0]}
	w.hOff, w.hLen, w.fin, w.opcode, w.masked, w.long = d.off, n, fin, op, masked, long
	w.size, w.left = int64(size), int64(size)
	if masked {
		copy(w.mask[:], b[n-4:n])
	}
	d.pos += n
	d.off += int64(n)
	d.state = stWSPayload
	d.wsHeader(rsv)
	if d.state == stWSPayload && w.left == 0 {
		d.wsFrameEnd()
	}
	return 0, true
}

// wsHeader checks a frame header just read and starts its payload.
func (d *Decoder) wsHeader(rsv byte) {
	w := d.ws
	bad := func(msg string) {
		d.malformed(msg, w.hOff, int64(w.hLen))
		w.opcode = 0xFF // the payload is skipped
	}
	switch {
	case w.request && !w.masked:
		d.malformed("unmasked WebSocket frame from the client", w.hOff, int64(w.hLen))
	case !w.request && w.masked:
		d.malformed("masked WebSocket frame from the server", w.hOff, int64(w.hLen))
	}
	if d.state == stStopped {
		return
	}
	op := w.opcode
	switch {
	case rsv != 0 && w.deflate && rsv == 0x40:
		bad("compressed WebSocket frame (permessage-deflate): not decoded")
		if op < 0x8 {
			d.wsAbandon()
		}
	case rsv != 0:
		bad(fmt.Sprintf("WebSocket frame with reserved bits 0x%02X (no extension was negotiated)", rsv))
		if op < 0x8 {
			d.wsAbandon()
		}
	case op >= 0x8 && op <= 0xA:
		if !w.fin || w.size > maxControl {
			bad(fmt.Sprintf("WebSocket %s frame fragmented or longer than %d octets", wsOpName(op), maxControl))
		}
	case op == wsBinary || op == wsText:
		if w.inMsg {
			d.malformed("WebSocket message begun before the previous one ended", w.hOff, int64(w.hLen))
			d.wsAbandon()
		}
		w.inMsg, w.msgText, w.skip, w.flagged = true, op == wsText, false, false
		w.msgOff, w.msgHdr = w.hOff, 0
		if op == wsText {
			d.malformed(fmt.Sprintf("WebSocket text message (%d octets): ZWS 2.0 messages are binary", w.size), w.hOff, int64(w.hLen))
			w.skip = true
		}
		d.wsData()
	case op == wsContinuation:
		if !w.inMsg {
			bad("WebSocket continuation frame outside a message")
			return
		}
		d.wsData()
	default:
		bad(fmt.Sprintf("unknown WebSocket opcode 0x%X", op))
	}
}

// wsData continues the message with the frame whose header was just read.
func (d *Decoder) wsData() {
	w := d.ws
	w.msgHdr += w.hLen
	if !w.flagged || w.skip {
		return
	}
	// The ZMTP frame goes on in this frame.
	if d.fSize+w.size > 1<<62 {
		d.malformed("implausible ZWS message size", w.hOff, int64(w.hLen))
		d.wsAbandon()
		w.skip = true
		return
	}
	d.fHdr += w.hLen
	d.fSize += w.size
	d.fLeft += w.size
	d.fLong = d.fLong || w.long
}

// wsAbandon ends the message being read, incomplete.
func (d *Decoder) wsAbandon() {
	w := d.ws
	if w.flagged && !w.skip && d.fFlags&frame.FlagCommand == 0 && !d.fAsCmd && !d.legacyID {
		d.addFrame(true)
		d.flushMessage(false)
	}
	d.legacyID = false
	w.inMsg, w.flagged, w.skip, w.msgText = false, false, false, false
}

// wsPayload consumes payload octets of the current frame from b and
// returns how many.
func (d *Decoder) wsPayload(b []byte) int {
	w := d.ws
	n := int(min(int64(len(b)), w.left))
	for done := 0; done < n; {
		chunk := b[done:n]
		if w.masked {
			k := min(len(chunk), len(w.scratch))
			for i := 0; i < k; i++ {
				w.scratch[i] = chunk[i] ^ w.mask[(w.at+int64(i))&3]
			}
			chunk = w.scratch[:k]
		}
		d.wsChunk(chunk)
		done += len(chunk)
		w.at += int64(len(chunk))
		w.left -= int64(len(chunk))
	}
	if w.left == 0 && d.state == stWSPayload {
		d.wsFrameEnd()
	}
	return n
}

// wsChunk takes unmasked payload octets.
func (d *Decoder) wsChunk(c []byte) {
	w := d.ws
	switch {
	case w.opcode >= 0x8 && w.opcode <= 0xA:
		w.ctl = append(w.ctl, c...)
		return
	case w.opcode == 0xFF || w.skip || !w.inMsg:
		return
	}
	if !w.flagged {
		f := c[0]
		c = c[1:]
		if f&^(zwsMore|zwsCommand) != 0 {
			d.malformed(fmt.Sprintf("invalid ZWS flags 0x%02X", f), w.msgOff, int64(w.msgHdr+1))
			w.skip = true
			return
		}
		var flags byte
		if f&zwsMore != 0 {
			flags |= frame.FlagMore
		}
		if f&zwsCommand != 0 {
			flags |= frame.FlagCommand
		}
		if flags&frame.FlagCommand == 0 && w.bare && !w.idSeen {
			// Without a mechanism, the first message is the routing id.
			w.idSeen = true
			d.legacyID = true
		}
		w.flagged = true
		d.beginFrame(w.msgOff, w.msgHdr+1, flags, f, w.long, w.left-1)
		d.state = stWSPayload
	}
	d.absorb(c)
}

// wsFrameEnd completes the current frame.
func (d *Decoder) wsFrameEnd() {
	w := d.ws
	d.state = stWSHeader
	switch {
	case w.opcode >= 0x8 && w.opcode <= 0xA:
		ws := &WebSocket{Opcode: w.opcode, Masked: w.masked, Size: w.size, Data: bytes.Clone(w.ctl)}
		ev := Event{Kind: KindWebSocket, Offset: w.hOff, Len: int64(w.hLen) + w.size, WebSocket: ws}
		if w.opcode == wsClose && len(w.ctl) >= 2 && !w.ctlMis {
			ws.Code = int(binary.BigEndian.Uint16(w.ctl))
			ws.Reason = string(w.ctl[2:])
		} else if w.opcode == wsClose && w.size == 1 {
			ev.Err = "close frame of one octet"
		}
		d.stats.Control++
		d.emitEvent(ev)
	case w.opcode == 0xFF || !w.inMsg || !w.fin:
	case w.skip:
		w.inMsg, w.skip, w.msgText = false, false, false
	case !w.flagged:
		d.malformed("empty ZWS message (no flags octet)", w.msgOff, int64(w.msgHdr))
		w.inMsg = false
	default:
		w.inMsg, w.flagged = false, false
		d.finishFrame()
		if d.state != stStopped {
			d.state = stWSHeader
		}
	}
}

// wsGap follows n octets lost from a WebSocket stream: inside a payload
// the decoder stays in step; anywhere else the framing is lost.
func (d *Decoder) wsGap(n int64) {
	w := d.ws
	if d.state == stWSPayload && d.pos == len(d.buf) {
		d.emitSimple(KindGap, d.off, n, "")
		k := min(n, w.left)
		switch {
		case w.opcode >= 0x8 && w.opcode <= 0xA:
			w.ctlMis = true
		case w.opcode == 0xFF || w.skip || !w.inMsg:
		case !w.flagged:
			d.malformed("ZWS flags octet lost in a gap", w.msgOff, int64(w.msgHdr))
			w.skip = true
		default:
			d.fLeft -= k
			d.fMissing += k
			d.fStopKeep = true
		}
		w.left -= k
		w.at += k
		d.off += k
		if w.left == 0 && d.state == stWSPayload {
			d.wsFrameEnd()
		}
		if n -= k; n == 0 {
			return
		}
		d.off += n
	} else {
		if rest := len(d.buf) - d.pos; rest > 0 {
			d.skipOff, d.skipped = d.off, int64(rest)
			d.off += int64(rest)
			d.buf, d.pos = d.buf[:0], 0
			d.flushSkip()
		}
		d.emitSimple(KindGap, d.off, n, "")
		d.off += n
	}
	if d.state != stStopped {
		d.wsAbandon()
		d.stop("gap in the WebSocket framing: no longer decoding this direction")
	}
}
