package dump

import (
	"fmt"

	"github.com/zmtp-go/zmtp/frame"
)

// readGreeting reads a greeting, or recognises a legacy one.
func (d *Decoder) readGreeting(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if b[0] != 0xFF {
		d.beginLegacy(fm1, 1, 0, "")
		return 0, true
	}
	if len(b) < 10 {
		return 0, false
	}
	if b[9]&1 == 0 {
		// ZMTP 1.0 identity with an 8-octet length.
		d.beginLegacy(fm1, 1, 0, "")
		return 0, true
	}
	if len(b) < frame.GreetingPrefixSize+1 {
		return 0, false
	}
	if v := b[10]; v < 3 {
		d.beginLegacy(fm2, 2, int(v), legacySocketType(b[11]))
		return frame.GreetingPrefixSize + 1, true
	}
	if len(b) < frame.GreetingSize {
		return 0, false
	}
	g := &Greeting{Major: int(b[10]), Minor: int(b[11])}
	pg, err := frame.ParseGreeting(b[:frame.GreetingSize])
	var msg string
	if err != nil {
		msg = "malformed greeting: " + errText(err)
		g.Mechanism = string(trimNUL(b[12:32]))
		g.AsServer = b[32] != 0
	} else {
		g.Mechanism, g.AsServer = pg.Mechanism, pg.AsServer
	}
	d.greeted = true
	d.major, d.minor = g.Major, g.Minor
	d.mechanism, d.asServer = g.Mechanism, g.AsServer
	d.framing = fm3
	d.state = stHeader
	d.stats.Greeting = true
	d.emitEvent(Event{Kind: KindGreeting, Offset: d.off, Len: frame.GreetingSize, Greeting: g, Err: msg})
	d.unsynced = false
	return frame.GreetingSize, true
}

// beginLegacy switches to ZMTP 1.0 or 2.0 framing; the next frame is the
// sender's identity, which completes the greeting.
func (d *Decoder) beginLegacy(f framing, major, rev int, sockType string) {
	d.framing = f
	d.state = stHeader
	d.legacyID = true
	d.greeting = &Greeting{Major: major, SocketType: sockType}
	if f == fm2 {
		d.greeting.Minor = max(rev-1, 0)
	}
	d.major, d.minor = major, d.greeting.Minor
	d.sockType = sockType
	d.gOff = d.off
}

func legacySocketType(b byte) string {
	names := [...]string{"PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH"}
	if int(b) < len(names) {
		return names[b]
	}
	return fmt.Sprintf("0x%02X", b)
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
