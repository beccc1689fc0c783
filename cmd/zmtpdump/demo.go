package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/dump"
	"github.com/zmtp-go/zmtp/zmtp"
)

// runDemo runs a REQ/REP and a PUB/SUB exchange between this module's
// sockets, each relayed through an in-process proxy, and prints what the
// proxies decode.
func runDemo(ctx context.Context, out *printer, opts dump.Options) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	subscribed := make(chan struct{}, 1)
	out.hook = func(ev dump.Event) {
		if isSubscription(ev) {
			select {
			case subscribed <- struct{}{}:
			default:
			}
		}
	}
	if err := demoReqRep(ctx, out, opts); err != nil {
		return fmt.Errorf("REQ/REP: %w", err)
	}
	if err := demoPubSub(ctx, out, opts, subscribed); err != nil {
		return fmt.Errorf("PUB/SUB: %w", err)
	}
	return nil
}

// isSubscription reports whether ev subscribes, as a command or a message.
func isSubscription(ev dump.Event) bool {
	if ev.Kind == dump.KindCommand && ev.Command.Name == "SUBSCRIBE" {
		return true
	}
	return ev.Kind == dump.KindMessage && ev.Message.Subscription == "subscribe"
}

// relayed binds a socket of type server, starts a proxy in front of it and
// connects a socket of type client to the proxy.
func relayed(out *printer, opts dump.Options, sink *pcapSink, server, client zmtp.SocketType, sopts, copts zmtp.Options) (srv, cli *zmtp.Socket, px *proxy, err error) {
	return relayedOn("tcp://127.0.0.1:*", out, opts, sink, server, client, sopts, copts)
}

// relayedOn is relayed with the server bound to ep (tcp://127.0.0.1:* or
// ws://127.0.0.1:*/path) and the proxy listening on the same kind of
// endpoint.
func relayedOn(ep string, out *printer, opts dump.Options, sink *pcapSink, server, client zmtp.SocketType, sopts, copts zmtp.Options) (srv, cli *zmtp.Socket, px *proxy, err error) {
	if srv, err = zmtp.NewSocket(server, sopts); err != nil {
		return nil, nil, nil, err
	}
	if err = srv.Bind(ep); err != nil {
		srv.Close()
		return nil, nil, nil, err
	}
	if px, err = newProxy(ep, srv.LastEndpoint(), out, opts, sink); err != nil {
		srv.Close()
		return nil, nil, nil, err
	}
	go px.serve()
	if cli, err = zmtp.NewSocket(client, copts); err == nil {
		err = cli.Connect(px.endpoint())
	}
	if err != nil {
		px.close()
		srv.Close()
		return nil, nil, nil, err
	}
	return srv, cli, px, nil
}

// shutdown closes the client, waits until the proxy has relayed the end of
// every connection, then closes the server and the proxy.
func shutdown(ctx context.Context, cli, srv *zmtp.Socket, px *proxy) error {
	cli.Close()
	err := waitFor(ctx, px.idle)
	srv.Close()
	px.close()
	return err
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return errors.New("timed out waiting for the proxy")
		case <-t.C:
		}
	}
	return nil
}

func demoReqRep(ctx context.Context, out *printer, opts dump.Options) error {
	rep, req, px, err := relayed(out, opts, nil, zmtp.Rep, zmtp.Req, zmtp.Options{}, zmtp.Options{})
	if err != nil {
		return err
	}
	for i := 1; i <= 2; i++ {
		if err := req.Send(ctx, [][]byte{[]byte(fmt.Sprintf("hello %d", i))}); err != nil {
			return err
		}
		m, err := rep.Recv(ctx)
		if err != nil {
			return err
		}
		reply := append([]byte("world, said to "), m.Frames[len(m.Frames)-1]...)
		if err := rep.Send(ctx, [][]byte{reply}); err != nil {
			return err
		}
		if _, err := req.Recv(ctx); err != nil {
			return err
		}
	}
	return shutdown(ctx, req, rep, px)
}

func demoPubSub(ctx context.Context, out *printer, opts dump.Options, subscribed <-chan struct{}) error {
	pub, sub, px, err := relayed(out, opts, nil, zmtp.Pub, zmtp.Sub, zmtp.Options{}, zmtp.Options{})
	if err != nil {
		return err
	}
	if err := sub.Subscribe([]byte("weather.")); err != nil {
		return err
	}
	// The proxy sees the subscription before the publisher does.
	select {
	case <-subscribed:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Let the publisher take the subscription in: poll by publishing a
	// probe until the subscriber gets it.
	probe := [][]byte{[]byte("weather.probe")}
	for {
		if err := pub.Send(ctx, probe); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err := sub.Recv(rctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	msgs := [][][]byte{
		{[]byte("weather.paris"), []byte("sunny, 24 C")},
		{[]byte("sport.results"), []byte("filtered out by the publisher")},
		{[]byte("weather.oslo"), []byte("snow, -3 C")},
	}
	for _, m := range msgs {
		if err := pub.Send(ctx, m); err != nil {
			return err
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := sub.Recv(ctx); err != nil {
			return err
		}
	}
	return shutdown(ctx, sub, pub, px)
}
