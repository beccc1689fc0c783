package dump

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// SchemaVersion is the version of the JSON Lines schema written by
// JSONWriter, carried in every record as "v". It changes only when a field
// changes meaning or disappears; new fields may be added without a change.
const SchemaVersion = 2

// JSONWriter writes events as JSON Lines, one object per event. The schema
// is documented in the zmtpdump command's README. Fields whose value is
// empty, zero or false are left out. Binary values appear twice: as text
// under their name when they are printable UTF-8, and always as hex under
// their name with "_hex" appended (both absent when empty).
//
// A JSONWriter is not safe for concurrent use.
type JSONWriter struct {
	enc *json.Encoder
}

// NewJSONWriter returns a JSONWriter writing to w.
func NewJSONWriter(w io.Writer) *JSONWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONWriter{enc: enc}
}

// Write writes one event as one line.
func (j *JSONWriter) Write(ev Event) error { return j.enc.Encode(JSONEvent(ev)) }

// WriteStats writes a connection's summary as a record of kind "stats".
func (j *JSONWriter) WriteStats(s ConnStats) error { return j.enc.Encode(JSONStats(s)) }

// JSONRecord is the JSON form of an event, as written by JSONWriter.
type JSONRecord struct {
	V         int           `json:"v"`
	Time      string        `json:"time,omitempty"`
	Packet    int           `json:"packet,omitempty"`
	Packets   []int         `json:"packets,omitempty"`
	Conn      int           `json:"conn,omitempty"`
	Dir       string        `json:"dir"`
	Src       string        `json:"src,omitempty"`
	Dst       string        `json:"dst,omitempty"`
	SrcType   string        `json:"src_type,omitempty"`
	DstType   string        `json:"dst_type,omitempty"`
	Mechanism string        `json:"mechanism,omitempty"`
	Offset    int64         `json:"offset"`
	Len       int64         `json:"len"`
	Unsynced  bool          `json:"unsynced,omitempty"`
	Kind      string        `json:"kind"`
	Summary   string        `json:"summary"`
	Greeting  *JSONGreeting `json:"greeting,omitempty"`
	Command   *JSONCommand  `json:"command,omitempty"`
	Message   *JSONMessage  `json:"message,omitempty"`
	Frame     *JSONFrame    `json:"frame,omitempty"`
	Upgrade   *JSONUpgrade  `json:"upgrade,omitempty"`
	WebSocket *JSONWS       `json:"websocket,omitempty"`
	Error     string        `json:"error,omitempty"`
	Hint      string        `json:"hint,omitempty"`
}

// JSONGreeting is the JSON form of a Greeting.
type JSONGreeting struct {
	Version    string `json:"version"`
	Mechanism  string `json:"mechanism,omitempty"`
	AsServer   *bool  `json:"as_server,omitempty"`
	SocketType string `json:"socket_type,omitempty"`
	Downgraded bool   `json:"downgraded,omitempty"`
	SigMajor   int    `json:"signature_major,omitempty"`
	PaddingHex string `json:"padding_hex,omitempty"`
	Revision   *int   `json:"revision,omitempty"`
	FillerHex  string `json:"filler_hex,omitempty"`
	FillerMiss int    `json:"filler_missing,omitempty"`
}

