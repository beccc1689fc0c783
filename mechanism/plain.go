package mechanism

import (
	"bytes"
	"context"
	"strconv"

	"github.com/zmtp-go/zmtp/frame"
)

// Plain is the PLAIN mechanism (RFC 24): the client sends a user name and a
// password in clear text and the server's Authenticator accepts or refuses
// them. It offers no confidentiality; use it on trusted networks only.
//
// A Plain is read, never modified, by its handshakes: it is safe for
// concurrent use as long as it is not changed once in use. Its String
// method never shows the password.
type Plain struct {
	// Server selects the server role (the as-server bit of the greeting).
	Server bool

	// Username and Password are the client's credentials, at most 255
	// octets each.
	Username, Password string

	// Authenticator decides whether the server accepts a client. When it is
	// nil the server refuses every client with ERROR "400": PLAIN never
	// accepts all comers by default.
	//
	// The server writes the ERROR that refuses a client as libzmq 4.3's
	// PLAIN server does, malformed (frame.LibzmqError), since libzmq's
	// PLAIN client recognises no other form; a client that follows RFC 24
	// to the letter sees a malformed command, as it does from libzmq.
	Authenticator Authenticator
	// Domain is the server's authentication domain, passed to the
	// Authenticator.
	Domain string
}

// Name returns "PLAIN".
func (Plain) Name() string { return frame.MechanismPlain }

// String describes m by its role and user name. It never shows the
// password.
func (m Plain) String() string {
	if m.Server {
		return "PLAIN server"
	}
	return "PLAIN client " + strconv.Quote(m.Username)
}

// GoString is String, so that %#v does not print the password either.
func (m Plain) GoString() string { return m.String() }

// AsServer reports whether m is configured as the server.
func (m Plain) AsServer() bool { return m.Server }

