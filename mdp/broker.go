package mdp

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtp-go/zmtp/pirate"
	"github.com/zmtp-go/zmtp/zmtp"
)

// Defaults of BrokerOptions. The heartbeat and liveness are pirate's, as
// are the workers' defaults: both sides must agree on them.
const (
	DefaultHeartbeat     = pirate.DefaultHeartbeat
	DefaultLiveness      = pirate.DefaultLiveness
	DefaultRequestExpiry = 10 * time.Second
	DefaultMaxPending    = 10000
	DefaultMaxDeliveries = 3
)

// BrokerOptions configures a Broker; the zero value gives the defaults.
type BrokerOptions struct {
	// Heartbeat is the interval between the heartbeats sent to each
	// worker; a worker silent for Liveness intervals is taken for dead.
	// DefaultHeartbeat and DefaultLiveness when zero.
	Heartbeat time.Duration
	Liveness  int
	// RequestExpiry is how long a request may wait for a worker of its
	// service before it is dropped (its client then times out):
	// DefaultRequestExpiry when zero.
	RequestExpiry time.Duration
	// MaxPending bounds the requests waiting for a worker, over all
	// services; more are dropped. DefaultMaxPending when zero.
	MaxPending int
	// MaxDeliveries is how many workers a request is given to at most:
	// a request whose workers all died or left before replying is then
	// dropped (its client times out), so that a request that kills
	// every worker cannot go round for ever. DefaultMaxDeliveries when
	// zero.
	MaxDeliveries int
	// Context, when set, makes the socket in it, for inproc endpoints.
	Context *zmtp.Context
	// Socket is given to the broker's ROUTER socket.
	Socket zmtp.Options
	// Logger receives debug records; nil means none.
	Logger *slog.Logger
}

// BrokerStats counts what a broker did.
type BrokerStats struct {
	Requests  int64 // client requests accepted (MMI queries included)
	Replies   int64 // replies sent to clients (MMI answers included)
	Requeued  int64 // requests given back to the queue by a worker that died or left
	Expired   int64 // requests dropped after RequestExpiry, beyond MaxPending or MaxDeliveries
	Dismissed int64 // workers sent DISCONNECT or forgotten as dead
	Invalid   int64 // messages dropped as malformed
}

// Broker is a Majordomo broker (7/MDP with 8/MMI's mmi.service) on one
// ROUTER socket for clients and workers. Requests are queued per service
// and given to the worker of that service that has waited longest. A
// request whose worker dies (found silent by heartbeats), disconnects or is
// dismissed before replying goes back to the front of its queue for
// another worker; a reply is passed on only from the worker the request was
// given to, and only once, so a client never gets two replies to one
// request. A request is given to at most MaxDeliveries workers. Services named "mmi." are answered by the broker: mmi.service
// says "200" when the service named in the body has a worker and "404"
// when not; other names say "501". A worker that registers such a name is
// sent DISCONNECT.
//
// Run serves; Stats may be called from any goroutine.
type Broker struct {
	opts      BrokerOptions
	sock      *zmtp.Socket
	closeOnce sync.Once
	stats     struct {
		requests, replies, requeued, expired, dismissed, invalid atomic.Int64
	}

	// owned by Run
	services map[string]*service
	workers  map[string]*bworker
	pending  int
}

type service struct {
	name     string
	requests []*request // oldest first; requeued ones at the front
	waiting  []*bworker // idle, longest waiting first
	workers  int
}

type bworker struct {
	id     []byte
	svc    *service
	expiry time.Time
	job    *request // nil when idle
}

type request struct {
	client     []byte
	body       [][]byte
	at         time.Time
	deliveries int
}

// NewBroker returns a broker with its socket, not yet bound.
func NewBroker(opts BrokerOptions) (*Broker, error) {
	opts.Heartbeat = cmp.Or(opts.Heartbeat, DefaultHeartbeat)
	opts.Liveness = cmp.Or(opts.Liveness, DefaultLiveness)
	opts.RequestExpiry = cmp.Or(opts.RequestExpiry, DefaultRequestExpiry)
	opts.MaxPending = cmp.Or(opts.MaxPending, DefaultMaxPending)
	opts.MaxDeliveries = cmp.Or(opts.MaxDeliveries, DefaultMaxDeliveries)
	if opts.Heartbeat < 0 || opts.Liveness < 0 || opts.RequestExpiry < 0 || opts.MaxPending < 0 || opts.MaxDeliveries < 0 {
		return nil, errors.New("mdp: negative BrokerOptions")
	}
	var s *zmtp.Socket
	var err error
	if opts.Context != nil {
		s, err = opts.Context.NewSocket(zmtp.Router, opts.Socket)
	} else {
		s, err = zmtp.NewSocket(zmtp.Router, opts.Socket)
	}
	if err != nil {
		return nil, err
	}
	return &Broker{opts: opts, sock: s}, nil
}