// JSONUpgrade is the JSON form of an Upgrade.
type JSONUpgrade struct {
	Request      bool         `json:"request,omitempty"`
	Method       string       `json:"method,omitempty"`
	Path         string       `json:"path,omitempty"`
	Status       int          `json:"status,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	Proto        string       `json:"proto,omitempty"`
	Host         string       `json:"host,omitempty"`
	Subprotocols []string     `json:"subprotocols,omitempty"`
	Mechanism    string       `json:"mechanism,omitempty"`
	Key          string       `json:"key,omitempty"`
	Accept       string       `json:"accept,omitempty"`
	AcceptOK     bool         `json:"accept_ok,omitempty"`
	Headers      []JSONHeader `json:"headers,omitempty"`
}

// JSONHeader is one HTTP header line.
type JSONHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// JSONWS is the JSON form of a WebSocket control frame.
type JSONWS struct {
	Opcode  string `json:"opcode"`
	Masked  bool   `json:"masked,omitempty"`
	Size    int64  `json:"size"`
	Data    string `json:"data,omitempty"`
	DataHex string `json:"data_hex,omitempty"`
	Code    int    `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// JSONCommand is the JSON form of a Command.
type JSONCommand struct {
	Name        string         `json:"name"`
	Size        int64          `json:"size"`
	Flags       string         `json:"flags"`
	Long        bool           `json:"long,omitempty"`
	Truncated   bool           `json:"truncated,omitempty"`
	DataFrame   bool           `json:"data_frame,omitempty"`
	Properties  []JSONProperty `json:"properties,omitempty"`
	Reason      string         `json:"reason,omitempty"`
	Username    string         `json:"username,omitempty"`
	Password    string         `json:"password,omitempty"`
	PasswordLen int            `json:"password_len,omitempty"`
	TTL         int            `json:"ttl_ms,omitempty"`
	Context     string         `json:"context,omitempty"`
	ContextHex  string         `json:"context_hex,omitempty"`
	Topic       string         `json:"topic,omitempty"`
	TopicHex    string         `json:"topic_hex,omitempty"`
	Curve       *JSONCurve     `json:"curve,omitempty"`
	GSSAPI      *JSONGSSAPI    `json:"gssapi,omitempty"`
	Empty       bool           `json:"empty,omitempty"`
	Data        string         `json:"data,omitempty"`
	DataHex     string         `json:"data_hex,omitempty"`
}

// JSONProperty is the JSON form of a metadata Property.
type JSONProperty struct {
	Name     string `json:"name"`
	Value    string `json:"value,omitempty"`
	ValueHex string `json:"value_hex,omitempty"`
	Len      int    `json:"len"`
}

// JSONCurve is the JSON form of a Curve.
type JSONCurve struct {
	Version   string `json:"version,omitempty"`
	ClientKey string `json:"client_key_hex,omitempty"`
	Nonce     string `json:"nonce_hex,omitempty"`
	Counter   uint64 `json:"nonce,omitempty"`
	Cookie    int    `json:"cookie,omitempty"`
	Box       int    `json:"box"`
}

// JSONGSSAPI is the JSON form of a GSSAPI token description.
type JSONGSSAPI struct {
	Token  int    `json:"token"`
	Kind   string `json:"kind,omitempty"`
	Sender string `json:"sender,omitempty"`
	Sealed bool   `json:"sealed,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// JSONMessage is the JSON form of a Message.
type JSONMessage struct {
	FrameCount   int         `json:"frame_count"`
	Size         int64       `json:"size"`
	Frames       []JSONFrame `json:"frames"`
	Subscription string      `json:"subscription,omitempty"`
	Topic        string      `json:"topic,omitempty"`
	TopicHex     string      `json:"topic_hex,omitempty"`
	Group        *string     `json:"group,omitempty"`
	GroupHex     string      `json:"group_hex,omitempty"`
	Incomplete   bool        `json:"incomplete,omitempty"`
}

// JSONFrame is the JSON form of a Frame.
type JSONFrame struct {
	Offset  int64  `json:"offset"`
	Size    int64  `json:"size"`
	Flags   string `json:"flags"`
	More    bool   `json:"more,omitempty"`
	Long    bool   `json:"long,omitempty"`
	Data    string `json:"data,omitempty"`
	DataHex string `json:"data_hex,omitempty"`
	Hash    string `json:"fnv1a,omitempty"`
	Missing int64  `json:"missing,omitempty"`
	Partial bool   `json:"partial,omitempty"`
}

// JSONStatsRecord is the JSON form of ConnStats.
type JSONStatsRecord struct {
	V          int           `json:"v"`
	Kind       string        `json:"kind"`
	Conn       int           `json:"conn"`
	Client     string        `json:"client,omitempty"`
	Server     string        `json:"server,omitempty"`
	Version    string        `json:"version,omitempty"`
	Mechanism  string        `json:"mechanism,omitempty"`
	ClientType string        `json:"client_type,omitempty"`
	ServerType string        `json:"server_type,omitempty"`
	Handshake  string        `json:"handshake"`
	End        string        `json:"end,omitempty"`
	Transport  string        `json:"transport,omitempty"`
	Subproto   string        `json:"subprotocol,omitempty"`
	Path       string        `json:"path,omitempty"`
	FromClient JSONDirCounts `json:"c2s"`
	FromServer JSONDirCounts `json:"s2c"`
}

// JSONDirCounts is the JSON form of DirStats.
type JSONDirCounts struct {
	Greeting      bool  `json:"greeting"`
	Messages      int64 `json:"messages"`
	Frames        int64 `json:"frames"`
	Commands      int64 `json:"commands"`
	Subscriptions int64 `json:"subscriptions"`
	Octets        int64 `json:"octets"`
	Missing       int64 `json:"missing"`
	Skipped       int64 `json:"skipped"`
	Errors        int64 `json:"errors"`
	Control       int64 `json:"ws_control,omitempty"`
}

// DirName returns the JSON name of a direction: "c2s" or "s2c".
func DirName(d Dir) string {
	if d&1 == FromServer {
		return "s2c"
	}
	return "c2s"
}

// JSONEvent converts an event to its JSON form.
func JSONEvent(ev Event) JSONRecord {
	r := JSONRecord{
		V:         SchemaVersion,
		Packet:    ev.Packet,
		Packets:   ev.Packets,
		Conn:      ev.ConnID,
		Dir:       DirName(ev.Dir),
		Src:       ev.Src,
		Dst:       ev.Dst,
		SrcType:   ev.SrcType,
		DstType:   ev.DstType,
		Mechanism: ev.Mechanism,
		Offset:    ev.Offset,
		Len:       ev.Len,
		Unsynced:  ev.Unsynced,
		Kind:      ev.Kind.String(),
		Summary:   Summary(ev),
		Error:     ev.Err,
		Hint:      ev.Hint,
	}
	if !ev.Time.IsZero() {
		r.Time = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	if g := ev.Greeting; g != nil {
		jg := &JSONGreeting{
			Version:    fmt.Sprintf("%d.%d", g.Major, g.Minor),
			Mechanism:  g.Mechanism,
			SocketType: g.SocketType,
			Downgraded: g.Downgraded,
			SigMajor:   g.SignatureMajor,
		}
		if !g.Legacy() {
			as := g.AsServer
			jg.AsServer = &as
		}
		jg.PaddingHex = hex.EncodeToString(g.Padding)
		if g.HasRevision {
			rev := g.Revision
			jg.Revision = &rev
		}
		jg.FillerHex = hex.EncodeToString(g.Filler)
		jg.FillerMiss = g.FillerMissing
		r.Greeting = jg
	}
	if c := ev.Command; c != nil {
		r.Command = jsonCommand(c)
	}
	if m := ev.Message; m != nil {
		jm := &JSONMessage{FrameCount: m.FrameCount, Size: m.Size, Subscription: m.Subscription, Incomplete: m.Incomplete}
		jm.Topic, jm.TopicHex = textHex(m.Topic)
		if m.Grouped {
			g, gh := textHex(m.Group)
			jm.Group, jm.GroupHex = &g, gh
		}
		jm.Frames = make([]JSONFrame, len(m.Frames))
		for i, f := range m.Frames {
			jm.Frames[i] = jsonFrame(f)
		}
		r.Message = jm
	}
	if f := ev.Frame; f != nil {
		jf := jsonFrame(*f)
		r.Frame = &jf
	}
	if u := ev.Upgrade; u != nil {
		ju := &JSONUpgrade{Request: u.Request, Method: u.Method, Path: u.Path, Status: u.Status, Reason: u.Reason,
			Proto: u.Proto, Host: u.Host, Subprotocols: u.Subprotocols, Mechanism: u.Mechanism,
			Key: u.Key, Accept: u.Accept, AcceptOK: u.AcceptOK}
		for _, h := range u.Headers {
			ju.Headers = append(ju.Headers, JSONHeader(h))
		}
		r.Upgrade = ju
	}
	if w := ev.WebSocket; w != nil {
		jw := &JSONWS{Opcode: w.OpName(), Masked: w.Masked, Size: w.Size, Code: w.Code, Reason: w.Reason}
		jw.Data, jw.DataHex = textHex(w.Data)
		r.WebSocket = jw
	}
	return r
}

func jsonFrame(f Frame) JSONFrame {
	jf := JSONFrame{Offset: f.Offset, Size: f.Size, Flags: flagsHex(f.Flags), More: f.More, Long: f.Long, Missing: f.Missing, Partial: f.Partial}
	jf.Data, jf.DataHex = textHex(f.Data)
	if f.Hash != 0 {
		jf.Hash = fmt.Sprintf("%016x", f.Hash)
	}
	return jf
}

// flagsHex writes a flags octet as "0x04".
func flagsHex(f byte) string { return fmt.Sprintf("0x%02x", f) }

func jsonCommand(c *Command) *JSONCommand {
	jc := &JSONCommand{
		Name:        c.Name,
		Size:        c.Size,
		Flags:       flagsHex(c.Flags),
		Long:        c.Long,
		Truncated:   c.Truncated,
		DataFrame:   c.DataFrame,
		Reason:      c.Reason,
		Username:    c.Username,
		Password:    c.Password,
		PasswordLen: c.PasswordLen,
		TTL:         int(c.TTL) * 100,
	}
	jc.Context, jc.ContextHex = textHex(c.Context)
	jc.Topic, jc.TopicHex = textHex(c.Topic)
	jc.Data, jc.DataHex = textHex(c.Data)
	for _, p := range c.Properties {
		jp := JSONProperty{Name: p.Name, Len: p.ValueLen}
		jp.Value, jp.ValueHex = textHex(p.Value)
		jc.Properties = append(jc.Properties, jp)
	}
	if cv := c.Curve; cv != nil {
		jc.Curve = &JSONCurve{
			Version:   cv.Version,
			ClientKey: hex.EncodeToString(cv.ClientKey),
			Nonce:     hex.EncodeToString(cv.Nonce),
			Cookie:    cv.Cookie,
			Box:       cv.Box,
		}
		if len(cv.Nonce) == 8 {
			jc.Curve.Counter = cv.Counter
		}
	}
	if g := c.GSSAPI; g != nil {
		jc.GSSAPI = &JSONGSSAPI{Token: g.Token, Kind: g.Kind, Sender: g.Sender, Sealed: g.Sealed, Seq: g.Seq}
	}
	jc.Empty = c.Empty
	return jc
}

// JSONStats converts a connection's summary to its JSON form.
func JSONStats(s ConnStats) JSONStatsRecord {
	counts := func(d DirStats) JSONDirCounts {
		return JSONDirCounts{
			Greeting: d.Greeting, Messages: d.Messages, Frames: d.Frames, Commands: d.Commands,
			Subscriptions: d.Subscriptions, Octets: d.Octets, Missing: d.Missing, Skipped: d.Skipped, Errors: d.Errors,
			Control: d.Control,
		}
	}
	return JSONStatsRecord{
		V: SchemaVersion, Kind: "stats", Conn: s.ID, Client: s.Client, Server: s.Server,
		Version: s.Version, Mechanism: s.Mechanism, ClientType: s.ClientType, ServerType: s.ServerType,
		Handshake: s.Handshake, End: s.End, Transport: s.Transport, Subproto: s.Subprotocol, Path: s.Path,
		FromClient: counts(s.Dir[FromClient]), FromServer: counts(s.Dir[FromServer]),
	}
}

// textHex returns b as text (when printable) and as hex.
func textHex(b []byte) (string, string) {
	if len(b) == 0 {
		return "", ""
	}
	h := hex.EncodeToString(b)
	if Printable(b) {
		return string(b), h
	}
	return "", h
}
