package zmtp

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
	"golang.org/x/net/ipv4"
)

// udpPair binds a DISH that joined groups on dishEP and connects a RADIO
// to the endpoint it got.
func udpPair(t *testing.T, dishEP string, groups ...string) (radio, dish *Socket) {
	t.Helper()
	radio, dish = newSock(t, Radio, Options{}), newSock(t, Dish, Options{})
	for _, g := range groups {
		if err := dish.Join(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := dish.Bind(dishEP); err != nil {
		t.Fatal(err)
	}
	if err := radio.Connect(dish.LastEndpoint()); err != nil {
		t.Fatal(err)
	}
	return radio, dish
}

// Over udp the RADIO sends every group and the DISH keeps those joined.
func TestRadioDishUDPUnicast(t *testing.T) {
	ctx := testCtx(t)
	radio, dish := udpPair(t, "udp://127.0.0.1:*", "weather")
	if ep := dish.LastEndpoint(); !strings.HasPrefix(ep, "udp://127.0.0.1:") || strings.HasSuffix(ep, ":0") {
		t.Fatalf("LastEndpoint = %q", ep)
	}
	radio.SendGroup(ctx, "sports", []byte("filtered by the DISH"))
	radio.SendGroup(ctx, "weather", []byte("sunny"))
	if g, b := recvGroup(t, dish); g != "weather" || b != "sunny" {
		t.Fatalf("received %q %q", g, b)
	}
	// A message larger than libzmq's datagram is dropped, counted; the next
	// one goes.
	big := bytes.Repeat([]byte{'x'}, frame.MaxDatagramSize)
	radio.SendGroup(ctx, "weather", big)
	radio.SendGroup(ctx, "weather", big[:frame.MaxDatagramSize-1-len("weather")])
	if g, b := recvGroup(t, dish); g != "weather" || len(b) != frame.MaxDatagramSize-8 {
		t.Fatalf("received %q with %d octets", g, len(b))
	}
	if n := radio.Dropped(); n != 1 {
		t.Fatalf("Dropped = %d, want 1", n)
	}
}

// Datagrams a RADIO would not send are ignored; the DISH goes on.
func TestDishUDPHostile(t *testing.T) {
	dish := newSock(t, Dish, Options{MaxMessageSize: 10})
	dish.Join("g")
	if err := dish.Bind("udp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	to, err := net.ResolveUDPAddr("udp4", strings.TrimPrefix(dish.LastEndpoint(), "udp://"))
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.DialUDP("udp4", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	for _, d := range [][]byte{
		{},                     // empty
		{0xFF, 'g'},            // group size beyond the datagram
		{0x02, 'g', 0x00, 'b'}, // zero octet in the group
		frame.AppendDatagram(nil, []byte("g"), []byte("beyond MaxMessageSize")),
		frame.AppendDatagram(nil, []byte("g"), []byte("good")),
	} {
		if _, err := uc.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if g, b := recvGroup(t, dish); g != "g" || b != "good" {
		t.Fatalf("received %q %q", g, b)
	}
}

// Multicast on the loopback interface, as libzmq names it:
// udp://127.0.0.1;239.x.x.x:port on both sides.
func TestRadioDishUDPMulticast(t *testing.T) {
	ctx := testCtx(t)
	dish := newSock(t, Dish, Options{})
	dish.Join("m")
	if err := dish.Bind("udp://127.0.0.1;239.255.77.1:*"); err != nil {
		t.Skipf("this kernel does not let a socket join a multicast group on loopback: %v", err)
	}
	ep := dish.LastEndpoint()
	if !strings.HasPrefix(ep, "udp://127.0.0.1;239.255.77.1:") {
		t.Fatalf("LastEndpoint = %q", ep)
	}
	radio := newSock(t, Radio, Options{})
	if err := radio.Connect(ep); err != nil {
		t.Fatal(err)
	}
	radio.SendGroup(ctx, "other", []byte("filtered"))
	radio.SendGroup(ctx, "m", []byte("multicast"))
	if g, b := recvGroup(t, dish); g != "m" || b != "multicast" {
		t.Fatalf("received %q %q", g, b)
	}
}

func TestUDPEndpointsRefused(t *testing.T) {
	radio, dish, pub := newSock(t, Radio, Options{}), newSock(t, Dish, Options{}), newSock(t, Pub, Options{})
	for name, err := range map[string]error{
		"PUB Bind":                  pub.Bind("udp://127.0.0.1:*"),
		"PUB Connect":               pub.Connect("udp://127.0.0.1:5555"),
		"RADIO Bind":                radio.Bind("udp://127.0.0.1:*"),
		"DISH Connect":              dish.Connect("udp://127.0.0.1:5555"),
		"interface with unicast":    dish.Bind("udp://127.0.0.1;127.0.0.1:5555"),
		"multicast interface":       dish.Bind("udp://239.1.1.1;239.1.1.2:5555"),
		"Connect to port 0":         radio.Connect("udp://127.0.0.1:0"),
		"Connect to *":              radio.Connect("udp://*:5555"),
		"no port":                   radio.Connect("udp://127.0.0.1"),
		"unknown interface":         dish.Bind("udp://no-such-if0;239.1.1.1:5555"),
		"interface name for a host": radio.Connect("udp://no such host:5555"),
	} {
		if !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("%s: %v, want ErrInvalidEndpoint", name, err)
		}
	}
	if n := len(radio.snapshot()) + len(dish.snapshot()); n != 0 {
		t.Fatalf("refused endpoints left %d pipes", n)
	}
}

// Unbind and Disconnect of udp endpoints remove their destinations.
func TestRadioUDPUnbindAndClose(t *testing.T) {
	radio, dish := udpPair(t, "udp://127.0.0.1:*", "g")
	ep := dish.LastEndpoint()
	if err := dish.Unbind(ep); err != nil {
		t.Fatal(err)
	}
	if err := radio.Disconnect(ep); err != nil {
		t.Fatal(err)
	}
	if n := len(dish.snapshot()) + len(radio.snapshot()); n != 0 {
		t.Fatalf("%d pipes left after Unbind and Disconnect", n)
	}
	if err := radio.SendGroup(testCtx(t), "g", []byte("to nobody")); err != nil {
		t.Fatal(err)
	}
}

// MulticastHops and MulticastNoLoop set the socket options of a RADIO's
// multicast socket.
func TestRadioMulticastOptions(t *testing.T) {
	if _, err := NewSocket(Radio, Options{MulticastHops: 256}); err == nil {
		t.Fatal("MulticastHops 256 accepted")
	}
	for _, o := range []Options{{}, {MulticastHops: 7, MulticastNoLoop: true}} {
		radio := newSock(t, Radio, o)
		if err := radio.Connect("udp://127.0.0.1;239.255.77.9:5555"); err != nil {
			t.Fatal(err)
		}
		pc := ipv4.NewPacketConn(endpointOf(t, radio, "udp://127.0.0.1;239.255.77.9:5555").udp)
		ttl, err := pc.MulticastTTL()
		if err != nil {
			t.Fatal(err)
		}
		loop, err := pc.MulticastLoopback()
		if err != nil {
			t.Fatal(err)
		}
		if want := max(o.MulticastHops, 1); ttl != want || loop == o.MulticastNoLoop {
			t.Errorf("options %+v: TTL %d, loop %v", o, ttl, loop)
		}
	}
}

// udp over IPv6 loopback, and a DISH bound on every interface.
func TestRadioDishUDPOtherAddresses(t *testing.T) {
	for _, ep := range []string{"udp://[::1]:*", "udp://*:*"} {
		t.Run(ep, func(t *testing.T) {
			radio, dish := udpPair(t, ep, "g")
			radio.SendGroup(testCtx(t), "g", []byte("hello"))
			if g, b := recvGroup(t, dish); g != "g" || b != "hello" {
				t.Fatalf("received %q %q", g, b)
			}
		})
	}
}
