package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gzmq "github.com/go-zeromq/zmq4"
	"github.com/zmtp-go/zmtp/zmtp"
)

// The server side of the resource workloads. The server runs alone in a
// child process, so that the process's memory and CPU time are its own;
// the parent is the client, with raw ZMTP peers that cost every
// implementation the same. The parent drives the child with one request a
// line on the child's standard input, and the child answers each with one
// JSON line on its standard output (its first line, unasked, gives the
// endpoint it listens on):
//
//	stats      collect garbage (runtime.GC, debug.FreeOSMemory), then report
//	           memory: VmRSS, and the Go heap and stacks in use
//	wait N     wait until N handshakes have succeeded (monitor events)
//	resetpeak  reset the process's peak RSS (VmHWM) and report VmRSS
//	usage      report CPU time used so far (getrusage), VmRSS and the peak
//	           RSS since resetpeak
//
// End of input closes the server and ends the child.

// serverHandshakeTimeout is the handshake timeout of the servers of the
// connection workload, for ours and libzmq alike: long enough that pending
// connections stay while they are counted and measured.
const serverHandshakeTimeout = 5 * time.Minute

// waitTimeout bounds a wait request.
const waitTimeout = 2 * time.Minute

// Stream of the subscription workload: a message of streamSize octets
// every streamPeriod, each starting with streamByte.
const (
	streamSize   = 64
	streamPeriod = time.Millisecond
	streamByte   = 'S'
)

// serverReply is one answer of a server child.
type serverReply struct {
	Endpoint   string  `json:"endpoint,omitempty"`
	Error      string  `json:"error,omitempty"`
	RSS        int64   `json:"rss"`      // octets, VmRSS
	PeakRSS    int64   `json:"peak_rss"` // octets, VmHWM since resetpeak
	GoHeap     int64   `json:"go_heap"`  // octets, runtime.MemStats.HeapInuse
	GoStack    int64   `json:"go_stack"` // octets, runtime.MemStats.StackInuse
	Goroutines int     `json:"goroutines"`
	CPU        float64 `json:"cpu"` // seconds of user and system time since the start
	Handshakes int64   `json:"handshakes"`
	Failures   int64   `json:"failures"` // handshakes failed and connections lost
}

// server is one implementation's server of a resource workload.
type server interface {
	endpoint() string
	// events counts handshakes; nil for a publisher.
	events() *eventCounts
	close() error
}

// watched is state guarded by mu whose every change is announced by
// closing changed, so that a waiter sleeps until the next change.
type watched struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change
}

func newWatched() watched { return watched{changed: make(chan struct{})} }

// changedLocked announces a change; the caller holds mu.
func (w *watched) changedLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// waitUntil calls check with mu held, now and after every change, until
// it reports done or an error, which waitUntil returns; after timeout it
// returns late's error, also called with mu held.
func (w *watched) waitUntil(timeout time.Duration, check func() (done bool, err error), late func() error) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		w.mu.Lock()
		done, err := check()
		ch := w.changed
		w.mu.Unlock()
		if done || err != nil {
			return err
		}
		select {
		case <-ch:
		case <-t.C:
			w.mu.Lock()
			defer w.mu.Unlock()
			return late()
		}
	}
}

// eventCounts counts monitor events and lets a request wait for them.
type eventCounts struct {
	watched
	handshakes int64
	failures   int64
}

func newEventCounts() *eventCounts { return &eventCounts{watched: newWatched()} }

func (e *eventCounts) add(handshake bool) {
	e.mu.Lock()
	if handshake {
		e.handshakes++
	} else {
		e.failures++
	}
	e.changedLocked()
	e.mu.Unlock()
}

func (e *eventCounts) get() (handshakes, failures int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.handshakes, e.failures
}

