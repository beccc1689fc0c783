package main

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/zmtp-go/zmtp/dump"
	"github.com/zmtp-go/zmtp/frame"
)

// A NULL session: the client's and the server's octets.
var (
	sessionClient = bytes.Join([][]byte{
		frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"}),
		frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("REQ")}}),
		frame.AppendFrame(nil, frame.FlagMore, nil),
		frame.AppendFrame(nil, 0, []byte("request one")),
		frame.AppendFrame(nil, frame.FlagMore, nil),
		frame.AppendFrame(nil, 0, []byte("request two")),
		frame.AppendFrame(nil, frame.FlagMore, nil),
		frame.AppendFrame(nil, 0, []byte("request three")),
	}, nil)
	sessionServer = bytes.Join([][]byte{
		frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"}),
		frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("REP")}}),
		frame.AppendFrame(nil, frame.FlagMore, nil),
		frame.AppendFrame(nil, 0, []byte("reply")),
	}, nil)
	sessionText = []string{
		"connection opened",
		"greeting ZMTP 3.1 NULL",
		`READY Socket-Type="REQ"`,
		`message 2 frames, 11 octets: "" | "request one"`,
		`message 2 frames, 11 octets: "" | "request two"`,
		`message 2 frames, 13 octets: "" | "request three"`,
		"FIN",
		"greeting ZMTP 3.1 NULL",
		`READY Socket-Type="REP"`,
		`message 2 frames, 5 octets: "" | "reply"`,
		"FIN",
	}
	cliAddr = netip.MustParseAddrPort("10.0.0.1:40000")
	srvAddr = netip.MustParseAddrPort("10.0.0.2:5555")
)

// pkt is a TCP segment to synthesise.
type pkt struct {
	fromServer bool
	seq        uint32 // relative to the sender's ISN
	ack        uint32 // relative to the receiver's ISN
	syn, fin   bool
	rst        bool
	data       []byte
}

const isnClient, isnServer = 1000, 900000

// handshake returns the three-way handshake.
func handshakePkts() []pkt {
	return []pkt{{syn: true}, {fromServer: true, syn: true, ack: 1}, {seq: 1, ack: 1}}
}

// segments cuts a direction's octets into segments of at most n octets.
func segments(fromServer bool, b []byte, n int, ack uint32) []pkt {
	var ps []pkt
	for off := 0; off < len(b); off += n {
		end := min(off+n, len(b))
		ps = append(ps, pkt{fromServer: fromServer, seq: uint32(1 + off), ack: ack, data: b[off:end]})
	}
	return ps
}

// sessionPkts is the whole session, in order, with FINs.
func sessionPkts(n int) []pkt {
	ps := handshakePkts()
	ps = append(ps, segments(false, sessionClient, n, 1)...)
	ps = append(ps, segments(true, sessionServer, n, uint32(1+len(sessionClient)))...)
	ps = append(ps,
		pkt{seq: uint32(1 + len(sessionClient)), ack: uint32(1 + len(sessionServer)), fin: true},
		pkt{fromServer: true, seq: uint32(1 + len(sessionServer)), ack: uint32(2 + len(sessionClient)), fin: true},
		pkt{seq: uint32(2 + len(sessionClient)), ack: uint32(2 + len(sessionServer))})
	return ps
}

// ipPacket serialises p as IPv4 or IPv6 with TCP.
func ipPacket(t *testing.T, p pkt, v6 bool) []byte {
	t.Helper()
	src, dst := cliAddr, srvAddr
	sisn, disn := uint32(isnClient), uint32(isnServer)
	if p.fromServer {
		src, dst, sisn, disn = dst, src, disn, sisn
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: sisn + p.seq, SYN: p.syn, FIN: p.fin, RST: p.rst, Window: 1000}
	if p.ack != 0 {
		tcp.ACK, tcp.Ack = true, disn+p.ack
	}
	var ip gopacket.SerializableLayer
	if v6 {
		s, d := netip.AddrFrom16(src.Addr().As16()).As16(), netip.AddrFrom16(dst.Addr().As16()).As16()
		s[0], d[0] = 0xfd, 0xfd // not v4-mapped
		l := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolTCP, HopLimit: 64, SrcIP: s[:], DstIP: d[:]}
		tcp.SetNetworkLayerForChecksum(l)
		ip = l
	} else {
		l := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(l)
		ip = l
	}
	buf := gopacket.NewSerializeBuffer()
	must(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp, gopacket.Payload(p.data)))
	return append([]byte(nil), buf.Bytes()...)
}

