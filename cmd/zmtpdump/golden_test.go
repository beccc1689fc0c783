package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zmtp-go/zmtp/dump"
	"github.com/zmtp-go/zmtp/zmtp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// recording decodes the traffic of in-process proxies as JSON Lines and
// records it as a pcap file.
type recording struct {
	out   *printer
	jsonl bytes.Buffer
	pcap  bytes.Buffer
	sink  *pcapSink

	mu     sync.Mutex
	events []dump.Event
	waits  []*eventWait
}

// eventWait is closed once cond has held for an event.
type eventWait struct {
	cond func(dump.Event) bool
	n    int
	done chan struct{}
}

func newRecording(t *testing.T) *recording {
	r := &recording{}
	r.out = newPrinter(&r.jsonl, outputConfig{json: true})
	sink, err := newPcapSink(&r.pcap)
	if err != nil {
		t.Fatal(err)
	}
	r.sink = sink
	r.out.hook = func(ev dump.Event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, ev)
		for _, w := range r.waits {
			if w.n > 0 && w.cond(ev) {
				if w.n--; w.n == 0 {
					close(w.done)
				}
			}
		}
	}
	return r
}

// await returns a channel closed after n events for which cond holds.
func (r *recording) await(n int, cond func(dump.Event) bool) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := &eventWait{cond: cond, n: n, done: make(chan struct{})}
	for _, ev := range r.events {
		if w.n > 0 && cond(ev) {
			w.n--
		}
	}
	if w.n == 0 {
		close(w.done)
	}
	r.waits = append(r.waits, w)
	return w.done
}

// testTimeout bounds a test that waits for events. Only a broken run
// reaches it: every wait is for the event itself, and a loaded machine may
// take tens of seconds to start a Python process or to schedule a
// goroutine.
const testTimeout = 2 * time.Minute

// testContext returns a context that ends after testTimeout or with the
// test.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func wait(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
	}
}

// scenario produces traffic between this module's sockets through a
// proxy. A scenario in a bubble runs in a testing/synctest bubble over
// net.Pipe: its clock is fake and moves only when every goroutine of the
// bubble waits, so what happens over time, such as heartbeats, does not
// depend on scheduling, and its golden file records the times.
type scenario struct {
	bubble bool
	run    func(t *testing.T, ctx context.Context, r *recording)
}

// scenarios are the golden scenarios by name.
var scenarios = map[string]scenario{
	"reqrep": {run: func(t *testing.T, ctx context.Context, r *recording) {
		rep, req, px := relayedT(t, r, zmtp.Rep, zmtp.Req, zmtp.Options{}, zmtp.Options{})
		reqRepT(t, ctx, rep, req, px)
	}},
	"pubsub": {run: func(t *testing.T, ctx context.Context, r *recording) {
		pub, sub, px := subscribedT(t, ctx, r, "tcp://127.0.0.1:*")
		for _, msg := range [][][]byte{
			{[]byte("weather.paris"), []byte("sunny")},
			{[]byte("sport"), []byte("not sent: no subscriber")},
			{[]byte("weather.oslo"), bytes.Repeat([]byte("snow "), 80)},
		} {
			must(t, pub.Send(ctx, msg))
		}
		for i := 0; i < 2; i++ {
			_, err := sub.Recv(ctx)
			must(t, err)
		}
		must(t, sub.Unsubscribe([]byte("weather.")))
		m, err := pub.Recv(ctx)
		must(t, err)
		if string(m.Frames[0]) != "\x00weather." {
			t.Fatalf("XPUB got %q", m.Frames[0])
		}
		must(t, shutdown(ctx, sub, pub, px))
	}},
	"dealerrouter": {run: func(t *testing.T, ctx context.Context, r *recording) {
		router, dealer, px := relayedT(t, r, zmtp.Router, zmtp.Dealer, zmtp.Options{}, zmtp.Options{RoutingID: []byte("client-1")})
		must(t, dealer.Send(ctx, [][]byte{[]byte("part one"), {}, []byte("part three")}))
		m, err := router.Recv(ctx)
		must(t, err)
		if string(m.Frames[0]) != "client-1" {
			t.Fatalf("ROUTER got id %q", m.Frames[0])
		}
		must(t, router.Send(ctx, [][]byte{m.Frames[0], []byte("reply")}))
		_, err = dealer.Recv(ctx)
		must(t, err)
		must(t, shutdown(ctx, dealer, router, px))
	}},
	"heartbeat": {bubble: true, run: func(t *testing.T, ctx context.Context, r *recording) {
		// The client sends a PING every second, the server answers each
		// with a PONG: 3.5 s hold exactly three of each.
		router, dealer, px := pipedT(t, ctx, r, zmtp.ConnConfig{SocketType: "ROUTER"},
			zmtp.ConnConfig{SocketType: "DEALER", HeartbeatInterval: time.Second, HeartbeatTimeout: 5 * time.Second, HeartbeatTTL: 3 * time.Second})
		time.Sleep(3500 * time.Millisecond)
		must(t, dealer.Close())
		// The proxy relays the end of the connection, then the server's
		// connection ends.
		synctest.Wait()
		if !px.idle() {
			t.Fatal("the proxy still relays after the client closed")
		}
		<-router.Done()
		px.close()
	}},
}

