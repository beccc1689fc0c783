package conformance

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// NULL with authentication: libzmq's REQ, a NULL client, against our REP,
// a NULL socket with an Authenticator (as libzmq's NULL with a ZAP domain).

// nullAuth accepts NULL peers of the conformance domain when accept is
// set, and counts the requests it gets.
func nullAuth(accept bool, seen *atomic.Int32) mechanism.Authenticator {
	return mechanism.AuthenticatorFunc(func(_ context.Context, r *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
		seen.Add(1)
		if r.Mechanism != "NULL" || r.Domain != secDomain || len(r.Credentials) != 0 || r.Address != "127.0.0.1" {
			return mechanism.ZAPResponse{StatusCode: 500, StatusText: fmt.Sprintf("unexpected request %+v", r)}, nil
		}
		if !accept {
			return mechanism.ZAPResponse{StatusCode: 400, StatusText: "not today"}, nil
		}
		return mechanism.ZAPResponse{StatusCode: 200, UserID: secUserID}, nil
	})
}

func nullSetup(accept bool, seen *atomic.Int32) secSetup {
	return secSetup{
		zmqType: "REQ",
		ourType: zmtp.Rep,
		ourOpts: zmtp.Options{Mechanism: mechanism.Null{Authenticator: nullAuth(accept, seen), Domain: secDomain}},
	}
}

// nullZAPAccepted: a request and a reply pass; the request carries the
// User-Id our authenticator granted.
func nullZAPAccepted(ctx context.Context, role string) (err error) {
	var seen atomic.Int32
	l, err := secStart(ctx, role, nullSetup(true, &seen))
	defer secFinish(&err, l)
	if err != nil {
		return err
	}
	if err := l.acceptedByUs(ctx); err != nil {
		return err
	}
	if seen.Load() == 0 {
		return fmt.Errorf("the authenticator was not asked")
	}
	return l.handshakeDone(ctx)
}

// nullZAPRejected: we send ERROR "400", libzmq reports an authentication
// failure, nothing reaches our application.
func nullZAPRejected(ctx context.Context, role string) (err error) {
	var seen atomic.Int32
	l, err := secStart(ctx, role, nullSetup(false, &seen))
	defer secFinish(&err, l)
	if err != nil {
		return err
	}
	return l.refusedByUs(ctx, 400)
}
