package dump

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// wsFrame builds an RFC 6455 frame; a non-nil mask masks the payload.
func wsFrame(fin bool, op byte, mask []byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	var m byte
	if mask != nil {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 1<<16:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if mask == nil {
		return append(b, payload...)
	}
	b = append(b, mask...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

var testMask = []byte{0x12, 0x34, 0x56, 0x78}

// zws builds a client's (masked) or server's ZWS message.
func zws(client bool, flags byte, body []byte) []byte {
	var mask []byte
	if client {
		mask = testMask
	}
	return wsFrame(true, wsBinary, mask, append([]byte{flags}, body...))
}

const (
	wsRequest = "GET /zmq HTTP/1.1\r\nHost: 127.0.0.1:5555\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ZWS2.0/NULL,ZWS2.0\r\nSec-WebSocket-Version: 13\r\n\r\n"
	// The key and accept of RFC 6455's example.
	wsResponse = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: ZWS2.0/NULL\r\n\r\n"
)

func readyBody(t string) []byte {
	return frame.Command{Name: "READY", Data: frame.AppendMetadata(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte(t)}})}.AppendBody(nil)
}

// wsStreams is a NULL connection over ws: the client's stream has a
// message fragmented in three frames with a ping between them, a
// subscription, and a close; the server's a pong, a message of 70,000
// octets (64-bit length) and a close.
func wsStreams() (client, server []byte) {
	client = []byte(wsRequest)
	client = append(client, zws(true, zwsCommand, readyBody("SUB"))...)
	client = append(client, wsFrame(false, wsBinary, testMask, []byte{zwsMore, 'a', 'b'})...)
	client = append(client, wsFrame(true, wsPing, testMask, []byte("hb"))...)
	client = append(client, wsFrame(false, wsContinuation, testMask, []byte("cd"))...)
	client = append(client, wsFrame(true, wsContinuation, testMask, []byte("ef"))...)
	client = append(client, zws(true, 0, []byte("last"))...)
	client = append(client, zws(true, 0, []byte("\x01topic"))...)
	client = append(client, wsFrame(true, wsClose, testMask, []byte("\x03\xe8bye"))...)
	server = []byte(wsResponse)
	server = append(server, zws(false, zwsCommand, readyBody("PUB"))...)
	server = append(server, wsFrame(true, wsPong, nil, []byte("hb"))...)
	server = append(server, zws(false, 0, bytes.Repeat([]byte("y"), 70000))...)
	server = append(server, wsFrame(true, wsClose, nil, []byte("\x03\xe8"))...)
	return client, server
}

func decodeConnEvents(client, server []byte, step int) ([]Event, ConnStats) {
	var evs []Event
	c := NewConn(1, "c", "s", Options{}, func(ev Event) { evs = append(evs, ev) })
	streams := [2][]byte{client, server}
	for len(streams[0]) > 0 || len(streams[1]) > 0 {
		for dir := range streams {
			n := len(streams[dir])
			if step > 0 {
				n = min(n, step)
			}
			c.Feed(Dir(dir), streams[dir][:n])
			streams[dir] = streams[dir][n:]
		}
	}
	c.Close(FromClient)
	c.Close(FromServer)
	return evs, c.Stats()
}

func TestWebSocketConn(t *testing.T) {
	client, server := wsStreams()
	// byDir lists the events' summaries, the client's first: the
	// interleaving of the directions depends on how they are fed.
	byDir := func(evs []Event) string {
		var sums [2][]string
		for _, ev := range evs {
			sums[ev.Dir] = append(sums[ev.Dir], DirName(ev.Dir)+" "+Summary(ev))
		}
		return strings.Join(append(sums[0], sums[1]...), "\n")
	}
	evs, st := decodeConnEvents(client, server, 0)
	for _, ev := range evs {
		if ev.Kind == KindError {
			t.Errorf("error: %s", ev.Err)
		}
	}
	got := byDir(evs)
	want := strings.Join([]string{
		`c2s HTTP GET /zmq upgrade, host 127.0.0.1:5555, offers ZWS2.0/NULL, ZWS2.0`,
		`c2s READY Socket-Type="SUB"`,
		`c2s WebSocket PING "hb"`,
		`c2s message 2 frames, 10 octets: "abcdef" | "last"`,
		`c2s subscribe "topic" (message form)`,
		`c2s WebSocket CLOSE 1000 (normal closure) "bye"`,
		`c2s FIN`,
		`s2c HTTP 101 Switching Protocols, subprotocol ZWS2.0/NULL`,
		`s2c READY Socket-Type="PUB"`,
		`s2c WebSocket PONG "hb"`,
		`s2c message 70000 octets: "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"...(70000)`,
		`s2c WebSocket CLOSE 1000 (normal closure)`,
		`s2c FIN`,
	}, "\n")
	if got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
	for _, ev := range evs {
		switch {
		case ev.Kind == KindUpgrade && !ev.Upgrade.Request && !ev.Upgrade.AcceptOK:
			t.Error("Sec-WebSocket-Accept of RFC 6455's example not recognised")
		case ev.Kind == KindMessage && ev.Dir == FromClient && ev.Message.FrameCount == 2:
			// Three frames of 2+2+2 payload octets and a ping between.
			f := ev.Message.Frames[0]
			// The first frame starts at its first WebSocket frame's header,
			// after the request and READY (6 octets of header, flags).
			if f.Size != 6 || !f.More || f.Offset != int64(len(wsRequest))+6+1+int64(len(readyBody("SUB"))) {
				t.Errorf("first frame %+v", f)
			}
			// Its three WebSocket frames (6 octets of header each, 3+2+2
			// octets of payload) and the last frame's (6, 1+4).
			if ev.Len != 3*6+3+2+2+6+5 {
				t.Errorf("message len %d", ev.Len)
			}
		case ev.Kind == KindMessage && ev.Dir == FromServer:
			if f := ev.Message.Frames[0]; !f.Long || f.Hash == 0 || ev.Len != 10+70001 {
				t.Errorf("long message: frame %+v, len %d", f, ev.Len)
			}
		case ev.Mechanism != "NULL" && ev.Kind != KindFin && ev.Kind != KindOpen:
			t.Errorf("%s: mechanism %q", Summary(ev), ev.Mechanism)
		}
	}
	if st.Transport != "ws" || st.Subprotocol != "ZWS2.0/NULL" || st.Path != "/zmq" || st.Handshake != "complete" ||
		st.ClientType != "SUB" || st.ServerType != "PUB" || st.Dir[0].Control != 2 || st.Dir[1].Control != 2 || st.Version != "" {
		t.Errorf("stats %+v", st)
	}
	// Every split gives the same events.
	for _, step := range []int{1, 2, 3, 7, 100} {
		evs2, _ := decodeConnEvents(client, server, step)
		if s2 := byDir(evs2); s2 != got {
			t.Errorf("in pieces of %d:\n%s", step, s2)
		}
	}
}

// decodeOne decodes one stream alone and returns the events.
func decodeOne(b []byte) []Event {
	var evs []Event
	d := NewDecoder(Options{}, func(ev Event) { evs = append(evs, ev) })
	d.Feed(b)
	d.End()
	return evs
}

func errorsOf(evs []Event) []string {
	var s []string
	for _, ev := range evs {
		if ev.Kind == KindError || ev.Err != "" {
			s = append(s, ev.Err)
		}
	}
	return s
}

func TestWebSocketMalformed(t *testing.T) {
	for _, c := range []struct {
		name   string
		stream []byte
		want   string // an error containing this
	}{
		{"text message", append([]byte(wsRequest), wsFrame(true, wsText, testMask, []byte("hi"))...), "text message"},
		{"empty message", append([]byte(wsRequest), wsFrame(true, wsBinary, testMask, nil)...), "no flags octet"},
		{"reserved ZWS flags", append([]byte(wsRequest), zws(true, 0x04, []byte("x"))...), "invalid ZWS flags 0x04"},
		{"unmasked client frame", append([]byte(wsRequest), zws(false, 0, []byte("x"))...), "unmasked WebSocket frame"},
		{"masked server frame", append([]byte(wsResponse), zws(true, 0, []byte("x"))...), "masked WebSocket frame from the server"},
		{"rsv bits", append([]byte(wsRequest), 0xC2, 0x80, 1, 2, 3, 4), "reserved bits 0x40"},
		{"long control", append([]byte(wsRequest), wsFrame(true, wsPing, testMask, make([]byte, 126))...), "longer than 125"},
		{"unknown opcode", append([]byte(wsRequest), wsFrame(true, 0x3, testMask, []byte("x"))...), "unknown WebSocket opcode 0x3"},
		{"lone continuation", append([]byte(wsRequest), wsFrame(true, wsContinuation, testMask, []byte("x"))...), "continuation frame outside a message"},
		{"huge length", append([]byte(wsRequest), 0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 0), "implausible WebSocket payload length"},
		{"cut payload", append([]byte(wsRequest), wsFrame(true, wsBinary, testMask, make([]byte, 100))[:50]...), "stream ended inside a WebSocket binary frame"},
		{"cut header", append([]byte(wsRequest), 0x82), "stream ended inside a WebSocket frame header"},
		{"cut head", []byte("GET /zmq HTTP/1.1\r\nHost: x\r\n"), "stream ended inside the HTTP head"},
		{"not ZWS", []byte(strings.Replace(wsRequest, "ZWS2.0/NULL,ZWS2.0", "chat", 1)), `subprotocol "chat" is not ZWS 2.0`},
		{"no upgrade", []byte(strings.Replace(wsRequest, "Upgrade: websocket\r\n", "", 1)), `no "Upgrade: websocket" header`},
		{"bad header line", []byte(strings.Replace(wsRequest, "Host: ", "Host ", 1)), "malformed HTTP header line"},
		{"endless head", append([]byte("GET / HTTP/1.1\r\n"), bytes.Repeat([]byte("X: y\r\n"), 4000)...), "HTTP head longer than 16384 octets"},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := errorsOf(decodeOne(c.stream))
			if !strings.Contains(strings.Join(errs, "\n"), c.want) {
				t.Errorf("errors %q, want one with %q", errs, c.want)
			}
		})
	}
}