// wait returns once n handshakes have succeeded, or an error when a
// handshake fails or a connection is lost first, or after timeout.
func (e *eventCounts) wait(n int64, timeout time.Duration) error {
	return e.waitUntil(timeout, func() (bool, error) {
		if e.failures > 0 {
			return false, fmt.Errorf("%d handshakes failed or connections ended (%d succeeded)", e.failures, e.handshakes)
		}
		return e.handshakes >= n, nil
	}, func() error {
		return fmt.Errorf("%d of %d handshakes after %v", e.handshakes, n, timeout)
	})
}

func newServer(impl, work string) (server, error) {
	switch {
	case work == wConnsIdle && impl == implOurs:
		return newOursRouter()
	case work == wConnsIdle && impl == implLibzmqC:
		return newCRouter()
	case work == wSubscribe && impl == implOurs:
		return newOursPub()
	case work == wSubscribe && impl == implLibzmqC:
		return newCPub()
	case work == wSubscribe && impl == implGoZeromq:
		return newGzPub()
	}
	return nil, fmt.Errorf("no server for %s on %s", work, impl)
}

func runServerChild(c childSpec) int {
	fail := func(err error) int {
		json.NewEncoder(os.Stdout).Encode(serverReply{Error: err.Error()})
		fmt.Fprintf(os.Stderr, "bench: %s %s server: %v\n", c.Impl, c.Work, err)
		return 1
	}
	srv, err := newServer(c.Impl, c.Work)
	if err != nil {
		return fail(err)
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(serverReply{Endpoint: srv.endpoint()}); err != nil {
		srv.close()
		return fail(err)
	}
	var peak peakRSS
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var r serverReply
		var err error
		switch f[0] {
		case "stats":
			r, err = memoryNow(true)
		case "wait":
			var n int64
			if len(f) != 2 {
				err = errors.New("wait: want a count")
			} else if n, err = strconv.ParseInt(f[1], 10, 64); err == nil {
				if ev := srv.events(); ev == nil {
					err = errors.New("wait: this server counts no handshakes")
				} else {
					err = ev.wait(n, waitTimeout)
				}
			}
		case "resetpeak":
			peak.reset()
			r, err = memoryNow(false)
		case "usage":
			if r, err = memoryNow(false); err == nil {
				r.PeakRSS, err = peak.get()
			}
			if err == nil {
				r.CPU, err = cpuTime()
			}
		default:
			err = fmt.Errorf("unknown request %q", f[0])
		}
		if ev := srv.events(); ev != nil {
			r.Handshakes, r.Failures = ev.get()
		}
		if err != nil {
			r.Error = err.Error()
		}
		if err := out.Encode(r); err != nil {
			break
		}
	}
	if err := srv.close(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s %s server: close: %v\n", c.Impl, c.Work, err)
		return 1
	}
	return 0
}

// memoryNow reports the process's memory, after collecting garbage and
// returning free memory to the system when collect is set.
func memoryNow(collect bool) (serverReply, error) {
	if collect {
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := procStatus("VmRSS")
	return serverReply{
		RSS:        rss,
		GoHeap:     int64(ms.HeapInuse),
		GoStack:    int64(ms.StackInuse),
		Goroutines: runtime.NumGoroutine(),
	}, err
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
		return n << 10, err
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), nil
}

// peakRSS is the process's peak RSS since reset: the kernel's VmHWM,
// which writing 5 to /proc/self/clear_refs resets; where that is refused,
// VmRSS sampled every millisecond.
type peakRSS struct {
	sampling bool
	stop     chan struct{}
	done     chan struct{}
	max      atomic.Int64
}

func (p *peakRSS) reset() {
	p.end()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err == nil {
		return
	}
	p.sampling = true
	p.max.Store(0)
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v, err := procStatus("VmRSS"); err == nil && v > p.max.Load() {
				p.max.Store(v)
			}
			select {
			case <-t.C:
			case <-p.stop:
				return
			}
		}
	}()
}

func (p *peakRSS) end() {
	if p.sampling {
		close(p.stop)
		<-p.done
		p.sampling = false
	}
}

