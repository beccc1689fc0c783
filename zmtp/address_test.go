package zmtp

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// loopback returns the name and first IPv4 address of a loopback
// interface ("lo" on Linux, "lo0" elsewhere); every machine the tests
// run on has one.
func loopback(t *testing.T) (string, netip.Addr) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback == 0 {
			continue
		}
		if a, reason := interfaceAddr(ifi.Name); reason == "" {
			return ifi.Name, a
		}
	}
	t.Fatal("no loopback interface with an IPv4 address")
	return "", netip.Addr{}
}

func TestResolveTCP(t *testing.T) {
	lo, loAddr := loopback(t)
	tests := []struct {
		addr    string
		bind    bool
		network string
		want    string // "" when refused
	}{
		// Bind: "*" is IPv4 only, as libzmq's with ZMQ_IPV6 off.
		{"*:*", true, "tcp4", "0.0.0.0:0"},
		{"*:5555", true, "tcp4", "0.0.0.0:5555"},
		{"*:0", true, "tcp4", "0.0.0.0:0"},
		{"0.0.0.0:*", true, "tcp4", "0.0.0.0:0"},
		{"127.0.0.1:*", true, "tcp4", "127.0.0.1:0"},
		{"127.0.0.1:005555", true, "tcp4", "127.0.0.1:5555"},
		{"127.0.0.1:65535", true, "tcp4", "127.0.0.1:65535"},
		{"[127.0.0.1]:1", true, "tcp4", "127.0.0.1:1"},
		{"[::ffff:127.0.0.1]:*", true, "tcp4", "127.0.0.1:0"},
		{"[::1]:*", true, "tcp", "[::1]:0"},
		{"[::]:7", true, "tcp", "[::]:7"},
		{"::1:5555", true, "tcp", "[::1]:5555"},
		{"[fe80::1%" + lo + "]:*", true, "tcp", "[fe80::1%" + lo + "]:0"},
		{lo + ":*", true, "tcp4", loAddr.String() + ":0"},
		{lo + ":5555", true, "tcp4", loAddr.String() + ":5555"},
		{"localhost:*", true, "", ""}, // no name look-up in Bind
		{"no-such-interface0:*", true, "", ""},
		{":5555", true, "", ""},
		{"127.0.0.1:", true, "", ""},
		{"127.0.0.1", true, "", ""},
		{"127.0.0.1:65536", true, "", ""},
		{"127.0.0.1:-1", true, "", ""},
		{"127.0.0.1:+5", true, "", ""},
		{"127.0.0.1:5x", true, "", ""},
		{"127.0.0.1:0x10", true, "", ""},
		{"127.0.0.1: 5", true, "", ""},
		{"*:", true, "", ""},
		{"[::1:5555", true, "", ""},
		{"[::1]5555", true, "", ""},
		{"[localhost]:5555", true, "", ""},
		{"1:2:x:5555", true, "", ""},
		{"127.0.0.1;127.0.0.1:5555", true, "", ""},

		// Connect: host names are looked up when connecting.
		{"127.0.0.1:5555", false, "tcp", "127.0.0.1:5555"},
		{"0.0.0.0:5555", false, "tcp", "0.0.0.0:5555"},
		{"[::1]:5555", false, "tcp", "[::1]:5555"},
		{"::1:5555", false, "tcp", "[::1]:5555"},
		{"localhost:005555", false, "tcp", "localhost:5555"},
		{"my-host_1.example.:1", false, "tcp", "my-host_1.example.:1"},
		{lo + ":5555", false, "tcp", lo + ":5555"}, // a host name here
		{"*:5555", false, "", ""},
		{"*:*", false, "", ""},
		{"127.0.0.1:*", false, "", ""},
		{"127.0.0.1:0", false, "", ""},
		{":5555", false, "", ""},
		{"127.0.0.1:", false, "", ""},
		{"127.0.0.1", false, "", ""},
		{"127.0.0.1:65536", false, "", ""},
		{"127.0.0.1:abc", false, "", ""},
		{"host name:1", false, "", ""},
		{"hóst:1", false, "", ""},
		{"a/b:1", false, "", ""},
	}
	for _, tt := range tests {
		network, got, err := resolveTCP(tt.addr, tt.bind)
		if tt.want == "" {
			var ee *InvalidEndpointError
			if !errors.Is(err, ErrInvalidEndpoint) || !errors.As(err, &ee) || ee.Endpoint != "tcp://"+tt.addr {
				t.Errorf("resolveTCP(%q, %v) = %q, %q, %v; want an *InvalidEndpointError", tt.addr, tt.bind, network, got, err)
			}
			continue
		}
		if err != nil || network != tt.network || got != tt.want {
			t.Errorf("resolveTCP(%q, %v) = %q, %q, %v; want %q, %q", tt.addr, tt.bind, network, got, err, tt.network, tt.want)
		}
	}
}

