package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// Raw ZMTP peers: the client side of the resource workloads is the same
// for every implementation under test, written here with the frame codec
// over plain TCP connections, so that what is measured is the server's
// cost alone.

// rawHello returns what a NULL peer of the given socket type sends to
// open a connection: a ZMTP 3.1 greeting and a READY command.
func rawHello(socketType string) []byte {
	b := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: frame.MechanismNull})
	return frame.AppendReady(b, frame.Metadata{{Name: frame.PropSocketType, Value: []byte(socketType)}})
}

// rawDial opens a TCP connection to addr (host:port) that resets rather
// than lingers in TIME_WAIT when closed, so that tens of thousands of
// connections in a row do not run out of local ports.
func rawDial(addr string) (*net.TCPConn, error) {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetLinger(0); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// rawPeer is a connection whose handshake a raw peer has completed: it
// reads the server's frames.
type rawPeer struct {
	nc *net.TCPConn
	rd *frame.Reader
}

// rawHandshake connects to addr as a NULL peer of type socketType and
// returns once it has received the server's greeting and READY.
func rawHandshake(addr, socketType string) (*rawPeer, error) {
	nc, err := rawDial(addr)
	if err != nil {
		return nil, err
	}
	p := &rawPeer{nc: nc, rd: frame.NewReader(nc, 0)}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(rawHello(socketType)); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := p.rd.Next(frame.GreetingSize); err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	f, err := p.rd.ReadFrame()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("READY: %w", err)
	}
	if cmd, err := frame.ParseCommand(f.Body); err != nil || !f.IsCommand() || cmd.Name != frame.CmdReady {
		nc.Close()
		return nil, errors.New("the server's first frame is not READY")
	}
	nc.SetDeadline(time.Time{})
	return p, nil
}

// readMessage returns the first frame of the next message, skipping
// commands and further frames. The frame is valid until the next call.
func (p *rawPeer) readMessage() ([]byte, error) {
	var first []byte
	inMessage := false
	for {
		f, err := p.rd.ReadFrame()
		if err != nil {
			return nil, err
		}
		if f.IsCommand() {
			continue
		}
		if !inMessage {
			first, inMessage = f.Body, true
		}
		if !f.More() {
			return first, nil
		}
	}
}

// subscription returns a subscription message as a ZMTP 3.0 peer (and
// libzmq 4.3's SUB) sends it, which every implementation under test
// accepts: one frame holding 0x01 (subscribe) or 0x00 (cancel) and the
// topic.
func subscription(topic []byte, on bool) []byte {
	flag := byte(0)
	if on {
		flag = 1
	}
	b := frame.AppendHeader(nil, 0, 1+len(topic))
	b = append(b, flag)
	return append(b, topic...)
}
