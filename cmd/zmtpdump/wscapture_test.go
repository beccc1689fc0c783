package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/zmtp-go/zmtp/dump"
	"github.com/zmtp-go/zmtp/zmtp"
)

// TestMakeLibzmqWSCapture makes testdata/libzmq-ws.pcap, the capture of a
// ZWS 2.0 connection between libzmq 4.3.5 and this module, which
// TestCaptureGolden then decodes. It runs only when ZMTPDUMP_WS_CAPTURE
// names the directory of conformance/node with its node_modules installed
// (npm ci), as root (live capture on lo):
//
//	ZMTPDUMP_WS_CAPTURE=$PWD/../../conformance/node go test -run TestMakeLibzmqWSCapture ./cmd/zmtpdump
//	go test -run TestCaptureGolden -update ./cmd/zmtpdump
//
// Connection 1: libzmq's REP (through the npm package zeromq 6.8.0 and
// conformance/node/peer.js) binds ws://127.0.0.1:PORT/zmq and pings every
// 100 ms; a REQ of this module with routing id "go-req" connects and
// sends "hello", 70,000 octets of "y" and "bye", each answered with "re: "
// and its first 10 octets; after two pings answered, libzmq's socket
// closes. Connection 2: a REP of this module binds the same endpoint, a
// libzmq REQ connects and sends "from libzmq", answered "re: from
// libzmq", and closes. The capture keeps each packet once (the loopback
// shows each twice).
func TestMakeLibzmqWSCapture(t *testing.T) {
	dir := os.Getenv("ZMTPDUMP_WS_CAPTURE")
	if dir == "" {
		t.Skip("ZMTPDUMP_WS_CAPTURE is not set")
	}
	ctx := testContext(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	r := newRecording(t)
	a := newAssembler(r.out, dump.Options{}, uint16(port))
	capCtx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	ready := make(chan struct{})
	captured := make(chan error, 1)
	var saved bytes.Buffer
	go func() { captured <- liveCapture(capCtx, "lo", a, &saved, func() { close(ready) }) }()
	wait(t, ctx, ready, "the capture to open")

	node := exec.CommandContext(ctx, "node", "peer.js")
	node.Dir = dir
	node.Stderr = os.Stderr
	stdin, err := node.StdinPipe()
	must(t, err)
	stdout, err := node.StdoutPipe()
	must(t, err)
	must(t, node.Start())
	defer func() { stdin.Close(); node.Wait() }()
	peer := &nodePeer{w: stdin, r: bufio.NewReader(stdout)}

	ep := fmt.Sprintf("ws://127.0.0.1:%d/zmq", port)
	peer.call(t, map[string]any{"op": "socket", "id": 1, "type": "REP", "options": map[string]any{"heartbeatInterval": 100, "heartbeatTimeout": 60000}})
	peer.call(t, map[string]any{"op": "bind", "id": 1, "endpoint": ep})
	req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{RoutingID: []byte("go-req")})
	must(t, err)
	defer req.Close()
	must(t, req.Connect(ep))
	ourPongs := r.await(2, func(ev dump.Event) bool {
		return ev.Kind == dump.KindWebSocket && ev.WebSocket.Opcode == 0xA && ev.Dir == dump.FromClient
	})
	for _, body := range [][]byte{[]byte("hello"), bytes.Repeat([]byte("y"), 70000), []byte("bye")} {
		must(t, req.Send(ctx, [][]byte{body}))
		got := peer.call(t, map[string]any{"op": "recv", "id": 1, "timeout": 60000})
		var frames []string
		must(t, json.Unmarshal(got["frames"], &frames))
		b, _ := base64.StdEncoding.DecodeString(frames[0])
		reply := append([]byte("re: "), b[:min(10, len(b))]...)
		peer.call(t, map[string]any{"op": "send", "id": 1, "frames": []string{base64.StdEncoding.EncodeToString(reply)}})
		_, err := req.Recv(ctx)
		must(t, err)
	}
	wait(t, ctx, ourPongs, "two pings answered")
	ended := func(id int) <-chan struct{} {
		return r.await(1, func(ev dump.Event) bool {
			return ev.ConnID == id && (ev.Kind == dump.KindFin || ev.Kind == dump.KindReset)
		})
	}
	peer.call(t, map[string]any{"op": "close", "id": 1})
	wait(t, ctx, ended(1), "the end of connection 1")
	req.Close()

	rep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{})
	must(t, err)
	defer rep.Close()
	must(t, rep.Bind(ep))
	peer.call(t, map[string]any{"op": "socket", "id": 2, "type": "REQ"})
	peer.call(t, map[string]any{"op": "connect", "id": 2, "endpoint": ep})
	peer.call(t, map[string]any{"op": "send", "id": 2, "frames": []string{base64.StdEncoding.EncodeToString([]byte("from libzmq"))}})
	m, err := rep.Recv(ctx)
	must(t, err)
	must(t, rep.Send(ctx, [][]byte{append([]byte("re: "), m.Frames[0]...)}))
	peer.call(t, map[string]any{"op": "recv", "id": 2, "timeout": 60000})
	peer.call(t, map[string]any{"op": "close", "id": 2})
	wait(t, ctx, ended(2), "the end of connection 2")
	stopCapture()
	must(t, <-captured)

	out, err := os.Create(filepath.Join("testdata", "libzmq-ws.pcap"))
	must(t, err)
	defer out.Close()
	must(t, dedupPcap(&saved, out))
}

// nodePeer drives conformance/node/peer.js: one JSON request a line, one
// answer a line.
type nodePeer struct {
	w   io.Writer
	r   *bufio.Reader
	seq int
}

