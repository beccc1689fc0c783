package dump

import (
	"errors"
	"fmt"
	"io"

	"github.com/zmtp-go/zmtp/frame"
)

// Defaults for Options.
const (
	DefaultPreview    = 64
	DefaultMaxFrames  = 32
	DefaultMaxCommand = 64 << 10
	// minValuePreview is the least number of octets kept of a metadata
	// value, a topic or a PLAIN username, whatever Options.Preview says.
	minValuePreview = 256
	// maxErrors is the number of malformed items after which a direction
	// is no longer decoded.
	maxErrors = 64
	// bufSize is the size of the input buffer: room for a greeting, a
	// header, or the look-ahead of a resynchronisation.
	bufSize = 2*resyncMaxBody + 64
	// fnvOffset and fnvPrime are the 64-bit FNV-1a parameters.
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Options configures a Decoder or a Conn. The zero value is usable.
type Options struct {
	// Preview is the number of octets of each message frame kept in an
	// event. Zero means DefaultPreview; negative means none.
	Preview int
	// MaxFrames is the number of frames per message described in an
	// event; the others are only counted. Zero means DefaultMaxFrames.
	MaxFrames int
	// MaxCommand is the number of octets of a command body kept and
	// decoded; longer commands are decoded from their first MaxCommand
	// octets. Zero means DefaultMaxCommand; the least is 512.
	MaxCommand int
	// ShowPasswords reveals PLAIN passwords instead of masking them.
	ShowPasswords bool
	// Midstream tells that the stream does not begin at its first octet
	// (a capture that started on an open connection): the decoder looks
	// for a frame boundary before decoding and marks what it finds as
	// unsynchronised.
	Midstream bool
}

func (o Options) normalize() Options {
	switch {
	case o.Preview == 0:
		o.Preview = DefaultPreview
	case o.Preview < 0:
		o.Preview = 0
	}
	if o.MaxFrames <= 0 {
		o.MaxFrames = DefaultMaxFrames
	}
	if o.MaxCommand == 0 {
		o.MaxCommand = DefaultMaxCommand
	}
	o.MaxCommand = max(o.MaxCommand, 512)
	return o
}

type state uint8

const (
	stGreeting  state = iota // reading the greeting
	stHeader                 // expecting a frame header
	stBody                   // inside a frame body
	stResync                 // looking for a frame boundary
	stStopped                // no longer decoding
	stHTTP                   // reading the HTTP head of a WebSocket upgrade
	stWSHeader               // expecting a WebSocket frame header
	stWSPayload              // inside a WebSocket frame's payload
)

// framing is the frame syntax of a stream.
type framing uint8

const (
	fm3 framing = iota // ZMTP 3.x
	fm2                // ZMTP 2.0: no commands
	fm1                // ZMTP 1.0: length (with the flags octet), flags
)

// Decoder decodes one direction of a ZMTP connection. Bytes are pushed in
// with Feed in stream order, in pieces of any size: every split of the
// input gives the same events. Events are passed to the emit function
// given to NewDecoder, synchronously, from within Feed, Gap and End.
//
// Memory is bounded whatever sizes the stream declares: bodies are
// streamed, keeping a preview and a running hash. A Decoder never panics on
// malformed input; it reports it and looks for the next frame boundary, or
// stops decoding that direction after too many errors.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	opts Options
	emit func(Event)
	dir  Dir
	peer *Decoder // the other direction, when part of a Conn
	conn *Conn

	buf []byte // pending input is buf[pos:]
	pos int
	off int64 // stream offset of buf[pos]

	state    state
	framing  framing
	unsynced bool
	errors   int
	ended    bool

	// What the stream has told about its sender.
	greeted   bool
	major     int
	minor     int
	mechanism string
	asServer  bool
	sockType  string
	gssSealed bool  // GSSAPI READY came wrapped: every frame is a MESSAGE
	legacyID  bool  // the next frame is a ZMTP 1.0/2.0 identity
	sigFrame  bool  // and its header is the signature (flags not checked)
	sent      sent  // what kind of greeting the sender sent
	gOff      int64 // where a legacy greeting began
	greeting  *Greeting
	hs        handshake
	// kindKnown is set once the stream's first octets told what it is;
	// ws is set for a WebSocket (or TLS) stream.
	kindKnown bool
	ws        *wsState

	// The frame being read.
	fOff   int64
	fHdr   int
	fFlags byte
	fRaw   byte // the flags octet as sent
	// fillerMissing is the number of greeting filler octets lost, while
	// a greeting cut by the snap length is decoded.
	fillerMissing int
	fLong         bool
	fSize         int64
	fLeft         int64
	fMissing      int64
	fHash         uint64
	fData         []byte
	fCap          int
	fStopKeep     bool // a gap cut the body: keep no more preview
	fAsCmd        bool // a data frame decoded as a command (CURVE)
	cmdBuf        []byte

	// The message being assembled.
	msg      *Message
	msgOff   int64
	msgLen   int64
	msgFirst bool // the message began while unsynchronised

	// Resynchronisation.
	skipOff int64
	skipped int64

	stats DirStats
}

