package zmtp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/zmtp-go/zmtp/frame"
	"golang.org/x/net/ipv4"
)

// The udp transport carries RADIO messages to DISHes as libzmq does: one
// datagram per message (frame.AppendDatagram), no handshake, no JOIN: a
// RADIO sends every message to its udp destinations and the DISH filters
// by its groups. A DISH binds (udp://*:port, udp://ip:port, or a multicast
// group udp://239.1.2.3:port, which it joins), a RADIO connects
// (udp://host:port, or a group). libzmq's "iface;group:port" names the
// interface of a multicast group: "*", an IP address of the interface,
// or its name. As in libzmq, multicast is sent with a TTL of 1 and looped
// back to the sending host unless Options say otherwise (MulticastHops,
// MulticastNoLoop).

// udpAddr is a udp endpoint, resolved.
type udpAddr struct {
	target    netip.AddrPort // the DISH's address or group; where a RADIO sends
	iface     *net.Interface // the interface named by "iface;", or nil for the system's choice
	ifaceAddr netip.Addr     // the interface's address, when named by one
	multicast bool
}

// udpIncompatible is the error of a udp endpoint on a socket type that
// has no datagram framing, as libzmq's ENOCOMPATPROTO.
func udpIncompatible(ep string) error {
	return &InvalidEndpointError{Endpoint: ep, Reason: "udp is for a DISH's Bind and a RADIO's Connect"}
}

// resolveUDP parses the address of a udp endpoint (after "udp://") for
// Bind (bind) or Connect.
func resolveUDP(ep, addr string, bind bool) (udpAddr, error) {
	var ua udpAddr
	bad := func(reason string) (udpAddr, error) {
		return udpAddr{}, &InvalidEndpointError{Endpoint: ep, Reason: reason}
	}
	src, dest, hasSrc := "", addr, false
	if i := strings.LastIndexByte(addr, ';'); i >= 0 {
		src, dest, hasSrc = addr[:i], addr[i+1:], true
	}
	host, port, ip, reason := splitTCP(dest)
	if reason != "" {
		return bad(reason)
	}
	n, ok := parsePort(port)
	switch {
	case port == "*" && bind:
		n, ok = 0, true
	case !ok:
		return bad("port " + strconv.Quote(port) + " is not a number from 0 to 65535")
	case n == 0 && !bind:
		return bad("cannot send to port 0")
	}
	switch {
	case host == "*" && bind:
		ip = netip.IPv4Unspecified()
	case ip.IsValid():
	case host == "":
		return bad("no host")
	case bind:
		a, reason := interfaceAddr(host)
		if reason != "" {
			return bad(reason)
		}
		ip = a
	default:
		if !validHostname(host) {
			return bad("host " + strconv.Quote(host) + " is not an IP address or a host name")
		}
		ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip4", host)
		if err != nil || len(ips) == 0 {
			return bad("host " + strconv.Quote(host) + " not found")
		}
		ip = ips[0].Unmap()
	}
	ua.target = netip.AddrPortFrom(ip, uint16(n))
	ua.multicast = ip.IsMulticast()
	if ua.multicast && !ip.Is4() {
		return bad("IPv6 multicast is not supported")
	}
	if !hasSrc {
		return ua, nil
	}
	if !ua.multicast {
		return bad("an interface (iface;group:port) is for a multicast group only")
	}
	if src == "*" {
		return ua, nil
	}
	var err error
	if a, perr := netip.ParseAddr(src); perr == nil {
		if a.IsMulticast() {
			return bad("the interface cannot be a multicast address")
		}
		ua.ifaceAddr = a.Unmap()
		ua.iface, err = interfaceWith(ua.ifaceAddr)
	} else {
		ua.iface, err = net.InterfaceByName(src)
	}
	if err != nil {
		return bad("interface " + strconv.Quote(src) + ": " + err.Error())
	}
	return ua, nil
}

// interfaceWith returns the network interface that has address a.
func interfaceWith(a netip.Addr) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, _ := ifs[i].Addrs()
		for _, ad := range addrs {
			if n, ok := ad.(*net.IPNet); ok {
				if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, errors.New("no interface has this address")
}

// bindUDP is Bind of a udp endpoint on a DISH: every datagram received
// there is a message from a RADIO.
func (s *Socket) bindUDP(ep, addr string) error {
	if s.typ != Dish {
		return udpIncompatible(ep)
	}
	ua, err := resolveUDP(ep, addr, true)
	if err != nil {
		return err
	}
	local := ua.target
	if ua.multicast {
		// As libzmq: the port on every address, the group joined below.
		local = netip.AddrPortFrom(netip.IPv4Unspecified(), ua.target.Port())
	}
	network := "udp4"
	if !local.Addr().Is4() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: udpReuse(ua.multicast)}
	pc, err := lc.ListenPacket(s.ctx, network, local.String())
	if err != nil {
		s.emit(Event{Type: EventBindFailed, Endpoint: ep, Err: err})
		return err
	}
	uc := pc.(*net.UDPConn)
	port := uc.LocalAddr().(*net.UDPAddr).Port
	e := &endpoint{s: s, bound: true, udp: uc, done: make(chan struct{}), conns: map[*Conn]struct{}{}}
	if ua.multicast {
		if err := ipv4.NewPacketConn(uc).JoinGroup(ua.iface, &net.UDPAddr{IP: ua.target.Addr().AsSlice()}); err != nil {
			uc.Close()
			s.emit(Event{Type: EventBindFailed, Endpoint: ep, Err: err})
			return err
		}
		src := ""
		if i := strings.LastIndexByte(addr, ';'); i >= 0 {
			src = addr[:i+1]
		}
		e.addr = "udp://" + src + netip.AddrPortFrom(ua.target.Addr(), uint16(port)).String()
	} else {
		e.addr = "udp://" + uc.LocalAddr().String()
	}
	p := newPipe(s)
	p.datagram = true
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		uc.Close()
		return ErrClosed
	}
	s.endpoints[e.addr] = e
	s.lastEndpoint = e.addr
	if e.addr != ep {
		s.aliases[ep] = e.addr
	}
	s.mu.Unlock()
	s.attach(p)
	s.emit(Event{Type: EventListening, Endpoint: e.addr})
	ctx, cancel := context.WithCancel(s.ctx)
	e.cancel = func() { cancel(); uc.Close() }
	s.wg.Add(1)
	go e.readDatagrams(ctx, uc, p)
	return nil
}