// Bind listens on ep for clients and workers; it may be called more than
// once.
func (b *Broker) Bind(ep string) error { return b.sock.Bind(ep) }

// Endpoint returns the endpoint bound last, with the port an ephemeral
// bind received.
func (b *Broker) Endpoint() string { return b.sock.LastEndpoint() }

// Close closes the broker's socket; a Run in progress returns.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { b.sock.Close() })
	return nil
}

// Stats returns the broker's counters.
func (b *Broker) Stats() BrokerStats {
	return BrokerStats{
		Requests:  b.stats.requests.Load(),
		Replies:   b.stats.replies.Load(),
		Requeued:  b.stats.requeued.Load(),
		Expired:   b.stats.expired.Load(),
		Dismissed: b.stats.dismissed.Load(),
		Invalid:   b.stats.invalid.Load(),
	}
}

// Run serves until ctx ends or the broker is closed, then closes the
// broker. It returns ctx's error or the error that ended the socket. It
// is called once.
func (b *Broker) Run(ctx context.Context) error {
	defer b.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.services = map[string]*service{}
	b.workers = map[string]*bworker{}
	msgs := make(chan zmtp.Message)
	failed := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			m, err := b.sock.Recv(ctx)
			if err != nil {
				failed <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	})
	tick := time.NewTicker(b.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case m := <-msgs:
			b.handle(ctx, m.Frames)
		case now := <-tick.C:
			b.housekeep(ctx, now)
		}
	}
}

func (b *Broker) send(ctx context.Context, m [][]byte) {
	if err := b.sock.Send(ctx, m); err != nil {
		b.log("mdp: send failed", "err", err)
	}
}

func (b *Broker) handle(ctx context.Context, f [][]byte) {
	in, err := parseInbound(f)
	if err != nil {
		b.stats.invalid.Add(1)
		b.log("mdp: dropped a message", "err", err)
		// A peer that breaks the protocol is invalid: if it was a
		// worker, it is one no longer.
		if w := b.workers[string(in.sender)]; w != nil && in.sender != nil {
			b.dismiss(ctx, w, true)
		}
		return
	}
	if !in.worker {
		b.fromClient(ctx, in)
		return
	}
	w := b.workers[string(in.sender)]
	if w != nil {
		w.expiry = time.Now().Add(b.expiry())
	}
	switch in.cmd {
	case cmdReady:
		if w != nil || strings.HasPrefix(in.service, mmiPrefix) {
			// A second READY, or a name in the broker's own namespace.
			if w == nil {
				b.stats.dismissed.Add(1)
				b.send(ctx, toWorker(in.sender, cmdDisconnect))
				return
			}
			b.dismiss(ctx, w, true)
			return
		}
		svc := b.service(in.service)
		w = &bworker{id: in.sender, svc: svc, expiry: time.Now().Add(b.expiry())}
		b.workers[string(in.sender)] = w
		svc.workers++
		svc.waiting = append(svc.waiting, w)
		b.dispatch(ctx, svc)
	case cmdReply:
		if w == nil || w.job == nil || string(w.job.client) != string(in.client) {
			// Unexpected: a worker we do not know (one we took for
			// dead, or one from before a restart), or no such request.
			b.dismissUnknown(ctx, w, in.sender)
			return
		}
		w.job = nil
		b.stats.replies.Add(1)
		b.send(ctx, clientReply(in.client, w.svc.name, in.body))
		w.svc.waiting = append(w.svc.waiting, w)
		b.dispatch(ctx, w.svc)
	case cmdHeartbeat:
		if w == nil {
			b.dismissUnknown(ctx, nil, in.sender)
		}
	case cmdDisconnect:
		if w != nil {
			b.dismiss(ctx, w, false)
		}
	}
}

