"use strict"
// A libzmq peer for the conformance suite: the libzmq 4.3.5 (built with
// draft sockets, ws:// and udp://) that the npm package zeromq 6.8.0
// bundles. The suite drives it over standard input and output, one JSON
// request a line, each answered by one JSON line with the same "seq":
//
//   {"seq":1,"op":"socket","id":1,"type":"PULL","options":{"linger":0}}
//   {"seq":2,"op":"bind","id":1,"endpoint":"ws://127.0.0.1:*/zmq"} -> {"endpoint":...}
//   {"seq":3,"op":"connect","id":1,"endpoint":"tcp://127.0.0.1:5555"}
//   {"seq":4,"op":"subscribe","id":1,"topic":BASE64}
//   {"seq":4,"op":"join","id":1,"groups":[BASE64,...]}    (a DISH)
//   {"seq":5,"op":"send","id":1,"frames":[BASE64,...]}
//   {"seq":6,"op":"recv","id":1,"timeout":MS} -> {"frames":[BASE64,...]}
//     RADIO sends with "group":BASE64 and one frame; a DISH answers with
//     "group" too
//     a SERVER's send takes "routingId":N, its recv answers one
//   {"seq":7,"op":"close","id":1}
//   {"seq":8,"op":"version"} -> {"version":"4.3.5"}
//   {"seq":9,"op":"zap","username":"admin","password":"secret"}
//     serves ZAP (RFC 27) at inproc://zeromq.zap.01: PLAIN clients with
//     these credentials are accepted (user id "admin"), others refused
//     (400); other mechanisms are accepted
//   {"seq":10,"op":"monitor","id":1}
//     records the socket's monitor events from now on (before its bind or
//     connect, to see them all)
//   {"seq":11,"op":"event","id":1,"timeout":MS}
//     -> {"event":{"type":"handshake:error:auth","status":400}}
//     the next recorded event, in order: its zeromq.js type, its error's
//     "status" (an authentication failure) or "code" (ERR_ZMTP_...)
//
// A failure is answered {"seq":N,"error":MESSAGE,"code":CODE} (code
// "EAGAIN" when a recv, send or event timed out). The program ends, closing every
// socket at once, when its standard input ends.
const zmq = require("zeromq")
const readline = require("readline")

const types = {
  PAIR: zmq.Pair,
  PUB: zmq.Publisher,
  SUB: zmq.Subscriber,
  XPUB: zmq.XPublisher,
  XSUB: zmq.XSubscriber,
  REQ: zmq.Request,
  REP: zmq.Reply,
  DEALER: zmq.Dealer,
  ROUTER: zmq.Router,
  PUSH: zmq.Push,
  PULL: zmq.Pull,
}

// The draft types, made on first use (loading zeromq/draft prints a
// notice, silenced): the package's classes for RADIO, DISH, CLIENT,
// SERVER, SCATTER and GATHER; PEER and CHANNEL, which it has no class
// for, made as libzmq's socket types 19 and 20 (with neither routing ids
// nor zmq_connect_peer).
function draftType(name) {
  const classes = { RADIO: "Radio", DISH: "Dish", CLIENT: "Client", SERVER: "Server", SCATTER: "Scatter", GATHER: "Gather" }
  const raw = { PEER: 19, CHANNEL: 20 }
  if (!classes[name] && !raw[name]) return undefined
  process.removeAllListeners("warning")
  const draft = require("zeromq/draft")
  if (classes[name]) return draft[classes[name]]
  const T = class extends zmq.Socket {
    constructor(options) {
      super(raw[name], options)
    }
  }
  // The package defines the time-outs only on its own classes:
  // ZMQ_RCVTIMEO (27) and ZMQ_SNDTIMEO (28).
  for (const [prop, opt] of [["receiveTimeout", 27], ["sendTimeout", 28]]) {
    Object.defineProperty(T.prototype, prop, {
      get() {
        return this.getInt32Option(opt)
      },
      set(v) {
        this.setInt32Option(opt, v)
      },
    })
  }
  return T
}

const sockets = new Map()
const monitors = new Map() // socket id -> {events, waiter}

function socket(id) {
  const s = sockets.get(id)
  if (!s) throw new Error(`no socket ${id}`)
  return s
}

const decode = (f) => Buffer.from(f, "base64")
const encode = (b) => Buffer.from(b).toString("base64")

