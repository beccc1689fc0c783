package gssapi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

type server struct {
	m      *Mechanism
	s      settings
	params mechanism.Params
	state  state

	client  string // the client's principal name, "alice@REALM"
	userID  string
	granted frame.Metadata
	w       *wrapper // nil with Plaintext
	peer    frame.Metadata
}

// Start sends nothing: the server waits for the AP-REQ.
func (h *server) Start() ([]frame.Command, error) {
	if h.state != stateStart {
		return nil, ErrUnexpectedToken
	}
	h.state = stateExpectAPReq
	return nil, nil
}

// Handle takes the AP-REQ, authenticates the client (Kerberos, then the
// Authenticator) and answers with the AP-REP; then takes the client's
// READY once our READY is out.
func (h *server) Handle(ctx context.Context, cmd frame.Command) ([]frame.Command, error) {
	if h.state == stateDone {
		return nil, ErrUnexpectedToken
	}
	cmds, err := h.handle(ctx, cmd)
	if err != nil {
		h.state = stateFailed
	}
	return cmds, err
}

func (h *server) handle(ctx context.Context, cmd frame.Command) ([]frame.Command, error) {
	switch {
	case h.state == stateExpectAPReq && cmd.Name == frame.CmdInitiate:
		tok, err := parseTokenData(cmd.Data)
		if err != nil {
			return nil, err
		}
		rep, err := h.acceptAPReq(tok)
		if err != nil {
			return nil, err
		}
		if err := h.authorize(ctx); err != nil {
			return nil, err
		}
		h.state = stateExpectFinal
		return []frame.Command{{Name: frame.CmdInitiate, Data: appendTokenData(nil, rep)}}, nil
	case h.state == stateExpectPeer:
		md, err := parseReady(h.params, h.w, cmd)
		if err != nil {
			return nil, err
		}
		h.peer = mechanism.AuthenticatedMetadata(md, h.userID, h.granted)
		h.state = stateDone
		return nil, nil
	}
	return nil, ErrUnexpectedToken
}

// HandleMalformed takes the empty command libzmq's client sends once its
// context is complete, and answers with READY. Any other body that does
// not parse as a command fails the handshake.
func (h *server) HandleMalformed(body []byte) ([]frame.Command, error) {
	if h.state != stateExpectFinal || len(body) != 0 {
		h.state = stateFailed
		return nil, fmt.Errorf("%w: %w", ErrMalformedToken, frame.ErrMalformedCommand)
	}
	out, err := readyCommands(h.params, h.w)
	if err != nil {
		h.state = stateFailed
		return nil, err
	}
	h.state = stateExpectPeer
	return out, nil
}

// acceptAPReq verifies the client's AP-REQ against the keytab (RFC 4120
// section 3.2.3 and RFC 4121 section 4.1.1) and returns the AP-REP token
// that answers it, with a fresh acceptor subkey and sequence number as
// MIT Kerberos sends them.
func (h *server) acceptAPReq(tok []byte) ([]byte, error) {
	id, msg, err := parseContextToken(tok)
	if err != nil {
		return nil, err
	}
	if id != tokAPReq {
		return nil, ErrUnexpectedToken
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		return nil, ErrMalformedToken
	}
	if len(req.Ticket.SName.NameString) == 0 {
		return nil, ErrMalformedToken
	}
	if h.s.self.name.NameString != nil && !h.s.self.matches(req.Ticket.SName, req.Ticket.Realm) {
		return nil, &KerberosError{Op: fmt.Sprintf("ticket is for %s, not %s",
			principal{name: req.Ticket.SName, realm: req.Ticket.Realm}, h.s.self)}
	}
	ok, err := req.Verify(h.m.Keytab, h.s.skew, types.HostAddress{}, nil)
	if err != nil || !ok {
		return nil, &KerberosError{Op: "verify AP-REQ", Err: err}
	}
	auth := req.Authenticator
	if auth.Cksum.CksumType != chksumtype.GSSAPI || len(auth.Cksum.Checksum) < checksumSize ||
		binary.LittleEndian.Uint32(auth.Cksum.Checksum) != 16 {
		return nil, &KerberosError{Op: "AP-REQ without the GSS-API checksum"}
	}
	gssFlags := binary.LittleEndian.Uint32(auth.Cksum.Checksum[20:])
	if gssFlags&gssMutual == 0 {
		return nil, &KerberosError{Op: "client did not ask for mutual authentication"}
	}
	h.client = principal{name: auth.CName, realm: auth.CRealm}.String()
	ct := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	now := time.Now()
	key := h.client + "\x00" + req.Ticket.SName.PrincipalNameString() + "\x00" + strconv.FormatInt(ct.UnixMicro(), 10)
	if !h.m.replay.add(key, now, now.Add(2*h.s.skew)) {
		return nil, &KerberosError{Op: "AP-REQ replayed"}
	}

	sessionKey := req.Ticket.DecryptedEncPart.Key
	subkey, err := newSubkey(sessionKey)
	if err != nil {
		return nil, err
	}
	var seqb [4]byte
	if _, err := rand.Read(seqb[:]); err != nil {
		return nil, &KerberosError{Op: "sequence number", Err: err}
	}
	seq := int64(binary.BigEndian.Uint32(seqb[:]) & 0x3fffffff)
	part := messages.EncAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec, Subkey: subkey, SequenceNumber: seq}
	pb, err := asn1.Marshal(part)
	if err != nil {
		return nil, &KerberosError{Op: "encode AP-REP", Err: err}
	}
	pb = asn1tools.AddASNAppTag(pb, asnAppTag.EncAPRepPart)
	enc, err := crypto.GetEncryptedData(pb, sessionKey, keyusage.AP_REP_ENCPART, 0)
	clear(pb)
	if err != nil {
		return nil, &KerberosError{Op: "encrypt AP-REP", Err: err}
	}
	rb, err := asn1.Marshal(messages.APRep{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REP, EncPart: enc})
	if err != nil {
		return nil, &KerberosError{Op: "encode AP-REP", Err: err}
	}
	rb = asn1tools.AddASNAppTag(rb, asnAppTag.APREP)
	if !h.m.Plaintext {
		if h.w, err = newWrapper(subkey, true, true, uint64(seq), seqNumber(auth.SeqNumber)); err != nil {
			return nil, err
		}
	}
	return appendContextToken(nil, tokAPRep, rb), nil
}

// authorize asks the Authenticator about the client, or grants it its
// principal name as User-Id when there is none. A refusal closes the
// connection without ERROR, as libzmq's GSSAPI server does.
func (h *server) authorize(ctx context.Context) error {
	if h.m.Authenticator == nil {
		h.userID = h.client
		return nil
	}
	req := &mechanism.ZAPRequest{
		Domain:      h.m.Domain,
		Address:     h.params.RemoteAddr,
		Mechanism:   frame.MechanismGSSAPI,
		Credentials: [][]byte{[]byte(h.client)},
	}
	userID, md, err := mechanism.Authenticate(ctx, h.m.Authenticator, req)
	if err != nil {
		return err
	}
	h.userID, h.granted = userID, md
	return nil
}

func (h *server) Done() bool                   { return h.state == stateDone }
func (h *server) PeerMetadata() frame.Metadata { return h.peer }

// Cipher returns the wrap-token cipher, or nil with Plaintext.
func (h *server) Cipher() mechanism.Cipher {
	if h.w == nil || h.state != stateDone {
		return nil
	}
	return cipher{h.w}
}

// String keeps keys out of anything that prints a handshake.
func (h *server) String() string   { return "GSSAPI server handshake" }
func (h *server) GoString() string { return h.String() }
