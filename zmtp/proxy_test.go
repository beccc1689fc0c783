package zmtp

import (
	"context"
	"testing"
	"time"
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
	// The subscription travels sub -> xpub -> proxy -> xsub -> pub.
	deadline := time.Now().Add(5 * time.Second)
	for {
		send(t, pub, "t1")
		ctx2, c2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
		m, err := sub.Recv(ctx2)
		c2()
		if err == nil {
			if string(m.Frames[0]) != "t1" {
				t.Fatalf("got %q", m.Frames)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing through the proxy")
		}
	}
	// The capture saw the subscription going upstream.
	if got := recv(t, capOut); got[0] != "\x01t" {
		t.Errorf("first captured message %q", got)
	}
	// The counters move just after each relayed Send returns.
	for st := p.Stats(); st.BackendToFrontendMessages < 1 || st.FrontendToBackendMessages < 1; st = p.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestProxyPauseResume(t *testing.T) {
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
	short, c := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := dst.Recv(short); err == nil {
		t.Fatal("paused proxy relayed")
	}
	c()
	p.Resume()
	if got := recv(t, dst); got[0] != "held" {
		t.Fatalf("got %q", got)
	}
	cancel()
	<-done
}
