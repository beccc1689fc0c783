package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type options struct {
	quick      bool
	repeats    int
	only       string
	onlyRE     *regexp.Regexp
	impls      string
	implList   []string
	target     time.Duration
	roundTrips int
	verbose    bool
	cpuprofile string
	timeout    time.Duration
	exe        string
	// Resource workloads.
	conns      int           // connections of conns/idle
	topicSize  int           // octets of the topic of subscribe/large
	baseWindow time.Duration // the stream-alone window of subscribe/large
}

// The implementations, in the order each repeat runs them.
const (
	implOurs      = "ours"
	implLibzmqC   = "libzmq-c"   // libzmq, message loops in C
	implLibzmqCgo = "libzmq-cgo" // libzmq through pebbe/zmq4, one cgo call per message
	implGoZeromq  = "go-zeromq"
)

var allImpls = []string{implOurs, implLibzmqC, implLibzmqCgo, implGoZeromq}

// implOursInto is ours receiving with RecvInto: measured beside ours on
// the workloads that have a RecvInto row, and shown in that row's ours
// column.
const implOursInto = "ours-recvinto"

func knownImpl(name string) bool { return slices.Contains(allImpls, name) }

// The workloads, by the name -only matches.
const (
	wPushPullTCP    = "pushpull/tcp"
	wReqRep         = "reqrep/tcp"
	wPubSub         = "pubsub/tcp"
	wPushPullInproc = "pushpull/inproc"
	wPushPullCurve  = "pushpull/curve"
	wPushPullIPC    = "pushpull/ipc"
	wPubSubMany     = "pubsub100/tcp"
	wRouter         = "router100/tcp"
	wReqRep2        = "reqrep2p/tcp"
)

type workload struct {
	name  string
	title string
	label string // first column of the table
	lat   bool   // latency rather than throughput
	note  string // printed under the table
	sizes []int
	subs  int  // subscribers of a pub/sub workload
	into  bool // a second row with ours receiving with RecvInto
	two   bool // two processes: a REP server and a REQ client
	// has reports whether an implementation supports the workload.
	has func(impl string) bool
}

func all(string) bool { return true }

// columnsNote explains the columns; printed once, above the tables.
const columnsNote = "Columns: ours is github.com/zmtp-go/zmtp. libzmq-c is libzmq with each message loop written in C (zmq_send from one reused buffer, zmq_msg_recv into one reused zmq_msg_t, timing with clock_gettime; no cgo call per message): the ratio columns compare ours against it. libzmq-cgo is the same libzmq through pebbe/zmq4, one cgo call per message on each side and a copy into a new Go slice per received message: what a Go program using libzmq gets; no ratio is computed against it. go-zeromq is github.com/go-zeromq/zmq4."

func notGoZeromq(impl string) bool { return impl != implGoZeromq }

func oursAndC(impl string) bool { return impl == implOurs || impl == implLibzmqC }

