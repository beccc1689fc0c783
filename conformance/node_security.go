package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/z85"
	"github.com/zmtp-go/zmtp/zmtp"
)

// The libzmq 4.3.5 security rows over ws: PLAIN and CURVE (subprotocols
// ZWS2.0/PLAIN and ZWS2.0/CURVE), our PUSH against libzmq's PULL, with our
// side the client or the server.

func nodeSecurityCases() []Case {
	var out []Case
	for _, mech := range []string{"PLAIN", "CURVE"} {
		for _, weServe := range []bool{false, true} {
			name := "libzmq-4.3.5/" + mech + "-we-client/ws"
			if weServe {
				name = "libzmq-4.3.5/" + mech + "-we-server/ws"
			}
			for _, role := range sockRoles {
				out = append(out, Case{
					Name: name,
					Role: role,
					Run: func(ctx context.Context) error {
						ctx, cancel := context.WithTimeout(ctx, nodeCaseTimeout)
						defer cancel()
						return nodeSecure(ctx, mech, weServe, role)
					},
				})
			}
		}
	}
	return out
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