func (b *Broker) dismissUnknown(ctx context.Context, w *bworker, id []byte) {
	if w != nil {
		b.dismiss(ctx, w, true)
		return
	}
	b.stats.dismissed.Add(1)
	b.send(ctx, toWorker(id, cmdDisconnect))
}

func (b *Broker) expiry() time.Duration {
	return time.Duration(b.opts.Liveness) * b.opts.Heartbeat
}

func (b *Broker) fromClient(ctx context.Context, in inbound) {
	b.stats.requests.Add(1)
	if strings.HasPrefix(in.service, mmiPrefix) {
		code := mmiNotImplement
		if in.service == mmiService {
			code = mmiNotFound
			if s := b.services[string(in.body[0])]; s != nil && s.workers > 0 {
				code = mmiFound
			}
		}
		b.stats.replies.Add(1)
		b.send(ctx, clientReply(in.sender, in.service, [][]byte{[]byte(code)}))
		return
	}
	if b.pending >= b.opts.MaxPending {
		b.stats.expired.Add(1)
		b.log("mdp: too many pending requests; dropped one", "service", in.service)
		return
	}
	svc := b.service(in.service)
	svc.requests = append(svc.requests, &request{client: in.sender, body: in.body, at: time.Now()})
	b.pending++
	b.dispatch(ctx, svc)
}

// service returns the named service, made when first needed.
func (b *Broker) service(name string) *service {
	s := b.services[name]
	if s == nil {
		s = &service{name: name}
		b.services[name] = s
	}
	return s
}

// dispatch gives the service's requests to its waiting workers.
func (b *Broker) dispatch(ctx context.Context, s *service) {
	for len(s.requests) > 0 && len(s.waiting) > 0 {
		r := s.requests[0]
		s.requests[0] = nil
		s.requests = s.requests[1:]
		b.pending--
		w := s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		w.job = r
		r.deliveries++
		b.send(ctx, workerRequest(w.id, r.client, r.body))
	}
	b.forgetIfEmpty(s)
}

func (b *Broker) forgetIfEmpty(s *service) {
	if s.workers == 0 && len(s.requests) == 0 && b.services[s.name] == s {
		delete(b.services, s.name)
	}
}

// dismiss forgets a worker, telling it so when disconnect is set, and gives
// its request back to the front of its service's queue.
func (b *Broker) dismiss(ctx context.Context, w *bworker, disconnect bool) {
	b.stats.dismissed.Add(1)
	if disconnect {
		b.send(ctx, toWorker(w.id, cmdDisconnect))
	}
	delete(b.workers, string(w.id))
	s := w.svc
	s.workers--
	for i, x := range s.waiting {
		if x == w {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			break
		}
	}
	switch r := w.job; {
	case r == nil:
	case r.deliveries >= b.opts.MaxDeliveries:
		b.stats.expired.Add(1)
		b.log("mdp: worker lost with a request given to too many workers; dropped", "service", s.name)
	default:
		b.stats.requeued.Add(1)
		s.requests = append([]*request{r}, s.requests...)
		b.pending++
		b.log("mdp: worker lost with a request; requeued", "service", s.name)
	}
	w.job = nil
	b.dispatch(ctx, s)
}

// housekeep forgets silent workers, drops requests that waited too long
// and heartbeats every worker.
func (b *Broker) housekeep(ctx context.Context, now time.Time) {
	for _, w := range b.workers {
		if now.After(w.expiry) {
			// A dead peer is sent nothing more (7/MDP); should it come
			// back, its next command is answered with DISCONNECT.
			b.log("mdp: worker silent; forgotten", "service", w.svc.name)
			b.dismiss(ctx, w, false)
		}
	}
	for _, s := range b.services {
		kept := s.requests[:0]
		for _, r := range s.requests {
			if now.Sub(r.at) > b.opts.RequestExpiry {
				b.stats.expired.Add(1)
				b.pending--
				continue
			}
			kept = append(kept, r)
		}
		clear(s.requests[len(kept):])
		s.requests = kept
		b.forgetIfEmpty(s)
	}
	for _, w := range b.workers {
		b.send(ctx, toWorker(w.id, cmdHeartbeat))
	}
}

func (b *Broker) log(msg string, args ...any) {
	if b.opts.Logger != nil {
		b.opts.Logger.Debug(msg, args...)
	}
}
