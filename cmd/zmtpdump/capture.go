package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapngMagic is the block type of a pcapng section header.
const pcapngMagic = ngSHB

// readCapture decodes a pcap or pcapng file (either byte order,
// microsecond or nanosecond timestamps) from r. Packets on an unsupported
// link type make an error, and packets whose TCP headers the snap length
// cut make a warning (to a.warn); an error in the file is reported with
// the number and file offset of the packet, after what came before it
// was decoded.
func readCapture(r io.Reader, a *assembler) error {
	f, err := newFileReader(r)
	if err != nil {
		return err
	}
	if !f.ng && !supportedLink(f.lt) {
		return fmt.Errorf("link type %d (%s) not supported: no packet decoded", f.lt, f.lt)
	}
	var st captureStats
	first := true
	for a.limit == 0 || a.pkt < a.limit {
		p, err := f.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A file cut short: decode what was read.
			a.finish()
			st.report(a, true)
			return fmt.Errorf("reading capture: %w", err)
		}
		a.pkt = p.num
		if first {
			a.out.start(p.ts)
			first = false
		}
		seg, err := parsePacket(p.lt, p.data, p.wireLen)
		if err != nil {
			st.note(p, err)
			continue
		}
		seg.ts = p.ts
		a.add(seg)
	}
	a.finish()
	if st.linkType > 0 && st.linkType == a.pkt {
		return fmt.Errorf("link type %d (%s) not supported: no packet decoded", st.firstLT, st.firstLT)
	}
	st.report(a, false)
	if st.cut > 0 {
		return st.cutError()
	}
	return nil
}

// captureStats counts packets that could not be used.
type captureStats struct {
	cut, firstCut, snapLen int // packets whose headers were cut; the first; its snap length
	linkType               int // packets on unsupported link types
	firstLT                layers.LinkType
}

func (st *captureStats) note(p capPacket, err error) {
	switch {
	case errors.Is(err, errCutHeaders):
		if st.cut == 0 {
			st.firstCut, st.snapLen = p.num, p.snapLen
		}
		st.cut++
	case errors.Is(err, errLinkType):
		if st.linkType == 0 {
			st.firstLT = p.lt
		}
		st.linkType++
	}
}

// cutError reports the packets whose headers were cut.
func (st *captureStats) cutError() error {
	return fmt.Errorf("%d packets (the first is packet %d) were cut by the snap length (%d) inside their headers: their TCP segments are lost", st.cut, st.firstCut, st.snapLen)
}

// report warns about packets on unsupported link types among others and,
// with cut, about packets whose headers were cut.
func (st *captureStats) report(a *assembler, cut bool) {
	if a.warn == nil {
		return
	}
	if cut && st.cut > 0 {
		a.warn(st.cutError().Error())
	}
	if st.linkType > 0 && st.linkType < a.pkt {
		a.warn(fmt.Sprintf("%d packets on link type %d (%s), which is not supported, were skipped", st.linkType, st.firstLT, st.firstLT))
	}
}

// liveHandle reads the frames of a network interface.
type liveHandle interface {
	// ReadPacketData waits for the next frame.
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	// interrupt makes a waiting or later ReadPacketData fail; it may be
	// called from any goroutine.
	interrupt()
	// drops returns the number of frames the kernel dropped since the
	// previous call.
	drops() (int, error)
	Close() error
}

// liveCapture decodes the traffic of a network interface (AF_PACKET, Linux
// only, needs CAP_NET_RAW) until ctx is done, passing only TCP segments on
// a.port to the decoder when it is set. When save is not nil, the packets
// are also written to it as a pcap file. When ready is not nil, it is
// called once the interface is open: every packet sent from then on is
// captured, even while ready runs, unless the kernel's buffer overflows.
// Packets the kernel dropped are reported through a.warn at the end: the
// capture misses them.
func liveCapture(ctx context.Context, iface string, a *assembler, save io.Writer, ready func()) error {
	h, err := openLive(iface, a.port)
	if err != nil {
		return err
	}
	defer h.Close()
	var pw *pcapgo.Writer
	if save != nil {
		pw = pcapgo.NewWriterNanos(save)
		if err := pw.WriteFileHeader(pcapSnapLen, layers.LinkTypeEthernet); err != nil {
			return err
		}
	}
	if ready != nil {
		ready()
	}
	stop := context.AfterFunc(ctx, h.interrupt)
	err = readLive(ctx, h, a, pw)
	stop()
	a.finish()
	n, derr := h.drops()
	if a.warn != nil {
		switch {
		case derr != nil:
			a.warn(derr.Error())
		case n > 0:
			a.warn(fmt.Sprintf("%d packets dropped by the kernel: the capture misses them", n))
		}
	}
	return err
}

// readLive decodes the packets of h, and saves them to pw when it is not
// nil, until ctx is done or a.limit packets were read.
func readLive(ctx context.Context, h liveHandle, a *assembler, pw *pcapgo.Writer) error {
	for a.limit == 0 || a.pkt < a.limit {
		data, ci, err := h.ReadPacketData()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if pw != nil {
			if err := pw.WritePacket(ci, data); err != nil {
				return err
			}
		}
		a.pkt++
		if a.pkt == 1 {
			a.out.start(ci.Timestamp)
		}
		seg, err := parsePacket(layers.LinkTypeEthernet, data, ci.Length)
		if err != nil {
			continue
		}
		seg.ts = ci.Timestamp
		a.add(seg)
	}
	return nil
}
