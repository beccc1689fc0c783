package gssapi

import (
	"fmt"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// DefaultMaxClockSkew is the clock difference a server tolerates between
// itself and a client's authenticator when MaxClockSkew is zero, as
// Kerberos implementations default to.
const DefaultMaxClockSkew = 5 * time.Minute

// Mechanism is the GSSAPI mechanism (RFC 38) with Kerberos V5, as libzmq
// 4.3 speaks it. Use it by pointer: a server keeps a replay cache of the
// authenticators it accepted in it.
//
// A client needs Client (its Kerberos credentials) and ServicePrincipal (the
// server's name, libzmq's ZMQ_GSSAPI_SERVICE_PRINCIPAL). A server needs
// Keytab (its service keys); Principal (ZMQ_GSSAPI_PRINCIPAL) restricts the
// tickets it accepts to those for that name. Without an Authenticator the
// server accepts every client the KDC vouches for, as libzmq does without
// a ZAP handler.
//
// A Mechanism must not be changed once in use; it is then safe for
// concurrent use. Its String method never shows key material.
type Mechanism struct {
	// Server selects the server role (the as-server bit of the greeting
	// is sent as zero, as libzmq does).
	Server bool

	// Plaintext sends READY and every frame after the handshake in clear
	// text instead of in wrap tokens (libzmq's ZMQ_GSSAPI_PLAINTEXT). Both
	// peers must set it alike.
	Plaintext bool

	// Principal is our own name, written as PrincipalNameType says. On a
	// client it must be the principal of Client's credentials when set.
	// On a server it is the service principal whose tickets are
	// accepted; empty accepts a ticket for any principal in Keytab.
	Principal         string
	PrincipalNameType NameType

	// ServicePrincipal is, on a client, the server's principal name,
	// written as ServicePrincipalNameType says; required. With HostBased,
	// "service@host" asks for a ticket for "service/host" in the realm
	// that Client's krb5.conf maps host to; an explicit "@REALM" of the
	// other name types must be that realm as well.
	ServicePrincipal         string
	ServicePrincipalNameType NameType

	// Client holds a client's Kerberos credentials (from a keytab, a
	// password or a credential cache, with its krb5.conf); it gets and
	// caches the service tickets. Required on a client; it may be shared
	// by many sockets. The first handshake may wait for the KDC.
	Client *client.Client

	// Keytab holds a server's service keys. Required on a server.
	Keytab *keytab.Keytab

	// Authenticator decides, on the server, whether an authenticated
	// client is accepted: it receives a ZAPRequest with Mechanism
	// "GSSAPI" and the client's principal name ("alice@REALM") as the only
	// credential, and its UserID becomes the User-Id property. Without
	// one, every client the KDC vouches for is accepted and User-Id is
	// the client's principal name. A refusal closes the connection without
	// ERROR, as libzmq's GSSAPI server does.
	Authenticator mechanism.Authenticator
	// Domain is the server's authentication domain, passed to the
	// Authenticator.
	Domain string

	// MaxClockSkew is the clock difference a server tolerates in a
	// client's authenticator; zero means DefaultMaxClockSkew.
	MaxClockSkew time.Duration

	// tickets, when set, replaces Client as the source of service tickets
	// (tests use tickets made from a keytab, without a KDC).
	tickets ticketSource

	replay replayCache
}

// ticketSource gets service tickets for a client.
type ticketSource interface {
	// serviceTicket returns a ticket for spn ("service/host") and its
	// session key.
	serviceTicket(spn string) (messages.Ticket, types.EncryptionKey, error)
	// clientName returns the client's principal name and realm.
	clientName() (types.PrincipalName, string)
}

// gokrb5Tickets gets tickets through a gokrb5 client.
type gokrb5Tickets struct{ cl *client.Client }

func (g gokrb5Tickets) serviceTicket(spn string) (messages.Ticket, types.EncryptionKey, error) {
	return g.cl.GetServiceTicket(spn)
}

func (g gokrb5Tickets) clientName() (types.PrincipalName, string) {
	return g.cl.Credentials.CName(), g.cl.Credentials.Domain()
}

// Name returns "GSSAPI".
func (*Mechanism) Name() string { return frame.MechanismGSSAPI }

// AsServer reports whether m is configured as the server.
func (m *Mechanism) AsServer() bool { return m.Server }

// String describes m by its role and principal names.
func (m *Mechanism) String() string {
	mode := ""
	if m.Plaintext {
		mode = " (plaintext)"
	}
	if m.Server {
		return fmt.Sprintf("GSSAPI server %q%s", m.Principal, mode)
	}
	return fmt.Sprintf("GSSAPI client for %q%s", m.ServicePrincipal, mode)
}

// GoString is String.
func (m *Mechanism) GoString() string { return m.String() }

// Validate returns an error matching ErrConfig when m cannot be used: a
// client without Client or ServicePrincipal, a server without Keytab, a
// principal name that does not parse, or a client Principal that is not
// Client's.
func (m *Mechanism) Validate() error {
	_, err := m.resolve()
	return err
}

// settings are the parsed parts of a Mechanism.
type settings struct {
	self    principal // Principal, parsed (name empty when not set)
	service principal // a client's ServicePrincipal
	tickets ticketSource
	skew    time.Duration
}

func (m *Mechanism) resolve() (settings, error) {
	var s settings
	s.skew = m.MaxClockSkew
	if s.skew <= 0 {
		s.skew = DefaultMaxClockSkew
	}
	if m.Principal != "" {
		p, err := parseName(m.Principal, m.PrincipalNameType)
		if err != nil {
			return s, err
		}
		s.self = p
	}
	if m.Server {
		if m.Keytab == nil {
			return s, fmt.Errorf("%w: a server needs a Keytab", ErrConfig)
		}
		return s, nil
	}
	s.tickets = m.tickets
	if s.tickets == nil {
		if m.Client == nil || m.Client.Credentials == nil {
			return s, fmt.Errorf("%w: a client needs a Kerberos Client", ErrConfig)
		}
		s.tickets = gokrb5Tickets{m.Client}
	}
	if m.ServicePrincipal == "" {
		return s, fmt.Errorf("%w: a client needs the ServicePrincipal", ErrConfig)
	}
	svc, err := parseName(m.ServicePrincipal, m.ServicePrincipalNameType)
	if err != nil {
		return s, err
	}
	s.service = svc
	if m.Principal != "" {
		name, realm := s.tickets.clientName()
		if !s.self.matches(name, realm) {
			return s, fmt.Errorf("%w: Principal %s is not the Client's principal %s",
				ErrConfig, s.self, principal{name: name, realm: realm})
		}
	}
	return s, nil
}

// NewHandshake returns a GSSAPI handshake for one connection. It fails
// as Validate does.
func (m *Mechanism) NewHandshake(p mechanism.Params) (mechanism.Handshake, error) {
	if err := mechanism.ReadyMetadata(p).Validate(); err != nil {
		return nil, err
	}
	s, err := m.resolve()
	if err != nil {
		return nil, err
	}
	if m.Server {
		return &server{m: m, s: s, params: p}, nil
	}
	return &clientHandshake{m: m, s: s, params: p}, nil
}

// readyCommands returns the commands that send our READY: in clear text,
// or wrapped in a MESSAGE command frame (inner flags zero, as libzmq
// sends it) when w is not nil.
func readyCommands(p mechanism.Params, w *wrapper) ([]frame.Command, error) {
	ready := frame.Command{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, mechanism.ReadyMetadata(p))}
	if w == nil {
		return []frame.Command{ready}, nil
	}
	plain := ready.AppendBody([]byte{0})
	tok, err := w.wrap(nil, plain)
	if err != nil {
		return nil, err
	}
	return []frame.Command{{Name: frame.CmdMessage, Data: appendTokenData(nil, tok)}}, nil
}

