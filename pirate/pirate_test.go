package pirate

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/zmtp-go/zmtp/internal/workerloop"
	"github.com/zmtp-go/zmtp/zmtp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const hb = 100 * time.Millisecond

func frames(m [][]byte) string { return fmt.Sprintf("%q", m) }

func sock(t *testing.T, zc *zmtp.Context, typ zmtp.SocketType) *zmtp.Socket {
	t.Helper()
	s, err := zc.NewSocket(typ, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// serve answers each request on rep with reply(n, request) until ctx ends;
// a nil answer leaves the request unanswered and closes rep, as a server
// that crashed, and the next request is read from a new socket bound in
// its place.
func serveREP(ctx context.Context, t *testing.T, zc *zmtp.Context, ep string, reply func(n int, req [][]byte) [][]byte) {
	n := 0
	for ctx.Err() == nil {
		rep, _ := zc.NewSocket(zmtp.Rep, zmtp.Options{Linger: zmtp.NoLinger})
		if err := rep.Bind(ep); err != nil {
			t.Error(err)
			return
		}
		for {
			m, err := rep.Recv(ctx)
			if err != nil {
				rep.Close()
				return
			}
			n++
			r := reply(n, m.Frames)
			if r == nil {
				rep.Close()
				break
			}
			rep.Send(ctx, r)
		}
	}
}

// The Lazy Pirate client resends on a new socket after each timeout and
// gets the reply of the attempt that was answered; the server's replies to
// the lost attempts never reach it.
func TestLazyClientRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zc := zmtp.NewContext()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			serveREP(ctx, t, zc, "inproc://lazy", func(n int, req [][]byte) [][]byte {
				if n <= 2 {
					return nil // crash without answering
				}
				return [][]byte{[]byte(fmt.Sprintf("reply %d to %s", n, req[0]))}
			})
		}()
		defer func() { cancel(); <-done }()
		c, err := NewLazyClient("inproc://lazy", LazyOptions{Timeout: time.Second, Attempts: 3, Context: zc})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		got, err := c.Request(context.Background(), []byte("q"))
		if err != nil || frames(got) != `["reply 3 to q"]` {
			t.Fatalf("%s %v", frames(got), err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("answered after %v, want 2s (two timeouts)", d)
		}
		got, err = c.Request(context.Background(), []byte("again"))
		if err != nil || frames(got) != `["reply 4 to again"]` {
			t.Fatalf("%s %v", frames(got), err)
		}
	})
}

// With nobody answering, a request fails after exactly MaxWait with a
// *NoReplyError; a closed client refuses requests.
func TestLazyClientGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zc := zmtp.NewContext()
		c, _ := NewLazyClient("inproc://nobody", LazyOptions{Timeout: 300 * time.Millisecond, Attempts: 4, Context: zc})
		start := time.Now()
		_, err := c.Request(context.Background(), []byte("q"))
		var nr *NoReplyError
		if !errors.As(err, &nr) || !errors.Is(err, ErrNoReply) || nr.Attempts != 4 || nr.Wait != 300*time.Millisecond {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d != c.MaxWait() || d != 1200*time.Millisecond {
			t.Errorf("gave up after %v", d)
		}
		c.Close()
		if _, err := c.Request(context.Background(), []byte("q")); !errors.Is(err, ErrClientClosed) {
			t.Errorf("after Close: %v", err)
		}
	})
}

type ppWorld struct {
	t     *testing.T
	zc    *zmtp.Context
	q     *Queue
	front string
	back  string
	stopQ func()
}

func newPPWorld(t *testing.T) *ppWorld {
	w := &ppWorld{t: t, zc: zmtp.NewContext(), front: "inproc://front", back: "inproc://back"}
	w.startQueue()
	t.Cleanup(func() { w.stopQ() })
	return w
}

func (w *ppWorld) startQueue() {
	q, err := NewQueue(QueueOptions{Heartbeat: hb, Liveness: 3, Context: w.zc})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := q.BindFrontend(w.front); err != nil {
		w.t.Fatal(err)
	}
	if err := q.BindBackend(w.back); err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	w.q = q
	w.stopQ = func() { cancel(); <-done }
}

func (w *ppWorld) worker(fn HandlerFunc) (*Worker, func()) {
	wk, err := NewWorker(w.back, fn, WorkerOptions{Heartbeat: hb, Liveness: 3, ReconnectMin: hb, ReconnectMax: 4 * hb, Context: w.zc})
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

func (w *ppWorld) client(timeout time.Duration, attempts int) *LazyClient {
	c, err := NewLazyClient(w.front, LazyOptions{Timeout: timeout, Attempts: attempts, Context: w.zc})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c
}

// Requests go to the worker that has been ready longest: two workers
// take turns.
func TestQueueLeastRecentlyUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPPWorld(t)
		for _, name := range []string{"a", "b"} {
			w.worker(func(ctx context.Context, req [][]byte) ([][]byte, error) {
				return [][]byte{[]byte(name)}, nil
			})
			synctest.Wait()
		}
		c := w.client(time.Second, 1)
		var order string
		for range 4 {
			r, err := c.Request(context.Background(), []byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			order += string(r[0])
		}
		if order != "abab" {
			t.Errorf("served by %q, want abab", order)
		}
	})
}

