package gssapi

import (
	"fmt"
	"os"
	"strings"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// NameType says how a principal name is written, as libzmq's
// ZMQ_GSSAPI_PRINCIPAL_NAMETYPE and ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE
// do; the values are libzmq's. The zero value is HostBased, libzmq's
// default.
type NameType int

const (
	// HostBased is "service@host" (GSS_C_NT_HOSTBASED_SERVICE), the
	// Kerberos principal "service/host" in the realm krb5.conf maps host
	// to; "service" alone means the local host name.
	HostBased NameType = 0
	// UserName is "user" or "user@REALM" (GSS_C_NT_USER_NAME), parsed as a
	// Kerberos principal name.
	UserName NameType = 1
	// KerberosPrincipal is "primary/instance@REALM"
	// (GSS_KRB5_NT_PRINCIPAL_NAME); the realm may be left out.
	KerberosPrincipal NameType = 2
)

// String returns the libzmq name of t.
func (t NameType) String() string {
	switch t {
	case HostBased:
		return "ZMQ_GSSAPI_NT_HOSTBASED"
	case UserName:
		return "ZMQ_GSSAPI_NT_USER_NAME"
	case KerberosPrincipal:
		return "ZMQ_GSSAPI_NT_KRB5_PRINCIPAL"
	}
	return fmt.Sprintf("NameType(%d)", int(t))
}

// principal is a parsed principal name; realm is empty when the name did
// not give one.
type principal struct {
	name  types.PrincipalName
	realm string
}

// String writes p as Kerberos does: components joined by "/", then
// "@realm" when known.
func (p principal) String() string {
	s := strings.Join(p.name.NameString, "/")
	if p.realm != "" {
		s += "@" + p.realm
	}
	return s
}

// matches reports whether name@realm is p: the same components and, when
// p has a realm, the same realm.
func (p principal) matches(name types.PrincipalName, realm string) bool {
	if len(p.name.NameString) != len(name.NameString) {
		return false
	}
	for i, c := range p.name.NameString {
		if c != name.NameString[i] {
			return false
		}
	}
	return p.realm == "" || p.realm == realm
}

// parseName turns s, written as t says, into a Kerberos principal.
func parseName(s string, t NameType) (principal, error) {
	if s == "" {
		return principal{}, fmt.Errorf("%w: empty principal name", ErrConfig)
	}
	if strings.ContainsRune(s, 0) {
		return principal{}, fmt.Errorf("%w: principal name %q holds a NUL", ErrConfig, s)
	}
	switch t {
	case HostBased:
		service, host, ok := strings.Cut(s, "@")
		if !ok {
			h, err := os.Hostname()
			if err != nil {
				return principal{}, fmt.Errorf("%w: host-based name %q without host: %w", ErrConfig, s, err)
			}
			host = h
		}
		host = strings.ToLower(host)
		if service == "" || host == "" || strings.ContainsAny(service+host, "/@") {
			return principal{}, fmt.Errorf("%w: invalid host-based name %q", ErrConfig, s)
		}
		return principal{name: types.PrincipalName{NameType: nametype.KRB_NT_SRV_HST, NameString: []string{service, host}}}, nil
	case UserName, KerberosPrincipal:
		name, realm := s, ""
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			name, realm = s[:i], s[i+1:]
			if realm == "" {
				return principal{}, fmt.Errorf("%w: empty realm in %q", ErrConfig, s)
			}
		}
		parts := strings.Split(name, "/")
		for _, c := range parts {
			if c == "" {
				return principal{}, fmt.Errorf("%w: empty component in %q", ErrConfig, s)
			}
		}
		return principal{name: types.PrincipalName{NameType: nametype.KRB_NT_PRINCIPAL, NameString: parts}, realm: realm}, nil
	}
	return principal{}, fmt.Errorf("%w: unknown name type %d", ErrConfig, int(t))
}