// pipedT connects a client and a server Conn through a proxy over net.Pipe
// (in a synctest bubble). The Conns and the proxy are closed with the test.
func pipedT(t *testing.T, ctx context.Context, r *recording, server, client zmtp.ConnConfig) (srv, cli *zmtp.Conn, px *proxy) {
	t.Helper()
	cliEnd, pxClient := net.Pipe()
	pxServer, srvEnd := net.Pipe()
	px = newRelay(func() (net.Conn, error) { return pxServer, nil }, r.out, dump.Options{}, r.sink)
	px.relayConn(pxClient)
	type result struct {
		c   *zmtp.Conn
		err error
	}
	srvc := make(chan result, 1)
	go func() {
		c, err := zmtp.NewConn(ctx, srvEnd, server)
		srvc <- result{c, err}
	}()
	cli, err := zmtp.NewConn(ctx, cliEnd, client)
	res := <-srvc
	if err == nil {
		err = res.err
	}
	t.Cleanup(func() {
		if cli != nil {
			cli.Close()
		}
		if res.c != nil {
			res.c.Close()
		}
		px.close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.c, cli, px
}

func relayedT(t *testing.T, r *recording, server, client zmtp.SocketType, sopts, copts zmtp.Options) (srv, cli *zmtp.Socket, px *proxy) {
	t.Helper()
	srv, cli, px, err := relayed(r.out, dump.Options{}, r.sink, server, client, sopts, copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.Close()
		srv.Close()
		px.close()
	})
	return srv, cli, px
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGolden runs each scenario through the proxy, checks the decoded JSON
// against testdata/NAME.jsonl, and checks that the pcap file the proxy
// wrote decodes to the same events.
func TestGolden(t *testing.T) {
	names := make([]string, 0, len(scenarios))
	for name := range scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sc := scenarios[name]
		run := func(t *testing.T) {
			ctx := testContext(t)
			r := newRecording(t)
			sc.run(t, ctx, r)
			r.out.mu.Lock()
			must(t, r.sink.close())
			live := r.jsonl.String()
			r.out.mu.Unlock()

			got := normalizeTimes(t, live, true, sc.bubble)
			path := filepath.Join("testdata", name+".jsonl")
			if *update {
				must(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			must(t, err)
			if got != string(want) {
				t.Errorf("decoded traffic differs from %s (run with -update to rewrite):\n%s", path, diffLines(string(want), got))
			}

			// The pcap file gives the same events as the live decode.
			var fromFile bytes.Buffer
			out := newPrinter(&fromFile, outputConfig{json: true})
			must(t, readCapture(bytes.NewReader(r.pcap.Bytes()), newAssembler(out, dump.Options{}, 0)))
			if a, b := normalizeTimes(t, live, false, sc.bubble), normalizeTimes(t, fromFile.String(), false, sc.bubble); a != b {
				t.Errorf("pcap decode differs from the live decode:\n%s", diffLines(a, b))
			}
		}
		t.Run(name, func(t *testing.T) {
			if sc.bubble {
				synctest.Test(t, run)
			} else {
				run(t)
			}
		})
	}
}

// normalize rewrites JSON Lines for comparison: no times, endpoints named
// by role, events grouped by direction (each direction's order is
// deterministic, their interleaving is not). For golden files it also
// drops what depends on timing: FIN and RST (a close may reset), and the
// receiver's socket type on handshake events (whether the other side's
// READY was decoded first).
func normalize(t *testing.T, jsonl string, golden bool) string {
	t.Helper()
	return normalizeTimes(t, jsonl, golden, false)
}

// normalizeTimes is normalize that, with times, keeps each event's time as
// "elapsed", the time since the first event: the times of a synctest
// bubble do not depend on scheduling.
func normalizeTimes(t *testing.T, jsonl string, golden, times bool) string {
	t.Helper()
	var recs [2][]map[string]any
	roles := map[string]string{}
	var start time.Time
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		if line == "" {
			continue
		}
		line = maskUpgrade(t, line)
		var m map[string]any
		must(t, json.Unmarshal([]byte(line), &m))
		if times {
			ts, _ := m["time"].(string)
			at, err := time.Parse(time.RFC3339Nano, ts)
			must(t, err)
			if start.IsZero() {
				start = at
			}
			m["elapsed"] = at.Sub(start).String()
		}
		delete(m, "time")
		// Packet numbers exist only for capture files.
		delete(m, "packet")
		delete(m, "packets")
		dir := 0
		if m["dir"] == "s2c" {
			dir = 1
		}
		src, _ := m["src"].(string)
		dst, _ := m["dst"].(string)
		if _, ok := roles[src]; !ok && src != "" {
			roles[src] = [2]string{"client", "server"}[dir]
			roles[dst] = [2]string{"server", "client"}[dir]
		}
		m["src"], m["dst"] = roles[src], roles[dst]
		kind := m["kind"]
		if golden {
			if kind == "fin" || kind == "rst" {
				continue
			}
			if kind == "greeting" || kind == "open" {
				delete(m, "dst_type")
			}
			if c, ok := m["command"].(map[string]any); ok {
				switch c["name"] {
				case "READY", "HELLO", "WELCOME", "INITIATE":
					delete(m, "dst_type")
				}
			}
		}
		recs[dir] = append(recs[dir], m)
	}
	var b strings.Builder
	for _, rs := range recs {
		for _, m := range rs {
			j, err := json.Marshal(m)
			must(t, err)
			b.Write(j)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// maskUpgrade replaces what changes from run to run in a WebSocket
// upgrade record, the Host (the proxy's port), Sec-WebSocket-Key and
// Sec-WebSocket-Accept, by placeholders.
func maskUpgrade(t *testing.T, line string) string {
	t.Helper()
	var rec struct {
		Upgrade *dump.JSONUpgrade `json:"upgrade"`
	}
	must(t, json.Unmarshal([]byte(line), &rec))
	if u := rec.Upgrade; u != nil {
		for _, v := range [][2]string{{u.Host, "HOST"}, {u.Key, "KEY"}, {u.Accept, "ACCEPT"}} {
			if v[0] != "" {
				line = strings.ReplaceAll(line, v[0], v[1])
			}
		}
	}
	return line
}

// diffLines shows the first differing line of two texts.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + a + "\ngot:  " + b
		}
	}
	return ""
}

// subscribedT makes an XPUB bound to ep and a SUB subscribed to
// "weather." connected to it through a proxy recording into r, and
// returns them once the XPUB has the subscription and can route to the
// SUB.
func subscribedT(t *testing.T, ctx context.Context, r *recording, ep string) (pub, sub *zmtp.Socket, px *proxy) {
	t.Helper()
	pub, err := zmtp.NewSocket(zmtp.XPub, zmtp.Options{})
	must(t, err)
	t.Cleanup(func() { pub.Close() })
	routable := pub.Monitor(zmtp.EventHandshakeSucceeded)
	must(t, pub.Bind(ep))
	px, err = newProxy(ep, pub.LastEndpoint(), r.out, dump.Options{}, r.sink)
	must(t, err)
	go px.serve()
	t.Cleanup(px.close)
	sub, err = zmtp.NewSocket(zmtp.Sub, zmtp.Options{})
	must(t, err)
	t.Cleanup(func() { sub.Close() })
	// Subscribed before it connects, the SUB sends the subscription
	// once, after its handshake: a Subscribe racing with the handshake
	// may send it twice.
	must(t, sub.Subscribe([]byte("weather.")))
	must(t, sub.Connect(px.endpoint()))
	// The XPUB routes to the SUB once it has handed the subscription over
	// and reported the handshake: it may hand the subscription over
	// before the peer is routable.
	m, err := pub.Recv(ctx)
	must(t, err)
	if string(m.Frames[0]) != "\x01weather." {
		t.Fatalf("XPUB got %q", m.Frames[0])
	}
	select {
	case <-routable:
	case <-ctx.Done():
		t.Fatal("timed out waiting for the XPUB's handshake")
	}
	return pub, sub, px
}

// reqRepT makes two requests from req and answers each from rep, through
// the proxy px, and shuts all three down.
func reqRepT(t *testing.T, ctx context.Context, rep, req *zmtp.Socket, px *proxy) {
	t.Helper()
	for _, body := range []string{"hello", "second request"} {
		must(t, req.Send(ctx, [][]byte{[]byte(body)}))
		m, err := rep.Recv(ctx)
		must(t, err)
		must(t, rep.Send(ctx, [][]byte{append([]byte("re: "), m.Frames[0]...)}))
		_, err = req.Recv(ctx)
		must(t, err)
	}
	must(t, shutdown(ctx, req, rep, px))
}
