package dump

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/zmtp-go/zmtp/frame"
)

// Sizes from the CurveZMQ grammar (RFC 26): the data of each command after
// its name (package frame's layouts).
const (
	curveHelloData    = frame.CurveHelloSize
	curveWelcomeData  = frame.CurveWelcomeSize
	curveCookie       = frame.CurveCookieSize
	curveInitiateMin  = frame.CurveInitiateMinSize
	curveReadyMin     = frame.CurveReadyMinSize
	curveMessageMin   = frame.CurveMessageMinSize
	curveHelloKeyAt   = frame.CurveHelloKeyOffset
	curveHelloNonceAt = frame.CurveHelloNonceOffset
)

// libzmqErrorHint explains the malformed ERROR that libzmq 4.3's PLAIN
// server sends when it refuses a client.
const libzmqErrorHint = `libzmq 4.3 PLAIN server refusal: its "\x05ERROR" is read by C as 0x5E "RROR", ` +
	`so the name length is 0x5E; the reason is the ZAP status code`

// mech returns the connection's mechanism: from this direction's greeting
// or else the other's.
func (d *Decoder) mech() string {
	if d.mechanism != "" {
		return d.mechanism
	}
	if d.peer != nil {
		return d.peer.mechanism
	}
	return ""
}

// decodeCommand decodes a command body of size octets of which body holds
// the first ones (all of them unless truncated). It returns the command
// (with an empty Name when the body is not a command at all), a
// description of what is malformed, and a hint. Nothing returned aliases
// body.
func (d *Decoder) decodeCommand(body []byte, size int64, truncated bool) (*Command, string, string) {
	c := &Command{Size: size, Truncated: truncated, Body: clip(body, max(d.opts.Preview, minValuePreview))}
	if n := len(frame.LibzmqErrorPrefix); len(body) > n && string(body[:n]) == frame.LibzmqErrorPrefix {
		c.Name = frame.CmdError
		r := body[6:]
		msg := "malformed command name length 0x5E"
		if int(body[5]) != len(r) {
			msg += fmt.Sprintf("; reason length %d, %d octets follow", body[5], len(r))
		}
		c.Reason = string(r[:min(int(body[5]), len(r))])
		d.hs.err = c.Reason
		return c, msg, libzmqErrorHint
	}
	pc, err := frame.ParseCommand(body)
	if err != nil && size == 0 && d.mech() == frame.MechanismGSSAPI {
		// libzmq's GSSAPI client sends an empty command once its security
		// context is established; its server waits for it before READY.
		c.Empty = true
		return c, "", "GSSAPI client: security context established"
	}
	if err != nil {
		c.Data = clip(body, d.opts.Preview)
		return c, describeBadName(body), ""
	}
	c.Name = pc.Name
	data := pc.Data
	dataSize := size - 1 - int64(len(pc.Name))
	mech := d.mech()
	var msg string
	switch pc.Name {
	case frame.CmdReady:
		d.hs.ready = true
		if mech == frame.MechanismCurve || mech == "" && !plausibleMetadata(data) && dataSize >= curveReadyMin {
			c.Curve, msg = shortNonceBox(data, dataSize, curveReadyMin)
		} else {
			c.Properties, msg = d.properties(data, truncated)
		}
	case frame.CmdInitiate:
		d.hs.initiate = true
		if mech == frame.MechanismGSSAPI {
			c.GSSAPI, msg = gssapiToken(data, dataSize)
		} else if mech == frame.MechanismCurve || mech == "" && !plausibleMetadata(data) && dataSize >= curveInitiateMin {
			c.Curve, msg = curveInitiate(data, dataSize)
		} else {
			c.Properties, msg = d.properties(data, truncated)
		}
	case frame.CmdHello:
		d.hs.hello = true
		if mech == frame.MechanismCurve || mech == "" && dataSize == curveHelloData {
			c.Curve, msg = curveHello(data, dataSize)
		} else {
			msg = d.plainHello(c, data)
		}
	case frame.CmdWelcome:
		d.hs.welcome = true
		if mech == frame.MechanismCurve || mech == "" && dataSize == curveWelcomeData {
			c.Curve = &Curve{Nonce: clip(data, 16), Box: int(dataSize - 16)}
			if dataSize != curveWelcomeData {
				msg = fmt.Sprintf("CURVE WELCOME data is %d octets, %d expected", dataSize, curveWelcomeData)
			}
		} else if dataSize != 0 {
			msg = fmt.Sprintf("PLAIN WELCOME carries %d octets of data, none expected", dataSize)
		}
	case frame.CmdMessage:
		if mech == frame.MechanismGSSAPI {
			// A wrapped READY: from now on every frame is a MESSAGE.
			d.gssSealed = true
			c.GSSAPI, msg = gssapiToken(data, dataSize)
			break
		}
		c.Curve, msg = shortNonceBox(data, dataSize, curveMessageMin)
	case frame.CmdError:
		reason, err := frame.ParseError(data)
		if err != nil {
			msg = "malformed ERROR reason"
			if len(data) > 0 {
				reason = string(data[1:min(len(data), 1+int(data[0]))])
			}
		}
		c.Reason = reason
		d.hs.err = reason
	case frame.CmdSubscribe, frame.CmdCancel:
		c.Topic = clip(data, max(d.opts.Preview, minValuePreview))
	case frame.CmdJoin, frame.CmdLeave:
		c.Topic = clip(data, max(d.opts.Preview, minValuePreview))
		if _, err := frame.ParseGroup(data); err != nil && !truncated {
			msg = "group longer than 255 octets or holding a zero octet"
		} else if dataSize > frame.MaxGroupSize {
			msg = "group longer than 255 octets"
		}
	case frame.CmdPing:
		p, err := frame.ParsePing(data)
		if err != nil {
			msg = "PING shorter than its 2-octet TTL"
			c.Context = clip(data, frame.MaxPingContext)
			break
		}
		c.TTL, c.Context = p.TTL, clip(p.Context, frame.MaxPingContext)
		if dataSize-2 > frame.MaxPingContext {
			msg = fmt.Sprintf("PING context of %d octets, at most 16 allowed", dataSize-2)
		}
	case frame.CmdPong:
		c.Context = clip(data, frame.MaxPingContext)
		if dataSize > frame.MaxPingContext {
			msg = fmt.Sprintf("PONG context of %d octets, at most 16 allowed", dataSize)
		}
	default:
		c.Data = clip(data, d.opts.Preview)
	}
	return c, msg, ""
}

