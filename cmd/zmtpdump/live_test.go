//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/zmtp-go/zmtp/dump"
	"github.com/zmtp-go/zmtp/zmtp"
)

// TestLiveCaptureLoopback captures this module's REQ/REP traffic on the
// loopback interface (AF_PACKET with the kernel port filter; the test runs
// as root, as CI does) and checks that the whole conversation is decoded,
// from both greetings through the request and the reply, and that what
// the capture saved (-w) decodes to the same events.
func TestLiveCaptureLoopback(t *testing.T) { liveCaptureLoopback(t, false) }

// TestLiveCaptureLoopbackFlooded is TestLiveCaptureLoopback while other
// traffic floods the loopback interface from before the capture opens, and
// with the capture reading nothing until the exchange is over: the kernel
// keeps the conversation for it from its start, and no unrelated packet.
func TestLiveCaptureLoopbackFlooded(t *testing.T) { liveCaptureLoopback(t, true) }

func liveCaptureLoopback(t *testing.T, flood bool) {
	ctx := testContext(t)
	if flood {
		floodLoopback(t, ctx)
	}
	rep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{})
	must(t, err)
	defer rep.Close()
	must(t, rep.Bind("tcp://127.0.0.1:*"))
	_, portText, _ := net.SplitHostPort(strings.TrimPrefix(rep.LastEndpoint(), "tcp://"))
	port, err := strconv.Atoi(portText)
	must(t, err)

	r := newRecording(t)
	a := newAssembler(r.out, dump.Options{}, uint16(port))
	var warnings []string // read once the capture has ended
	a.warn = func(msg string) { warnings = append(warnings, msg) }
	capCtx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	ready := make(chan struct{})
	// Under the flood, the capture reads nothing until the exchange is
	// over, as when its reader is slow to be scheduled on a loaded
	// machine: what was sent once the capture was open waits in the
	// kernel for it, among no unrelated packets.
	exchanged := make(chan struct{})
	var endExchange sync.Once
	defer endExchange.Do(func() { close(exchanged) })
	opened := func() {
		close(ready)
		if flood {
			select {
			case <-exchanged:
			case <-capCtx.Done():
			}
		}
	}
	captured := make(chan error, 1)
	var saved bytes.Buffer
	go func() {
		captured <- liveCapture(capCtx, "lo", a, &saved, opened)
	}()
	// The traffic starts once the capture is open, so that every packet
	// of the connection is captured.
	select {
	case <-ready:
	case err := <-captured:
		t.Fatalf("capture ended before it was open: %v", err)
	case <-ctx.Done():
		t.Fatal("timed out waiting for the capture to open")
	}

	go func() {
		for {
			if _, err := rep.Recv(ctx); err != nil {
				return
			}
			if rep.Send(ctx, [][]byte{[]byte("pong")}) != nil {
				return
			}
		}
	}()
	req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{})
	must(t, err)
	defer req.Close()
	must(t, req.Connect(rep.LastEndpoint()))
	must(t, req.Send(ctx, [][]byte{[]byte("ping")}))
	m, err := req.Recv(ctx)
	must(t, err)
	if len(m.Frames) != 1 || string(m.Frames[0]) != "pong" {
		t.Fatalf("REQ got %q", m.Frames)
	}
	endExchange.Do(func() { close(exchanged) })

	synced := func(kind dump.Kind, dir dump.Dir, cond func(dump.Event) bool) func(dump.Event) bool {
		return func(ev dump.Event) bool {
			return ev.Kind == kind && ev.Dir == dir && !ev.Unsynced && ev.ConnID == 1 && cond(ev)
		}
	}
	message := func(srcType, body string) func(dump.Event) bool {
		return func(ev dump.Event) bool {
			return ev.SrcType == srcType && len(ev.Message.Frames) == 2 &&
				len(ev.Message.Frames[0].Data) == 0 && string(ev.Message.Frames[1].Data) == body
		}
	}
	anything := func(dump.Event) bool { return true }
	for _, w := range []struct {
		what string
		cond func(dump.Event) bool
	}{
		{"the client's greeting in the capture", synced(dump.KindGreeting, dump.FromClient, anything)},
		{"the server's greeting in the capture", synced(dump.KindGreeting, dump.FromServer, anything)},
		{"the request in the capture", synced(dump.KindMessage, dump.FromClient, message("REQ", "ping"))},
		{"the reply in the capture", synced(dump.KindMessage, dump.FromServer, message("REP", "pong"))},
	} {
		wait(t, ctx, r.await(1, w.cond), w.what)
	}
	stopCapture()
	if err := <-captured; err != nil {
		t.Fatal(err)
	}
	noErrors(t, r)
	if len(warnings) > 0 {
		t.Errorf("the capture warned: %q", warnings)
	}
	if n := len(r.out.conns); n != 1 {
		t.Errorf("%d connections decoded, want 1", n)
	}

	// What the capture wrote (-w) decodes to the same events.
	var fromFile bytes.Buffer
	out := newPrinter(&fromFile, outputConfig{json: true})
	must(t, readCapture(&saved, newAssembler(out, dump.Options{}, uint16(port))))
	if a, b := normalize(t, r.jsonl.String(), false), normalize(t, fromFile.String(), false); a != b {
		t.Errorf("the saved capture decodes differently from the live capture:\n%s", diffLines(a, b))
	}
}

// floodStreams is the number of TCP connections floodLoopback keeps busy.
const floodStreams = 4