// handshake records the handshake commands a direction has sent.
type handshake struct {
	ready, hello, welcome, initiate bool
	err                             string
}

// NewDecoder returns a decoder of one stream that passes its events to
// emit.
func NewDecoder(opts Options, emit func(Event)) *Decoder {
	d := &Decoder{opts: opts.normalize(), emit: emit}
	if d.opts.Midstream {
		d.state = stResync
		d.unsynced = true
	}
	return d
}

// StartMidstream tells a decoder that has not been fed yet that the
// stream's beginning was not seen, as Options.Midstream does.
func (d *Decoder) StartMidstream() {
	if d.state == stGreeting && d.Offset() == 0 && !d.ended {
		d.state = stResync
		d.unsynced = true
	}
}

// Offset returns the stream offset of the next octet to be fed, counting
// the octets reported missing.
func (d *Decoder) Offset() int64 { return d.off + int64(len(d.buf)-d.pos) }

// SocketType returns the socket type the stream's sender announced, or "".
func (d *Decoder) SocketType() string { return d.sockType }

// Mechanism returns the mechanism named in the stream's greeting, or "".
func (d *Decoder) Mechanism() string { return d.mechanism }

// Stats returns the counters of the stream.
func (d *Decoder) Stats() DirStats { return d.stats }

// Feed decodes the next octets of the stream. b is not retained.
func (d *Decoder) Feed(b []byte) {
	if d.ended {
		return
	}
	d.stats.Octets += int64(len(b))
	for len(b) > 0 {
		if d.pos == len(d.buf) {
			d.buf, d.pos = d.buf[:0], 0
			if d.state == stBody {
				n := d.body(b)
				b = b[n:]
				d.off += int64(n)
				continue
			}
			if d.state == stWSPayload {
				n := d.wsPayload(b)
				b = b[n:]
				d.off += int64(n)
				continue
			}
			if d.state == stStopped {
				d.off += int64(len(b))
				return
			}
		}
		if len(d.buf) == cap(d.buf) {
			switch {
			case d.pos > 0:
				d.buf = d.buf[:copy(d.buf, d.buf[d.pos:])]
				d.pos = 0
			case cap(d.buf) < bufSize:
				// Grow as a look-ahead needs it, up to bufSize.
				nb := make([]byte, len(d.buf), min(max(4*cap(d.buf), 256), bufSize))
				d.buf = nb[:copy(nb, d.buf)]
			default:
				// Every step needs less than a full buffer: not reached.
				d.stop("decoder made no progress")
				d.run(false) // the stopped state consumes the buffer
				continue
			}
		}
		n := min(len(b), cap(d.buf)-len(d.buf))
		d.buf = append(d.buf, b[:n]...)
		b = b[n:]
		d.run(false)
	}
}

// Gap reports that n octets of the stream are missing (lost by a capture).
// Inside a frame body the decoder stays in step; anywhere else it looks for
// the next frame boundary.
func (d *Decoder) Gap(n int64) {
	if n <= 0 || d.ended {
		return
	}
	if d.ws != nil {
		d.stats.Missing += n
		if d.state == stStopped {
			d.off += int64(len(d.buf)-d.pos) + n
			d.buf, d.pos = d.buf[:0], 0
			return
		}
		d.wsGap(n)
		return
	}
	if d.state == stGreeting && d.gapInFiller(n) {
		return
	}
	d.stats.Missing += n
	if d.state == stBody {
		// The body consumes all buffered input, so the gap follows it.
		d.emitSimple(KindGap, d.off, n, "")
		k := min(n, d.fLeft)
		d.fLeft -= k
		d.fMissing += k
		d.fStopKeep = true
		d.off += k
		if d.fLeft == 0 {
			d.finishFrame()
		}
		if n -= k; n > 0 {
			d.off += n
			d.lostSync()
		}
		return
	}
	// Octets before the gap that did not make a whole item are skipped.
	if rest := len(d.buf) - d.pos; rest > 0 {
		if d.state != stResync && d.state != stStopped {
			d.beginSkip()
		}
		d.skipped += int64(rest)
		d.off += int64(rest)
		d.buf, d.pos = d.buf[:0], 0
	}
	d.flushSkip()
	d.emitSimple(KindGap, d.off, n, "")
	d.off += n
	d.lostSync()
}

