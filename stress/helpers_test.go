//go:build stress

package stress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
)

// wait bounds every wait of these tests: generous, since they run on
// loaded machines; none of them is a synchronisation by itself.
const wait = 2 * time.Minute

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// newSocket returns a socket closed at the end of the test; unless opts
// sets a Linger, Close discards what is left.
func newSocket(t *testing.T, typ zmtp.SocketType, opts zmtp.Options) *zmtp.Socket {
	t.Helper()
	if opts.Linger == (zmtp.Duration{}) {
		opts.Linger = zmtp.NoLinger
	}
	s, err := zmtp.NewSocket(typ, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// bind binds s to an ephemeral port of 127.0.0.1 and returns the endpoint.
func bind(t *testing.T, s *zmtp.Socket) string {
	t.Helper()
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	return s.LastEndpoint()
}

func hostPort(ep string) string { return strings.TrimPrefix(ep, "tcp://") }

func sizeName(n int) string {
	switch {
	case n >= MiB && n%MiB == 0:
		return fmt.Sprintf("%dMiB", n/MiB)
	case n >= KiB && n%KiB == 0:
		return fmt.Sprintf("%dKiB", n/KiB)
	}
	return fmt.Sprintf("%dB", n)
}

// events counts a socket's monitor events by type. A monitor drops events
// when its channel is full, so the tests wait for events in batches
// smaller than the channel holds.
type events struct {
	mu      sync.Mutex
	n       map[zmtp.EventType]int
	last    map[zmtp.EventType]zmtp.Event
	changed chan struct{}
}

func monitor(s *zmtp.Socket, mask zmtp.EventType) *events {
	e := &events{n: map[zmtp.EventType]int{}, last: map[zmtp.EventType]zmtp.Event{}, changed: make(chan struct{})}
	ch := s.Monitor(mask)
	go func() {
		for ev := range ch {
			e.mu.Lock()
			e.n[ev.Type]++
			e.last[ev.Type] = ev
			close(e.changed)
			e.changed = make(chan struct{})
			e.mu.Unlock()
		}
	}()
	return e
}

func (e *events) count(typ zmtp.EventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[typ]
}

// waitFor waits until n events of type typ have come and returns the last.
func (e *events) waitFor(t *testing.T, typ zmtp.EventType, n int) zmtp.Event {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		e.mu.Lock()
		got, last, ch := e.n[typ], e.last[typ], e.changed
		e.mu.Unlock()
		if got >= n {
			return last
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("%d %v events after %v, want %d", got, typ, wait, n)
		}
	}
}

// Memory.

// mem is the process's memory after garbage collection.
type mem struct {
	heap, stack uint64 // runtime.MemStats HeapInuse and StackInuse
	objects     uint64 // HeapAlloc: live objects
	goroutines  int
	rss         int64 // VmRSS
}

func (m mem) goBytes() int64 { return int64(m.heap + m.stack) }

func memNow(t *testing.T) mem {
	t.Helper()
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := procStatus("VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	return mem{heap: ms.HeapInuse, stack: ms.StackInuse, objects: ms.HeapAlloc, goroutines: runtime.NumGoroutine(), rss: rss}
}

// procStatus returns a size field of /proc/self/status, in octets.
func procStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected %q", field, v)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		return n * KiB, err
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// heapPeak samples the heap's objects (live ones and dead ones not yet
// swept, runtime/metrics /memory/classes/heap/objects:bytes) every
// millisecond and keeps the largest value: the memory the heap needed at
// its peak.
type heapPeak struct {
	base uint64
	peak uint64
	stop chan struct{}
	done chan struct{}
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func readHeapObjects() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap collects garbage and starts sampling.
func sampleHeap() *heapPeak {
	runtime.GC()
	runtime.GC()
	p := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	p.base = readHeapObjects()
	p.peak = p.base
	go func() {
		defer close(p.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			p.peak = max(p.peak, readHeapObjects())
			select {
			case <-tick.C:
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// growth stops sampling and returns the peak less the value at the start.
func (p *heapPeak) growth() int64 {
	close(p.stop)
	<-p.done
	p.peak = max(p.peak, readHeapObjects())
	return int64(p.peak) - int64(p.base)
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mib(n int64) float64 { return float64(n) / MiB }

// Raw ZMTP peers.

// hello is what a NULL peer of the given socket type sends to open a
// connection: a ZMTP 3.1 greeting and a READY command.
func hello(socketType string) []byte {
	b := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: frame.MechanismNull})
	return frame.AppendReady(b, frame.Metadata{{Name: frame.PropSocketType, Value: []byte(socketType)}})
}

// rawPeer is a TCP connection on which a raw peer has run the handshake.
type rawPeer struct {
	nc *net.TCPConn
	rd *frame.Reader
}

// rawHandshake connects to ep as a NULL peer of type socketType and
// returns once the server's greeting and READY have arrived. The
// connection is reset rather than closed cleanly at the end of the test.
func rawHandshake(t *testing.T, ep, socketType string) *rawPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", hostPort(ep), wait)
	if err != nil {
		t.Fatal(err)
	}
	nc := c.(*net.TCPConn)
	nc.SetLinger(0)
	t.Cleanup(func() { nc.Close() })
	p := &rawPeer{nc: nc, rd: frame.NewReader(nc, 0)}
	nc.SetDeadline(time.Now().Add(wait))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(hello(socketType)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.rd.Next(frame.GreetingSize); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	f, err := p.rd.ReadFrame()
	if err != nil {
		t.Fatalf("READY: %v", err)
	}
	if cmd, err := frame.ParseCommand(f.Body); err != nil || !f.IsCommand() || cmd.Name != frame.CmdReady {
		t.Fatal("the server's first frame is not READY")
	}
	return p
}

// readMessage returns the size of the first frame of the next message,
// skipping commands.
func (p *rawPeer) readMessage() (int, error) {
	size, inMessage := 0, false
	for {
		f, err := p.rd.ReadFrame()
		if err != nil {
			return 0, err
		}
		if f.IsCommand() {
			continue
		}
		if !inMessage {
			size, inMessage = len(f.Body), true
		}
		if !f.More() {
			return size, nil
		}
	}
}

// largeTopic returns a topic of n octets.
func largeTopic(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// Streams and gaps.

const (
	streamSize   = 64
	streamPeriod = time.Millisecond
)

// stream sends a streamSize-octet message every streamPeriod on pub until
// the returned function is called.
func stream(t *testing.T, pub *zmtp.Socket) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		msg := make([]byte, streamSize)
		msg[0] = 'S'
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := pub.Send(context.Background(), [][]byte{msg}); err != nil {
				t.Errorf("stream: %v", err)
				return
			}
			time.Sleep(streamPeriod) // the pace of the stream
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// gaps receives on a SUB and keeps the largest interval between two
// messages.
type gaps struct {
	mu      sync.Mutex
	last    time.Time
	maxGap  time.Duration
	count   int
	changed chan struct{}
	err     error
}

func watchGaps(t *testing.T, s *zmtp.Socket) *gaps {
	g := &gaps{changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			_, err := s.Recv(ctx)
			now := time.Now()
			g.mu.Lock()
			if err != nil {
				g.err = err
				close(g.changed)
				g.mu.Unlock()
				return
			}
			if !g.last.IsZero() {
				g.maxGap = max(g.maxGap, now.Sub(g.last))
			}
			g.last, g.count = now, g.count+1
			close(g.changed)
			g.changed = make(chan struct{})
			g.mu.Unlock()
		}
	}()
	return g
}

func (g *gaps) reset() {
	g.mu.Lock()
	g.maxGap = 0
	g.mu.Unlock()
}

// next waits for one more message than have arrived so far (so that a
// gap under way is over) and returns the largest gap since reset.
func (g *gaps) next() (time.Duration, error) {
	g.mu.Lock()
	n := g.count
	g.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		g.mu.Lock()
		count, gap, err, ch := g.count, g.maxGap, g.err, g.changed
		g.mu.Unlock()
		if count > n {
			return gap, nil
		}
		if err != nil {
			return 0, err
		}
		select {
		case <-ch:
		case <-timer.C:
			return 0, errors.New("no message from the stream")
		}
	}
}

// largestGap ends a gap measurement at every watcher.
func largestGap(t *testing.T, ws []*gaps) time.Duration {
	t.Helper()
	var gap time.Duration
	for _, g := range ws {
		d, err := g.next()
		if err != nil {
			t.Fatal(err)
		}
		gap = max(gap, d)
	}
	return gap
}