var workloads = []workload{
	{name: wPushPullTCP, title: "PUSH/PULL throughput, tcp 127.0.0.1", label: "PUSH/PULL tcp",
		sizes: []int{1, 64, 1024, 65536}, has: all, into: true,
		note: "ours receives with Recv, as programs usually do; the RecvInto rows are ours receiving into one reused Message (RecvInto copies each message into it and returns the socket's receive buffer for reuse), beside the same figures of the others. libzmq-c receives with zmq_msg_recv, which passes on the zmq_msg_t libzmq decoded rather than copying it into a buffer; libzmq-cgo's RecvBytes copies each message into a new Go slice."},
	{name: wPushPullIPC, title: "PUSH/PULL throughput, ipc (Unix domain socket)", label: "PUSH/PULL ipc",
		sizes: []int{64, 1024}, has: all,
		note: "The endpoint is a socket file in the temporary directory."},
	{name: wReqRep2, title: "REQ/REP round-trip latency between two processes, tcp 127.0.0.1 (lower is better)", label: "REQ/REP tcp, 2 processes",
		lat: true, two: true, sizes: []int{64}, has: oursAndC,
		note: "The headline latency: the REP runs in one child process and the REQ in another, as two programs on one machine would (for libzmq-c each with its own context and I/O thread, its loop in C). Each round trip is timed on its own at the REQ. The CPU column is both processes' CPU time together per round trip. Only ours and libzmq-c are measured."},
	{name: wReqRep, title: "REQ/REP round-trip latency, both ends in one process, tcp 127.0.0.1 (lower is better)", label: "REQ/REP tcp",
		lat: true, sizes: []int{64}, has: all,
		note: "Each round trip is timed on its own (REQ send to reply received); libzmq-c times it in C with clock_gettime, and its REP echoes the zmq_msg_t it received. A libzmq round trip passes through both contexts' I/O threads (four threads in all), so on a machine with few cores its latency depends on where the scheduler puts them and can differ between processes; -v shows the spread."},
	{name: wPubSub, title: fmt.Sprintf("PUB fan-out to %d SUBs, tcp 127.0.0.1: messages delivered per second, all subscribers together", subscribers),
		label: fmt.Sprintf("PUB→%d SUB tcp", subscribers), sizes: []int{64}, has: all, subs: subscribers,
		note: "ours and libzmq publish on an XPUB with XPUB_NODROP (a PUB drops at the high-water mark); go-zeromq's PUB queues without bound and never drops. CPU per message is per delivery."},
	{name: wPubSubMany, title: fmt.Sprintf("PUB fan-out to %d SUBs, tcp 127.0.0.1: messages delivered per second, all subscribers together", manySubscribers),
		label: fmt.Sprintf("PUB→%d SUB tcp", manySubscribers), sizes: []int{64}, has: all, subs: manySubscribers,
		note: "As with 4 subscribers; each subscriber is one socket with its own connection, receiving in its own goroutine (libzmq-c: its own thread, blocked in C). CPU per message is per delivery."},
	{name: wRouter, title: fmt.Sprintf("ROUTER receiving from %d DEALERs, tcp 127.0.0.1", dealers), label: fmt.Sprintf("%d DEALER→ROUTER tcp", dealers),
		sizes: []int{64}, has: all,
		note: fmt.Sprintf("Each of %d DEALERs sends its share of the messages from its own goroutine (libzmq-c: its own thread, in C; all DEALERs in one context); the ROUTER receives each as two frames, the routing id and the body, and the rate is measured there.", dealers)},
	{name: wPushPullInproc, title: "PUSH/PULL throughput, inproc", label: "PUSH/PULL inproc",
		sizes: []int{1, 64, 1024, 65536}, has: notGoZeromq,
		note: "ours hands the sent []byte to the receiver without copying (Send takes ownership), so its MB/s is not bounded by memory bandwidth; libzmq copies each message into a zmq_msg on send (zmq_send), libzmq-c receives it without a copy (zmq_msg_recv), and pebbe/zmq4 copies it out into a new Go slice on receive. go-zeromq has no inproc transport."},
	{name: wPushPullCurve, title: "PUSH/PULL throughput, CURVE over tcp 127.0.0.1", label: "PUSH/PULL CURVE",
		sizes: []int{1, 64, 1024, 65536}, has: notGoZeromq,
		note: "go-zeromq has no CURVE."},
}

// repeatsFor returns the number of repeats for a workload and size: -repeats
// for small messages, about half as many (at least 5, at most -repeats) for
// 1024 octets and more and for latency, whose runs are long.
func (o *options) repeatsFor(w workload, size int) int {
	if o.quick {
		return 1
	}
	if !w.lat && size <= 64 {
		return o.repeats
	}
	return min(o.repeats, max(5, (o.repeats+1)/2))
}

// cell is the outcome of one implementation on one row.
type cell struct {
	na     bool      // workload not available in the implementation
	values []float64 // one per successful repeat
	cpu    []float64 // CPU seconds per message, one per successful repeat
	failed int       // repeats that failed
}

func (c cell) median() float64 { return median(c.values) }

func (c cell) cpuMedian() float64 { return median(c.cpu) }

