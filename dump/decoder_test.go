package dump

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// Wire fragments used by the tests.
var (
	// greeting31 is a ZMTP 3.1 NULL greeting (RFC 23 worked example with
	// minor version 1).
	greeting31 = frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
	// readyDealer is the cheat-sheet's DEALER READY, with an empty Identity.
	readyDealer = []byte("\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00")
	readyRouter = frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("ROUTER")}})
	readySub    = frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("SUB")}})
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func msgFrames(frames ...string) []byte {
	var b []byte
	for i, f := range frames {
		flags := byte(0)
		if i < len(frames)-1 {
			flags = frame.FlagMore
		}
		b = frame.AppendFrame(b, flags, []byte(f))
	}
	return b
}

// decodeSplit feeds b in pieces cut at the given offsets and returns the
// events, each as JSON.
func decodeSplit(t testing.TB, opts Options, b []byte, cuts ...int) []string {
	t.Helper()
	var out []string
	d := NewDecoder(opts, func(ev Event) {
		j, err := json.Marshal(JSONEvent(ev))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(j))
	})
	prev := 0
	for _, c := range cuts {
		d.Feed(b[prev:c])
		prev = c
	}
	d.Feed(b[prev:])
	d.End()
	return out
}

func decodeEvents(t testing.TB, opts Options, b []byte) []Event {
	t.Helper()
	var evs []Event
	d := NewDecoder(opts, func(ev Event) { evs = append(evs, ev) })
	d.Feed(b)
	d.End()
	return evs
}

func summaries(evs []Event) []string {
	var s []string
	for _, ev := range evs {
		line := Summary(ev)
		if ev.Unsynced {
			line += " [unsynced]"
		}
		if ev.Err != "" && ev.Kind != KindError {
			line += " [err]"
		}
		s = append(s, line)
	}
	return s
}