func TestResolveTCPDial(t *testing.T) {
	lo, loAddr := loopback(t)
	tests := []struct {
		addr  string
		want  string // "" when refused
		local string // "" for none
	}{
		{"127.0.0.1:5555", "127.0.0.1:5555", ""},
		{"127.0.0.1:0;127.0.0.1:5555", "127.0.0.1:5555", "127.0.0.1:0"},
		{"127.0.0.1:*;127.0.0.1:5555", "127.0.0.1:5555", "127.0.0.1:0"},
		{"127.0.0.1:4444;localhost:5555", "localhost:5555", "127.0.0.1:4444"},
		{"0.0.0.0:0;127.0.0.1:5555", "127.0.0.1:5555", "0.0.0.0:0"},
		{lo + ":0;127.0.0.1:5555", "127.0.0.1:5555", loAddr.String() + ":0"},
		{"[::1]:0;[::1]:5555", "[::1]:5555", "[::1]:0"},
		{"[::1]:0;localhost:5555", "localhost:5555", "[::1]:0"},
		{"127.0.0.1;127.0.0.1:5555", "", ""}, // a source needs its port
		{lo + ";127.0.0.1:5555", "", ""},
		{"*:0;127.0.0.1:5555", "", ""},
		{"*;127.0.0.1:5555", "", ""},
		{";127.0.0.1:5555", "", ""},
		{"localhost:0;127.0.0.1:5555", "", ""}, // sources are not looked up
		{"127.0.0.1:0;*:5555", "", ""},
		{"127.0.0.1:0;127.0.0.1:*", "", ""},
		{"127.0.0.1:0;", "", ""},
		{"127.0.0.1:0;127.0.0.1:1;127.0.0.1:2", "", ""},
		{"[::1]:0;127.0.0.1:5555", "", ""}, // different families
		{"127.0.0.1:0;[::1]:5555", "", ""},
		{"127.0.0.1:70000;127.0.0.1:5555", "", ""},
	}
	for _, tt := range tests {
		network, got, local, err := resolveTCPDial(tt.addr)
		if tt.want == "" {
			var ee *InvalidEndpointError
			if !errors.Is(err, ErrInvalidEndpoint) || !errors.As(err, &ee) || ee.Endpoint != "tcp://"+tt.addr {
				t.Errorf("resolveTCPDial(%q) = %q, %q, %v, %v; want an *InvalidEndpointError", tt.addr, network, got, local, err)
			}
			continue
		}
		if err != nil || network != "tcp" || got != tt.want {
			t.Errorf("resolveTCPDial(%q) = %q, %q, %v, %v; want tcp, %q", tt.addr, network, got, local, err, tt.want)
			continue
		}
		if tt.local == "" && local != nil || tt.local != "" && (local == nil || local.String() != tt.local) {
			t.Errorf("resolveTCPDial(%q) source %v, want %q", tt.addr, local, tt.local)
		}
	}
}

// TestEndpointRefused checks that Bind and Connect refuse at the call,
// with ErrInvalidEndpoint, what could never work, and leave the socket
// as it was.
func TestEndpointRefused(t *testing.T) {
	s := newSock(t, Dealer, Options{})
	for _, ep := range []string{
		"tcp://*:5555", "tcp://*:*", "tcp://127.0.0.1:*", "tcp://:5555", "tcp://127.0.0.1:",
		"tcp://127.0.0.1:99999", "tcp://127.0.0.1:0", "tcp://localhost:*", "tcp://*;127.0.0.1:5555",
		"tcp://", "tcp:/127.0.0.1:5555", "127.0.0.1:5555", "udp://127.0.0.1:5555", "ipc://", "inproc://",
	} {
		if err := s.Connect(ep); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("Connect(%q) = %v, want ErrInvalidEndpoint", ep, err)
		}
	}
	for _, ep := range []string{
		"tcp://:5555", "tcp://*:", "tcp://*", "tcp://127.0.0.1:65536", "tcp://localhost:*",
		"tcp://no-such-interface0:*", "tcp://127.0.0.1:0;127.0.0.1:5555", "tcp://", "foo://x:1",
	} {
		if err := s.Bind(ep); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("Bind(%q) = %v, want ErrInvalidEndpoint", ep, err)
		}
	}
	if ep := s.LastEndpoint(); ep != "" {
		t.Errorf("LastEndpoint %q after refused binds", ep)
	}
	s.mu.Lock()
	n := len(s.endpoints)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d endpoints after refused calls", n)
	}
}

