package zmtp

import (
	"errors"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// EventType is the kind of a socket monitor event, named after libzmq's
// ZMQ_EVENT_* constants.
type EventType int

// Monitor event types.
const (
	EventConnected               EventType = 1 << iota // a TCP/IPC connection was made (before the handshake)
	EventConnectDelayed                                // a connect attempt failed at once; it will be retried
	EventConnectRetried                                // a reconnect is scheduled after Interval
	EventListening                                     // a Bind succeeded
	EventBindFailed                                    // a Bind failed
	EventAccepted                                      // a connection was accepted (before the handshake)
	EventAcceptFailed                                  // accepting failed
	EventClosed                                        // an endpoint was closed (Unbind, Disconnect or Close)
	EventDisconnected                                  // an established connection ended
	EventHandshakeSucceeded                            // the ZMTP handshake succeeded: the peer is routable
	EventHandshakeFailedNoDetail                       // the handshake failed (timeout, I/O)
	EventHandshakeFailedProtocol                       // the peer broke the protocol
	EventHandshakeFailedAuth                           // authentication failed (ERROR, ZAP refusal)
	EventMonitorStopped                                // the last event on a monitor channel

	// EventAll selects every event type.
	EventAll EventType = 1<<iota - 1
)

var eventNames = map[EventType]string{
	EventConnected:               "CONNECTED",
	EventConnectDelayed:          "CONNECT_DELAYED",
	EventConnectRetried:          "CONNECT_RETRIED",
	EventListening:               "LISTENING",
	EventBindFailed:              "BIND_FAILED",
	EventAccepted:                "ACCEPTED",
	EventAcceptFailed:            "ACCEPT_FAILED",
	EventClosed:                  "CLOSED",
	EventDisconnected:            "DISCONNECTED",
	EventHandshakeSucceeded:      "HANDSHAKE_SUCCEEDED",
	EventHandshakeFailedNoDetail: "HANDSHAKE_FAILED_NO_DETAIL",
	EventHandshakeFailedProtocol: "HANDSHAKE_FAILED_PROTOCOL",
	EventHandshakeFailedAuth:     "HANDSHAKE_FAILED_AUTH",
	EventMonitorStopped:          "MONITOR_STOPPED",
}

// String returns libzmq's name for the event, without ZMQ_EVENT_.
func (t EventType) String() string {
	if n, ok := eventNames[t]; ok {
		return n
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is a socket monitor event.
type Event struct {
	Type     EventType
	Endpoint string        // the Bind or Connect endpoint
	Remote   string        // the peer's address, when known
	Interval time.Duration // EventConnectRetried: the wait before the retry
	Err      error         // the failure, for the failure events
}

// String describes the event on one line.
func (e Event) String() string {
	s := e.Type.String() + " " + e.Endpoint
	if e.Remote != "" {
		s += " remote=" + e.Remote
	}
	if e.Interval > 0 {
		s += " interval=" + e.Interval.String()
	}
	if e.Err != nil {
		s += " err=" + e.Err.Error()
	}
	return s
}

// monitorQueueLen is the buffer of a monitor channel. When it is full,
// further events are dropped rather than delaying the socket.
const monitorQueueLen = 256

type monitor struct {
	ch   chan Event
	mask EventType
}

// Monitor returns a channel that receives the socket's events of the types
// in mask (EventAll for every one). Events are dropped when the channel's
// buffer is full, so that a slow reader never delays the socket. The
// channel receives EventMonitorStopped and is closed when the socket
// closes.
func (s *Socket) Monitor(mask EventType) <-chan Event {
	m := &monitor{ch: make(chan Event, monitorQueueLen), mask: mask}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		m.ch <- Event{Type: EventMonitorStopped}
		close(m.ch)
		return m.ch
	}
	s.monitors = append(s.monitors, m)
	return m.ch
}

// emit delivers ev to the monitors that want it.
func (s *Socket) emit(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.monitors {
		if m.mask&ev.Type == 0 {
			continue
		}
		select {
		case m.ch <- ev:
		default:
		}
	}
}

// stopMonitors ends every monitor channel; called once by Close.
func (s *Socket) stopMonitors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.monitors {
		select {
		case m.ch <- Event{Type: EventMonitorStopped}:
		default:
		}
		close(m.ch)
	}
	s.monitors = nil
}

// handshakeFailure classifies a failed handshake as libzmq does.
func handshakeFailure(err error) EventType {
	var pe *mechanism.PeerError
	var ae *mechanism.AuthError
	var ste *mechanism.SocketTypeError
	switch {
	case errors.As(err, &pe), errors.As(err, &ae):
		return EventHandshakeFailedAuth
	case errors.As(err, &ste), errors.Is(err, frame.ErrProtocol), errors.Is(err, ErrMechanismMismatch),
		errors.Is(err, ErrMessageBeforeReady):
		return EventHandshakeFailedProtocol
	}
	return EventHandshakeFailedNoDetail
}
