package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/zmtp-go/zmtp/dump"
)

// proxy accepts connections on one endpoint, connects each to another
// endpoint, relays the octets untouched in both directions, decodes both
// and, optionally, records them as a pcap file.
type proxy struct {
	ln   net.Listener // nil when connections are handed to relayConn
	dial func() (net.Conn, error)
	out  *printer
	opts dump.Options
	sink *pcapSink // nil when not recording
	// wsPath, for a ws:// listen endpoint, is its path: the proxy relays
	// the TCP connection, the upgrade included.
	wsPath string

	// Guarded by out.mu.
	active map[net.Conn]struct{}
	closed bool

	wg sync.WaitGroup
}

// parseEndpoint splits "tcp://host:port", "ws://host:port/path" or
// "ipc://path" into a network and an address. A port of "*" means any
// free port. A ws endpoint is relayed as the TCP connection it is: its
// path travels in the client's upgrade request.
func parseEndpoint(ep string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(ep, "ws://"):
		hp, _, _ := strings.Cut(strings.TrimPrefix(ep, "ws://"), "/")
		return parseEndpoint("tcp://" + hp)
	case strings.HasPrefix(ep, "tcp://"):
		addr = strings.TrimPrefix(ep, "tcp://")
		if strings.HasSuffix(addr, ":*") {
			addr = strings.TrimSuffix(addr, "*") + "0"
		}
		return "tcp", addr, nil
	case strings.HasPrefix(ep, "ipc://"):
		return "unix", strings.TrimPrefix(ep, "ipc://"), nil
	}
	return "", "", fmt.Errorf("endpoint %q: want tcp://host:port, ws://host:port/path or ipc://path", ep)
}

// newProxy listens on listen and will relay to forward.
func newProxy(listen, forward string, out *printer, opts dump.Options, sink *pcapSink) (*proxy, error) {
	lnet, laddr, err := parseEndpoint(listen)
	if err != nil {
		return nil, err
	}
	fnet, faddr, err := parseEndpoint(forward)
	if err != nil {
		return nil, err
	}
	if lnet == "unix" {
		// A socket file left by an earlier run would make Listen fail.
		if fi, err := os.Stat(laddr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(laddr)
		}
	}
	ln, err := net.Listen(lnet, laddr)
	if err != nil {
		return nil, err
	}
	p := newRelay(func() (net.Conn, error) { return net.DialTimeout(fnet, faddr, 5*time.Second) }, out, opts, sink)
	p.ln = ln
	if rest, ok := strings.CutPrefix(listen, "ws://"); ok {
		p.wsPath = "/"
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			p.wsPath = rest[i:]
		}
	}
	return p, nil
}

// newRelay returns a proxy without a listener: it relays the connections
// handed to relayConn to those dial returns.
func newRelay(dial func() (net.Conn, error), out *printer, opts dump.Options, sink *pcapSink) *proxy {
	return &proxy{dial: dial, out: out, opts: opts, sink: sink, active: make(map[net.Conn]struct{})}
}

// endpoint returns the endpoint the proxy listens on.
func (p *proxy) endpoint() string {
	if p.ln.Addr().Network() == "unix" {
		return "ipc://" + p.ln.Addr().String()
	}
	if p.wsPath != "" {
		return "ws://" + p.ln.Addr().String() + p.wsPath
	}
	return "tcp://" + p.ln.Addr().String()
}

// serve accepts connections until close is called.
func (p *proxy) serve() {
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.relayConn(nc)
	}
}

// relayConn relays nc, an accepted connection, in the background.
func (p *proxy) relayConn(nc net.Conn) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.relay(nc)
	}()
}

// idle reports whether no connection is being relayed.
func (p *proxy) idle() bool {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return len(p.active) == 0
}

// close stops accepting, resets the connections still relayed and waits
// for their goroutines.
func (p *proxy) close() {
	if p.ln != nil {
		p.ln.Close()
	}
	p.out.mu.Lock()
	p.closed = true
	for nc := range p.active {
		nc.Close()
	}
	p.out.mu.Unlock()
	p.wg.Wait()
}

// track adds or removes a connection to close on close.
func (p *proxy) track(nc net.Conn, on bool) bool {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	if on {
		if p.closed {
			return false
		}
		p.active[nc] = struct{}{}
	} else {
		delete(p.active, nc)
	}
	return true
}

// relay serves one accepted connection.
func (p *proxy) relay(cc net.Conn) {
	defer cc.Close()
	if !p.track(cc, true) {
		return
	}
	defer p.track(cc, false)
	sc, err := p.dial()
	if err != nil {
		fmt.Fprintf(os.Stderr, "zmtpdump: %v\n", err)
		return
	}
	defer sc.Close()
	if !p.track(sc, true) {
		return
	}
	defer p.track(sc, false)

	p.out.mu.Lock()
	p.out.nextID++
	id := p.out.nextID
	client := endpointAddr(cc.RemoteAddr(), netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 2}), uint16(40000+id%20000)))
	server := endpointAddr(sc.RemoteAddr(), netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 5555))
	if client.Addr().Is4() != server.Addr().Is4() {
		client = netip.AddrPortFrom(netip.AddrFrom16(client.Addr().As16()), client.Port())
		server = netip.AddrPortFrom(netip.AddrFrom16(server.Addr().As16()), server.Port())
	}
	dc := dump.NewConn(id, unmapped(client), unmapped(server), p.opts, p.out.emit)
	p.out.track(dc)
	p.out.now = time.Now()
	if p.sink != nil {
		p.sink.open(id, client, server, p.out.now)
	}
	dc.Open()
	p.out.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.pump(id, dc, dump.FromClient, cc, sc)
	}()
	go func() {
		defer wg.Done()
		p.pump(id, dc, dump.FromServer, sc, cc)
	}()
	wg.Wait()
}

// pump relays one direction: each read is recorded and decoded, then
// written on. The end of the source is passed on as a half-close; an error
// resets both sides.
func (p *proxy) pump(id int, dc *dump.Conn, dir dump.Dir, src, dst net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.out.mu.Lock()
			p.out.now = time.Now()
			if p.sink != nil {
				p.sink.data(id, dir, buf[:n], p.out.now)
			}
			dc.Feed(dir, buf[:n])
			p.out.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil && err == nil {
				err = werr
			}
		}
		if err == nil {
			continue
		}
		p.out.mu.Lock()
		p.out.now = time.Now()
		if errors.Is(err, io.EOF) {
			if p.sink != nil {
				p.sink.fin(id, dir, p.out.now)
			}
			dc.Close(dir)
		} else if !dc.Ended() {
			if p.sink != nil {
				p.sink.rst(id, dir, p.out.now)
			}
			dc.Reset(dir)
		}
		p.out.mu.Unlock()
		if errors.Is(err, io.EOF) {
			closeWrite(dst)
		} else {
			src.Close()
			dst.Close()
		}
		return
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// endpointAddr returns a TCP address as an AddrPort, or def for others.
func endpointAddr(a net.Addr, def netip.AddrPort) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return def
}

func unmapped(a netip.AddrPort) string {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()).String()
}
