package dump

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// dumpSeeds are whole client streams for FuzzDump.
func dumpSeeds() [][]byte {
	g := func(mech string, minor uint8, server bool) []byte {
		return frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: minor, Mechanism: mech, AsServer: server})
	}
	ready := func(t string) []byte {
		return frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte(t)}, {Name: "Identity", Value: []byte("id")}})
	}
	msg := frame.AppendFrame(frame.AppendFrame(nil, frame.FlagMore, nil), 0, []byte("hello"))
	plainHello := frame.Command{Name: "HELLO", Data: []byte("\x05admin\x06secret")}.Append(nil)
	curveHello := frame.Command{Name: "HELLO", Data: append([]byte{1, 0}, make([]byte, 192)...)}.Append(nil)
	curveMsg := frame.AppendFrame(nil, 0, frame.Command{Name: "MESSAGE", Data: make([]byte, 30)}.AppendBody(nil))
	sig := func() []byte { return []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F} }
	// GSSAPI: an INITIATE whose token is a Kerberos initial context token
	// (truncated), libzmq's empty command, a READY and a message wrapped
	// in MESSAGE commands holding wrap tokens.
	gssInitiate := frame.Command{Name: "INITIATE", Data: []byte("\x00\x00\x00\x0f\x60\x0d\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01\x00")}.Append(nil)
	wrap := append([]byte("\x00\x00\x00\x14\x05\x04\x06\xff\x00\x00\x00\x00"), make([]byte, 12)...)
	gssReady := frame.Command{Name: "MESSAGE", Data: wrap}.Append(nil)
	gssMsg := frame.AppendFrame(nil, 0, frame.Command{Name: "MESSAGE", Data: wrap}.AppendBody(nil))
	return [][]byte{
		bytes.Join([][]byte{g("NULL", 1, false), ready("DEALER"), msg, frame.AppendPing(nil, 10, []byte("c")), frame.AppendPong(nil, nil)}, nil),
		bytes.Join([][]byte{g("NULL", 0, false), ready("SUB"), frame.AppendFrame(nil, 0, []byte("\x01topic")), frame.AppendSubscribe(nil, []byte("t"))}, nil),
		bytes.Join([][]byte{g("PLAIN", 1, false), plainHello, frame.AppendFrame(nil, frame.FlagCommand, []byte("\x5eRROR\x03400"))}, nil),
		bytes.Join([][]byte{g("CURVE", 0, false), curveHello, curveMsg, curveMsg}, nil),
		bytes.Join([][]byte{g("GSSAPI", 1, false), gssInitiate, {0x04, 0x00}, gssReady, gssMsg, gssMsg}, nil),
		{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 5, 0, 2, 'i', 'd', 1, 1, 'a', 0, 1, 'b'},
		{3, 0, 'i', 'd', 6, 1, 'h', 'e', 'l', 'l', 'o', 1, 0},
		append(g("NULL", 1, false), "\x02\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xF0data"...),
		append(g("NULL", 1, false), frame.AppendHeader(nil, frame.FlagMore, 1<<40)...),
		append(g("NULL", 1, false), "\x08\x03abc\xF8\x00\x04\x00\x04\x03\x09PI\x05\x07\x04PING\x00\x00"...),
		append([]byte("mid-stream tail"), msg...),
		// A ZMTP 2.0 REQ and libzmq's REP downgrading to ZMTP 2.0 for it,
		// then libzmq's REP downgrading to ZMTP 1.0 for a ZMTP 1.0 peer.
		append(sig(), "\x01\x03\x00\x00\x01\x00\x00\x03abc"...),
		append(sig(), "\x03\x04\x00\x00\x01\x00\x02\x00\x00\x00\x00\x00\x00\x01\x00reply"...),
		append(sig(), "\x01\x01\x06\x00reply"...),
	}
}

// FuzzDump feeds arbitrary octets to both directions of a connection
// decoder, which must never panic, and to a decoder of each direction alone,
// which must give the same events whatever pieces the octets come in.
func FuzzDump(f *testing.F) {
	seeds := dumpSeeds()
	for i, s := range seeds {
		f.Add(s, seeds[(i+1)%len(seeds)], uint8(i), false)
	}
	f.Add(seeds[0], seeds[0], uint8(3), true)
	// ZMTP over WebSocket, from the start and caught midstream.
	wc, ws := wsStreams()
	ws = ws[:min(len(ws), 2000)]
	f.Add(wc, ws, uint8(4), false)
	f.Add(wc[len(wsRequest)+7:], ws[len(wsResponse)+3:], uint8(6), true)
	f.Fuzz(func(t *testing.T, client, server []byte, step uint8, midstream bool) {
		decodeConn(t, client, server, int(step%31)+1, midstream)
		for _, b := range [][]byte{client, server} {
			whole := decodeStream(t, b, 0, midstream)
			pieces := decodeStream(t, b, int(step%31)+1, midstream)
			if len(whole) != len(pieces) {
				t.Fatalf("%d events whole, %d in pieces", len(whole), len(pieces))
			}
			for i := range whole {
				if whole[i] != pieces[i] {
					t.Fatalf("event %d:\nwhole:  %s\npieces: %s", i, whole[i], pieces[i])
				}
			}
		}
	})
}

