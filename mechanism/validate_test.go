package mechanism

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	cpub, csec := testKeyPair(t, 1)
	spub, ssec := testKeyPair(t, 2)
	long := strings.Repeat("u", 256)
	tests := []struct {
		name string
		m    Mechanism
		want error // nil when valid
	}{
		{"nil", nil, nil},
		{"NULL", Null{}, nil},
		{"NULL with a domain only", Null{Domain: "d"}, nil},
		{"PLAIN client", Plain{Username: "u", Password: "p"}, nil},
		{"PLAIN client with an empty user name", Plain{Password: "p"}, nil},
		{"PLAIN client without credentials", Plain{}, nil},
		{"PLAIN client with 255-octet credentials", Plain{Username: long[:255], Password: long[:255]}, nil},
		{"PLAIN client with a long user name", Plain{Username: long}, ErrPlainCredentials},
		{"PLAIN client with a long password", &Plain{Password: long}, ErrPlainCredentials},
		{"PLAIN server", Plain{Server: true}, nil},
		{"CURVE client", Curve{SecretKey: csec, ServerKey: spub}, nil},
		{"CURVE client with its public key", Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub}, nil},
		{"CURVE client without keys", Curve{}, ErrCurveKeys},
		{"CURVE client without server key", Curve{SecretKey: csec}, ErrCurveKeys},
		{"CURVE client without secret key", Curve{PublicKey: cpub, ServerKey: spub}, ErrCurveKeys},
		{"CURVE client with another public key", Curve{PublicKey: spub, SecretKey: csec, ServerKey: spub}, ErrCurveKeys},
		{"CURVE server", Curve{Server: true, SecretKey: ssec}, nil},
		{"CURVE server without keys", Curve{Server: true}, ErrCurveKeys},
		{"CURVE server with a public key only", &Curve{Server: true, PublicKey: spub}, ErrCurveKeys},
		{"custom mechanism", custom{}, nil},
	}
	for _, tt := range tests {
		err := Validate(tt.m)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: Validate = %v, want %v", tt.name, err, tt.want)
		}
		// NewHandshake fails the same way.
		if tt.m != nil {
			_, err := tt.m.NewHandshake(testParams(Dealer, ""))
			if tt.want != nil && !errors.Is(err, tt.want) || tt.want == nil && err != nil {
				t.Errorf("%s: NewHandshake error %v, want %v", tt.name, err, tt.want)
			}
		}
	}
}

// custom is a Mechanism without a Validate method.
type custom struct{ Null }

func (custom) Validate() {} // not a Validator: another signature
