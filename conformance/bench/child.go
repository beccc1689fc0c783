package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// childSpec is one measurement, run in a child process.
type childSpec struct {
	child   bool
	Impl    string
	Work    string
	Size    int
	Count   int
	Profile string
	// Into makes ours receive with RecvInto rather than Recv.
	Into bool
	// Role and Endpoint are those of one side of a two-process workload:
	// "rep" binds, prints its endpoint on a line and serves; "req"
	// connects to Endpoint and measures.
	Role     string
	Endpoint string
}

// childResult is what a child reports on its standard output, as JSON.
type childResult struct {
	// Rate is messages per second at the receiver(s); for pub/sub, the
	// deliveries per second summed over the subscribers.
	Rate float64 `json:"rate,omitempty"`
	// P50 and P99 are round-trip latencies in microseconds.
	P50 float64 `json:"p50,omitempty"`
	P99 float64 `json:"p99,omitempty"`
	// Seconds is the measured interval.
	Seconds float64 `json:"seconds"`
	// CPU is the process's user and system time (getrusage RUSAGE_SELF:
	// every thread, so both ends of the workload, libzmq's I/O threads and
	// Go's runtime) from before the sockets are opened to after they are
	// closed, and Messages what it is divided by: the messages received
	// (deliveries for pub/sub), or the round trips, warm-up ones included.
	CPU      float64 `json:"cpu,omitempty"`
	Messages int64   `json:"messages,omitempty"`
}

// runTimeout bounds every blocking call of a measurement, so that a stuck
// implementation fails instead of hanging (the parent also kills children
// that outlive -timeout).
const runTimeout = 90 * time.Second

// subscribers is the fan-out of the pub/sub workload, manySubscribers
// that of the large one; dealers is the number of DEALERs of the
// ROUTER workload.
const (
	subscribers     = 4
	manySubscribers = 100
	dealers         = 100
)

// transport of a PUSH/PULL workload.
type transport int

const (
	tcp transport = iota
	inproc
	curve
	ipc
)

// impl runs the workloads on one implementation. Each method sets up its
// sockets, measures, and closes everything before returning.
type impl interface {
	pushPull(tr transport, size, count int) (childResult, error)
	reqRep(size, count int) (childResult, error)
	pubSub(subs, size, count int) (childResult, error)
	// routerDealer measures a ROUTER receiving from peers DEALERs, each
	// sending count/peers messages (rounded up) from its own goroutine.
	routerDealer(peers, size, count int) (childResult, error)
	// repServe binds a REP, writes its endpoint and a newline to
	// announce, and echoes n requests; reqLatency connects a REQ to ep
	// and measures count round trips after warmups(count).
	repServe(announce func(ep string), n int) error
	reqLatency(ep string, size, count int) (childResult, error)
}

func newImpl(name string) impl {
	switch name {
	case implOurs:
		return ours{}
	case implOursInto:
		return ours{into: true}
	case implLibzmqC:
		return libzmqC{}
	case implLibzmqCgo:
		return libzmqImpl{}
	case implGoZeromq:
		return goZeromq{}
	}
	return nil
}

