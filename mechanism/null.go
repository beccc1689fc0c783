package mechanism

import (
	"bytes"
	"context"

	"github.com/zmtp-go/zmtp/frame"
)

// Null is the NULL mechanism: no security, each side sends READY with its
// metadata and checks the peer's. The zero value is ready to use.
//
// With an Authenticator (or a Domain), a NULL socket asks it about each
// peer, as libzmq does for a NULL socket with a ZAP domain: the request has
// the peer's address and Identity and no credentials, and our READY goes
// out only once the peer is accepted. A Domain with no Authenticator
// refuses every peer (fail closed).
type Null struct {
	Authenticator Authenticator
	Domain        string
}

// Name returns "NULL".
func (Null) Name() string { return frame.MechanismNull }

// AsServer returns false: NULL has no roles and the bit must be zero.
func (Null) AsServer() bool { return false }

// NewHandshake returns a NULL handshake for one connection.
func (m Null) NewHandshake(p Params) (Handshake, error) {
	return &nullHandshake{params: p, auth: m.Authenticator, domain: m.Domain,
		zap: m.Authenticator != nil || m.Domain != ""}, nil
}

type nullHandshake struct {
	params Params
	auth   Authenticator
	domain string
	zap    bool // authenticate the peer before sending READY
	peer   frame.Metadata
	done   bool
}

// Start sends READY at once, without waiting for the peer's, as libzmq
// does (RFC 23 allows either order; RFC 37's client-first order is met
// since READY is the first thing either side sends).
func (h *nullHandshake) Start() ([]frame.Command, error) {
	md := ReadyMetadata(h.params)
	if err := md.Validate(); err != nil {
		return nil, err
	}
	if h.zap {
		return nil, nil // READY once the peer is accepted
	}
	return []frame.Command{h.ready()}, nil
}

func (h *nullHandshake) ready() frame.Command {
	return frame.Command{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, ReadyMetadata(h.params))}
}

func (h *nullHandshake) Handle(ctx context.Context, cmd frame.Command) ([]frame.Command, error) {
	if h.done {
		return nil, ErrUnexpectedCommand
	}
	switch cmd.Name {
	case frame.CmdReady:
	case frame.CmdError:
		reason, err := frame.ParseError(cmd.Data)
		if err != nil {
			return nil, wrapMalformed(err)
		}
		return nil, &PeerError{Reason: reason}
	default:
		return nil, ErrUnexpectedCommand
	}
	md, err := frame.ParseMetadata(cmd.Data)
	if err != nil {
		return nil, wrapMalformed(err)
	}
	if err := CheckPeerMetadata(h.params, md); err != nil {
		return refuseMetadata(err), err
	}
	h.done = true
	if !h.zap {
		h.peer = cloneMetadata(md)
		return nil, nil
	}
	id, _ := md.Lookup(frame.PropIdentity)
	grant, cmds, err := authenticate(ctx, h.auth, &ZAPRequest{
		Domain: h.domain, Address: h.params.RemoteAddr, RoutingID: bytes.Clone(id), Mechanism: frame.MechanismNull,
	})
	if err != nil {
		h.done = false
		return cmds, err
	}
	h.peer = peerMetadataWithAuth(md, grant)
	return []frame.Command{h.ready()}, nil
}

func (h *nullHandshake) Done() bool                   { return h.done }
func (h *nullHandshake) PeerMetadata() frame.Metadata { return h.peer }
func (h *nullHandshake) Cipher() Cipher               { return nil }

// refuseMetadata returns what a server sends before closing when the
// peer's metadata fail CheckPeerMetadata with err: nothing for a
// Socket-Type that is missing or cannot talk to ours, as libzmq 4.3 closes
// without ERROR in every mechanism; otherwise ERROR "Invalid handshake".
func refuseMetadata(err error) []frame.Command {
	if _, ok := err.(*SocketTypeError); ok {
		return nil
	}
	const reason = "Invalid handshake"
	return []frame.Command{{Name: frame.CmdError, Data: append([]byte{byte(len(reason))}, reason...)}}
}

// cloneMetadata copies md so that it no longer aliases a read buffer.
func cloneMetadata(md frame.Metadata) frame.Metadata {
	if md == nil {
		return nil
	}
	out := make(frame.Metadata, len(md))
	for i, p := range md {
		out[i] = frame.Property{Name: p.Name, Value: append([]byte(nil), p.Value...)}
	}
	return out
}