// portOf returns the port of a tcp endpoint.
func portOf(t *testing.T, ep string) string {
	t.Helper()
	i := strings.LastIndexByte(ep, ':')
	if i < 0 {
		t.Fatalf("endpoint %q has no port", ep)
	}
	return ep[i+1:]
}

// TestBindWildcardIPv4 checks that "*" binds every IPv4 interface and is
// reported as 0.0.0.0, as by libzmq.
func TestBindWildcardIPv4(t *testing.T) {
	for _, ep := range []string{"tcp://*:*", "tcp://*:0"} {
		pull := newSock(t, Pull, Options{})
		if err := pull.Bind(ep); err != nil {
			t.Fatal(err)
		}
		got := pull.LastEndpoint()
		port := portOf(t, got)
		if got != "tcp://0.0.0.0:"+port || port == "0" {
			t.Fatalf("Bind(%q): LastEndpoint %q, want tcp://0.0.0.0:PORT", ep, got)
		}
		push := newSock(t, Push, Options{})
		if err := push.Connect("tcp://127.0.0.1:" + port); err != nil {
			t.Fatal(err)
		}
		send(t, push, "v4")
		if got := recv(t, pull); got[0] != "v4" {
			t.Fatalf("got %q", got)
		}
		if err := pull.Unbind(got); err != nil {
			t.Errorf("Unbind(%q): %v", got, err)
		}
	}
}

func TestBindLastEndpointForms(t *testing.T) {
	s := newSock(t, Pull, Options{})
	for _, tt := range []struct{ ep, prefix string }{
		{"tcp://127.0.0.1:*", "tcp://127.0.0.1:"},
		{"tcp://[127.0.0.1]:*", "tcp://127.0.0.1:"},
		{"tcp://[::ffff:127.0.0.1]:*", "tcp://127.0.0.1:"},
	} {
		if err := s.Bind(tt.ep); err != nil {
			t.Fatal(err)
		}
		got := s.LastEndpoint()
		if !strings.HasPrefix(got, tt.prefix) || portOf(t, got) == "0" {
			t.Errorf("Bind(%q): LastEndpoint %q, want %sPORT", tt.ep, got, tt.prefix)
		}
	}
}

// TestBindInterfaceName checks that Bind takes a network interface name
// for its first IPv4 address.
func TestBindInterfaceName(t *testing.T) {
	lo, loAddr := loopback(t)
	pull := newSock(t, Pull, Options{})
	if err := pull.Bind("tcp://" + lo + ":*"); err != nil {
		t.Fatal(err)
	}
	got := pull.LastEndpoint()
	port := portOf(t, got)
	if got != "tcp://"+loAddr.String()+":"+port {
		t.Fatalf("LastEndpoint %q, want tcp://%s:PORT", got, loAddr)
	}
	push := newSock(t, Push, Options{})
	if err := push.Connect(got); err != nil {
		t.Fatal(err)
	}
	send(t, push, "by name")
	if got := recv(t, pull); got[0] != "by name" {
		t.Fatalf("got %q", got)
	}
	if err := pull.Unbind("tcp://" + lo + ":*"); err != nil {
		t.Errorf("Unbind by the name given to Bind: %v", err)
	}
}

// TestConnectSource checks libzmq's "source;host:port" form: the
// connection comes from the source address and port.
func TestConnectSource(t *testing.T) {
	lo, loAddr := loopback(t)
	ln, err := net.Listen("tcp4", loAddr.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A free port to connect from.
	free, err := net.Listen("tcp4", loAddr.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	srcPort := free.Addr().(*net.TCPAddr).Port
	free.Close()

	for _, tt := range []struct {
		source string
		port   int // 0 for any
	}{
		{loAddr.String() + ":" + strconv.Itoa(srcPort), srcPort},
		{lo + ":*", 0},
	} {
		s := newSock(t, Dealer, Options{})
		if err := s.Connect("tcp://" + tt.source + ";" + ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		ra := nc.RemoteAddr().(*net.TCPAddr)
		s.Close()
		nc.Close()
		if ap := ra.AddrPort(); ap.Addr().Unmap() != loAddr || tt.port != 0 && int(ap.Port()) != tt.port {
			t.Errorf("source %s: connection from %v", tt.source, ra)
		}
	}
}
