package zmtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// leaseMechs are the security mechanisms the read lease and the direct
// writes are tried with: with CURVE, direct writes and the writer
// goroutine share the nonce sequence.
func leaseMechs(t *testing.T) map[string][2]mechanism.Mechanism {
	spub, ssec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	cpub, csec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][2]mechanism.Mechanism{
		"NULL": {nil, nil},
		"PLAIN": {mechanism.Plain{Server: true, Authenticator: mechanism.AuthenticatorFunc(plainAuth)},
			mechanism.Plain{Username: "admin", Password: "secret"}},
		"CURVE": {mechanism.Curve{Server: true, PublicKey: spub, SecretKey: ssec, AllowAnyClient: true},
			mechanism.Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub}},
	}
}

func leaseEndpoint(t *testing.T, transport string) string {
	if transport == "ipc" {
		return "ipc://" + filepath.Join(t.TempDir(), "s")
	}
	return "tcp://127.0.0.1:*"
}

// leaseBody is the i-th request body of a stream: its size varies from
// a few octets to well above the read buffer (32 KiB), and its content
// names i, so that a lost, repeated, reordered or corrupted message shows.
func leaseBody(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	var n int
	switch r.IntN(6) {
	case 0:
		n = 32<<10 + r.IntN(100<<10)
	case 1:
		n = 200 + r.IntN(8<<10)
	default:
		n = 8 + r.IntN(64)
	}
	b := make([]byte, n)
	binary.BigEndian.PutUint64(b, uint64(i))
	for k := 8; k < n; k++ {
		b[k] = byte(i*31 + k)
	}
	return b
}

// jitter pauses for a random moment up to d; it only shapes when messages
// arrive, nothing waits on it.
func jitter(r *rand.Rand, d time.Duration) {
	if r.IntN(3) == 0 {
		time.Sleep(time.Duration(r.Int64N(int64(d))))
	}
}

// TestLeaseStreamShortRecvTimeouts: a REP whose Recvs give up after a
// short, random time, in a loop, while requests (multipart, with several
// delimiter frames, small and above the read buffer) arrive at random
// moments from a DEALER, gets every request exactly once, in order and
// intact, and its replies (written directly, or by the writer goroutine)
// reach the DEALER the same way, with every mechanism, over tcp and ipc.
func TestLeaseStreamShortRecvTimeouts(t *testing.T) {
	const n = 400
	for name, mech := range leaseMechs(t) {
		for _, transport := range []string{"tcp", "ipc"} {
			t.Run(name+"/"+transport, func(t *testing.T) {
				rep := newSock(t, Rep, Options{Mechanism: mech[0]})
				if err := rep.Bind(leaseEndpoint(t, transport)); err != nil {
					t.Fatal(err)
				}
				dealer := newSock(t, Dealer, Options{Mechanism: mech[1]})
				if err := dealer.Connect(rep.LastEndpoint()); err != nil {
					t.Fatal(err)
				}
				ctx := testCtx(t)
				var wg sync.WaitGroup
				errc := make(chan error, 3)
				wg.Add(2)
				go func() { // requests at random moments
					defer wg.Done()
					r := rand.New(rand.NewPCG(1, 2))
					for i := range n {
						hop := []byte(fmt.Sprint("hop", i))
						msg := [][]byte{hop, {}, []byte("x"), {}, leaseBody(i)}
						if err := dealer.Send(ctx, msg); err != nil {
							errc <- fmt.Errorf("DEALER send %d: %w", i, err)
							return
						}
						jitter(r, 2*time.Millisecond)
					}
				}()
				go func() { // replies, checked
					defer wg.Done()
					for i := range n {
						m, err := dealer.Recv(ctx)
						if err != nil {
							errc <- fmt.Errorf("DEALER recv %d: %w", i, err)
							return
						}
						want := [][]byte{[]byte(fmt.Sprint("hop", i)), {}, []byte("re"), leaseBody(i)}
						if !framesEqual(m.Frames, want) {
							errc <- fmt.Errorf("reply %d: got %s", i, describe(m.Frames))
							return
						}
					}
				}()
				r := rand.New(rand.NewPCG(3, 4))
				timeouts := 0
				for i := 0; i < n; {
					rctx, cancel := context.WithTimeout(ctx, time.Duration(1+r.IntN(300))*time.Microsecond)
					m, err := rep.Recv(rctx)
					cancel()
					if errors.Is(err, context.DeadlineExceeded) {
						if ctx.Err() != nil {
							t.Fatalf("REP: no request %d within %v", i, waitTimeout)
						}
						timeouts++
						continue
					}
					if err != nil {
						t.Fatalf("REP recv %d: %v", i, err)
					}
					want := [][]byte{[]byte("x"), {}, leaseBody(i)}
					if !framesEqual(m.Frames, want) {
						t.Fatalf("request %d: got %s", i, describe(m.Frames))
					}
					jitter(r, time.Millisecond)
					if err := rep.Send(ctx, [][]byte{[]byte("re"), leaseBody(i)}); err != nil {
						t.Fatalf("REP send %d: %v", i, err)
					}
					i++
				}
				wg.Wait()
				select {
				case err := <-errc:
					t.Fatal(err)
				default:
				}
				t.Logf("%d Recvs timed out", timeouts)
			})
		}
	}
}

