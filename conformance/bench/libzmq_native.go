package main

/*
#cgo pkg-config: libzmq
#include <zmq.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Results other than 0 (success) and a positive errno value.
enum {
	BZ_ESIZE = -1,     // a message of the wrong size
	BZ_EPARTS = -2,    // a message of more than one frame
	BZ_ENOTREADY = -3, // subscribers not ready in time
	BZ_ESTOPPED = -4,  // another thread of the run failed
	BZ_ENOCURVE = -5,  // libzmq built without CURVE
};

static int64_t bz_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bz_errno(void) {
	int e = zmq_errno();
	return e > 0 ? e : EIO;
}

static int bz_open(void *ctx, int type, int linger_ms, int timeo_ms, void **out) {
	void *s = zmq_socket(ctx, type);
	if (s == NULL)
		return bz_errno();
	if (zmq_setsockopt(s, ZMQ_LINGER, &linger_ms, sizeof linger_ms) != 0 ||
	    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeo_ms, sizeof timeo_ms) != 0 ||
	    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeo_ms, sizeof timeo_ms) != 0) {
		int e = bz_errno();
		zmq_close(s);
		return e;
	}
	*out = s;
	return 0;
}

static int bz_set_int(void *s, int opt, int v) {
	return zmq_setsockopt(s, opt, &v, sizeof v) == 0 ? 0 : bz_errno();
}

static int bz_set_bytes(void *s, int opt, const char *v, size_t len) {
	return zmq_setsockopt(s, opt, v, len) == 0 ? 0 : bz_errno();
}

// bz_bind binds s to ep and writes the endpoint it listens on into last.
static int bz_bind(void *s, const char *ep, char *last, size_t last_len) {
	if (zmq_bind(s, ep) != 0)
		return bz_errno();
	if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, last, &last_len) != 0)
		return bz_errno();
	return 0;
}

static int bz_subscribe_all(void *s) {
	return zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) == 0 ? 0 : bz_errno();
}

static int bz_connect(void *s, const char *ep) {
	return zmq_connect(s, ep) == 0 ? 0 : bz_errno();
}

// bz_curve makes server a CURVE server and client its client, each with a
// fresh key pair.
static int bz_curve(void *server, void *client) {
	char spub[41], ssec[41], cpub[41], csec[41];
	int rc;
	if (!zmq_has("curve"))
		return BZ_ENOCURVE;
	if (zmq_curve_keypair(spub, ssec) != 0 || zmq_curve_keypair(cpub, csec) != 0)
		return bz_errno();
	if ((rc = bz_set_int(server, ZMQ_CURVE_SERVER, 1)) != 0 ||
	    (rc = bz_set_bytes(server, ZMQ_CURVE_SECRETKEY, ssec, 40)) != 0 ||
	    (rc = bz_set_bytes(client, ZMQ_CURVE_SERVERKEY, spub, 40)) != 0 ||
	    (rc = bz_set_bytes(client, ZMQ_CURVE_PUBLICKEY, cpub, 40)) != 0 ||
	    (rc = bz_set_bytes(client, ZMQ_CURVE_SECRETKEY, csec, 40)) != 0)
		return rc;
	return 0;
}

// bz_send sends len octets of buf, retrying when a signal interrupts.
static int bz_send(void *s, const void *buf, size_t len) {
	for (;;) {
		if (zmq_send(s, buf, len, 0) >= 0)
			return 0;
		if (zmq_errno() != EINTR)
			return bz_errno();
	}
}

// bz_recv receives the next message into msg and returns its size, or a
// negative result (the negated errno, or BZ_EPARTS).
static long bz_recv(void *s, zmq_msg_t *msg) {
	for (;;) {
		int n = zmq_msg_recv(msg, s, 0);
		if (n >= 0) {
			if (zmq_msg_more(msg))
				return BZ_EPARTS;
			return n;
		}
		if (zmq_errno() != EINTR)
			return -bz_errno();
	}
}

// bz_recv_result turns a negative bz_recv result into a bz result.
static int bz_recv_result(long n) {
	return n == BZ_EPARTS ? BZ_EPARTS : (int)-n;
}

// bz_thr_send sends count messages of size octets, all from one buffer.
static int bz_thr_send(void *s, size_t size, long count) {
	char *buf = calloc(1, size > 0 ? size : 1);
	int rc = 0;
	if (buf == NULL)
		return ENOMEM;
	for (long i = 0; i < count && rc == 0; i++)
		rc = bz_send(s, buf, size);
	free(buf);
	return rc;
}

// bz_recv_id receives a ROUTER message's routing id into id, which must
// have a frame after it.
static int bz_recv_id(void *s, zmq_msg_t *id) {
	int n;
	while ((n = zmq_msg_recv(id, s, 0)) < 0 && zmq_errno() == EINTR)
		;
	if (n < 0)
		return bz_errno();
	return zmq_msg_more(id) ? 0 : BZ_EPARTS;
}

// bz_recv_size receives the next message into msg, which must be one frame
// of size octets.
static int bz_recv_size(void *s, zmq_msg_t *msg, size_t size) {
	long n = bz_recv(s, msg);
	if (n < 0)
		return bz_recv_result(n);
	return (size_t)n == size ? 0 : BZ_ESIZE;
}

// bz_thr_recv receives count messages of size octets into reused
// zmq_msg_ts and stores the time from the first message to the last. On
// a ROUTER (routed set), each message is a routing id and then the body.
static int bz_thr_recv(void *s, int routed, size_t size, long count, double *seconds) {
	zmq_msg_t id, body;
	int64_t first = 0;
	int rc = 0;
	zmq_msg_init(&id);
	zmq_msg_init(&body);
	for (long i = 0; i < count; i++) {
		if (routed && (rc = bz_recv_id(s, &id)) != 0)
			break;
		if ((rc = bz_recv_size(s, &body, size)) != 0)
			break;
		if (i == 0)
			first = bz_now();
	}
	*seconds = (double)(bz_now() - first) / 1e9;
	zmq_msg_close(&id);
	zmq_msg_close(&body);
	return rc;
}

// bz_lat_req makes warm unmeasured round trips, then count measured ones,
// storing each one's duration in nanoseconds in samples[0..count) and the
// time of the measured ones together in *seconds.
static int bz_lat_req(void *s, size_t size, long warm, long count, int64_t *samples, double *seconds) {
	char *buf = calloc(1, size > 0 ? size : 1);
	zmq_msg_t msg;
	int64_t start = 0;
	int rc = 0;
	if (buf == NULL)
		return ENOMEM;
	zmq_msg_init(&msg);
	for (long i = 0; i < warm + count; i++) {
		if (i == warm)
			start = bz_now();
		int64_t t0 = bz_now();
		if ((rc = bz_send(s, buf, size)) != 0)
			break;
		if ((rc = bz_recv_size(s, &msg, size)) != 0)
			break;
		if (i >= warm)
			samples[i - warm] = bz_now() - t0;
	}
	*seconds = (double)(bz_now() - start) / 1e9;
	zmq_msg_close(&msg);
	free(buf);
	return rc;
}

// bz_lat_rep echoes n requests, sending back the message it received.
static int bz_lat_rep(void *s, long n) {
	zmq_msg_t msg;
	int rc = 0;
	zmq_msg_init(&msg);
	for (long i = 0; i < n && rc == 0; i++) {
		long got = bz_recv(s, &msg);
		if (got < 0) {
			rc = bz_recv_result(got);
			break;
		}
		while (zmq_msg_send(&msg, s, 0) < 0) {
			if (zmq_errno() != EINTR) {
				rc = bz_errno();
				break;
			}
		}
	}
	zmq_msg_close(&msg);
	return rc;
}

// bz_fan is shared by the publisher and the subscribers of one run.
typedef struct {
	int ready; // subscribers that have received a message
	int stop;  // set when any of them fails
} bz_fan;

// bz_sub_loop runs one subscriber (whose receive timeout is short): it
// counts itself ready at its first message, skips probes, and stores the
// times of the first and last of count data messages.
static int bz_sub_loop(void *s, size_t size, long count, bz_fan *f, int64_t timeout_ns,
                       int64_t *first, int64_t *last) {
	zmq_msg_t msg;
	int64_t deadline = bz_now() + timeout_ns;
	int readied = 0, rc = 0;
	long got = 0;
	zmq_msg_init(&msg);
	while (got < count) {
		long n = bz_recv(s, &msg);
		if (n < 0) {
			if (n == -EAGAIN && !__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) && bz_now() < deadline)
				continue;
			rc = __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) ? BZ_ESTOPPED : bz_recv_result(n);
			break;
		}
		if (!readied) {
			__atomic_fetch_add(&f->ready, 1, __ATOMIC_ACQ_REL);
			readied = 1;
		}
		if (n == 1 && ((const char *)zmq_msg_data(&msg))[0] == 'P')
			continue;
		if ((size_t)n != size) {
			rc = BZ_ESIZE;
			break;
		}
		if (++got == 1)
			*first = bz_now();
	}
	*last = bz_now();
	zmq_msg_close(&msg);
	if (rc != 0)
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	return rc;
}

// bz_pub_run sends a one-octet probe 'P' every millisecond until subs
// subscribers are ready (within wait_ns), then count data messages of size
// octets starting with 'D'.
static int bz_pub_run(void *s, size_t size, long count, int subs, bz_fan *f, int64_t wait_ns) {
	int64_t deadline = bz_now() + wait_ns;
	struct timespec ms = {0, 1000000};
	char *buf;
	int rc = 0;
	while (__atomic_load_n(&f->ready, __ATOMIC_ACQUIRE) < subs) {
		if (__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE))
			return BZ_ESTOPPED;
		if (bz_now() > deadline) {
			rc = BZ_ENOTREADY;
			goto out;
		}
		if ((rc = bz_send(s, "P", 1)) != 0)
			goto out;
		nanosleep(&ms, NULL);
	}
	buf = calloc(1, size > 0 ? size : 1);
	if (buf == NULL) {
		rc = ENOMEM;
		goto out;
	}
	if (size > 0)
		buf[0] = 'D';
	for (long i = 0; i < count && rc == 0; i++)
		rc = bz_send(s, buf, size);
	free(buf);
out:
	if (rc != 0)
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	return rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// libzmqC drives libzmq with every message loop in C: the sender calls
// zmq_send with one reused buffer, the receiver zmq_msg_recv into one
// reused zmq_msg_t, and the receiver times the first to the last message
// with clock_gettime(CLOCK_MONOTONIC). The sender and the receiver are
// each one goroutine blocked in one cgo call for the whole run, so no cgo
// call or Go copy is paid per message. Over tcp the sending and receiving
// sockets live in separate contexts, each with its own I/O thread; inproc
// uses one context.
type libzmqC struct{}

// cErr turns a result of the C helpers into an error.
func cErr(rc C.int) error {
	switch rc {
	case 0:
		return nil
	case C.BZ_ESIZE:
		return errors.New("received a message of the wrong size")
	case C.BZ_EPARTS:
		return errors.New("received a message of more than one frame")
	case C.BZ_ENOTREADY:
		return fmt.Errorf("subscribers not ready after %v", readyWait)
	case C.BZ_ESTOPPED:
		return errors.New("stopped: another part of the run failed")
	case C.BZ_ENOCURVE:
		return errors.New("libzmq built without CURVE")
	}
	return fmt.Errorf("libzmq: %s (errno %d)", C.GoString(C.zmq_strerror(rc)), int(rc))
}

// cEnv is a libzmq context and its sockets, closed together.
type cEnv struct {
	ctx   unsafe.Pointer
	socks []unsafe.Pointer
}

func newCEnv() (*cEnv, error) {
	ctx := C.zmq_ctx_new()
	if ctx == nil {
		return nil, errors.New("zmq_ctx_new failed")
	}
	return &cEnv{ctx: ctx}, nil
}

// socket returns a socket with the given linger whose blocking calls time
// out after timeout.
func (e *cEnv) socket(typ C.int, linger, timeout time.Duration) (unsafe.Pointer, error) {
	var s unsafe.Pointer
	if err := cErr(C.bz_open(e.ctx, typ, C.int(linger.Milliseconds()), C.int(timeout.Milliseconds()), &s)); err != nil {
		return nil, err
	}
	e.socks = append(e.socks, s)
	return s, nil
}

// close closes every socket and terminates the context.
func (e *cEnv) close() error {
	var errs []error
	for _, s := range e.socks {
		if rc, errno := C.zmq_close(s); rc != 0 {
			errs = append(errs, fmt.Errorf("zmq_close: %w", errno))
		}
	}
	if err := ctxTerm(e.ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ctxTerm terminates a libzmq context, restarting the call when a signal
// interrupts it (EINTR), as libzmq's documentation asks: the Go runtime's
// preemption signals reach the thread blocked in it.
func ctxTerm(ctx unsafe.Pointer) error {
	for {
		rc, errno := C.zmq_ctx_term(ctx)
		if rc == 0 {
			return nil
		}
		if errno != syscall.EINTR {
			return fmt.Errorf("zmq_ctx_term: %w", errno)
		}
	}
}

// cBind binds s to ep and returns the endpoint it listens on.
func cBind(s unsafe.Pointer, ep string) (string, error) {
	cep := C.CString(ep)
	defer C.free(unsafe.Pointer(cep))
	var last [256]C.char
	if err := cErr(C.bz_bind(s, cep, &last[0], C.size_t(len(last)))); err != nil {
		return "", fmt.Errorf("bind %s: %w", ep, err)
	}
	return C.GoString(&last[0]), nil
}

// cConnect connects s to ep.
func cConnect(s unsafe.Pointer, ep string) error {
	cep := C.CString(ep)
	defer C.free(unsafe.Pointer(cep))
	if err := cErr(C.bz_connect(s, cep)); err != nil {
		return fmt.Errorf("connect %s: %w", ep, err)
	}
	return nil
}

// cSeconds is a duration the C helpers measured.
func cSeconds(secs C.double) time.Duration { return time.Duration(float64(secs) * 1e9) }

// cStream measures senders streaming per messages of size octets each to
// recv (a ROUTER if routed), one thread per sender, each blocked in one C
// call, as is the receiver. On failure the senders end at their send
// timeout at the latest.
func cStream(senders []unsafe.Pointer, recv unsafe.Pointer, routed bool, per, size int) (childResult, error) {
	sent := make(chan error, len(senders))
	for _, s := range senders {
		go func() { sent <- cErr(C.bz_thr_send(s, C.size_t(size), C.long(per))) }()
	}
	var secs C.double
	var cRouted C.int
	if routed {
		cRouted = 1
	}
	n := per * len(senders)
	errs := []error{cErr(C.bz_thr_recv(recv, cRouted, C.size_t(size), C.long(n), &secs))}
	for range senders {
		errs = append(errs, <-sent)
	}
	if err := errors.Join(errs...); err != nil {
		return childResult{}, err
	}
	return thrResult(n, cSeconds(secs)), nil
}

// cLatency makes warmups(count) round trips of size octets on req, then
// count measured ones, all in one C call.
func cLatency(req unsafe.Pointer, size, count int) (childResult, error) {
	ns := make([]int64, count)
	var secs C.double
	if err := cErr(C.bz_lat_req(req, C.size_t(size), C.long(warmups(count)), C.long(count),
		(*C.int64_t)(unsafe.Pointer(&ns[0])), &secs)); err != nil {
		return childResult{}, err
	}
	samples := make([]time.Duration, count)
	for i, v := range ns {
		samples[i] = time.Duration(v)
	}
	return latResult(samples, cSeconds(secs)), nil
}

func (libzmqC) pushPull(tr transport, size, count int) (res childResult, err error) {
	renv, senv, closeAll, err := twoEnvs(tr == inproc, newCEnv)
	if err != nil {
		return res, err
	}
	defer closeAll(&err)
	pull, err := renv.socket(C.ZMQ_PULL, 0, runTimeout)
	if err != nil {
		return res, err
	}
	push, err := senv.socket(C.ZMQ_PUSH, senderLinger, runTimeout)
	if err != nil {
		return res, err
	}
	if tr == curve {
		if err := cErr(C.bz_curve(pull, push)); err != nil {
			return res, err
		}
	}
	ep, err := cBind(pull, trEndpoint(tr))
	if err != nil {
		return res, err
	}
	if err := cConnect(push, ep); err != nil {
		return res, err
	}
	return cStream([]unsafe.Pointer{push}, pull, false, count, size)
}

func (libzmqC) reqRep(size, count int) (res childResult, err error) {
	renv, senv, closeAll, err := twoEnvs(false, newCEnv)
	if err != nil {
		return res, err
	}
	defer closeAll(&err)
	rep, err := renv.socket(C.ZMQ_REP, 0, runTimeout)
	if err != nil {
		return res, err
	}
	req, err := senv.socket(C.ZMQ_REQ, 0, runTimeout)
	if err != nil {
		return res, err
	}
	ep, err := cBind(rep, "tcp://127.0.0.1:*")
	if err != nil {
		return res, err
	}
	if err := cConnect(req, ep); err != nil {
		return res, err
	}
	// Without abort: the echo goroutine ends at its receive timeout.
	return runAlongside(func() error { return cErr(C.bz_lat_rep(rep, C.long(warmups(count)+count))) }, nil,
		func() (childResult, error) { return cLatency(req, size, count) })
}

func (libzmqC) pubSub(subs, size, count int) (res childResult, err error) {
	renv, senv, closeAll, err := twoEnvs(false, newCEnv)
	if err != nil {
		return res, err
	}
	defer closeAll(&err)
	// XPUB with ZMQ_XPUB_NODROP, as for the others: no drops at the HWM.
	pub, err := senv.socket(C.ZMQ_XPUB, senderLinger, runTimeout)
	if err != nil {
		return res, err
	}
	if err := cErr(C.bz_set_int(pub, C.ZMQ_XPUB_NODROP, 1)); err != nil {
		return res, err
	}
	ep, err := cBind(pub, "tcp://127.0.0.1:*")
	if err != nil {
		return res, err
	}
	// Shared by threads running at once, so allocated by C.
	fan := (*C.bz_fan)(C.calloc(1, C.size_t(unsafe.Sizeof(C.bz_fan{}))))
	defer C.free(unsafe.Pointer(fan))
	first := make([]int64, subs)
	lastAt := make([]int64, subs)
	errs := make([]error, subs)
	var wg sync.WaitGroup
	for i := range subs {
		// Receives wake every so often to see whether the run was
		// abandoned.
		sub, err := renv.socket(C.ZMQ_SUB, 0, 200*time.Millisecond)
		if err != nil {
			return res, err
		}
		if err := cErr(C.bz_subscribe_all(sub)); err != nil {
			return res, err
		}
		if err := cConnect(sub, ep); err != nil {
			return res, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cErr(C.bz_sub_loop(sub, C.size_t(size), C.long(count), fan, C.int64_t(runTimeout),
				(*C.int64_t)(unsafe.Pointer(&first[i])), (*C.int64_t)(unsafe.Pointer(&lastAt[i]))))
		}()
	}
	err = cErr(C.bz_pub_run(pub, C.size_t(size), C.long(count), C.int(subs), fan, C.int64_t(readyWait)))
	wg.Wait()
	if err = errors.Join(append(errs, err)...); err != nil {
		return res, err
	}
	d := time.Duration(slices.Max(lastAt) - slices.Min(first)).Seconds()
	if d <= 0 {
		d = 1e-9
	}
	return childResult{Rate: float64(subs*(count-1)) / d, Seconds: d}, nil
}

func (libzmqC) routerDealer(peers, size, count int) (res childResult, err error) {
	renv, senv, closeAll, err := twoEnvs(false, newCEnv)
	if err != nil {
		return res, err
	}
	defer closeAll(&err)
	router, err := renv.socket(C.ZMQ_ROUTER, 0, runTimeout)
	if err != nil {
		return res, err
	}
	ep, err := cBind(router, "tcp://127.0.0.1:*")
	if err != nil {
		return res, err
	}
	var socks []unsafe.Pointer
	for range peers {
		d, err := senv.socket(C.ZMQ_DEALER, senderLinger, runTimeout)
		if err != nil {
			return res, err
		}
		if err := cConnect(d, ep); err != nil {
			return res, err
		}
		socks = append(socks, d)
	}
	return cStream(socks, router, true, count/peers, size)
}

func (libzmqC) repServe(announce func(ep string), n int) (err error) {
	env, err := newCEnv()
	if err != nil {
		return err
	}
	defer closeEnvInto(env, &err)
	// Linger, so that the last reply is delivered after the close.
	rep, err := env.socket(C.ZMQ_REP, senderLinger, runTimeout)
	if err != nil {
		return err
	}
	ep, err := cBind(rep, "tcp://127.0.0.1:*")
	if err != nil {
		return err
	}
	announce(ep)
	return cErr(C.bz_lat_rep(rep, C.long(n)))
}

func (libzmqC) reqLatency(ep string, size, count int) (res childResult, err error) {
	env, err := newCEnv()
	if err != nil {
		return res, err
	}
	defer closeEnvInto(env, &err)
	req, err := env.socket(C.ZMQ_REQ, 0, runTimeout)
	if err != nil {
		return res, err
	}
	if err := cConnect(req, ep); err != nil {
		return res, err
	}
	return cLatency(req, size, count)
}

// libzmqVersion is the version of the libzmq linked here.
func libzmqVersion() string {
	var major, minor, patch C.int
	C.zmq_version(&major, &minor, &patch)
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}
