package conformance

// Lifecycle cases: what happens around a socket's messages rather than to
// them. Close with each Linger, routing ids, a duplicate routing id, a
// mesh of ROUTERs, failures that must reach the caller and a high-water
// mark without limit.
//
// Each scenario runs in up to two roles. In RoleOurs the socket under
// test is ours, against libzmq peers (or, for the mesh, ours too). In
// RoleLibzmq the same scenario runs with a libzmq socket in its place:
// the reference, so that the suite pins libzmq's behaviour beside ours.
// Where the two differ, the scenario says so and asserts each.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// Roles of the lifecycle cases: whose socket is under test.
const (
	RoleOurs   = "ours"   // our socket, libzmq's peers
	RoleLibzmq = "libzmq" // libzmq's socket in the same place: the reference
)

var (
	bothSides = []string{RoleOurs, RoleLibzmq}
	oursOnly  = []string{RoleOurs}
)

// lifeTimeout bounds one lifecycle case, within CaseTimeout.
const lifeTimeout = 14 * time.Second

// lifeScenarios lists the lifecycle scenarios in the order of the matrix.
func lifeScenarios() []sockScenario {
	return []sockScenario{
		{"Linger-default-PULL-bound", sockTransports, bothSides, lingerPeerBound},
		{"Linger-default-PULL-binds-after-Close", sockTransports, bothSides, lingerPeerLate},
		{"Linger-5s-PULL-binds-after-Close", sockTransports, bothSides, lingerFiveSeconds},
		{"Linger-0-PULL-never-binds", sockTransports, bothSides, lingerNone},
		{"Linger-300ms-PULL-never-binds", sockTransports, bothSides, lingerShort},
		{"Linger-default-CloseContext-cancelled", sockTransports, bothSides, lingerCloseContext},
		{"Linger-default-slow-PULL", sockTransports, bothSides, lingerSlowReader},
		{"Close-NoLinger-after-delivery-discards-nothing", sockTransports, oursOnly, closeAfterDelivery},
		{"HWM-unlimited-PUSH-PULL-not-reading", sockTransports, bothSides, hwmUnlimited},

		{"ROUTER-libzmq-DEALER-id-00-FF-bin", sockTransports, bothSides, routerZeroID},
		{"DEALER-id-00-FF-bin-libzmq-ROUTER", sockTransports, bothSides, dealerZeroID},
		{"ROUTER-duplicate-id-second-libzmq-DEALER-waits", tcpOnly, bothSides, routerDuplicateWaits},
		{"ROUTER-duplicate-id-monitor-reports-second-handshake", tcpOnly, bothSides, routerDuplicateHandshake},
		// Ours beside a libzmq ROUTER loses more first messages than two
		// libzmq ROUTERs (see oursLibzmqMeshLost); only the reference runs.
		{"ROUTER-ROUTER-mesh-with-libzmq-first-message", tcpOnly, []string{RoleLibzmq}, meshWithLibzmq},
		{"ROUTER-ROUTER-mesh-ours-first-message", tcpOnly, oursOnly, meshOurs},

		{"PLAIN-refused-Recv-returns-EndpointError", tcpOnly, oursOnly, plainRefusedReachesCaller},
		{"CURVE-wrong-server-key-Err-retrying", tcpOnly, oursOnly, curveWrongKeyReachesCaller},
		{"SUB-libzmq-PUSH-Recv-returns-socket-type-error", tcpOnly, oursOnly, subPushReachesCaller},
		{"PUB-libzmq-PUSH-Err-socket-type-error", tcpOnly, oursOnly, pubPushReachesCaller},
	}
}

// lifecycleCases returns every lifecycle scenario on each of its
// transports in each of its roles.
func lifecycleCases() []Case {
	return scenarioCases(lifeScenarios(), lifeTimeout)
}

// closeResult is what a Close (ours) or a zmq_close with zmq_ctx_term
// (libzmq's) returned, and how long it took.
type closeResult struct {
	err  error
	took time.Duration
	end  time.Time // when it returned
}

// closeOp is a close running in a goroutine.
type closeOp struct {
	fin chan struct{} // closed once it returned
	res closeResult   // valid once fin is closed
}

// closing runs fn in a goroutine, timed. started is closed just before
// fn is called.
func closing(fn func() error) (started <-chan struct{}, op *closeOp) {
	st := make(chan struct{})
	op = &closeOp{fin: make(chan struct{})}
	go func() {
		t0 := time.Now()
		close(st)
		err := fn()
		end := time.Now()
		op.res = closeResult{err: err, took: end.Sub(t0), end: end}
		close(op.fin)
	}()
	return st, op
}

// waitClosed waits for a close started with closing.
func waitClosed(ctx context.Context, who string, op *closeOp) (closeResult, error) {
	select {
	case <-op.fin:
		return op.res, nil
	case <-ctx.Done():
		return closeResult{}, fmt.Errorf("%s has not returned: %w", who, ctx.Err())
	}
}

// returned reports whether a close has returned, and its result.
func (op *closeOp) returned() (closeResult, bool) {
	select {
	case <-op.fin:
		return op.res, true
	default:
		return closeResult{}, false
	}
}

// undelivered returns the count of an *zmtp.UndeliveredError, or -1 when
// err is not one.
func undelivered(err error) int {
	var ue *zmtp.UndeliveredError
	if errors.As(err, &ue) {
		return ue.Messages
	}
	return -1
}
