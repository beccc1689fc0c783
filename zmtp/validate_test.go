package zmtp

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/zmtp-go/zmtp/mechanism"
)

// TestMechanismValidated checks that NewSocket and NewConn refuse, at the
// call, a mechanism configuration that no handshake could use.
func TestMechanismValidated(t *testing.T) {
	_, sec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		m    mechanism.Mechanism
		want error // nil when accepted
	}{
		{"CURVE client without keys", mechanism.Curve{}, mechanism.ErrCurveKeys},
		{"CURVE client without server key", mechanism.Curve{SecretKey: sec}, mechanism.ErrCurveKeys},
		{"CURVE server without secret key", mechanism.Curve{Server: true}, mechanism.ErrCurveKeys},
		{"CURVE server", mechanism.Curve{Server: true, SecretKey: sec}, nil},
		{"PLAIN client with a long user name", mechanism.Plain{Username: strings.Repeat("u", 256)}, mechanism.ErrPlainCredentials},
		{"PLAIN client without user name", mechanism.Plain{Password: "p"}, nil},
		{"NULL", mechanism.Null{}, nil},
	}
	for _, tt := range tests {
		s, err := NewSocket(Dealer, Options{Mechanism: tt.m})
		if s != nil {
			s.Close()
		}
		if tt.want == nil && err != nil || tt.want != nil && (!errors.Is(err, tt.want) || s != nil) {
			t.Errorf("%s: NewSocket = %v, %v; want error %v", tt.name, s, err, tt.want)
		}
		if tt.want == nil {
			continue
		}
		a, b := net.Pipe()
		c, err := NewConn(context.Background(), a, ConnConfig{SocketType: "DEALER", Mechanism: tt.m})
		if !errors.Is(err, tt.want) || c != nil {
			t.Errorf("%s: NewConn = %v, %v; want error %v", tt.name, c, err, tt.want)
		}
		// The connection was closed without a greeting.
		if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("%s: peer read %d, %v; want EOF", tt.name, n, err)
		}
		b.Close()
	}
}
