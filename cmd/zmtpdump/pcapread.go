package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// capPacket is one packet read from a capture file.
type capPacket struct {
	num     int   // from 1
	off     int64 // file offset of its record or block
	ts      time.Time
	data    []byte
	wireLen int
	lt      layers.LinkType
	snapLen int // of its interface, 0 when unknown
}

// maxRecord bounds a packet record: larger lengths are invalid.
const maxRecord = 256 << 20

// fileReader reads pcap and pcapng files, keeping the file offset of each
// record for error messages.
type fileReader struct {
	r   *bufio.Reader
	off int64
	num int
	ng  bool
	// pcap
	bo      binary.ByteOrder
	nanos   bool
	lt      layers.LinkType
	snapLen int
	// pcapng: the interfaces of the current section
	ifaces []ngIface
}

type ngIface struct {
	lt      layers.LinkType
	snapLen int
	// resolution: units per second are 10^exp or 2^exp.
	pow2   bool
	exp    uint8
	offset int64 // seconds added to every timestamp
}

// capError is an error in a capture file, at a packet and file offset.
type capError struct {
	num int   // packet number, 0 for the file header
	off int64 // file offset
	msg string
}

func (e *capError) Error() string {
	if e.num == 0 {
		return fmt.Sprintf("at file offset %d: %s", e.off, e.msg)
	}
	return fmt.Sprintf("packet %d at file offset %d: %s", e.num, e.off, e.msg)
}

func newFileReader(r io.Reader) (*fileReader, error) {
	f := &fileReader{r: bufio.NewReaderSize(r, 64<<10)}
	hdr, err := f.r.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) && len(hdr) == 0 {
			return nil, errors.New("reading capture header: empty file")
		}
		return nil, fmt.Errorf("reading capture header: %d of 4 octets: file cut short", len(hdr))
	}
	if binary.LittleEndian.Uint32(hdr) == pcapngMagic {
		f.ng = true
		return f, nil
	}
	b := make([]byte, 24)
	n, err := io.ReadFull(f.r, b)
	if err != nil {
		return nil, fmt.Errorf("reading pcap file header: %d of 24 octets: file cut short", n)
	}
	f.off = 24
	switch {
	case binary.LittleEndian.Uint32(b) == 0xa1b2c3d4:
		f.bo = binary.LittleEndian
	case binary.BigEndian.Uint32(b) == 0xa1b2c3d4:
		f.bo = binary.BigEndian
	case binary.LittleEndian.Uint32(b) == 0xa1b23c4d:
		f.bo, f.nanos = binary.LittleEndian, true
	case binary.BigEndian.Uint32(b) == 0xa1b23c4d:
		f.bo, f.nanos = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("not a pcap or pcapng file (magic number 0x%08x)", binary.BigEndian.Uint32(b))
	}
	f.snapLen = int(f.bo.Uint32(b[16:]))
	f.lt = layers.LinkType(f.bo.Uint32(b[20:]) & 0xFFFF)
	return f, nil
}

// readAtOnce is the largest record read into memory of its declared size
// before its octets are there.
const readAtOnce = 256 << 10

// read reads n octets at the current offset; short tells how many
// were there when the file ends first.
func (f *fileReader) read(n int) ([]byte, int, error) {
	var b []byte
	var k int
	var err error
	if n <= readAtOnce {
		b = make([]byte, n)
		k, err = io.ReadFull(f.r, b)
	} else {
		// A length from the file is trusted no further than the octets
		// that follow it: memory grows with what is read, so a cut or
		// garbled file costs no more than it holds.
		var buf bytes.Buffer
		var m int64
		m, err = io.CopyN(&buf, f.r, int64(n))
		b, k = buf.Bytes(), int(m)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	}
	f.off += int64(k)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return b[:k], k, io.ErrUnexpectedEOF
		}
		return nil, k, err
	}
	return b, k, nil
}