// linkFrame wraps an IP packet in a link-layer header.
func linkFrame(lt layers.LinkType, ip []byte, v6 bool) []byte {
	etype := []byte{0x08, 0x00}
	if v6 {
		etype = []byte{0x86, 0xDD}
	}
	var h []byte
	switch lt {
	case layers.LinkTypeEthernet:
		h = append(make([]byte, 12), 0x81, 0x00, 0x00, 0x07) // VLAN 7
		h = append(h, etype...)
	case layers.LinkTypeLinuxSLL:
		h = append(make([]byte, 14), etype...)
	case layers.LinkTypeLinuxSLL2:
		h = append(append([]byte(nil), etype...), make([]byte, 18)...)
	case layers.LinkTypeNull:
		h = binary.LittleEndian.AppendUint32(nil, map[bool]uint32{false: 2, true: 30}[v6])
	case layers.LinkTypeLoop:
		h = binary.BigEndian.AppendUint32(nil, map[bool]uint32{false: 2, true: 24}[v6])
	}
	return append(h, ip...)
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// writePcap writes packets in pcap format, with microsecond or nanosecond
// timestamps.
func writePcap(t *testing.T, lt layers.LinkType, ps []pkt, v6, nanos bool) []byte {
	t.Helper()
	var out bytes.Buffer
	w := pcapgo.NewWriter(&out)
	if nanos {
		w = pcapgo.NewWriterNanos(&out)
	}
	must(t, w.WriteFileHeader(65536, lt))
	for i, p := range ps {
		b := linkFrame(lt, ipPacket(t, p, v6), v6)
		ts := t0.Add(time.Duration(i) * (time.Millisecond + time.Nanosecond))
		must(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b))
	}
	return out.Bytes()
}

func writePcapng(t *testing.T, lt layers.LinkType, ps []pkt) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := pcapgo.NewNgWriter(&out, lt)
	must(t, err)
	for i, p := range ps {
		b := linkFrame(lt, ipPacket(t, p, false), false)
		must(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(b), Length: len(b)}, b))
	}
	must(t, w.Flush())
	return out.Bytes()
}

// swapPcap converts a little-endian pcap file to big-endian.
func swapPcap(b []byte) []byte {
	out := append([]byte(nil), b...)
	sw32 := func(p []byte) { binary.BigEndian.PutUint32(p, binary.LittleEndian.Uint32(p)) }
	sw16 := func(p []byte) { binary.BigEndian.PutUint16(p, binary.LittleEndian.Uint16(p)) }
	sw32(out[0:])
	sw16(out[4:])
	sw16(out[6:])
	for _, o := range []int{8, 12, 16, 20} {
		sw32(out[o:])
	}
	for off := 24; off+16 <= len(out); {
		n := int(binary.LittleEndian.Uint32(out[off+8:]))
		for k := 0; k < 16; k += 4 {
			sw32(out[off+k:])
		}
		off += 16 + n
	}
	return out
}