// gapInFiller decodes a ZMTP 3 greeting of which only octets of the
// filler are missing, as when a capture's snap length cut them, and
// reports the rest of the gap after it.
func (d *Decoder) gapInFiller(n int64) bool {
	b := d.buf[d.pos:]
	need := int64(frame.GreetingSize - len(b))
	if len(b) < 33 || need <= 0 || n < need || b[0] != 0xFF || b[9]&1 == 0 || b[10] < 3 || b[12] == 0 {
		return false
	}
	switch d.peerSent() {
	case sentV1, sentRev0, sentRev1:
		// A downgrade: not a ZMTP 3 greeting.
		return false
	}
	full := make([]byte, frame.GreetingSize)
	copy(full, b)
	d.buf, d.pos = full, 0
	d.fillerMissing = int(need)
	k, _ := d.readGreeting(full)
	d.fillerMissing = 0
	d.stats.Missing += need
	d.buf, d.pos = full[:0], 0
	d.off += int64(k)
	d.Gap(n - need)
	return true
}

// End reports the end of the stream. It reports an unfinished frame or
// message; later calls to Feed, Gap and End do nothing.
func (d *Decoder) End() {
	if d.ended {
		return
	}
	d.run(true)
	rest := int64(len(d.buf) - d.pos)
	switch d.state {
	case stGreeting:
		if rest > 0 {
			d.malformed(fmt.Sprintf("stream ended inside the greeting, after %d octets", rest), d.off, rest)
		}
	case stHeader:
		if rest > 0 {
			d.malformed("stream ended inside a frame header", d.off, rest)
		}
	case stBody:
		what := "message frame"
		if d.fFlags&frame.FlagCommand != 0 || d.fAsCmd {
			what = "command"
		}
		if d.legacyID {
			what = "greeting"
		}
		d.malformed(fmt.Sprintf("stream ended inside a %s: %d of %d body octets missing", what, d.fLeft, d.fSize), d.fOff, int64(d.fHdr)+d.fSize-d.fLeft)
		if d.fFlags&frame.FlagCommand == 0 && !d.fAsCmd && !d.legacyID {
			d.addFrame(true)
		}
		d.legacyID = false
	case stResync:
		d.skipped += rest
	case stWSHeader:
		if rest > 0 {
			d.malformed("stream ended inside a WebSocket frame header", d.off, rest)
		}
	case stWSPayload:
		w := d.ws
		d.malformed(fmt.Sprintf("stream ended inside a WebSocket %s frame: %d of %d payload octets missing", wsOpName(w.opcode), w.left, w.size), w.hOff, int64(w.hLen)+w.size-w.left)
		if w.flagged && !w.skip && w.opcode < 0x8 {
			d.wsAbandon()
		}
		d.legacyID = false
	}
	d.off += rest
	d.buf, d.pos, d.cmdBuf = nil, 0, nil
	d.flushSkip()
	d.flushMessage(false)
	d.state = stStopped
	d.ended = true
}

// run decodes what the buffer holds. With eof, decisions that wait for more
// octets are taken on what there is.
func (d *Decoder) run(eof bool) {
	for {
		avail := d.buf[d.pos:]
		var n int
		var more bool
		switch d.state {
		case stGreeting:
			if !d.kindKnown {
				switch detectKind(avail) {
				case kindUndecided:
					if !eof {
						return
					}
				case kindHTTPRequest:
					d.beginWS(true)
				case kindHTTPResponse:
					d.beginWS(false)
				case kindTLS:
					d.beginTLS(avail)
				}
				d.kindKnown = true
				if d.state != stGreeting {
					continue
				}
			}
			n, more = d.readGreeting(avail)
		case stHTTP:
			n, more = d.readHTTP(avail, eof)
		case stWSHeader:
			n, more = d.readWSHeader(avail)
		case stWSPayload:
			n = d.wsPayload(avail)
			more = n > 0
		case stHeader:
			n, more = d.readHeader(avail)
		case stBody:
			n = d.body(avail)
			more = n > 0
		case stResync:
			n, more = d.resync(avail, eof)
		case stStopped:
			n = len(avail)
		}
		d.pos += n
		d.off += int64(n)
		if !more {
			return
		}
	}
}

