//go:build linux

package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/dump"
	"github.com/zmtp-go/zmtp/zmtp"
)

// TestLiveCaptureLoopback captures this module's REQ/REP traffic on the
// loopback interface (AF_PACKET with the kernel port filter; the test runs
// as root, as CI does) and checks that whole conversations are decoded.
func TestLiveCaptureLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
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
	captured := make(chan error, 1)
	var saved bytes.Buffer
	go func() {
		captured <- liveCapture(capCtx, "lo", newAssembler(r.out, dump.Options{}, uint16(port)), &saved)
	}()

	// The capture starts in the background: open new connections until one
	// is seen from its greeting, through a whole request and reply.
	replied := r.await(1, func(ev dump.Event) bool {
		return ev.Kind == dump.KindMessage && !ev.Unsynced && ev.SrcType == "REP" &&
			len(ev.Message.Frames) == 2 && string(ev.Message.Frames[1].Data) == "pong"
	})
	go func() {
		for {
			req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{})
			if err != nil {
				return
			}
			req.Connect(rep.LastEndpoint())
			req.Send(ctx, [][]byte{[]byte("ping")})
			req.Recv(ctx)
			req.Close()
			select {
			case <-replied:
				return
			case <-ctx.Done():
				return
			default:
			}
		}
	}()
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
	wait(t, ctx, replied, "a captured reply")
	greetings := r.await(1, func(ev dump.Event) bool { return ev.Kind == dump.KindGreeting && !ev.Unsynced })
	wait(t, ctx, greetings, "a captured greeting")
	stopCapture()
	if err := <-captured; err != nil {
		t.Fatal(err)
	}
	// What the capture wrote (-w) decodes to the same conversations.
	again := newRecording(t)
	must(t, readCapture(&saved, newAssembler(again.out, dump.Options{}, uint16(port))))
	wait(t, ctx, again.await(1, func(ev dump.Event) bool { return ev.Kind == dump.KindGreeting && !ev.Unsynced }), "a greeting in the saved capture")
}