// describeBadName says why a command body has no valid name.
func describeBadName(body []byte) string {
	switch {
	case len(body) == 0:
		return "malformed command: empty body"
	case body[0] == 0:
		return "malformed command: name length 0"
	case int(body[0]) > len(body)-1:
		return fmt.Sprintf("malformed command: name length %d exceeds the body", body[0])
	}
	return "malformed command: name holds characters other than letters"
}

// properties decodes READY or INITIATE metadata and notes the sender's
// socket type.
func (d *Decoder) properties(data []byte, truncated bool) ([]Property, string) {
	props, msg := parseProperties(data, truncated, max(d.opts.Preview, minValuePreview))
	for _, p := range props {
		if strings.EqualFold(p.Name, frame.PropSocketType) && len(p.Value) == p.ValueLen {
			d.sockType = string(p.Value)
		}
	}
	return props, msg
}

// parseProperties decodes metadata, keeping at most keep octets of each
// value. When truncated, a property cut by the end of data is kept with
// the part of its value that is there.
func parseProperties(b []byte, truncated bool, keep int) ([]Property, string) {
	var props []Property
	for len(b) > 0 {
		nl := int(b[0])
		if nl == 0 {
			return props, "malformed metadata: empty property name"
		}
		if len(b) < 1+nl {
			if truncated {
				return props, ""
			}
			return props, "malformed metadata: property name runs past the end"
		}
		name := b[1 : 1+nl]
		if !frame.ValidPropertyName(string(name)) {
			return props, fmt.Sprintf("malformed metadata: invalid property name %q", name)
		}
		b = b[1+nl:]
		if len(b) < 4 {
			if truncated {
				return props, ""
			}
			return props, fmt.Sprintf("malformed metadata: property %q has no value length", name)
		}
		vl := binary.BigEndian.Uint32(b)
		b = b[4:]
		if vl > frame.MaxPropertyValueSize {
			return props, fmt.Sprintf("malformed metadata: property %q value length %d", name, vl)
		}
		have := min(uint64(vl), uint64(len(b)))
		if have < uint64(vl) && !truncated {
			return props, fmt.Sprintf("malformed metadata: property %q value of %d octets runs past the end", name, vl)
		}
		props = append(props, Property{Name: string(name), Value: clip(b[:have], keep), ValueLen: int(vl)})
		b = b[have:]
	}
	return props, ""
}