func describe(frames [][]byte) string {
	s := fmt.Sprintf("%d frames:", len(frames))
	for _, f := range frames {
		if len(f) > 16 {
			s += fmt.Sprintf(" [%d octets %x...]", len(f), f[:16])
		} else {
			s += fmt.Sprintf(" %q", f)
		}
	}
	return s
}

// TestLeaseCloseDuringDirectRecvAndWrites: Close and CloseContext, from
// another goroutine, while a REP answers a stream of requests (its Recvs
// reading the connection, its replies written directly): the REP's calls
// end with ErrClosed, and every reply Send accepted reaches the peer, in
// order and once, unless counted in Discarded or Dropped. (The DEALER
// keeps few requests unanswered: a flood of them would leave unread data
// at the REP's close, which makes the kernel reset the connection and the
// DEALER's kernel drop replies it had received but not yet handed over,
// whichever side reads.)
func TestLeaseCloseDuringDirectRecvAndWrites(t *testing.T) {
	for _, how := range []string{"Close", "CloseContext", "CloseContextEnded"} {
		for name, mech := range leaseMechs(t) {
			t.Run(how+"/"+name, func(t *testing.T) {
				rep, err := NewSocket(Rep, Options{Mechanism: mech[0], Linger: DurationOf(waitTimeout)})
				if err != nil {
					t.Fatal(err)
				}
				defer rep.Close()
				ep := bindLocal(t, rep)
				dealer := newSock(t, Dealer, Options{Mechanism: mech[1]})
				if err := dealer.Connect(ep); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(testCtx(t))
				defer cancel()
				var wg sync.WaitGroup
				defer wg.Wait()
				defer cancel()
				// The DEALER has at most window requests unanswered.
				const window = 4
				tokens := make(chan struct{}, window)
				for range window {
					tokens <- struct{}{}
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-tokens:
						case <-ctx.Done():
							return
						}
						if dealer.Send(ctx, [][]byte{{}, leaseBody(i)}) != nil {
							return
						}
					}
				}()
				var mu sync.Mutex
				got, bad := 0, ""
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case tokens <- struct{}{}:
						case <-ctx.Done():
							return
						}
						m, err := dealer.Recv(ctx)
						if err != nil {
							return
						}
						mu.Lock()
						if !framesEqual(m.Frames, [][]byte{{}, leaseBody(got)}) && bad == "" {
							bad = fmt.Sprintf("reply %d: %s", got, describe(m.Frames))
						}
						got++
						mu.Unlock()
					}
				}()
				accepted := 0
				done := make(chan error, 1)
				go func() {
					for {
						m, err := rep.Recv(ctx)
						if err != nil {
							done <- err
							return
						}
						if err := rep.Send(ctx, m.Frames); err != nil {
							done <- err
							return
						}
						accepted++
					}
				}()
				waitFor(t, "replies", func() bool { mu.Lock(); defer mu.Unlock(); return got >= 50 })
				switch how {
				case "Close":
					err = rep.Close()
				case "CloseContext":
					err = rep.CloseContext(testCtx(t))
				case "CloseContextEnded":
					cctx, ccancel := context.WithCancel(ctx)
					ccancel()
					err = rep.CloseContext(cctx)
				}
				t.Logf("%s: %v", how, err)
				var rerr error
				select {
				case rerr = <-done:
				case <-deadline(t):
					t.Fatal("REP calls go on after Close")
				}
				if !errors.Is(rerr, ErrClosed) {
					t.Fatalf("REP call after Close: %v, want ErrClosed", rerr)
				}
				lost := int(rep.Discarded() + rep.Dropped())
				waitFor(t, fmt.Sprintf("%d replies of %d accepted, %d lost", accepted-lost, accepted, lost), func() bool {
					mu.Lock()
					defer mu.Unlock()
					return got >= accepted-lost
				})
				mu.Lock()
				defer mu.Unlock()
				if bad != "" || got > accepted {
					t.Fatalf("%s; %d replies of %d accepted", bad, got, accepted)
				}
				if how != "CloseContextEnded" && lost > 0 {
					t.Fatalf("%d replies lost by a Close that waited", lost)
				}
			})
		}
	}
}

