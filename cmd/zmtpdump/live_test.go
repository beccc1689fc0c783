//go:build linux

package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/zmtp-go/zmtp/dump"
	"github.com/zmtp-go/zmtp/zmtp"
)

// TestLiveCaptureLoopback captures this module's REQ/REP traffic on the
// loopback interface (AF_PACKET with the kernel port filter; the test runs
// as root, as CI does) and checks that the whole conversation is decoded,
// from both greetings through the request and the reply, and that what
// the capture saved (-w) decodes to the same events.
func TestLiveCaptureLoopback(t *testing.T) {
	ctx := testContext(t)
	rep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{})
	must(t, err)
	defer rep.Close()
	must(t, rep.Bind("tcp://127.0.0.1:*"))
	_, portText, _ := net.SplitHostPort(strings.TrimPrefix(rep.LastEndpoint(), "tcp://"))
	port, err := strconv.Atoi(portText)
	must(t, err)

	r := newRecording(t)
	livePort = uint16(port)
	defer func() { livePort = 0 }()
	capCtx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	ready := make(chan struct{})
	captured := make(chan error, 1)
	var saved bytes.Buffer
	go func() {
		captured <- liveCapture(capCtx, "lo", newAssembler(r.out, dump.Options{}, uint16(port)), &saved, func() { close(ready) })
	}()
	// The traffic starts once the capture is open, so that every packet
	// of the connection is captured.
	select {
	case <-ready:
	case err := <-captured:
		t.Fatalf("capture ended before it was open: %v", err)
	case <-ctx.Done():
		t.Fatal("timed out waiting for the capture to open")
	}

	go func() {
		for {
			if _, err := rep.Recv(ctx); err != nil {
				return
			}
			if rep.Send(ctx, [][]byte{[]byte("pong")}) != nil {
				return
			}
		}
	}()
	req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{})
	must(t, err)
	defer req.Close()
	must(t, req.Connect(rep.LastEndpoint()))
	must(t, req.Send(ctx, [][]byte{[]byte("ping")}))
	m, err := req.Recv(ctx)
	must(t, err)
	if len(m.Frames) != 1 || string(m.Frames[0]) != "pong" {
		t.Fatalf("REQ got %q", m.Frames)
	}

	synced := func(kind dump.Kind, dir dump.Dir, cond func(dump.Event) bool) func(dump.Event) bool {
		return func(ev dump.Event) bool {
			return ev.Kind == kind && ev.Dir == dir && !ev.Unsynced && ev.ConnID == 1 && cond(ev)
		}
	}
	message := func(srcType, body string) func(dump.Event) bool {
		return func(ev dump.Event) bool {
			return ev.SrcType == srcType && len(ev.Message.Frames) == 2 &&
				len(ev.Message.Frames[0].Data) == 0 && string(ev.Message.Frames[1].Data) == body
		}
	}
	anything := func(dump.Event) bool { return true }
	for _, w := range []struct {
		what string
		cond func(dump.Event) bool
	}{
		{"the client's greeting in the capture", synced(dump.KindGreeting, dump.FromClient, anything)},
		{"the server's greeting in the capture", synced(dump.KindGreeting, dump.FromServer, anything)},
		{"the request in the capture", synced(dump.KindMessage, dump.FromClient, message("REQ", "ping"))},
		{"the reply in the capture", synced(dump.KindMessage, dump.FromServer, message("REP", "pong"))},
	} {
		wait(t, ctx, r.await(1, w.cond), w.what)
	}
	stopCapture()
	if err := <-captured; err != nil {
		t.Fatal(err)
	}
	noErrors(t, r)
	if n := len(r.out.conns); n != 1 {
		t.Errorf("%d connections decoded, want 1", n)
	}

	// What the capture wrote (-w) decodes to the same events.
	var fromFile bytes.Buffer
	out := newPrinter(&fromFile, outputConfig{json: true})
	must(t, readCapture(&saved, newAssembler(out, dump.Options{}, uint16(port))))
	if a, b := normalize(t, r.jsonl.String(), false), normalize(t, fromFile.String(), false); a != b {
		t.Errorf("the saved capture decodes differently from the live capture:\n%s", diffLines(a, b))
	}
}