// plausibleMetadata reports whether data parses as metadata.
func plausibleMetadata(data []byte) bool {
	_, msg := parseProperties(data, false, 0)
	return msg == ""
}

// plainHello decodes a PLAIN HELLO: username and password, each with a
// one-octet length, filling the data exactly.
func (d *Decoder) plainHello(c *Command, data []byte) string {
	if len(data) < 1 || len(data) < 1+int(data[0])+1 {
		return "malformed PLAIN HELLO: username runs past the end"
	}
	ul := int(data[0])
	c.Username = string(clip(data[1:1+ul], minValuePreview))
	rest := data[1+ul:]
	pl := int(rest[0])
	if len(rest) < 1+pl {
		return "malformed PLAIN HELLO: password runs past the end"
	}
	c.PasswordLen = pl
	if d.opts.ShowPasswords {
		c.Password = string(rest[1 : 1+pl])
	}
	if len(rest) > 1+pl {
		return fmt.Sprintf("malformed PLAIN HELLO: %d octets after the password", len(rest)-1-pl)
	}
	return ""
}

// curveHello decodes a CURVE HELLO.
func curveHello(data []byte, dataSize int64) (*Curve, string) {
	if dataSize != curveHelloData || len(data) < curveHelloData {
		return &Curve{Box: max(int(dataSize)-curveHelloNonceAt-8, 0)},
			fmt.Sprintf("CURVE HELLO data is %d octets, %d expected", dataSize, curveHelloData)
	}
	cv := &Curve{
		Version:   fmt.Sprintf("%d.%d", data[0], data[1]),
		ClientKey: clip(data[curveHelloKeyAt:curveHelloKeyAt+32], 32),
		Nonce:     clip(data[curveHelloNonceAt:curveHelloNonceAt+8], 8),
		Counter:   binary.BigEndian.Uint64(data[curveHelloNonceAt:]),
		Box:       curveHelloData - curveHelloNonceAt - 8,
	}
	var msg string
	if data[0] != 1 || data[1] != 0 {
		msg = "CURVE HELLO version is not 1.0"
	} else if !zeros(data[2:curveHelloKeyAt]) {
		msg = "CURVE HELLO padding is not zero"
	}
	return cv, msg
}

// curveInitiate decodes a CURVE INITIATE: cookie, short nonce, box.
func curveInitiate(data []byte, dataSize int64) (*Curve, string) {
	if dataSize < curveInitiateMin || len(data) < curveCookie+8 {
		return &Curve{}, fmt.Sprintf("CURVE INITIATE data is %d octets, at least %d expected", dataSize, curveInitiateMin)
	}
	n := data[curveCookie : curveCookie+8]
	return &Curve{
		Cookie:  curveCookie,
		Nonce:   clip(n, 8),
		Counter: binary.BigEndian.Uint64(n),
		Box:     int(dataSize) - curveCookie - 8,
	}, ""
}

// shortNonceBox decodes a short nonce and a box (CURVE READY, MESSAGE).
func shortNonceBox(data []byte, dataSize int64, least int64) (*Curve, string) {
	if len(data) < 8 {
		return &Curve{}, fmt.Sprintf("CURVE command data is %d octets, at least %d expected", dataSize, least)
	}
	cv := &Curve{Nonce: clip(data[:8], 8), Counter: binary.BigEndian.Uint64(data), Box: int(dataSize - 8)}
	if dataSize < least {
		return cv, fmt.Sprintf("CURVE command data is %d octets, at least %d expected", dataSize, least)
	}
	return cv, ""
}

// clip returns a copy of at most the first n octets of b.
func clip(b []byte, n int) []byte {
	if len(b) > n {
		b = b[:n]
	}
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func zeros(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