func (p *peakRSS) get() (int64, error) {
	if p.sampling {
		return p.max.Load(), nil
	}
	return procStatus("VmHWM")
}

// oursRouter is our ROUTER with a monitor counting handshakes.
type oursRouter struct {
	s   *zmtp.Socket
	ev  *eventCounts
	mon chan struct{} // closed when the monitor channel is drained
}

func newOursRouter() (*oursRouter, error) {
	s, err := zmtp.NewSocket(zmtp.Router, zmtp.Options{
		Linger:           zmtp.NoLinger,
		HandshakeTimeout: zmtp.DurationOf(serverHandshakeTimeout),
	})
	if err != nil {
		return nil, err
	}
	r := &oursRouter{s: s, ev: newEventCounts(), mon: make(chan struct{})}
	events := s.Monitor(zmtp.EventHandshakeSucceeded | zmtp.EventDisconnected | zmtp.EventHandshakeFailedNoDetail |
		zmtp.EventHandshakeFailedProtocol | zmtp.EventHandshakeFailedAuth)
	go func() {
		defer close(r.mon)
		for ev := range events {
			if ev.Type != zmtp.EventMonitorStopped {
				r.ev.add(ev.Type == zmtp.EventHandshakeSucceeded)
			}
		}
	}()
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		s.Close()
		return nil, err
	}
	return r, nil
}

func (r *oursRouter) endpoint() string     { return r.s.LastEndpoint() }
func (r *oursRouter) events() *eventCounts { return r.ev }
func (r *oursRouter) close() error {
	err := r.s.Close()
	<-r.mon
	return err
}

// streamer sends the stream of the subscription workload from a
// goroutine until stopped.
type streamer struct {
	stop chan struct{}
	done chan error
}

func startStream(send func(msg []byte) error) *streamer {
	st := &streamer{stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		msg := make([]byte, streamSize)
		msg[0] = streamByte
		for {
			select {
			case <-st.stop:
				st.done <- nil
				return
			default:
			}
			if err := send(msg); err != nil {
				st.done <- err
				return
			}
			// The pace of the stream, as the C publisher's nanosleep.
			time.Sleep(streamPeriod)
		}
	}()
	return st
}

func (st *streamer) end() error {
	close(st.stop)
	return <-st.done
}

// oursPub is our PUB sending the stream.
type oursPub struct {
	s  *zmtp.Socket
	st *streamer
}

func newOursPub() (*oursPub, error) {
	s, err := zmtp.NewSocket(zmtp.Pub, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		return nil, err
	}
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		s.Close()
		return nil, err
	}
	ctx := context.Background()
	p := &oursPub{s: s}
	p.st = startStream(func(msg []byte) error { return s.Send(ctx, [][]byte{msg}) })
	return p, nil
}

func (p *oursPub) endpoint() string     { return p.s.LastEndpoint() }
func (p *oursPub) events() *eventCounts { return nil }
func (p *oursPub) close() error {
	return errors.Join(p.st.end(), p.s.Close())
}

// gzPub is go-zeromq's PUB sending the stream.
type gzPub struct {
	s      gzmq.Socket
	ep     string
	st     *streamer
	cancel context.CancelFunc
}

func newGzPub() (*gzPub, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := gzmq.NewPub(ctx, gzOpts()...)
	if err := s.Listen("tcp://127.0.0.1:0"); err != nil {
		cancel()
		return nil, err
	}
	ep, err := gzEndpoint(s)
	if err != nil {
		s.Close()
		cancel()
		return nil, err
	}
	p := &gzPub{s: s, ep: ep, cancel: cancel}
	p.st = startStream(func(msg []byte) error { return s.Send(gzmq.NewMsg(msg)) })
	return p, nil
}

func (p *gzPub) endpoint() string     { return p.ep }
func (p *gzPub) events() *eventCounts { return nil }
func (p *gzPub) close() error {
	err := p.st.end()
	p.s.Close() // see goZeromq: its Close reports errors after clean runs
	p.cancel()
	return err
}
