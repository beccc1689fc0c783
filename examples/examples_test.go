// Package examples holds the ZeroMQ Guide's programs ported to zmtp, one
// main package per program; its test builds them and runs them together,
// as the Guide runs them, on the Guide's TCP ports 5555 to 5560.
package examples

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runTimeout bounds a whole run; the programs' own pauses (a second of
// work per request in hwserver, rrworker, lpserver) take about 30 s.
const runTimeout = 3 * time.Minute

// guidePorts are the Guide's fixed ports the programs use.
var guidePorts = []int{5555, 5556, 5557, 5558, 5559, 5560}

// TestGuidePrograms builds every program and runs them in the Guide's
// groupings. The groups that share a port run one after the other.
func TestGuidePrograms(t *testing.T) {
	for _, port := range guidePorts {
		ln, err := net.Listen("tcp", fmt.Sprint(":", port))
		if err != nil {
			t.Fatalf("the Guide's port %d is taken on this machine: %v", port, err)
		}
		ln.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	bin := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./...")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	r := &runner{t: t, ctx: ctx, bin: bin}
	t.Run("lanes", func(t *testing.T) {
		t.Run("5555", func(t *testing.T) {
			t.Parallel()
			r.helloWorld(t)
			r.lazyPirate(t)
		})
		t.Run("5556-5558", func(t *testing.T) {
			t.Parallel()
			r.weather(t)
			r.msPoller(t)
			r.divideAndConquer(t)
		})
		t.Run("5559-5560", func(t *testing.T) {
			t.Parallel()
			r.broker(t)
		})
	})
}

// hwserver answers ten requests of hwclient.
func (r *runner) helloWorld(t *testing.T) {
	server := r.start(t, "hwserver")
	waitListening(t, r.ctx, 5555)
	out := r.run(t, "hwclient")
	for n := range 10 {
		mustContain(t, "hwclient", out, fmt.Sprintf("Received World %d\n", n))
	}
	server.stop(t)
	mustContain(t, "hwserver", server.output(), "Received Hello 9\n")
}

// lpclient gets replies from lpserver until lpserver crashes, then gives
// up after its retries.
func (r *runner) lazyPirate(t *testing.T) {
	server := r.start(t, "lpserver")
	waitListening(t, r.ctx, 5555)
	out := r.run(t, "lpclient")
	mustContain(t, "lpclient", out, "I: server replied OK (1)\n")
	if !strings.HasSuffix(out, "E: server seems to be offline, abandoning\n") {
		t.Errorf("lpclient did not end by abandoning:\n%s", out)
	}
	server.stop(t)
}

// wuclient averages 100 updates of wuserver for its zipcode.
func (r *runner) weather(t *testing.T) {
	server := r.start(t, "wuserver")
	waitListening(t, r.ctx, 5556)
	out := r.run(t, "wuclient")
	mustContain(t, "wuclient", out, "Average temperature for zipcode '10001' was ")
	server.stop(t)
}

// mspoller reads the ventilator's 100 tasks and weather updates in one
// loop.
func (r *runner) msPoller(t *testing.T) {
	sink := r.start(t, "tasksink") // takes the ventilator's start signal
	weather := r.start(t, "wuserver")
	vent := r.start(t, "taskvent")
	waitListening(t, r.ctx, 5556, 5557, 5558)
	poller := r.start(t, "mspoller")
	vent.stdin.Write([]byte("\n"))
	vent.wait(t)
	poller.waitOutput(t, "Got task: ", 100)
	poller.waitOutput(t, "Got weather update: 10001 ", 1)
	for _, p := range []*process{poller, weather, sink} {
		p.stop(t)
	}
}

// taskvent's 100 tasks go to two taskwork workers, whose results
// tasksink collects.
func (r *runner) divideAndConquer(t *testing.T) {
	sink := r.start(t, "tasksink")
	vent := r.start(t, "taskvent")
	waitListening(t, r.ctx, 5557, 5558)
	workers := []*process{r.start(t, "taskwork"), r.start(t, "taskwork")}
	vent.stdin.Write([]byte("\n"))
	vent.wait(t)
	mustContain(t, "taskvent", vent.output(), "Total expected cost: ")
	sink.wait(t)
	mustContain(t, "tasksink", sink.output(), ":.........:.........:.........:.........:.........:.........:.........:.........:.........:.........\nTotal elapsed time: ")
	for _, w := range workers {
		w.stop(t)
	}
}

// rrclient's ten requests go through rrbroker to two rrworker workers.
func (r *runner) broker(t *testing.T) {
	broker := r.start(t, "rrbroker")
	waitListening(t, r.ctx, 5559, 5560)
	workers := []*process{r.start(t, "rrworker"), r.start(t, "rrworker")}
	out := r.run(t, "rrclient")
	for n := range 10 {
		mustContain(t, "rrclient", out, fmt.Sprintf("Received reply %d [World]\n", n))
	}
	requests := 0
	for _, w := range workers {
		w.stop(t)
		requests += strings.Count(w.output(), "Received request: [Hello]\n")
	}
	if requests != 10 {
		t.Errorf("the workers got %d requests, want 10", requests)
	}
	broker.stop(t)
}

// runner starts the built programs.
type runner struct {
	t   *testing.T
	ctx context.Context
	bin string
}

// process is a running program.
type process struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *output
	done  chan struct{}
	err   error
}

