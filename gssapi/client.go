package gssapi

import (
	"context"
	"encoding/binary"
	"strings"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// GSS-API context flags (RFC 2744) carried in the authenticator checksum.
const (
	gssMutual = 0x02
	gssReplay = 0x04
	gssConf   = 0x10
	gssInteg  = 0x20
	gssTrans  = 0x100
)

// clientGSSFlags are the flags libzmq's client context carries with MIT
// Kerberos: libzmq asks for mutual authentication and replay detection,
// and MIT adds confidentiality, integrity and the transferable flag.
const clientGSSFlags = gssMutual | gssReplay | gssConf | gssInteg | gssTrans

// checksumSize is the size of the authenticator checksum of RFC 4121
// section 4.1.1 without delegation: Lgth, Bnd and Flags.
const checksumSize = 24

// state is the position of a GSSAPI handshake.
type state uint8

const (
	stateStart       state = iota
	stateExpectAPRep       // client: AP-REQ sent
	stateExpectReady       // client: AP-REP processed, empty command sent
	stateExpectAPReq       // server: waiting for the AP-REQ
	stateExpectFinal       // server: AP-REP sent, waiting for the empty command
	stateExpectPeer        // server: READY sent, waiting for the client's
	stateDone
	stateFailed
)

type clientHandshake struct {
	m      *Mechanism
	s      settings
	params mechanism.Params
	state  state

	sessionKey types.EncryptionKey
	auth       types.Authenticator
	w          *wrapper // nil with Plaintext
	peer       frame.Metadata
}

// Start gets a service ticket (asking the KDC unless Client has one
// cached) and sends the AP-REQ in an INITIATE command.
func (h *clientHandshake) Start() ([]frame.Command, error) {
	if h.state != stateStart {
		return nil, ErrUnexpectedToken
	}
	h.state = stateFailed
	spn := strings.Join(h.s.service.name.NameString, "/")
	tkt, key, err := h.s.tickets.serviceTicket(spn)
	if err != nil {
		return nil, &KerberosError{Op: "get a service ticket for " + spn, Err: err}
	}
	if h.s.service.realm != "" && tkt.Realm != h.s.service.realm {
		return nil, &KerberosError{Op: "service ticket is for realm " + tkt.Realm + ", not " + h.s.service.realm}
	}
	cname, crealm := h.s.tickets.clientName()
	auth, err := types.NewAuthenticator(crealm, cname)
	if err != nil {
		return nil, &KerberosError{Op: "make authenticator", Err: err}
	}
	cksum := make([]byte, checksumSize)
	binary.LittleEndian.PutUint32(cksum[0:], 16)
	binary.LittleEndian.PutUint32(cksum[20:], clientGSSFlags)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: cksum}
	if auth.SubKey, err = newSubkey(key); err != nil {
		return nil, err
	}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		return nil, &KerberosError{Op: "make AP-REQ", Err: err}
	}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	b, err := req.Marshal()
	if err != nil {
		return nil, &KerberosError{Op: "encode AP-REQ", Err: err}
	}
	h.sessionKey, h.auth = key, auth
	h.state = stateExpectAPRep
	tok := appendContextToken(nil, tokAPReq, b)
	return []frame.Command{{Name: frame.CmdInitiate, Data: appendTokenData(nil, tok)}}, nil
}

func (h *clientHandshake) Handle(_ context.Context, cmd frame.Command) ([]frame.Command, error) {
	if h.state == stateDone {
		return nil, ErrUnexpectedToken
	}
	cmds, err := h.handle(cmd)
	if err != nil {
		h.state = stateFailed
	}
	return cmds, err
}

func (h *clientHandshake) handle(cmd frame.Command) ([]frame.Command, error) {
	if cmd.Name == frame.CmdError && (h.state == stateExpectAPRep || h.state == stateExpectReady) {
		return nil, peerError(cmd.Data)
	}
	switch {
	case h.state == stateExpectAPRep && cmd.Name == frame.CmdInitiate:
		tok, err := parseTokenData(cmd.Data)
		if err != nil {
			return nil, err
		}
		if err := h.processAPRep(tok); err != nil {
			return nil, err
		}
		h.state = stateExpectReady
		// libzmq's client sends an empty command once its context is
		// complete; its server waits for it before READY.
		return []frame.Command{{Raw: []byte{}}}, nil
	case h.state == stateExpectReady:
		md, err := parseReady(h.params, h.w, cmd)
		if err != nil {
			return nil, err
		}
		out, err := readyCommands(h.params, h.w)
		if err != nil {
			return nil, err
		}
		h.peer = cloneMetadata(md)
		h.state = stateDone
		return out, nil
	}
	return nil, ErrUnexpectedToken
}

// processAPRep checks the server's AP-REP (RFC 4120 section 3.2.5) and
// sets up the wrap keys and sequence numbers it gives.
func (h *clientHandshake) processAPRep(tok []byte) error {
	id, msg, err := parseContextToken(tok)
	if err != nil {
		return err
	}
	switch id {
	case tokAPRep:
	case tokKRBError:
		var kerr messages.KRBError
		if err := kerr.Unmarshal(msg); err != nil {
			return ErrMalformedToken
		}
		return &KerberosError{Op: "server refused the AP-REQ", Err: kerr}
	default:
		return ErrUnexpectedToken
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return ErrMalformedToken
	}
	plain, err := crypto.DecryptEncPart(rep.EncPart, h.sessionKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return &KerberosError{Op: "decrypt AP-REP (is the server the service it claims?)", Err: err}
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return ErrMalformedToken
	}
	if part.CTime.Unix() != h.auth.CTime.Unix() || part.Cusec != h.auth.Cusec {
		return &KerberosError{Op: "AP-REP does not answer our authenticator"}
	}
	key, acceptorSubkey := h.sessionKey, false
	switch {
	case len(part.Subkey.KeyValue) > 0:
		key, acceptorSubkey = part.Subkey, true
	case len(h.auth.SubKey.KeyValue) > 0:
		key = h.auth.SubKey
	}
	if h.m.Plaintext {
		return nil // nothing is wrapped
	}
	h.w, err = newWrapper(key, false, acceptorSubkey, seqNumber(h.auth.SeqNumber), seqNumber(part.SequenceNumber))
	return err
}

// seqNumber reads an initial sequence number: Kerberos carries 32 bits,
// which some implementations encode as a negative number.
func seqNumber(n int64) uint64 { return uint64(uint32(n)) }

func (h *clientHandshake) Done() bool                   { return h.state == stateDone }
func (h *clientHandshake) PeerMetadata() frame.Metadata { return h.peer }

// Cipher returns the wrap-token cipher, or nil with Plaintext.
func (h *clientHandshake) Cipher() mechanism.Cipher {
	if h.w == nil || h.state != stateDone {
		return nil
	}
	return cipher{h.w}
}

// String keeps keys out of anything that prints a handshake.
func (h *clientHandshake) String() string   { return "GSSAPI client handshake" }
func (h *clientHandshake) GoString() string { return h.String() }

// cloneMetadata returns a copy of md that does not alias it.
func cloneMetadata(md frame.Metadata) frame.Metadata {
	out := make(frame.Metadata, len(md))
	for i, p := range md {
		out[i] = frame.Property{Name: p.Name, Value: append([]byte(nil), p.Value...)}
	}
	return out
}
