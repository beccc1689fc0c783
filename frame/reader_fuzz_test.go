package frame_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// cutReader returns data in chunks whose sizes come from cuts: a cut c
// below 128 gives c+1 octets, above it (c-127)*64, so reads are sometimes
// tiny, sometimes larger than the buffers of FuzzReaderBuffers.
type cutReader struct {
	data []byte
	cuts []byte
	i    int
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if len(r.cuts) > 0 {
		c := int(r.cuts[r.i%len(r.cuts)])
		r.i++
		if c < 128 {
			n = min(n, c+1)
		} else {
			n = min(n, (c-127)<<6)
		}
	}
	n = copy(p[:n], r.data)
	r.data = r.data[n:]
	return n, nil
}

// FuzzReaderBuffers reads a stream through two Readers with a 2 KiB read
// buffer (so that inputs stay small) fed in chunks of fuzzed sizes, one frame from each in turn, so that they move between
// their small and full-size buffers and pass full-size buffers to each
// other through the pool; one of them also calls Release every few
// frames. A third hands large bodies over, reading each into the memory
// of the one before it (SetBodyMemory). All must read exactly what a
// Reader reading all at once reads.
func FuzzReaderBuffers(f *testing.F) {
	var mixed []byte
	for _, size := range []int{0, 1, 300, 511, 512, 513, 1500, 2048, 2049, 5000, 700} {
		mixed = frame.AppendFrame(mixed, frame.FlagMore, bytes.Repeat([]byte{byte(size)}, size))
	}
	f.Add(mixed, []byte{200}, uint8(0))
	f.Add(mixed, []byte{5, 140, 100, 255, 0}, uint8(1))
	f.Add(mixed, []byte{127, 128, 3}, uint8(3))
	f.Add(append(frame.AppendHeader(nil, 0, 5000), "short"...), []byte{10}, uint8(2))
	const bufSize = 2 << 10
	f.Fuzz(func(t *testing.T, data, cuts []byte, every uint8) {
		want, wantErr := readAll(frame.NewReaderSize(bytes.NewReader(data), 1<<20, len(data)))
		readers := []*frame.Reader{
			frame.NewReaderSize(&cutReader{data: data, cuts: cuts}, 1<<20, bufSize),
			frame.NewReaderSize(&cutReader{data: data, cuts: cuts[min(1, len(cuts)):]}, 1<<20, bufSize),
			frame.NewReaderSize(&cutReader{data: data, cuts: cuts[min(2, len(cuts)):]}, 1<<20, bufSize),
		}
		var given []byte // the last body handed over by readers[2]
		readers[2].SetHandOver(true)
		readers[2].SetBodyMemory(func(int) []byte { return given })
		errs := make([]error, len(readers))
		for i := 0; ; i++ {
			var bodies [][]byte
			var handed []byte
			for k, r := range readers {
				if errs[k] != nil {
					continue
				}
				if k == 1 && every > 0 && i%int(every) == 0 {
					r.Release()
				}
				fr, err := r.ReadFrame()
				if err != nil {
					errs[k] = err
					continue
				}
				if i >= len(want) || fr.Flags != want[i].Flags || !bytes.Equal(fr.Body, want[i].Body) {
					t.Fatalf("reader %d, frame %d: flags %#x, %d octets; want %d frames", k, i, fr.Flags, len(fr.Body), len(want))
				}
				bodies = append(bodies, fr.Body)
				if fr.Owned {
					handed = fr.Body
				}
			}
			// Each Reader's latest view is intact while the other reads.
			for _, b := range bodies {
				if !bytes.Equal(b, want[i].Body) {
					t.Fatalf("frame %d changed while the other Readers read", i)
				}
			}
			if handed != nil {
				given = handed
			}
			if errs[0] != nil && errs[1] != nil && errs[2] != nil {
				break
			}
		}
		for k, err := range errs {
			if err != wantErr {
				t.Errorf("reader %d: %v, want %v", k, err, wantErr)
			}
		}
	})
}