// parseReady reads the peer's READY: cmd itself, or the READY wrapped in
// the MESSAGE cmd when w is not nil. It returns the metadata, checked
// against p.
func parseReady(p mechanism.Params, w *wrapper, cmd frame.Command) (frame.Metadata, error) {
	if w != nil {
		if cmd.Name != frame.CmdMessage {
			return nil, ErrUnexpectedToken
		}
		_, body, err := w.openData(cmd.Data)
		if err != nil {
			return nil, fmt.Errorf("%w: READY: %w", ErrMalformedToken, err)
		}
		cmd, err = frame.ParseCommand(body)
		if err != nil {
			return nil, fmt.Errorf("%w: READY: %w", ErrMalformedToken, err)
		}
	}
	if cmd.Name != frame.CmdReady {
		return nil, ErrUnexpectedToken
	}
	md, err := frame.ParseMetadata(cmd.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: READY: %w", ErrMalformedToken, err)
	}
	if err := mechanism.CheckPeerMetadata(p, md); err != nil {
		return nil, err
	}
	return md, nil
}

// peerError turns a received ERROR command into a *mechanism.PeerError.
func peerError(data []byte) error {
	reason, err := frame.ParseError(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformedToken, err)
	}
	return &mechanism.PeerError{Reason: reason}
}

// replayCache remembers the authenticators a server accepted for as long
// as the clock skew would let them be presented again (RFC 4120 section
// 3.2.3), so that a recorded AP-REQ cannot be replayed (which matters most
// with Plaintext, where nothing else binds the connection to the key).
type replayCache struct {
	mu      sync.Mutex
	seen    map[string]time.Time // authenticator -> when it may be forgotten
	checked time.Time            // when expired entries were last dropped
}

// maxReplayEntries bounds the cache; beyond it new clients are refused
// until entries expire.
const maxReplayEntries = 1 << 16

// add records key, valid until expires; it reports false when key is
// already there (a replay) or the cache is full.
func (c *replayCache) add(key string, now, expires time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[string]time.Time)
	}
	if now.Sub(c.checked) > time.Second || len(c.seen) >= maxReplayEntries {
		for k, t := range c.seen {
			if now.After(t) {
				delete(c.seen, k)
			}
		}
		c.checked = now
	}
	if t, ok := c.seen[key]; ok && !now.After(t) {
		return false
	}
	if len(c.seen) >= maxReplayEntries {
		return false
	}
	c.seen[key] = expires
	return true
}
