package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/z85"
	"github.com/zmtp-go/zmtp/zmtp"
)

// The libzmq 4.3.5 security rows over ws: PLAIN and CURVE (subprotocols
// ZWS2.0/PLAIN and ZWS2.0/CURVE), our PUSH against libzmq's PULL, with our
// side the client or the server; and PLAIN refusals over tcp and ws.

func nodeSecurityCases() []Case {
	var out []Case
	for _, mech := range []string{"PLAIN", "CURVE"} {
		for _, weServe := range []bool{false, true} {
			name := "libzmq-4.3.5/" + mech + "-we-client/ws"
			if weServe {
				name = "libzmq-4.3.5/" + mech + "-we-server/ws"
			}
			for _, role := range sockRoles {
				out = append(out, nodeCase(name, role, func(ctx context.Context) error {
					return nodeSecure(ctx, mech, weServe, role)
				}))
			}
		}
	}
	for _, weServe := range []bool{false, true} {
		for _, tr := range nodeTransports {
			name := "libzmq-4.3.5/PLAIN-refused-we-client/" + tr
			if weServe {
				name = "libzmq-4.3.5/PLAIN-refused-we-server/" + tr
			}
			for _, role := range sockRoles {
				out = append(out, nodeCase(name, role, func(ctx context.Context) error {
					return nodePlainRefused(ctx, weServe, tr, role)
				}))
			}
		}
	}
	return out
}

// nodePlainRefused: a PLAIN client with a wrong password is refused, ours
// by libzmq 4.3.5's server (through the peer's ZAP handler) or libzmq
// 4.3.5's by ours (through our Authenticator). Both sides report an
// authentication failure with status 400: libzmq's monitor
// "handshake:error:auth" (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) with status
// 400, ours EventHandshakeFailedAuth with a *mechanism.PeerError "400" or
// a *mechanism.AuthError 400. Over tcp a relay sees the refusal's ERROR:
// libzmq 4.3.5's PLAIN server writes it malformed, 5E 'RROR' 03 '400', as
// 4.3.4's does, and so does ours; 4.3.5's PLAIN client, given a
// well-formed ERROR, reports "handshake:error:protocol"
// (ERR_ZMTP_UNEXPECTED_COMMAND) instead.
func nodePlainRefused(ctx context.Context, weServe bool, tr, role string) (err error) {
	peer, err := libzmq435.get()
	if err != nil {
		return err
	}
	var ours mechanism.Mechanism
	theirs := map[string]any{}
	ourType, theirType := zmtp.Push, "PULL"
	if weServe {
		ourType, theirType = zmtp.Pull, "PUSH"
		ours = mechanism.Plain{Server: true, Authenticator: mechanism.AuthenticatorFunc(
			func(_ context.Context, r *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
				if string(r.Credentials[0]) == "admin" && string(r.Credentials[1]) == "secret" {
					return mechanism.ZAPResponse{StatusCode: 200}, nil
				}
				return mechanism.ZAPResponse{StatusCode: 400, StatusText: "unknown"}, nil
			})}
		theirs["plainUsername"], theirs["plainPassword"] = "admin", "wrong"
	} else {
		if _, err := peer.call(ctx, map[string]any{"op": "zap", "username": "admin", "password": "secret"}); err != nil {
			return err
		}
		ours = mechanism.Plain{Username: "admin", Password: "wrong"}
		theirs["plainServer"] = true
	}
	s, err := zmtp.NewSocket(ourType, zmtp.Options{Linger: zmtp.NoLinger, Mechanism: ours})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, discardOK(s.Close())) }()
	ev := &ourMonitor{ch: s.Monitor(zmtp.EventAll)}
	z, err := peer.socket(ctx, theirType, theirs)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, z.close()) }()
	if err := z.monitor(ctx); err != nil {
		return err
	}

	// Over tcp, a relay between the two; over ws, none.
	var relay *sniffRelay
	via := func(ep string) (string, error) {
		if tr != "tcp" {
			return ep, nil
		}
		addr, ok := strings.CutPrefix(ep, "tcp://")
		if !ok {
			return "", fmt.Errorf("unexpected endpoint %q", ep)
		}
		var err error
		if relay, err = newSniffRelay(addr); err != nil {
			return "", err
		}
		return "tcp://" + relay.Addr(), nil
	}
	defer func() {
		if relay != nil {
			relay.Close()
		}
	}()
	bindAt := "tcp://127.0.0.1:*"
	if tr == "ws" {
		bindAt = "ws://127.0.0.1:*/plain"
	}
	theyDial := role == WeBind
	if theyDial {
		if err := s.Bind(bindAt); err != nil {
			return err
		}
		ep, err := via(s.LastEndpoint())
		if err != nil {
			return err
		}
		if err := z.connect(ctx, ep); err != nil {
			return err
		}
	} else {
		ep, err := z.bind(ctx, bindAt)
		if err != nil {
			return err
		}
		if ep, err = via(ep); err != nil {
			return err
		}
		if err := s.Connect(ep); err != nil {
			return err
		}
	}

	got, err := ev.waitFor(ctx, ourFailed, zmtp.EventHandshakeSucceeded)
	if err != nil {
		return fmt.Errorf("our socket: %w", err)
	}
	ok := isPeerError(got.Err, "400")
	if weServe {
		ok = isAuthError(got.Err, 400)
	}
	if got.Type != zmtp.EventHandshakeFailedAuth || !ok {
		return fmt.Errorf("our socket reports %v, want %v with status 400", got, zmtp.EventHandshakeFailedAuth)
	}
	var seen []nodeEvent
	upgraded := false
	for {
		e, err := z.event(ctx, 5*time.Second)
		if err != nil {
			return fmt.Errorf("libzmq 4.3.5's monitor (seen %v): %w", seen, err)
		}
		seen = append(seen, e)
		if e.Type == "handshake" && tr == "ws" && !upgraded {
			// libzmq's ws engine reports HANDSHAKE_SUCCEEDED once the
			// WebSocket upgrade is done, before the ZMTP mechanism runs.
			upgraded = true
			continue
		}
		if strings.HasPrefix(e.Type, "handshake") {
			if e.Type != "handshake:error:auth" || e.Status != 400 {
				return fmt.Errorf("libzmq 4.3.5 reports %+v, want handshake:error:auth with status 400 (seen %v)", e, seen)
			}
			break
		}
	}
	if relay == nil {
		return nil
	}
	// The refusing side's last handshake command, as the relay saw it.
	refuser := relay.FromTarget
	if theyDial != weServe {
		refuser = relay.FromDialer
	}
	cond := func() bool { return lastCommandIs(refuser().Commands, libzmqPlainError400) }
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := poll(wctx, 5*time.Millisecond, "the ERROR", cond); err != nil {
		return fmt.Errorf("%w: the refusing side's handshake commands %q, want % X last", err, refuser().Commands, libzmqPlainError400)
	}
	return nil
}

