package zmtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// ErrInvalidEndpoint matches (with errors.Is) the error of a Bind or
// Connect refused because of its endpoint: malformed, of an unknown
// transport, or naming nothing that could ever be bound or reached. Such a
// call changes nothing on the socket.
var ErrInvalidEndpoint = errors.New("zmtp: invalid endpoint")

// InvalidEndpointError reports an endpoint that Bind or Connect refuses. It
// matches ErrInvalidEndpoint.
type InvalidEndpointError struct {
	Endpoint string // the endpoint, as given
	Reason   string // what is wrong with it
}

// Error names the endpoint and the reason.
func (e *InvalidEndpointError) Error() string {
	return "zmtp: invalid endpoint " + strconv.Quote(e.Endpoint) + ": " + e.Reason
}

// Unwrap returns ErrInvalidEndpoint.
func (e *InvalidEndpointError) Unwrap() error { return ErrInvalidEndpoint }

// The tcp address forms, as libzmq accepts them (with ZMQ_IPV6 off, its
// default, except that IPv6 literals are always allowed):
//
// Bind takes host:port, where host is "*" (every IPv4 interface,
// 0.0.0.0), an IP literal (IPv6 in brackets) or the name of a network
// interface, which stands for its first IPv4 address. Host names are not
// looked up. The port is a number, or "*" or 0 for an ephemeral port.
//
// Connect takes host:port, where host is an IP literal or a host name
// (looked up at each connection attempt) and port a number from 1 to
// 65535, optionally preceded by a source address to connect from:
// "source:port;host:port", the source written as for Bind (an interface
// name or an IP literal, not "*") with its port (0 or "*" for any).

// resolveTCP turns a tcp address (the part after "tcp://") into the network
// and address for net.Listen (bind) or net.Dial. It refuses with an
// *InvalidEndpointError what libzmq refuses, and also, for Connect, the addresses
// that libzmq accepts at the call but can never reach (an empty host, port
// 0, a port that is not a number from 1 to 65535).
func resolveTCP(addr string, bind bool) (network, hostport string, err error) {
	bad := func(reason string) (string, string, error) {
		return "", "", &InvalidEndpointError{Endpoint: "tcp://" + addr, Reason: reason}
	}
	if strings.Contains(addr, ";") {
		if bind {
			return bad("a source address (source;host:port) is for Connect only")
		}
		return bad("more than one source address")
	}
	host, port, ip, reason := splitTCP(addr)
	if reason != "" {
		return bad(reason)
	}
	var n int
	switch {
	case port == "*" && bind:
	case port == "*":
		return bad("port * is for Bind only")
	default:
		var ok bool
		if n, ok = parsePort(port); !ok {
			return bad("port " + strconv.Quote(port) + " is not a number from 0 to 65535")
		}
		if n == 0 && !bind {
			return bad("cannot connect to port 0")
		}
	}
	switch {
	case host == "":
		if bind {
			return bad("no host (* binds every interface)")
		}
		return bad("no host")
	case host == "*":
		if !bind {
			return bad("host * is for Bind only")
		}
		return "tcp4", netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(n)).String(), nil
	case ip.IsValid():
		if !bind {
			return "tcp", netip.AddrPortFrom(ip, uint16(n)).String(), nil
		}
		if ip.Is4() {
			return "tcp4", netip.AddrPortFrom(ip, uint16(n)).String(), nil
		}
		// "tcp": [::] takes IPv4 connections too, as libzmq's does.
		return "tcp", netip.AddrPortFrom(ip, uint16(n)).String(), nil
	case bind:
		a, reason := interfaceAddr(host)
		if reason != "" {
			return bad(reason)
		}
		return "tcp4", netip.AddrPortFrom(a, uint16(n)).String(), nil
	case !validHostname(host):
		return bad("host " + strconv.Quote(host) + " is not an IP address or a host name")
	}
	return "tcp", net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// resolveTCPDial is resolveTCP for Connect, which also takes libzmq's