func wantSummaries(t *testing.T, got []Event, want ...string) {
	t.Helper()
	g := summaries(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n\t%s\nwant:\n\t%s", strings.Join(g, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestNullSession(t *testing.T) {
	stream := cat(greeting31, readyDealer,
		msgFrames("", "hello"),
		frame.AppendPing(nil, 30, []byte("ctx")),
		frame.AppendPong(nil, []byte("ctx")),
		frame.AppendSubscribe(nil, []byte("topic")),
		frame.AppendCancel(nil, []byte("topic")),
		frame.AppendJoin(nil, []byte("grp")),
		frame.AppendLeave(nil, []byte("grp")),
		frame.AppendError(nil, "bye"),
		frame.Command{Name: "XYZW", Data: []byte{1, 2}}.Append(nil),
		frame.AppendFrame(nil, 0, bytes.Repeat([]byte("z"), 300)),
	)
	evs := decodeEvents(t, Options{}, stream)
	wantSummaries(t, evs,
		"greeting ZMTP 3.1 NULL",
		`READY Socket-Type="DEALER" Identity=""`,
		`message 2 frames, 5 octets: "" | "hello"`,
		`PING ttl 3s context "ctx"`,
		`PONG context "ctx"`,
		`SUBSCRIBE "topic"`,
		`CANCEL "topic"`,
		`JOIN "grp"`,
		`LEAVE "grp"`,
		`ERROR "bye"`,
		`XYZW (unknown command) 2 octets 0x0102`,
		`message 300 octets: "`+strings.Repeat("z", 64)+`"...(300)`,
	)
	if evs[0].SrcType != "" || evs[1].SrcType != "DEALER" || evs[2].SrcType != "DEALER" {
		t.Errorf("socket types: READY %q, message %q", evs[1].SrcType, evs[2].SrcType)
	}
	if evs[2].Offset != 64+int64(len(readyDealer)) || evs[2].Len != 2+7 {
		t.Errorf("message at %d len %d", evs[2].Offset, evs[2].Len)
	}
	last := evs[len(evs)-1].Message.Frames[0]
	if !last.Long || last.Size != 300 || last.Hash == 0 {
		t.Errorf("long frame: %+v", last)
	}
}

// TestEverySplit checks that every two-way split, and feeding one octet at
// a time, give the same events as one Feed.
func TestEverySplit(t *testing.T) {
	streams := map[string][]byte{
		"null": cat(greeting31, readyDealer, msgFrames("a", "", "bcd"), frame.AppendPing(nil, 1, nil),
			frame.AppendFrame(nil, 0, bytes.Repeat([]byte{7}, 400))),
		"garbage": cat(greeting31, readyDealer, []byte{0x08, 0x03, 'a', 'b', 'c', 0xF8, 0}, msgFrames("x", "yz"),
			[]byte("\x04\x03\x09PI"), msgFrames("after")),
		"legacy2":    cat([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 5, 0, 2, 'i', 'd'}, msgFrames("a", "b")),
		"legacy1":    cat([]byte{3, 0, 'i', 'd'}, []byte{6, 1, 'h', 'e', 'l', 'l', 'o', 1, 0}),
		"downgrade2": cat(zmqRepTo2, []byte("\x01\x00\x00\x05reply\x02\x00\x00\x00\x00\x00\x00\x01\x00"), make([]byte, 256)),
		"rev0":       cat(sig30, []byte{0, 3, 1, 0}, []byte("\x01\x01\x04\x00abc")),
		"plain":      cat(frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 0, Mechanism: "PLAIN"}), plainHello("admin", "secret")),
	}
	for name, s := range streams {
		t.Run(name, func(t *testing.T) {
			whole := decodeSplit(t, Options{}, s)
			for i := 1; i < len(s); i++ {
				if got := decodeSplit(t, Options{}, s, i); !equalStrings(got, whole) {
					t.Fatalf("split at %d:\n%s\nwant:\n%s", i, strings.Join(got, "\n"), strings.Join(whole, "\n"))
				}
			}
			var cuts []int
			for i := 1; i < len(s); i++ {
				cuts = append(cuts, i)
			}
			if got := decodeSplit(t, Options{}, s, cuts...); !equalStrings(got, whole) {
				t.Fatalf("octet by octet:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(whole, "\n"))
			}
		})
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func plainHello(user, pass string) []byte {
	data := append([]byte{byte(len(user))}, user...)
	data = append(append(data, byte(len(pass))), pass...)
	return frame.Command{Name: "HELLO", Data: data}.Append(nil)
}

func TestPlain(t *testing.T) {
	g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "PLAIN"})
	initiate := frame.Command{Name: "INITIATE", Data: frame.AppendMetadata(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("REQ")}})}.Append(nil)
	stream := cat(g, plainHello("admin", "secret"), initiate)
	wantSummaries(t, decodeEvents(t, Options{}, stream),
		"greeting ZMTP 3.1 PLAIN",
		`HELLO username "admin" password [6 octets hidden]`,
		`INITIATE Socket-Type="REQ"`)
	evs := decodeEvents(t, Options{ShowPasswords: true}, stream)
	if c := evs[1].Command; c.Password != "secret" || c.PasswordLen != 6 {
		t.Errorf("ShowPasswords: %+v", c)
	}
	if evs[1].SrcType != "" || evs[2].SrcType != "REQ" {
		t.Errorf("SrcType %q, %q", evs[1].SrcType, evs[2].SrcType)
	}
}

// TestLibzmqPlainError checks the ERROR that libzmq 4.3's PLAIN server
// sends: "\x05ERROR" written in C reads as 0x5E "RROR".
func TestLibzmqPlainError(t *testing.T) {
	body := []byte("\x5eRROR\x03400")
	g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 0, Mechanism: "PLAIN", AsServer: true})
	stream := cat(g, frame.AppendFrame(nil, frame.FlagCommand, body), msgFrames("next"))
	evs := decodeEvents(t, Options{}, stream)
	wantSummaries(t, evs, "greeting ZMTP 3.0 PLAIN as-server", `ERROR "400" [err]`, `message 4 octets: "next"`)
	if evs[1].Kind != KindCommand || evs[1].Hint == "" {
		t.Errorf("ERROR event: kind %v hint %q", evs[1].Kind, evs[1].Hint)
	}
}

