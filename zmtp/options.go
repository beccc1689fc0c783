package zmtp

import (
	"log/slog"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
)

// Socket option defaults, as libzmq's.
const (
	DefaultHWM               = 1000
	DefaultReconnectInterval = 100 * time.Millisecond
)

// Options configures a Socket. The zero value gives libzmq's defaults
// except where a field says otherwise.
type Options struct {
	// SendHWM and RecvHWM are the per-peer high-water marks in messages.
	// Zero or less means DefaultHWM.
	SendHWM, RecvHWM int
	// Linger bounds how long Close waits to deliver queued messages. Zero
	// means 30 s (libzmq waits for ever by default); negative means Close
	// discards them at once.
	Linger time.Duration
	// RoutingID is sent to peers as the Identity property.
	RoutingID []byte
	// ReconnectInterval is the first wait before reconnecting. Zero means
	// DefaultReconnectInterval; negative disables reconnection.
	ReconnectInterval time.Duration
	// ReconnectIntervalMax caps the exponential backoff. Zero means the
	// interval does not grow.
	ReconnectIntervalMax time.Duration
	// Immediate queues messages only on connected peers (ZMQ_IMMEDIATE).
	Immediate bool
	// HandshakeTimeout, HeartbeatInterval, HeartbeatTTL, HeartbeatTimeout
	// and MaxMessageSize are passed to every connection; see ConnConfig.
	HandshakeTimeout  time.Duration
	HeartbeatInterval time.Duration
	HeartbeatTTL      time.Duration
	HeartbeatTimeout  time.Duration
	MaxMessageSize    int64
	// Mechanism is the security mechanism; nil means NULL.
	Mechanism mechanism.Mechanism
	// RouterMandatory makes a ROUTER report ErrHostUnreachable for a
	// message to an unknown peer instead of dropping it.
	RouterMandatory bool
	// RouterHandover lets a new peer with a known Identity take it over
	// from the old one instead of being given a generated id.
	RouterHandover bool
	// ProbeRouter makes a ROUTER, DEALER or REQ send an empty message to
	// each new peer.
	ProbeRouter bool
	// ReqRelaxed and ReqCorrelate are ZMQ_REQ_RELAXED and ZMQ_REQ_CORRELATE.
	ReqRelaxed, ReqCorrelate bool
	// XPubVerbose passes every subscription to the XPUB application, not
	// only new ones; XPubNoDrop blocks sends at the HWM instead of
	// dropping; XPubWelcomeMsg is sent to each new subscriber.
	XPubVerbose    bool
	XPubNoDrop     bool
	XPubWelcomeMsg []byte
	// XPubManual leaves subscriptions to the XPUB application: every
	// subscription message is passed up, and the application calls
	// Subscribe or Unsubscribe to apply one to the peer it came from.
	XPubManual bool
	// InvertMatching makes PUB/XPUB send to peers that did not subscribe
	// to a prefix of the message and SUB/XSUB deliver only those.
	InvertMatching bool
	// Conflate keeps only the last message in each inbound and outbound
	// queue (ZMQ_CONFLATE); for single-frame messages.
	Conflate bool
	// TCPKeepAlive is the keep-alive period of TCP connections. Zero means
	// Go's default (15 s); negative disables keep-alives.
	TCPKeepAlive time.Duration
	// SOCKSProxy, when set, is the host:port of a SOCKS5 proxy through
	// which tcp Connects are made (ZMQ_SOCKS_PROXY).
	SOCKSProxy string
	// Logger receives debug records; nil means none.
	Logger *slog.Logger
}

func (o Options) normalize() Options {
	if o.SendHWM <= 0 {
		o.SendHWM = DefaultHWM
	}
	if o.RecvHWM <= 0 {
		o.RecvHWM = DefaultHWM
	}
	if o.Linger == 0 {
		o.Linger = DefaultCloseTimeout
	}
	if o.Conflate {
		o.SendHWM, o.RecvHWM = 1, 1
	}
	if o.ReconnectInterval == 0 {
		o.ReconnectInterval = DefaultReconnectInterval
	}
	return o
}