func runChild(c childSpec) int {
	if c.Work == wConnsIdle || c.Work == wSubscribe {
		return runServerChild(c)
	}
	if c.Profile != "" {
		f, err := os.Create(c.Profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if c.Into && c.Impl == implOurs {
		c.Impl = implOursInto
	}
	cpu0, err := cpuTime()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	r, err := measure(c)
	if err == nil {
		var cpu1 float64
		cpu1, err = cpuTime()
		r.CPU = cpu1 - cpu0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s %s size %d: %v\n", c.Impl, c.Work, c.Size, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func measure(c childSpec) (childResult, error) {
	im := newImpl(c.Impl)
	if im == nil {
		return childResult{}, fmt.Errorf("unknown implementation %q", c.Impl)
	}
	if c.Count < 2 {
		return childResult{}, fmt.Errorf("count %d: want at least 2", c.Count)
	}
	var r childResult
	var err error
	msgs := int64(c.Count)
	switch c.Work {
	case wPushPullTCP:
		r, err = im.pushPull(tcp, c.Size, c.Count)
	case wPushPullInproc:
		r, err = im.pushPull(inproc, c.Size, c.Count)
	case wPushPullCurve:
		r, err = im.pushPull(curve, c.Size, c.Count)
	case wPushPullIPC:
		r, err = im.pushPull(ipc, c.Size, c.Count)
		// Not every implementation removes the socket file.
		os.Remove(strings.TrimPrefix(ipcEndpoint(), "ipc://"))
	case wReqRep:
		r, err = im.reqRep(c.Size, c.Count)
		msgs = int64(warmups(c.Count) + c.Count)
	case wPubSub:
		r, err = im.pubSub(subscribers, c.Size, c.Count)
		msgs *= subscribers
	case wPubSubMany:
		r, err = im.pubSub(manySubscribers, c.Size, c.Count)
		msgs *= manySubscribers
	case wRouter:
		per := perDealer(c.Count)
		r, err = im.routerDealer(dealers, c.Size, per*dealers)
		msgs = int64(per * dealers)
	case wReqRep2:
		switch c.Role {
		case "rep":
			err = im.repServe(func(ep string) { fmt.Println(ep) }, warmups(c.Count)+c.Count)
			// Seconds is what the parent checks; the client's is used.
			r.Seconds = 1
		case "req":
			r, err = im.reqLatency(c.Endpoint, c.Size, c.Count)
		default:
			err = fmt.Errorf("unknown role %q", c.Role)
		}
		msgs = int64(warmups(c.Count) + c.Count)
	default:
		return childResult{}, fmt.Errorf("unknown workload %q", c.Work)
	}
	r.Messages = msgs
	return r, err
}

// perDealer is the number of messages each DEALER of the ROUTER workload
// sends for a run of about count messages.
func perDealer(count int) int { return max(2, (count+dealers-1)/dealers) }

// ipcEndpoint is the ipc endpoint of a PUSH/PULL run: a socket file in
// the temporary directory, named after the process.
func ipcEndpoint() string {
	return fmt.Sprintf("ipc://%s/zmtp-bench-%d.sock", os.TempDir(), os.Getpid())
}

// timeRecv receives count messages of size octets with recv, which
// returns the size of the message it received, and returns the time from
// the first message to the last, as libzmq's local_thr measures.
func timeRecv(count, size int, recv func() (int, error)) (time.Duration, error) {
	one := func() error {
		n, err := recv()
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("received a message of %d octets, want %d", n, size)
		}
		return nil
	}
	if err := one(); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 1; i < count; i++ {
		if err := one(); err != nil {
			return 0, fmt.Errorf("message %d of %d: %w", i+1, count, err)
		}
	}
	return time.Since(start), nil
}

func thrResult(count int, d time.Duration) childResult {
	s := d.Seconds()
	if s <= 0 {
		s = 1e-9
	}
	return childResult{Rate: float64(count-1) / s, Seconds: s}
}

// warmups is how many round trips a latency run makes before it starts
// measuring.
func warmups(count int) int { return max(100, count/20) }

func latResult(samples []time.Duration, total time.Duration) childResult {
	slices.Sort(samples)
	at := func(p int) float64 {
		i := min(len(samples)*p/100, len(samples)-1)
		return float64(samples[i].Nanoseconds()) / 1e3
	}
	return childResult{P50: at(50), P99: at(99), Seconds: total.Seconds()}
}

// fanIn collects the subscribers' first and last data message times and
// returns the deliveries per second over all subscribers.
type fanIn struct {
	first, last []time.Time
}

func (f *fanIn) result(subs, count int) childResult {
	start, end := f.first[0], f.last[0]
	for i := 1; i < subs; i++ {
		if f.first[i].Before(start) {
			start = f.first[i]
		}
		if f.last[i].After(end) {
			end = f.last[i]
		}
	}
	d := end.Sub(start).Seconds()
	if d <= 0 {
		d = 1e-9
	}
	return childResult{Rate: float64(subs*(count-1)) / d, Seconds: d}
}

// Pub/sub messages: before the measured messages, the publisher sends
// probes, one a millisecond, until every subscriber has received one (so
// that every subscription has reached the publisher); subscribers skip
// the probes. A probe is the single octet 'P'; data messages start with
// 'D'.
const (
	probeByte = 'P'
	dataByte  = 'D'
	// readyWait bounds the wait for the subscribers.
	readyWait = 10 * time.Second
)

func dataMessage(size int) []byte {
	b := make([]byte, size)
	if size > 0 {
		b[0] = dataByte
	}
	return b
}

// subscriberLoop runs one subscriber: recv returns the next message's
// first octet and size. It reports readiness on the first message of any
// kind and records the times of the first and last of count data
// messages.
func subscriberLoop(count, size int, recv func() (byte, int, error), ready func(), first, last *time.Time) error {
	readied := false
	n := 0
	for n < count {
		b, sz, err := recv()
		if err != nil {
			return fmt.Errorf("subscriber after %d messages: %w", n, err)
		}
		if !readied {
			ready()
			readied = true
		}
		if b == probeByte && sz == 1 {
			continue
		}
		if sz != size {
			return fmt.Errorf("subscriber received %d octets, want %d", sz, size)
		}
		n++
		if n == 1 {
			*first = time.Now()
		}
	}
	*last = time.Now()
	return nil
}

// publishWhenReady sends probes with sendProbe every millisecond until
// ready reports all subscribers, within readyWait.
func publishWhenReady(sendProbe func() error, ready func() bool) error {
	deadline := time.Now().Add(readyWait)
	for !ready() {
		if time.Now().After(deadline) {
			return fmt.Errorf("subscribers not ready after %v", readyWait)
		}
		if err := sendProbe(); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