// TestLeasePeerLeavesWhileRecvReads: the one peer of a REP leaves while
// a Recv reads its connection itself (after Recvs did before): the Recv
// goes on waiting, and gets the request of the next peer; the connection's
// reader goroutine, ending, leaves the read state to the Recv that holds
// the lease (the race detector sees it otherwise).
func TestLeasePeerLeavesWhileRecvReads(t *testing.T) {
	for _, transport := range []string{"tcp", "ipc"} {
		t.Run(transport, func(t *testing.T) {
			rep := keepLease(newSock(t, Rep, Options{}))
			if err := rep.Bind(leaseEndpoint(t, transport)); err != nil {
				t.Fatal(err)
			}
			ep := rep.LastEndpoint()
			req := newSock(t, Req, Options{})
			if err := req.Connect(ep); err != nil {
				t.Fatal(err)
			}
			waitPipes(t, rep, 1)
			for round := range 3 {
				for range 3 {
					roundTrip(t, req, rep)
				}
				got := recvAsync(rep, testCtx(t))
				c := readingDirectly(t, rep)
				req.Close()
				waitFor(t, "the connection to end", func() bool {
					select {
					case <-c.dead:
						return true
					default:
						return false
					}
				})
				req = newSock(t, Req, Options{})
				if err := req.Connect(ep); err != nil {
					t.Fatal(err)
				}
				send(t, req, fmt.Sprint("after ", round))
				if r := waitRecv(t, got); r.err != nil || string(r.m.Frames[0]) != fmt.Sprint("after ", round) {
					t.Fatalf("REP got %q, %v", r.m.Frames, r.err)
				}
				send(t, rep, "bye")
				if got := recv(t, req); got[0] != "bye" {
					t.Fatalf("REQ got %q", got)
				}
			}
		})
	}
}

// leaseRawREQ connects a REQ (whose Recvs keep the read lease) to a
// hand-driven REP and makes the next Recv read the connection itself; it
// returns the REQ, the raw peer, the REQ's connection and that Recv.
func leaseRawREQ(t *testing.T, opts Options) (*Socket, rawConnReader, *Conn, <-chan recvResult) {
	ep, accept := rawServer(t, "REP")
	req := keepLease(newSock(t, Req, opts))
	if err := req.Connect(ep); err != nil {
		t.Fatal(err)
	}
	peer := accept()
	reply := frame.AppendFrame(frame.AppendFrame(nil, frame.FlagMore, nil), 0, []byte("reply"))
	for i := range 2 {
		send(t, req, "request")
		for range 2 {
			if _, err := peer.rd.ReadFrame(); err != nil {
				t.Fatal(err)
			}
		}
		if i == 1 {
			break
		}
		got := recvAsync(req, testCtx(t))
		recvWaiting(t, req)
		if _, err := peer.Write(reply); err != nil {
			t.Fatal(err)
		}
		if r := waitRecv(t, got); r.err != nil {
			t.Fatal(r.err)
		}
	}
	got := recvAsync(req, testCtx(t))
	return req, peer, readingDirectly(t, req), got
}

