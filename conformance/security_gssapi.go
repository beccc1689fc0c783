package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/gssapi"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// The GSSAPI scenarios pair our socket with a libzmq socket using GSSAPI
// with Kerberos, against the realm of security_gssapi_kdc.go. libzmq
// (through MIT Kerberos) takes its keys from KRB5_KTNAME and
// KRB5_CLIENT_KTNAME; ours come from the same keytab through gokrb5. A
// libzmq server with ZMQ_GSSAPI_PRINCIPAL acquires credentials for both
// uses of that name, so its keys must be in the client keytab as well.
var gssapiScenarios = []scenario{
	{"GSSAPI-accepted/we-client", gssAccepted(false, false)},
	{"GSSAPI-accepted/we-server", gssAccepted(true, false)},
	{"GSSAPI-plaintext/we-client", gssAccepted(false, true)},
	{"GSSAPI-plaintext/we-server", gssAccepted(true, true)},
	{"GSSAPI-krb5-principal-names/we-client", gssNameTypes(false)},
	{"GSSAPI-krb5-principal-names/we-server", gssNameTypes(true)},
	{"GSSAPI-wrong-principal/we-client", gssWrongPrincipal(false)},
	{"GSSAPI-wrong-principal/we-server", gssWrongPrincipal(true)},
	{"GSSAPI-ZAP-refused/we-client", gssZAPRefused(false)},
	{"GSSAPI-ZAP-refused/we-server", gssZAPRefused(true)},
	{"GSSAPI-multipart-1MiB/we-client", gssLarge(false)},
	{"GSSAPI-multipart-1MiB/we-server", gssLarge(true)},
	{"GSSAPI-heartbeat-libzmq-pings/we-client", gssHeartbeat(false, false)},
	{"GSSAPI-heartbeat-libzmq-pings/we-server", gssHeartbeat(true, false)},
	{"GSSAPI-heartbeat-our-pings/we-client", gssHeartbeat(false, true)},
	{"GSSAPI-heartbeat-our-pings/we-server", gssHeartbeat(true, true)},
}

// gssSides says who is who in a GSSAPI scenario. Names are written as
// their name types say (libzmq's ZMQ_GSSAPI_NT_* values).
type gssSides struct {
	weServer  bool
	plaintext bool
	user      string // the client's principal
	userNT    int
	service   string // the name the client asks a ticket for
	serviceNT int
	accept    string // the server's principal ("" for any in its keytab)
	acceptNT  int
	zap       *zapPolicy // the server's ZAP policy, or nil for none
}

// defaultGSSSides: alice asks for zmtp@localhost, which the server is.
func defaultGSSSides(weServer, plaintext bool) gssSides {
	svc := krbService + "@" + krbHost
	return gssSides{weServer: weServer, plaintext: plaintext,
		user: krbUser, userNT: libzmq.GSSAPIUserName,
		service: svc, serviceNT: libzmq.GSSAPIHostBased,
		accept: svc, acceptNT: libzmq.GSSAPIHostBased}
}

// gssLink is a running GSSAPI link and the Kerberos client it uses.
type gssLink struct {
	*secLink
	cl *client.Client
}