// readDatagrams queues each well-formed datagram received on uc as a
// message of p until the endpoint closes. A malformed datagram (see
// frame.ParseDatagram) is ignored, as is one whose body is larger than
// MaxMessageSize; one that finds the queue full is dropped (counted in
// Dropped).
func (e *endpoint) readDatagrams(ctx context.Context, uc *net.UDPConn, p *pipe) {
	s := e.s
	defer s.wg.Done()
	defer close(e.done)
	defer func() {
		p.gone.Store(true)
		s.pipeGone(p)
	}()
	buf := make([]byte, 64<<10)
	for {
		n, _, err := uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.emit(Event{Type: EventDisconnected, Endpoint: e.addr, Err: err})
			}
			return
		}
		group, body, err := frame.ParseDatagram(buf[:n])
		if err != nil {
			continue
		}
		if max := s.options().MaxMessageSize; max > 0 && int64(len(body)) > max {
			continue
		}
		m := make([]byte, len(group)+len(body))
		copy(m[copy(m, group):], body)
		if !p.in.push([][]byte{m[:len(group):len(group)], m[len(group):]}) {
			s.dropped.Add(1)
		}
	}
}

// connectUDP is Connect to a udp endpoint on a RADIO: every message sent
// is a datagram to it. The destination is routable at once and always
// (there is no connection to wait for); datagrams that find no DISH are
// lost, as udp loses them.
func (s *Socket) connectUDP(ep, addr string) error {
	if s.typ != Radio {
		return udpIncompatible(ep)
	}
	ua, err := resolveUDP(ep, addr, false)
	if err != nil {
		return err
	}
	network := "udp4"
	if !ua.target.Addr().Is4() {
		network = "udp6"
	}
	uc, err := net.ListenUDP(network, nil)
	if err != nil {
		return err
	}
	if ua.multicast {
		o := s.options()
		pc := ipv4.NewPacketConn(uc)
		err = errors.Join(pc.SetMulticastTTL(max(o.MulticastHops, 1)), pc.SetMulticastLoopback(!o.MulticastNoLoop))
		if ua.iface != nil {
			err = errors.Join(err, pc.SetMulticastInterface(ua.iface))
		}
		if err != nil {
			uc.Close()
			return err
		}
	}
	e := &endpoint{s: s, addr: ep, udp: uc, done: make(chan struct{}), conns: map[*Conn]struct{}{}}
	p := newPipe(s)
	p.datagram, p.dialed = true, true
	p.outReady = make(chan struct{}, 1)
	e.pipe = p
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		uc.Close()
		return ErrClosed
	}
	if _, dup := s.endpoints[ep]; dup {
		s.mu.Unlock()
		uc.Close()
		return errors.New("zmtp: already connected to " + ep)
	}
	s.endpoints[ep] = e
	s.mu.Unlock()
	s.attach(p)
	s.emit(Event{Type: EventConnected, Endpoint: ep, Remote: ua.target.String()})
	ctx, cancel := context.WithCancel(s.ctx)
	e.cancel = func() { cancel(); uc.Close() }
	s.wg.Add(1)
	go e.writeDatagrams(ctx, uc, ua.target, p)
	return nil
}

// writeDatagrams sends the messages queued on p as datagrams to dest
// until the endpoint closes. A message whose datagram would be larger
// than frame.MaxDatagramSize, which libzmq would receive cut short, is
// dropped (counted in Dropped); so is one the system refuses to send.
func (e *endpoint) writeDatagrams(ctx context.Context, uc *net.UDPConn, dest netip.AddrPort, p *pipe) {
	s := e.s
	defer s.wg.Done()
	defer close(e.done)
	defer func() {
		p.gone.Store(true)
		s.pipeGone(p)
	}()
	buf := make([]byte, 0, frame.MaxDatagramSize)
	var batch [][][]byte
	for {
		batch = p.out.take(batch[:0], 64)
		if len(batch) == 0 {
			select {
			case <-p.outReady:
				continue
			case <-ctx.Done():
				return
			}
		}
		for i, m := range batch {
			batch[i] = nil
			if 1+len(m[0])+len(m[1]) > frame.MaxDatagramSize {
				s.dropped.Add(1)
				continue
			}
			buf = frame.AppendDatagram(buf[:0], m[0], m[1])
			if _, err := uc.WriteToUDPAddrPort(buf, dest); err != nil {
				if ctx.Err() != nil {
					p.out.release(len(batch))
					return
				}
				s.dropped.Add(1)
			}
		}
		p.out.release(len(batch))
	}
}