async function handle(req) {
  switch (req.op) {
    case "version":
      return { version: zmq.version }
    case "socket": {
      const T = types[req.type] || draftType(req.type)
      if (!T) throw new Error(`unknown socket type ${req.type}`)
      sockets.set(req.id, new T({ linger: 0, ...(req.options || {}) }))
      return {}
    }
    case "bind": {
      const s = socket(req.id)
      await s.bind(req.endpoint)
      try {
        return { endpoint: s.lastEndpoint }
      } catch (e) {
        return { endpoint: req.endpoint } // libzmq has none for a udp bind
      }
    }
    case "connect":
      socket(req.id).connect(req.endpoint)
      return {}
    case "subscribe":
      socket(req.id).subscribe(decode(req.topic))
      return {}
    case "join":
      socket(req.id).join(...req.groups.map(decode))
      return {}
    case "send": {
      const s = socket(req.id)
      s.sendTimeout = req.timeout === undefined ? -1 : req.timeout
      if (req.group !== undefined) await s.send(decode(req.frames[0]), { group: decode(req.group) })
      else if (req.routingId !== undefined) await s.send(req.frames.map(decode), { routingId: req.routingId })
      else await s.send(req.frames.map(decode))
      return {}
    }
    case "recv": {
      const s = socket(req.id)
      s.receiveTimeout = req.timeout === undefined ? -1 : req.timeout
      const got = await s.receive()
      const meta = got.find((p) => !Buffer.isBuffer(p)) || {}
      const frames = got.filter((p) => Buffer.isBuffer(p)).map(encode)
      if (meta.group !== undefined) return { frames, group: encode(meta.group) } // a DISH
      return { frames, routingId: meta.routingId } // a SERVER's has one
    }
    case "zap":
      zapCredentials = [req.username, req.password]
      if (!zapHandler) {
        zapHandler = new zmq.Reply({ linger: 0 })
        await zapHandler.bind("inproc://zeromq.zap.01")
        serveZAP(zapHandler)
      }
      return {}
    case "monitor": {
      const s = socket(req.id)
      if (monitors.has(req.id)) throw new Error(`socket ${req.id} is monitored already`)
      const m = { events: [], waiter: null }
      monitors.set(req.id, m)
      record(s.events, m)
      return {}
    }
    case "event": {
      const m = monitors.get(req.id)
      if (!m) throw new Error(`socket ${req.id} is not monitored`)
      if (m.waiter) throw new Error(`socket ${req.id}: an event request is pending`)
      if (m.events.length === 0) {
        await new Promise((resolve) => {
          const timer = setTimeout(() => { m.waiter = null; resolve() }, req.timeout === undefined ? 10000 : req.timeout)
          m.waiter = () => { clearTimeout(timer); m.waiter = null; resolve() }
        })
      }
      if (m.events.length === 0) {
        const e = new Error("no event before the timeout")
        e.code = "EAGAIN"
        throw e
      }
      return { event: m.events.shift() }
    }
    case "close":
      socket(req.id).close()
      sockets.delete(req.id)
      monitors.delete(req.id)
      return {}
    default:
      throw new Error(`unknown op ${req.op}`)
  }
}

// record appends the events of observer to m until it ends.
async function record(observer, m) {
  try {
    for await (const ev of observer) {
      const e = { type: ev.type }
      if (ev.address !== undefined) e.address = ev.address
      if (ev.error && ev.error.status !== undefined) e.status = ev.error.status
      if (ev.error && ev.error.code !== undefined) e.code = String(ev.error.code)
      m.events.push(e)
      if (m.waiter) m.waiter()
    }
  } catch (e) {
    // the socket closed
  }
}

let zapHandler = null
let zapCredentials = null

async function serveZAP(rep) {
  for (;;) {
    let req
    try {
      req = await rep.receive()
    } catch (e) {
      return // closed
    }
    const [version, id, , , , mech, user, pass] = req
    let status = "200"
    if (String(mech) === "PLAIN") {
      const ok = zapCredentials && String(user) === zapCredentials[0] && String(pass) === zapCredentials[1]
      status = ok ? "200" : "400"
    }
    await rep.send([version, id, status, status === "200" ? "OK" : "refused", status === "200" ? "admin" : "", ""])
  }
}

function answer(seq, body) {
  process.stdout.write(JSON.stringify({ seq, ...body }) + "\n")
}

const rl = readline.createInterface({ input: process.stdin })
rl.on("line", (line) => {
  let req
  try {
    req = JSON.parse(line)
  } catch (e) {
    answer(-1, { error: `bad request: ${e.message}` })
    return
  }
  handle(req).then(
    (body) => answer(req.seq, body),
    (e) => answer(req.seq, { error: String((e && e.message) || e), code: e && e.code }),
  )
})
rl.on("close", () => {
  for (const s of sockets.values()) s.close()
  if (zapHandler) zapHandler.close()
  process.exit(0)
})