func TestWebSocketRefused(t *testing.T) {
	resp := "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 5\r\n\r\nnope\n"
	evs, st := decodeConnEvents([]byte(wsRequest), []byte(resp), 0)
	if errs := errorsOf(evs); len(errs) != 0 {
		t.Errorf("errors %q", errs)
	}
	if st.Handshake != "error: HTTP 400 Bad Request" {
		t.Errorf("handshake %q", st.Handshake)
	}
	if s := Summary(evs[1]); s != "HTTP 400 Bad Request: upgrade refused" {
		t.Errorf("summary %q", s)
	}
}

// TestWebSocketBare decodes ZWS 2.0 without a mechanism: each side's first
// message is its routing id.
func TestWebSocketBare(t *testing.T) {
	req := strings.Replace(wsRequest, "ZWS2.0/NULL,ZWS2.0", "ZWS2.0", 1)
	resp := strings.Replace(wsResponse, "ZWS2.0/NULL", "ZWS2.0", 1)
	client := append([]byte(req), zws(true, 0, []byte("id-1"))...)
	client = append(client, zws(true, 0, []byte("hello"))...)
	server := append([]byte(resp), zws(false, 0, nil)...)
	evs, st := decodeConnEvents(client, server, 0)
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, DirName(ev.Dir)+" "+Summary(ev))
	}
	want := "c2s HTTP GET /zmq upgrade, host 127.0.0.1:5555, offers ZWS2.0|c2s identity \"id-1\"|c2s message 5 octets: \"hello\"|s2c HTTP 101 Switching Protocols, subprotocol ZWS2.0|s2c identity \"\"|c2s FIN|s2c FIN"
	if got := strings.Join(kinds, "|"); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
	if st.Handshake != "complete" || st.Version != "" || st.Mechanism != "" {
		t.Errorf("stats %+v", st)
	}
}

