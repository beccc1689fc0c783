package mechanism

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/zmtp-go/zmtp/frame"
)

// ZAP status codes (RFC 27).
const (
	ZAPSuccess          = 200 // the client is authenticated
	ZAPTemporaryFailure = 300 // try again later: the server closes without ERROR
	ZAPAuthFailure      = 400 // the credentials are refused: ERROR "400"
	ZAPInternalError    = 500 // the authenticator failed: ERROR "500"
)

// ZAPRequest is what a server asks its Authenticator about one client, the
// fields of an RFC 27 request. The handshake builds a new request for each
// call; the authenticator may keep it.
type ZAPRequest struct {
	// Domain is the server's configured authentication domain.
	Domain string
	// Address is the client's network address (Params.RemoteAddr).
	Address string
	// RoutingID is the Identity property the client sent, when it was known
	// at the time of the request: CURVE asks after INITIATE, which carries
	// the client's metadata; PLAIN asks on HELLO, before any metadata, so
	// it is empty there.
	RoutingID []byte
	// Mechanism is "PLAIN" or "CURVE" (or "NULL" for address filtering).
	Mechanism string
	// Credentials are the mechanism's credentials: for PLAIN the user name
	// and the password, for CURVE the client's 32-octet long-term public
	// key, for NULL none.
	Credentials [][]byte
}

// String describes r without its credentials, which may hold a password.
func (r *ZAPRequest) String() string {
	return fmt.Sprintf("ZAP request: %s from %q in domain %q with %d credentials",
		r.Mechanism, r.Address, r.Domain, len(r.Credentials))
}

// GoString is String, so that %#v does not print the credentials either.
func (r *ZAPRequest) GoString() string { return r.String() }

// ZAPResponse is an Authenticator's answer, the fields of an RFC 27 reply.
type ZAPResponse struct {
	// StatusCode is ZAPSuccess, ZAPTemporaryFailure, ZAPAuthFailure or
	// ZAPInternalError; any other value fails the handshake.
	StatusCode int
	// StatusText explains the status. It is reported locally through
	// AuthError; the client only ever sees the status code.
	StatusText string
	// UserID identifies the authenticated user. On success it becomes the
	// User-Id property of the handshake's PeerMetadata.
	UserID string
	// Metadata are further properties added to PeerMetadata on success.
	// They take precedence over properties of the same name that the
	// client sent. Names must be valid property names.
	Metadata frame.Metadata
}

// Authenticator decides whether a server accepts a client, as a ZAP
// handler does (RFC 27).
type Authenticator interface {
	// Authenticate answers req. It should return once ctx is done; the
	// handshake stops waiting for it then in any case, fails, and discards
	// a later answer. A returned error fails the handshake closed, with no
	// ERROR sent to the client. It may be called concurrently for
	// different connections.
	Authenticate(ctx context.Context, req *ZAPRequest) (ZAPResponse, error)
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
type AuthenticatorFunc func(ctx context.Context, req *ZAPRequest) (ZAPResponse, error)

// Authenticate calls f(ctx, req).
func (f AuthenticatorFunc) Authenticate(ctx context.Context, req *ZAPRequest) (ZAPResponse, error) {
	return f(ctx, req)
}

// AuthError is the error of a server handshake whose authenticator refused
// the client (or of a server with no authenticator, as status 400). The
// client's handshake sees a *PeerError instead, whose reason is the status
// code for 400 and 500. It matches ErrHandshake.
type AuthError struct {
	StatusCode int    // 300, 400 or 500
	StatusText string // the authenticator's explanation; may be empty
}

// Error reports the status code and, when set, the status text.
// Error gives the status code and text.
func (e *AuthError) Error() string {
	s := "zmtp: authentication failed with status " + strconv.Itoa(e.StatusCode)
	if e.StatusText != "" {
		s += ": " + strconv.Quote(e.StatusText)
	}
	return s
}

// Is reports whether target is ErrHandshake.
func (e *AuthError) Is(target error) bool { return target == ErrHandshake }

// ErrInvalidZAPReply reports an authenticator answer with a status code
// other than 200, 300, 400 and 500, or with invalid metadata. The handshake
// fails closed. It matches ErrHandshake.
var ErrInvalidZAPReply = &authFailure{"invalid authenticator reply"}

type authFailure struct{ msg string }

func (e *authFailure) Error() string        { return "zmtp: " + e.msg }
func (e *authFailure) Is(target error) bool { return target == ErrHandshake }

// authGrant is what a successful authentication adds to the peer's
// metadata.
type authGrant struct {
	userID   string
	metadata frame.Metadata
}

// noAuthenticator is the refusal of a server that has no authenticator.
var noAuthenticator = ZAPResponse{StatusCode: ZAPAuthFailure, StatusText: "no authenticator configured"}

// authenticate asks a about req and interprets the answer. On success it
// returns the grant. On refusal it returns the commands to send (an ERROR
// carrying the status code for 400 and 500, nothing for 300) and an
// *AuthError. An invalid answer or an authenticator error fails closed:
// no commands. A nil a refuses as if it had answered 400.
func authenticate(ctx context.Context, a Authenticator, req *ZAPRequest) (*authGrant, []frame.Command, error) {
	resp := noAuthenticator
	if a != nil {
		var err error
		resp, err = callAuthenticator(ctx, a, req)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: authenticator: %w", ErrHandshake, err)
		}
	}
	switch resp.StatusCode {
	case ZAPSuccess:
		if err := resp.Metadata.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidZAPReply, err)
		}
		return &authGrant{userID: resp.UserID, metadata: cloneMetadata(resp.Metadata)}, nil, nil
	case ZAPTemporaryFailure:
		return nil, nil, &AuthError{StatusCode: resp.StatusCode, StatusText: resp.StatusText}
	case ZAPAuthFailure, ZAPInternalError:
		err := &AuthError{StatusCode: resp.StatusCode, StatusText: resp.StatusText}
		return nil, []frame.Command{errorWithReason(strconv.Itoa(resp.StatusCode))}, err
	}
	return nil, nil, fmt.Errorf("%w: status code %d", ErrInvalidZAPReply, resp.StatusCode)
}

