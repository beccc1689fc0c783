package main

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/zmtp-go/zmtp/dump"
)

// byteOrder reads and appends.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ngBlock builds a pcapng block in byte order bo.
func ngBlock(bo byteOrder, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := bo.AppendUint32(nil, typ)
	b = bo.AppendUint32(b, n)
	b = append(b, body...)
	return bo.AppendUint32(b, n)
}

// TestPcapngResolutions reads pcapng files in both byte orders whose
// interfaces give their own timestamp resolution (nanoseconds, 2^-20 s)
// and offset, and simple packet blocks.
func TestPcapngResolutions(t *testing.T) {
	ps := sessionPkts(50)
	frames := make([][]byte, len(ps))
	for i, p := range ps {
		frames[i] = linkFrame(layers.LinkTypeEthernet, ipPacket(t, p, false), false)
	}
	for _, bo := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, res := range []struct {
			opt    byte
			perSec uint64 // ticks per second
		}{{9, 1e9}, {0x80 | 20, 1 << 20}} {
			shb := bo.AppendUint32(nil, 0x1A2B3C4D)
			shb = bo.AppendUint16(shb, 1)
			shb = bo.AppendUint16(shb, 0)
			shb = bo.AppendUint64(shb, ^uint64(0))
			file := ngBlock(bo, ngSHB, shb)
			idb := bo.AppendUint16(nil, uint16(layers.LinkTypeEthernet))
			idb = bo.AppendUint16(idb, 0)
			idb = bo.AppendUint32(idb, 0)
			idb = bo.AppendUint16(idb, 9)
			idb = bo.AppendUint16(idb, 1)
			idb = append(idb, res.opt, 0, 0, 0)
			idb = bo.AppendUint16(idb, 14) // if_tsoffset: 100 s
			idb = bo.AppendUint16(idb, 8)
			idb = bo.AppendUint64(idb, 100)
			idb = append(idb, 0, 0, 0, 0) // opt_endofopt
			file = append(file, ngBlock(bo, ngIDB, idb)...)
			for i, f := range frames {
				if i == 1 {
					// A simple packet block: no timestamp.
					file = append(file, ngBlock(bo, ngSPB, append(bo.AppendUint32(nil, uint32(len(f))), f...))...)
					continue
				}
				ticks := 1_700_000_000*res.perSec + uint64(i)
				epb := bo.AppendUint32(nil, 0)
				epb = bo.AppendUint32(epb, uint32(ticks>>32))
				epb = bo.AppendUint32(epb, uint32(ticks))
				epb = bo.AppendUint32(epb, uint32(len(f)))
				epb = bo.AppendUint32(epb, uint32(len(f)))
				file = append(file, ngBlock(bo, ngEPB, append(epb, f...))...)
			}
			evs, got := decodeCapture(t, file, dump.Options{})
			wantLines(t, got, sessionText)
			want := time.Unix(1_700_000_100, 0)
			if d := evs[0].Time.Sub(want); d < 0 || d > time.Microsecond {
				t.Errorf("%v, resolution 0x%02x: first time %v, want %v", bo, res.opt, evs[0].Time, want)
			}
			f, err := newFileReader(bytes.NewReader(file))
			must(t, err)
			for i := 0; i < 3; i++ {
				p, err := f.next()
				must(t, err)
				if p.num != i+1 || len(p.data) != len(frames[i]) {
					t.Errorf("packet %d: number %d, %d octets", i+1, p.num, len(p.data))
				}
			}
		}
	}
}
