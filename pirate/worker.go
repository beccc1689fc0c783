package pirate

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/zmtp-go/zmtp/internal/workerloop"
	"github.com/zmtp-go/zmtp/zmtp"
)

// The PPP commands: one frame of one octet.
var (
	cmdReady     = []byte{0x01}
	cmdHeartbeat = []byte{0x02}
)

// Defaults of WorkerOptions and QueueOptions.
const (
	DefaultHeartbeat    = time.Second
	DefaultLiveness     = 3
	DefaultReconnectMin = time.Second
	DefaultReconnectMax = 32 * time.Second
)

// Handler serves one request: it gets the request's frames and returns the
// reply's. It runs on its own goroutine while the worker goes on
// heartbeating; its context ends when the worker stops or gives up on the
// connection (the reply is then not sent). When it returns an error no
// reply is sent and the worker leaves (a Majordomo worker says DISCONNECT,
// and the broker gives the request to another worker) and registers again
// on a new socket after ReconnectMin; the client retries or reports the
// request failed.
type Handler interface {
	Serve(ctx context.Context, request [][]byte) ([][]byte, error)
}

// HandlerFunc is a function used as a Handler.
type HandlerFunc func(ctx context.Context, request [][]byte) ([][]byte, error)

// Serve calls f.
func (f HandlerFunc) Serve(ctx context.Context, request [][]byte) ([][]byte, error) {
	return f(ctx, request)
}

// WorkerOptions configures a Worker; the zero value gives the defaults.
type WorkerOptions struct {
	// Heartbeat is the interval between heartbeats, which the queue or
	// broker must share: DefaultHeartbeat when zero.
	Heartbeat time.Duration
	// Liveness is how many intervals without a word from the peer make
	// it dead: DefaultLiveness when zero.
	Liveness int
	// ReconnectMin is the wait before the first reconnection after the
	// peer was found dead, doubled after each failure up to ReconnectMax:
	// DefaultReconnectMin and DefaultReconnectMax when zero.
	ReconnectMin, ReconnectMax time.Duration
	// Context, when set, makes the sockets in it, for inproc endpoints.
	Context *zmtp.Context
	// Socket is given to each DEALER socket made (Linger is replaced).
	Socket zmtp.Options
	// Logger receives debug records; nil means none.
	Logger *slog.Logger
}

// WorkerStats counts what a worker did.
type WorkerStats struct {
	Connects  int64 // sockets opened: 1 plus the reconnections
	Requests  int64 // requests received
	Replies   int64 // replies sent
	Abandoned int64 // requests received and not answered
}

// Worker is a Paranoid Pirate worker (6/PPP). Run serves; Stats may be
// called at any time from any goroutine.
type Worker struct {
	cfg   workerloop.Config
	stats workerloop.Stats
}

// NewWorker returns a worker that serves requests from the queue at
// endpoint with h.
func NewWorker(endpoint string, h Handler, opts WorkerOptions) (*Worker, error) {
	if h == nil {
		return nil, errors.New("pirate: nil Handler")
	}
	w := &Worker{cfg: workerloop.Config{
		Endpoint:     endpoint,
		Context:      opts.Context,
		Socket:       opts.Socket,
		Heartbeat:    cmp.Or(opts.Heartbeat, DefaultHeartbeat),
		Liveness:     cmp.Or(opts.Liveness, DefaultLiveness),
		ReconnectMin: cmp.Or(opts.ReconnectMin, DefaultReconnectMin),
		ReconnectMax: cmp.Or(opts.ReconnectMax, max(DefaultReconnectMax, opts.ReconnectMin)),
		Protocol:     ppp{},
		Handler:      h.Serve,
		Logger:       opts.Logger,
	}}
	w.cfg.Stats = &w.stats
	if err := w.cfg.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// Run serves until ctx ends, reconnecting on a new socket whenever the
// queue is found dead. It returns ctx's error, once the handler in
// progress (whose context ends too) has returned, or the error of a socket
// that cannot be made (an invalid endpoint). It is called once.
func (w *Worker) Run(ctx context.Context) error { return workerloop.Run(ctx, w.cfg) }

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats {
	var s WorkerStats
	s.Connects, s.Requests, s.Replies, s.Abandoned = w.stats.Snapshot()
	return s
}

// ppp is the worker side of 6/PPP.
type ppp struct{}

func (ppp) Ready() [][]byte      { return [][]byte{bytes.Clone(cmdReady)} }
func (ppp) Heartbeat() [][]byte  { return [][]byte{bytes.Clone(cmdHeartbeat)} }
func (ppp) Disconnect() [][]byte { return nil }

func (ppp) Reply(envelope, reply [][]byte) [][]byte {
	return append(append(make([][]byte, 0, len(envelope)+len(reply)), envelope...), reply...)
}

// Parse takes a one-frame HEARTBEAT, or a request: an address stack ended
// by an empty frame, then content.
func (ppp) Parse(f [][]byte) (workerloop.Kind, [][]byte, [][]byte, error) {
	if len(f) == 1 && bytes.Equal(f[0], cmdHeartbeat) {
		return workerloop.Heartbeat, nil, nil, nil
	}
	for i, fr := range f {
		if len(fr) == 0 {
			if i == len(f)-1 {
				break
			}
			return workerloop.Request, f[:i+1], f[i+1:], nil
		}
	}
	return 0, nil, nil, fmt.Errorf("pirate: message of %d frames is neither HEARTBEAT nor a request with an envelope", len(f))
}