// readHeader reads a frame header.
func (d *Decoder) readHeader(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var flags byte
	var size uint64
	var n int
	long := false
	switch d.framing {
	case fm3, fm2:
		f := frame.FramingV3
		if d.framing == fm2 {
			f = frame.FramingV2
		}
		h, hn, err := frame.ParseLegacyHeader(b, f)
		if err == io.ErrUnexpectedEOF {
			return 0, false
		}
		if err != nil {
			if d.framing == fm2 {
				d.badHeader(fmt.Sprintf("invalid ZMTP 2.0 frame flags 0x%02X", b[0]))
			} else {
				d.badHeader(fmt.Sprintf("invalid frame flags 0x%02X: %s", b[0], errText(err)))
			}
			return 0, true
		}
		flags, size, n, long = h.Flags, h.Size, hn, b[0]&frame.FlagLong != 0
	case fm1:
		h, hn, err := frame.ParseLegacyHeader(b, frame.FramingV1)
		if err == io.ErrUnexpectedEOF {
			return 0, false
		}
		if err != nil {
			d.badHeader(errText(err))
			return 0, true
		}
		size, n, long = h.Size, hn, hn == frame.MaxV1HeaderSize
		// The flags as sent: the codec keeps only MORE, a decoder reports
		// the reserved bits.
		flags = b[n-1]
		if d.legacyID && d.sigFrame {
			// A signature's last octet (0x7F) standing for flags.
			flags = 0
		}
		if flags&^frame.FlagMore != 0 {
			d.badHeader(fmt.Sprintf("invalid ZMTP 1.0 frame flags 0x%02X", flags))
			return 0, true
		}
	}
	if size > 1<<62 {
		d.badHeader(fmt.Sprintf("implausible frame size %d", size))
		return 0, true
	}
	raw := b[n-1]
	if d.framing != fm1 {
		raw = b[0]
	}
	d.beginFrame(d.off, n, flags, raw, long, int64(size))
	d.pos += n
	d.off += int64(n)
	if size == 0 {
		d.finishFrame()
	}
	return 0, true
}

// beginFrame starts a frame whose header of hdr octets begins at stream
// offset off: flags as the codec reads them, raw as sent, size body
// octets. The body follows (state stBody).
func (d *Decoder) beginFrame(off int64, hdr int, flags, raw byte, long bool, size int64) {
	d.fOff, d.fHdr, d.fFlags, d.fLong = off, hdr, flags, long
	d.fRaw = raw
	d.fSize, d.fLeft = size, size
	d.fMissing, d.fHash, d.fStopKeep = 0, fnvOffset, false
	// Under CURVE every frame carries a command; libzmq sends MESSAGE
	// commands in frames without the COMMAND flag.
	// So it is under GSSAPI once READY came wrapped in a MESSAGE.
	d.fAsCmd = flags&frame.FlagCommand == 0 && d.framing == fm3 &&
		(d.mech() == frame.MechanismCurve || d.gssSealed && d.mech() == frame.MechanismGSSAPI)
	switch {
	case d.legacyID:
		d.fCap = minValuePreview
		d.fData = nil
	case flags&frame.FlagCommand != 0 || d.fAsCmd:
		d.fCap = d.opts.MaxCommand
		d.fData = d.cmdBuf[:0]
	default:
		d.fCap = d.opts.Preview
		d.fData = nil
		if d.msg == nil {
			d.msg = &Message{}
			d.msgOff, d.msgLen = off, 0
			d.msgFirst = d.unsynced
		}
	}
	d.state = stBody
}

// body consumes body octets of the current frame from b and returns how
// many.
func (d *Decoder) body(b []byte) int {
	n := int(min(int64(len(b)), d.fLeft))
	d.absorb(b[:n])
	if d.fLeft == 0 {
		d.finishFrame()
	}
	return n
}

