//go:build stress

package stress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// The connection tests measure a socket in this process while many raw
// TCP peers connect to it. The peers live in a helper process (this test
// binary again, running TestClientsHelper), since a process may not hold
// enough descriptors for both ends of 10,000 connections (ulimit -n is
// commonly 20,000 or less, and raising the hard limit needs privileges).

// handshakeBatch is how many peers start their handshakes before the test
// waits for the socket's monitor to count them: fewer than a monitor
// channel holds, so that no event is dropped.
const handshakeBatch = 200

// TestRouterIdlePeers has 5,000 raw peers complete their handshakes with a
// ROUTER and stay idle, and reports the ROUTER's memory and goroutines per
// peer; there must be at most two goroutines per peer (a connection's
// reader and writer).
func TestRouterIdlePeers(t *testing.T) {
	r := idleConnections(t, 5000)
	if g := r.idleGoroutines(); g > 2 {
		t.Errorf("%.2f goroutines per idle peer, want at most 2", g)
	}
}

// TestIdleConnections10k measures a ROUTER's memory per connection with
// 10,000 connections, pending (connected, greeting not sent) and idle
// (handshake done), against the target of 8 KiB each (libzmq 4.3.4: about
// 3.6 KiB of RSS per pending connection).
func TestIdleConnections10k(t *testing.T) {
	const target = 8 * KiB
	r := idleConnections(t, 10000)
	if v := r.pendingPerConn(); v > target {
		t.Errorf("%.1f KiB of Go heap and stacks per pending connection, want at most %d KiB", v/KiB, target/KiB)
	}
	if v := r.idlePerConn(); v > target {
		t.Errorf("%.1f KiB of Go heap and stacks per idle connection, want at most %d KiB", v/KiB, target/KiB)
	}
}

type idleResult struct {
	n                     int
	base, pending, idle   mem
	pendingTime, idleTime time.Duration
}

func (r idleResult) per(m mem) float64       { return float64(m.goBytes()-r.base.goBytes()) / float64(r.n) }
func (r idleResult) pendingPerConn() float64 { return r.per(r.pending) }
func (r idleResult) idlePerConn() float64    { return r.per(r.idle) }
func (r idleResult) idleGoroutines() float64 {
	return float64(r.idle.goroutines-r.base.goroutines) / float64(r.n)
}

// idleConnections connects n raw DEALER peers to a ROUTER, first without
// a greeting, then with their handshakes done, and measures the ROUTER's
// process at each stage.
func idleConnections(t *testing.T, n int) idleResult {
	router := newSocket(t, zmtp.Router, zmtp.Options{
		// Pending connections must stay while they are counted and measured.
		HandshakeTimeout: zmtp.DurationOf(5 * time.Minute),
	})
	ev := monitor(router, zmtp.EventHandshakeSucceeded|zmtp.EventDisconnected|
		zmtp.EventHandshakeFailedNoDetail|zmtp.EventHandshakeFailedProtocol)
	ep := bind(t, router)
	cl := startClients(t, hostPort(ep), n)
	r := idleResult{n: n}
	r.base = memNow(t)
	start := time.Now()
	cl.ask(t, "dial")
	r.pendingTime = time.Since(start)
	r.pending = memNow(t)
	start = time.Now()
	for a := 0; a < n; a += handshakeBatch {
		b := min(a+handshakeBatch, n)
		cl.ask(t, fmt.Sprintf("hello %d %d", a, b))
		ev.waitFor(t, zmtp.EventHandshakeSucceeded, b)
	}
	r.idleTime = time.Since(start)
	r.idle = memNow(t)
	for _, typ := range []zmtp.EventType{zmtp.EventDisconnected, zmtp.EventHandshakeFailedNoDetail, zmtp.EventHandshakeFailedProtocol} {
		if k := ev.count(typ); k > 0 {
			t.Errorf("%d %v events", k, typ)
		}
	}
	cl.ask(t, "close")
	rss := func(m mem) float64 { return float64(m.rss-r.base.rss) / float64(n) / KiB }
	t.Logf("%d connections: pending after %v, idle after %v more", n, r.pendingTime.Round(time.Millisecond), r.idleTime.Round(time.Millisecond))
	t.Logf("pending: %.1f KiB Go heap + stacks, %.1f KiB RSS, %.2f goroutines per connection",
		r.pendingPerConn()/KiB, rss(r.pending), float64(r.pending.goroutines-r.base.goroutines)/float64(n))
	t.Logf("idle:    %.1f KiB Go heap + stacks, %.1f KiB RSS, %.2f goroutines per connection",
		r.idlePerConn()/KiB, rss(r.idle), r.idleGoroutines())
	t.Logf("idle, split: heap %.1f KiB, stacks %.1f KiB per connection",
		float64(int64(r.idle.heap)-int64(r.base.heap))/float64(n)/KiB, float64(int64(r.idle.stack)-int64(r.base.stack))/float64(n)/KiB)
	return r
}

