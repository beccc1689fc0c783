package zmtp

import (
	"context"
	"testing"
	"testing/synctest"
)

func TestProxyXSubXPub(t *testing.T) {
	zc := NewContext()
	pub, _ := zc.NewSocket(Pub, Options{})
	defer pub.Close()
	xsub, _ := zc.NewSocket(XSub, Options{})
	defer xsub.Close()
	xpub, _ := zc.NewSocket(XPub, Options{})
	defer xpub.Close()
	sub, _ := zc.NewSocket(Sub, Options{})
	defer sub.Close()
	capture, _ := zc.NewSocket(Pair, Options{})
	defer capture.Close()
	capOut, _ := zc.NewSocket(Pair, Options{})
	defer capOut.Close()
	capOut.Bind("inproc://capture")
	capture.Connect("inproc://capture")

	pub.Bind("inproc://pub")
	xsub.Connect("inproc://pub")
	xpub.Bind("inproc://xpub")
	p := &Proxy{Frontend: xsub, Backend: xpub, Capture: capture}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	sub.Subscribe([]byte("t"))
	sub.Connect("inproc://xpub")
	// The subscription travels sub -> xpub -> proxy -> xsub -> pub. The
	// capture sees it going upstream; once the proxy's Send of it has
	// returned (its counter moves just after), the publisher has it, since
	// inproc links apply a subscription at once.
	if got := recv(t, capOut); got[0] != "\x01t" {
		t.Errorf("first captured message %q", got)
	}
	waitFor(t, "the subscription relayed", func() bool { return p.Stats().BackendToFrontendMessages >= 1 })
	if !subscribed(pub, "t1") {
		t.Fatal("the publisher lacks the relayed subscription")
	}
	send(t, pub, "t1")
	if got := recv(t, sub); got[0] != "t1" {
		t.Fatalf("got %q", got)
	}
	waitFor(t, "the message counted", func() bool { return p.Stats().FrontendToBackendMessages >= 1 })
	if st := p.Stats(); st.FrontendToBackendMessages != 1 || st.BackendToFrontendMessages != 1 {
		t.Errorf("stats %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestProxyPauseResume runs in a synctest bubble: once every goroutine is
// blocked, the paused proxy has had every chance to relay, and has not.
func TestProxyPauseResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zc := NewContext()
		in, _ := zc.NewSocket(Pull, Options{})
		defer in.Close()
		out, _ := zc.NewSocket(Push, Options{})
		defer out.Close()
		src, _ := zc.NewSocket(Push, Options{})
		defer src.Close()
		dst, _ := zc.NewSocket(Pull, Options{})
		defer dst.Close()
		in.Bind("inproc://in")
		src.Connect("inproc://in")
		out.Bind("inproc://out")
		dst.Connect("inproc://out")
		p := &Proxy{Frontend: in, Backend: out}
		p.Pause()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		send(t, src, "held")
		synctest.Wait()
		if m, err := dst.TryRecv(); err != ErrWouldBlock {
			t.Fatalf("paused proxy relayed: TryRecv = %q, %v", m.Frames, err)
		}
		if st := p.Stats(); st != (ProxyStats{}) {
			t.Errorf("paused proxy counted %+v", st)
		}
		p.Resume()
		if got := recv(t, dst); got[0] != "held" {
			t.Fatalf("got %q", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