// decodeStream decodes one stream fed in pieces of step octets (0 for
// whole) and returns the events as JSON.
func decodeStream(t *testing.T, b []byte, step int, midstream bool) []string {
	var out []string
	total := int64(len(b))
	d := NewDecoder(Options{Midstream: midstream}, func(ev Event) {
		if ev.Offset < 0 || ev.Len < 0 || ev.Offset+ev.Len > total {
			t.Fatalf("event outside the stream: offset %d len %d of %d", ev.Offset, ev.Len, total)
		}
		j, err := json.Marshal(JSONEvent(ev))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(j))
	})
	for len(b) > 0 {
		n := len(b)
		if step > 0 {
			n = min(n, step)
		}
		d.Feed(b[:n])
		b = b[n:]
	}
	d.End()
	return out
}

// decodeConn decodes both streams as one connection, in pieces of step
// octets alternating between the directions.
func decodeConn(t *testing.T, client, server []byte, step int, midstream bool) {
	c := NewConn(1, "c", "s", Options{Midstream: midstream}, func(ev Event) {
		if _, err := json.Marshal(JSONEvent(ev)); err != nil {
			t.Fatal(err)
		}
	})
	streams := [2][]byte{client, server}
	for len(streams[0]) > 0 || len(streams[1]) > 0 {
		for dir := range streams {
			n := min(len(streams[dir]), step)
			c.Feed(Dir(dir), streams[dir][:n])
			streams[dir] = streams[dir][n:]
		}
		c.Gap(FromServer, int64(step%3))
	}
	c.Close(FromClient)
	c.Reset(FromServer)
	_ = c.Stats()
}

// FuzzDecodeCommand decodes arbitrary command bodies, whole and truncated,
// under each mechanism a greeting can name: nothing panics, and nothing
// the decoder returns aliases the body (the capture's buffer is reused).
func FuzzDecodeCommand(f *testing.F) {
	for _, b := range [][]byte{
		frame.Command{Name: "READY", Data: frame.AppendMetadata(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}})}.AppendBody(nil),
		frame.Command{Name: "HELLO", Data: []byte("\x05admin\x06secret")}.AppendBody(nil),
		frame.Command{Name: "HELLO", Data: append([]byte{1, 0}, make([]byte, frame.CurveHelloSize-2)...)}.AppendBody(nil),
		frame.Command{Name: "WELCOME", Data: make([]byte, frame.CurveWelcomeSize)}.AppendBody(nil),
		frame.Command{Name: "INITIATE", Data: make([]byte, frame.CurveInitiateMinSize+4)}.AppendBody(nil),
		frame.Command{Name: "MESSAGE", Data: make([]byte, frame.CurveMessageMinSize)}.AppendBody(nil),
		frame.Command{Name: "ERROR", Data: []byte("\x03400")}.AppendBody(nil),
		[]byte("\x5eRROR\x03400"),
		[]byte("\x04PING\x00\x0Actx"),
		[]byte("\x09SUBSCRIBEtopic"),
		{},
	} {
		f.Add(b, uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, mech uint8) {
		mechs := []string{"", frame.MechanismNull, frame.MechanismPlain, frame.MechanismCurve}
		for _, truncated := range []bool{false, true} {
			d := NewDecoder(Options{}, func(Event) {})
			d.mechanism = mechs[int(mech)%len(mechs)]
			in := bytes.Clone(body)
			size := int64(len(in))
			if truncated {
				size += 100
			}
			c, _, _ := d.decodeCommand(in, size, truncated)
			before, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			for i := range in {
				in[i] ^= 0xFF
			}
			after, _ := json.Marshal(c)
			if !bytes.Equal(before, after) {
				t.Fatalf("the decoded command changed with the body:\nbefore: %s\nafter:  %s", before, after)
			}
		}
	})
}

// FuzzWebSocket feeds arbitrary octets after a WebSocket upgrade, as the
// client's and the server's frames of a ZWS 2.0 connection: nothing
// panics, each direction decodes alike whatever pieces it comes in, and
// events stay within the stream.
func FuzzWebSocket(f *testing.F) {
	client, _ := wsStreams()
	server := append(zws(false, zwsCommand, readyBody("PUB")), wsFrame(true, wsPong, nil, []byte("hb"))...)
	server = append(server, zws(false, 0, bytes.Repeat([]byte("y"), 300))...)
	server = append(server, wsFrame(true, wsClose, nil, []byte("\x03\xe8"))...)
	f.Add(client[len(wsRequest):], server, uint8(0), false)
	f.Add(server, client[len(wsRequest):], uint8(5), true)
	f.Add(zws(true, zwsCommand, frame.Command{Name: "HELLO", Data: []byte("\x05admin\x06secret")}.AppendBody(nil)),
		wsFrame(false, wsBinary, nil, []byte{zwsMore}), uint8(2), false)
	f.Add([]byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, []byte{0x88, 0x01, 0x03}, uint8(1), true)
	f.Fuzz(func(t *testing.T, c, s []byte, step uint8, bare bool) {
		req, resp := wsRequest, wsResponse
		if bare {
			req = strings.Replace(req, "ZWS2.0/NULL,ZWS2.0", "ZWS2.0", 1)
			resp = strings.Replace(resp, "ZWS2.0/NULL", "ZWS2.0", 1)
		}
		cs := append([]byte(req), c...)
		ss := append([]byte(resp), s...)
		decodeConn(t, cs, ss, int(step%31)+1, false)
		for _, b := range [][]byte{cs, ss} {
			whole := decodeStream(t, b, 0, false)
			pieces := decodeStream(t, b, int(step%31)+1, false)
			if len(whole) != len(pieces) {
				t.Fatalf("%d events whole, %d in pieces", len(whole), len(pieces))
			}
			for i := range whole {
				if whole[i] != pieces[i] {
					t.Fatalf("event %d:\nwhole:  %s\npieces: %s", i, whole[i], pieces[i])
				}
			}
		}
	})
}
