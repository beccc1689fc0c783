package frame_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// wire builds bytes from the notation of the specification notes: hex
// octets ("04 29"), quoted ASCII ('READY') and repeated octets ("00*8").
// It panics on a malformed literal, which is a mistake in the test itself.
func wire(s string) []byte {
	var out []byte
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '\'' {
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				panic("wire: unterminated quote in " + strconv.Quote(s))
			}
			out = append(out, s[1:1+end]...)
			s = s[2+end:]
			continue
		}
		tok, rest, _ := strings.Cut(s, " ")
		s = rest
		hex, count, repeated := strings.Cut(tok, "*")
		v, err := strconv.ParseUint(hex, 16, 8)
		if err != nil || len(hex) != 2 {
			panic(fmt.Sprintf("wire: bad octet %q", tok))
		}
		n := 1
		if repeated {
			if n, err = strconv.Atoi(count); err != nil || n < 0 {
				panic(fmt.Sprintf("wire: bad repeat %q", tok))
			}
		}
		out = append(out, bytes.Repeat([]byte{byte(v)}, n)...)
	}
	return out
}

// g31 is a valid ZMTP 3.1 greeting with the NULL mechanism.
const g31 = "FF 00*8 7F 03 01 'NULL' 00*16 00 00*31"

// readyDealer is RFC 23's example READY from a DEALER with an empty
// Identity.
const readyDealer = "04 29 05 'READY' 0B 'Socket-Type' 00 00 00 06 'DEALER' 08 'Identity' 00 00 00 00"

// chunkReader returns its chunks one per Read call (each cut to the
// caller's buffer), then io.EOF.
type chunkReader struct{ chunks [][]byte }

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.chunks) > 0 && len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	return n, nil
}

// strictReader returns data once and then reports an error: a Reader that
// asks for more than data has read further than it should.
type strictReader struct {
	data  []byte
	reads int
}

var errReadTooFar = errors.New("read past the data the test allows")

func (r *strictReader) Read(p []byte) (int, error) {
	r.reads++
	if len(r.data) == 0 {
		return 0, errReadTooFar
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// cycleReader returns the same encoded stream over and over, never
// ending. It is the source of the decoding benchmarks.
type cycleReader struct {
	data []byte
	pos  int
}

func (r *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.pos:])
		n += c
		r.pos += c
		if r.pos == len(r.data) {
			r.pos = 0
		}
	}
	return n, nil
}

// vectorChunkReader is a chunkReader that is also a frame.VectorReader:
// each call, Read or ReadVector, returns octets of one chunk only, as a
// socket returns what has arrived. It counts its calls.
type vectorChunkReader struct {
	chunkReader
	reads, vectorReads int
}

func (r *vectorChunkReader) Read(p []byte) (int, error) {
	r.reads++
	return r.chunkReader.Read(p)
}

func (r *vectorChunkReader) ReadVector(a, b []byte) (int, error) {
	r.vectorReads++
	n, err := r.chunkReader.Read(a)
	if n == len(a) && len(r.chunks) > 0 {
		m, _ := r.chunkReader.Read(b)
		n += m
	}
	return n, err
}