// gssStart starts the link of g in role: libzmq's DEALER and ours.
func gssStart(ctx context.Context, role string, g gssSides, tune func(*secSetup)) (*gssLink, error) {
	r, err := realm(ctx)
	if err != nil {
		return nil, err
	}
	s := secSetup{zmqType: "DEALER", ourType: zmtp.Dealer, relayGSSAPI: true}
	ours := &gssapi.Mechanism{Server: g.weServer, Plaintext: g.plaintext}
	var cl *client.Client
	if g.weServer {
		ours.Keytab = r.kt
		ours.Principal, ours.PrincipalNameType = g.accept, gssapi.NameType(g.acceptNT)
		if g.zap != nil {
			auth := &recordingAuth{policy: g.zap}
			ours.Authenticator, ours.Domain = auth, secDomain
		}
		s.zmqPrep = func(z *zmq.Socket) error {
			return errors.Join(z.SetGssapiPlaintext(g.plaintext),
				z.SetGssapiPrincipal(g.user), z.SetGssapiServicePrincipal(g.service),
				libzmq.SetGSSAPINameTypes(z, g.userNT, g.serviceNT))
		}
	} else {
		login, _, _ := strings.Cut(g.user, "@")
		if cl, err = r.newClient(login); err != nil {
			return nil, err
		}
		ours.Client = cl
		ours.ServicePrincipal, ours.ServicePrincipalNameType = g.service, gssapi.NameType(g.serviceNT)
		ours.Principal, ours.PrincipalNameType = g.user, gssapi.NameType(g.userNT)
		s.zmqZAP = g.zap
		s.zmqPrep = func(z *zmq.Socket) error {
			errs := []error{z.SetGssapiServer(true), z.SetGssapiPlaintext(g.plaintext)}
			if g.accept != "" {
				errs = append(errs, z.SetGssapiPrincipal(g.accept), libzmq.SetGSSAPINameTypes(z, g.acceptNT, libzmq.GSSAPIHostBased))
			}
			if g.zap != nil {
				errs = append(errs, z.SetZapDomain(secDomain))
			}
			return errors.Join(errs...)
		}
	}
	s.ourOpts = zmtp.Options{Mechanism: ours}
	if tune != nil {
		tune(&s)
	}
	l, err := secStart(ctx, role, s)
	return &gssLink{secLink: l, cl: cl}, err
}

// gssFinish releases the link and the Kerberos client.
func gssFinish(err *error, l *gssLink) {
	if l == nil {
		return
	}
	secFinish(err, l.secLink)
	if l.cl != nil {
		l.cl.Destroy()
	}
}

// gssTraffic checks what crossed the relay after the handshake: wrap
// tokens only, or, with plaintext, clear text only. It first waits for
// the relay to have decoded traffic of that kind each way (it counts what
// it has already passed on).
func (l *gssLink) gssTraffic(ctx context.Context, plaintext bool) error {
	seen := func(rc relayCounts) int {
		if plaintext {
			return rc.Clear
		}
		return rc.Boxes
	}
	if err := l.relayWait(ctx, "traffic both ways", func() bool {
		return seen(l.fromOurs()) > 0 && seen(l.fromLibzmq()) > 0
	}); err != nil {
		return err
	}
	for _, c := range []struct {
		who string
		rc  relayCounts
	}{{"we", l.fromOurs()}, {"libzmq", l.fromLibzmq()}} {
		if c.rc.Undecoded != "" {
			return fmt.Errorf("%s sent what the relay cannot decode: %s", c.who, c.rc.Undecoded)
		}
		if plaintext && c.rc.Boxes > 0 {
			return fmt.Errorf("plaintext: %s sent %d MESSAGE commands", c.who, c.rc.Boxes)
		}
		if !plaintext && c.rc.Clear > 0 {
			return fmt.Errorf("%s sent %d frames in clear text after the handshake", c.who, c.rc.Clear)
		}
	}
	return nil
}

// gssAccepted: alice authenticates to zmtp@localhost; multipart messages
// pass both ways, wrapped (or in clear text with plaintext); the server
// reports alice's principal as User-Id (libzmq's ZAP handler grants
// secUserID for it).
func gssAccepted(weServer, plaintext bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		g := defaultGSSSides(weServer, plaintext)
		if !weServer {
			g.zap = &zapPolicy{principals: map[string]bool{krbUser + "@" + krbRealm: true}}
		}
		l, err := gssStart(ctx, role, g, nil)
		defer gssFinish(&err, l)
		if err != nil {
			return err
		}
		theirs, ours, err := l.exchangeMsgs(ctx, [][]byte{b("hello"), b(""), b("world")}, [][]byte{b("back"), b("again")})
		if err != nil {
			l.ev.poll()
			return fmt.Errorf("%w (our events %v, libzmq's %v, we sent %q, libzmq sent %q)", err, l.ev.seen, l.mon.Seen(), l.fromOurs().Commands, l.fromLibzmq().Commands)
		}
		if weServer {
			if got, _ := ours.Metadata.Lookup("User-Id"); string(got) != krbUser+"@"+krbRealm {
				return fmt.Errorf("our server reports User-Id %q, want %q", got, krbUser+"@"+krbRealm)
			}
		} else {
			if got := theirs["User-Id"]; got != secUserID {
				return fmt.Errorf("libzmq reports User-Id %q, want %q", got, secUserID)
			}
			reqs := l.zmqZAP.requests()
			if len(reqs) == 0 {
				return errors.New("libzmq's ZAP handler got no request")
			}
			for _, r := range reqs {
				if err := checkZAPRequest(r, "GSSAPI"); err != nil {
					return err
				}
				if len(r.Credentials) != 1 || string(r.Credentials[0]) != krbUser+"@"+krbRealm || r.Status != 200 {
					return fmt.Errorf("libzmq's ZAP request: credentials %q, status %d", r.Credentials, r.Status)
				}
			}
		}
		if err := l.handshakeDone(ctx); err != nil {
			return err
		}
		if err := l.gssTraffic(ctx, plaintext); err != nil {
			return err
		}
		return l.stillUp()
	}
}

