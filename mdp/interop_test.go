package mdp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run testdata/mdp_peer.py, a Majordomo broker, worker and
// client written from 7/MDP on pyzmq (libzmq 4.3), against ours over TCP.
// Real sockets cannot run in a synctest bubble, so the tests wait for
// events (a line from the peer, a counter, an answer) with generous
// deadlines, never for a fixed time.

const python = "/usr/bin/python3"

// Heartbeats over TCP between processes on a loaded machine: an interval
// of 200 ms and a liveness of 5 find a dead peer within a second and do
// not take a slow one for dead.
const (
	tcpHB       = 200 * time.Millisecond
	tcpLiveness = 5
	// wait bounds every wait for an event; it is far above what each
	// takes, for machines under load.
	wait = 60 * time.Second
)

var pyzmq = sync.OnceValues(func() ([]byte, error) {
	return exec.Command(python, "-c", "import zmq").CombinedOutput()
})

func needPyzmq(t *testing.T) {
	t.Helper()
	if out, err := pyzmq(); err != nil {
		t.Fatalf("these tests need %s with pyzmq (Debian package python3-zmq): %v\n%s", python, err, out)
	}
}

// pyPeer is a running mdp_peer.py.
type pyPeer struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
}

func startPy(t *testing.T, args ...string) *pyPeer {
	t.Helper()
	needPyzmq(t)
	cmd := exec.Command(python, append([]string{"testdata/mdp_peer.py"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pyPeer{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 100), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		cmd.Wait()
		if s := stderr.String(); s != "" && !strings.Contains(s, "KeyboardInterrupt") {
			t.Logf("%s %v stderr:\n%s", python, args, s)
		}
	}()
	t.Cleanup(p.stop)
	return p
}

// stop closes the peer's stdin (it then ends) and waits for it; kill ends
// it at once.
func (p *pyPeer) stop() {
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(wait):
		p.kill()
	}
}

func (p *pyPeer) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

func (p *pyPeer) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

// expect returns the first line starting with prefix, skipping others.
func (p *pyPeer) expect(prefix string) string {
	p.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("peer ended before %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			p.t.Fatalf("no %q from the peer within %v", prefix, wait)
		}
	}
}

// next returns the peer's next line.
func (p *pyPeer) next() string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatal("peer ended")
		}
		return l
	case <-time.After(wait):
		p.t.Fatalf("no line from the peer within %v", wait)
	}
	return ""
}

// eventually polls cond (a question to a peer, each with its own timeout)
// until it holds; it fails the test after wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
	}
}

func ms(d time.Duration) string { return strings.TrimSuffix(d.String(), "ms") }

func pyHB() []string { return []string{"--heartbeat", ms(tcpHB), "--liveness", "5"} }

// runBroker runs our broker on ep until the test ends or stop is called.
func runBroker(t *testing.T, ep string) (b *Broker, stop func()) {
	t.Helper()
	b, err := NewBroker(BrokerOptions{Heartbeat: tcpHB, Liveness: tcpLiveness})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(ep); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return b, stop
}