// "source;host:port" form. local is the address to connect from, nil
// when there is no source.
func resolveTCPDial(addr string) (network, hostport string, local net.Addr, err error) {
	source, dest, hasSource := strings.Cut(addr, ";")
	if !hasSource {
		network, hostport, err = resolveTCP(addr, false)
		return network, hostport, nil, err
	}
	bad := func(reason string) (string, string, net.Addr, error) {
		return "", "", nil, &InvalidEndpointError{Endpoint: "tcp://" + addr, Reason: reason}
	}
	if network, hostport, err = resolveTCP(dest, false); err != nil {
		return bad(err.(*InvalidEndpointError).Reason)
	}
	if host, _, _, _ := splitTCP(source); host == "*" {
		return bad("source * is not an address (use 0.0.0.0)")
	}
	_, src, err := resolveTCP(source, true)
	if err != nil {
		return bad("source: " + err.(*InvalidEndpointError).Reason)
	}
	ap := netip.MustParseAddrPort(src)
	dst, _ := netip.ParseAddrPort(hostport)
	if dst.IsValid() && dst.Addr().Unmap().Is4() != ap.Addr().Is4() {
		return bad("the source and the host are of different address families")
	}
	return network, hostport, net.TCPAddrFromAddrPort(ap), nil
}

// splitTCP splits host:port, the host possibly an IPv6 literal in
// brackets or, as libzmq allows, without them (the port follows the last
// colon). ip is the host's address when it is an IP literal (an IPv4 one
// when it is IPv4-mapped). reason is not empty when addr is malformed.
func splitTCP(addr string) (host, port string, ip netip.Addr, reason string) {
	if rest, ok := strings.CutPrefix(addr, "["); ok {
		h, p, ok := strings.Cut(rest, "]")
		if !ok {
			return "", "", ip, "missing ]"
		}
		if p, ok = strings.CutPrefix(p, ":"); !ok {
			return "", "", ip, "no :port after ]"
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			return "", "", ip, "[" + h + "] is not an IP address"
		}
		return h, p, a.Unmap(), ""
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", ip, "no :port"
	}
	host, port = addr[:i], addr[i+1:]
	if a, err := netip.ParseAddr(host); err == nil {
		ip = a.Unmap()
	} else if strings.Contains(host, ":") {
		return "", "", ip, "host " + strconv.Quote(host) + " is not an IP address"
	}
	return host, port, ip, ""
}

// parsePort parses a decimal port number from 0 to 65535.
func parsePort(s string) (int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return int(n), err == nil
}

// interfaceAddr returns the first IPv4 address of the network interface
// with that name, as libzmq binds an interface name. reason is not empty
// when there is no such interface or it has no IPv4 address.
func interfaceAddr(name string) (a netip.Addr, reason string) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return a, strconv.Quote(name) + " is neither an IP address nor a network interface (Bind does not look up host names)"
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return a, "interface " + name + ": " + err.Error()
	}
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok {
			if ip4 := n.IP.To4(); ip4 != nil {
				return netip.AddrFrom4([4]byte(ip4)), ""
			}
		}
	}
	return a, "interface " + name + " has no IPv4 address"
}

// validHostname reports whether s is made of the characters of a host
// name: ASCII letters, digits, '-', '.' and '_'.
func validHostname(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return s != ""
}

// checkIPC refuses, as libzmq refuses with ENAMETOOLONG, an ipc path that
// does not fit in a Unix socket address with its terminating zero: such
// an endpoint can never be bound or reached.
func checkIPC(path string) error {
	if max := len(syscall.RawSockaddrUnix{}.Path) - 1; len(path) > max {
		return &InvalidEndpointError{Endpoint: "ipc://" + path, Reason: fmt.Sprintf("an ipc path is at most %d octets", max)}
	}
	return nil
}
