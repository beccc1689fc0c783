package dump

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TimeStyle selects how a TextWriter prints timestamps, as tcpdump's -t
// options do.
type TimeStyle uint8

// Timestamp styles.
const (
	TimeClock      TimeStyle = iota // 15:04:05.000000 (the default)
	TimeNone                        // no timestamp (-t)
	TimeEpoch                       // seconds since 1970 (-tt)
	TimeDelta                       // time since the previous line (-ttt)
	TimeDate                        // 2006-01-02 15:04:05.000000 (-tttt)
	TimeSinceFirst                  // time since the start (-ttttt): see TextWriter.SetStart
)

// HexStyle selects the hex dump printed after each line.
type HexStyle uint8

// Hex dump styles.
const (
	HexNone  HexStyle = iota
	Hex               // hex only (-x)
	HexASCII          // hex and ASCII (-X)
)

// TextOptions configures a TextWriter. The zero value prints one line per
// event with wall-clock timestamps and no colours.
type TextOptions struct {
	Time TimeStyle
	// Location is the time zone of clock and date timestamps; nil means
	// time.Local.
	Location *time.Location
	// Verbose adds a line per frame (and per property).
	Verbose bool
	Hex     HexStyle
	// Color uses ANSI colours.
	Color bool
	// Number prefixes each line with the number of the packet that
	// completed the event, as tcpdump's -# does.
	Number bool
}

// TextWriter prints events one line each, in the manner of tcpdump:
//
//	12:00:00.000100 #1 127.0.0.1:40000 > 127.0.0.1:5555 REQ>REP: message 2 frames, 5 octets: "" | "hello"
//
// It is not safe for concurrent use.
type TextWriter struct {
	w     io.Writer
	opts  TextOptions
	last  time.Time
	first time.Time
	buf   bytes.Buffer
}

// NewTextWriter returns a TextWriter printing to w.
func NewTextWriter(w io.Writer, opts TextOptions) *TextWriter {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	return &TextWriter{w: w, opts: opts}
}

// SetStart sets the time from which TimeSinceFirst counts, such as the
// time of a capture's first packet. Without it, it counts from the first
// event written.
func (t *TextWriter) SetStart(ts time.Time) { t.first = ts }

// ANSI colours.
const (
	colReset   = "\x1b[0m"
	colRed     = "\x1b[31m"
	colGreen   = "\x1b[32m"
	colYellow  = "\x1b[33m"
	colBlue    = "\x1b[34m"
	colMagenta = "\x1b[35m"
	colCyan    = "\x1b[36m"
	colDim     = "\x1b[2m"
)

// Write prints one event.
func (t *TextWriter) Write(ev Event) error {
	b := &t.buf
	b.Reset()
	if t.opts.Number {
		fmt.Fprintf(b, "%d  ", ev.Packet)
	}
	if ts := t.timestamp(ev.Time); ts != "" {
		b.WriteString(ts)
		b.WriteByte(' ')
	}
	if ev.ConnID != 0 {
		fmt.Fprintf(b, "#%d ", ev.ConnID)
	}
	if ev.Src != "" || ev.Dst != "" {
		fmt.Fprintf(b, "%s > %s ", orQ(ev.Src), orQ(ev.Dst))
	}
	fmt.Fprintf(b, "%s>%s: ", orQ(ev.SrcType), orQ(ev.DstType))
	col := t.color(ev)
	if col != "" {
		b.WriteString(col)
	}
	b.WriteString(Summary(ev))
	if col != "" {
		b.WriteString(colReset)
	}
	if ev.Err != "" && ev.Kind != KindError {
		t.colored(b, colRed, " [malformed: "+ev.Err+"]")
	}
	if ev.Hint != "" {
		t.colored(b, colDim, " (hint: "+ev.Hint+")")
	}
	if ev.Unsynced {
		t.colored(b, colMagenta, " [unsynchronised]")
	}
	b.WriteByte('\n')
	if t.opts.Verbose {
		t.details(b, ev)
	}
	if t.opts.Hex != HexNone {
		t.hexDumps(b, ev)
	}
	_, err := t.w.Write(b.Bytes())
	return err
}

func (t *TextWriter) colored(b *bytes.Buffer, col, s string) {
	if t.opts.Color {
		b.WriteString(col + s + colReset)
		return
	}
	b.WriteString(s)
}

