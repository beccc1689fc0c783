package mdp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/zmtp-go/zmtp/pirate"
	"github.com/zmtp-go/zmtp/zmtp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	hb       = 100 * time.Millisecond
	liveness = 3
)

// world is a broker on inproc, with helpers to start workers and clients
// in the same Context. Everything it starts stops with the test.
type world struct {
	t      *testing.T
	zc     *zmtp.Context
	ep     string
	broker *Broker
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, zc: zmtp.NewContext(), ep: "inproc://broker"}
	w.startBroker()
	t.Cleanup(w.shutdown)
	return w
}

func (w *world) startBroker() {
	w.t.Helper()
	b, err := NewBroker(BrokerOptions{Heartbeat: hb, Liveness: liveness, RequestExpiry: 10 * time.Second, Context: w.zc})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := b.Bind(w.ep); err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.broker, w.stop = b, cancel
	w.wg.Go(func() { b.Run(ctx) })
}

// stopBroker stops the broker and waits until its socket is closed.
func (w *world) stopBroker() {
	w.stop()
	w.broker.Close()
}

func (w *world) shutdown() {
	w.stop()
	w.wg.Wait()
}

// worker runs a worker of service with fn until the returned function is
// called (which waits for it to end).
func (w *world) worker(service string, fn HandlerFunc) (*Worker, func()) {
	w.t.Helper()
	wk, err := NewWorker(w.ep, service, fn, WorkerOptions{Heartbeat: hb, Liveness: liveness,
		ReconnectMin: hb, ReconnectMax: 4 * hb, Context: w.zc})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { wk.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	w.t.Cleanup(stop)
	return wk, stop
}

func (w *world) client(timeout time.Duration, attempts int) *Client {
	w.t.Helper()
	c, err := NewClient(w.ep, ClientOptions{Timeout: timeout, Attempts: attempts, Context: w.zc})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c
}

func echo(ctx context.Context, req [][]byte) ([][]byte, error) { return req, nil }

func frames(m [][]byte) string { return fmt.Sprintf("%q", m) }

func TestEchoAndMMI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		c := w.client(time.Second, 1)
		ctx := context.Background()

		if ok, err := c.ServiceExists(ctx, "echo"); ok || err != nil {
			t.Fatalf("mmi.service echo before any worker: %v %v", ok, err)
		}
		w.worker("echo", echo)
		synctest.Wait()
		if ok, err := c.ServiceExists(ctx, "echo"); !ok || err != nil {
			t.Fatalf("mmi.service echo with a worker: %v %v", ok, err)
		}
		for i := range 5 {
			got, err := c.Request(ctx, "echo", []byte("hello"), []byte{byte(i)})
			if err != nil || frames(got) != frames([][]byte{[]byte("hello"), {byte(i)}}) {
				t.Fatalf("request %d: %s %v", i, frames(got), err)
			}
		}
		got, err := c.Request(ctx, "mmi.other", []byte("x"))
		if err != nil || frames(got) != `["501"]` {
			t.Fatalf("mmi.other: %s %v", frames(got), err)
		}
		if s := w.broker.Stats(); s.Requests != 8 || s.Replies != 8 {
			t.Errorf("broker stats %+v, want 8 requests and 8 replies", s)
		}
	})
}

// A request for a service no worker offers fails after exactly Attempts
// times Timeout, and a worker that registers later serves the next one.
func TestNoWorkerFailsAtMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		c := w.client(500*time.Millisecond, 3)
		start := time.Now()
		_, err := c.Request(context.Background(), "nobody", []byte("x"))
		var nr *pirate.NoReplyError
		if !errors.Is(err, ErrNoReply) || !errors.As(err, &nr) || nr.Attempts != 3 {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d != c.MaxWait() || d != 1500*time.Millisecond {
			t.Errorf("failed after %v, MaxWait %v", d, c.MaxWait())
		}
		// A context that ends first wins.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := c.Request(ctx, "nobody", []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("with a short context: %v", err)
		}
	})
}

// Requests wait at the broker for a worker: one sent before any worker is
// answered once a worker registers.
func TestRequestQueuedUntilWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		c := w.client(5*time.Second, 1)
		got := make(chan error, 1)
		go func() {
			_, err := c.Request(context.Background(), "late", []byte("x"))
			got <- err
		}()
		time.Sleep(2 * time.Second) // fake time: the request waits at the broker
		synctest.Wait()
		w.worker("late", echo)
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	})
}