// decodeCapture reads a capture and returns the event summaries.
func decodeCapture(t *testing.T, file []byte, opts dump.Options) ([]dump.Event, []string) {
	t.Helper()
	var evs []dump.Event
	out := newPrinter(&bytes.Buffer{}, outputConfig{})
	out.hook = func(ev dump.Event) { evs = append(evs, ev) }
	must(t, readCapture(bytes.NewReader(file), newAssembler(out, opts, 0)))
	// Group by direction: the interleaving depends on segmentation.
	var sums [2][]string
	for _, ev := range evs {
		s := dump.Summary(ev)
		if ev.Unsynced {
			s += " [unsynced]"
		}
		d := ev.Dir
		if ev.Kind == dump.KindOpen {
			d = 0
		}
		sums[d] = append(sums[d], s)
	}
	return evs, append(sums[0], sums[1]...)
}

func wantLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestCaptureFormats(t *testing.T) {
	ps := sessionPkts(7)
	for _, lt := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
		layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeRaw} {
		for _, v6 := range []bool{false, true} {
			file := writePcap(t, lt, ps, v6, false)
			evs, got := decodeCapture(t, file, dump.Options{})
			wantLines(t, got, sessionText)
			if !v6 && evs[1].Src != "10.0.0.1:40000" {
				t.Errorf("%v: src %s", lt, evs[1].Src)
			}
			if v6 && !strings.HasPrefix(evs[1].Src, "[fd") {
				t.Errorf("%v IPv6: src %s", lt, evs[1].Src)
			}
		}
	}
	le := writePcap(t, layers.LinkTypeEthernet, ps, false, false)
	_, got := decodeCapture(t, swapPcap(le), dump.Options{})
	wantLines(t, got, sessionText)
	evs, got := decodeCapture(t, writePcap(t, layers.LinkTypeEthernet, ps, false, true), dump.Options{})
	wantLines(t, got, sessionText)
	if !evs[0].Time.Equal(t0) || evs[1].Time.Nanosecond()%1000 == 0 {
		t.Errorf("nanosecond pcap: times %v, %v", evs[0].Time, evs[1].Time)
	}
	_, got = decodeCapture(t, writePcapng(t, layers.LinkTypeEthernet, ps), dump.Options{})
	wantLines(t, got, sessionText)
}

// TestReassemblyOrder delivers each direction's segments in reverse, some
// twice and some overlapping the next one.
func TestReassemblyOrder(t *testing.T) {
	cli := segments(false, sessionClient, 5, 1)
	srv := segments(true, sessionServer, 5, uint32(1+len(sessionClient)))
	var ordered []pkt
	ordered = append(ordered, handshakePkts()...)
	for _, dir := range [][]pkt{cli, srv} {
		for i := len(dir) - 1; i >= 0; i-- {
			p := dir[i]
			ordered = append(ordered, p)
			if i%3 == 0 {
				whole := sessionClientOrServer(p)
				end := min(int(p.seq)-1+len(p.data)+3, len(whole))
				p.data = whole[int(p.seq)-1 : end]
				ordered = append(ordered, p) // overlaps the next segment
			}
		}
	}
	ps := sessionPkts(5)
	ordered = append(ordered, ps[len(ps)-3:]...)
	_, got := decodeCapture(t, writePcap(t, layers.LinkTypeEthernet, ordered, false, false), dump.Options{})
	wantLines(t, got, sessionText)
}

func sessionClientOrServer(p pkt) []byte {
	if p.fromServer {
		return sessionServer
	}
	return sessionClient
}

// TestReassemblyGap drops a client segment: the server's acknowledgement
// shows it was sent, so the gap is reported and decoding resynchronises.
func TestReassemblyGap(t *testing.T) {
	ps := sessionPkts(1000)
	cli := sessionClient
	g := len(cli) - (2 + 13) - 2 - (2 + 11) - 2 // the second request's delimiter
	var out []pkt
	out = append(out, handshakePkts()...)
	out = append(out,
		pkt{seq: 1, ack: 1, data: cli[:g]},
		// cli[g:g+6] is lost.
		pkt{seq: uint32(1 + g + 6), ack: 1, data: cli[g+6:]},
		pkt{fromServer: true, seq: 1, ack: uint32(1 + len(cli)), data: sessionServer},
	)
	out = append(out, ps[len(ps)-3:]...)
	_, got := decodeCapture(t, writePcap(t, layers.LinkTypeEthernet, out, false, false), dump.Options{})
	want := append([]string(nil), sessionText[:4]...)
	want = append(want,
		"[6 octets missing]",
		"[9 octets skipped to find a frame boundary]",
		`message 2 frames, 13 octets: "" | "request three" [unsynced]`,
		"FIN")
	want = append(want, sessionText[7:]...)
	wantLines(t, got, want)
}