func runWorker(t *testing.T, ep, service string, h HandlerFunc) *Worker {
	t.Helper()
	w, err := NewWorker(ep, service, h, WorkerOptions{Heartbeat: tcpHB, Liveness: tcpLiveness,
		ReconnectMin: tcpHB, ReconnectMax: 2 * tcpHB})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func newClient(t *testing.T, ep string, timeout time.Duration, attempts int) *Client {
	t.Helper()
	c, err := NewClient(ep, ClientOptions{Timeout: timeout, Attempts: attempts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func goEcho(ctx context.Context, req [][]byte) ([][]byte, error) {
	out := make([][]byte, len(req))
	for i, f := range req {
		out[i] = append([]byte("go:"), f...)
	}
	return out, nil
}

// mmi asks the Python client about a service until the answer is want.
func (p *pyPeer) mmiUntil(name, want string) {
	p.t.Helper()
	eventually(p.t, "mmi.service "+name+" = "+want, func() bool {
		p.send("MMI " + name)
		return p.next() == "MMI "+want
	})
}

// Their client and their worker through our broker, with mmi.service
// asked by their client; our client reaches their worker too.
func TestInteropTheirPeersOurBroker(t *testing.T) {
	b, _ := runBroker(t, "tcp://127.0.0.1:*")
	ep := b.Endpoint()
	cli := startPy(t, "client", ep, "--timeout", "5000", "--retries", "3")
	cli.mmiUntil("echo", "404")
	wk := startPy(t, append([]string{"worker", ep, "echo"}, pyHB()...)...)
	wk.expect("READY 1")
	cli.mmiUntil("echo", "200")
	cli.send("REQ echo hello world")
	if got := cli.expect("REPLY"); got != "REPLY echo py:hello|py:world" {
		t.Fatalf("their client got %q", got)
	}
	if got := wk.expect("REQUEST"); got != "REQUEST hello" {
		t.Fatalf("their worker got %q", got)
	}
	cli.send("MMI mmi.service")
	if got := cli.next(); got != "MMI 404" {
		t.Errorf("mmi.service for mmi.service: %q", got)
	}
	c := newClient(t, ep, 5*time.Second, 3)
	r, err := c.Request(context.Background(), "echo", []byte("from go"))
	if err != nil || frames(r) != `["py:from go"]` {
		t.Fatalf("our client got %s %v", frames(r), err)
	}
	got, err := c.Request(context.Background(), "mmi.nothing", []byte("x"))
	if err != nil || frames(got) != `["501"]` {
		t.Fatalf("mmi.nothing: %s %v", frames(got), err)
	}
}

// Our client and our worker through their broker, with mmi.service asked
// by our client; their client reaches our worker too.
func TestInteropOurPeersTheirBroker(t *testing.T) {
	br := startPy(t, append([]string{"broker"}, pyHB()...)...)
	ep := strings.TrimPrefix(br.expect("BOUND "), "BOUND ")
	c := newClient(t, ep, 5*time.Second, 3)
	ctx := context.Background()
	if ok, err := c.ServiceExists(ctx, "echo"); ok || err != nil {
		t.Fatalf("mmi.service echo before the worker: %v %v", ok, err)
	}
	runWorker(t, ep, "echo", goEcho)
	eventually(t, "their broker knows our worker", func() bool {
		ok, err := c.ServiceExists(ctx, "echo")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	for i := range 20 {
		body := []byte{'a' + byte(i)}
		r, err := c.Request(ctx, "echo", body, []byte("second frame"))
		if err != nil || frames(r) != frames([][]byte{append([]byte("go:"), body...), []byte("go:second frame")}) {
			t.Fatalf("request %d: %s %v", i, frames(r), err)
		}
	}
	if _, err := c.Request(ctx, "mmi.nothing", []byte("x")); err != nil {
		t.Fatal(err)
	}
	cli := startPy(t, "client", ep, "--timeout", "5000")
	cli.send("REQ echo hi")
	if got := cli.expect("REPLY"); got != "REPLY echo go:hi" {
		t.Fatalf("their client got %q", got)
	}
}

// Their worker is killed (SIGKILL) mid-request: our broker finds it dead
// by heartbeat expiry and gives the request to another worker; our client
// gets one reply.
func TestInteropWorkerKilledMidRequest(t *testing.T) {
	b, _ := runBroker(t, "tcp://127.0.0.1:*")
	ep := b.Endpoint()
	doomed := startPy(t, append([]string{"worker", ep, "svc", "--hang", "slow"}, pyHB()...)...)
	doomed.expect("READY 1")
	c := newClient(t, ep, wait, 1)
	type answer struct {
		r   [][]byte
		err error
	}
	got := make(chan answer, 1)
	go func() {
		r, err := c.Request(context.Background(), "svc", []byte("slow"))
		got <- answer{r, err}
	}()
	doomed.expect("REQUEST slow")
	runWorker(t, ep, "svc", goEcho)
	doomed.kill()
	a := <-got
	if a.err != nil || frames(a.r) != `["go:slow"]` {
		t.Fatalf("reply %s %v", frames(a.r), a.err)
	}
	if s := b.Stats(); s.Requeued != 1 || s.Replies != 1 {
		t.Errorf("broker %+v", s)
	}
}

// Our worker stops mid-request (its Run ends while the handler is blocked:
// it sends DISCONNECT and closes its socket); their broker gives the
// request to another worker and our client gets one reply.
func TestInteropOurWorkerLeavesTheirBroker(t *testing.T) {
	br := startPy(t, append([]string{"broker"}, pyHB()...)...)
	ep := strings.TrimPrefix(br.expect("BOUND "), "BOUND ")
	started := make(chan struct{})
	w1, err := NewWorker(ep, "svc", HandlerFunc(func(ctx context.Context, req [][]byte) ([][]byte, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}), WorkerOptions{Heartbeat: tcpHB, Liveness: tcpLiveness})
	if err != nil {
		t.Fatal(err)
	}
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := make(chan struct{})
	go func() { w1.Run(ctx1); close(done1) }()
	defer func() { stop1(); <-done1 }()
	c := newClient(t, ep, wait, 1)
	eventually(t, "worker registered", func() bool { ok, _ := c.ServiceExists(context.Background(), "svc"); return ok })
	got := make(chan error, 1)
	go func() {
		r, err := c.Request(context.Background(), "svc", []byte("job"))
		if err == nil && frames(r) != `["go:job"]` {
			err = errors.New("reply " + frames(r))
		}
		got <- err
	}()
	<-started
	runWorker(t, ep, "svc", goEcho)
	stop1()
	<-done1
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// freezer relays TCP connections to a target; freeze makes the
// connections open so far silent both ways (a network that drops
// everything without closing), while new connections are relayed.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []*relayed
	wg     sync.WaitGroup
	// accepted receives a value for each connection relayed.
	accepted chan struct{}
}

type relayed struct {
	a, b   net.Conn
	frozen chan struct{}
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target, accepted: make(chan struct{}, 100)}
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *freezer) endpoint() string { return "tcp://" + f.ln.Addr().String() }

func (f *freezer) accept() {
	for {
		a, err := f.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", f.target)
		if err != nil {
			a.Close()
			continue
		}
		r := &relayed{a: a, b: b, frozen: make(chan struct{})}
		f.mu.Lock()
		f.conns = append(f.conns, r)
		f.mu.Unlock()
		f.wg.Go(func() { pump(r, a, b) })
		f.wg.Go(func() { pump(r, b, a) })
		select {
		case f.accepted <- struct{}{}:
		default:
		}
	}
}

// pump copies from src to dst until either fails; once frozen it reads
// and discards, closing nothing, until the freezer closes.
func pump(r *relayed, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-r.frozen:
			if err != nil {
				return
			}
			continue
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// waitAccepted waits until one more connection is relayed.
func (f *freezer) waitAccepted(t *testing.T) {
	t.Helper()
	select {
	case <-f.accepted:
	case <-time.After(wait):
		t.Fatalf("no connection through the relay within %v", wait)
	}
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.conns {
		select {
		case <-r.frozen:
		default:
			close(r.frozen)
		}
	}
}

func (f *freezer) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, r := range f.conns {
		r.a.Close()
		r.b.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// The network between our worker and their broker goes silent: their
// broker forgets the worker, our worker finds the broker dead by heartbeat
// expiry and registers again on a new connection, and requests are served
// again.
func TestInteropSilentNetworkOurWorker(t *testing.T) {
	br := startPy(t, append([]string{"broker"}, pyHB()...)...)
	ep := strings.TrimPrefix(br.expect("BOUND "), "BOUND ")
	fz := newFreezer(t, strings.TrimPrefix(ep, "tcp://"))
	w := runWorker(t, fz.endpoint(), "echo", goEcho)
	c := newClient(t, ep, 5*time.Second, 3)
	ctx := context.Background()
	if _, err := c.Request(ctx, "echo", []byte("before")); err != nil {
		t.Fatal(err)
	}
	fz.waitAccepted(t) // our worker's connection
	fz.freeze()
	fz.waitAccepted(t) // its new one
	if s := w.Stats(); s.Connects != 2 {
		t.Errorf("worker %+v, want 2 connects", s)
	}
	r, err := c.Request(ctx, "echo", []byte("after"))
	if err != nil || frames(r) != `["go:after"]` {
		t.Fatalf("after the silence: %s %v", frames(r), err)
	}
}

// The network between their worker and our broker goes silent: our broker
// forgets the worker (mmi.service says 404 while it has no other), their
// worker registers again on a new connection, and requests are served.
func TestInteropSilentNetworkTheirWorker(t *testing.T) {
	b, _ := runBroker(t, "tcp://127.0.0.1:*")
	ep := b.Endpoint()
	fz := newFreezer(t, strings.TrimPrefix(ep, "tcp://"))
	wk := startPy(t, append([]string{"worker", fz.endpoint(), "echo"}, pyHB()...)...)
	wk.expect("READY 1")
	c := newClient(t, ep, 5*time.Second, 3)
	ctx := context.Background()
	if _, err := c.Request(ctx, "echo", []byte("before")); err != nil {
		t.Fatal(err)
	}
	fz.freeze()
	wk.expect("READY 2")
	r, err := c.Request(ctx, "echo", []byte("after"))
	if err != nil || frames(r) != `["py:after"]` {
		t.Fatalf("after the silence: %s %v", frames(r), err)
	}
}

// freePort returns a loopback endpoint nobody listens on now.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "tcp://" + ln.Addr().String()
}

// Our broker restarts on the same port: their worker's heartbeats reach a
// broker that does not know it, which answers DISCONNECT; the worker
// registers again, and their client's retries are answered.
func TestInteropOurBrokerRestarts(t *testing.T) {
	ep := freePort(t)
	_, stop := runBroker(t, ep)
	wk := startPy(t, append([]string{"worker", ep, "echo"}, pyHB()...)...)
	wk.expect("READY 1")
	cli := startPy(t, "client", ep, "--timeout", "2000", "--retries", "10")
	cli.send("REQ echo one")
	if got := cli.expect("REPLY"); got != "REPLY echo py:one" {
		t.Fatal(got)
	}
	stop()
	cli.send("REQ echo two")
	runBroker(t, ep)
	wk.expect("READY 2")
	if got := cli.expect("REPLY"); got != "REPLY echo py:two" {
		t.Fatal(got)
	}
}

// Their broker is killed and started again on the same port: our worker
// registers again (after DISCONNECT or heartbeat expiry) and our client's
// retries are answered.
func TestInteropTheirBrokerRestarts(t *testing.T) {
	ep := freePort(t)
	br := startPy(t, append([]string{"broker", "--bind", ep}, pyHB()...)...)
	br.expect("BOUND ")
	w := runWorker(t, ep, "echo", goEcho)
	c := newClient(t, ep, 2*time.Second, 10)
	ctx := context.Background()
	if _, err := c.Request(ctx, "echo", []byte("one")); err != nil {
		t.Fatal(err)
	}
	br.kill()
	got := make(chan error, 1)
	go func() {
		r, err := c.Request(ctx, "echo", []byte("two"))
		if err == nil && frames(r) != `["go:two"]` {
			err = errors.New("reply " + frames(r))
		}
		got <- err
	}()
	br2 := startPy(t, append([]string{"broker", "--bind", ep}, pyHB()...)...)
	br2.expect("BOUND ")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Connects < 2 {
		t.Errorf("worker %+v: never registered again", s)
	}
}