// A worker that stops mid-request (its Run ends: it sends DISCONNECT)
// has its request given to another worker at once; the client gets one
// reply, from the second worker.
func TestWorkerLeavesMidRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		started := make(chan struct{})
		w1, stop1 := w.worker("svc", func(ctx context.Context, req [][]byte) ([][]byte, error) {
			close(started)
			<-ctx.Done()
			return [][]byte{[]byte("from the first")}, nil
		})
		c := w.client(time.Second, 1)
		got := make(chan [][]byte, 1)
		go func() {
			r, err := c.Request(context.Background(), "svc", []byte("x"))
			if err != nil {
				t.Error(err)
			}
			got <- r
		}()
		<-started
		w.worker("svc", func(ctx context.Context, req [][]byte) ([][]byte, error) {
			return [][]byte{[]byte("from the second")}, nil
		})
		synctest.Wait()
		t0 := time.Now()
		stop1()
		r := <-got
		if frames(r) != `["from the second"]` || time.Since(t0) != 0 {
			t.Fatalf("reply %s after %v", frames(r), time.Since(t0))
		}
		if s := w1.Stats(); s.Abandoned != 1 || s.Replies != 0 {
			t.Errorf("first worker %+v", s)
		}
		if s := w.broker.Stats(); s.Requeued != 1 || s.Replies != 1 {
			t.Errorf("broker %+v", s)
		}
	})
}

// rawPeer is a socket the test drives by hand, speaking MDP itself.
func rawPeer(t *testing.T, zc *zmtp.Context, typ zmtp.SocketType) *zmtp.Socket {
	t.Helper()
	s, err := zc.NewSocket(typ, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func recvFrames(t *testing.T, s *zmtp.Socket) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := s.Recv(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return m.Frames
}

// recvSkipping receives the next message that is not a HEARTBEAT.
func recvSkipping(t *testing.T, s *zmtp.Socket, heartbeat string) [][]byte {
	t.Helper()
	for {
		f := recvFrames(t, s)
		if frames(f[len(f)-1:]) != heartbeat || len(f) > 4 {
			return f
		}
	}
}

// A worker killed mid-request (its socket closed without a word) is found
// dead by heartbeat expiry after Liveness intervals; its request goes to
// another worker, and the late worker's reply, should it come, is refused
// with DISCONNECT and not passed on.
func TestWorkerKilledMidRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		ctx := context.Background()
		dead := rawPeer(t, w.zc, zmtp.Dealer)
		dead.Connect(w.ep)
		dead.Send(ctx, [][]byte{nil, []byte(WorkerHeader), {cmdReady}, []byte("svc")})
		synctest.Wait()

		c := w.client(5*time.Second, 1)
		got := make(chan [][]byte, 1)
		go func() {
			r, err := c.Request(ctx, "svc", []byte("job"))
			if err != nil {
				t.Error(err)
			}
			got <- r
		}()
		req := recvSkipping(t, dead, `["\x04"]`)
		if len(req) != 6 || req[2][0] != cmdRequest || string(req[5]) != "job" {
			t.Fatalf("worker got %s", frames(req))
		}
		t0 := time.Now()
		// The worker goes silent (as if killed); a live one registers.
		w.worker("svc", func(ctx context.Context, r [][]byte) ([][]byte, error) {
			return [][]byte{[]byte("done")}, nil
		})
		r := <-got
		waited := time.Since(t0)
		if frames(r) != `["done"]` {
			t.Fatalf("reply %s", frames(r))
		}
		if limit := liveness*hb + hb; waited > limit {
			t.Errorf("requeued after %v, want within %v", waited, limit)
		}
		// The silent worker speaks again with its reply: refused.
		dead.Send(ctx, [][]byte{nil, []byte(WorkerHeader), {cmdReply}, req[3], nil, []byte("late")})
		f := recvSkipping(t, dead, `["\x04"]`)
		if len(f) != 3 || f[2][0] != cmdDisconnect {
			t.Fatalf("late worker got %s, want DISCONNECT", frames(f))
		}
		synctest.Wait()
		if s := w.broker.Stats(); s.Replies != 1 || s.Requeued != 1 {
			t.Errorf("broker %+v: want the one reply and one requeue", s)
		}
	})
}