func nodeSecure(ctx context.Context, mech string, weServe bool, role string) (err error) {
	peer, err := libzmq435.get()
	if err != nil {
		return err
	}
	spub, ssec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		return err
	}
	cpub, csec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		return err
	}
	z85s := func(k [32]byte) string { s, _ := z85.EncodeToString(k[:]); return s }
	// Our server knows one client: "admin"/"secret", or the client key.
	auth := mechanism.AuthenticatorFunc(func(_ context.Context, r *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
		ok := mech == "PLAIN" && string(r.Credentials[0]) == "admin" && string(r.Credentials[1]) == "secret" ||
			mech == "CURVE" && bytes.Equal(r.Credentials[0], cpub[:])
		if ok {
			return mechanism.ZAPResponse{StatusCode: 200, UserID: "libzmq-client"}, nil
		}
		return mechanism.ZAPResponse{StatusCode: 400, StatusText: "unknown"}, nil
	})
	var ours mechanism.Mechanism
	theirs := map[string]any{}
	switch {
	case mech == "PLAIN" && weServe:
		ours = mechanism.Plain{Server: true, Authenticator: auth}
		theirs["plainUsername"], theirs["plainPassword"] = "admin", "secret"
	case mech == "PLAIN":
		// A libzmq PLAIN server refuses every client without a ZAP handler.
		if _, err := peer.call(ctx, map[string]any{"op": "zap", "username": "admin", "password": "secret"}); err != nil {
			return err
		}
		ours = mechanism.Plain{Username: "admin", Password: "secret"}
		theirs["plainServer"] = true
	case weServe:
		ours = mechanism.Curve{Server: true, PublicKey: spub, SecretKey: ssec, Authenticator: auth}
		theirs["curvePublicKey"], theirs["curveSecretKey"], theirs["curveServerKey"] = z85s(cpub), z85s(csec), z85s(spub)
	default:
		ours = mechanism.Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub}
		theirs["curveServer"], theirs["curveSecretKey"] = true, z85s(ssec)
	}
	// Our socket sends when it is the client, receives when it serves.
	ourType, theirType := zmtp.Push, "PULL"
	if weServe {
		ourType, theirType = zmtp.Pull, "PUSH"
	}
	s, err := zmtp.NewSocket(ourType, zmtp.Options{Linger: zmtp.NoLinger, Mechanism: ours})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.Close(); cerr != nil && !errors.As(cerr, new(*zmtp.UndeliveredError)) {
			err = errors.Join(err, cerr)
		}
	}()
	z, err := peer.socket(ctx, theirType, theirs)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, z.close()) }()
	if role == WeBind {
		if err := s.Bind("ws://127.0.0.1:*/secure"); err != nil {
			return err
		}
		if err := z.connect(ctx, s.LastEndpoint()); err != nil {
			return err
		}
	} else {
		ep, err := z.bind(ctx, "ws://127.0.0.1:*/secure")
		if err != nil {
			return err
		}
		if err := s.Connect(ep); err != nil {
			return err
		}
	}
	if !weServe {
		return nodePipeline(ctx, nodeOurSide{s}, nodeTheirSide{z, theirType})
	}
	if err := nodePipeline(ctx, nodeTheirSide{z, theirType}, nodeOurSide{s}); err != nil {
		return err
	}
	// Our server's authenticator named the client.
	if err := z.send(ctx, nodeMsgOf("who")); err != nil {
		return err
	}
	m, err := s.Recv(ctx)
	if err != nil {
		return err
	}
	if got := m.Metadata.Get("User-Id"); got != "libzmq-client" {
		return fmt.Errorf("User-Id %q, want libzmq-client", got)
	}
	return nil
}