// callAuthenticator calls a, giving up when ctx is done even if a does not
// honour ctx. A call that outlives ctx finishes in the background and its
// answer is dropped.
func callAuthenticator(ctx context.Context, a Authenticator, req *ZAPRequest) (ZAPResponse, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return ZAPResponse{}, err
	}
	if ctx.Done() == nil {
		return a.Authenticate(ctx, req)
	}
	type answer struct {
		resp ZAPResponse
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		resp, err := a.Authenticate(ctx, req)
		ch <- answer{resp, err}
	}()
	select {
	case ans := <-ch:
		return ans.resp, ans.err
	case <-ctx.Done():
		return ZAPResponse{}, ctx.Err()
	}
}

// peerMetadataWithAuth returns the metadata a server reports for its peer:
// the User-Id and the authenticator's properties when g is not nil, then
// the properties the peer sent except those of the same names. A User-Id
// the peer sent itself is always dropped. The result does not alias peer.
func peerMetadataWithAuth(peer frame.Metadata, g *authGrant) frame.Metadata {
	var out frame.Metadata
	if g != nil {
		out = append(out, frame.Property{Name: frame.PropUserID, Value: []byte(g.userID)})
		for _, p := range g.metadata {
			if _, dup := out.Lookup(p.Name); !dup {
				out = append(out, p)
			}
		}
	}
	granted := out
	for _, p := range peer {
		if _, dup := granted.Lookup(p.Name); dup || strings.EqualFold(p.Name, frame.PropUserID) {
			continue
		}
		out = append(out, frame.Property{Name: p.Name, Value: bytes.Clone(p.Value)})
	}
	return out
}

// errorWithReason returns an ERROR command carrying reason, truncated to
// 255 octets.
func errorWithReason(reason string) frame.Command {
	if len(reason) > frame.MaxReasonSize {
		reason = reason[:frame.MaxReasonSize]
	}
	return frame.Command{Name: frame.CmdError, Data: append([]byte{byte(len(reason))}, reason...)}
}

// Authenticate asks a about req and interprets the answer as the built-in
// mechanisms do, for mechanisms defined in other packages. On success it
// returns the User-Id and the properties the answer grants (see
// AuthenticatedMetadata). On refusal it returns an *AuthError; an invalid
// answer gives ErrInvalidZAPReply and an authenticator error is wrapped;
// all match ErrHandshake. A nil a refuses as if it had answered 400.
func Authenticate(ctx context.Context, a Authenticator, req *ZAPRequest) (userID string, md frame.Metadata, err error) {
	g, _, err := authenticate(ctx, a, req)
	if err != nil {
		return "", nil, err
	}
	return g.userID, g.metadata, nil
}

// AuthenticatedMetadata returns the metadata a server reports for a peer
// that Authenticate accepted: the User-Id and the granted properties,
// then the properties the peer sent except those of the same names and
// any User-Id of its own. The result does not alias its arguments.
func AuthenticatedMetadata(peer frame.Metadata, userID string, granted frame.Metadata) frame.Metadata {
	return peerMetadataWithAuth(peer, &authGrant{userID: userID, metadata: cloneMetadata(granted)})
}