// absorb takes body octets of the current frame, no more than fLeft:
// it keeps the first ones and hashes them all.
func (d *Decoder) absorb(chunk []byte) {
	n := len(chunk)
	if !d.fStopKeep {
		if room := d.fCap - len(d.fData); room > 0 {
			keep := chunk[:min(room, n)]
			if d.fData == nil {
				d.fData = make([]byte, 0, min(int64(d.fCap), d.fSize))
			}
			d.fData = append(d.fData, keep...)
		}
	}
	h := d.fHash
	for _, c := range chunk {
		h ^= uint64(c)
		h *= fnvPrime
	}
	d.fHash = h
	d.fLeft -= int64(n)
}

// finishFrame completes the current frame.
func (d *Decoder) finishFrame() {
	d.state = stHeader
	switch {
	case d.legacyID:
		d.legacyID, d.sigFrame = false, false
		f := &Frame{Offset: d.fOff, Flags: d.fRaw, Long: d.fLong, Size: d.fSize, Data: d.fData, Missing: d.fMissing}
		if d.fMissing == 0 {
			f.Hash = d.fHash
		}
		d.fData = nil
		d.greeted = true
		d.emitEvent(Event{Kind: KindIdentity, Offset: d.fOff, Len: int64(d.fHdr) + d.fSize, Frame: f})
		d.unsynced = false
	case d.fFlags&frame.FlagCommand != 0 || d.fAsCmd:
		if cap(d.fData) <= d.opts.MaxCommand {
			d.cmdBuf = d.fData[:0]
		}
		d.finishCommand()
	default:
		d.addFrame(false)
		if d.fFlags&frame.FlagMore == 0 {
			d.flushMessage(true)
		}
	}
}

// addFrame adds the current frame to the message being assembled.
func (d *Decoder) addFrame(partial bool) {
	m := d.msg
	if m == nil {
		return
	}
	got := d.fSize - d.fLeft
	m.FrameCount++
	m.Size += d.fSize
	d.msgLen += int64(d.fHdr) + got
	d.stats.Frames++
	if len(m.Frames) >= d.opts.MaxFrames {
		return
	}
	f := Frame{
		Offset:  d.fOff,
		Flags:   d.fRaw,
		More:    d.fFlags&frame.FlagMore != 0,
		Long:    d.fLong,
		Size:    d.fSize,
		Data:    d.fData,
		Missing: d.fMissing,
		Partial: partial,
	}
	if d.fMissing == 0 && !partial {
		f.Hash = d.fHash
	}
	m.Frames = append(m.Frames, f)
	d.fData = nil
}

// flushMessage emits the message being assembled, if any. complete tells
// whether its last frame (without MORE) arrived.
func (d *Decoder) flushMessage(complete bool) {
	m := d.msg
	if m == nil {
		return
	}
	d.msg = nil
	if m.FrameCount == 0 {
		return
	}
	m.Incomplete = !complete
	if complete && m.FrameCount == 1 {
		d.checkSubscription(m)
	}
	if complete && m.FrameCount == 2 {
		d.checkGroup(m)
	}
	d.stats.Messages++
	if m.Subscription != "" {
		d.stats.Subscriptions++
	}
	d.emitEvent(Event{Kind: KindMessage, Offset: d.msgOff, Len: d.msgLen, Message: m, Unsynced: d.msgFirst})
	d.unsynced = false
}

// checkSubscription recognises a subscription sent as a message: one frame
// of 0x01 or 0x00 and a topic, from a SUB or XSUB (or, when the sender's
// type is unknown, toward a PUB or XPUB).
func (d *Decoder) checkSubscription(m *Message) {
	f := m.Frames[0]
	if f.Size < 1 || len(f.Data) < 1 || f.Data[0] > 1 {
		return
	}
	switch d.sockType {
	case "SUB", "XSUB":
	case "":
		if d.peer == nil || d.peer.sockType != "PUB" && d.peer.sockType != "XPUB" {
			return
		}
	default:
		return
	}
	m.Subscription = "cancel"
	if f.Data[0] == 1 {
		m.Subscription = "subscribe"
	}
	m.Topic = f.Data[1:]
}

// checkGroup recognises a RADIO message: a group frame and the body, from
// a RADIO (or, when the sender's type is unknown, toward a DISH), the
// group whole and valid.
func (d *Decoder) checkGroup(m *Message) {
	switch d.sockType {
	case frame.SocketRadio:
	case "":
		if d.peer == nil || d.peer.sockType != frame.SocketDish {
			return
		}
	default:
		return
	}
	g := m.Frames[0]
	if int64(len(g.Data)) != g.Size || g.Missing > 0 || frame.CheckGroup(g.Data) != nil {
		return
	}
	m.Grouped, m.Group = true, g.Data
}

