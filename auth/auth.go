package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// Authenticator is a ZAP handler with the policies of czmq's zauth and
// pyzmq's zmq.auth: IP address allow and deny lists for every mechanism,
// PLAIN user names and passwords (from a map or a password file), CURVE
// client keys from a directory of certificates, "any CURVE client", and
// GSSAPI clients, which Kerberos has already authenticated.
//
// It implements mechanism.Authenticator: give it to a server's mechanism
// (Null, Plain, Curve or gssapi.Mechanism) directly, or serve it over ZAP with ServeZAP.
// Requests are decided as czmq decides them:
//
//   - When the allow list is not empty, an address not in it is refused,
//     whatever the mechanism; else an address in the deny list is refused.
//   - NULL: any address not refused is accepted.
//   - PLAIN: the user name and password must match (status 400 otherwise,
//     also when no passwords are configured). The User-Id is the user name.
//   - CURVE: the client's key must be the public key of a certificate in
//     the directory, unless any client is allowed. The User-Id is the key
//     in Z85 (as pyzmq sets it), and the certificate's metadata whose
//     names are valid ZMTP property names are added to the peer's
//     metadata.
//   - GSSAPI: the client, authenticated by its Kerberos ticket, is
//     accepted; the User-Id is its principal name ("alice@REALM"), the
//     request's one credential. There is nothing to configure, as with
//     czmq and pyzmq.
//   - Any other mechanism is refused.
//
// The ZAP domain is not used: give each socket the Authenticator it needs.
//
// The zero value is ready: it accepts NULL and GSSAPI peers and refuses
// PLAIN and CURVE ones until configured. An Authenticator is safe for concurrent use;
// its configuration may change while it serves. Files are read again when
// they change (see SetPasswordFile and SetCurveDirectory).
type Authenticator struct {
	// Logger, when set before use, receives a Debug record for each
	// decision (never a password) and a Warn record for files that cannot
	// be read or parsed.
	Logger *slog.Logger

	mu        sync.Mutex
	allow     []netip.Prefix
	deny      []netip.Prefix
	passwords map[string]string
	passFile  *passwordFile
	curveDir  *certDir
	anyCurve  bool
}

// ErrInvalidAddress reports an address given to Allow or Deny that is
// neither an IP address nor a prefix such as "10.0.0.0/8".
var ErrInvalidAddress = errors.New("auth: not an IP address or prefix")

