package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// The resource workloads: what a server costs rather than how fast it
// goes. Each measurement runs the server alone in a child process (see
// server.go) and the client here, in the parent, with raw ZMTP peers.
const (
	wConnsIdle = "conns/idle"
	wSubscribe = "subscribe/large"
)

// resourceImpls are the columns of the resource tables: libzmq is measured
// once, driven from C (libzmq-c), since through cgo it is the same library
// with the same memory.
var resourceImpls = []string{implOurs, implLibzmqC, implGoZeromq}

// A resource workload's rows, each a value per implementation.
type resourceRow struct {
	label string
	unit  string // "KiB", "s", "ms", "MiB", ""
	cells map[string]*cell
}

type resourceWork struct {
	name  string
	title func(o *options) string
	note  string
	has   func(impl string) bool
	// run measures once and returns a value per row label.
	run func(o *options, impl string) (map[string]float64, error)
	// rows are the labels and units of the rows, in order.
	rows [][2]string
}

func notGoZeromqRes(impl string) bool { return impl != implGoZeromq }

var resourceWorks = []resourceWork{
	{
		name: wConnsIdle,
		title: func(o *options) string {
			return fmt.Sprintf("Memory per connection: a ROUTER with %d peers, tcp 127.0.0.1 (lower is better)", o.conns)
		},
		has: notGoZeromqRes,
		run: runConnsIdle,
		rows: [][2]string{
			{"pending (connected, no greeting): RSS per connection", "KiB"},
			{"pending: Go heap + stacks per connection", "KiB"},
			{"pending: goroutines per connection", ""},
			{"idle (handshake done): RSS per connection", "KiB"},
			{"idle: Go heap + stacks per connection", "KiB"},
			{"idle: goroutines per connection", ""},
		},
		note: "The server runs alone in a child process; the client (this process) opens the connections as raw TCP peers: first all of them without sending anything (the server has sent its greeting, which the client reads one octet of, so every connection has been accepted and is in its handshake), then each sends a ZMTP 3.1 greeting and a NULL READY as a DEALER and stays idle, in batches of 200 whose handshakes the server's monitor counts (HANDSHAKE_SUCCEEDED) before the next batch. Before each reading the server collects garbage (runtime.GC, debug.FreeOSMemory); RSS is VmRSS from /proc/self/status, the growth over the server before any connection divided by the count. The Go heap and stacks (HeapInuse + StackInuse) and goroutines are ours only: libzmq allocates with malloc, and its libzmq-c server is a Go program whose runtime costs nothing per connection. Both servers have a handshake timeout of 5 minutes (so that pending connections stay while they are measured) and a listen backlog of 4096. go-zeromq is not measured: it has no monitor to tell when its handshakes are done.",
	},
	{
		name: wSubscribe,
		title: func(o *options) string {
			return fmt.Sprintf("A topic of %s subscribed and cancelled at a PUB streaming to %d other SUBs, tcp 127.0.0.1 (lower is better)", sizeName(o.topicSize), subscribers)
		},
		has: all,
		run: runSubscribe,
		rows: [][2]string{
			{"publisher CPU time for the subscription and its cancellation", "s"},
			{"publisher peak RSS growth", "MiB"},
			{"largest gap between messages at the other SUBs", "ms"},
			{"largest gap, stream alone (for comparison)", "ms"},
			{"subscribe to first message after the cancellation (wall time)", "s"},
		},
		note: fmt.Sprintf("The publisher runs alone in a child process and sends a %d-octet message every %v to %d raw ZMTP SUB peers in this process that subscribe to everything. Another raw SUB peer then sends the subscription to the large topic, its cancellation and a subscription to everything, as ZMTP 3.0 subscription messages (one frame: 0x01 or 0x00 and the topic; libzmq 4.3's SUB sends them so, and every implementation here takes them), and waits for its first message, which shows that the publisher has processed all three. CPU time is the publisher process's user and system time over that interval (getrusage, asked of the child just before the subscription is sent and just after the message arrives) less the stream's own CPU time over as long, measured just before over a window of its own without the large topic. Peak RSS growth is the child's VmHWM (reset through /proc/self/clear_refs just before) less its VmRSS at the reset. The gaps are the largest intervals between two messages at any of the %d other subscribers during the measurement, and during that window of the stream alone.", streamSize, streamPeriod, subscribers, subscribers),
	},
}

// resourceRepeats is the number of repeats of a resource measurement.
func (o *options) resourceRepeats() int {
	if o.quick {
		return 1
	}
	return min(o.repeats, 3)
}