// finishCommand decodes and emits the current command frame.
func (d *Decoder) finishCommand() {
	got := int64(len(d.fData))
	truncated := got < d.fSize
	ev := Event{Kind: KindCommand, Offset: d.fOff, Len: int64(d.fHdr) + d.fSize}
	c, errMsg, hint := d.decodeCommand(d.fData, d.fSize, truncated)
	ev.Command, ev.Err, ev.Hint = c, errMsg, hint
	c.Flags, c.Long = d.fRaw, d.fLong
	if d.fAsCmd {
		c.DataFrame = true
		if c.Name == "" {
			ev.Err = "clear-text data frame under " + d.mech()
		}
	}
	if d.fMissing > 0 && c.Name == "" {
		ev.Err = fmt.Sprintf("frame with %d of its %d octets missing", d.fMissing, d.fSize)
	}
	if c.Name == "" && !c.Empty {
		ev.Kind = KindError
		d.countError()
	} else {
		d.stats.Commands++
	}
	if d.fMissing > 0 && ev.Err == "" {
		ev.Err = fmt.Sprintf("%d octets of the command missing", d.fMissing)
	}
	d.emitEvent(ev)
	if ev.Kind == KindCommand && d.msg == nil {
		d.unsynced = false
	}
}

// badHeader reports a malformed header at the current position and starts
// looking for the next frame boundary.
func (d *Decoder) badHeader(msg string) {
	d.malformed(msg, d.off, 1)
	if d.state == stStopped {
		return
	}
	d.lostSync()
}

// lostSync abandons the current message and looks for a frame boundary.
func (d *Decoder) lostSync() {
	if d.state == stStopped {
		return
	}
	d.flushMessage(false)
	d.legacyID, d.sigFrame = false, false
	d.state = stResync
	d.beginSkip()
	d.unsynced = true
}

func (d *Decoder) beginSkip() {
	if d.skipped == 0 {
		d.skipOff = d.off
	}
}

// flushSkip emits the octets skipped so far, if any.
func (d *Decoder) flushSkip() {
	if d.skipped == 0 {
		return
	}
	d.stats.Skipped += d.skipped
	d.emitSimple(KindSkip, d.skipOff, d.skipped, "")
	d.skipped = 0
}

// malformed reports malformed traffic; after too many reports it stops
// decoding the direction.
func (d *Decoder) malformed(msg string, off, n int64) {
	d.emitSimple(KindError, off, n, msg)
	d.countError()
}

func (d *Decoder) countError() {
	d.stats.Errors++
	if d.errors++; d.errors >= maxErrors && d.state != stStopped {
		d.stop(fmt.Sprintf("%d errors: no longer decoding this direction", d.errors))
	}
}

// stop gives up decoding the direction.
func (d *Decoder) stop(msg string) {
	d.flushMessage(false)
	d.flushSkip()
	d.emitSimple(KindError, d.off, 0, msg)
	// What remains buffered is consumed by the stopped state: a caller
	// within run still advances past the octets it consumed.
	d.state = stStopped
}

func (d *Decoder) emitSimple(k Kind, off, n int64, msg string) {
	d.emitEvent(Event{Kind: k, Offset: off, Len: n, Err: msg})
}

// emitEvent fills in what the decoder knows about the connection and
// passes the event on.
func (d *Decoder) emitEvent(ev Event) {
	ev.Dir = d.dir
	ev.SrcType = d.sockType
	ev.Mechanism = d.mechanism
	if d.peer != nil {
		ev.DstType = d.peer.sockType
		if ev.Mechanism == "" {
			ev.Mechanism = d.peer.mechanism
		}
	}
	if d.unsynced && ev.Kind != KindGap && ev.Kind != KindSkip {
		ev.Unsynced = true
	}
	if d.conn != nil {
		d.conn.annotate(&ev)
	}
	if d.emit != nil {
		d.emit(ev)
	}
}

// errText returns a frame error's message without its package prefix.
func errText(err error) string {
	var fe *frame.Error
	if errors.As(err, &fe) {
		s := fe.Error()
		if len(s) > 6 && s[:6] == "zmtp: " {
			return s[6:]
		}
		return s
	}
	return err.Error()
}