// TestMidstreamCapture starts the capture inside the client's second
// message, without the handshake.
func TestMidstreamCapture(t *testing.T) {
	cli := sessionClient
	start := len(cli) - (2 + 13) - 2 - 5 // inside the second request
	ps := []pkt{
		{seq: uint32(1 + start), ack: 1, data: cli[start:]},
		{fromServer: true, seq: 100, ack: uint32(1 + len(cli)), data: frame.AppendFrame(frame.AppendFrame(nil, frame.FlagMore, nil), 0, []byte("reply"))},
		{seq: uint32(1 + len(cli)), ack: 109, rst: true},
	}
	_, got := decodeCapture(t, writePcap(t, layers.LinkTypeEthernet, ps, false, false), dump.Options{})
	wantLines(t, got, []string{
		"[5 octets skipped to find a frame boundary]",
		`message 2 frames, 13 octets: "" | "request three" [unsynced]`,
		"RST",
		`message 2 frames, 5 octets: "" | "reply" [unsynced]`,
	})
}

// TestSnapLength decodes a capture whose packets were cut short: the
// missing octets are gaps inside the frame bodies.
func TestSnapLength(t *testing.T) {
	big := frame.AppendFrame(nil, 0, bytes.Repeat([]byte("b"), 3000))
	ps := handshakePkts()
	ps = append(ps, segments(false, sessionClient, 100, 1)...)
	for _, p := range segments(false, big, 1000, 1) {
		p.seq += uint32(len(sessionClient))
		ps = append(ps, p)
	}
	var file bytes.Buffer
	w := pcapgo.NewWriter(&file)
	must(t, w.WriteFileHeader(200, layers.LinkTypeEthernet))
	for i, p := range ps {
		b := linkFrame(layers.LinkTypeEthernet, ipPacket(t, p, false), false)
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i)), CaptureLength: min(len(b), 200), Length: len(b)}
		must(t, w.WritePacket(ci, b[:ci.CaptureLength]))
	}
	evs, _ := decodeCapture(t, file.Bytes(), dump.Options{})
	var last dump.Event
	for _, ev := range evs {
		if ev.Kind == dump.KindMessage {
			last = ev
		}
	}
	if last.Message == nil || last.Message.Size != 3000 || last.Message.Frames[0].Missing == 0 {
		t.Fatalf("last message: %+v", last.Message)
	}
}

// TestDuplicatePackets sees every packet twice, as a capture on a loopback
// interface does.
func TestDuplicatePackets(t *testing.T) {
	var ps []pkt
	for _, p := range sessionPkts(9) {
		ps = append(ps, p, p)
	}
	_, got := decodeCapture(t, writePcap(t, layers.LinkTypeEthernet, ps, false, false), dump.Options{})
	wantLines(t, got, sessionText)
}

// TestNoSynAck loses the server's SYN-ACK: its segments wait for it, then
// at the end of the capture start at the lowest sequence number seen.
func TestNoSynAck(t *testing.T) {
	ps := sessionPkts(20)
	ps = append(ps[:1], ps[2:]...)
	evs, got := decodeCapture(t, writePcap(t, layers.LinkTypeEthernet, ps, false, false), dump.Options{})
	wantLines(t, got, sessionText)
	for _, ev := range evs {
		if ev.Dir == dump.FromServer && ev.Packet != len(ps) {
			t.Errorf("%s: decoded at packet %d, before the end of the capture (%d packets)", dump.Summary(ev), ev.Packet, len(ps))
		}
	}
}