// next returns the next packet, or io.EOF at the end of the file.
func (f *fileReader) next() (capPacket, error) {
	if f.ng {
		return f.nextNg()
	}
	start := f.off
	num := f.num + 1
	if _, err := f.r.Peek(1); errors.Is(err, io.EOF) {
		return capPacket{}, io.EOF
	}
	h, k, err := f.read(16)
	if err != nil {
		return capPacket{}, f.cut(num, start, err, fmt.Sprintf("record header cut short (%d of 16 octets)", k))
	}
	incl := f.bo.Uint32(h[8:])
	orig := f.bo.Uint32(h[12:])
	if incl > maxRecord {
		return capPacket{}, &capError{num, start, fmt.Sprintf("invalid captured length %d", incl)}
	}
	data, k, err := f.read(int(incl))
	if err != nil {
		return capPacket{}, f.cut(num, start, err, fmt.Sprintf("packet data cut short (%d of %d octets)", k, incl))
	}
	f.num = num
	frac := int64(f.bo.Uint32(h[4:]))
	if !f.nanos {
		frac *= 1000
	}
	return capPacket{num: num, off: start, ts: time.Unix(int64(f.bo.Uint32(h)), frac).UTC(),
		data: data, wireLen: int(orig), lt: f.lt, snapLen: f.snapLen}, nil
}

func (f *fileReader) cut(num int, off int64, err error, msg string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &capError{num, off, msg + ": file cut short"}
	}
	return &capError{num, off, err.Error()}
}

// pcapng block types.
const (
	ngSHB = 0x0A0D0D0A
	ngIDB = 1
	ngOPB = 2 // obsolete packet block
	ngSPB = 3
	ngEPB = 6
)

// nextNg reads pcapng blocks until a packet.
func (f *fileReader) nextNg() (capPacket, error) {
	for {
		start := f.off
		num := f.num + 1
		if _, err := f.r.Peek(1); errors.Is(err, io.EOF) {
			return capPacket{}, io.EOF
		}
		h, k, err := f.read(8)
		if err != nil {
			return capPacket{}, f.cut(0, start, err, fmt.Sprintf("block header cut short (%d of 8 octets)", k))
		}
		if binary.LittleEndian.Uint32(h) == ngSHB {
			// The byte order follows in the body.
			bom, k, err := f.read(4)
			if err != nil {
				return capPacket{}, f.cut(0, start, err, fmt.Sprintf("section header cut short (%d of 12 octets)", 8+k))
			}
			switch {
			case binary.LittleEndian.Uint32(bom) == 0x1A2B3C4D:
				f.bo = binary.LittleEndian
			case binary.BigEndian.Uint32(bom) == 0x1A2B3C4D:
				f.bo = binary.BigEndian
			default:
				return capPacket{}, &capError{0, start, fmt.Sprintf("section header: invalid byte-order magic 0x%08x", binary.BigEndian.Uint32(bom))}
			}
			f.ifaces = f.ifaces[:0]
			n := f.bo.Uint32(h[4:])
			if err := f.checkLen(0, start, n, 28); err != nil {
				return capPacket{}, err
			}
			if _, err := f.body(0, start, n, 12); err != nil {
				return capPacket{}, err
			}
			continue
		}
		if f.bo == nil {
			return capPacket{}, &capError{0, start, "pcapng file without a section header"}
		}
		typ, n := f.bo.Uint32(h), f.bo.Uint32(h[4:])
		min := uint32(12)
		switch typ {
		case ngIDB:
			min = 20
		case ngEPB:
			min = 32
		case ngOPB:
			min = 32
		case ngSPB:
			min = 16
		}
		if err := f.checkLen(num, start, n, min); err != nil {
			if typ != ngEPB && typ != ngOPB && typ != ngSPB {
				err.(*capError).num = 0
			}
			return capPacket{}, err
		}
		switch typ {
		case ngIDB:
			b, err := f.body(0, start, n, 8)
			if err != nil {
				return capPacket{}, err
			}
			f.ifaces = append(f.ifaces, parseIDB(b, f.bo))
		case ngEPB, ngOPB, ngSPB:
			b, err := f.body(num, start, n, 8)
			if err != nil {
				return capPacket{}, err
			}
			p, err := f.packetBlock(typ, b, num, start)
			if err != nil {
				return capPacket{}, err
			}
			f.num = num
			return p, nil
		default:
			if _, err := f.body(0, start, n, 8); err != nil {
				return capPacket{}, err
			}
		}
	}
}

// checkLen validates a block's total length.
func (f *fileReader) checkLen(num int, off int64, n, min uint32) error {
	if n < min || n%4 != 0 || n > maxRecord {
		return &capError{num, off, fmt.Sprintf("invalid pcapng block length %d", n)}
	}
	return nil
}

