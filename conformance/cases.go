// Package conformance checks this module's ZMTP connections against libzmq,
// the reference implementation, over TCP on the loopback interface.
//
// Each Case is one scenario in one role: either we dial a port libzmq has
// bound (WeDial) or libzmq connects to our listener (WeListen). Our side is
// a single zmtp.Conn; the libzmq side is a socket of the named type, driven
// through github.com/pebbe/zmq4. A scenario named "X-Y" pairs our X with
// libzmq's Y. The tests of this package and the cmd/matrix program run the
// same cases, one after another, each bounded by CaseTimeout.
//
// This is a separate module because it needs cgo and libzmq (4.3 or later,
// found with pkg-config: on Debian and Ubuntu, the libzmq3-dev package):
//
//	cd conformance
//	go test -race -count=1 -v ./...   # ends with the matrix
//	go run ./cmd/matrix               # the matrix alone, as Markdown
package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Roles: who opens the TCP connection.
const (
	WeDial   = "we-dial"   // libzmq binds, we dial
	WeListen = "we-listen" // we listen, libzmq connects
)

// Roles lists both roles, in the order cases are run.
var Roles = []string{WeDial, WeListen}

// CaseTimeout bounds every case.
const CaseTimeout = 15 * time.Second

// Case is one scenario in one role.
type Case struct {
	Name string // scenario, such as "PUSH-PULL": our socket type first
	Role string // WeDial or WeListen
	// Run runs the case; it returns when done or soon after ctx ends.
	Run func(ctx context.Context) error
}

// Result is the outcome of a case.
type Result struct {
	Name, Role string
	Err        error
	Elapsed    time.Duration
}

// Exec runs c bounded by CaseTimeout.
func (c Case) Exec(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, CaseTimeout)
	defer cancel()
	t0 := time.Now()
	err := c.Run(ctx)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("ran out of time: %w", ctx.Err())
	}
	return Result{Name: c.Name, Role: c.Role, Err: err, Elapsed: time.Since(t0)}
}

type scenario struct {
	name string
	run  func(ctx context.Context, role string) error
}

// scenarios, in the order of the matrix.
var scenarios = []scenario{
	{"PUSH-PULL", pushToPull},
	{"PULL-PUSH", pullFromPush},
	{"PAIR-PAIR", pairBothWays},
	{"DEALER-ROUTER", dealerToRouter},
	{"ROUTER-DEALER", routerToDealer},
	{"metadata-to-libzmq", metadata},
	{"multipart-out", multipartOut},
	{"multipart-in", multipartIn},
	{"10k-in-order-out", manyInOrder(true)},
	{"10k-in-order-in", manyInOrder(false)},
	{"heartbeat-libzmq-pings", libzmqPings},
	{"heartbeat-libzmq-drops-silent-peer", dropScenarios["libzmq-drops-silent-peer"].run},
	{"heartbeat-our-pings", ourPings},
	{"heartbeat-our-ttl", dropScenarios["our-ttl"].run},
	{"heartbeat-libzmq-ttl", dropScenarios["libzmq-ttl"].run},
	{"heartbeat-our-timeout", dropScenarios["our-timeout"].run},
	{"heartbeat-timeout-0-libzmq-keeps-mute-peer", libzmqNoTimeout},
	{"heartbeat-no-timeout-ours-keeps-deaf-link", ourNoTimeout},
	{"heartbeat-libzmq-ttl-we-consume-slowly", slowConsumerOurs},
	{"heartbeat-our-ttl-libzmq-consumes-slowly", slowConsumerLibzmq},
	{"max-message-size-ours", ourMaxMessageSize},
	{"max-message-size-libzmq", libzmqMaxMessageSize},
	{"close-flushes-queue", closeFlushes},
	{"libzmq-closes", libzmqCloses},
	{"mismatch-PUSH-PUB", mismatch("PUSH", "PUB")},
	{"mismatch-REQ-REQ", mismatch("REQ", "REQ")},
	{"mismatch-DEALER-PAIR", mismatch("DEALER", "PAIR")},
	{"mismatch-raw-PUB-PULL", rawMismatch},
	{"mismatch-raw-NULL", rawMechMismatch("NULL", false)},
	{"mismatch-raw-PLAIN-libzmq-server", rawMechMismatch("PLAIN", false)},
	{"mismatch-raw-PLAIN-libzmq-client", rawMechMismatch("PLAIN", true)},
	{"mismatch-raw-CURVE-libzmq-server", rawMechMismatch("CURVE", false)},
	{"mismatch-raw-CURVE-libzmq-client", rawMechMismatch("CURVE", true)},
	{"ZMTP-3.0-PAIR", zmtp30Pair},
	{"PUB-SUB", pubToSub(false)},
	{"PUB-SUB-ZMTP-3.0", pubToSub(true)},
	{"SUB-PUB", subFromPub(false)},
	{"SUB-PUB-ZMTP-3.0", subFromPub(true)},
}

// Cases returns every scenario in every role.
func Cases() []Case {
	var out []Case
	for _, s := range scenarios {
		for _, role := range Roles {
			out = append(out, Case{
				Name: s.name,
				Role: role,
				Run:  func(ctx context.Context) error { return s.run(ctx, role) },
			})
		}
	}
	out = append(out, securityCases()...)
	out = append(out, socketCases()...)
	out = append(out, lifecycleCases()...)
	out = append(out, legacyCases()...)
	out = append(out, goZeromqCases()...)
	out = append(out, nodeCases()...)
	out = append(out, nodeSecurityCases()...)
	out = append(out, nodeRadioCases()...)
	out = append(out, nodeDraftCases()...)
	out = append(out, nodeDropCases()...)
	return out
}

// RunAll runs cases one after another; report, when not nil, is called
// after each.
func RunAll(ctx context.Context, cases []Case, report func(Result)) []Result {
	var out []Result
	for _, c := range cases {
		r := c.Exec(ctx)
		out = append(out, r)
		if report != nil {
			report(r)
		}
	}
	return out
}

// Failed reports whether any result is a failure.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Err != nil {
			return true
		}
	}
	return false
}

// Markdown formats results as a Markdown table of case, role and result,
// followed by the failures' errors, if any.
func Markdown(rs []Result) string {
	var b strings.Builder
	b.WriteString("| Case | Role | Result |\n|---|---|---|\n")
	for _, r := range rs {
		res := "PASS"
		if r.Err != nil {
			res = "FAIL"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Name, r.Role, res)
	}
	var failed []string
	for _, r := range rs {
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("- %s %s: %v", r.Name, r.Role, r.Err))
		}
	}
	if len(failed) > 0 {
		b.WriteString("\nFailures:\n\n" + strings.Join(failed, "\n") + "\n")
	}
	return b.String()
}

// finish joins a case's error with the error of releasing its fixture.
func finish(err *error, f *fixture) {
	if f == nil {
		return
	}
	if cerr := f.close(); cerr != nil {
		*err = errors.Join(*err, fmt.Errorf("cleanup: %w", cerr))
	}
}
