package zmtp

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
)

// Socket option defaults, as libzmq's.
const (
	DefaultHWM               = 1000
	DefaultReconnectInterval = 100 * time.Millisecond
)

// HWM is a high-water mark: the most messages a queue holds. Its zero
// value is libzmq's default, DefaultHWM. Make one with HWMOf; a literal 0
// cannot be written by mistake.
type HWM struct {
	n   int
	set bool
}

// HWMOf returns a high-water mark of n messages with libzmq's meaning:
// n = 0 is no limit. A negative n is refused by NewSocket.
func HWMOf(n int) HWM { return HWM{n: n, set: true} }

// Unlimited is the high-water mark with no limit (libzmq's 0).
var Unlimited = HWMOf(0)

// Limit returns the mark in messages, 0 meaning no limit.
func (h HWM) Limit() int {
	if !h.set {
		return DefaultHWM
	}
	return h.n
}

// Duration is a time option that means what libzmq gives the same value
// for the same option (ZMQ_LINGER, ZMQ_HANDSHAKE_IVL, ZMQ_RECONNECT_IVL):
// make one with DurationOf. Its zero value is libzmq's default for the
// option; a literal 0 cannot be written by mistake.
type Duration struct {
	d   time.Duration
	set bool
}

// DurationOf returns d with libzmq's meaning for the option it is given
// to: see the fields of Options that take a Duration.
func DurationOf(d time.Duration) Duration { return Duration{d: d, set: true} }

// Named values of the Duration options.
var (
	// NoLinger makes Close discard queued messages at once (ZMQ_LINGER 0).
	NoLinger = DurationOf(0)
	// LingerForever makes Close wait until every queued message is
	// delivered (ZMQ_LINGER -1, libzmq's default); CloseContext bounds it.
	LingerForever = DurationOf(-1)
	// NoReconnect stops a Connect after its first connection ends or
	// fails (ZMQ_RECONNECT_IVL -1).
	NoReconnect = DurationOf(-1)
	// NoHandshakeTimeout lets a handshake take as long as it takes
	// (ZMQ_HANDSHAKE_IVL 0).
	NoHandshakeTimeout = DurationOf(0)
)

// NoHeartbeatTimeout, as Options.HeartbeatTimeout (or
// ConnConfig.HeartbeatTimeout), sends PINGs that never time out: libzmq's
// ZMQ_HEARTBEAT_TIMEOUT 0. The zero HeartbeatTimeout is libzmq's default,
// HeartbeatInterval.
const NoHeartbeatTimeout time.Duration = -1

// or returns the duration, or def when unset.
func (d Duration) or(def time.Duration) time.Duration {
	if !d.set {
		return def
	}
	return d.d
}

