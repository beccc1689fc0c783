package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapngMagic is the block type of a pcapng section header.
const pcapngMagic = 0x0A0D0D0A

// readCapture decodes a pcap or pcapng file (either byte order,
// microsecond or nanosecond timestamps) from r.
func readCapture(r io.Reader, a *assembler) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("reading capture header: %w", err)
	}
	var next func() ([]byte, int, layers.LinkType, error)
	if binary.LittleEndian.Uint32(magic) == pcapngMagic {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return err
		}
		next = func() ([]byte, int, layers.LinkType, error) {
			data, ci, err := ng.ReadPacketData()
			if err != nil {
				return nil, 0, 0, err
			}
			lt := ng.LinkType()
			if iface, err := ng.Interface(ci.InterfaceIndex); err == nil {
				lt = iface.LinkType
			}
			a.out.now = ci.Timestamp
			return data, ci.Length, lt, nil
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return err
		}
		lt := pr.LinkType()
		next = func() ([]byte, int, layers.LinkType, error) {
			data, ci, err := pr.ReadPacketData()
			if err != nil {
				return nil, 0, 0, err
			}
			a.out.now = ci.Timestamp
			return data, ci.Length, lt, nil
		}
	}
	for {
		data, wireLen, lt, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A file cut short: decode what was read.
			a.finish()
			return fmt.Errorf("reading capture: %w", err)
		}
		seg, err := parsePacket(lt, data, wireLen)
		if err != nil {
			continue
		}
		seg.ts = a.out.now
		a.add(seg)
	}
	a.finish()
	return nil
}

// liveCapture decodes the traffic of a network interface (AF_PACKET, Linux
// only, needs CAP_NET_RAW) until ctx is done. When save is not nil, the
// packets are also written to it as a pcap file. When ready is not nil, it
// is called once the interface is open: every packet sent from then on is
// captured.
func liveCapture(ctx context.Context, iface string, a *assembler, save io.Writer, ready func()) error {
	h, err := openLive(iface)
	if err != nil {
		return err
	}
	var pw *pcapgo.Writer
	if save != nil {
		pw = pcapgo.NewWriterNanos(save)
		if err := pw.WriteFileHeader(pcapSnapLen, layers.LinkTypeEthernet); err != nil {
			h.Close()
			return err
		}
	}
	if ready != nil {
		ready()
	}
	stop := context.AfterFunc(ctx, func() { h.Close() })
	defer stop()
	for {
		data, ci, err := h.ReadPacketData()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			h.Close()
			a.finish()
			return err
		}
		if pw != nil {
			if err := pw.WritePacket(ci, data); err != nil {
				h.Close()
				a.finish()
				return err
			}
		}
		seg, err := parsePacket(layers.LinkTypeEthernet, data, ci.Length)
		if err != nil {
			continue
		}
		seg.ts = ci.Timestamp
		a.add(seg)
	}
	a.finish()
	return nil
}