// A worker killed mid-request leaves its request unanswered; the client's
// retry goes to the other worker, and the client gets exactly one reply.
// The queue forgets the dead worker after Liveness intervals.
func TestQueueWorkerKilledMidRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPPWorld(t)
		var served atomic.Int32
		started := make(chan struct{})
		_, stop1 := w.worker(func(ctx context.Context, req [][]byte) ([][]byte, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		synctest.Wait()
		w.worker(func(ctx context.Context, req [][]byte) ([][]byte, error) {
			served.Add(1)
			return [][]byte{[]byte("second")}, nil
		})
		synctest.Wait()
		c := w.client(500*time.Millisecond, 3)
		got := make(chan [][]byte, 1)
		go func() {
			r, err := c.Request(context.Background(), []byte("job"))
			if err != nil {
				t.Error(err)
			}
			got <- r
		}()
		<-started
		stop1() // killed: no reply, its socket closed
		start := time.Now()
		r := <-got
		if frames(r) != `["second"]` || served.Load() != 1 {
			t.Fatalf("reply %s, served %d", frames(r), served.Load())
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("answered %v after the kill, want within one attempt (500ms)", d)
		}
	})
}

// A worker finds a silent queue dead after Liveness intervals and sends
// READY again from a new socket after its backoff.
func TestWorkerDetectsSilentQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zc := zmtp.NewContext()
		fake := sock(t, zc, zmtp.Router)
		fake.Bind("inproc://q")
		wk, _ := NewWorker("inproc://q", HandlerFunc(func(ctx context.Context, r [][]byte) ([][]byte, error) { return r, nil }),
			WorkerOptions{Heartbeat: hb, Liveness: 3, ReconnectMin: 2 * hb, ReconnectMax: 4 * hb, Context: zc})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { wk.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		start := time.Now()
		var readyAt []time.Duration
		heartbeats := 0
		for len(readyAt) < 2 {
			m, err := fake.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			switch frames(m.Frames[1:]) {
			case `["\x01"]`:
				readyAt = append(readyAt, time.Since(start))
			case `["\x02"]`:
				heartbeats++
			default:
				t.Fatalf("queue got %s", frames(m.Frames))
			}
		}
		if want := fmt.Sprint([]time.Duration{0, 5 * hb}); fmt.Sprint(readyAt) != want {
			t.Errorf("READY at %v, want %v", readyAt, want)
		}
		if heartbeats != 2 {
			t.Errorf("%d heartbeats before giving up, want 2", heartbeats)
		}
	})
}

// The queue restarted: workers carry on (their heartbeats make them known
// to the new queue, or they reconnect), and the client's retry is
// answered.
func TestQueueRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPPWorld(t)
		w.worker(func(ctx context.Context, req [][]byte) ([][]byte, error) { return req, nil })
		c := w.client(time.Second, 5)
		if _, err := c.Request(context.Background(), []byte("before")); err != nil {
			t.Fatal(err)
		}
		w.stopQ()
		got := make(chan error, 1)
		go func() {
			r, err := c.Request(context.Background(), []byte("during"))
			if err == nil && frames(r) != `["during"]` {
				err = fmt.Errorf("reply %s", frames(r))
			}
			got <- err
		}()
		time.Sleep(1500 * time.Millisecond)
		w.startQueue()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	})
}

// A reply from a worker the queue gave no request (a stranger, or one
// forgotten as dead) is not passed on.
func TestQueueDropsUnaskedReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPPWorld(t)
		c, _ := w.zc.NewSocket(zmtp.Dealer, zmtp.Options{RoutingID: []byte("cli"), Linger: zmtp.NoLinger})
		defer c.Close()
		c.Connect(w.front)
		rogue := sock(t, w.zc, zmtp.Dealer)
		rogue.Connect(w.back)
		ctx := context.Background()
		synctest.Wait()
		rogue.Send(ctx, [][]byte{[]byte("cli"), nil, []byte("unasked")})
		synctest.Wait()
		if _, err := c.TryRecv(); !errors.Is(err, zmtp.ErrWouldBlock) {
			t.Fatalf("client got something: %v", err)
		}
	})
}

func TestPPPParse(t *testing.T) {
	for _, tc := range []struct {
		in   [][]byte
		want string
	}{
		{[][]byte{{2}}, "heartbeat"},
		{[][]byte{[]byte("c"), nil, []byte("b")}, `request ["c" ""] ["b"]`},
		{[][]byte{nil, []byte("b"), []byte("c")}, `request [""] ["b" "c"]`},
		{[][]byte{[]byte("c"), []byte("d"), nil}, "error"},
		{[][]byte{[]byte("x")}, "error"},
		{[][]byte{{1}}, "error"},
		{nil, "error"},
	} {
		k, env, body, err := ppp{}.Parse(tc.in)
		var got string
		switch {
		case err != nil:
			got = "error"
		case k == workerloop.Heartbeat:
			got = "heartbeat"
		default:
			got = "request " + frames(env) + " " + frames(body)
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// A worker that goes silent (its READY sent, then nothing) is forgotten by
// the queue after Liveness intervals: it would otherwise be first in line
// and lose the next request.
func TestQueueForgetsSilentWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPPWorld(t)
		silent := sock(t, w.zc, zmtp.Dealer)
		silent.Connect(w.back)
		silent.Send(context.Background(), [][]byte{{0x01}})
		synctest.Wait()
		w.worker(func(ctx context.Context, req [][]byte) ([][]byte, error) { return req, nil })
		time.Sleep(3*hb + hb) // on the bubble's clock: past the silent worker's expiry
		c := w.client(time.Second, 1)
		for i := range 4 {
			if _, err := c.Request(context.Background(), []byte("x")); err != nil {
				t.Fatalf("request %d after the expiry: %v", i, err)
			}
		}
	})
}