// A worker whose broker goes silent (the network drops everything) finds
// it dead after Liveness heartbeat intervals, and registers again on a new
// socket after ReconnectMin, doubling the wait while nobody answers.
func TestWorkerDetectsSilentBroker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zc := zmtp.NewContext()
		fake := rawPeer(t, zc, zmtp.Router)
		fake.Bind("inproc://silent")
		wk, err := NewWorker("inproc://silent", "svc", HandlerFunc(echo), WorkerOptions{Heartbeat: hb,
			Liveness: liveness, ReconnectMin: hb, ReconnectMax: 2 * hb, Context: zc})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { wk.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()

		var readyAt []time.Duration
		var ids []string
		start := time.Now()
		for len(readyAt) < 3 {
			f := recvFrames(t, fake)
			if len(f) == 5 && f[3][0] == cmdReady {
				readyAt = append(readyAt, time.Since(start))
				ids = append(ids, string(f[0]))
			}
		}
		// Silence is found at liveness*hb; the first retry waits hb, the
		// second 2*hb (the cap).
		want := []time.Duration{0, liveness*hb + hb, 2*liveness*hb + 3*hb}
		if fmt.Sprint(readyAt) != fmt.Sprint(want) {
			t.Errorf("READY at %v, want %v", readyAt, want)
		}
		if ids[0] == ids[1] || ids[1] == ids[2] {
			t.Errorf("re-registration on the same socket")
		}
		if s := wk.Stats(); s.Connects != 3 {
			t.Errorf("connects %d", s.Connects)
		}
	})
}

// The broker restarted: the worker's heartbeats to the new broker (a
// stranger to it) are answered with DISCONNECT or go unanswered; either way
// the worker registers with the new broker, and a client's request made
// while the broker was down is answered by a retry.
func TestBrokerRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		wk, _ := w.worker("echo", echo)
		c := w.client(time.Second, 5)
		ctx := context.Background()
		if _, err := c.Request(ctx, "echo", []byte("before")); err != nil {
			t.Fatal(err)
		}
		w.stopBroker()
		w.wg.Wait()
		got := make(chan error, 1)
		go func() {
			r, err := c.Request(ctx, "echo", []byte("during"))
			if err == nil && frames(r) != `["during"]` {
				err = fmt.Errorf("reply %s", frames(r))
			}
			got <- err
		}()
		time.Sleep(1500 * time.Millisecond)
		w.startBroker()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if s := wk.Stats(); s.Connects < 2 {
			t.Errorf("worker never reconnected: %+v", s)
		}
	})
}

// The broker checks every message and drops what breaks MDP; a worker that
// sends garbage is dismissed, and clients are not disturbed.
func TestBrokerDropsInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		ctx := context.Background()
		bad := rawPeer(t, w.zc, zmtp.Dealer)
		bad.Connect(w.ep)
		for _, m := range [][][]byte{
			{[]byte("x")},
			{nil},
			{[]byte("not empty"), []byte(ClientHeader), []byte("s"), []byte("b")},
			{nil, []byte(ClientHeader), []byte("no body")},
			{nil, []byte("MDPX01"), []byte("s"), []byte("b")},
			{nil, []byte(WorkerHeader)},
			{nil, []byte(WorkerHeader), {0x01}},
			{nil, []byte(WorkerHeader), {0x02}, []byte("c"), nil, []byte("b")},
			{nil, []byte(WorkerHeader), {0x09}},
			{nil, []byte(WorkerHeader), {0x01, 0x01}, []byte("s")},
			{nil, []byte(WorkerHeader), {cmdReply}, []byte("c"), []byte("not empty"), []byte("b")},
		} {
			if err := bad.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		// A worker that registers mmi.* is sent DISCONNECT.
		bad.Send(ctx, [][]byte{nil, []byte(WorkerHeader), {cmdReady}, []byte("mmi.service")})
		f := recvFrames(t, bad)
		if len(f) != 3 || f[2][0] != cmdDisconnect {
			t.Fatalf("got %s, want DISCONNECT", frames(f))
		}
		synctest.Wait()
		if s := w.broker.Stats(); s.Invalid != 11 {
			t.Errorf("invalid %d, want 11", s.Invalid)
		}
		w.worker("echo", echo)
		c := w.client(time.Second, 1)
		if _, err := c.Request(ctx, "echo", []byte("fine")); err != nil {
			t.Fatal(err)
		}
	})
}