func median(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	v := slices.Clone(values)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// row is one line of a table: one size (or one percentile) of a workload.
type row struct {
	label string
	size  int
	kind  string // "thr" or "p50"/"p99"
	cells map[string]*cell
	// only, if set, is the one implementation this row measures; the
	// others' cells are those of the row above, shown as such.
	only string
	// noCPU leaves the CPU columns empty (p99 rows: the p50 row has it).
	noCPU bool
}

func runAll(o *options, out io.Writer) error {
	start := time.Now()
	fmt.Fprintln(out, machineLine())
	fmt.Fprintln(out)
	fmt.Fprintln(out, columnsNote)
	fmt.Fprintln(out)
	if o.quick {
		fmt.Fprintln(out, "Quick mode: one repeat, short runs; numbers are indicative only.")
		fmt.Fprintln(out)
	}
	ran := 0
	results := map[string][]*row{}
	for _, w := range workloads {
		if o.onlyRE != nil && !o.onlyRE.MatchString(w.name) {
			continue
		}
		ran++
		rows, err := o.runWorkload(w)
		if err != nil {
			return err
		}
		results[w.name] = rows
		printTable(out, o, w, rows)
	}
	printGoals(out, results)
	for _, w := range resourceWorks {
		if o.onlyRE != nil && !o.onlyRE.MatchString(w.name) {
			continue
		}
		ran++
		printResourceTable(out, o, w, o.runResource(w))
	}
	if ran == 0 {
		return fmt.Errorf("-only %q matches no workload", o.only)
	}
	fmt.Fprintf(out, "Load average at the end: %s. Total time %v.\n", loadAvg(), time.Since(start).Round(time.Second))
	return nil
}

func (o *options) runWorkload(w workload) ([]*row, error) {
	var rows []*row
	for _, size := range w.sizes {
		reps := o.repeatsFor(w, size)
		var impls []string
		cells := map[string]*cell{}
		var p99 map[string]*cell
		if w.lat {
			p99 = map[string]*cell{}
		}
		for _, im := range allImpls {
			if !slices.Contains(o.implList, im) {
				continue
			}
			cells[im] = &cell{na: !w.has(im)}
			if w.lat {
				p99[im] = &cell{na: !w.has(im)}
			}
			if w.has(im) {
				impls = append(impls, im)
				if im == implOurs && w.into {
					impls = append(impls, implOursInto)
					cells[implOursInto] = &cell{}
				}
			}
		}
		counts := map[string]int{}
		for _, im := range impls {
			if w.lat {
				counts[im] = o.roundTrips
				continue
			}
			n, err := o.calibrate(w, im, size)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s %s size %d: calibration failed: %v\n", im, w.name, size, err)
				cells[im].failed = reps
				continue
			}
			counts[im] = n
		}
		for rep := range reps {
			for _, im := range impls {
				if counts[im] == 0 {
					continue
				}
				r, err := o.runOne(w, im, size, counts[im], fmt.Sprint(rep+1))
				if err != nil {
					fmt.Fprintf(os.Stderr, "%s %s size %d repeat %d: %v\n", im, w.name, size, rep+1, err)
					cells[im].failed++
					if w.lat {
						p99[im].failed++
					}
					continue
				}
				if r.Messages > 0 && r.CPU > 0 {
					cells[im].cpu = append(cells[im].cpu, r.CPU/float64(r.Messages))
				}
				if w.lat {
					cells[im].values = append(cells[im].values, r.P50)
					p99[im].values = append(p99[im].values, r.P99)
					o.logf("%-10s %-15s size %5d repeat %2d: p50 %.1f us, p99 %.1f us (%d round trips, %.2f s, CPU %.2f s)",
						im, w.name, size, rep+1, r.P50, r.P99, counts[im], r.Seconds, r.CPU)
				} else {
					cells[im].values = append(cells[im].values, r.Rate)
					o.logf("%-10s %-15s size %5d repeat %2d: %s (%d messages, %.2f s, CPU %.2f s)",
						im, w.name, size, rep+1, fmtRate(r.Rate, size), counts[im], r.Seconds, r.CPU)
				}
			}
		}
		if w.lat {
			rows = append(rows, &row{label: w.label + " p50", size: size, kind: "p50", cells: cells},
				&row{label: w.label + " p99", size: size, kind: "p99", cells: p99, noCPU: true})
			continue
		}
		into, hasInto := cells[implOursInto]
		delete(cells, implOursInto)
		rows = append(rows, &row{label: w.label, size: size, kind: "thr", cells: cells})
		if hasInto {
			intoCells := maps.Clone(cells)
			intoCells[implOurs] = into
			rows = append(rows, &row{label: w.label + ", ours RecvInto", size: size, kind: "thr", cells: intoCells, only: implOurs})
		}
	}
	return rows, nil
}