// floodLoopback moves data over TCP connections on the loopback interface
// as fast as they go until the test ends; it returns once data flows on
// each.
func floodLoopback(t *testing.T, ctx context.Context) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	var wg sync.WaitGroup
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	})
	flowing := make(chan struct{}, floodStreams)
	for range floodStreams {
		w, err := net.Dial("tcp", ln.Addr().String())
		must(t, err)
		conns = append(conns, w)
		r, err := ln.Accept()
		must(t, err)
		conns = append(conns, r)
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for {
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		})
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			flowing <- struct{}{}
			for {
				if _, err := r.Read(buf); err != nil {
					return
				}
			}
		})
	}
	for range floodStreams {
		select {
		case <-flowing:
		case <-ctx.Done():
			t.Fatal("timed out waiting for the flood to flow")
		}
	}
}

// TestLiveCaptureReportsDrops fills the kernel's buffer for the capture
// (32 MiB cross a TCP connection on the captured port while the capture
// reads nothing) and checks that the packets the kernel dropped are
// reported when the capture ends.
func TestLiveCaptureReportsDrops(t *testing.T) {
	ctx := testContext(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	})

	a := newAssembler(newPrinter(io.Discard, outputConfig{}), dump.Options{}, uint16(port))
	var warnings []string // read once the capture has ended
	a.warn = func(msg string) { warnings = append(warnings, msg) }
	capCtx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	var sendErr error
	err = liveCapture(capCtx, "lo", a, nil, func() {
		// The capture reads from the kernel only once this returns.
		defer stopCapture()
		var c net.Conn
		if c, sendErr = net.Dial("tcp", ln.Addr().String()); sendErr != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<20)
		for range 32 {
			if _, sendErr = c.Write(buf); sendErr != nil {
				return
			}
		}
	})
	must(t, err)
	must(t, sendErr)
	if len(warnings) != 1 {
		t.Fatalf("warnings %q, want one", warnings)
	}
	var n int
	if _, err := fmt.Sscanf(warnings[0], "%d packets dropped by the kernel", &n); err != nil || n <= 0 {
		t.Errorf("warning %q does not count dropped packets", warnings[0])
	}
}

// TestParseAuxdata checks the original length and the VLAN tag read from
// a tpacket_auxdata.
func TestParseAuxdata(t *testing.T) {
	aux := func(status uint32, tci, tpid uint16) []byte {
		e := binary.NativeEndian
		b := e.AppendUint32(nil, status)
		b = e.AppendUint32(b, 1514) // length
		b = e.AppendUint32(b, 1500) // snap length
		b = e.AppendUint16(b, 0)    // MAC header offset
		b = e.AppendUint16(b, 14)   // network header offset
		b = e.AppendUint16(b, tci)
		return e.AppendUint16(b, tpid)
	}
	for _, c := range []struct {
		status    uint32
		tci, tpid uint16
		tag       []byte
	}{
		{unix.TP_STATUS_USER, 0, 0, nil},
		{unix.TP_STATUS_VLAN_VALID, 0x2007, 0, []byte{0x81, 0x00, 0x20, 0x07}},
		{unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, 0x0123, 0x88A8, []byte{0x88, 0xA8, 0x01, 0x23}},
		{unix.TP_STATUS_VLAN_TPID_VALID, 0x0123, 0x88A8, nil},
	} {
		n, tag := parseAuxdata(aux(c.status, c.tci, c.tpid))
		if n != 1514 || !bytes.Equal(tag, c.tag) {
			t.Errorf("status %#x: length %d, tag % x; want 1514, % x", c.status, n, tag, c.tag)
		}
	}
}

// TestWithTag checks that a frame whose VLAN tag the interface took off
// gets it back, and decodes as it would have with its tag.
func TestWithTag(t *testing.T) {
	p := pkt{seq: 1, ack: 1, data: []byte("hello")}
	tagged := linkFrame(layers.LinkTypeEthernet, ipPacket(t, p, false), false) // VLAN 7
	untagged := append(append(append([]byte(nil), tagged[:12]...), 0x08, 0x00), ipPacket(t, p, false)...)
	got := withTag(untagged, []byte{0x81, 0x00, 0x00, 0x07})
	if !bytes.Equal(got, tagged) {
		t.Fatalf("withTag:\n% x\nwant\n% x", got, tagged)
	}
	if got := withTag(untagged, nil); !bytes.Equal(got, untagged) || &got[0] == &untagged[0] {
		t.Error("withTag without a tag does not return a copy of the frame")
	}
	a, errA := parsePacket(layers.LinkTypeEthernet, got, len(got))
	b, errB := parsePacket(layers.LinkTypeEthernet, untagged, len(untagged))
	if errA != nil || errB != nil || a.src != b.src || a.dst != b.dst || a.seq != b.seq || !bytes.Equal(a.payload, b.payload) {
		t.Errorf("tagged frame decodes as %+v (%v), untagged as %+v (%v)", a, errA, b, errB)
	}
}

// TestParseTimespec checks receive times in both word sizes.
func TestParseTimespec(t *testing.T) {
	e := binary.NativeEndian
	want := time.Unix(1714564800, 123456789)
	b64 := e.AppendUint64(e.AppendUint64(nil, 1714564800), 123456789)
	b32 := e.AppendUint32(e.AppendUint32(nil, 1714564800), 123456789)
	for _, b := range [][]byte{b64, b32} {
		if got, ok := parseTimespec(b); !ok || !got.Equal(want) {
			t.Errorf("%d octets: %v %v, want %v", len(b), got, ok, want)
		}
	}
	if _, ok := parseTimespec(make([]byte, 12)); ok {
		t.Error("12 octets accepted as a timespec")
	}
}