// body reads the rest of a block of total length n, of which done octets
// were read, checks the trailing length and returns the body without it.
func (f *fileReader) body(num int, off int64, n uint32, done int) ([]byte, error) {
	rest := int(n) - done
	b, k, err := f.read(rest)
	if err != nil {
		return nil, f.cut(num, off, err, fmt.Sprintf("block cut short (%d of %d octets)", done+k, n))
	}
	if t := f.bo.Uint32(b[rest-4:]); t != n {
		return nil, &capError{num, off, fmt.Sprintf("invalid pcapng block length: %d at the start, %d at the end", n, t)}
	}
	return b[:rest-4], nil
}

func parseIDB(b []byte, bo binary.ByteOrder) ngIface {
	ifc := ngIface{lt: layers.LinkType(bo.Uint16(b)), snapLen: int(bo.Uint32(b[4:])), exp: 6}
	opts := b[8:]
	for len(opts) >= 4 {
		code, l := bo.Uint16(opts), int(bo.Uint16(opts[2:]))
		opts = opts[4:]
		if code == 0 || l > len(opts) {
			break
		}
		v := opts[:l]
		switch {
		case code == 9 && l >= 1:
			ifc.pow2, ifc.exp = v[0]&0x80 != 0, v[0]&0x7F
		case code == 14 && l >= 8:
			ifc.offset = int64(bo.Uint64(v))
		}
		opts = opts[(l+3)&^3:]
	}
	return ifc
}

// packetBlock decodes an enhanced, simple or obsolete packet block body.
func (f *fileReader) packetBlock(typ uint32, b []byte, num int, off int64) (capPacket, error) {
	p := capPacket{num: num, off: off}
	var ifIdx int
	var tsHi, tsLo uint32
	var capLen int
	switch typ {
	case ngEPB:
		ifIdx = int(f.bo.Uint32(b))
		tsHi, tsLo = f.bo.Uint32(b[4:]), f.bo.Uint32(b[8:])
		capLen, p.wireLen = int(f.bo.Uint32(b[12:])), int(f.bo.Uint32(b[16:]))
		b = b[20:]
	case ngOPB:
		ifIdx = int(f.bo.Uint16(b))
		tsHi, tsLo = f.bo.Uint32(b[4:]), f.bo.Uint32(b[8:])
		capLen, p.wireLen = int(f.bo.Uint32(b[12:])), int(f.bo.Uint32(b[16:]))
		b = b[20:]
	case ngSPB:
		p.wireLen = int(f.bo.Uint32(b))
		b = b[4:]
		capLen = min(p.wireLen, len(b))
		if len(f.ifaces) > 0 && f.ifaces[0].snapLen > 0 {
			capLen = min(capLen, f.ifaces[0].snapLen)
		}
	}
	if ifIdx >= len(f.ifaces) {
		return p, &capError{num, off, fmt.Sprintf("packet on interface %d, of which there is no description", ifIdx)}
	}
	if capLen > len(b) {
		return p, &capError{num, off, fmt.Sprintf("invalid captured length %d in a block of %d data octets", capLen, len(b))}
	}
	ifc := f.ifaces[ifIdx]
	p.data, p.lt, p.snapLen = b[:capLen], ifc.lt, ifc.snapLen
	if typ != ngSPB {
		p.ts = ngTime(uint64(tsHi)<<32|uint64(tsLo), ifc)
	}
	return p, nil
}

// ngTime converts a timestamp in an interface's units.
func ngTime(t uint64, ifc ngIface) time.Time {
	var sec, ns int64
	if ifc.pow2 {
		e := uint(min(ifc.exp, 63))
		sec = int64(t >> e)
		frac := t & (1<<e - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		if e > 0 {
			ns = int64(hi<<(64-e) | lo>>e)
		}
	} else {
		u := uint64(1)
		for i := uint8(0); i < ifc.exp && i < 19; i++ {
			u *= 10
		}
		sec = int64(t / u)
		frac := t % u
		hi, lo := bits.Mul64(frac, 1e9)
		q, _ := bits.Div64(hi, lo, u)
		ns = int64(q)
	}
	return time.Unix(sec+ifc.offset, ns).UTC()
}
