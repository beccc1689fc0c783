package frame_test

import (
	"bytes"
	"fmt"

	"github.com/zmtp-go/zmtp/frame"
)

// A Reader can leave the bodies it returned where it read them, for the
// caller to keep without copying.
func ExampleReader_KeepViews() {
	var stream []byte
	for _, s := range []string{"one", "two", "three"} {
		stream = frame.AppendFrame(stream, 0, []byte(s))
	}
	r := frame.NewReader(bytes.NewReader(stream), 1<<20)
	var kept [][]byte
	for {
		f, err := r.ReadFrame()
		if err != nil {
			break
		}
		r.KeepViews() // f.Body stays valid after the next call
		kept = append(kept, f.Body)
	}
	fmt.Printf("%s\n", kept)
	// Output:
	// [one two three]
}
