package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// The libzmq 4.3.5 peer: conformance/node/peer.js, a Node.js program
// around the npm package zeromq 6.8.0, which bundles libzmq 4.3.5 built
// with draft sockets, ws:// and udp://. It is driven over its standard
// input and output, one JSON request and one JSON answer a line, one
// request at a time; it needs no goroutine here, and it ends when its
// standard input closes, so no node process outlives the test binary.

// nodeDir is the directory of peer.js and its node_modules.
func nodeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

// errNodeTimeout is the answer of a recv or send of the node peer that
// timed out (libzmq's EAGAIN).
var errNodeTimeout = errors.New("libzmq 4.3.5: timed out (EAGAIN)")

// nodePeer is one running peer.js.
type nodePeer struct {
	mu     sync.Mutex // one request at a time
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *os.File // read end of the peer's standard output
	br     *bufio.Reader
	seq    int
	nextID int
	dead   error // set once the process is unusable
}

type nodeAnswer struct {
	Seq      int        `json:"seq"`
	Error    string     `json:"error"`
	Code     string     `json:"code"`
	Endpoint string     `json:"endpoint"`
	Version  string     `json:"version"`
	Frames   [][]byte   `json:"frames"` // base64 in JSON
	Group    []byte     `json:"group"`  // a DISH's message's group
	Event    *nodeEvent `json:"event"`
	// RoutingID is a SERVER's: the sender of a received message.
	RoutingID uint32 `json:"routingId"`
}

// nodeEvent is a monitor event of a socket in the node peer.
type nodeEvent struct {
	Type   string `json:"type"`   // zeromq.js's name, such as "handshake:error:auth"
	Status int    `json:"status"` // of an authentication failure: the ZAP status code
	Code   string `json:"code"`   // of a protocol error, such as "ERR_ZMTP_UNEXPECTED_COMMAND"
}

