package dump

import (
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// TestDraftSocketTypes: the draft types of RFC 41, 49, 51 and 52 show in
// READY and label the messages that follow, a message starting with 0x01
// included (no subscription outside PUB/SUB).
func TestDraftSocketTypes(t *testing.T) {
	for _, pair := range [][2]string{
		{frame.SocketClient, frame.SocketServer},
		{frame.SocketScatter, frame.SocketGather},
		{frame.SocketPeer, frame.SocketPeer},
		{frame.SocketChannel, frame.SocketChannel},
	} {
		var evs []Event
		c := NewConn(1, "10.0.0.1:40000", "10.0.0.2:5555", Options{}, func(ev Event) { evs = append(evs, ev) })
		ready := func(st string) []byte {
			return frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte(st)}})
		}
		c.Feed(FromClient, cat(greeting31, ready(pair[0])))
		c.Feed(FromServer, cat(greeting31, ready(pair[1])))
		c.Feed(FromClient, frame.AppendFrame(nil, 0, []byte("\x01job")))
		c.Close(FromClient)
		c.Close(FromServer)
		wantSummaries(t, evs[:5],
			"greeting ZMTP 3.1 NULL",
			`READY Socket-Type="`+pair[0]+`"`,
			"greeting ZMTP 3.1 NULL",
			`READY Socket-Type="`+pair[1]+`"`,
			`message 4 octets: 0x016a6f62`,
		)
		if m := evs[4]; m.SrcType != pair[0] || m.DstType != pair[1] {
			t.Errorf("message labelled %s>%s, want %s>%s", m.SrcType, m.DstType, pair[0], pair[1])
		}
	}
}