func parseAddrs(addrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(addrs))
	for _, s := range addrs {
		if p, err := netip.ParsePrefix(s); err == nil {
			if a := p.Addr(); a.Is4In6() {
				// ::ffff:a.b.c.d/n covers IPv4 addresses, which are
				// compared unmapped.
				p = netip.PrefixFrom(a.Unmap(), max(p.Bits()-96, 0))
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", ErrInvalidAddress, s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Allow adds IP addresses or prefixes ("192.168.1.0/24") to the allow
// list. Once the list is not empty, only peers from these addresses are
// accepted (NULL) or may go on to authenticate (PLAIN, CURVE), and the
// deny list is no longer used.
func (a *Authenticator) Allow(addrs ...string) error {
	p, err := parseAddrs(addrs)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.allow = append(a.allow, p...)
	a.mu.Unlock()
	return nil
}

// Deny adds IP addresses or prefixes to the deny list: peers from them are
// refused whatever the mechanism, unless the allow list is in use.
func (a *Authenticator) Deny(addrs ...string) error {
	p, err := parseAddrs(addrs)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.deny = append(a.deny, p...)
	a.mu.Unlock()
	return nil
}

// SetPasswords sets the PLAIN users and their passwords (a copy of users is
// kept), replacing a password file.
func (a *Authenticator) SetPasswords(users map[string]string) {
	a.mu.Lock()
	a.passwords, a.passFile = maps.Clone(users), nil
	a.mu.Unlock()
}

// SetPasswordFile reads the PLAIN users from a password file in czmq's
// format (see ParsePasswords), replacing earlier passwords. The file is
// read again whenever its size or modification time has changed since;
// while it cannot be read or parsed, every PLAIN client is refused. The
// error is that of the first reading, which leaves the configuration as
// it was.
func (a *Authenticator) SetPasswordFile(path string) error {
	p, err := newPasswordFile(path)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.passwords, a.passFile = nil, p
	a.mu.Unlock()
	return nil
}

// SetCurveDirectory accepts the CURVE clients whose public keys are in the
// certificates of dir (see LoadCertificates), and no longer any client.
// The directory is listed again on each CURVE request, and read again when
// a file was added, removed or changed; while it cannot be read, every
// CURVE client is refused. When dir cannot be read now, the configuration
// stays as it was and the error says why; when only some files did not
// parse, the others are in use and the error lists those files.
func (a *Authenticator) SetCurveDirectory(dir string) error {
	d, err := newCertDir(dir)
	if d == nil {
		return err
	}
	a.mu.Lock()
	a.curveDir, a.anyCurve = d, false
	a.mu.Unlock()
	return err
}

// AllowAnyCurveClient accepts every CURVE client, whatever its key
// (czmq's and pyzmq's CURVE_ALLOW_ANY): the connection is encrypted, but
// clients are not authenticated. Address lists still apply. Calling it
// with false goes back to the certificate directory, if any.
func (a *Authenticator) AllowAnyCurveClient(on bool) {
	a.mu.Lock()
	a.anyCurve = on
	a.mu.Unlock()
}

// Reload reads the password file and the certificate directory again now,
// whether or not they changed, and returns their errors.
func (a *Authenticator) Reload() error {
	a.mu.Lock()
	pf, cd := a.passFile, a.curveDir
	a.mu.Unlock()
	var errs []error
	if pf != nil {
		errs = append(errs, pf.reload())
	}
	if cd != nil {
		errs = append(errs, cd.reload())
	}
	return errors.Join(errs...)
}

// Authenticate decides about one peer (see Authenticator). It never
// returns an error: refusals are ZAP status 400 with a reason in
// StatusText.
func (a *Authenticator) Authenticate(ctx context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
	resp := a.decide(req)
	if a.Logger != nil {
		a.Logger.LogAttrs(ctx, slog.LevelDebug, "zap decision",
			slog.String("mechanism", req.Mechanism), slog.String("address", req.Address),
			slog.Int("status", resp.StatusCode), slog.String("reason", resp.StatusText),
			slog.String("user", resp.UserID))
	}
	return resp, nil
}

func refuse(reason string) mechanism.ZAPResponse {
	return mechanism.ZAPResponse{StatusCode: mechanism.ZAPAuthFailure, StatusText: reason}
}

func (a *Authenticator) decide(req *mechanism.ZAPRequest) mechanism.ZAPResponse {
	a.mu.Lock()
	allow, deny := a.allow, a.deny
	passwords, passFile := a.passwords, a.passFile
	curveDir, anyCurve := a.curveDir, a.anyCurve
	a.mu.Unlock()

	addr, addrErr := netip.ParseAddr(req.Address)
	addr = addr.Unmap()
	in := func(list []netip.Prefix) bool {
		if addrErr != nil {
			return false
		}
		for _, p := range list {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	}
	switch {
	case len(allow) > 0:
		if !in(allow) {
			return refuse("address not in the allow list")
		}
	case len(deny) > 0:
		if in(deny) {
			return refuse("address denied")
		}
	}

	switch req.Mechanism {
	case frame.MechanismNull:
		return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, StatusText: "OK"}
	case frame.MechanismPlain:
		if len(req.Credentials) != 2 {
			return refuse("invalid credentials")
		}
		user, pass := string(req.Credentials[0]), req.Credentials[1]
		var want string
		var known bool
		switch {
		case passFile != nil:
			var err error
			want, known, err = passFile.lookup(user)
			a.warn(err)
		case passwords != nil:
			want, known = passwords[user]
		default:
			return refuse("no passwords configured")
		}
		if !known || subtle.ConstantTimeCompare([]byte(want), pass) != 1 {
			return refuse("invalid user name or password")
		}
		return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, StatusText: "OK", UserID: user}
	case frame.MechanismCurve:
		if len(req.Credentials) != 1 || len(req.Credentials[0]) != 32 {
			return refuse("invalid credentials")
		}
		key := [32]byte(req.Credentials[0])
		ok := mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, StatusText: "OK", UserID: z85Key(key)}
		if anyCurve {
			return ok
		}
		if curveDir == nil {
			return refuse("no CURVE certificates configured")
		}
		cert, err := curveDir.lookup(key)
		a.warn(err)
		if cert == nil {
			return refuse("unknown key")
		}
		ok.Metadata = certProperties(cert)
		return ok
	case frame.MechanismGSSAPI:
		if len(req.Credentials) != 1 {
			return refuse("invalid credentials")
		}
		return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, StatusText: "OK", UserID: string(req.Credentials[0])}
	}
	return refuse("mechanism not configured")
}

// certProperties returns the metadata of c that are valid ZMTP properties,
// sorted by name.
func certProperties(c *Certificate) frame.Metadata {
	var md frame.Metadata
	for _, name := range slices.Sorted(maps.Keys(c.Metadata)) {
		p := frame.Metadata{{Name: name, Value: []byte(c.Metadata[name])}}
		if p.Validate() == nil && name != frame.PropUserID {
			md = append(md, p[0])
		}
	}
	return md
}

func (a *Authenticator) warn(err error) {
	if err != nil && a.Logger != nil {
		a.Logger.Warn("authenticator", slog.Any("error", err))
	}
}

// ZAPHandler serves an Authenticator over ZAP (RFC 27) in a zmtp.Context,
// as pyzmq's ThreadAuthenticator does in a libzmq context.
type ZAPHandler struct {
	sock   *zmtp.Socket
	cancel context.CancelFunc
	done   chan error
}

// StartZAP binds a REP socket at zmtp.ZAPEndpoint in zc and answers there,
// from a goroutine of its own, the requests of the servers made in zc with
// zc.ZAPAuthenticator() as their mechanism's Authenticator. The handler is
// bound when StartZAP returns; Close stops it. Only one handler can be
// bound in a Context.
func (a *Authenticator) StartZAP(zc *zmtp.Context) (*ZAPHandler, error) {
	s, err := zc.NewSocket(zmtp.Rep, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		return nil, err
	}
	if err := s.Bind(zmtp.ZAPEndpoint); err != nil {
		s.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &ZAPHandler{sock: s, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- zmtp.ServeZAP(ctx, s, a) }()
	return h, nil
}

// Close stops the handler, waits for its goroutine and unbinds the
// endpoint. It returns the error that stopped the handler before, if any.
func (h *ZAPHandler) Close() error {
	h.cancel()
	err := <-h.done
	h.done <- err // a second Close returns the same
	h.sock.Close()
	return err
}