// start starts a program; the test kills it at its end if it still runs.
func (r *runner) start(t *testing.T, name string) *process {
	t.Helper()
	p := &process{name: name, out: newOutput(), done: make(chan struct{})}
	p.cmd = exec.CommandContext(r.ctx, filepath.Join(r.bin, name))
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.out.close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// run runs a program to its end and returns what it printed.
func (r *runner) run(t *testing.T, name string) string {
	t.Helper()
	p := r.start(t, name)
	p.wait(t)
	return p.output()
}

// wait waits for the program to end, and fails the test unless it ended
// well.
func (p *process) wait(t *testing.T) {
	t.Helper()
	<-p.done
	if p.err != nil {
		t.Fatalf("%s: %v\n%s", p.name, p.err, p.output())
	}
}

// stop kills a program that runs until it is killed (or, for lpserver,
// until it simulates a crash) and waits for it.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Kill()
	<-p.done
}

func (p *process) output() string { return p.out.String() }

// waitOutput waits until the program has printed s n times.
func (p *process) waitOutput(t *testing.T, s string, n int) {
	t.Helper()
	if !p.out.waitFor(s, n) {
		t.Fatalf("%s ended or ran out of time before printing %q %d times:\n%s", p.name, s, n, p.output())
	}
}

// output collects a program's output; waitFor waits for a string in it.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on each write
	closed  bool
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(b)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(b), nil
}

func (o *output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	close(o.changed)
	o.changed = make(chan struct{})
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) waitFor(s string, n int) bool {
	deadline := time.NewTimer(runTimeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		found, closed, changed := strings.Count(o.buf.String(), s) >= n, o.closed, o.changed
		o.mu.Unlock()
		if found {
			return true
		}
		if closed {
			return false
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// waitListening waits until something accepts connections on each port
// of the loopback interface: the program that binds it is up.
func waitListening(t *testing.T, ctx context.Context, ports ...int) {
	t.Helper()
	for _, port := range ports {
		for {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", fmt.Sprint("127.0.0.1:", port))
			if err == nil {
				c.Close()
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("nothing listens on port %d: %v", port, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func mustContain(t *testing.T, name, out, want string) {
	t.Helper()
	if !strings.Contains(out, want) {
		t.Errorf("%s did not print %q:\n%s", name, want, out)
	}
}

// TestShorterThanPebbe checks the table of examples/README.md: each
// program's count of code lines is what the table says, and no more than
// its pebbe/zmq4 version's.
func TestShorterThanPebbe(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(readme), "\n") {
		var name string
		var ours, pebbe int
		if n, _ := fmt.Sscanf(strings.ReplaceAll(line, "|", " "), "%s %d %d", &name, &ours, &pebbe); n != 3 {
			continue
		}
		rows++
		src, err := os.ReadFile(filepath.Join(name, "main.go"))
		if err != nil {
			t.Errorf("row %s: %v", name, err)
			continue
		}
		if got := codeLines(src); got != ours {
			t.Errorf("%s has %d code lines; the table says %d", name, got, ours)
		}
		if ours > pebbe {
			t.Errorf("%s: %d code lines, more than pebbe/zmq4's %d", name, ours, pebbe)
		}
	}
	dirs, _ := filepath.Glob("*/main.go")
	if rows == 0 || rows != len(dirs) {
		t.Errorf("the table has %d rows for %d programs", rows, len(dirs))
	}
}
