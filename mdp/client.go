package mdp

import (
	"context"
	"errors"
	"time"

	"github.com/zmtp-go/zmtp/pirate"
)

// ClientOptions configures a Client: Timeout per attempt, Attempts in
// all, and the sockets' Context and Options, as for a pirate.LazyClient.
type ClientOptions = pirate.LazyOptions

// ErrNoReply matches the error of a request that had no reply after every
// attempt (a *pirate.NoReplyError).
var ErrNoReply = pirate.ErrNoReply

// ErrNotImplemented is returned by ServiceExists when the broker does not
// implement mmi.service (it answered "501").
var ErrNotImplemented = errors.New("mdp: broker does not implement mmi.service")

// Client is the client side of MDP/Client: it sends a request for a
// service to a broker and waits for the reply, retrying on a new socket
// when none comes in time (the Lazy Pirate strategy that 7/MDP
// recommends). Its methods are safe for concurrent use; requests are sent
// one at a time.
type Client struct {
	lazy *pirate.LazyClient
}

// NewClient returns a client of the broker at endpoint. It connects when
// the first request is sent.
func NewClient(endpoint string, opts ClientOptions) (*Client, error) {
	l, err := pirate.NewLazyClient(endpoint, opts)
	if err != nil {
		return nil, err
	}
	return &Client{lazy: l}, nil
}

// MaxWait is the longest a request can take: Attempts times Timeout.
func (c *Client) MaxWait() time.Duration { return c.lazy.MaxWait() }

// Request sends body (one or more frames; the caller keeps them) to a
// worker of service and returns the reply's frames. It returns within
// MaxWait: the reply, a *pirate.NoReplyError (matching ErrNoReply), a
// *ProtocolError for a reply that is not MDP's, or ctx's error when ctx
// ends first.
func (c *Client) Request(ctx context.Context, service string, body ...[]byte) ([][]byte, error) {
	if len(body) == 0 {
		return nil, errors.New("mdp: a request needs at least one frame of body")
	}
	msg := make([][]byte, 0, 2+len(body))
	msg = append(msg, []byte(ClientHeader), []byte(service))
	reply, err := c.lazy.Request(ctx, append(msg, body...)...)
	if err != nil {
		return nil, err
	}
	return parseClientReply(reply, service)
}

// ServiceExists asks the broker, through 8/MMI's mmi.service, whether a
// worker of the named service is registered.
func (c *Client) ServiceExists(ctx context.Context, name string) (bool, error) {
	reply, err := c.Request(ctx, mmiService, []byte(name))
	if err != nil {
		return false, err
	}
	if len(reply) != 1 {
		return false, protoErr("mmi.service reply of %d frames", len(reply))
	}
	switch string(reply[0]) {
	case mmiFound:
		return true, nil
	case mmiNotFound:
		return false, nil
	case mmiNotImplement:
		return false, ErrNotImplemented
	}
	return false, protoErr("mmi.service answered %.16q", reply[0])
}

// Close closes the client's socket, once a request in progress has ended.
func (c *Client) Close() error { return c.lazy.Close() }
