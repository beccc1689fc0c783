package main

/*
#cgo pkg-config: libzmq
#include <zmq.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int sv_errno(void) {
	int e = zmq_errno();
	return e > 0 ? e : EIO;
}

static int sv_setint(void *s, int opt, int v) {
	return zmq_setsockopt(s, opt, &v, sizeof v) == 0 ? 0 : sv_errno();
}

// sv_router opens a ROUTER listening on ep (the address it got is written
// into last) with the given handshake timeout and listen backlog, and a
// PAIR socket, *mon, that receives its handshake, disconnection and
// handshake failure events; receives on *mon time out after 200 ms.
static int sv_router(void *ctx, const char *ep, int handshake_ms, int backlog, char *last, size_t last_len,
                     void **out, void **mon) {
	void *s = zmq_socket(ctx, ZMQ_ROUTER);
	void *m = NULL;
	int rc;
	if (s == NULL)
		return sv_errno();
	if ((rc = sv_setint(s, ZMQ_LINGER, 0)) != 0 || (rc = sv_setint(s, ZMQ_HANDSHAKE_IVL, handshake_ms)) != 0 ||
	    (rc = sv_setint(s, ZMQ_BACKLOG, backlog)) != 0)
		goto fail;
	if (zmq_socket_monitor(s, "inproc://bench-monitor",
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
		rc = sv_errno();
		goto fail;
	}
	m = zmq_socket(ctx, ZMQ_PAIR);
	if (m == NULL) {
		rc = sv_errno();
		goto fail;
	}
	if ((rc = sv_setint(m, ZMQ_LINGER, 0)) != 0 || (rc = sv_setint(m, ZMQ_RCVTIMEO, 200)) != 0)
		goto fail;
	if (zmq_connect(m, "inproc://bench-monitor") != 0 || zmq_bind(s, ep) != 0 ||
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, last, &last_len) != 0) {
		rc = sv_errno();
		goto fail;
	}
	*out = s;
	*mon = m;
	return 0;
fail:
	if (m != NULL)
		zmq_close(m);
	zmq_close(s);
	return rc;
}

// sv_event receives the next monitor event and returns its number: 0 when
// none came within the receive timeout, a negated errno on failure.
static int sv_event(void *mon) {
	zmq_msg_t msg;
	uint16_t ev = 0;
	int more;
	zmq_msg_init(&msg);
	for (;;) {
		int n = zmq_msg_recv(&msg, mon, 0);
		if (n >= 0)
			break;
		int e = zmq_errno();
		if (e == EINTR)
			continue;
		zmq_msg_close(&msg);
		return e == EAGAIN ? 0 : -e;
	}
	if (zmq_msg_size(&msg) >= sizeof ev)
		memcpy(&ev, zmq_msg_data(&msg), sizeof ev);
	more = zmq_msg_more(&msg);
	// The second frame is the endpoint.
	while (more) {
		if (zmq_msg_recv(&msg, mon, 0) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			break;
		}
		more = zmq_msg_more(&msg);
	}
	zmq_msg_close(&msg);
	return ev;
}

// sv_pub opens a PUB listening on ep; the address it got is written into
// last.
static int sv_pub(void *ctx, const char *ep, char *last, size_t last_len, void **out) {
	void *s = zmq_socket(ctx, ZMQ_PUB);
	int rc;
	if (s == NULL)
		return sv_errno();
	if ((rc = sv_setint(s, ZMQ_LINGER, 0)) != 0) {
		zmq_close(s);
		return rc;
	}
	if (zmq_bind(s, ep) != 0 || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, last, &last_len) != 0) {
		rc = sv_errno();
		zmq_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

// sv_stream sends a message of size octets starting with first, then
// sleeps period_ns, until *stop is set.
static int sv_stream(void *s, size_t size, char first, int64_t period_ns, int *stop) {
	char *buf = calloc(1, size > 0 ? size : 1);
	struct timespec ts = {period_ns / 1000000000, period_ns % 1000000000};
	int rc = 0;
	if (buf == NULL)
		return ENOMEM;
	buf[0] = first;
	while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
		if (zmq_send(s, buf, size, 0) < 0 && zmq_errno() != EINTR && zmq_errno() != EAGAIN) {
			rc = sv_errno();
			break;
		}
		nanosleep(&ts, NULL);
	}
	free(buf);
	return rc;
}

static void sv_stop(int *stop) { __atomic_store_n(stop, 1, __ATOMIC_RELEASE); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// The servers of the resource workloads on libzmq, driven from C as the
// libzmq-c implementation is: the stream's loop runs in C, and the
// monitor events are read with one call each.

// cListenBacklog is the listen backlog of libzmq's ROUTER (ZMQ_BACKLOG,
// 100 by default), set to what Go's listeners get on Linux
// (net.core.somaxconn, 4096 here) so that connections arriving in a burst
// are not refused.
const cListenBacklog = 4096

func svErr(rc C.int) error {
	if rc == 0 {
		return nil
	}
	return fmt.Errorf("libzmq: %s (errno %d)", C.GoString(C.zmq_strerror(rc)), int(rc))
}

// cRouter is libzmq's ROUTER with its monitor read by a goroutine.
type cRouter struct {
	ctx, s, mon unsafe.Pointer
	ep          string
	ev          *eventCounts
	stop        chan struct{}
	done        sync.WaitGroup
	monErr      error
}

func newCRouter() (*cRouter, error) {
	ctx := C.zmq_ctx_new()
	if ctx == nil {
		return nil, errors.New("zmq_ctx_new failed")
	}
	r := &cRouter{ctx: ctx, ev: newEventCounts(), stop: make(chan struct{})}
	ep := C.CString("tcp://127.0.0.1:*")
	defer C.free(unsafe.Pointer(ep))
	var last [256]C.char
	if err := svErr(C.sv_router(ctx, ep, C.int(serverHandshakeTimeout.Milliseconds()), cListenBacklog,
		&last[0], C.size_t(len(last)), &r.s, &r.mon)); err != nil {
		ctxTerm(ctx)
		return nil, err
	}
	r.ep = C.GoString(&last[0])
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		for {
			select {
			case <-r.stop:
				return
			default:
			}
			switch ev := C.sv_event(r.mon); {
			case ev < 0:
				r.monErr = svErr(-ev)
				return
			case ev == C.ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
				r.ev.add(true)
			case ev != 0:
				r.ev.add(false)
			}
		}
	}()
	return r, nil
}

func (r *cRouter) endpoint() string     { return r.ep }
func (r *cRouter) events() *eventCounts { return r.ev }
func (r *cRouter) close() error {
	close(r.stop)
	r.done.Wait()
	var errs []error
	if rc, errno := C.zmq_close(r.s); rc != 0 {
		errs = append(errs, fmt.Errorf("zmq_close: %w", errno))
	}
	if rc, errno := C.zmq_close(r.mon); rc != 0 {
		errs = append(errs, fmt.Errorf("zmq_close: %w", errno))
	}
	if err := ctxTerm(r.ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(append(errs, r.monErr)...)
}

// cPub is libzmq's PUB with the stream sent by a loop in C.
type cPub struct {
	ctx, s unsafe.Pointer
	ep     string
	stop   *C.int // shared with the C loop, so allocated by C
	done   chan error
}

func newCPub() (*cPub, error) {
	ctx := C.zmq_ctx_new()
	if ctx == nil {
		return nil, errors.New("zmq_ctx_new failed")
	}
	p := &cPub{ctx: ctx, done: make(chan error, 1)}
	ep := C.CString("tcp://127.0.0.1:*")
	defer C.free(unsafe.Pointer(ep))
	var last [256]C.char
	if err := svErr(C.sv_pub(ctx, ep, &last[0], C.size_t(len(last)), &p.s)); err != nil {
		ctxTerm(ctx)
		return nil, err
	}
	p.ep = C.GoString(&last[0])
	p.stop = (*C.int)(C.calloc(1, C.size_t(unsafe.Sizeof(C.int(0)))))
	go func() {
		p.done <- svErr(C.sv_stream(p.s, streamSize, streamByte, C.int64_t(streamPeriod.Nanoseconds()), p.stop))
	}()
	return p, nil
}

func (p *cPub) endpoint() string     { return p.ep }
func (p *cPub) events() *eventCounts { return nil }
func (p *cPub) close() error {
	C.sv_stop(p.stop)
	err := <-p.done
	C.free(unsafe.Pointer(p.stop))
	errs := []error{err}
	if rc, errno := C.zmq_close(p.s); rc != 0 {
		errs = append(errs, fmt.Errorf("zmq_close: %w", errno))
	}
	if err := ctxTerm(p.ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