// NewHandshake returns a PLAIN handshake for one connection. It fails when
// the client's credentials are too long or our metadata is invalid. The
// peer's as-server bit is not checked: libzmq 4.3 always sends it as zero.
func (m Plain) NewHandshake(p Params) (Handshake, error) {
	if err := ReadyMetadata(p).Validate(); err != nil {
		return nil, err
	}
	if m.Server {
		return &plainServer{params: p, auth: m.Authenticator, domain: m.Domain}, nil
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &plainClient{params: p, username: m.Username, password: m.Password}, nil
}

// RawCommandHandler is implemented by handshakes that can interpret a
// command body that frame.ParseCommand rejects. When parsing a command
// fails during the handshake, a connection whose Handshake implements it
// passes the raw body to HandleMalformed instead of failing at once, and
// treats the result as it treats Handle's.
//
// The PLAIN client implements it to recognise the malformed ERROR command
// that libzmq 4.3's PLAIN server sends when it refuses a client (see
// IsLibzmqMalformedError); the GSSAPI server to take the empty command
// libzmq's GSSAPI client sends.
type RawCommandHandler interface {
	// HandleMalformed consumes a command body that does not parse. It
	// returns an error unless the body is one the handshake expects: a
	// *PeerError when the body is a refusal it recognises, otherwise a
	// malformed-command error.
	HandleMalformed(body []byte) ([]frame.Command, error)
}

// IsLibzmqMalformedError reports whether body is the ERROR command that
// libzmq 4.3's PLAIN server sends when it refuses a client: 0x5E, "RROR",
// then a reason length and the reason, which must fill the body exactly.
// It returns the reason (libzmq sends the ZAP status code, such as "400").
// It is frame.ParseLibzmqError, where the layout is described.
func IsLibzmqMalformedError(body []byte) (reason string, ok bool) {
	return frame.ParseLibzmqError(body)
}

// plainState is the position of a PLAIN handshake.
type plainState uint8

const (
	plainStart          plainState = iota // client: Start not called yet
	plainExpectHello                      // server: waiting for HELLO
	plainExpectWelcome                    // client: HELLO sent
	plainExpectInitiate                   // server: WELCOME sent
	plainExpectReady                      // client: INITIATE sent
	plainDone
	plainFailed
)

type plainClient struct {
	params             Params
	username, password string
	state              plainState
	peer               frame.Metadata
}

// Start sends HELLO with the user name and password.
func (h *plainClient) Start() ([]frame.Command, error) {
	if h.state != plainStart {
		return nil, ErrUnexpectedCommand
	}
	data := make([]byte, 0, 2+len(h.username)+len(h.password))
	data = append(data, byte(len(h.username)))
	data = append(data, h.username...)
	data = append(data, byte(len(h.password)))
	data = append(data, h.password...)
	h.state = plainExpectWelcome
	return []frame.Command{{Name: frame.CmdHello, Data: data}}, nil
}

func (h *plainClient) Handle(_ context.Context, cmd frame.Command) ([]frame.Command, error) {
	if h.state == plainDone {
		return nil, ErrUnexpectedCommand
	}
	cmds, err := h.handle(cmd)
	if err != nil {
		h.state = plainFailed
	}
	return cmds, err
}

func (h *plainClient) handle(cmd frame.Command) ([]frame.Command, error) {
	if cmd.Name == frame.CmdError && (h.state == plainExpectWelcome || h.state == plainExpectReady) {
		return nil, peerError(cmd.Data)
	}
	switch {
	case h.state == plainExpectWelcome && cmd.Name == frame.CmdWelcome:
		if len(cmd.Data) != 0 {
			return nil, ErrMalformedCommand
		}
		h.state = plainExpectReady
		md := ReadyMetadata(h.params)
		return []frame.Command{{Name: frame.CmdInitiate, Data: frame.AppendMetadata(nil, md)}}, nil
	case h.state == plainExpectReady && cmd.Name == frame.CmdReady:
		md, err := frame.ParseMetadata(cmd.Data)
		if err != nil {
			return nil, wrapMalformed(err)
		}
		if err := CheckPeerMetadata(h.params, md); err != nil {
			return nil, err // a client never sends ERROR
		}
		h.peer = cloneMetadata(md)
		h.state = plainDone
		return nil, nil
	}
	return nil, ErrUnexpectedCommand
}

// HandleMalformed reports libzmq's malformed ERROR as a *PeerError while
// the client waits for WELCOME or READY; any other body is malformed.
func (h *plainClient) HandleMalformed(body []byte) ([]frame.Command, error) {
	if h.state == plainDone {
		return nil, wrapMalformed(frame.ErrMalformedCommand)
	}
	if h.state == plainExpectWelcome || h.state == plainExpectReady {
		if reason, ok := IsLibzmqMalformedError(body); ok {
			h.state = plainFailed
			return nil, &PeerError{Reason: reason}
		}
	}
	h.state = plainFailed
	return nil, wrapMalformed(frame.ErrMalformedCommand)
}

// String and GoString keep the password out of anything that prints a
// handshake.
func (h *plainClient) String() string   { return "PLAIN client handshake" }
func (h *plainClient) GoString() string { return h.String() }

func (h *plainClient) Done() bool                   { return h.state == plainDone }
func (h *plainClient) PeerMetadata() frame.Metadata { return h.peer }
func (h *plainClient) Cipher() Cipher               { return nil }

type plainServer struct {
	params Params
	auth   Authenticator
	domain string
	state  plainState
	grant  *authGrant
	peer   frame.Metadata
}

// Start sends nothing: the server waits for HELLO.
func (h *plainServer) Start() ([]frame.Command, error) {
	if h.state != plainStart {
		return nil, ErrUnexpectedCommand
	}
	h.state = plainExpectHello
	return nil, nil
}

func (h *plainServer) Handle(ctx context.Context, cmd frame.Command) ([]frame.Command, error) {
	if h.state == plainDone {
		return nil, ErrUnexpectedCommand
	}
	cmds, err := h.handle(ctx, cmd)
	if err != nil {
		h.state = plainFailed
	}
	return cmds, err
}

func (h *plainServer) handle(ctx context.Context, cmd frame.Command) ([]frame.Command, error) {
	switch {
	case h.state == plainExpectHello && cmd.Name == frame.CmdHello:
		user, pass, err := parsePlainHello(cmd.Data)
		if err != nil {
			return nil, err
		}
		req := &ZAPRequest{
			Domain:      h.domain,
			Address:     h.params.RemoteAddr,
			Mechanism:   frame.MechanismPlain,
			Credentials: [][]byte{user, pass},
		}
		grant, cmds, err := authenticate(ctx, h.auth, req)
		if err != nil {
			return asLibzmqErrors(cmds), err
		}
		h.grant = grant
		h.state = plainExpectInitiate
		return []frame.Command{{Name: frame.CmdWelcome}}, nil
	case h.state == plainExpectInitiate && cmd.Name == frame.CmdInitiate:
		md, err := frame.ParseMetadata(cmd.Data)
		if err != nil {
			return nil, wrapMalformed(err)
		}
		if err := CheckPeerMetadata(h.params, md); err != nil {
			return refuseMetadata(err), err
		}
		h.peer = peerMetadataWithAuth(md, h.grant)
		h.state = plainDone
		ready := ReadyMetadata(h.params)
		return []frame.Command{{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, ready)}}, nil
	}
	return nil, ErrUnexpectedCommand
}

// asLibzmqErrors rewrites the well-formed ERROR commands in cmds in the
// form libzmq 4.3's PLAIN server writes (frame.LibzmqError): libzmq's
// PLAIN client recognises no other, and takes a well-formed ERROR for an
// unexpected command rather than a refusal.
func asLibzmqErrors(cmds []frame.Command) []frame.Command {
	for i, c := range cmds {
		if reason, err := frame.ParseError(c.Data); c.Name == frame.CmdError && c.Raw == nil && err == nil {
			cmds[i] = frame.LibzmqError(reason)
		}
	}
	return cmds
}

// parsePlainHello splits HELLO data into copies of the user name and the
// password, whose lengths must fill the data exactly.
func parsePlainHello(data []byte) (user, pass []byte, err error) {
	if len(data) < 2 {
		return nil, nil, ErrMalformedCommand
	}
	ulen := int(data[0])
	if 1+ulen+1 > len(data) {
		return nil, nil, ErrMalformedCommand
	}
	plen := int(data[1+ulen])
	if 1+ulen+1+plen != len(data) {
		return nil, nil, ErrMalformedCommand
	}
	return bytes.Clone(data[1 : 1+ulen]), bytes.Clone(data[2+ulen:]), nil
}

func (h *plainServer) Done() bool                   { return h.state == plainDone }
func (h *plainServer) PeerMetadata() frame.Metadata { return h.peer }
func (h *plainServer) Cipher() Cipher               { return nil }

// peerError turns the data of a received ERROR command into a *PeerError,
// or a malformed-command error when the reason length is wrong.
func peerError(data []byte) error {
	reason, err := frame.ParseError(data)
	if err != nil {
		return wrapMalformed(err)
	}
	return &PeerError{Reason: reason}
}