func startNodePeer() (*nodePeer, error) {
	dir := nodeDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "zeromq", "package.json")); err != nil {
		return nil, fmt.Errorf("libzmq 4.3.5 peer: the npm package zeromq is not installed: run `npm ci` in %s (bash scripts/test does)", dir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("libzmq 4.3.5 peer: Node.js is not installed: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, "peer.js")
	cmd.Dir = dir
	cmd.Stdout = w
	cmd.Stderr = os.Stderr // a crash of the peer shows in the test's output
	in, err := cmd.StdinPipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("libzmq 4.3.5 peer: %w", err)
	}
	w.Close()
	p := &nodePeer{cmd: cmd, in: in, out: r, br: bufio.NewReaderSize(r, 64<<10)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := p.call(ctx, map[string]any{"op": "version"})
	if err == nil && a.Version != "4.3.5" {
		err = fmt.Errorf("libzmq 4.3.5 peer: the bundled libzmq is %s", a.Version)
	}
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// call sends one request and waits for its answer until ctx ends. A
// failure to talk to the process makes the peer dead.
func (p *nodePeer) call(ctx context.Context, req map[string]any) (nodeAnswer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead != nil {
		return nodeAnswer{}, p.dead
	}
	p.seq++
	req["seq"] = p.seq
	b, err := json.Marshal(req)
	if err != nil {
		return nodeAnswer{}, err
	}
	fail := func(err error) (nodeAnswer, error) {
		p.dead = fmt.Errorf("libzmq 4.3.5 peer: %s: %w", req["op"], err)
		return nodeAnswer{}, p.dead
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return fail(err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	p.out.SetReadDeadline(deadline)
	for {
		line, err := p.br.ReadBytes('\n')
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Its answer may still come: it is skipped by seq.
				return nodeAnswer{}, fmt.Errorf("libzmq 4.3.5 peer: no answer to %s: %w", b, context.DeadlineExceeded)
			}
			return fail(err)
		}
		var a nodeAnswer
		if err := json.Unmarshal(line, &a); err != nil {
			return fail(fmt.Errorf("bad answer %q: %w", line, err))
		}
		if a.Seq != p.seq {
			continue // the late answer of a request given up on
		}
		switch {
		case a.Code == "EAGAIN":
			return a, errNodeTimeout
		case a.Error != "":
			return a, fmt.Errorf("libzmq 4.3.5: %s: %s", req["op"], a.Error)
		}
		return a, nil
	}
}

// stop closes the peer's input, which ends it, and waits for it; a peer
// that does not end within a few seconds is killed.
func (p *nodePeer) stop() error {
	p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		err = <-done
		err = fmt.Errorf("libzmq 4.3.5 peer did not end when its input closed (killed): %v", err)
	}
	p.out.Close()
	return err
}

// nodeHarness starts the peer at its first use and again after it died:
// one process serves the cases one after another.
type nodeHarness struct {
	mu sync.Mutex
	p  *nodePeer
}

// libzmq435 is the peer of the libzmq 4.3.5 cases.
var libzmq435 nodeHarness

func (h *nodeHarness) get() (*nodePeer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p != nil {
		h.p.mu.Lock()
		dead := h.p.dead
		h.p.mu.Unlock()
		if dead == nil {
			return h.p, nil
		}
		h.p.stop()
		h.p = nil
	}
	p, err := startNodePeer()
	if err != nil {
		return nil, err
	}
	h.p = p
	return p, nil
}

func (h *nodeHarness) stop() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p == nil {
		return nil
	}
	err := h.p.stop()
	h.p = nil
	return err
}

// StopNodePeer ends the libzmq 4.3.5 peer process if it runs. The process
// also ends by itself when this one does.
func StopNodePeer() error { return libzmq435.stop() }

// nodeSock is a socket in the node peer.
type nodeSock struct {
	p  *nodePeer
	id int
}

func (p *nodePeer) socket(ctx context.Context, typ string, options map[string]any) (*nodeSock, error) {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.mu.Unlock()
	if options == nil {
		options = map[string]any{}
	}
	if _, err := p.call(ctx, map[string]any{"op": "socket", "id": id, "type": typ, "options": options}); err != nil {
		return nil, err
	}
	return &nodeSock{p: p, id: id}, nil
}

func (s *nodeSock) bind(ctx context.Context, ep string) (string, error) {
	a, err := s.p.call(ctx, map[string]any{"op": "bind", "id": s.id, "endpoint": ep})
	return a.Endpoint, err
}

func (s *nodeSock) connect(ctx context.Context, ep string) error {
	_, err := s.p.call(ctx, map[string]any{"op": "connect", "id": s.id, "endpoint": ep})
	return err
}

func (s *nodeSock) subscribe(ctx context.Context, topic string) error {
	_, err := s.p.call(ctx, map[string]any{"op": "subscribe", "id": s.id, "topic": []byte(topic)})
	return err
}

// send sends a multipart message, waiting at most for ctx.
func (s *nodeSock) send(ctx context.Context, frames [][]byte) error {
	_, err := s.p.call(ctx, map[string]any{"op": "send", "id": s.id, "frames": frames, "timeout": msUntil(ctx)})
	return err
}

// recv receives a message, waiting at most d (errNodeTimeout) or for ctx.
func (s *nodeSock) recv(ctx context.Context, d time.Duration) ([][]byte, error) {
	ms := min(d.Milliseconds(), msUntil(ctx))
	cctx, cancel := context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond+5*time.Second)
	defer cancel()
	a, err := s.p.call(cctx, map[string]any{"op": "recv", "id": s.id, "timeout": ms})
	return a.Frames, err
}

// monitor records the socket's monitor events from now on, for event.
func (s *nodeSock) monitor(ctx context.Context) error {
	_, err := s.p.call(ctx, map[string]any{"op": "monitor", "id": s.id})
	return err
}

// event returns the next monitor event recorded, waiting at most d
// (errNodeTimeout) or for ctx.
func (s *nodeSock) event(ctx context.Context, d time.Duration) (nodeEvent, error) {
	ms := min(d.Milliseconds(), msUntil(ctx))
	cctx, cancel := context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond+5*time.Second)
	defer cancel()
	a, err := s.p.call(cctx, map[string]any{"op": "event", "id": s.id, "timeout": ms})
	if err == nil && a.Event == nil {
		err = errors.New("libzmq 4.3.5 peer: event: no event in the answer")
	}
	if err != nil {
		return nodeEvent{}, err
	}
	return *a.Event, nil
}

// close closes the socket at once (linger 0).
func (s *nodeSock) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.p.call(ctx, map[string]any{"op": "close", "id": s.id})
	return err
}

// msUntil is the time left before ctx's deadline in milliseconds (10 s
// when it has none), at least 1.
func msUntil(ctx context.Context) int64 {
	d, ok := ctx.Deadline()
	if !ok {
		return 10000
	}
	return max(time.Until(d).Milliseconds(), 1)
}