func (t *TextWriter) color(ev Event) string {
	if !t.opts.Color {
		return ""
	}
	switch ev.Kind {
	case KindGreeting:
		return colCyan
	case KindCommand:
		if ev.Command != nil && ev.Command.Name == "ERROR" {
			return colRed
		}
		return colYellow
	case KindMessage:
		return colGreen
	case KindError:
		return colRed
	case KindGap, KindSkip, KindTLS:
		return colMagenta
	case KindUpgrade, KindWebSocket:
		return colCyan
	default:
		return colBlue
	}
}

func (t *TextWriter) timestamp(ts time.Time) string {
	switch t.opts.Time {
	case TimeNone:
		return ""
	case TimeEpoch:
		return fmt.Sprintf("%d.%06d", ts.Unix(), ts.Nanosecond()/1000)
	case TimeDelta, TimeSinceFirst:
		var d time.Duration
		if t.opts.Time == TimeSinceFirst {
			if t.first.IsZero() {
				t.first = ts
			}
			d = ts.Sub(t.first)
		} else if !t.last.IsZero() {
			d = ts.Sub(t.last)
		}
		t.last = ts
		neg := ""
		if d < 0 {
			neg, d = "-", -d
		}
		us := d.Microseconds()
		return fmt.Sprintf("%s%02d:%02d:%02d.%06d", neg, us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
	case TimeDate:
		return ts.In(t.opts.Location).Format("2006-01-02 15:04:05.000000")
	}
	return ts.In(t.opts.Location).Format("15:04:05.000000")
}

// details prints a line per frame of a message and per property.
func (t *TextWriter) details(b *bytes.Buffer, ev Event) {
	fmt.Fprintf(b, "\toffset %d, %d octets", ev.Offset, ev.Len)
	if len(ev.Packets) > 0 {
		fmt.Fprintf(b, ", packets %s", packetList(ev.Packets))
	}
	b.WriteByte('\n')
	if m := ev.Message; m != nil {
		for i, f := range m.Frames {
			fmt.Fprintf(b, "\tframe %d at %d: size %d, flags 0x%02x", i, f.Offset, f.Size, f.Flags)
			if f.More {
				b.WriteString(" MORE")
			}
			if f.Long {
				b.WriteString(" LONG")
			}
			if f.Hash != 0 {
				fmt.Fprintf(b, " fnv1a %016x", f.Hash)
			}
			if f.Missing > 0 {
				fmt.Fprintf(b, " (%d octets missing)", f.Missing)
			}
			if f.Partial {
				b.WriteString(" (cut short)")
			}
			b.WriteByte('\n')
		}
		if n := m.FrameCount - len(m.Frames); n > 0 {
			fmt.Fprintf(b, "\t... %d more frames\n", n)
		}
	}
	if g := ev.Greeting; g != nil {
		greetingDetails(b, g)
	}
	if u := ev.Upgrade; u != nil {
		for _, h := range u.Headers {
			fmt.Fprintf(b, "\theader %s: %s\n", h.Name, h.Value)
		}
	}
	if w := ev.WebSocket; w != nil {
		fmt.Fprintf(b, "\topcode 0x%x, payload %d octets, masked %v\n", w.Opcode, w.Size, w.Masked)
	}
	if f := ev.Frame; f != nil {
		fmt.Fprintf(b, "\tidentity frame at %d: size %d, flags 0x%02x", f.Offset, f.Size, f.Flags)
		if f.Long {
			b.WriteString(" LONG")
		}
		if f.Hash != 0 {
			fmt.Fprintf(b, " fnv1a %016x", f.Hash)
		}
		b.WriteByte('\n')
	}
	if c := ev.Command; c != nil {
		fmt.Fprintf(b, "\tcommand body %d octets, flags 0x%02x", c.Size, c.Flags)
		if c.Long {
			b.WriteString(" LONG")
		}
		b.WriteByte('\n')
		for _, p := range c.Properties {
			fmt.Fprintf(b, "\tproperty %s = %s\n", p.Name, showBytes(p.Value, int64(p.ValueLen)))
		}
		if cv := c.Curve; cv != nil && len(cv.Nonce) > 0 {
			fmt.Fprintf(b, "\tnonce %x\n", cv.Nonce)
		}
	}
}

// greetingDetails prints what a greeting carries besides its summary.
func greetingDetails(b *bytes.Buffer, g *Greeting) {
	if g.Padding != nil {
		fmt.Fprintf(b, "\tsignature padding %x", g.Padding)
		if g.HasRevision {
			fmt.Fprintf(b, ", then %d", g.Revision)
		}
		b.WriteByte('\n')
	}
	if !g.Legacy() {
		fmt.Fprintf(b, "\tas-server %v, filler ", g.AsServer)
		switch {
		case g.Filler != nil:
			fmt.Fprintf(b, "%x", g.Filler)
		default:
			b.WriteString("zero")
		}
		if g.FillerMissing > 0 {
			fmt.Fprintf(b, " (%d octets missing)", g.FillerMissing)
		}
		b.WriteByte('\n')
		return
	}
}

// hexDumps prints the kept octets of each frame or command body.
func (t *TextWriter) hexDumps(b *bytes.Buffer, ev Event) {
	ascii := t.opts.Hex == HexASCII
	if m := ev.Message; m != nil {
		for i, f := range m.Frames {
			if len(m.Frames) > 1 {
				fmt.Fprintf(b, "\tframe %d:\n", i)
			}
			hexDump(b, f.Data, ascii)
		}
	}
	if c := ev.Command; c != nil {
		hexDump(b, c.Body, ascii)
	}
	if g := ev.Greeting; g != nil {
		hexDump(b, g.Raw, ascii)
	}
	if f := ev.Frame; f != nil {
		hexDump(b, f.Data, ascii)
	}
	if u := ev.Upgrade; u != nil {
		hexDump(b, u.Raw, ascii)
	}
	if w := ev.WebSocket; w != nil {
		hexDump(b, w.Data, ascii)
	}
}

// hexDump writes b as tcpdump's -x (or, with ascii, -X) does.
func hexDump(b *bytes.Buffer, data []byte, ascii bool) {
	var line []byte
	for off := 0; off < len(data); off += 16 {
		chunk := data[off:min(off+16, len(data))]
		line = fmt.Appendf(line[:0], "\t0x%04x:  ", off)
		for i := 0; i < 16; i++ {
			if i < len(chunk) {
				line = fmt.Appendf(line, "%02x", chunk[i])
			} else {
				line = append(line, "  "...)
			}
			if i%2 == 1 && i < 15 {
				line = append(line, ' ')
			}
		}
		if ascii {
			line = append(line, "  "...)
			for _, c := range chunk {
				if c < 0x20 || c > 0x7E {
					c = '.'
				}
				line = append(line, c)
			}
		} else {
			line = bytes.TrimRight(line, " ")
		}
		b.Write(line)
		b.WriteByte('\n')
	}
}

// Summary returns the one-line description of an event, without the
// timestamp, endpoints and socket types.
func Summary(ev Event) string {
	switch ev.Kind {
	case KindGreeting:
		return greetingSummary(ev.Greeting)
	case KindCommand:
		return commandSummary(ev.Command)
	case KindMessage:
		return messageSummary(ev.Message)
	case KindGap:
		return fmt.Sprintf("[%d octets missing]", ev.Len)
	case KindSkip:
		return fmt.Sprintf("[%d octets skipped to find a frame boundary]", ev.Len)
	case KindError:
		s := "error: " + ev.Err
		if ev.Command != nil && len(ev.Command.Data) > 0 {
			s += ": " + showBytes(ev.Command.Data, ev.Command.Size)
		}
		return s
	case KindIdentity:
		if f := ev.Frame; f != nil {
			return "identity " + showBytes(f.Data, f.Size)
		}
		return "identity"
	case KindUpgrade:
		return upgradeSummary(ev.Upgrade)
	case KindWebSocket:
		return webSocketSummary(ev.WebSocket)
	case KindTLS:
		return "TLS: cannot decode"
	case KindOpen:
		return "connection opened"
	case KindFin:
		return "FIN"
	case KindReset:
		return "RST"
	}
	return ev.Kind.String()
}

func upgradeSummary(u *Upgrade) string {
	if u == nil {
		return "upgrade"
	}
	var b strings.Builder
	if u.Request {
		fmt.Fprintf(&b, "HTTP %s %s upgrade", u.Method, u.Path)
		if u.Host != "" {
			fmt.Fprintf(&b, ", host %s", u.Host)
		}
		if len(u.Subprotocols) > 0 {
			fmt.Fprintf(&b, ", offers %s", strings.Join(u.Subprotocols, ", "))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d %s", u.Status, u.Reason)
	switch {
	case u.Status != 101:
		b.WriteString(": upgrade refused")
	case len(u.Subprotocols) > 0:
		fmt.Fprintf(&b, ", subprotocol %s", u.Subprotocols[0])
	}
	return b.String()
}

// closeCodes names the close status codes of RFC 6455, 7.4.1.
var closeCodes = map[int]string{
	1000: "normal closure", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
	1005: "no status", 1006: "abnormal closure", 1007: "invalid payload data", 1008: "policy violation",
	1009: "message too big", 1010: "mandatory extension", 1011: "internal error",
}

func webSocketSummary(w *WebSocket) string {
	if w == nil {
		return "websocket"
	}
	s := "WebSocket " + strings.ToUpper(w.OpName())
	if w.Opcode == wsClose {
		if w.Code != 0 {
			s += fmt.Sprintf(" %d", w.Code)
			if name := closeCodes[w.Code]; name != "" {
				s += " (" + name + ")"
			}
			if w.Reason != "" {
				s += " " + strconv.Quote(w.Reason)
			}
		}
		return s
	}
	if w.Size > 0 {
		s += " " + showBytes(w.Data, w.Size)
	}
	return s
}

func greetingSummary(g *Greeting) string {
	if g == nil {
		return "greeting"
	}
	if g.Downgraded {
		s := "greeting signature"
		if g.SignatureMajor > 0 {
			s = fmt.Sprintf("greeting ZMTP %d signature", g.SignatureMajor)
		}
		s += fmt.Sprintf(", downgraded to %d.%d for a %d.%d peer:", g.Major, g.Minor, g.Major, g.Minor)
		if g.SocketType != "" {
			s += " socket-type " + g.SocketType
		} else {
			s += " identity frame follows"
		}
		return s
	}
	if g.Legacy() {
		s := fmt.Sprintf("greeting ZMTP %d.%d (legacy)", g.Major, g.Minor)
		if g.SocketType != "" {
			s += " socket-type " + g.SocketType
		} else {
			s += ", identity frame follows"
		}
		return s
	}
	s := fmt.Sprintf("greeting ZMTP %d.%d %s", g.Major, g.Minor, g.Mechanism)
	if g.AsServer {
		s += " as-server"
	}
	return s
}

func commandSummary(c *Command) string {
	if c == nil {
		return "command"
	}
	var b strings.Builder
	b.WriteString(c.Name)
	if c.Empty {
		b.WriteString("empty command")
	}
	if cv := c.Curve; cv != nil {
		b.WriteString(" (CURVE)")
		if cv.Version != "" {
			fmt.Fprintf(&b, " version %s", cv.Version)
		}
		if len(cv.ClientKey) > 0 {
			fmt.Fprintf(&b, " C' %x...", cv.ClientKey[:min(4, len(cv.ClientKey))])
		}
		if cv.Cookie > 0 {
			fmt.Fprintf(&b, " cookie %d", cv.Cookie)
		}
		switch len(cv.Nonce) {
		case 8:
			fmt.Fprintf(&b, " nonce %d", cv.Counter)
		case 0:
		default:
			fmt.Fprintf(&b, " nonce %x", cv.Nonce)
		}
		fmt.Fprintf(&b, " box %d octets", cv.Box)
	}
	if c.GSSAPI != nil {
		b.WriteString(c.GSSAPI.summary())
	}
	for _, p := range c.Properties {
		fmt.Fprintf(&b, " %s=%s", p.Name, showBytes(p.Value, int64(p.ValueLen)))
	}
	switch c.Name {
	case "ERROR":
		fmt.Fprintf(&b, " %q", c.Reason)
	case "HELLO":
		if c.Curve == nil {
			fmt.Fprintf(&b, " username %q", c.Username)
			if c.Password != "" || c.PasswordLen == 0 {
				fmt.Fprintf(&b, " password %q", c.Password)
			} else {
				fmt.Fprintf(&b, " password [%d octets hidden]", c.PasswordLen)
			}
		}
	case "SUBSCRIBE", "CANCEL", "JOIN", "LEAVE":
		fmt.Fprintf(&b, " %s", showBytes(c.Topic, c.Size-1-int64(len(c.Name))))
	case "PING":
		fmt.Fprintf(&b, " ttl %s context %s", time.Duration(c.TTL)*100*time.Millisecond, showBytes(c.Context, int64(len(c.Context))))
	case "PONG":
		fmt.Fprintf(&b, " context %s", showBytes(c.Context, int64(len(c.Context))))
	default:
		if c.Curve == nil && c.GSSAPI == nil && !c.Empty && c.Properties == nil && !knownCommand([]byte(c.Name)) {
			n := c.Size - 1 - int64(len(c.Name))
			fmt.Fprintf(&b, " (unknown command) %d octets %s", n, showBytes(c.Data, n))
		}
	}
	if c.Truncated {
		fmt.Fprintf(&b, " (%d octets, truncated)", c.Size)
	}
	return b.String()
}

func messageSummary(m *Message) string {
	if m == nil {
		return "message"
	}
	var b strings.Builder
	if m.Subscription != "" {
		fmt.Fprintf(&b, "%s %s (message form)", m.Subscription, showBytes(m.Topic, m.Size-1))
		return b.String()
	}
	if m.Grouped {
		body := m.Frames[len(m.Frames)-1]
		fmt.Fprintf(&b, "message group %s, %d octets: %s", showBytes(m.Group, int64(len(m.Group))), body.Size, showBytes(body.Data, body.Size))
		return b.String()
	}
	if m.FrameCount == 1 {
		fmt.Fprintf(&b, "message %d octets: ", m.Size)
	} else {
		fmt.Fprintf(&b, "message %d frames, %d octets: ", m.FrameCount, m.Size)
	}
	for i, f := range m.Frames {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(showBytes(f.Data, f.Size))
	}
	if n := m.FrameCount - len(m.Frames); n > 0 {
		fmt.Fprintf(&b, " | ... %d more", n)
	}
	if m.Incomplete {
		b.WriteString(" (incomplete)")
	}
	return b.String()
}

// showBytes renders the kept octets of a value of size octets: quoted
// text when printable, hex otherwise, with "..." when cut.
func showBytes(b []byte, size int64) string {
	var s string
	if Printable(b) {
		s = strconv.Quote(string(b))
	} else {
		s = "0x" + hex.EncodeToString(b)
	}
	if int64(len(b)) < size {
		s += fmt.Sprintf("...(%d)", size)
	}
	return s
}

// Printable reports whether b is valid UTF-8 without control characters
// other than tab, newline and carriage return.
func Printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7F || r >= 0x80 && r < 0xA0 {
			return false
		}
	}
	return true
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// WriteStats prints a connection's summary: one line and a line per
// direction.
func (t *TextWriter) WriteStats(s ConnStats) error {
	b := &t.buf
	b.Reset()
	fmt.Fprintf(b, "#%d %s > %s", s.ID, orQ(s.Client), orQ(s.Server))
	if s.Version != "" {
		fmt.Fprintf(b, " ZMTP %s", s.Version)
	}
	switch s.Transport {
	case "ws":
		fmt.Fprintf(b, " WebSocket")
		if s.Path != "" {
			fmt.Fprintf(b, " %s", s.Path)
		}
		if s.Subprotocol != "" {
			fmt.Fprintf(b, " %s", s.Subprotocol)
		}
	case "tls":
		b.WriteString(" TLS")
	}
	if s.Mechanism != "" {
		fmt.Fprintf(b, " %s", s.Mechanism)
	}
	fmt.Fprintf(b, " %s>%s handshake %s", orQ(s.ClientType), orQ(s.ServerType), s.Handshake)
	if s.End != "" {
		fmt.Fprintf(b, ", ended by %s", strings.ToUpper(s.End))
	}
	b.WriteByte('\n')
	for i, name := range []string{"client", "server"} {
		d := s.Dir[i]
		fmt.Fprintf(b, "\t%s: %d messages (%d frames), %d commands, %d octets", name, d.Messages, d.Frames, d.Commands, d.Octets)
		if d.Subscriptions > 0 {
			fmt.Fprintf(b, ", %d subscriptions", d.Subscriptions)
		}
		if d.Missing > 0 {
			fmt.Fprintf(b, ", %d missing", d.Missing)
		}
		if d.Skipped > 0 {
			fmt.Fprintf(b, ", %d skipped", d.Skipped)
		}
		if d.Errors > 0 {
			fmt.Fprintf(b, ", %d errors", d.Errors)
		}
		if d.Control > 0 {
			fmt.Fprintf(b, ", %d WebSocket control frames", d.Control)
		}
		b.WriteByte('\n')
	}
	_, err := t.w.Write(b.Bytes())
	return err
}

// packetList writes packet numbers as ranges: "3, 5-7".
func packetList(ps []int) string {
	var b strings.Builder
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(ps[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(ps[j]))
		}
		i = j + 1
	}
	return b.String()
}