func connDead(c *Conn) bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// TestLeaseTTLWhileRecvReads: a peer's PING TTL applies while a Recv
// reads the connection itself: a peer silent after its PING for longer
// than the TTL is dropped; one whose PINGs keep coming is kept, and its
// reply still reaches the Recv.
func TestLeaseTTLWhileRecvReads(t *testing.T) {
	t.Run("silent", func(t *testing.T) {
		_, peer, c, _ := leaseRawREQ(t, Options{})
		if _, err := peer.Write(frame.AppendPing(nil, 2, nil)); err != nil { // 200 ms
			t.Fatal(err)
		}
		waitFor(t, "the connection dropped by the TTL", func() bool { return connDead(c) })
		var te *TimeoutError
		if err := c.Err(); !errors.As(err, &te) {
			t.Fatalf("connection ended with %v, want a TimeoutError", err)
		}
	})
	t.Run("alive", func(t *testing.T) {
		_, peer, c, got := leaseRawREQ(t, Options{})
		// PINGs with a TTL of 2 s, until the REQ has read 2.5 s of them.
		start := time.Now()
		for time.Since(start) < 2500*time.Millisecond {
			if _, err := peer.Write(frame.AppendPing(nil, 20, nil)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond) // pacing the PINGs, not waiting for anything
			if connDead(c) {
				t.Fatalf("connection dropped after %v of PINGs: %v", time.Since(start), c.Err())
			}
		}
		reply := frame.AppendFrame(frame.AppendFrame(nil, frame.FlagMore, nil), 0, []byte("late"))
		if _, err := peer.Write(reply); err != nil {
			t.Fatal(err)
		}
		if r := waitRecv(t, got); r.err != nil || string(r.m.Frames[0]) != "late" {
			t.Fatalf("REQ got %q, %v", r.m.Frames, r.err)
		}
		if connDead(c) {
			t.Fatalf("connection dropped: %v", c.Err())
		}
	})
}

// TestLeaseHeartbeatTimeoutWhileRecvReads: a peer that stops answering
// PINGs is dropped after HeartbeatTimeout while a Recv reads the
// connection itself.
func TestLeaseHeartbeatTimeoutWhileRecvReads(t *testing.T) {
	_, _, c, _ := leaseRawREQ(t, Options{HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond})
	waitFor(t, "the connection dropped by the heartbeat", func() bool { return connDead(c) })
	var te *TimeoutError
	if err := c.Err(); !errors.As(err, &te) {
		t.Fatalf("connection ended with %v, want a TimeoutError", err)
	}
}

// leasePyBody is body(i) of testdata/lease_reqrep.py.
func leasePyBody(i int) []byte {
	var n int
	switch i % 6 {
	case 0:
		n = 40000 + (i*7919)%100000
	case 1:
		n = 200 + (i*131)%8000
	default:
		n = 8 + (i*17)%64
	}
	b := make([]byte, n)
	binary.BigEndian.PutUint64(b, uint64(i))
	for k := 8; k < n; k++ {
		b[k] = byte(i*31 + k)
	}
	return b
}