func (p *nodePeer) call(t *testing.T, req map[string]any) map[string]json.RawMessage {
	t.Helper()
	p.seq++
	req["seq"] = p.seq
	b, err := json.Marshal(req)
	must(t, err)
	_, err = p.w.Write(append(b, '\n'))
	must(t, err)
	line, err := p.r.ReadBytes('\n')
	must(t, err)
	var ans map[string]json.RawMessage
	must(t, json.Unmarshal(line, &ans))
	if e, ok := ans["error"]; ok {
		t.Fatalf("%s: %s", b, e)
	}
	if s := string(ans["seq"]); s != strconv.Itoa(p.seq) {
		t.Fatalf("answer %s to request %d", strings.TrimSpace(string(line)), p.seq)
	}
	return ans
}

// dedupPcap copies a pcap file, leaving out each packet equal to the one
// before it (the loopback shows every packet twice).
func dedupPcap(in io.Reader, out io.Writer) error {
	pr, err := pcapgo.NewReader(in)
	if err != nil {
		return err
	}
	pw := pcapgo.NewWriterNanos(out)
	if err := pw.WriteFileHeader(pr.Snaplen(), layers.LinkTypeEthernet); err != nil {
		return err
	}
	var last []byte
	for {
		data, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Equal(data, last) {
			continue
		}
		last = data
		if err := pw.WritePacket(ci, data); err != nil {
			return err
		}
	}
}

// TestLibzmqWSCapture checks what testdata/libzmq-ws.pcap shows of
// libzmq 4.3.5's ZWS 2.0, beyond its golden files: both connections
// decode without an error and complete their handshakes; libzmq as a
// server chose ZWS2.0/NULL, as a client offered ZWS2.0/NULL then ZWS2.0
// and sent a Host without port; its pings carry no payload and were
// answered.
func TestLibzmqWSCapture(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "libzmq-ws.pcap"))
	must(t, err)
	defer f.Close()
	r := newRecording(t)
	must(t, readCapture(f, newAssembler(r.out, dump.Options{}, 0)))
	var pings, pongs int
	for _, ev := range r.recorded() {
		switch ev.Kind {
		case dump.KindError:
			t.Errorf("error: %s", ev.Err)
		case dump.KindUpgrade:
			u := ev.Upgrade
			switch {
			case ev.ConnID == 1 && !u.Request:
				if u.Status != 101 || strings.Join(u.Subprotocols, ",") != "ZWS2.0/NULL" || !u.AcceptOK {
					t.Errorf("libzmq's response: %+v", u)
				}
			case ev.ConnID == 2 && u.Request:
				if strings.Join(u.Subprotocols, ",") != "ZWS2.0/NULL,ZWS2.0" || u.Host != "127.0.0.1" || u.Path != "/zmq" {
					t.Errorf("libzmq's request: %+v", u)
				}
			}
		case dump.KindWebSocket:
			switch {
			case ev.Dir == dump.FromServer && ev.WebSocket.Opcode == 0x9 && ev.WebSocket.Size == 0 && !ev.WebSocket.Masked:
				pings++
			case ev.Dir == dump.FromClient && ev.WebSocket.Opcode == 0xA && ev.WebSocket.Masked:
				pongs++
			default:
				t.Errorf("control frame %s", dump.Summary(ev))
			}
		}
	}
	if pings != 2 || pongs != 2 {
		t.Errorf("%d pings, %d pongs", pings, pongs)
	}
	for _, c := range r.out.conns {
		if s := c.Stats(); s.Handshake != "complete" || s.Transport != "ws" || s.End != "fin" {
			t.Errorf("connection %d: %+v", s.ID, s)
		}
	}
}

// TestLibzmqWSCaptureMidstream decodes testdata/libzmq-ws.pcap without its
// first 11 packets (the TCP and WebSocket handshakes and the READYs of the
// first connection), as a capture started on an open connection: the
// decoder finds the WebSocket framing and decodes every message after it.
func TestLibzmqWSCaptureMidstream(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "libzmq-ws.pcap"))
	must(t, err)
	defer f.Close()
	pr, err := pcapgo.NewReader(f)
	must(t, err)
	var cut bytes.Buffer
	pw := pcapgo.NewWriterNanos(&cut)
	must(t, pw.WriteFileHeader(pr.Snaplen(), pr.LinkType()))
	for i := 1; ; i++ {
		data, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		must(t, err)
		if i > 11 {
			must(t, pw.WritePacket(ci, data))
		}
	}
	r := newRecording(t)
	must(t, readCapture(&cut, newAssembler(r.out, dump.Options{}, 0)))
	var bodies []string
	var control int
	for _, ev := range r.recorded() {
		switch {
		case ev.Kind == dump.KindError:
			t.Errorf("error: %s", ev.Err)
		case ev.ConnID == 1 && ev.Kind == dump.KindMessage:
			fs := ev.Message.Frames
			bodies = append(bodies, fmt.Sprintf("%s %d", fs[len(fs)-1].Data[:min(5, len(fs[len(fs)-1].Data))], ev.Message.Size))
		case ev.ConnID == 1 && ev.Kind == dump.KindWebSocket:
			control++
		}
	}
	// A resynchronisation waits for the next frame's header: the order
	// of the directions' events may change.
	sort.Strings(bodies)
	if got, want := strings.Join(bodies, ", "), "bye 3, hello 5, re: b 7, re: h 9, re: y 14, yyyyy 70000"; got != want {
		t.Errorf("messages %q, want %q", got, want)
	}
	if control != 4 {
		t.Errorf("%d control frames, want 4", control)
	}
	if s := r.out.conns[0].Stats(); s.Transport != "ws" || s.Handshake != "not seen" {
		t.Errorf("connection 1: %+v", s)
	}
	if s := r.out.conns[1].Stats(); s.Handshake != "complete" {
		t.Errorf("connection 2: %+v", s)
	}
}