// calibrate runs the workload with a small count (once or twice; the
// results are discarded, the runs also warm up the file cache and the
// loopback path) and returns the count that makes a repeat last about
// o.target.
func (o *options) calibrate(w workload, im string, size int) (int, error) {
	count := 20000
	if size >= 65536 {
		count = 2000
	}
	// A pub/sub count is per subscriber: keep the deliveries of the
	// first try at what 4 subscribers receive.
	minCount := 1000.0
	if w.subs > subscribers {
		count = count * subscribers / w.subs
		minCount = max(40, minCount*subscribers/float64(w.subs))
	}
	if o.quick {
		count /= 4
	}
	for try := 0; ; try++ {
		r, err := o.runOne(w, im, size, count, "calibrate")
		if err != nil {
			return 0, err
		}
		enough := r.Seconds >= o.target.Seconds()/4
		if enough || try == 1 || o.quick {
			perRepeat := r.Rate * o.target.Seconds()
			if w.subs > 0 {
				perRepeat /= float64(w.subs)
			}
			n := int(math.Min(math.Max(perRepeat, minCount), 50e6))
			o.logf("%-10s %-15s size %5d calibration: %s, %d messages per repeat",
				im, w.name, size, fmtRate(r.Rate, size), n)
			return n, nil
		}
		grow := math.Min(math.Max(o.target.Seconds()/2/math.Max(r.Seconds, 1e-6), 2), 50)
		count = int(float64(count) * grow)
	}
}

// runOne runs one measurement in a child process.
func (o *options) runOne(w workload, im string, size, count int, tag string) (childResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	args := []string{"-child", "-impl", im, "-work", w.name, "-size", strconv.Itoa(size), "-count", strconv.Itoa(count)}
	if im == implOursInto {
		args[2] = implOurs
		args = append(args, "-recvinto")
	}
	if o.cpuprofile != "" && tag != "calibrate" {
		name := fmt.Sprintf("%s-%s-%d-%s.pprof", im, strings.ReplaceAll(w.name, "/", "-"), size, tag)
		args = append(args, "-profile", filepath.Join(o.cpuprofile, name))
	}
	if w.two {
		return o.runTwo(ctx, args)
	}
	cmd := exec.CommandContext(ctx, o.exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			msg = fmt.Sprintf("killed after %v; %s", o.timeout, msg)
		}
		return childResult{}, fmt.Errorf("%w: %s", err, msg)
	}
	var r childResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("bad result %q: %w", stdout.String(), err)
	}
	if r.Seconds <= 0 {
		return r, errors.New("empty result")
	}
	return r, nil
}

// runTwo runs a two-process measurement: a server child (-role rep),
// which prints the endpoint it bound on its first line, and a client child
// (-role req) given that endpoint, which measures. The result is the
// client's, with the CPU time of both.
func (o *options) runTwo(ctx context.Context, args []string) (childResult, error) {
	srv := exec.CommandContext(ctx, o.exe, append(slices.Clone(args), "-role", "rep")...)
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	srv.WaitDelay = 5 * time.Second
	out, err := srv.StdoutPipe()
	if err != nil {
		return childResult{}, err
	}
	if err := srv.Start(); err != nil {
		return childResult{}, err
	}
	// The server ends when it has echoed every request; when the client
	// fails, it is killed.
	rd := bufio.NewReader(out)
	line, err := rd.ReadString('\n')
	if err != nil {
		srv.Process.Kill()
		srv.Wait()
		return childResult{}, fmt.Errorf("server: no endpoint (%v): %s", err, strings.TrimSpace(srvErr.String()))
	}
	cli := exec.CommandContext(ctx, o.exe, append(slices.Clone(args), "-role", "req", "-endpoint", strings.TrimSpace(line))...)
	var cliOut, cliErr bytes.Buffer
	cli.Stdout, cli.Stderr = &cliOut, &cliErr
	cli.WaitDelay = 5 * time.Second
	if err := cli.Run(); err != nil {
		srv.Process.Kill()
		io.Copy(io.Discard, rd)
		srv.Wait()
		return childResult{}, fmt.Errorf("client: %w: %s", err, strings.TrimSpace(cliErr.String()))
	}
	rest, _ := io.ReadAll(rd)
	if err := srv.Wait(); err != nil {
		return childResult{}, fmt.Errorf("server: %w: %s", err, strings.TrimSpace(srvErr.String()))
	}
	var r, rs childResult
	if err := json.Unmarshal(cliOut.Bytes(), &r); err != nil {
		return r, fmt.Errorf("bad client result %q: %w", cliOut.String(), err)
	}
	if err := json.Unmarshal(rest, &rs); err != nil {
		return r, fmt.Errorf("bad server result %q: %w", rest, err)
	}
	if r.Seconds <= 0 {
		return r, errors.New("empty result")
	}
	r.CPU += rs.CPU
	return r, nil
}

func (o *options) logf(format string, args ...any) {
	if o.verbose {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}
