package main

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/zmtp-go/zmtp/dump"
)

const (
	pcapSnapLen = 262144
	// maxSegment is the largest payload put in one synthesised packet.
	maxSegment = 32 << 10
)

// pcapSink writes relayed traffic as a pcap file of synthesised
// Ethernet/IP/TCP packets: a three-way handshake, data segments with
// consistent sequence and acknowledgement numbers, and FIN or RST, so that
// the file reads back with -r and in other tools. It is not safe for
// concurrent use.
type pcapSink struct {
	bw    *bufio.Writer
	w     *pcapgo.Writer
	conns map[int]*sinkConn
	buf   gopacket.SerializeBuffer
	err   error
}

type sinkConn struct {
	addr   [2]netip.AddrPort
	next   [2]uint32 // next sequence number sent by each direction
	closed [2]bool
	reset  bool
}

var (
	macClient = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	macServer = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

func newPcapSink(w io.Writer) (*pcapSink, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(pcapSnapLen, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &pcapSink{bw: bw, w: pw, conns: make(map[int]*sinkConn), buf: gopacket.NewSerializeBuffer()}, nil
}

// open writes the three-way handshake of connection id.
func (s *pcapSink) open(id int, client, server netip.AddrPort, ts time.Time) {
	c := &sinkConn{addr: [2]netip.AddrPort{client, server}}
	// Initial sequence numbers, fixed so that files are reproducible.
	c.next[0] = 0x10000000 + uint32(id)<<16
	c.next[1] = 0x20000000 + uint32(id)<<16
	s.conns[id] = c
	s.packet(c, dump.FromClient, ts, tcpFlags{syn: true}, nil)
	c.next[0]++
	s.packet(c, dump.FromServer, ts, tcpFlags{syn: true, ack: true}, nil)
	c.next[1]++
	s.packet(c, dump.FromClient, ts, tcpFlags{ack: true}, nil)
}

// data writes octets sent in direction dir.
func (s *pcapSink) data(id int, dir dump.Dir, b []byte, ts time.Time) {
	c := s.conns[id]
	if c == nil || c.closed[dir] || c.reset {
		return
	}
	for len(b) > 0 {
		n := min(len(b), maxSegment)
		s.packet(c, dir, ts, tcpFlags{ack: true, psh: true}, b[:n])
		c.next[dir] += uint32(n)
		b = b[n:]
	}
}

// fin writes the end of direction dir.
func (s *pcapSink) fin(id int, dir dump.Dir, ts time.Time) {
	c := s.conns[id]
	if c == nil || c.closed[dir] || c.reset {
		return
	}
	s.packet(c, dir, ts, tcpFlags{fin: true, ack: true}, nil)
	c.next[dir]++
	c.closed[dir] = true
	// The peer acknowledges the FIN.
	s.packet(c, dir.Other(), ts, tcpFlags{ack: true}, nil)
	if c.closed[dir.Other()] {
		delete(s.conns, id)
	}
}

// rst writes a reset sent in direction dir.
func (s *pcapSink) rst(id int, dir dump.Dir, ts time.Time) {
	c := s.conns[id]
	if c == nil || c.reset {
		return
	}
	c.reset = true
	s.packet(c, dir, ts, tcpFlags{rst: true, ack: true}, nil)
	delete(s.conns, id)
}

type tcpFlags struct{ syn, ack, psh, fin, rst bool }

func (s *pcapSink) packet(c *sinkConn, dir dump.Dir, ts time.Time, f tcpFlags, payload []byte) {
	if s.err != nil {
		return
	}
	src, dst := c.addr[dir], c.addr[dir.Other()]
	eth := &layers.Ethernet{SrcMAC: macClient, DstMAC: macServer}
	if dir == dump.FromServer {
		eth.SrcMAC, eth.DstMAC = macServer, macClient
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()),
		DstPort: layers.TCPPort(dst.Port()),
		Seq:     c.next[dir],
		SYN:     f.syn, ACK: f.ack, PSH: f.psh, FIN: f.fin, RST: f.rst,
		Window: 65535,
	}
	if f.ack {
		tcp.Ack = c.next[dir.Other()]
	}
	var netLayer gopacket.SerializableLayer
	if src.Addr().Is4() && dst.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(), Flags: layers.IPv4DontFragment}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		netLayer = ip
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		s16, d16 := src.Addr().As16(), dst.Addr().As16()
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: s16[:], DstIP: d16[:]}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		netLayer = ip
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(s.buf, opts, eth, netLayer, tcp, gopacket.Payload(payload)); err != nil {
		s.err = err
		return
	}
	b := s.buf.Bytes()
	s.err = s.w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b)
}

// close flushes the file and returns the first error.
func (s *pcapSink) close() error {
	if err := s.bw.Flush(); s.err == nil {
		s.err = err
	}
	return s.err
}