func (o *options) runResource(w resourceWork) []*resourceRow {
	rows := make([]*resourceRow, len(w.rows))
	for i, r := range w.rows {
		rows[i] = &resourceRow{label: r[0], unit: r[1], cells: map[string]*cell{}}
	}
	var impls []string
	for _, im := range resourceImpls {
		if !slices.Contains(o.implList, im) {
			continue
		}
		for _, r := range rows {
			r.cells[im] = &cell{na: !w.has(im)}
		}
		if w.has(im) {
			impls = append(impls, im)
		}
	}
	for rep := range o.resourceRepeats() {
		for _, im := range impls {
			vals, err := w.run(o, im)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s %s repeat %d: %v\n", im, w.name, rep+1, err)
				for _, r := range rows {
					r.cells[im].failed++
				}
				continue
			}
			var parts []string
			for _, r := range rows {
				v, ok := vals[r.label]
				if !ok {
					r.cells[im].na = true
					continue
				}
				r.cells[im].values = append(r.cells[im].values, v)
				parts = append(parts, fmt.Sprintf("%s %s", fmtResource(v, r.unit), r.label))
			}
			o.logf("%-10s %-15s repeat %d: %s", im, w.name, rep+1, strings.Join(parts, "; "))
		}
	}
	return rows
}

func printResourceTable(out io.Writer, o *options, w resourceWork, rows []*resourceRow) {
	fmt.Fprintf(out, "### %s\n\n", w.title(o))
	fmt.Fprintln(out, "| measure | ours | libzmq | go-zeromq | ours/libzmq |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", r.label,
			r.value(implOurs), r.value(implLibzmqC), r.value(implGoZeromq), r.ratio())
	}
	fmt.Fprintln(out)
	reps := o.resourceRepeats()
	if reps == 1 {
		fmt.Fprintln(out, "One run of each; libzmq is libzmq-c's build, driven from C.")
	} else {
		fmt.Fprintf(out, "Median of %d runs; libzmq is libzmq-c's build, driven from C.\n", reps)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, w.note)
	fmt.Fprintln(out)
}

func (r *resourceRow) value(im string) string {
	c := r.cells[im]
	if gap := cellGap(c, false); gap != "" {
		return gap
	}
	v := fmtResource(c.median(), r.unit)
	if c.failed > 0 {
		v += fmt.Sprintf(" (%d failed)", c.failed)
	}
	return v
}

func (r *resourceRow) ratio() string {
	return cellRatio(r.cells[implOurs], r.cells[implLibzmqC], (*cell).median)
}

func fmtResource(v float64, unit string) string {
	switch unit {
	case "":
		return sig3plain(v)
	case "s":
		if v < 1 {
			return sig3plain(v*1e3) + " ms"
		}
		return sig3plain(v) + " s"
	}
	return sig3plain(v) + " " + unit
}

// sizeName names a size in octets as KiB or MiB.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d octets", n)
}

// serverChild is a running server child.
type serverChild struct {
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      *bufio.Scanner
	stderr   bytes.Buffer
	cancel   context.CancelFunc
	endpoint string
	waited   bool
	waitErr  error
}

func (o *options) startServer(im, work string) (*serverChild, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	cmd := exec.CommandContext(ctx, o.exe, "-child", "-impl", im, "-work", work)
	c := &serverChild{cmd: cmd, cancel: cancel}
	cmd.Stderr = &c.stderr
	cmd.WaitDelay = 5 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	c.in, c.out = in, bufio.NewScanner(out)
	r, err := c.reply()
	if err != nil {
		c.stop()
		return nil, err
	}
	c.endpoint = r.Endpoint
	return c, nil
}

func (c *serverChild) reply() (serverReply, error) {
	var r serverReply
	if !c.out.Scan() {
		err := c.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		c.wait()
		return r, fmt.Errorf("server ended (%v): %s", err, strings.TrimSpace(c.stderr.String()))
	}
	if err := json.Unmarshal(c.out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("bad reply %q: %w", c.out.Text(), err)
	}
	if r.Error != "" {
		return r, errors.New(r.Error)
	}
	return r, nil
}

// ask sends a request to the server and returns its answer.
func (c *serverChild) ask(format string, args ...any) (serverReply, error) {
	if _, err := fmt.Fprintf(c.in, format+"\n", args...); err != nil {
		return serverReply{}, fmt.Errorf("server: %w: %s", err, strings.TrimSpace(c.stderr.String()))
	}
	return c.reply()
}

