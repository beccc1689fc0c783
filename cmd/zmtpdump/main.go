package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/zmtp-go/zmtp/dump"
)

const usage = `Usage:
  zmtpdump [options] -r FILE        decode a pcap or pcapng file (- for stdin)
  zmtpdump [options] -i IFACE [-w FILE]   decode live traffic (Linux, root; lo for loopback)
  zmtpdump proxy [options] --listen EP --forward EP [-w FILE]
                                    relay and decode connections (EP: tcp://host:port, ws://host:port/path, ipc://path)
  zmtpdump demo [options]           REQ/REP and PUB/SUB through an in-process proxy

Options:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options is the parsed command line.
type options struct {
	mode      string // "read", "proxy" or "demo"
	readFile  string
	iface     string
	port      uint
	listen    string
	forward   string
	writeFile string
	color     string
	count     int // packets to read, 0 for all
	out       outputConfig
}

func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{mode: "read"}
	if len(args) > 0 && (args[0] == "proxy" || args[0] == "demo") {
		o.mode, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("zmtpdump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.readFile, "r", "", "read packets from `FILE` (pcap or pcapng; - for standard input)")
	fs.StringVar(&o.iface, "i", "", "capture live on `IFACE` (Linux AF_PACKET; needs root)")
	fs.UintVar(&o.port, "port", 0, "only TCP connections on `PORT` (capture)")
	fs.StringVar(&o.listen, "listen", "", "proxy: listen on `EP`")
	fs.StringVar(&o.forward, "forward", "", "proxy: relay to `EP`")
	fs.StringVar(&o.writeFile, "w", "", "proxy and -i: also write the relayed or captured traffic to `FILE` as pcap")
	var conn, commands, socketType, topic string
	fs.StringVar(&conn, "conn", "", "only connection number `N` or with endpoint host:port")
	fs.StringVar(&commands, "command", "", "only commands named `NAME` (comma-separated list)")
	fs.StringVar(&socketType, "socket-type", "", "only events from or to sockets of `TYPE`")
	fs.StringVar(&topic, "topic", "", "only messages and subscriptions whose topic starts with `PREFIX`")
	fs.BoolVar(&o.out.text.Verbose, "v", false, "print frame details")
	hex := fs.Bool("x", false, "print the kept octets in hex")
	hexASCII := fs.Bool("X", false, "print the kept octets in hex and ASCII")
	t1 := fs.Bool("t", false, "no timestamps")
	t2 := fs.Bool("tt", false, "timestamps as seconds since 1970")
	t3 := fs.Bool("ttt", false, "time since the previous line")
	t4 := fs.Bool("tttt", false, "timestamps with the date")
	t5 := fs.Bool("ttttt", false, "time since the first packet")
	fs.BoolVar(&o.out.text.Number, "#", false, "print the number of the packet completing each event (capture files)")
	fs.BoolVar(&o.out.text.Number, "number", false, "same as -#")
	fs.IntVar(&o.count, "c", 0, "stop after `COUNT` packets (capture files and -i)")
	fs.BoolVar(&o.out.json, "json", false, "write JSON Lines (schema in the README)")
	fs.BoolVar(&o.out.quiet, "q", false, "print only per-connection statistics at the end")
	fs.BoolVar(&o.out.stats, "stats", false, "print events and, at the end, per-connection statistics")
	fs.IntVar(&o.out.decoder.Preview, "s", dump.DefaultPreview, "keep and show the first `N` octets of each frame")
	fs.BoolVar(&o.out.decoder.ShowPasswords, "show-passwords", false, "show PLAIN passwords instead of masking them")
	fs.StringVar(&o.color, "color", "auto", "colours: auto (on a terminal), always or never")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.out.decoder.Preview == 0 {
		o.out.decoder.Preview = -1
	}
	switch {
	case *hexASCII:
		o.out.text.Hex = dump.HexASCII
	case *hex:
		o.out.text.Hex = dump.Hex
	}
	switch {
	case *t5:
		o.out.text.Time = dump.TimeSinceFirst
	case *t4:
		o.out.text.Time = dump.TimeDate
	case *t3:
		o.out.text.Time = dump.TimeDelta
	case *t2:
		o.out.text.Time = dump.TimeEpoch
	case *t1:
		o.out.text.Time = dump.TimeNone
	}
	f := &o.out.filter
	if conn != "" {
		f.parseConn(conn)
	}
	if commands != "" {
		f.commands = strings.Split(strings.ToUpper(commands), ",")
	}
	f.socketType = socketType
	if topic != "" {
		f.topic, f.hasTopic = []byte(topic), true
	}
	if o.count < 0 {
		return nil, fmt.Errorf("-c %d: the count must not be negative", o.count)
	}
	if o.port > 65535 {
		return nil, fmt.Errorf("port %d out of range", o.port)
	}
	switch o.mode {
	case "read":
		if (o.readFile == "") == (o.iface == "") {
			return nil, errors.New("give exactly one of -r FILE and -i IFACE (or a proxy or demo command)")
		}
	case "proxy":
		if o.listen == "" || o.forward == "" {
			return nil, errors.New("proxy needs --listen and --forward")
		}
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "zmtpdump: %v\n", err)
		return 2
	}
	o.out.text.Color = wantColor(o.color, stdout)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := execute(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "zmtpdump: %v\n", err)
		return 1
	}
	return 0
}

func wantColor(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := w.(*os.File)
	return ok && isTerminal(f) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

func execute(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	switch o.mode {
	case "demo":
		out := newPrinter(stdout, o.out)
		if err := runDemo(ctx, out, o.out.decoder); err != nil {
			return err
		}
		return out.finish()
	case "proxy":
		return runProxy(ctx, o, stdout)
	}
	if o.iface != "" {
		out := newPrinter(stdout, o.out)
		a := newAssembler(out, o.out.decoder, uint16(o.port))
		a.limit = o.count
		a.warn = func(msg string) { fmt.Fprintf(stderr, "zmtpdump: warning: %s\n", msg) }
		var save io.Writer
		if o.writeFile != "" {
			f, err := os.Create(o.writeFile)
			if err != nil {
				return err
			}
			bw := bufio.NewWriterSize(f, 64<<10)
			defer func() { bw.Flush(); f.Close() }()
			save = bw
		}
		if err := liveCapture(ctx, o.iface, a, save, nil); err != nil {
			return err
		}
		return out.finish()
	}
	var in io.Reader = os.Stdin
	if o.readFile != "-" {
		f, err := os.Open(o.readFile)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	bw := bufio.NewWriterSize(stdout, 64<<10)
	out := newPrinter(bw, o.out)
	a := newAssembler(out, o.out.decoder, uint16(o.port))
	a.limit = o.count
	a.warn = func(msg string) { fmt.Fprintf(stderr, "zmtpdump: warning: %s\n", msg) }
	rerr := readCapture(in, a)
	ferr := out.finish()
	if err := bw.Flush(); ferr == nil {
		ferr = err
	}
	if rerr != nil {
		return rerr
	}
	return ferr
}

// runProxy relays until interrupted.
func runProxy(ctx context.Context, o *options, stdout io.Writer) error {
	out := newPrinter(stdout, o.out)
	var sink *pcapSink
	if o.writeFile != "" {
		f, err := os.Create(o.writeFile)
		if err != nil {
			return err
		}
		defer f.Close()
		if sink, err = newPcapSink(f); err != nil {
			return err
		}
	}
	p, err := newProxy(o.listen, o.forward, out, o.out.decoder, sink)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "zmtpdump: relaying %s to %s\n", p.endpoint(), o.forward)
	go p.serve()
	<-ctx.Done()
	p.close()
	out.mu.Lock()
	defer out.mu.Unlock()
	if sink != nil {
		if err := sink.close(); err != nil {
			return err
		}
	}
	return out.finish()
}