// TestLeaseLibzmqReqRep: our REP and REQ, their Recvs timing out at
// random, against libzmq's REQ and REP (through pyzmq) that pause at
// random: every request and reply arrives once, in order, intact.
func TestLeaseLibzmqReqRep(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import zmq").CombinedOutput(); err != nil {
		t.Fatalf("this test needs %s with pyzmq (Debian package python3-zmq): %v\n%s", python, err, out)
	}
	const n = 300
	for _, ours := range []SocketType{Rep, Req} {
		t.Run(fmt.Sprint(ours), func(t *testing.T) {
			s := newSock(t, ours, Options{})
			ep := bindLocal(t, s)
			ctx := testCtx(t)
			theirs := "REQ"
			if ours == Req {
				theirs = "REP"
			}
			cmd := exec.CommandContext(ctx, python, "testdata/lease_reqrep.py", theirs, ep, fmt.Sprint(n))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(5, 6))
			recvShort := func(i int) Message {
				for {
					rctx, cancel := context.WithTimeout(ctx, time.Duration(1+r.IntN(300))*time.Microsecond)
					m, err := s.Recv(rctx)
					cancel()
					if err == nil {
						return m
					}
					if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
						t.Fatalf("Recv %d: %v\n%s", i, err, stderr.String())
					}
				}
			}
			for i := range n {
				if ours == Rep {
					m := recvShort(i)
					if !framesEqual(m.Frames, [][]byte{leasePyBody(i), []byte("tail")}) {
						t.Fatalf("request %d: %s", i, describe(m.Frames))
					}
					if err := s.Send(ctx, append([][]byte{[]byte("re")}, m.Frames...)); err != nil {
						t.Fatal(err)
					}
				} else {
					if err := s.Send(ctx, [][]byte{leasePyBody(i), []byte("tail")}); err != nil {
						t.Fatal(err)
					}
					m := recvShort(i)
					if !framesEqual(m.Frames, [][]byte{[]byte("re"), leasePyBody(i), []byte("tail")}) {
						t.Fatalf("reply %d: %s", i, describe(m.Frames))
					}
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("lease_reqrep.py: %v\n%s", err, stderr.String())
			}
		})
	}
}

// TestLeasePollerAndRecv: a Poller waiting on a REP (with short timeouts,
// in a loop) while a blocking Recv on the same socket answers a stream of
// requests: the Recv gets every request once, in order, and nothing hangs.
func TestLeasePollerAndRecv(t *testing.T) {
	const n = 300
	rep := newSock(t, Rep, Options{})
	dealer := newSock(t, Dealer, Options{})
	if err := dealer.Connect(bindLocal(t, rep)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go pollLoop(ctx, &wg, rep, PollIn)
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			m, err := rep.Recv(ctx)
			if err != nil {
				errc <- fmt.Errorf("REP recv %d: %w", i, err)
				return
			}
			if !framesEqual(m.Frames, [][]byte{leaseBody(i)}) {
				errc <- fmt.Errorf("request %d: %s", i, describe(m.Frames))
				return
			}
			if err := rep.Send(ctx, m.Frames); err != nil {
				errc <- err
				return
			}
		}
	}()
	r := rand.New(rand.NewPCG(7, 8))
	for i := range n {
		if err := dealer.Send(ctx, [][]byte{{}, leaseBody(i)}); err != nil {
			t.Fatal(err)
		}
		m, err := dealer.Recv(ctx)
		if err != nil {
			select {
			case err := <-errc:
				t.Fatal(err)
			default:
			}
			t.Fatalf("reply %d: %v", i, err)
		}
		if !framesEqual(m.Frames, [][]byte{{}, leaseBody(i)}) {
			t.Fatalf("reply %d: %s", i, describe(m.Frames))
		}
		jitter(r, time.Millisecond)
	}
}

// TestLeaseReqRelaxedCorrelate: a relaxed, correlating REQ whose Recvs
// time out and which then sends anew gets the reply to its last request
// only, whether the stale replies come before or while its Recv reads.
func TestLeaseReqRelaxedCorrelate(t *testing.T) {
	router := newSock(t, Router, Options{})
	req := newSock(t, Req, Options{ReqRelaxed: true, ReqCorrelate: true})
	if err := req.Connect(bindLocal(t, router)); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	r := rand.New(rand.NewPCG(9, 10))
	for round := range 100 {
		var reqs [][][]byte
		tries := 1 + r.IntN(3)
		for k := range tries {
			if err := req.Send(ctx, [][]byte{[]byte(fmt.Sprint(round, "/", k))}); err != nil {
				t.Fatal(err)
			}
			m, err := router.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, m.Frames)
			if k < tries-1 {
				rctx, cancel := context.WithTimeout(ctx, time.Duration(r.IntN(200))*time.Microsecond)
				if m, err := req.Recv(rctx); err == nil {
					t.Fatalf("round %d: REQ got %q before any reply", round, m.Frames)
				}
				cancel()
			}
		}
		got := recvAsync(req, ctx)
		for _, m := range reqs { // replies to all, the stale first
			if err := router.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
			jitter(r, 200*time.Microsecond)
		}
		res := waitRecv(t, got)
		if want := fmt.Sprint(round, "/", tries-1); res.err != nil || string(res.m.Frames[0]) != want {
			t.Fatalf("round %d: REQ got %q, %v; want %q", round, res.m.Frames, res.err, want)
		}
	}
}

