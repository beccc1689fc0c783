"use strict"
// A libzmq 4.3.5 RADIO or DISH (the libzmq with draft sockets and udp://
// that the npm package zeromq 6.8.0 bundles), for radiodish_test.go:
//
//   node peer.js radio bind|connect ENDPOINT GROUP...
//     sends, every 5 ms until standard input ends, one message to each
//     group in turn: the body is the group's name, "#" and a counter
//   node peer.js dish bind|connect ENDPOINT GROUP...
//     joins the groups, then prints one JSON line per message received:
//     {"group": BASE64, "body": BASE64}, until standard input ends
//
// Groups are given in hexadecimal, so that any octets can be tested. The
// first line printed is {"ready": ENDPOINT} once the socket is bound or
// connected (the endpoint bound, with its port, over tcp).
process.removeAllListeners("warning") // the draft API's notice
const zmq = require("zeromq/draft")

const [role, how, endpoint, ...hexGroups] = process.argv.slice(2)
const groups = hexGroups.map((h) => Buffer.from(h, "hex"))
const print = (o) => process.stdout.write(JSON.stringify(o) + "\n")

async function main() {
  const s = role === "radio" ? new zmq.Radio({ linger: 0 }) : new zmq.Dish({ linger: 0 })
  let done = false
  process.stdin.on("end", () => {
    done = true
    s.close()
  })
  process.stdin.resume()
  if (role === "dish" && groups.length > 0) s.join(...groups)
  if (how === "bind") await s.bind(endpoint)
  else s.connect(endpoint)
  let ready = endpoint
  try {
    ready = s.lastEndpoint || endpoint // libzmq has none for udp
  } catch (e) {}
  print({ ready })
  if (role === "radio") {
    for (let n = 0; !done; n++) {
      for (const g of groups) {
        if (done) break
        await s.send(Buffer.concat([g, Buffer.from("#" + n)]), { group: g })
      }
      await new Promise((r) => setTimeout(r, 5))
    }
    return
  }
  while (!done) {
    let msg, opts
    try {
      ;[msg, opts] = await s.receive()
    } catch (e) {
      if (done) return
      throw e
    }
    print({ group: Buffer.from(opts.group).toString("base64"), body: Buffer.from(msg).toString("base64") })
  }
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + "\n")
  process.exit(1)
})
