//go:build stress

package stress

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

// Bounds of a large subscription (the topic is 16 MiB).
const (
	largeTopicSize = 16 * MiB
	maxSubCPU      = time.Second
	maxSubHeap     = 64 * MiB
	maxGap         = 200 * time.Millisecond
	otherSubs      = 4
	// baseWindow is how long the stream runs alone to measure its own CPU
	// time and gaps.
	baseWindow = time.Second
)

// TestLargeSubscription subscribes to a 16 MiB topic and cancels it, at a
// PUB that streams a message every millisecond to 4 other SUBs. The CPU
// time of the subscription and its cancellation (the stream's own
// subtracted) must stay under 1 s, the heap's growth under 64 MiB, and
// the other SUBs' largest gap between two messages under 200 ms.
//
// raw-peer: the subscriber is a raw ZMTP 3.1 peer sending SUBSCRIBE and
// CANCEL commands, so the figures are the PUB's. SUB-socket: the
// subscriber is our SUB, whose subscription set is counted too.
func TestLargeSubscription(t *testing.T) {
	t.Run("raw-peer", func(t *testing.T) { largeSubscription(t, false) })
	t.Run("SUB-socket", func(t *testing.T) { largeSubscription(t, true) })
}

func largeSubscription(t *testing.T, ourSUB bool) {
	pub := newSocket(t, zmtp.Pub, zmtp.Options{})
	ev := monitor(pub, zmtp.EventHandshakeSucceeded)
	ep := bind(t, pub)
	watchers := make([]*gaps, otherSubs)
	for i := range watchers {
		sub := newSocket(t, zmtp.Sub, zmtp.Options{})
		if err := sub.Subscribe(nil); err != nil {
			t.Fatal(err)
		}
		if err := sub.Connect(ep); err != nil {
			t.Fatal(err)
		}
		watchers[i] = watchGaps(t, sub)
	}
	stream(t, pub)
	largestGap(t, watchers) // every subscriber receives the stream

	// The stream alone: its CPU time and gaps.
	for _, g := range watchers {
		g.reset()
	}
	cpu0, start := cpuTime(t), time.Now()
	time.Sleep(baseWindow) // a measurement window, not a synchronisation
	cpuRate := float64(cpuTime(t)-cpu0) / float64(time.Since(start))
	baseGap := largestGap(t, watchers)

	topic := largeTopic(largeTopicSize)
	var subscribe func()
	if ourSUB {
		big := newSocket(t, zmtp.Sub, zmtp.Options{})
		if err := big.Connect(ep); err != nil {
			t.Fatal(err)
		}
		ev.waitFor(t, zmtp.EventHandshakeSucceeded, otherSubs+1)
		subscribe = func() {
			if err := big.Subscribe(topic); err != nil {
				t.Fatal(err)
			}
			if err := big.Unsubscribe(topic); err != nil {
				t.Fatal(err)
			}
			if err := big.Subscribe(nil); err != nil {
				t.Fatal(err)
			}
			if _, err := big.Recv(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		peer := rawHandshake(t, ep, "SUB")
		ev.waitFor(t, zmtp.EventHandshakeSucceeded, otherSubs+1)
		// The commands are made before the baseline: they are the
		// peer's, not the PUB's.
		cmds := frame.AppendSubscribe(nil, topic)
		cmds = frame.AppendCancel(cmds, topic)
		cmds = frame.AppendSubscribe(cmds, nil)
		subscribe = func() {
			if _, err := peer.nc.Write(cmds); err != nil {
				t.Fatal(err)
			}
			peer.nc.SetReadDeadline(time.Now().Add(wait))
			if _, err := peer.readMessage(); err != nil {
				t.Fatalf("waiting for a message after the cancellation: %v", err)
			}
		}
	}

	for _, g := range watchers {
		g.reset()
	}
	peak := sampleHeap()
	cpu0, start = cpuTime(t), time.Now()
	subscribe()
	elapsed := time.Since(start)
	cpu := cpuTime(t) - cpu0 - time.Duration(cpuRate*float64(elapsed))
	growth := peak.growth()
	gap := largestGap(t, watchers)
	t.Logf("%s topic subscribed, cancelled, then a message received after %v", sizeName(largeTopicSize), elapsed.Round(time.Millisecond))
	t.Logf("CPU time %v (the stream's %.1f%% of a CPU subtracted), peak heap growth %.1f MiB",
		cpu.Round(time.Millisecond), 100*cpuRate, mib(growth))
	t.Logf("largest gap at the other SUBs %v (stream alone: %v)", gap.Round(time.Millisecond), baseGap.Round(time.Millisecond))
	if cpu > maxSubCPU {
		t.Errorf("CPU time %v, want at most %v", cpu.Round(time.Millisecond), maxSubCPU)
	}
	if growth > maxSubHeap {
		t.Errorf("heap growth %.1f MiB, want at most %d MiB", mib(growth), maxSubHeap/MiB)
	}
	if gap >= maxGap {
		t.Errorf("largest gap %v, want less than %v", gap.Round(time.Millisecond), maxGap)
	}
}

// TestLargeSubscriptionDisconnect has a peer subscribe to a 4 MiB topic
// and then go (a structure that recursed once per octet of a topic would
// overflow the stack here), and checks that the publisher carries on.
// PUB and XPUB: the peer is raw and resets its connection; the XPUB
// application also gets the subscription and, once the peer has gone, its
// cancellation. SUB-socket-reconnect: our SUB holds the 4 MiB topic while
// its PUB goes and a new one binds the same endpoint, to which it sends
// every subscription again.
func TestLargeSubscriptionDisconnect(t *testing.T) {
	const size = 4 * MiB
	topic := largeTopic(size)
	for _, typ := range []zmtp.SocketType{zmtp.Pub, zmtp.XPub} {
		t.Run(string(typ), func(t *testing.T) {
			pub := newSocket(t, typ, zmtp.Options{})
			ev := monitor(pub, zmtp.EventHandshakeSucceeded|zmtp.EventDisconnected)
			ep := bind(t, pub)
			other := newSocket(t, zmtp.Sub, zmtp.Options{})
			other.Subscribe(nil)
			if err := other.Connect(ep); err != nil {
				t.Fatal(err)
			}
			w := watchGaps(t, other)
			stream(t, pub)
			largestGap(t, []*gaps{w})
			ctx := testCtx(t)
			if typ == zmtp.XPub {
				expectSubscription(t, pub, nil, true)
			}

			peer := rawHandshake(t, ep, "SUB")
			cmds := frame.AppendSubscribe(nil, topic)
			cmds = frame.AppendSubscribe(cmds, nil)
			start := time.Now()
			if _, err := peer.nc.Write(cmds); err != nil {
				t.Fatal(err)
			}
			peer.nc.SetReadDeadline(time.Now().Add(wait))
			if _, err := peer.readMessage(); err != nil {
				t.Fatal(err)
			}
			subscribed := time.Since(start)
			if typ == zmtp.XPub {
				expectSubscription(t, pub, topic, true)
			}
			w.reset()
			start = time.Now()
			peer.nc.Close() // a reset
			ev.waitFor(t, zmtp.EventDisconnected, 1)
			gone := time.Since(start)
			if typ == zmtp.XPub {
				expectSubscription(t, pub, topic, false)
			}
			gap := largestGap(t, []*gaps{w})
			t.Logf("4 MiB topic subscribed in %v; the peer's departure handled in %v; largest gap at the other SUB %v",
				subscribed.Round(time.Millisecond), gone.Round(100*time.Microsecond), gap.Round(time.Millisecond))
			if err := pub.Send(ctx, [][]byte{[]byte("still there")}); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("SUB-socket-reconnect", func(t *testing.T) {
		// In a process of its own, so that a crash fails this test only.
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestSUBReconnectHelper$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), reconnectHelper+"=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err = cmd.Run()
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "subscribe_test.go:") {
				t.Log(strings.TrimSpace(line))
			}
		}
		if err != nil {
			t.Errorf("the process with our SUB failed (%v): %s", err, firstLines(out.String(), "fatal error", "panic:", "--- FAIL"))
		}
	})
}

const reconnectHelper = "ZMTP_STRESS_SUB_RECONNECT"

// TestSUBReconnectHelper is the SUB-socket-reconnect case of
// TestLargeSubscriptionDisconnect, run in a process of its own; it does
// nothing in a normal run.
func TestSUBReconnectHelper(t *testing.T) {
	if os.Getenv(reconnectHelper) == "" {
		return // not run as the helper process: nothing to do
	}
	topic := largeTopic(4 * MiB)
	pub := newSocket(t, zmtp.XPub, zmtp.Options{})
	ep := bind(t, pub)
	sub := newSocket(t, zmtp.Sub, zmtp.Options{})
	start := time.Now()
	if err := sub.Subscribe(topic); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe(nil); err != nil {
		t.Fatal(err)
	}
	subscribed := time.Since(start)
	start = time.Now()
	if err := sub.Connect(ep); err != nil {
		t.Fatal(err)
	}
	expectSubscriptions(t, pub, [][]byte{topic, nil})
	sent := time.Since(start)
	// The PUB goes; another binds the same endpoint.
	pub.Close()
	pub2 := newSocket(t, zmtp.XPub, zmtp.Options{})
	if err := pub2.Bind(ep); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	expectSubscriptions(t, pub2, [][]byte{topic, nil})
	resent := time.Since(start)
	stream(t, pub2)
	if _, err := sub.Recv(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Logf("our SUB: 4 MiB topic subscribed in %v, sent on connecting in %v, sent again after the reconnection in %v",
		subscribed.Round(time.Millisecond), sent.Round(time.Millisecond), resent.Round(time.Millisecond))
}

// firstLines returns the first line of out that contains each of the
// markers, or the last lines of out when none does.
func firstLines(out string, markers ...string) string {
	lines := strings.Split(out, "\n")
	var found []string
	for _, m := range markers {
		for _, l := range lines {
			if strings.Contains(l, m) {
				found = append(found, strings.TrimSpace(l))
				break
			}
		}
	}
	if len(found) == 0 {
		found = lines[max(0, len(lines)-5):]
	}
	return strings.Join(found, "; ")
}

// expectSubscription receives the next message of an XPUB and checks
// that it is the subscription (or cancellation) of topic.
func expectSubscription(t *testing.T, xpub *zmtp.Socket, topic []byte, on bool) {
	t.Helper()
	m, err := xpub.Recv(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	flag := byte(0)
	if on {
		flag = 1
	}
	if len(m.Frames) != 1 || len(m.Frames[0]) != 1+len(topic) || m.Frames[0][0] != flag || !bytes.Equal(m.Frames[0][1:], topic) {
		t.Fatalf("XPUB received %s, want %s", describe(m.Frames), describe([][]byte{append([]byte{flag}, topic...)}))
	}
}

// expectSubscriptions receives subscriptions of an XPUB until it has seen
// every topic of want, in any order.
func expectSubscriptions(t *testing.T, xpub *zmtp.Socket, want [][]byte) {
	t.Helper()
	seen := make([]bool, len(want))
	for left := len(want); left > 0; {
		m, err := xpub.Recv(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Frames) != 1 || len(m.Frames[0]) == 0 || m.Frames[0][0] != 1 {
			t.Fatalf("XPUB received %s, want a subscription", describe(m.Frames))
		}
		for i, w := range want {
			if !seen[i] && bytes.Equal(m.Frames[0][1:], w) {
				seen[i] = true
				left--
			}
		}
	}
}

// describe shows a message briefly: the size and first octets of each
// frame.
func describe(frames [][]byte) string {
	var b bytes.Buffer
	for i, f := range frames {
		if i > 0 {
			b.WriteString(" | ")
		}
		fmt.Fprintf(&b, "%d octets %q", len(f), f[:min(len(f), 8)])
	}
	return b.String()
}