// wait closes the server's input, which ends it, and waits for it.
func (c *serverChild) wait() error {
	if !c.waited {
		c.waited = true
		c.in.Close()
		c.waitErr = c.cmd.Wait()
		c.cancel()
	}
	return c.waitErr
}

// stop ends the server and waits for it.
func (c *serverChild) stop() error {
	if err := c.wait(); err != nil {
		return fmt.Errorf("server: %w: %s", err, strings.TrimSpace(c.stderr.String()))
	}
	return nil
}

// parallel runs fn(0) to fn(n-1) on workers goroutines and returns the
// first error.
func parallel(n, workers int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// handshakeBatch is how many handshakes the client starts before waiting
// for the server to count them: fewer than a monitor channel holds, so
// that no event is dropped however slowly the monitor is read.
const handshakeBatch = 200

func runConnsIdle(o *options, im string) (res map[string]float64, err error) {
	srv, err := o.startServer(im, wConnsIdle)
	if err != nil {
		return nil, err
	}
	conns := make([]*net.TCPConn, o.conns)
	defer func() {
		// Reset the connections first, so that the server sees them go
		// while it closes and neither side keeps TIME_WAIT entries.
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		if e := srv.stop(); err == nil && e != nil {
			err = e
		}
	}()
	addr := strings.TrimPrefix(srv.endpoint, "tcp://")
	base, err := srv.ask("stats")
	if err != nil {
		return nil, err
	}
	err = parallel(len(conns), 16, func(i int) error {
		c, err := rawDial(addr)
		if err != nil {
			return err
		}
		conns[i] = c
		var one [1]byte
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := io.ReadFull(c, one[:]); err != nil {
			return fmt.Errorf("connection %d: no greeting from the server: %w", i, err)
		}
		return c.SetReadDeadline(time.Time{})
	})
	if err != nil {
		return nil, err
	}
	pending, err := srv.ask("stats")
	if err != nil {
		return nil, err
	}
	hello := rawHello("DEALER")
	for start := 0; start < len(conns); start += handshakeBatch {
		end := min(start+handshakeBatch, len(conns))
		for _, c := range conns[start:end] {
			if _, err := c.Write(hello); err != nil {
				return nil, err
			}
		}
		if _, err := srv.ask("wait %d", end); err != nil {
			return nil, err
		}
	}
	idle, err := srv.ask("stats")
	if err != nil {
		return nil, err
	}
	n := float64(len(conns))
	perConn := func(a, b int64) float64 { return float64(b-a) / n / 1024 }
	res = map[string]float64{
		"pending (connected, no greeting): RSS per connection": perConn(base.RSS, pending.RSS),
		"idle (handshake done): RSS per connection":            perConn(base.RSS, idle.RSS),
	}
	if im == implOurs {
		res["pending: Go heap + stacks per connection"] = perConn(base.GoHeap+base.GoStack, pending.GoHeap+pending.GoStack)
		res["idle: Go heap + stacks per connection"] = perConn(base.GoHeap+base.GoStack, idle.GoHeap+idle.GoStack)
		res["pending: goroutines per connection"] = float64(pending.Goroutines-base.Goroutines) / n
		res["idle: goroutines per connection"] = float64(idle.Goroutines-base.Goroutines) / n
	}
	return res, nil
}

// gapWatcher reads one subscriber's messages and keeps the largest
// interval between two of them.
type gapWatcher struct {
	watched // a change at every message
	last    time.Time
	maxGap  time.Duration
	count   int64
	err     error
}

func watchGaps(p *rawPeer) *gapWatcher {
	g := &gapWatcher{watched: newWatched()}
	go func() {
		for {
			_, err := p.readMessage()
			now := time.Now()
			g.mu.Lock()
			if err != nil {
				g.err = err
				g.changedLocked()
				g.mu.Unlock()
				return
			}
			if !g.last.IsZero() {
				g.maxGap = max(g.maxGap, now.Sub(g.last))
			}
			g.last = now
			g.count++
			g.changedLocked()
			g.mu.Unlock()
		}
	}()
	return g
}

// resetGap starts a new measurement of the largest gap and returns the
// count of messages so far.
func (g *gapWatcher) resetGap() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.maxGap = 0
	return g.count
}

func (g *gapWatcher) gap() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxGap
}

