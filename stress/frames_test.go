//go:build stress

package stress

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// TestEmptyFramesDropped sends a PULL whose MaxMessageSize is 1 MiB one
// message of 4,000,000 empty frames (8 MB on the wire, no body at all):
// each frame counts 32 octets against the limit, so the connection is
// dropped after about 32,768 frames, nothing is delivered, and the heap
// hardly grows.
func TestEmptyFramesDropped(t *testing.T) {
	const frames = 4_000_000
	pull := newSocket(t, zmtp.Pull, zmtp.Options{MaxMessageSize: MiB})
	ev := monitor(pull, zmtp.EventHandshakeSucceeded|zmtp.EventDisconnected)
	ep := bind(t, pull)
	peer := rawHandshake(t, ep, "PUSH")
	ev.waitFor(t, zmtp.EventHandshakeSucceeded, 1)
	// 32,768 empty frames with MORE set (two octets each), written again
	// and again: the message costs the sender nothing either.
	chunk := bytes.Repeat([]byte{frame.FlagMore, 0}, 32*KiB)
	last := []byte{0, 0}

	peak := sampleHeap()
	start := time.Now()
	written := make(chan error, 1)
	go func() {
		for sent := 0; sent < frames-1; {
			n := min(len(chunk)/2, frames-1-sent)
			if _, err := peer.nc.Write(chunk[:2*n]); err != nil {
				written <- err
				return
			}
			sent += n
		}
		_, err := peer.nc.Write(last)
		written <- err
	}()
	dropped := ev.waitFor(t, zmtp.EventDisconnected, 1)
	elapsed := time.Since(start)
	growth := peak.growth()
	peer.nc.Close() // ends the writer if the kernel still takes what it writes
	<-written
	t.Logf("connection dropped after %v: %v", elapsed.Round(time.Millisecond), dropped.Err)
	t.Logf("peak heap growth %.2f MiB", mib(growth))
	if !errors.Is(dropped.Err, zmtp.ErrMessageTooLarge) {
		t.Errorf("dropped with %v, want ErrMessageTooLarge", dropped.Err)
	}
	if m, err := pull.TryRecv(); !errors.Is(err, zmtp.ErrWouldBlock) {
		t.Errorf("TryRecv: %d frames, %v; want nothing delivered", len(m.Frames), err)
	}
	if growth > 4*MiB {
		t.Errorf("the heap grew by %.2f MiB, want at most 4 MiB", mib(growth))
	}
}

// TestLargeMessageReleased receives one multipart message of 128 MiB
// (4 frames of 32 MiB) on a connection that stays up, drops it, and
// checks that the connection keeps none of the memory it used: the heap
// returns within 16 MiB of what it was before, so a buffer kept for the
// largest frame (32 MiB) fails it. Over NULL the sender is a
// raw peer; over CURVE it is our PUSH, whose writer's memory is counted
// too.
func TestLargeMessageReleased(t *testing.T) {
	const (
		frameSize = 32 * MiB
		frames    = 4
		slack     = 16 * MiB
	)
	// check has send send the large message and then a small one, receives
	// both, and measures.
	check := func(t *testing.T, pull *zmtp.Socket, send func(), before mem, peak *heapPeak) {
		t.Helper()
		ctx := testCtx(t)
		start := time.Now()
		send()
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		if len(m.Frames) != frames {
			t.Fatalf("%d frames, want %d", len(m.Frames), frames)
		}
		for i, f := range m.Frames {
			if len(f) != frameSize {
				t.Fatalf("frame %d: %d octets, want %d", i, len(f), frameSize)
			}
		}
		m = zmtp.Message{}
		// The small message sent after the large one: the reader and the
		// writer are done with the large one.
		if _, err := pull.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		growth := peak.growth()
		after := memNow(t)
		kept := after.goBytes() - before.goBytes()
		t.Logf("received in %v; peak heap growth %.1f MiB; Go heap + stacks after: %+.1f MiB (bound +%d MiB)",
			elapsed.Round(time.Millisecond), mib(growth), mib(kept), slack/MiB)
		if kept > slack {
			t.Errorf("%.1f MiB still held after the message was dropped, want at most %d MiB", mib(kept), slack/MiB)
		}
	}

	t.Run("NULL", func(t *testing.T) {
		pull := newSocket(t, zmtp.Pull, zmtp.Options{})
		ep := bind(t, pull)
		peer := rawHandshake(t, ep, "PUSH")
		// A first small message, so that the connection is in its steady
		// state before the baseline.
		small := frame.AppendFrame(nil, 0, []byte("small"))
		if _, err := peer.nc.Write(small); err != nil {
			t.Fatal(err)
		}
		if _, err := pull.Recv(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, MiB)
		var hdr []byte
		before := memNow(t)
		peak := sampleHeap()
		done := make(chan error, 1)
		check(t, pull, func() {
			go func() {
				for i := range frames {
					flags := frame.FlagMore
					if i == frames-1 {
						flags = 0
					}
					hdr = frame.AppendHeader(hdr[:0], flags, frameSize)
					if _, err := peer.nc.Write(hdr); err != nil {
						done <- err
						return
					}
					for range frameSize / MiB {
						if _, err := peer.nc.Write(chunk); err != nil {
							done <- err
							return
						}
					}
				}
				_, err := peer.nc.Write(small)
				done <- err
			}()
		}, before, peak)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("CURVE", func(t *testing.T) {
		spub, ssec, err := mechanism.GenerateCurveKeyPair(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, csec, err := mechanism.GenerateCurveKeyPair(nil)
		if err != nil {
			t.Fatal(err)
		}
		pull := newSocket(t, zmtp.Pull, zmtp.Options{Mechanism: mechanism.Curve{Server: true, SecretKey: ssec, AllowAnyClient: true}})
		ep := bind(t, pull)
		push := newSocket(t, zmtp.Push, zmtp.Options{Mechanism: mechanism.Curve{SecretKey: csec, ServerKey: spub}})
		if err := push.Connect(ep); err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		if err := push.Send(ctx, [][]byte{[]byte("small")}); err != nil {
			t.Fatal(err)
		}
		if _, err := pull.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		// Every frame is the same memory, which lives throughout.
		body := make([]byte, frameSize)
		before := memNow(t)
		peak := sampleHeap()
		check(t, pull, func() {
			msg := make([][]byte, frames)
			for i := range msg {
				msg[i] = body
			}
			if err := push.Send(ctx, msg); err != nil {
				t.Fatal(err)
			}
			if err := push.Send(ctx, [][]byte{[]byte("small")}); err != nil {
				t.Fatal(err)
			}
		}, before, peak)
		runtime.KeepAlive(body)
	})
}