// The helper process.

const (
	helperAddr = "ZMTP_STRESS_CLIENTS_ADDR"
	helperN    = "ZMTP_STRESS_CLIENTS_N"
)

// clients drives the helper process: a request a line on its standard
// input, an answer a line on descriptor 3 ("ok" or "error: ...").
type clients struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startClients(t *testing.T, addr string, n int) *clients {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestClientsHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperAddr+"="+addr, helperN+"="+strconv.Itoa(n))
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	c := &clients{cmd: cmd, in: in, out: bufio.NewScanner(r)}
	t.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("clients helper: %v", err)
		}
		r.Close()
	})
	return c
}

// ask sends a request and waits for its answer.
func (c *clients) ask(t *testing.T, req string) {
	t.Helper()
	if _, err := fmt.Fprintln(c.in, req); err != nil {
		t.Fatalf("clients helper: %v", err)
	}
	if !c.out.Scan() {
		t.Fatalf("clients helper ended: %v", c.out.Err())
	}
	if got := c.out.Text(); got != "ok" {
		t.Fatalf("clients helper, %s: %s", req, got)
	}
}

// TestClientsHelper is the helper process of the connection tests; it
// does nothing in a normal run. Requests:
//
//	dial       open the connections, each until the server's first
//	           greeting octet arrives (so the server has accepted it)
//	hello A B  send a DEALER's greeting and READY on connections A to B-1
//	close      reset every connection
func TestClientsHelper(t *testing.T) {
	addr := os.Getenv(helperAddr)
	if addr == "" {
		return // not run as the helper process: nothing to do
	}
	n, err := strconv.Atoi(os.Getenv(helperN))
	if err != nil {
		t.Fatal(err)
	}
	out := os.NewFile(3, "answers")
	conns := make([]*net.TCPConn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	answer := func(err error) {
		if err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
			return
		}
		fmt.Fprintln(out, "ok")
	}
	greeting := hello("DEALER")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "dial":
			answer(dialAll(addr, conns))
		case len(f) == 3 && f[0] == "hello":
			a, err1 := strconv.Atoi(f[1])
			b, err2 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil || a < 0 || b > n || a > b {
				answer(fmt.Errorf("bad request %q", sc.Text()))
				continue
			}
			var err error
			for _, c := range conns[a:b] {
				if _, err = c.Write(greeting); err != nil {
					break
				}
			}
			answer(err)
		case len(f) == 1 && f[0] == "close":
			for i, c := range conns {
				if c != nil {
					c.Close() // with SO_LINGER 0: a reset, no TIME_WAIT
					conns[i] = nil
				}
			}
			answer(nil)
		default:
			answer(fmt.Errorf("unknown request %q", sc.Text()))
		}
	}
}

// dialAll opens len(conns) connections to addr, 16 at a time, and reads
// the first octet of the server's greeting on each.
func dialAll(addr string, conns []*net.TCPConn) error {
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i, stop := next, first != nil
				next++
				mu.Unlock()
				if i >= len(conns) || stop {
					return
				}
				err := dialOne(addr, &conns[i])
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func dialOne(addr string, slot **net.TCPConn) error {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return err
	}
	tc := c.(*net.TCPConn)
	*slot = tc
	if err := tc.SetLinger(0); err != nil {
		return err
	}
	tc.SetReadDeadline(time.Now().Add(wait))
	var one [1]byte
	if _, err := io.ReadFull(tc, one[:]); err != nil {
		return fmt.Errorf("no greeting from the server: %w", err)
	}
	return tc.SetReadDeadline(time.Time{})
}
