package main

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zmtp-go/zmtp/dump"
)

// filter selects the events printed. Empty fields select everything; set
// fields must all match.
type filter struct {
	connID     int      // connection number
	connAddr   string   // an endpoint of the connection
	commands   []string // command names, upper case
	socketType string   // sender's or receiver's socket type
	topic      []byte   // prefix of a message's first frame (after an empty delimiter) or of a subscription
	hasTopic   bool
}

// parseConn sets the connection filter from "N" or "host:port".
func (f *filter) parseConn(s string) {
	if n, err := strconv.Atoi(s); err == nil {
		f.connID = n
		return
	}
	f.connAddr = s
}

func (f *filter) match(ev dump.Event) bool {
	if f.connID != 0 && ev.ConnID != f.connID {
		return false
	}
	if f.connAddr != "" && ev.Src != f.connAddr && ev.Dst != f.connAddr {
		return false
	}
	if len(f.commands) > 0 {
		if ev.Command == nil || ev.Kind != dump.KindCommand {
			return false
		}
		ok := false
		for _, c := range f.commands {
			ok = ok || strings.EqualFold(c, ev.Command.Name)
		}
		if !ok {
			return false
		}
	}
	if f.socketType != "" && !strings.EqualFold(ev.SrcType, f.socketType) && !strings.EqualFold(ev.DstType, f.socketType) {
		return false
	}
	if f.hasTopic {
		var t []byte
		switch {
		case ev.Message != nil && ev.Message.Subscription != "":
			t = ev.Message.Topic
		case ev.Message != nil && len(ev.Message.Frames) > 0:
			// The first frame, or the one after a REQ/REP delimiter.
			fs := ev.Message.Frames
			if fs[0].Size == 0 && len(fs) > 1 {
				fs = fs[1:]
			}
			t = fs[0].Data
		case ev.Command != nil && ev.Kind == dump.KindCommand:
			switch ev.Command.Name {
			case "SUBSCRIBE", "CANCEL", "JOIN", "LEAVE":
				t = ev.Command.Topic
			default:
				return false
			}
		default:
			return false
		}
		if !bytes.HasPrefix(t, f.topic) {
			return false
		}
	}
	return true
}

// matchConn reports whether a connection's statistics pass the
// connection filter.
func (f *filter) matchConn(s dump.ConnStats) bool {
	if f.connID != 0 && s.ID != f.connID {
		return false
	}
	if f.connAddr != "" && s.Client != f.connAddr && s.Server != f.connAddr {
		return false
	}
	if f.socketType != "" && !strings.EqualFold(s.ClientType, f.socketType) && !strings.EqualFold(s.ServerType, f.socketType) {
		return false
	}
	return true
}

// printer receives every decoded event, stamps it with the current time,
// filters it and writes it. Callers that feed decoders from several
// goroutines hold mu around setting now and feeding.
type printer struct {
	mu     sync.Mutex
	text   *dump.TextWriter
	json   *dump.JSONWriter
	filter filter
	events bool // print events
	stats  bool // print statistics at the end
	now    time.Time
	// packet is the number of the packet being decoded (0 outside
	// capture files); packets, when set, gives the packets that carried
	// an event's octets.
	packet  int
	packets func(dump.Event) []int
	conns   []*dump.Conn
	nextID  int // the last connection number given
	// hook, when set, sees every event before filtering.
	hook func(dump.Event)
	err  error
}

// outputConfig is what the command line says about output.
type outputConfig struct {
	json    bool
	text    dump.TextOptions
	filter  filter
	quiet   bool // statistics only
	stats   bool // events and statistics
	decoder dump.Options
}

func newPrinter(w io.Writer, cfg outputConfig) *printer {
	p := &printer{filter: cfg.filter, events: !cfg.quiet, stats: cfg.quiet || cfg.stats}
	if cfg.json {
		p.json = dump.NewJSONWriter(w)
	} else {
		p.text = dump.NewTextWriter(w, cfg.text)
	}
	return p
}

// emit handles one event.
func (p *printer) emit(ev dump.Event) {
	ev.Time = p.now
	ev.Packet = p.packet
	if p.packets != nil {
		ev.Packets = p.packets(ev)
	}
	if p.hook != nil {
		p.hook(ev)
	}
	if !p.events || !p.filter.match(ev) || p.err != nil {
		return
	}
	if p.json != nil {
		p.err = p.json.Write(ev)
	} else {
		p.err = p.text.Write(ev)
	}
}

// start sets the time of the first packet, from which -ttttt counts.
func (p *printer) start(ts time.Time) {
	if p.text != nil {
		p.text.SetStart(ts)
	}
}

// track registers a connection for the statistics.
func (p *printer) track(c *dump.Conn) { p.conns = append(p.conns, c) }

// finish writes the statistics when asked for and returns the first write
// error.
func (p *printer) finish() error {
	if !p.stats {
		return p.err
	}
	for _, c := range p.conns {
		s := c.Stats()
		if !p.filter.matchConn(s) || p.err != nil {
			continue
		}
		if p.json != nil {
			p.err = p.json.WriteStats(s)
		} else {
			p.err = p.text.WriteStats(s)
		}
	}
	return p.err
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
