package dump

import (
	"encoding/binary"
	"fmt"
)

// GSSAPI describes the token of a GSSAPI command (RFC 38 as libzmq 4.3
// writes it): INITIATE and MESSAGE carry a 4-octet length and a GSS-API
// token, which is not decrypted.
type GSSAPI struct {
	// Token is the token's size as its length field gives it.
	Token int
	// Kind is what the token holds: "AP-REQ", "AP-REP" or "KRB-ERROR"
	// (Kerberos initial context tokens, RFC 4121 section 4.1), "wrap" (a
	// wrap token, section 4.2.6.2), or "" when not recognised.
	Kind string
	// Sender is "initiator" or "acceptor" for a wrap token; Sealed tells
	// that it is encrypted; Seq is its sequence number.
	Sender string
	Sealed bool
	Seq    uint64
}

// krb5TokenOID is the DER object identifier of Kerberos V5 in a GSS-API
// initial context token.
const krb5TokenOID = "\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"

// gssapiToken decodes the data of a GSSAPI INITIATE or MESSAGE command,
// of which data holds the first octets of dataSize.
func gssapiToken(data []byte, dataSize int64) (*GSSAPI, string) {
	if len(data) < 4 {
		return &GSSAPI{}, fmt.Sprintf("GSSAPI token length missing: %d octets of data", dataSize)
	}
	g := &GSSAPI{Token: int(binary.BigEndian.Uint32(data))}
	var msg string
	if int64(g.Token) != dataSize-4 {
		msg = fmt.Sprintf("GSSAPI token length %d, %d octets follow", g.Token, dataSize-4)
	}
	tok := data[4:]
	switch {
	case len(tok) >= 16 && tok[0] == 0x05 && tok[1] == 0x04:
		g.Kind, g.Sender, g.Sealed = "wrap", "initiator", tok[2]&0x02 != 0
		if tok[2]&0x01 != 0 {
			g.Sender = "acceptor"
		}
		g.Seq = binary.BigEndian.Uint64(tok[8:])
	case len(tok) > 2 && tok[0] == 0x60:
		// Skip the DER length to the mechanism OID and token identifier.
		i := 2
		if tok[1] >= 0x80 {
			i += int(tok[1] & 0x7f)
		}
		if len(tok) >= i+len(krb5TokenOID)+2 && string(tok[i:i+len(krb5TokenOID)]) == krb5TokenOID {
			switch binary.BigEndian.Uint16(tok[i+len(krb5TokenOID):]) {
			case 0x0100:
				g.Kind = "AP-REQ"
			case 0x0200:
				g.Kind = "AP-REP"
			case 0x0300:
				g.Kind = "KRB-ERROR"
			}
		}
	}
	return g, msg
}

// summary describes g in one line.
func (g *GSSAPI) summary() string {
	s := fmt.Sprintf(" (GSSAPI) %s token %d octets", g.Kind, g.Token)
	if g.Kind == "wrap" {
		s = fmt.Sprintf(" (GSSAPI) wrap token %d octets from the %s seq %d", g.Token, g.Sender, g.Seq)
		if g.Sealed {
			s += " sealed"
		}
	}
	return s
}