func TestCurve(t *testing.T) {
	g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 0, Mechanism: "CURVE"})
	hello := make([]byte, curveHelloData)
	hello[0] = 1
	hello[curveHelloNonceAt+7] = 1
	welcome := make([]byte, curveWelcomeData)
	initiate := make([]byte, curveInitiateMin+20)
	initiate[curveCookie+7] = 2
	ready := make([]byte, 8+16+30)
	ready[7] = 3
	msg := make([]byte, 8+17+5)
	msg[7] = 4
	stream := cat(g,
		frame.Command{Name: "HELLO", Data: hello}.Append(nil),
		frame.Command{Name: "WELCOME", Data: welcome}.Append(nil),
		frame.Command{Name: "INITIATE", Data: initiate}.Append(nil),
		frame.Command{Name: "READY", Data: ready}.Append(nil),
		frame.Command{Name: "MESSAGE", Data: msg}.Append(nil),
		frame.Command{Name: "MESSAGE", Data: msg[:20]}.Append(nil),
	)
	wantSummaries(t, decodeEvents(t, Options{}, stream),
		"greeting ZMTP 3.0 CURVE",
		"HELLO (CURVE) version 1.0 C' 00000000... nonce 1 box 80 octets",
		"WELCOME (CURVE) nonce 00000000000000000000000000000000 box 144 octets",
		"INITIATE (CURVE) cookie 96 nonce 2 box 164 octets",
		"READY (CURVE) nonce 3 box 46 octets",
		"MESSAGE (CURVE) nonce 4 box 22 octets",
		"MESSAGE (CURVE) nonce 4 box 12 octets [err]",
	)
}

func TestLegacyGreetings(t *testing.T) {
	v2 := cat([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 5, 0, 2, 'i', 'd'}, msgFrames("a", "b"))
	wantSummaries(t, decodeEvents(t, Options{}, v2),
		`greeting ZMTP 2.0 (legacy) socket-type DEALER`,
		`identity "id"`,
		`message 2 frames, 2 octets: "a" | "b"`)
	v1 := cat([]byte{1, 0}, []byte{6, 0, 'h', 'e', 'l', 'l', 'o'})
	wantSummaries(t, decodeEvents(t, Options{}, v1),
		`greeting ZMTP 1.0 (legacy), identity frame follows`,
		`identity ""`,
		`message 5 octets: "hello"`)
}

func TestMessageFormSubscription(t *testing.T) {
	stream := cat(greeting31, readySub, frame.AppendFrame(nil, 0, []byte("\x01news")), frame.AppendFrame(nil, 0, []byte("\x00news")))
	evs := decodeEvents(t, Options{}, stream)
	wantSummaries(t, evs, "greeting ZMTP 3.1 NULL", `READY Socket-Type="SUB"`,
		`subscribe "news" (message form)`, `cancel "news" (message form)`)
	// Not from a SUB: an ordinary message.
	stream = cat(greeting31, readyDealer, frame.AppendFrame(nil, 0, []byte("\x01news")))
	if evs := decodeEvents(t, Options{}, stream); evs[2].Message.Subscription != "" {
		t.Errorf("DEALER message taken for a subscription")
	}
}

func TestHostileSizes(t *testing.T) {
	for _, h := range []string{
		"\x02\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xF0data",
		"\x02\x80\x00\x00\x00\x00\x00\x00\x00",
		"\x06\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x05READY",
	} {
		evs := decodeEvents(t, Options{}, cat(greeting31, readyDealer, []byte(h)))
		if len(evs) < 3 || evs[2].Kind != KindError {
			t.Errorf("%q: %v", h, summaries(evs))
		}
	}
}

