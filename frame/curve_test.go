package frame

import "testing"

// TestCurveLayouts: each command, its name included, is as long as RFC 25
// and RFC 26 say (the least for those of variable length).
func TestCurveLayouts(t *testing.T) {
	for _, c := range []struct {
		name string
		data int
		want int
	}{
		{CmdHello, CurveHelloSize, 200},
		{CmdWelcome, CurveWelcomeSize, 168},
		{CmdInitiate, CurveInitiateMinSize, 257},
		{CmdReady, CurveReadyMinSize, 30},
		{CmdMessage, CurveMessageMinSize, 33},
	} {
		if got := 1 + len(c.name) + c.data; got != c.want {
			t.Errorf("%s: %d octets, RFC says %d", c.name, got, c.want)
		}
	}
	if CurveHelloNonceOffset+CurveShortNonceSize+CurveBoxOverhead+CurveHelloSignature != CurveHelloSize {
		t.Error("HELLO's fields do not fill it")
	}
}

func TestParseLibzmqError(t *testing.T) {
	for _, c := range []struct {
		body   string
		reason string
		ok     bool
	}{
		{"\x5eRROR\x03400", "400", true},
		{"\x5eRROR\x00", "", true},
		{"\x5eRROR\x04400", "", false}, // length past the end
		{"\x5eRROR\x02400", "", false}, // octets after the reason
		{"\x5eRROR", "", false},
		{"\x05ERROR\x03400", "", false}, // a well-formed ERROR
		{"", "", false},
	} {
		reason, ok := ParseLibzmqError([]byte(c.body))
		if reason != c.reason || ok != c.ok {
			t.Errorf("ParseLibzmqError(%q) = %q, %v", c.body, reason, ok)
		}
		if _, err := ParseCommand([]byte(c.body)); c.ok && err == nil {
			t.Errorf("ParseCommand(%q) accepted libzmq's malformed ERROR", c.body)
		}
	}
}