// gssNameTypes: the same with names in the other forms: the client's
// principal as a user name, the service as a full Kerberos principal
// name with its realm.
func gssNameTypes(weServer bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		g := defaultGSSSides(weServer, false)
		full := krbService + "/" + krbHost + "@" + krbRealm
		g.service, g.serviceNT = full, libzmq.GSSAPIKerberosPrincipal
		g.accept, g.acceptNT = full, libzmq.GSSAPIKerberosPrincipal
		g.user, g.userNT = krbUser+"@"+krbRealm, libzmq.GSSAPIKerberosPrincipal
		if weServer {
			g.user, g.userNT = krbUser, libzmq.GSSAPIUserName
		}
		l, err := gssStart(ctx, role, g, nil)
		defer gssFinish(&err, l)
		if err != nil {
			return err
		}
		if _, _, err := l.exchangeMsgs(ctx, [][]byte{b("named")}, [][]byte{b("types")}); err != nil {
			return err
		}
		if err := l.handshakeDone(ctx); err != nil {
			return err
		}
		return l.gssTraffic(ctx, false)
	}
}

// gssWrongPrincipalTimeout is our handshake timeout in the
// wrong-principal scenarios.
const gssWrongPrincipalTimeout = 500 * time.Millisecond

// gssWrongPrincipal: the client asks for a ticket to zmtp@localhost, but
// the server is zmtp-other@localhost: the server cannot accept the ticket.
// Ours closes at once (a *gssapi.KerberosError); libzmq 4.3.4's sends
// nothing and keeps the connection open, so our client's handshake ends
// at its timeout. No message passes either way.
func gssWrongPrincipal(weServer bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		g := defaultGSSSides(weServer, false)
		g.accept = krbOther + "@" + krbHost
		l, err := gssStart(ctx, role, g, func(s *secSetup) {
			// libzmq's server neither answers nor closes when it cannot
			// accept the ticket: the handshake ends at our timeout.
			s.ourOpts.HandshakeTimeout = zmtp.DurationOf(gssWrongPrincipalTimeout)
		})
		defer gssFinish(&err, l)
		if err != nil {
			return err
		}
		l.ours.TrySend([][]byte{b("must not arrive")})
		l.zmqTrySend("must not arrive either")
		ev, err := l.ourHandshakeFailure(ctx)
		if err != nil {
			return err
		}
		if weServer {
			var kerr *gssapi.KerberosError
			if !errors.As(ev.Err, &kerr) {
				return fmt.Errorf("our server reports %v, want a *gssapi.KerberosError", ev)
			}
		} else {
			var terr *zmtp.TimeoutError
			if !errors.As(ev.Err, &terr) {
				return fmt.Errorf("our client reports %v, want a *zmtp.TimeoutError (libzmq 4.3.4 leaves the connection hanging)", ev)
			}
		}
		if err := l.ev.quiet(ctx, secQuiet, zmtp.EventHandshakeSucceeded); err != nil {
			return err
		}
		if err := l.zmqGotNothing(); err != nil {
			return err
		}
		return l.ourGotNothing()
	}
}