// TestTLS reports a TLS connection once, and nothing else about it.
func TestTLS(t *testing.T) {
	hello := append([]byte{0x16, 0x03, 0x01, 0x00, 0x40, 0x01}, make([]byte, 300)...)
	server := append([]byte{0x16, 0x03, 0x03, 0x00, 0x40, 0x02}, make([]byte, 300)...)
	for _, step := range []int{0, 1, 5} {
		evs, st := decodeConnEvents(hello, server, step)
		var s []string
		for _, ev := range evs {
			s = append(s, DirName(ev.Dir)+" "+Summary(ev))
		}
		if got := strings.Join(s, "|"); got != "c2s TLS: cannot decode|c2s FIN|s2c FIN" {
			t.Errorf("step %d: events %s", step, got)
		}
		if !strings.Contains(evs[0].Hint, "ClientHello") {
			t.Errorf("hint %q", evs[0].Hint)
		}
		if st.Transport != "tls" || st.Handshake != "TLS: cannot decode" || st.Dir[0].Octets != int64(len(hello)) {
			t.Errorf("stats %+v", st)
		}
	}
	// One direction alone is reported too.
	evs := decodeOne(server)
	if len(evs) != 1 || evs[0].Kind != KindTLS || !strings.Contains(evs[0].Hint, "ServerHello") {
		t.Errorf("server alone: %v", evs)
	}
}

