package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

func knownImpl(name string) bool { return slices.Contains(allImpls, name) }

// The workloads, by the name -only matches.
const (
	wPushPullTCP    = "pushpull/tcp"
	wReqRep         = "reqrep/tcp"
	wPubSub         = "pubsub/tcp"
	wPushPullInproc = "pushpull/inproc"
	wPushPullCurve  = "pushpull/curve"
)

type workload struct {
	name  string
	title string
	label string // first column of the table
	lat   bool   // latency rather than throughput
	note  string // printed under the table
	sizes []int
	// has reports whether an implementation supports the workload.
	has func(impl string) bool
}

func all(string) bool { return true }

// columnsNote explains the columns; printed once, above the tables.
const columnsNote = "Columns: ours is github.com/zmtp-go/zmtp. libzmq-c is libzmq with each message loop written in C (zmq_send from one reused buffer, zmq_msg_recv into one reused zmq_msg_t, timing with clock_gettime; no cgo call per message): the ratio columns compare ours against it. libzmq-cgo is the same libzmq through pebbe/zmq4, one cgo call per message on each side and a copy into a new Go slice per received message: what a Go program using libzmq gets; no ratio is computed against it. go-zeromq is github.com/go-zeromq/zmq4."

func notGoZeromq(impl string) bool { return impl != implGoZeromq }

var workloads = []workload{
	{name: wPushPullTCP, title: "PUSH/PULL throughput, tcp 127.0.0.1", label: "PUSH/PULL tcp",
		sizes: []int{1, 64, 1024, 65536}, has: all,
		note: "libzmq-c receives with zmq_msg_recv, which passes on the zmq_msg_t libzmq decoded rather than copying it into a buffer; libzmq-cgo's RecvBytes copies each message into a new Go slice."},
	{name: wReqRep, title: "REQ/REP round-trip latency, tcp 127.0.0.1 (lower is better)", label: "REQ/REP tcp",
		lat: true, sizes: []int{64}, has: all,
		note: "Each round trip is timed on its own (REQ send to reply received); libzmq-c times it in C with clock_gettime, and its REP echoes the zmq_msg_t it received. A libzmq round trip passes through both contexts' I/O threads (four threads in all), so on a machine with few cores its latency depends on where the scheduler puts them and can differ between processes; -v shows the spread."},
	{name: wPubSub, title: fmt.Sprintf("PUB fan-out to %d SUBs, tcp 127.0.0.1: messages delivered per second, all subscribers together", subscribers),
		label: fmt.Sprintf("PUB→%d SUB tcp", subscribers), sizes: []int{64}, has: all,
		note: "ours and libzmq publish on an XPUB with XPUB_NODROP (a PUB drops at the high-water mark); go-zeromq's PUB queues without bound and never drops."},
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
	failed int       // repeats that failed
}

func (c cell) median() float64 {
	if len(c.values) == 0 {
		return math.NaN()
	}
	v := slices.Clone(c.values)
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
	for _, w := range workloads {
		if o.onlyRE != nil && !o.onlyRE.MatchString(w.name) {
			continue
		}
		ran++
		rows, err := o.runWorkload(w)
		if err != nil {
			return err
		}
		printTable(out, o, w, rows)
	}
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
				if w.lat {
					cells[im].values = append(cells[im].values, r.P50)
					p99[im].values = append(p99[im].values, r.P99)
					o.logf("%-10s %-15s size %5d repeat %2d: p50 %.1f us, p99 %.1f us (%d round trips, %.2f s)",
						im, w.name, size, rep+1, r.P50, r.P99, counts[im], r.Seconds)
				} else {
					cells[im].values = append(cells[im].values, r.Rate)
					o.logf("%-10s %-15s size %5d repeat %2d: %s (%d messages, %.2f s)",
						im, w.name, size, rep+1, fmtRate(r.Rate, size), counts[im], r.Seconds)
				}
			}
		}
		if w.lat {
			rows = append(rows, &row{label: w.label + " p50", size: size, kind: "p50", cells: cells},
				&row{label: w.label + " p99", size: size, kind: "p99", cells: p99})
		} else {
			rows = append(rows, &row{label: w.label, size: size, kind: "thr", cells: cells})
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
			if w.name == wPubSub {
				perRepeat /= subscribers
			}
			n := int(math.Min(math.Max(perRepeat, 1000), 50e6))
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
	if o.cpuprofile != "" && tag != "calibrate" {
		name := fmt.Sprintf("%s-%s-%d-%s.pprof", im, strings.ReplaceAll(w.name, "/", "-"), size, tag)
		args = append(args, "-profile", filepath.Join(o.cpuprofile, name))
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

func (o *options) logf(format string, args ...any) {
	if o.verbose {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}