// gssZAPRefused: mallory, a principal of the realm, authenticates with
// Kerberos but the server's ZAP policy accepts only alice. Our server
// closes without ERROR (as libzmq's GSSAPI server closes on its other
// failures) and no message passes. libzmq 4.3.4's GSSAPI server, on the
// other hand, reports EVENT_HANDSHAKE_FAILED_AUTH with the status code
// and then completes the handshake all the same (its GSSAPI server does
// not act on the ZAP status): messages pass, which the we-client case
// records as libzmq's behaviour.
func gssZAPRefused(weServer bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		g := defaultGSSSides(weServer, false)
		g.user = krbStranger
		g.zap = &zapPolicy{principals: map[string]bool{krbUser + "@" + krbRealm: true}}
		l, err := gssStart(ctx, role, g, nil)
		defer gssFinish(&err, l)
		if err != nil {
			return err
		}
		if !weServer {
			if _, _, err := l.exchangeMsgs(ctx, [][]byte{b("refused")}, [][]byte{b("yet delivered")}); err != nil {
				return fmt.Errorf("libzmq 4.3.4 completes the handshake of a refused client: %w", err)
			}
			ev, err := l.mon.WaitFor(ctx, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
			if err != nil || ev.Value != 400 {
				return fmt.Errorf("libzmq: want EVENT_HANDSHAKE_FAILED_AUTH(400): %v %w", ev, err)
			}
			reqs := l.zmqZAP.requests()
			if len(reqs) != 1 || len(reqs[0].Credentials) != 1 || string(reqs[0].Credentials[0]) != krbStranger+"@"+krbRealm || reqs[0].Status != 400 {
				return fmt.Errorf("libzmq's ZAP requests %v, want one for %s refused", reqs, krbStranger)
			}
			return nil
		}
		l.ours.TrySend([][]byte{b("must not arrive")})
		l.zmqTrySend("must not arrive either")
		ev, err := l.ourHandshakeFailure(ctx)
		if err != nil {
			return err
		}
		var aerr *mechanism.AuthError
		if !errors.As(ev.Err, &aerr) || aerr.StatusCode != 400 {
			return fmt.Errorf("our server reports %v, want a *mechanism.AuthError 400", ev)
		}
		for _, rc := range []relayCounts{l.fromOurs(), l.fromLibzmq()} {
			for _, c := range rc.Commands {
				if len(c) > 6 && string(c[:6]) == "\x05ERROR" {
					return fmt.Errorf("an ERROR command was sent: %q", c)
				}
			}
		}
		if err := l.zmqGotNothing(); err != nil {
			return err
		}
		return l.ourGotNothing()
	}
}

// gssLarge: multipart and 1 MiB messages both ways, every frame in its own
// wrap token (libzmq wraps frame by frame, as we do).
func gssLarge(weServer bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		l, err := gssStart(ctx, role, defaultGSSSides(weServer, false), nil)
		defer gssFinish(&err, l)
		if err != nil {
			return err
		}
		frames, err := l.exchangeLarge(ctx)
		if err != nil {
			return err
		}
		// Each frame is one MESSAGE, after the wrapped READY.
		if err := l.relayWait(ctx, "every frame wrapped", func() bool {
			return l.fromOurs().Boxes >= frames+1 && l.fromLibzmq().Boxes >= frames+1
		}); err != nil {
			return fmt.Errorf("%w: %d and %d MESSAGE commands for %d frames", err, l.fromOurs().Boxes, l.fromLibzmq().Boxes, frames)
		}
		return l.gssTraffic(ctx, false)
	}
}

// gssHeartbeat: heartbeats of libzmq or of ours keep an idle wrapped
// connection up: PINGs and PONGs travel in MESSAGE commands.
func gssHeartbeat(weServer, ourPings bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		l, err := gssStart(ctx, role, defaultGSSSides(weServer, false), func(s *secSetup) { heartbeatSetup(s, ourPings) })
		defer gssFinish(&err, l)
		if err != nil {
			return err
		}
		return l.heartbeatsKeepUp(ctx, ourPings, func() error { return l.gssTraffic(ctx, false) })
	}
}
