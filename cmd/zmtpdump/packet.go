package main

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// segment is one TCP segment taken from a captured packet.
type segment struct {
	ts        time.Time
	src, dst  netip.AddrPort
	seq, ack  uint32
	syn, fin  bool
	rst, ackf bool
	payload   []byte
	// lost is the number of payload octets the capture did not keep (a
	// snap length shorter than the packet).
	lost int
}

var (
	errNotTCP = errors.New("not a TCP packet")
	// errCutHeaders reports a packet whose headers the capture's snap
	// length cut: its segment cannot be used.
	errCutHeaders = errors.New("headers cut by the snap length")
	// errLinkType reports a link type this program cannot decode.
	errLinkType = errors.New("unsupported link type")
)

// supportedLink reports whether parsePacket decodes link type lt.
func supportedLink(lt layers.LinkType) bool {
	switch lt {
	case layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
		layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeRaw, linkTypeIPv4, linkTypeIPv6, 12, 14:
		return true
	}
	return false
}

// Link types read besides those named in gopacket's layers.
const (
	linkTypeIPv4 = 228
	linkTypeIPv6 = 229
)

// parsePacket extracts the TCP segment of a captured packet. wireLen is
// the packet's length on the wire, to count octets the capture cut off.
func parsePacket(lt layers.LinkType, data []byte, wireLen int) (segment, error) {
	var s segment
	cut := max(wireLen-len(data), 0)
	// short is the error for headers that end before they should.
	short := func() error {
		if cut > 0 {
			return errCutHeaders
		}
		return errNotTCP
	}
	var etype uint16
	switch lt {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return s, short()
		}
		etype, data = binary.BigEndian.Uint16(data[12:]), data[14:]
		for etype == 0x8100 || etype == 0x88A8 || etype == 0x9100 {
			// VLAN tags.
			if len(data) < 4 {
				return s, short()
			}
			etype, data = binary.BigEndian.Uint16(data[2:]), data[4:]
		}
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return s, short()
		}
		etype, data = binary.BigEndian.Uint16(data[14:]), data[16:]
	case layers.LinkTypeLinuxSLL2:
		if len(data) < 20 {
			return s, short()
		}
		etype, data = binary.BigEndian.Uint16(data[0:]), data[20:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return s, errNotTCP
		}
		fam := binary.LittleEndian.Uint32(data)
		if lt == layers.LinkTypeLoop || fam > 0xFFFF {
			fam = binary.BigEndian.Uint32(data)
		}
		switch fam {
		case 2:
			etype = 0x0800
		case 10, 24, 28, 30:
			etype = 0x86DD
		default:
			return s, errNotTCP
		}
		data = data[4:]
	case layers.LinkTypeRaw, linkTypeIPv4, linkTypeIPv6, 12, 14:
		if len(data) < 1 {
			return s, errNotTCP
		}
		switch data[0] >> 4 {
		case 4:
			etype = 0x0800
		case 6:
			etype = 0x86DD
		default:
			return s, errNotTCP
		}
	default:
		return s, errLinkType
	}
	var tcp []byte
	var srcIP, dstIP netip.Addr
	switch etype {
	case 0x0800:
		if len(data) < 20 {
			return s, short()
		}
		if data[0]>>4 != 4 {
			return s, errNotTCP
		}
		ihl := int(data[0]&0x0F) * 4
		total := int(binary.BigEndian.Uint16(data[2:]))
		if data[9] != 6 || ihl < 20 {
			return s, errNotTCP
		}
		if len(data) < ihl {
			return s, short()
		}
		if frag := binary.BigEndian.Uint16(data[6:]); frag&0x3FFF != 0 {
			return s, errors.New("IP fragment")
		}
		srcIP = netip.AddrFrom4([4]byte(data[12:16]))
		dstIP = netip.AddrFrom4([4]byte(data[16:20]))
		if total == 0 {
			// Segmentation offload: the length is what was captured.
			total = len(data) + cut
		}
		if total < ihl {
			return s, errNotTCP
		}
		if total <= len(data) {
			data, cut = data[:total], 0
		} else {
			cut = total - len(data)
		}
		tcp = data[ihl:]
	case 0x86DD:
		if len(data) < 40 {
			return s, short()
		}
		if data[0]>>4 != 6 {
			return s, errNotTCP
		}
		plen := int(binary.BigEndian.Uint16(data[4:]))
		next := data[6]
		srcIP = netip.AddrFrom16([16]byte(data[8:24]))
		dstIP = netip.AddrFrom16([16]byte(data[24:40]))
		if plen == 0 {
			plen = len(data) - 40 + cut
		}
		if 40+plen <= len(data) {
			data, cut = data[:40+plen], 0
		} else {
			cut = 40 + plen - len(data)
		}
		data = data[40:]
		// Extension headers: hop-by-hop, routing, destination options.
		for next == 0 || next == 43 || next == 60 {
			if len(data) < 8 {
				return s, short()
			}
			n := 8 + int(data[1])*8
			if len(data) < n {
				return s, short()
			}
			next, data = data[0], data[n:]
		}
		if next != 6 {
			return s, errNotTCP
		}
		tcp = data
	default:
		return s, errNotTCP
	}
	if len(tcp) < 20 {
		return s, short()
	}
	off := int(tcp[12]>>4) * 4
	if off < 20 {
		return s, errNotTCP
	}
	if len(tcp) < off {
		return s, short()
	}
	flags := tcp[13]
	s.src = netip.AddrPortFrom(srcIP.Unmap(), binary.BigEndian.Uint16(tcp[0:]))
	s.dst = netip.AddrPortFrom(dstIP.Unmap(), binary.BigEndian.Uint16(tcp[2:]))
	s.seq = binary.BigEndian.Uint32(tcp[4:])
	s.ack = binary.BigEndian.Uint32(tcp[8:])
	s.fin = flags&0x01 != 0
	s.syn = flags&0x02 != 0
	s.rst = flags&0x04 != 0
	s.ackf = flags&0x10 != 0
	s.payload = tcp[off:]
	s.lost = cut
	return s, nil
}