// Options configures a Socket. The zero value gives libzmq's defaults
// except where a field says otherwise. Options that take an HWM or a
// Duration mean what libzmq gives the same value; see the README's table
// of options for every difference.
type Options struct {
	// SendHWM and RecvHWM are the per-peer high-water marks in messages:
	// DefaultHWM when unset, HWMOf(0) or Unlimited for no limit. A message
	// counts until it is written to the network, wherever it waits.
	SendHWM, RecvHWM HWM
	// Linger bounds how long Close waits to deliver queued messages,
	// pending connections and reconnections included: unset or
	// LingerForever waits until all are delivered (libzmq's default);
	// NoLinger discards them at once; DurationOf(d) waits at most d.
	// CloseContext bounds the wait further.
	Linger Duration
	// RoutingID is sent to peers as the Identity property: 1 to 255
	// octets.
	RoutingID []byte
	// ReconnectInterval is the first wait before reconnecting:
	// DefaultReconnectInterval when unset, NoReconnect (DurationOf(-1))
	// for no reconnection, DurationOf(0) to reconnect at once.
	ReconnectInterval Duration
	// ReconnectIntervalMax caps the exponential backoff. Zero means the
	// interval does not grow (as libzmq's 0).
	ReconnectIntervalMax time.Duration
	// Immediate queues messages only on connected peers (ZMQ_IMMEDIATE).
	Immediate bool
	// HandshakeTimeout bounds each handshake: DefaultHandshakeTimeout
	// (30 s) when unset, NoHandshakeTimeout (DurationOf(0)) for none.
	HandshakeTimeout Duration
	// HeartbeatInterval, HeartbeatTTL, HeartbeatTimeout and MaxMessageSize
	// are passed to every connection; see ConnConfig. Zero is off (no
	// limit for MaxMessageSize), as in libzmq (whose MAXMSGSIZE takes -1
	// for no limit; here zero or negative), except HeartbeatTimeout: zero
	// is HeartbeatInterval, libzmq's default (-1), and NoHeartbeatTimeout
	// is libzmq's 0 (PINGs that never time out).
	HeartbeatInterval time.Duration
	HeartbeatTTL      time.Duration
	HeartbeatTimeout  time.Duration
	MaxMessageSize    int64
	// Mechanism is the security mechanism; nil means NULL.
	Mechanism mechanism.Mechanism
	// RefuseLegacy refuses ZMTP 1.0 and 2.0 peers, which are otherwise
	// talked to as libzmq talks to them when the mechanism is NULL with no
	// authentication (libzmq has no such option).
	RefuseLegacy bool
	// RouterMandatory makes a ROUTER report ErrHostUnreachable for a
	// message to an unknown peer instead of dropping it.
	RouterMandatory bool
	// RouterHandover lets a new peer with a known Identity take it over
	// from the old one; without it the newcomer's connection is kept but
	// unroutable, as libzmq keeps it.
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
	// MulticastHops is the TTL of a RADIO's multicast datagrams
	// (ZMQ_MULTICAST_HOPS); 0 means libzmq's default, 1 (this network
	// only). MulticastNoLoop stops them from being looped back to the
	// sending host (ZMQ_MULTICAST_LOOP 0; libzmq loops them by default).
	// Both apply to udp Connects made from then on.
	MulticastHops   int
	MulticastNoLoop bool
	// Conflate keeps only the last message in each inbound and outbound
	// queue (ZMQ_CONFLATE); for single-frame messages.
	Conflate bool
	// TCPKeepAlive is the keep-alive period of TCP connections. Zero means
	// Go's default (15 s); negative disables keep-alives.
	TCPKeepAlive time.Duration
	// SOCKSProxy, when set, is the host:port of a SOCKS5 proxy through
	// which tcp Connects are made (ZMQ_SOCKS_PROXY).
	SOCKSProxy string
	// TLSConfig is the TLS configuration of wss endpoints (libzmq's
	// ZMQ_WSS_* options): a wss Bind needs a certificate (Certificates or
	// GetCertificate: ZMQ_WSS_CERT_PEM, ZMQ_WSS_KEY_PEM); a wss Connect
	// verifies the server against RootCAs (ZMQ_WSS_TRUST_PEM), the
	// system's roots when nil (ZMQ_WSS_TRUST_SYSTEM), for ServerName
	// (ZMQ_WSS_HOSTNAME), the endpoint's host when empty.
	TLSConfig *tls.Config
	// Logger receives debug records; nil means none.
	Logger *slog.Logger
}

// validate refuses values libzmq refuses (EINVAL) and configurations that
// could only fail later.
func (o *Options) validate() error {
	if o.SendHWM.n < 0 || o.RecvHWM.n < 0 {
		return errors.New("zmtp: a high-water mark cannot be negative")
	}
	if o.HandshakeTimeout.d < 0 {
		return errors.New("zmtp: HandshakeTimeout cannot be negative")
	}
	if o.MulticastHops < 0 || o.MulticastHops > 255 {
		return errors.New("zmtp: MulticastHops must be from 0 to 255")
	}
	if len(o.RoutingID) > 255 {
		return errors.New("zmtp: RoutingID must be at most 255 octets")
	}
	return mechanism.Validate(o.Mechanism)
}

// Resolved settings, from Options.
func (o *Options) sendHWM() int {
	if o.Conflate {
		return 1
	}
	return o.SendHWM.Limit()
}

func (o *Options) recvHWM() int {
	if o.Conflate {
		return 1
	}
	return o.RecvHWM.Limit()
}

// linger returns how long Close waits: negative for ever.
func (o *Options) linger() time.Duration {
	d := o.Linger.or(-1)
	if d < 0 {
		return -1
	}
	return d
}

// reconnectInterval returns the first wait before reconnecting; negative
// means no reconnection.
func (o *Options) reconnectInterval() time.Duration {
	return o.ReconnectInterval.or(DefaultReconnectInterval)
}

// handshakeTimeout returns the ConnConfig value: negative for no limit.
func (o *Options) handshakeTimeout() time.Duration {
	d := o.HandshakeTimeout.or(DefaultHandshakeTimeout)
	if d == 0 {
		return -1
	}
	return d
}

// flushTimeout returns how long Disconnect and Unbind let a connection
// deliver what is queued (ConnConfig.CloseTimeout's meaning): Linger, or
// DefaultCloseTimeout when Linger is for ever.
func (o *Options) flushTimeout() time.Duration {
	switch d := o.linger(); {
	case d < 0:
		return DefaultCloseTimeout
	case d == 0:
		return -1
	default:
		return d
	}
}
