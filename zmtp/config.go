package zmtp

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// Defaults, as libzmq's where libzmq has one.
const (
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultQueueLen         = 1000 // libzmq's SNDHWM and RCVHWM
	DefaultCloseTimeout     = 30 * time.Second
	maxPingTTL              = 65535 * 100 * time.Millisecond
)

// ConnConfig configures a Conn. The zero value is not usable: SocketType is
// required. Other zero fields take the documented defaults.
type ConnConfig struct {
	// SocketType is our socket type, such as "DEALER" (see package
	// mechanism for the names). The peer's must be compatible.
	SocketType string
	// Identity is sent as the Identity property when not empty: at most 255
	// octets (a leading zero octet is allowed, as in libzmq).
	Identity []byte
	// Properties are further metadata properties to send, such as "X-"
	// application properties.
	Properties frame.Metadata
	// Mechanism is the security mechanism; nil means NULL.
	Mechanism mechanism.Mechanism
	// HandshakeTimeout bounds the greeting and the handshake, measured from
	// the call to NewConn. Zero means DefaultHandshakeTimeout; negative
	// means no limit other than the context's.
	HandshakeTimeout time.Duration
	// HeartbeatInterval is the interval between the PINGs we send (ZMTP 3.1
	// peers only). Zero means no PINGs.
	HeartbeatInterval time.Duration
	// HeartbeatTTL is sent in our PINGs: the peer should drop the connection
	// when it hears nothing from us for that long. It is rounded down to
	// tenths of a second; zero sends no TTL.
	HeartbeatTTL time.Duration
	// HeartbeatTimeout is how long after a PING we wait for any traffic
	// before dropping the connection. Zero means HeartbeatInterval
	// (libzmq's default, ZMQ_HEARTBEAT_TIMEOUT -1); negative means PINGs
	// are sent but never time out (NoHeartbeatTimeout, libzmq's 0).
	HeartbeatTimeout time.Duration
	// MaxMessageSize limits the size of a received message, all frames
	// together. Zero or negative means no limit of the user's; a frame is
	// never larger than frame.HardMaxFrameSize all the same.
	MaxMessageSize int64
	// SendQueueLen is the number of messages Send queues before it blocks.
	// Zero means DefaultQueueLen.
	SendQueueLen int
	// RecvQueueLen is the number of received messages queued for Recv
	// before the reader stops reading from the network. Zero means
	// DefaultQueueLen.
	RecvQueueLen int
	// CloseTimeout bounds how long Close waits to flush queued messages.
	// Zero means DefaultCloseTimeout; negative means Close discards them.
	CloseTimeout time.Duration
	// OnCommand, when set, receives the commands a socket acts on:
	// SUBSCRIBE, CANCEL, JOIN and LEAVE. It runs on the reader goroutine;
	// cmd.Data is valid only during the call.
	OnCommand func(cmd frame.Command)
	// ZMTP30 makes us announce ZMTP 3.0 (minor version 0) instead of 3.1.
	ZMTP30 bool
	// RefuseLegacy refuses ZMTP 1.0 and 2.0 peers (*LegacyPeerError),
	// which are otherwise talked to as libzmq does when the mechanism is
	// NULL with no authentication.
	RefuseLegacy bool
	// Logger receives debug records about the connection; nil means none.
	Logger *slog.Logger

	// leaseIdle is how long a free read lease waits for a Recv before the
	// reader goroutine takes it back (see leaseReader); zero means the
	// default, defaultLeaseIdle. Tests that need the lease to stay free set it.
	leaseIdle time.Duration
}

// normalize validates c and returns a copy with the defaults applied.
func (c ConnConfig) normalize() (ConnConfig, error) {
	if !frame.KnownSocketType(c.SocketType) {
		return c, fmt.Errorf("zmtp: unknown socket type %q", c.SocketType)
	}
	if len(c.Identity) > 255 {
		return c, errors.New("zmtp: Identity must be at most 255 octets")
	}
	if err := c.Properties.Validate(); err != nil {
		return c, err
	}
	if c.Mechanism == nil {
		c.Mechanism = mechanism.Null{}
	}
	if err := mechanism.Validate(c.Mechanism); err != nil {
		return c, err
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.HeartbeatInterval < 0 {
		c.HeartbeatInterval = 0
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = c.HeartbeatInterval
	}
	if c.HeartbeatTTL < 0 {
		c.HeartbeatTTL = 0
	}
	if c.HeartbeatTTL > maxPingTTL {
		c.HeartbeatTTL = maxPingTTL
	}
	if c.MaxMessageSize <= 0 || c.MaxMessageSize > frame.HardMaxFrameSize {
		c.MaxMessageSize = frame.HardMaxFrameSize
	}
	if c.SendQueueLen <= 0 {
		c.SendQueueLen = DefaultQueueLen
	}
	if c.RecvQueueLen <= 0 {
		c.RecvQueueLen = DefaultQueueLen
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.leaseIdle <= 0 {
		c.leaseIdle = defaultLeaseIdle
	}
	return c, nil
}