// TestLeasePeersComeAndGo: a REP answering, with short Recv timeouts, one
// REQ whose connection its Recvs read themselves, while a second REQ
// connects and the first leaves: each REQ gets its own replies, all of
// them, in order.
func TestLeasePeersComeAndGo(t *testing.T) {
	const n = 200
	rep := newSock(t, Rep, Options{})
	ep := bindLocal(t, rep)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	errc := make(chan error, 2)
	started := make(chan struct{})
	client := func(name string, first bool) {
		req, err := NewSocket(Req, Options{Linger: NoLinger})
		if err != nil {
			errc <- err
			return
		}
		defer req.Close()
		if err := req.Connect(ep); err != nil {
			errc <- err
			return
		}
		for i := range n {
			if first && i == n/4 {
				close(started)
			}
			body := append([]byte(name), leaseBody(i)...)
			if err := req.Send(ctx, [][]byte{body}); err != nil {
				errc <- fmt.Errorf("%s send %d: %w", name, i, err)
				return
			}
			m, err := req.Recv(ctx)
			if err != nil {
				errc <- fmt.Errorf("%s recv %d: %w", name, i, err)
				return
			}
			if !framesEqual(m.Frames, [][]byte{body}) {
				errc <- fmt.Errorf("%s reply %d: %s", name, i, describe(m.Frames))
				return
			}
		}
		errc <- nil
	}
	go client("a", true)
	go func() {
		select {
		case <-started:
			client("b", false)
		case <-ctx.Done():
			errc <- ctx.Err()
		}
	}()
	r := rand.New(rand.NewPCG(11, 12))
	done := 0
	for done < 2 {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
			done++
			continue
		default:
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Duration(1+r.IntN(300))*time.Microsecond)
		m, err := rep.Recv(rctx)
		rcancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Send(ctx, m.Frames); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReqPollerBesideSendRecv: a Poller watching a REQ from another
// goroutine while the REQ sends requests and receives replies (with
// ReqRelaxed and ReqCorrelate, a Send may also replace the request a Recv
// waits for): the request state is read and written without a data race
// (go test -race), and every reply arrives.
func TestReqPollerBesideSendRecv(t *testing.T) {
	for _, o := range []Options{{}, {ReqRelaxed: true, ReqCorrelate: true}} {
		const n = 300
		rep := newSock(t, Rep, Options{})
		req := newSock(t, Req, o)
		if err := req.Connect(bindLocal(t, rep)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(testCtx(t))
		var wg sync.WaitGroup
		wg.Add(2)
		go pollLoop(ctx, &wg, req, PollIn|PollOut)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				m, err := rep.Recv(ctx)
				if err != nil {
					return
				}
				rep.Send(ctx, m.Frames)
			}
		}()
		for i := range n {
			if err := req.Send(ctx, [][]byte{leaseBody(i)}); err != nil {
				t.Fatal(err)
			}
			m, err := req.Recv(ctx)
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if !framesEqual(m.Frames, [][]byte{leaseBody(i)}) {
				t.Fatalf("reply %d: %s", i, describe(m.Frames))
			}
		}
		cancel()
		wg.Wait()
	}
}

// pollLoop waits with a Poller on s for ev, with short timeouts, again and
// again until ctx ends, beside what the test does with s; then wg.Done.
func pollLoop(ctx context.Context, wg *sync.WaitGroup, s *Socket, ev Events) {
	defer wg.Done()
	p := NewPoller()
	p.Add(s, ev)
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Microsecond)
		p.Wait(pctx)
		cancel()
	}
}