// TestWebSocketGap follows a gap inside a payload and gives up on one in
// a header.
func TestWebSocketGap(t *testing.T) {
	var evs []Event
	d := NewDecoder(Options{}, func(ev Event) { evs = append(evs, ev) })
	msg := zws(true, 0, []byte("0123456789"))
	d.Feed([]byte(wsRequest))
	d.Feed(msg[:9]) // header (6), flags, "01"
	d.Gap(4)
	d.Feed(msg[13:])
	d.Feed(msg)
	d.Feed(msg[:3])
	d.Gap(10)
	d.Feed(msg)
	d.End()
	var s []string
	for _, ev := range evs {
		s = append(s, Summary(ev))
	}
	want := `HTTP GET /zmq upgrade, host 127.0.0.1:5555, offers ZWS2.0/NULL, ZWS2.0|[4 octets missing]|message 10 octets: "01"...(10)|message 10 octets: "0123456789"|[3 octets skipped to find a frame boundary]|[10 octets missing]|error: gap in the WebSocket framing: no longer decoding this direction`
	if got := strings.Join(s, "|"); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
	if f := evs[2].Message.Frames[0]; f.Missing != 4 || f.Hash != 0 {
		t.Errorf("frame %+v", f)
	}
}

// TestWebSocketBounded feeds a message declared with 2^62 octets: the
// decoder follows the octets it sees and keeps only the preview.
func TestWebSocketBounded(t *testing.T) {
	var evs []Event
	d := NewDecoder(Options{}, func(ev Event) { evs = append(evs, ev) })
	d.Feed([]byte(wsRequest))
	hdr := []byte{0x82, 0xFF}
	hdr = binary.BigEndian.AppendUint64(hdr, 1<<62)
	d.Feed(append(hdr, testMask...))
	// Zero octets, masked.
	chunk := bytes.Repeat(testMask, 1<<14)
	for i := 0; i < 64; i++ {
		d.Feed(chunk)
	}
	if cap(d.fData) > DefaultPreview || cap(d.buf) > bufSize {
		t.Errorf("kept %d octets of the body, buffer %d", cap(d.fData), cap(d.buf))
	}
	d.End()
	if errs := errorsOf(evs); len(errs) != 1 || !strings.Contains(errs[0], "payload octets missing") {
		t.Errorf("errors %q", errs)
	}
	if m := evs[len(evs)-1].Message; m == nil || !m.Incomplete || !m.Frames[0].Partial {
		t.Errorf("last event %+v", evs[len(evs)-1])
	}
}

// TestWebSocketMidstream decodes a ZWS connection whose beginning the
// capture missed: the decoder finds the WebSocket framing.
func TestWebSocketMidstream(t *testing.T) {
	client, server := wsStreams()
	// Cut inside the upgrade and the READY of each side.
	client, server = client[len(wsRequest)+10:], server[len(wsResponse)+5:]
	var evs []Event
	c := NewConn(1, "c", "s", Options{Midstream: true}, func(ev Event) { evs = append(evs, ev) })
	c.Feed(FromClient, client)
	c.Feed(FromServer, server)
	c.Close(FromClient)
	c.Close(FromServer)
	var sums []string
	for _, ev := range evs {
		sums = append(sums, DirName(ev.Dir)+" "+Summary(ev))
	}
	got := strings.Join(sums, "\n")
	for _, want := range []string{
		// The fragmented message is skipped: a boundary is taken only
		// at a whole frame followed by another.
		`c2s message 4 octets: "last"`,
		`c2s WebSocket CLOSE 1000 (normal closure) "bye"`,
		`s2c WebSocket PONG "hb"`,
		`s2c message 70000 octets:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	for _, ev := range evs {
		if ev.Kind == KindError {
			t.Errorf("error %s", ev.Err)
		}
	}
	if st := c.Stats(); st.Transport != "ws" || st.Handshake != "not seen" {
		t.Errorf("stats %+v", st)
	}
	// A ZMTP stream caught midstream is still ZMTP.
	var zevs []Event
	d := NewDecoder(Options{Midstream: true}, func(ev Event) { zevs = append(zevs, ev) })
	msg := frame.AppendFrame(frame.AppendFrame(nil, frame.FlagMore, []byte{0x82, 0x05}), 0, []byte("hello"))
	d.Feed(append([]byte("tail"), bytes.Repeat(msg, 3)...))
	d.End()
	if d.ws != nil {
		t.Error("a ZMTP stream taken for WebSocket")
	}
}