// waitPast waits until the subscriber has received more than n messages.
func (g *gapWatcher) waitPast(n int64, timeout time.Duration) error {
	return g.waitUntil(timeout, func() (bool, error) {
		if g.count > n {
			return true, nil
		}
		if g.err != nil {
			return false, fmt.Errorf("subscriber: %w", g.err)
		}
		return false, nil
	}, func() error {
		return fmt.Errorf("subscriber: %d messages after %v, want more than %d", g.count, timeout, n)
	})
}

// largeTopic returns a topic of n octets.
func largeTopic(n int) []byte {
	t := make([]byte, n)
	for i := range t {
		t[i] = 'a' + byte(i%26)
	}
	return t
}

func runSubscribe(o *options, im string) (res map[string]float64, err error) {
	srv, err := o.startServer(im, wSubscribe)
	if err != nil {
		return nil, err
	}
	var peers []*rawPeer
	defer func() {
		for _, p := range peers {
			p.nc.Close()
		}
		if e := srv.stop(); err == nil && e != nil {
			err = e
		}
	}()
	addr := strings.TrimPrefix(srv.endpoint, "tcp://")
	everything := subscription(nil, true)
	watchers := make([]*gapWatcher, subscribers)
	for i := range watchers {
		p, err := rawHandshake(addr, "SUB")
		if err != nil {
			return nil, err
		}
		peers = append(peers, p)
		if _, err := p.nc.Write(everything); err != nil {
			return nil, err
		}
		watchers[i] = watchGaps(p)
	}
	for _, g := range watchers {
		if err := g.waitPast(0, readyWait); err != nil {
			return nil, err
		}
	}
	// The stream alone first, to subtract its CPU time.
	b0, err := srv.ask("usage")
	if err != nil {
		return nil, err
	}
	for _, g := range watchers {
		g.resetGap()
	}
	start := time.Now()
	time.Sleep(o.baseWindow) // the comparison window, not a synchronisation
	b1, err := srv.ask("usage")
	if err != nil {
		return nil, err
	}
	window := time.Since(start)
	baseGap, err := closeGaps(watchers)
	if err != nil {
		return nil, err
	}
	baseRate := (b1.CPU - b0.CPU) / window.Seconds()

	big, err := rawHandshake(addr, "SUB")
	if err != nil {
		return nil, err
	}
	peers = append(peers, big)
	topic := largeTopic(o.topicSize)
	sub, cancel := subscription(topic, true), subscription(topic, false)

	// The measurement: subscribe, cancel, subscribe to everything, and
	// wait for the first message.
	r0, err := srv.ask("resetpeak")
	if err != nil {
		return nil, err
	}
	u0, err := srv.ask("usage")
	if err != nil {
		return nil, err
	}
	for _, g := range watchers {
		g.resetGap()
	}
	t0 := time.Now()
	for _, b := range [][]byte{sub, cancel, everything} {
		if _, err := big.nc.Write(b); err != nil {
			return nil, fmt.Errorf("subscribing: %w", err)
		}
	}
	big.nc.SetReadDeadline(time.Now().Add(runTimeout))
	if _, err := big.readMessage(); err != nil {
		return nil, fmt.Errorf("waiting for a message after the cancellation: %w", err)
	}
	elapsed := time.Since(t0)
	u1, err := srv.ask("usage")
	if err != nil {
		return nil, err
	}
	// A gap that began during the measurement ends at the next message.
	gap, err := closeGaps(watchers)
	if err != nil {
		return nil, err
	}
	cpu := u1.CPU - u0.CPU - baseRate*elapsed.Seconds()
	return map[string]float64{
		"publisher CPU time for the subscription and its cancellation":  max(cpu, 0),
		"publisher peak RSS growth":                                     float64(u1.PeakRSS-r0.RSS) / (1 << 20),
		"largest gap between messages at the other SUBs":                float64(gap) / 1e6,
		"largest gap, stream alone (for comparison)":                    float64(baseGap) / 1e6,
		"subscribe to first message after the cancellation (wall time)": elapsed.Seconds(),
	}, nil
}

// closeGaps waits for one more message at every watcher and returns the
// largest gap seen since the last reset.
func closeGaps(watchers []*gapWatcher) (time.Duration, error) {
	var gap time.Duration
	for _, g := range watchers {
		g.mu.Lock()
		n := g.count
		g.mu.Unlock()
		if err := g.waitPast(n, readyWait); err != nil {
			return 0, err
		}
		gap = max(gap, g.gap())
	}
	return gap, nil
}