// TestBoundedMemory feeds a frame that declares 1 TiB, then 16 MiB of it:
// the decoder must not allocate in proportion.
func TestBoundedMemory(t *testing.T) {
	var evs []Event
	d := NewDecoder(Options{}, func(ev Event) { evs = append(evs, ev) })
	d.Feed(greeting31)
	d.Feed(readyDealer)
	d.Feed(frame.AppendHeader(nil, frame.FlagMore, 1<<40))
	chunk := make([]byte, 64<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 256; i++ {
		d.Feed(chunk)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d octets while streaming a body", grew)
	}
	d.End()
	last := evs[len(evs)-1]
	if last.Kind != KindMessage || !last.Message.Incomplete || !last.Message.Frames[0].Partial {
		t.Errorf("last event %q", Summary(last))
	}
}

func TestGapInsideBodyKeepsSync(t *testing.T) {
	var evs []Event
	d := NewDecoder(Options{}, func(ev Event) { evs = append(evs, ev) })
	d.Feed(cat(greeting31, readyDealer))
	d.Feed(frame.AppendHeader(nil, 0, 1000))
	d.Feed(make([]byte, 100))
	d.Gap(800)
	d.Feed(make([]byte, 100))
	d.Feed(msgFrames("after"))
	d.End()
	wantSummaries(t, evs, "greeting ZMTP 3.1 NULL", `READY Socket-Type="DEALER" Identity=""`,
		"[800 octets missing]",
		"message 1000 octets: 0x"+strings.Repeat("00", 64)+"...(1000)",
		`message 5 octets: "after"`)
	if f := evs[3].Message.Frames[0]; f.Missing != 800 || f.Hash != 0 {
		t.Errorf("frame %+v", f)
	}
}

func TestGapInHeaderResyncs(t *testing.T) {
	var evs []Event
	d := NewDecoder(Options{}, func(ev Event) { evs = append(evs, ev) })
	d.Feed(cat(greeting31, readyDealer))
	d.Feed(msgFrames("one")[:1])
	d.Gap(10)
	d.Feed([]byte("xyz")) // tail of some lost frame
	d.Feed(msgFrames("two", "three"))
	d.Feed(msgFrames("four"))
	d.End()
	wantSummaries(t, evs, "greeting ZMTP 3.1 NULL", `READY Socket-Type="DEALER" Identity=""`,
		"[1 octets skipped to find a frame boundary]",
		"[10 octets missing]",
		"[3 octets skipped to find a frame boundary]",
		`message 2 frames, 8 octets: "two" | "three" [unsynced]`,
		`message 4 octets: "four"`)
}

func TestMidstream(t *testing.T) {
	// Starts inside the body of a frame.
	stream := cat([]byte("tail of a body"), msgFrames("", "req"), frame.AppendPing(nil, 0, nil), msgFrames("x"))
	wantSummaries(t, decodeEvents(t, Options{Midstream: true}, stream),
		"[14 octets skipped to find a frame boundary]",
		`message 2 frames, 3 octets: "" | "req" [unsynced]`,
		`PING ttl 0s context ""`,
		`message 1 octets: "x"`)
	// A greeting found mid-stream is decoded as one.
	wantSummaries(t, decodeEvents(t, Options{Midstream: true}, cat([]byte{1, 2, 3}, greeting31, readyDealer)),
		"[3 octets skipped to find a frame boundary]",
		"greeting ZMTP 3.1 NULL",
		`READY Socket-Type="DEALER" Identity=""`)
}

func TestMalformed(t *testing.T) {
	cases := map[string][]string{
		"\x04\x00":                              {"error: malformed command: empty body"},
		"\x04\x03\x09PI":                        {`error: malformed command: name length 9 exceeds the body: "\tPI"`},
		"\x04\x05\x04PING":                      {`PING ttl 0s context "" [err]`},
		"\x04\x0b\x05ERROR\x04oops":             {`ERROR "oops"`},
		"\x04\x0a\x05ERROR\x04oops":             {`ERROR "oop" [err]`, "error: invalid frame flags 0x73: reserved frame flag bits set", "[1 octets skipped to find a frame boundary]"},
		"\x04\x08\x05ERROR\xffa":                {`ERROR "a" [err]`},
		"\x05\x07\x04PING\x00\x00":              {"error: invalid frame flags 0x05: MORE flag set on a command frame", "[9 octets skipped to find a frame boundary]"},
		"\x04\x0b\x05READY\x00\x00\x00\x00\x00": {"READY [err]"},
	}
	for in, want := range cases {
		evs := decodeEvents(t, Options{}, cat(greeting31, []byte(in)))
		if got := summaries(evs[1:]); !equalStrings(got, want) {
			t.Errorf("%q:\n\t%s\nwant\n\t%s", in, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
}

func TestEndInsideFrame(t *testing.T) {
	stream := cat(greeting31, readyDealer, msgFrames("ab", "cd"), []byte{0, 10, 'x'})
	wantSummaries(t, decodeEvents(t, Options{}, stream),
		"greeting ZMTP 3.1 NULL", `READY Socket-Type="DEALER" Identity=""`,
		`message 2 frames, 4 octets: "ab" | "cd"`,
		"error: stream ended inside a message frame: 9 of 10 body octets missing",
		`message 10 octets: "x"...(10) (incomplete)`)
}

// TestGarbage feeds random octets after a greeting: the decoder must end
// without panicking, having reported errors and skips.
func TestGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50; i++ {
		junk := make([]byte, 1+r.IntN(5000))
		for j := range junk {
			junk[j] = byte(r.Uint32())
		}
		var n int
		d := NewDecoder(Options{}, func(Event) { n++ })
		d.Feed(greeting31)
		for len(junk) > 0 {
			k := min(len(junk), 1+r.IntN(700))
			d.Feed(junk[:k])
			junk = junk[k:]
		}
		d.End()
		if n == 0 {
			t.Fatal("no events")
		}
	}
}

func TestConnSocketTypes(t *testing.T) {
	var evs []Event
	c := NewConn(7, "10.0.0.1:40000", "10.0.0.2:5555", Options{}, func(ev Event) { evs = append(evs, ev) })
	c.Feed(FromClient, cat(greeting31, readySub))
	c.Feed(FromServer, cat(greeting31, frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUB")}})))
	c.Feed(FromClient, frame.AppendFrame(nil, 0, []byte("\x01a")))
	c.Feed(FromServer, msgFrames("a", "data"))
	c.Close(FromClient)
	c.Close(FromServer)
	last := evs[len(evs)-3]
	if last.SrcType != "PUB" || last.DstType != "SUB" || last.Src != "10.0.0.2:5555" || last.ConnID != 7 {
		t.Errorf("event %+v", last)
	}
	st := c.Stats()
	if st.Handshake != "complete" || st.Version != "3.1" || st.End != "fin" || st.Dir[0].Subscriptions != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestCurveDataFrameMessage checks libzmq's way of sending CURVE MESSAGE
// commands, in frames without the COMMAND flag, also after a gap.
func TestCurveDataFrameMessage(t *testing.T) {
	g := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "CURVE"})
	msg := make([]byte, 8+17)
	msg[7] = 9
	body := frame.Command{Name: "MESSAGE", Data: msg}.AppendBody(nil)
	var evs []Event
	d := NewDecoder(Options{}, func(ev Event) { evs = append(evs, ev) })
	d.Feed(g)
	d.Feed(frame.AppendFrame(nil, 0, body))
	d.Feed(frame.AppendFrame(nil, 0, body)[:5])
	d.Gap(100)
	d.Feed([]byte("junk"))
	d.Feed(frame.AppendFrame(nil, 0, body))
	d.Feed(frame.AppendFrame(nil, 0, []byte("clear")))
	d.End()
	wantSummaries(t, evs, "greeting ZMTP 3.1 CURVE",
		"MESSAGE (CURVE) nonce 9 box 17 octets",
		"[100 octets missing]",
		"error: frame with 30 of its 33 octets missing: 0x074d45...(33)",
		"[4 octets skipped to find a frame boundary]",
		"MESSAGE (CURVE) nonce 9 box 17 octets [unsynced]",
		`error: clear-text data frame under CURVE: "clear"`)
	if !evs[1].Command.DataFrame {
		t.Error("DataFrame not set")
	}
}

// Octets observed between libzmq 4.3.4 and a ZMTP 2.0 (or 1.0) peer played
// by hand. libzmq sends its signature at once, its major version 3 once it
// has the peer's signature, then, having seen the peer's revision 1, its
// socket type, an empty identity frame and ZMTP 2.0 frames.
var (
	sig30      = []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F}
	sigRev1Req = cat(sig30, []byte{1, 3}, []byte{0, 0})         // fake ZMTP 2.0 REQ
	sigRev1Rep = cat(sig30, []byte{1, 4}, []byte{0, 0})         // fake ZMTP 2.0 REP
	zmqRepTo2  = cat(sig30, []byte{3}, []byte{4}, []byte{0, 0}) // libzmq REP downgraded
	zmqReqTo2  = cat(sig30, []byte{3}, []byte{3}, []byte{0, 0}) // libzmq REQ downgraded
)

// step is a piece of a conversation, in the order the octets were sent.
type step struct {
	dir Dir
	b   []byte
}

// decodeConnSteps decodes a conversation fed step by step, each step
// optionally cut at cut octets into the whole conversation (or fed octet
// by octet when cut is -1), and returns the events as JSON.
func decodeConnSteps(t testing.TB, steps []step, cut int) []string {
	t.Helper()
	var out []string
	c := NewConn(1, "c:1", "s:2", Options{}, func(ev Event) {
		j, err := json.Marshal(JSONEvent(ev))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(j))
	})
	pos := 0
	for _, s := range steps {
		switch {
		case cut == -1:
			for i := range s.b {
				c.Feed(s.dir, s.b[i:i+1])
			}
		case cut > pos && cut < pos+len(s.b):
			c.Feed(s.dir, s.b[:cut-pos])
			c.Feed(s.dir, s.b[cut-pos:])
		default:
			c.Feed(s.dir, s.b)
		}
		pos += len(s.b)
	}
	c.Close(FromClient)
	c.Close(FromServer)
	return out
}

func connSummaries(t testing.TB, steps []step) []string {
	var s []string
	for _, j := range decodeConnSteps(t, steps, 0) {
		var r JSONRecord
		if err := json.Unmarshal([]byte(j), &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind == "fin" {
			continue
		}
		line := r.Dir + " " + r.SrcType + ">" + r.DstType + " " + r.Summary
		if r.Error != "" && r.Kind != "error" {
			line += " [err]"
		}
		s = append(s, line)
	}
	return s
}

func TestLibzmqDowngrade(t *testing.T) {
	cases := map[string]struct {
		steps []step
		want  []string
		stats string
	}{
		// libzmq REP binds, a ZMTP 2.0 REQ connects.
		"binds": {
			steps: []step{
				{FromServer, sig30}, {FromClient, sig30}, {FromServer, []byte{3}},
				{FromClient, sigRev1Req[10:]}, {FromServer, zmqRepTo2[11:]},
				{FromClient, []byte("\x01\x00\x00\x03abc")}, {FromServer, []byte("\x01\x00\x00\x05reply")},
			},
			want: []string{
				`c2s REQ> greeting ZMTP 2.0 (legacy) socket-type REQ`,
				`c2s REQ> identity ""`,
				`s2c REP>REQ greeting ZMTP 3 signature, downgraded to 2.0 for a 2.0 peer: socket-type REP`,
				`s2c REP>REQ identity ""`,
				`c2s REQ>REP message 2 frames, 3 octets: "" | "abc"`,
				`s2c REP>REQ message 2 frames, 5 octets: "" | "reply"`,
			},
			stats: "2.0 legacy REQ>REP",
		},
		// libzmq REQ connects to a ZMTP 2.0 REP.
		"connects": {
			steps: []step{
				{FromClient, sig30}, {FromServer, sigRev1Rep}, {FromClient, zmqReqTo2[10:]},
				{FromClient, []byte("\x01\x00\x00\x07request")}, {FromServer, []byte("\x01\x00\x00\x05reply")},
			},
			want: []string{
				`s2c REP> greeting ZMTP 2.0 (legacy) socket-type REP`,
				`s2c REP> identity ""`,
				`c2s REQ>REP greeting ZMTP 3 signature, downgraded to 2.0 for a 2.0 peer: socket-type REQ`,
				`c2s REQ>REP identity ""`,
				`c2s REQ>REP message 2 frames, 7 octets: "" | "request"`,
				`s2c REP>REQ message 2 frames, 5 octets: "" | "reply"`,
			},
			stats: "2.0 legacy REQ>REP",
		},
		// libzmq REP binds, a ZMTP 1.0 peer connects: the signature is the
		// header of libzmq's identity frame.
		"v1": {
			steps: []step{
				{FromServer, sig30}, {FromClient, []byte{1, 0}}, {FromClient, []byte("\x01\x01\x04\x00abc")},
				{FromServer, []byte("\x01\x01\x06\x00reply")},
			},
			want: []string{
				`c2s > greeting ZMTP 1.0 (legacy), identity frame follows`,
				`c2s > identity ""`,
				`c2s > message 2 frames, 3 octets: "" | "abc"`,
				`s2c > greeting signature, downgraded to 1.0 for a 1.0 peer: identity frame follows`,
				`s2c > identity ""`,
				`s2c > message 2 frames, 5 octets: "" | "reply"`,
			},
			stats: "1.0 legacy >",
		},
		// A peer that sends revision 0 gets ZMTP 1.0 framing.
		"rev0": {
			steps: []step{
				{FromServer, sig30}, {FromClient, sig30}, {FromServer, []byte{3}},
				{FromClient, []byte{0, 3, 1, 0}}, {FromServer, []byte{4, 1, 0}},
				{FromClient, []byte("\x01\x01\x04\x00abc")}, {FromServer, []byte("\x01\x01\x06\x00reply")},
			},
			want: []string{
				`c2s REQ> greeting ZMTP 1.0 (legacy) socket-type REQ`,
				`c2s REQ> identity ""`,
				`s2c REP>REQ greeting ZMTP 3 signature, downgraded to 1.0 for a 1.0 peer: socket-type REP`,
				`s2c REP>REQ identity ""`,
				`c2s REQ>REP message 2 frames, 3 octets: "" | "abc"`,
				`s2c REP>REQ message 2 frames, 5 octets: "" | "reply"`,
			},
			stats: "1.0 legacy REQ>REP",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := connSummaries(t, tc.steps); !equalStrings(got, tc.want) {
				t.Errorf("events:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			whole := decodeConnSteps(t, tc.steps, 0)
			total := 0
			for _, s := range tc.steps {
				total += len(s.b)
			}
			for cut := -1; cut < total; cut++ {
				if got := decodeConnSteps(t, tc.steps, cut); !equalStrings(got, whole) {
					t.Fatalf("cut %d:\n%s\nwant:\n%s", cut, strings.Join(got, "\n"), strings.Join(whole, "\n"))
				}
			}
			c := NewConn(1, "", "", Options{}, nil)
			for _, s := range tc.steps {
				c.Feed(s.dir, s.b)
			}
			st := c.Stats()
			if got := st.Version + " " + st.Handshake + " " + st.ClientType + ">" + st.ServerType; got != tc.stats {
				t.Errorf("stats %q, want %q", got, tc.stats)
			}
		})
	}
}

// TestDowngradeAlone decodes libzmq's side of a downgrade to ZMTP 2.0
// without the other direction: the identity frame where a mechanism name
// would begin tells it.
func TestDowngradeAlone(t *testing.T) {
	stream := cat(zmqRepTo2, []byte("\x01\x00\x02\x00\x00\x00\x00\x00\x00\x01\x2c"), bytes.Repeat([]byte("r"), 300))
	evs := decodeEvents(t, Options{}, stream)
	wantSummaries(t, evs,
		`greeting ZMTP 3 signature, downgraded to 2.0 for a 2.0 peer: socket-type REP`,
		`identity ""`,
		`message 2 frames, 300 octets: "" | "`+strings.Repeat("r", 64)+`"...(300)`)
	if g := evs[0].Greeting; !g.Downgraded || g.SignatureMajor != 3 || evs[0].Len != 12 || !evs[2].Message.Frames[1].Long {
		t.Errorf("greeting %+v len %d", g, evs[0].Len)
	}
	if f := evs[1].Frame; f == nil || evs[1].Offset != 12 || evs[1].Len != 2 || f.Size != 0 || f.Flags != 0 || f.Long {
		t.Errorf("identity frame %+v at %d, len %d", f, evs[1].Offset, evs[1].Len)
	}
	j, _ := json.Marshal(JSONEvent(evs[0]))
	if !strings.Contains(string(j), `"greeting":{"version":"2.0","socket_type":"REP","downgraded":true,"signature_major":3,"padding_hex":"0000000000000001","revision":3}`) {
		t.Errorf("JSON %s", j)
	}
	j, _ = json.Marshal(JSONEvent(evs[1]))
	if !strings.Contains(string(j), `"kind":"identity","summary":"identity \"\"","frame":{"offset":12,"size":0,"flags":"0x00","fnv1a":"cbf29ce484222325"}`) {
		t.Errorf("JSON %s", j)
	}
	// A ZMTP 3 greeting is not taken for one.
	wantSummaries(t, decodeEvents(t, Options{}, cat(greeting31, readyDealer)),
		"greeting ZMTP 3.1 NULL", `READY Socket-Type="DEALER" Identity=""`)
}

// TestWireDetails checks what the decoder shows besides the summaries: a
// greeting's signature padding, revision, as-server bit (also false) and
// non-zero filler, and the flags octet and size form of commands and
// frames.
func TestWireDetails(t *testing.T) {
	g := bytes.Clone(greeting31)
	g[8] = 9 // libzmq: routing id length + 1
	copy(g[40:], "filler")
	long := frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("DEALER")}, {Name: "X-Long", Value: bytes.Repeat([]byte("v"), 300)}})
	evs := decodeEvents(t, Options{}, cat(g, long, msgFrames("a", "b")))
	gr := evs[0].Greeting
	if !bytes.Equal(gr.Padding, []byte{0, 0, 0, 0, 0, 0, 0, 9}) || gr.Revision != 3 || !gr.HasRevision || len(gr.Filler) != 31 || !bytes.Equal(gr.Raw, g) {
		t.Errorf("greeting %+v", gr)
	}
	j, _ := json.Marshal(JSONEvent(evs[0]))
	if want := `"greeting":{"version":"3.1","mechanism":"NULL","as_server":false,"padding_hex":"0000000000000009","revision":3,"filler_hex":"0000000000000066696c6c6572` + strings.Repeat("00", 31-13) + `"}`; !strings.Contains(string(j), want) {
		t.Errorf("JSON %s\nwant %s", j, want)
	}
	c := evs[1].Command
	if c.Flags != 0x06 || !c.Long {
		t.Errorf("READY flags 0x%02x long %v", c.Flags, c.Long)
	}
	j, _ = json.Marshal(JSONEvent(evs[1]))
	if !strings.Contains(string(j), `"command":{"name":"READY","size":`) || !strings.Contains(string(j), `"flags":"0x06","long":true`) {
		t.Errorf("JSON %s", j)
	}
	fs := evs[2].Message.Frames
	if fs[0].Flags != 0x01 || fs[1].Flags != 0 || fs[0].Long {
		t.Errorf("frames %+v", fs)
	}
	var b bytes.Buffer
	w := NewTextWriter(&b, TextOptions{Time: TimeNone, Verbose: true, Hex: Hex})
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		"\tsignature padding 0000000000000009, then 3\n",
		"\tas-server false, filler 0000000000000066696c6c6572",
		"\t0x0000:  ff00 0000 0000 0000 097f 0301 4e55 4c4c\n",
		"\tcommand body ",
		" octets, flags 0x06 LONG\n",
		"\tframe 0 at ",
		": size 1, flags 0x01 MORE fnv1a",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

// A RADIO's messages are a group frame and a body; other senders' two-frame
// messages, and a RADIO's messages of another shape, are plain messages.
func TestRadioGroupFrames(t *testing.T) {
	readyRadio := frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("RADIO")}})
	long := strings.Repeat("g", 256)
	evs := decodeEvents(t, Options{}, cat(greeting31, readyRadio,
		msgFrames("weather", "sunny"),
		msgFrames("", "no group"),
		msgFrames("a", "b", "c"),
		msgFrames(long, "too long"),
	))
	wantSummaries(t, evs,
		"greeting ZMTP 3.1 NULL",
		`READY Socket-Type="RADIO"`,
		`message group "weather", 5 octets: "sunny"`,
		`message group "", 8 octets: "no group"`,
		`message 3 frames, 3 octets: "a" | "b" | "c"`,
		`message 2 frames, 264 octets: "`+strings.Repeat("g", 64)+`"...(256) | "too long"`,
	)
	j, err := json.Marshal(JSONEvent(evs[3]))
	if err != nil || !strings.Contains(string(j), `"group":""`) {
		t.Errorf("JSON of an empty group: %s, %v", j, err)
	}
	j, _ = json.Marshal(JSONEvent(evs[2]))
	if !strings.Contains(string(j), `"group":"weather","group_hex":"77656174686572"`) {
		t.Errorf("JSON: %s", j)
	}
	// The same frames from a DEALER are no group message.
	evs = decodeEvents(t, Options{}, cat(greeting31, readyDealer, msgFrames("weather", "sunny")))
	if evs[2].Message.Grouped {
		t.Errorf("a DEALER's message decoded as a group message")
	}
}
